"""Weighted mean absolute difference of two logit tensors, with gradients for both.

    L = w · mean|a - b|,     dL/da = w · sign(a - b) / n,     dL/db = -dL/da     (n = B·K)

The generator's disagreement term is w = -1 with (a, b) = (S(G(z)), T(G(z))): the generator
feeds both networks, so both sides need a gradient. The trigger generator's term is w = -1 with
(a, b) = (S(x), S(x ⊕ p)).
"""

from __future__ import annotations

import torch

from ._dispatch import (accumulation_dtype, check_batch, check_same_shape, row_block_size,
                        scale_grad, use_triton)

try:
    import triton
    import triton.language as tl
except ImportError:  # CPU-only installs run the reference
    triton = None


def logit_distance_reference(a, b, weight: float):
    """Loss and both gradients in plain PyTorch: the CPU path and the tests' oracle."""
    acc = accumulation_dtype(a.dtype)
    diff = a.to(acc) - b.to(acc)
    scale = weight / a.numel()
    loss = diff.abs().sum() * scale
    grad = diff.sign() * scale
    return loss, grad.to(a.dtype), (-grad).to(b.dtype)


if triton is not None:

    @triton.jit
    def _logit_distance_kernel(
        a_ptr,           # B x K, row stride a_stride, column stride 1
        b_ptr,           # B x K, row stride b_stride
        grad_a_ptr,      # out: dL/da, B x K contiguous
        grad_b_ptr,      # out: dL/db, B x K contiguous
        row_loss_ptr,    # out: each row's share of L, B float32
        a_stride, b_stride,
        n_cols,          # K
        scale,           # w / (B K)
        BLOCK_SIZE: tl.constexpr,
    ):
        row = tl.program_id(0).to(tl.int64)
        total = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
        for start in range(0, n_cols, BLOCK_SIZE):
            cols = start + tl.arange(0, BLOCK_SIZE)
            mask = cols < n_cols
            a = tl.load(a_ptr + row * a_stride + cols, mask=mask, other=0.0).to(tl.float32)
            b = tl.load(b_ptr + row * b_stride + cols, mask=mask, other=0.0).to(tl.float32)
            diff = a - b
            total += tl.abs(diff)
            grad = tl.where(diff > 0, 1.0, tl.where(diff < 0, -1.0, 0.0)) * scale
            out = row * n_cols + cols
            tl.store(grad_a_ptr + out, grad.to(grad_a_ptr.dtype.element_ty), mask=mask)
            tl.store(grad_b_ptr + out, (-grad).to(grad_b_ptr.dtype.element_ty), mask=mask)
        tl.store(row_loss_ptr + row, tl.sum(total, axis=0) * scale)


def logit_distance_triton(a, b, weight: float):
    a, b = (x if x.stride(-1) == 1 else x.contiguous() for x in (a, b))
    n_rows, n_cols = a.shape
    grad_a = torch.empty_like(a, memory_format=torch.contiguous_format)
    grad_b = torch.empty_like(b, memory_format=torch.contiguous_format)
    row_loss = torch.empty(n_rows, dtype=torch.float32, device=a.device)
    _logit_distance_kernel[(n_rows,)](
        a, b, grad_a, grad_b, row_loss, a.stride(0), b.stride(0),
        n_cols, float(weight) / a.numel(), BLOCK_SIZE=row_block_size(n_cols),
    )
    return row_loss.sum(), grad_a, grad_b


class LogitDistance(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, weight):
        check_same_shape(a=a, b=b)
        if a.dim() != 2:
            raise ValueError(f"logits must be B x K, got shape {tuple(a.shape)}")
        check_batch("logit_distance", a)
        impl = logit_distance_triton if use_triton(a) else logit_distance_reference
        loss, grad_a, grad_b = impl(a.detach(), b.detach(), weight)
        ctx.save_for_backward(grad_a, grad_b)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        grad_a, grad_b = ctx.saved_tensors
        return scale_grad(grad_a, grad_output), scale_grad(grad_b, grad_output), None


def logit_distance(a: torch.Tensor, b: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """w · mean|a - b| as a scalar, with gradients for a and b."""
    return LogitDistance.apply(a, b, weight)


def trigger_objective(s: torch.Tensor, s_pert: torch.Tensor) -> torch.Tensor:
    """The trigger generator minimises -mean|S(x) - S(x ⊕ p)|: it looks for the patch that moves
    the student most."""
    return logit_distance(s, s_pert, -1.0)
