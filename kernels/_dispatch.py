"""Which implementation an objective runs: the Triton kernel or the PyTorch reference.

CUDA tensors go to Triton and everything else to the reference, so a CPU-only install never
touches Triton. ``AUDITOR_KERNELS`` overrides that choice: ``reference`` forces the reference on
CUDA (to compare the two), ``triton`` forces the kernels on any tensor, which on CPU only works
under ``TRITON_INTERPRET=1`` (how the tests run the kernels without a GPU).
"""

from __future__ import annotations

import os

import torch

BACKEND_ENV = "AUDITOR_KERNELS"
_CHOICES = ("auto", "triton", "reference")


def backend_choice() -> str:
    choice = os.environ.get(BACKEND_ENV, "auto").strip().lower() or "auto"
    if choice not in _CHOICES:
        raise ValueError(f"{BACKEND_ENV} must be one of {', '.join(_CHOICES)}, not {choice!r}")
    return choice


def use_triton(tensor: torch.Tensor) -> bool:
    choice = backend_choice()
    if choice == "reference":
        return False
    if choice == "triton":
        return True
    return tensor.is_cuda and triton_available()


def triton_available() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half types and float32, float64 kept (the tests' oracle runs in float64)."""
    return torch.promote_types(dtype, torch.float32)


def check_batch(name: str, tensor: torch.Tensor) -> None:
    if tensor.shape[0] == 0:
        raise ValueError(f"{name}: the batch is empty (shape {tuple(tensor.shape)})")


def check_same_shape(**tensors: torch.Tensor) -> None:
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"shapes differ: {shapes}")


def row_block_size(n_cols: int) -> int:
    """One block covers a whole row of logits for K up to 4096; longer rows loop over blocks."""
    return min(4096, max(16, 1 << (max(n_cols, 1) - 1).bit_length()))


def scale_grad(grad: torch.Tensor | None, grad_output: torch.Tensor) -> torch.Tensor | None:
    """Backward of a scalar loss whose gradient was computed in forward: rescale, skip if 1."""
    if grad is None:
        return None
    if grad_output.numel() == 1 and grad_output.item() == 1.0:
        return grad
    return grad * grad_output.to(grad.dtype)
