"""Total-variation image prior over a generated batch, the four directional differences fused.

For images x (B × C × H × W) the differences are taken as DeepInversion does:

    D1 = x[..., :, :-1]  - x[..., :, 1:]      (right)
    D2 = x[..., :-1, :]  - x[..., 1:, :]      (down)
    D3 = x[..., 1:, :-1] - x[..., :-1, 1:]    (anti-diagonal)
    D4 = x[..., :-1, :-1] - x[..., 1:, 1:]    (diagonal)

    L = w2 · Σ_d ‖D_d‖₂ + w1 · Σ_d mean|D_d|

and dL/dD_d = w2 · D_d / ‖D_d‖₂ + w1 · sign(D_d) / numel(D_d), scattered back as +g to the
first operand of each difference and -g to the second. Eager PyTorch makes eight temporaries
for this; the kernel reads the images once forward (per-plane partial sums) and once backward
(recomputing each element's differences from its neighbours). The gradient cannot be made in
the forward pass as the other objectives do: it needs the global norms first.
"""

from __future__ import annotations

import torch

from ._dispatch import accumulation_dtype, check_batch, scale_grad, use_triton

try:
    import triton
    import triton.language as tl
except ImportError:  # CPU-only installs run the reference
    triton = None


def _differences(x):
    return (x[..., :, :-1] - x[..., :, 1:],
            x[..., :-1, :] - x[..., 1:, :],
            x[..., 1:, :-1] - x[..., :-1, 1:],
            x[..., :-1, :-1] - x[..., 1:, 1:])


def total_variation_reference(images, l2_weight: float, l1_weight: float):
    """Loss and gradient in plain PyTorch: the CPU path and the tests' oracle."""
    x = images.to(accumulation_dtype(images.dtype))
    grad = torch.zeros_like(x)
    loss = x.new_zeros(())
    first = (grad[..., :, :-1], grad[..., :-1, :], grad[..., 1:, :-1], grad[..., :-1, :-1])
    second = (grad[..., :, 1:], grad[..., 1:, :], grad[..., :-1, 1:], grad[..., 1:, 1:])
    for diff, plus, minus in zip(_differences(x), first, second):
        if diff.numel() == 0:
            continue
        norm = diff.norm()
        loss = loss + l2_weight * norm + l1_weight * diff.abs().mean()
        g = l1_weight * diff.sign() / diff.numel()
        if norm > 0:
            g = g + l2_weight * diff / norm
        plus += g
        minus -= g
    return loss, grad.to(images.dtype)


if triton is not None:

    @triton.jit
    def _tv_partial_sums_kernel(
        x_ptr,           # images, B*C planes of H x W, contiguous
        partial_ptr,     # out: per plane 8 float32 sums: Σ D_d² then Σ |D_d|, d = 1..4
        H, W,
        BLOCK_SIZE: tl.constexpr,
    ):
        plane = tl.program_id(0).to(tl.int64)
        base = x_ptr + plane * H * W
        sq1 = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
        sq2 = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
        sq3 = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
        sq4 = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
        ab1 = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
        ab2 = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
        ab3 = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
        ab4 = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
        for start in range(0, H * W, BLOCK_SIZE):
            # map flat index to (h, w); each lane owns the differences anchored at (h, w)
            idx = start + tl.arange(0, BLOCK_SIZE)
            h = idx // W
            w = idx % W
            inside = idx < H * W
            has_right = inside & (w < W - 1)
            has_down = inside & (h < H - 1)
            has_both = has_right & has_down
            x00 = tl.load(base + idx, mask=inside, other=0.0).to(tl.float32)
            x01 = tl.load(base + idx + 1, mask=has_right, other=0.0).to(tl.float32)
            x10 = tl.load(base + idx + W, mask=has_down, other=0.0).to(tl.float32)
            x11 = tl.load(base + idx + W + 1, mask=has_both, other=0.0).to(tl.float32)
            d1 = tl.where(has_right, x00 - x01, 0.0)
            d2 = tl.where(has_down, x00 - x10, 0.0)
            d3 = tl.where(has_both, x10 - x01, 0.0)
            d4 = tl.where(has_both, x00 - x11, 0.0)
            sq1 += d1 * d1
            sq2 += d2 * d2
            sq3 += d3 * d3
            sq4 += d4 * d4
            ab1 += tl.abs(d1)
            ab2 += tl.abs(d2)
            ab3 += tl.abs(d3)
            ab4 += tl.abs(d4)
        out = partial_ptr + plane * 8
        tl.store(out + 0, tl.sum(sq1, axis=0))
        tl.store(out + 1, tl.sum(sq2, axis=0))
        tl.store(out + 2, tl.sum(sq3, axis=0))
        tl.store(out + 3, tl.sum(sq4, axis=0))
        tl.store(out + 4, tl.sum(ab1, axis=0))
        tl.store(out + 5, tl.sum(ab2, axis=0))
        tl.store(out + 6, tl.sum(ab3, axis=0))
        tl.store(out + 7, tl.sum(ab4, axis=0))

    @triton.jit
    def _tv_grad_term(d, l2_scale, l1_scale):
        return d * l2_scale + tl.where(d > 0, 1.0, tl.where(d < 0, -1.0, 0.0)) * l1_scale

    @triton.jit
    def _tv_backward_kernel(
        x_ptr,           # images, B*C planes of H x W, contiguous
        grad_ptr,        # out: dL/dx, same layout
        coef_ptr,        # 8 float32: w2/‖D_d‖ (0 where the norm is 0), then w1/numel(D_d)
        H, W,
        BLOCK_SIZE: tl.constexpr,
    ):
        plane = tl.program_id(0).to(tl.int64)
        base = x_ptr + plane * H * W
        c1 = tl.load(coef_ptr + 0)
        c2 = tl.load(coef_ptr + 1)
        c3 = tl.load(coef_ptr + 2)
        c4 = tl.load(coef_ptr + 3)
        e1 = tl.load(coef_ptr + 4)
        e2 = tl.load(coef_ptr + 5)
        e3 = tl.load(coef_ptr + 6)
        e4 = tl.load(coef_ptr + 7)
        for start in range(0, H * W, BLOCK_SIZE):
            idx = start + tl.arange(0, BLOCK_SIZE)
            h = idx // W
            w = idx % W
            inside = idx < H * W
            up = inside & (h > 0)
            down = inside & (h < H - 1)
            left = inside & (w > 0)
            right = inside & (w < W - 1)
            x = tl.load(base + idx, mask=inside, other=0.0).to(tl.float32)
            # 1. x is the first operand of D1(h,w), D2(h,w), D4(h,w) and of D3(h-1,w)
            g = tl.where(right, _tv_grad_term(x - tl.load(base + idx + 1, mask=right, other=0.0).to(tl.float32), c1, e1), 0.0)
            g += tl.where(down, _tv_grad_term(x - tl.load(base + idx + W, mask=down, other=0.0).to(tl.float32), c2, e2), 0.0)
            g += tl.where(down & right, _tv_grad_term(x - tl.load(base + idx + W + 1, mask=down & right, other=0.0).to(tl.float32), c4, e4), 0.0)
            g += tl.where(up & right, _tv_grad_term(x - tl.load(base + idx - W + 1, mask=up & right, other=0.0).to(tl.float32), c3, e3), 0.0)
            # 2. ... and the second operand of D1(h,w-1), D2(h-1,w), D4(h-1,w-1) and D3(h,w-1)
            g -= tl.where(left, _tv_grad_term(tl.load(base + idx - 1, mask=left, other=0.0).to(tl.float32) - x, c1, e1), 0.0)
            g -= tl.where(up, _tv_grad_term(tl.load(base + idx - W, mask=up, other=0.0).to(tl.float32) - x, c2, e2), 0.0)
            g -= tl.where(up & left, _tv_grad_term(tl.load(base + idx - W - 1, mask=up & left, other=0.0).to(tl.float32) - x, c4, e4), 0.0)
            g -= tl.where(down & left, _tv_grad_term(tl.load(base + idx + W - 1, mask=down & left, other=0.0).to(tl.float32) - x, c3, e3), 0.0)
            tl.store(grad_ptr + plane * H * W + idx, g.to(grad_ptr.dtype.element_ty), mask=inside)


