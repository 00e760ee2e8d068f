"""The student's DHBE objective, fused: distillation plus the trigger-consistency penalty.

    L = mean|s - t| + λ · mean|s_pert - sg(s)|

over B × K logits: s = S(x), t = T(x), s_pert = S(x ⊕ p), sg = stop-gradient. Gradients
(n = B·K, sign(0) = 0 as autograd's abs has it):

    dL/ds      = sign(s - t) / n              (the penalty's s is detached)
    dL/ds_pert = λ · sign(s_pert - s) / n
    dL/dt      = none: the teacher is frozen and sees no-grad images

One pass reads the three logit tensors once, writes both gradients and a per-row partial loss;
backward only rescales the saved gradients by grad_output.
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


def student_objective_reference(s, t, s_pert, reg_weight: float):
    """Loss and gradients in plain PyTorch: the CPU path and the tests' oracle."""
    acc = accumulation_dtype(s.dtype)
    s_, t_, p_ = s.to(acc), t.to(acc), s_pert.to(acc)
    inv_n = 1.0 / s.numel()
    distill, penalty = s_ - t_, p_ - s_
    loss = (distill.abs().sum() + reg_weight * penalty.abs().sum()) * inv_n
    grad_s = (distill.sign() * inv_n).to(s.dtype)
    grad_s_pert = (penalty.sign() * (reg_weight * inv_n)).to(s_pert.dtype)
    return loss, grad_s, grad_s_pert


if triton is not None:

    @triton.jit
    def _student_objective_kernel(
        s_ptr,           # student logits, B x K, row stride s_stride, column stride 1
        t_ptr,           # teacher logits, same shape
        p_ptr,           # student logits on triggered images, same shape
        grad_s_ptr,      # out: dL/ds, B x K contiguous
        grad_p_ptr,      # out: dL/ds_pert, B x K contiguous
        row_loss_ptr,    # out: each row's share of L, B float32
        s_stride, t_stride, p_stride,
        n_cols,          # K
        inv_n,           # 1 / (B K)
        reg_weight,      # λ
        BLOCK_SIZE: tl.constexpr,
    ):
        # map program id to a row; int64 so B*K past 2^31 does not wrap
        row = tl.program_id(0).to(tl.int64)
        total = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
        for start in range(0, n_cols, BLOCK_SIZE):
            cols = start + tl.arange(0, BLOCK_SIZE)
            mask = cols < n_cols
            # 1. load in float32; masked lanes read 0 so they add nothing
            s = tl.load(s_ptr + row * s_stride + cols, mask=mask, other=0.0).to(tl.float32)
            t = tl.load(t_ptr + row * t_stride + cols, mask=mask, other=0.0).to(tl.float32)
            p = tl.load(p_ptr + row * p_stride + cols, mask=mask, other=0.0).to(tl.float32)
            distill = s - t
            penalty = p - s
            # 2. reduce
            total += tl.abs(distill) + reg_weight * tl.abs(penalty)
            # 3. gradients: sign(.) scaled, written in the inputs' dtype
            sign_d = tl.where(distill > 0, 1.0, tl.where(distill < 0, -1.0, 0.0))
            sign_p = tl.where(penalty > 0, 1.0, tl.where(penalty < 0, -1.0, 0.0))
            out = row * n_cols + cols
            tl.store(grad_s_ptr + out, (sign_d * inv_n).to(grad_s_ptr.dtype.element_ty), mask=mask)
            tl.store(grad_p_ptr + out, (sign_p * (reg_weight * inv_n)).to(grad_p_ptr.dtype.element_ty),
                     mask=mask)
        tl.store(row_loss_ptr + row, tl.sum(total, axis=0) * inv_n)


def student_objective_triton(s, t, s_pert, reg_weight: float):
    """Same contract as the reference, one Triton launch."""
    s, t, s_pert = (x if x.stride(-1) == 1 else x.contiguous() for x in (s, t, s_pert))
    n_rows, n_cols = s.shape
    grad_s = torch.empty_like(s, memory_format=torch.contiguous_format)
    grad_s_pert = torch.empty_like(s_pert, memory_format=torch.contiguous_format)
    row_loss = torch.empty(n_rows, dtype=torch.float32, device=s.device)
    _student_objective_kernel[(n_rows,)](
        s, t, s_pert, grad_s, grad_s_pert, row_loss,
        s.stride(0), t.stride(0), s_pert.stride(0),
        n_cols, 1.0 / s.numel(), float(reg_weight),
        BLOCK_SIZE=row_block_size(n_cols),
    )
    return row_loss.sum(), grad_s, grad_s_pert


class StudentObjective(torch.autograd.Function):
    @staticmethod
    def forward(ctx, s, t, s_pert, reg_weight):
        _check(s, t, s_pert)
        impl = student_objective_triton if use_triton(s) else student_objective_reference
        loss, grad_s, grad_s_pert = impl(s.detach(), t.detach(), s_pert.detach(), reg_weight)
        ctx.save_for_backward(grad_s, grad_s_pert)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        grad_s, grad_s_pert = ctx.saved_tensors
        return scale_grad(grad_s, grad_output), None, scale_grad(grad_s_pert, grad_output), None


def student_objective(s: torch.Tensor, t: torch.Tensor, s_pert: torch.Tensor,
                      reg_weight: float) -> torch.Tensor:
    """mean|s - t| + λ mean|s_pert - sg(s)| as a scalar with gradients for s and s_pert."""
    return StudentObjective.apply(s, t, s_pert, reg_weight)


def _check(s, t, s_pert):
    check_same_shape(s=s, t=t, s_pert=s_pert)
    if s.dim() != 2:
        raise ValueError(f"logits must be B x K, got shape {tuple(s.shape)}")
    check_batch("student_objective", s)