_TV_BLOCK = 1024


def total_variation_triton(images, l2_weight: float, l1_weight: float):
    """Same contract as the reference: both passes back to back."""
    x = images.contiguous()
    loss, coef = tv_forward_triton(x, l2_weight, l1_weight)
    return loss, tv_backward_triton(x, coef)


def tv_forward_triton(x, l2_weight: float, l1_weight: float):
    """The loss, and the per-direction coefficients the backward pass scales differences by."""
    n_planes = x.shape[0] * x.shape[1]
    height, width = x.shape[-2:]
    partial = torch.empty(n_planes, 8, dtype=torch.float32, device=x.device)
    _tv_partial_sums_kernel[(n_planes,)](x, partial, height, width, BLOCK_SIZE=_TV_BLOCK)
    sums = partial.sum(0)
    norms = sums[:4].sqrt()
    counts = torch.tensor(_difference_counts(x.shape), dtype=torch.float32, device=x.device)
    means = torch.where(counts > 0, sums[4:] / counts.clamp(min=1), 0.0)
    loss = l2_weight * norms.sum() + l1_weight * means.sum()
    coef = torch.cat([torch.where(norms > 0, l2_weight / norms, 0.0),
                      torch.where(counts > 0, l1_weight / counts.clamp(min=1), 0.0)])
    return loss, coef


def tv_backward_triton(x, coef):
    grad = torch.empty_like(x)
    height, width = x.shape[-2:]
    _tv_backward_kernel[(x.shape[0] * x.shape[1],)](x, grad, coef, height, width,
                                                    BLOCK_SIZE=_TV_BLOCK)
    return grad


def _difference_counts(shape):
    planes, (h, w) = shape[0] * shape[1], shape[-2:]
    diagonal = planes * (h - 1) * (w - 1)
    return [planes * h * (w - 1), planes * (h - 1) * w, diagonal, diagonal]


class TotalVariation(torch.autograd.Function):
    @staticmethod
    def forward(ctx, images, l2_weight, l1_weight):
        if images.dim() != 4:
            raise ValueError(f"images must be B x C x H x W, got shape {tuple(images.shape)}")
        check_batch("total_variation", images)
        ctx.triton = use_triton(images)
        if ctx.triton:
            x = images.detach().contiguous()
            loss, coef = tv_forward_triton(x, l2_weight, l1_weight)
            ctx.save_for_backward(x, coef)
        else:
            loss, grad = total_variation_reference(images.detach(), l2_weight, l1_weight)
            ctx.save_for_backward(grad)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        if ctx.triton:
            grad = tv_backward_triton(*ctx.saved_tensors)
        else:
            (grad,) = ctx.saved_tensors
        return scale_grad(grad, grad_output), None, None


def total_variation(images: torch.Tensor, l2_weight: float = 1.0,
                    l1_weight: float = 0.0) -> torch.Tensor:
    """w2 · Σ_d ‖D_d‖₂ + w1 · Σ_d mean|D_d| over the four directional differences."""
    return TotalVariation.apply(images, l2_weight, l1_weight)
