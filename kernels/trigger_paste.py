"""Pasting a trigger patch into normalised images at a per-sample position.

DHBE adds the patch in pixel space, norm(norm⁻¹(x) + p), which for per-channel normalisation
is x + p / std. With the patch p_b (C × s × s) placed at row r_b, column c_b of image b:

    out[b, c, h, w] = x[b, c, h, w] + p[b, c, h - r_b, w - c_b] · inv_std[c]   inside the window
    d out / d x = identity,   d L / d p[b, c, i, j] = g[b, c, r_b + i, c_b + j] · inv_std[c]

The kernel writes the output in one pass without materialising the zero-padded patch; the
backward kernel gathers the patch gradient from the window alone.
"""

from __future__ import annotations

import torch

from ._dispatch import check_batch, use_triton

try:
    import triton
    import triton.language as tl
except ImportError:  # CPU-only installs run the reference
    triton = None


def _window_index(rows, cols, size: int, height: int, width: int):
    """Flat (h * W + w) indices of each sample's s × s window: B × s·s."""
    offsets = torch.arange(size, device=rows.device)
    h = rows[:, None, None] + offsets[None, :, None]
    w = cols[:, None, None] + offsets[None, None, :]
    return (h * width + w).reshape(rows.shape[0], size * size)


def trigger_paste_reference(images, patch, rows, cols, inv_std):
    """x + pad(p) · inv_std, in plain PyTorch (index_add over each sample's window)."""
    batch, channels, height, width = images.shape
    size = patch.shape[-1]
    index = _window_index(rows, cols, size, height, width)
    index = index[:, None, :].expand(batch, channels, size * size)
    scaled = patch.reshape(batch, channels, -1) * inv_std.view(1, -1, 1).to(patch.dtype)
    out = images.reshape(batch, channels, -1).scatter_add(2, index, scaled.to(images.dtype))
    return out.view_as(images)


def trigger_paste_grad_reference(grad_out, rows, cols, size: int, inv_std):
    batch, channels, height, width = grad_out.shape
    index = _window_index(rows, cols, size, height, width)
    index = index[:, None, :].expand(batch, channels, size * size)
    window = grad_out.reshape(batch, channels, -1).gather(2, index)
    return (window * inv_std.view(1, -1, 1).to(window.dtype)).view(batch, channels, size, size)


if triton is not None:

    @triton.jit
    def _paste_kernel(
        x_ptr,           # images, B x C x H x W contiguous
        p_ptr,           # patches, B x C x S x S contiguous
        rows_ptr,        # int64 B: top row of each sample's window
        cols_ptr,        # int64 B: left column
        inv_std_ptr,     # float32 C
        out_ptr,         # out: like x
        C, H, W, S,
        BLOCK_SIZE: tl.constexpr,
    ):
        plane = tl.program_id(0).to(tl.int64)   # b * C + c
        b = plane // C
        c = plane % C
        top = tl.load(rows_ptr + b)
        left = tl.load(cols_ptr + b)
        scale = tl.load(inv_std_ptr + c)
        for start in range(0, H * W, BLOCK_SIZE):
            idx = start + tl.arange(0, BLOCK_SIZE)
            inside = idx < H * W
            i = idx // W - top
            j = idx % W - left
            in_window = inside & (i >= 0) & (i < S) & (j >= 0) & (j < S)
            x = tl.load(x_ptr + plane * H * W + idx, mask=inside, other=0.0).to(tl.float32)
            p = tl.load(p_ptr + plane * S * S + i * S + j, mask=in_window, other=0.0).to(tl.float32)
            tl.store(out_ptr + plane * H * W + idx, (x + p * scale).to(out_ptr.dtype.element_ty),
                     mask=inside)

    @triton.jit
    def _paste_grad_kernel(
        g_ptr,           # dL/d out, B x C x H x W contiguous
        rows_ptr, cols_ptr, inv_std_ptr,
        gp_ptr,          # out: dL/dp, B x C x S x S
        C, H, W, S,
        BLOCK_SIZE: tl.constexpr,
    ):
        plane = tl.program_id(0).to(tl.int64)
        b = plane // C
        c = plane % C
        top = tl.load(rows_ptr + b)
        left = tl.load(cols_ptr + b)
        scale = tl.load(inv_std_ptr + c)
        for start in range(0, S * S, BLOCK_SIZE):
            idx = start + tl.arange(0, BLOCK_SIZE)
            inside = idx < S * S
            h = top + idx // S
            w = left + idx % S
            g = tl.load(g_ptr + plane * H * W + h * W + w, mask=inside, other=0.0).to(tl.float32)
            tl.store(gp_ptr + plane * S * S + idx, (g * scale).to(gp_ptr.dtype.element_ty),
                     mask=inside)


def trigger_paste_triton(images, patch, rows, cols, inv_std):
    x, p = images.contiguous(), patch.contiguous()
    batch, channels, height, width = x.shape
    out = torch.empty_like(x)
    _paste_kernel[(batch * channels,)](
        x, p, rows.to(torch.int64).contiguous(), cols.to(torch.int64).contiguous(),
        inv_std.to(torch.float32).contiguous(), out,
        channels, height, width, p.shape[-1],
        BLOCK_SIZE=min(1024, triton.next_power_of_2(height * width)),
    )
    return out


def trigger_paste_grad_triton(grad_out, rows, cols, size: int, inv_std):
    g = grad_out.contiguous()
    batch, channels, height, width = g.shape
    grad_patch = torch.empty(batch, channels, size, size, dtype=g.dtype, device=g.device)
    _paste_grad_kernel[(batch * channels,)](
        g, rows.to(torch.int64).contiguous(), cols.to(torch.int64).contiguous(),
        inv_std.to(torch.float32).contiguous(), grad_patch,
        channels, height, width, size,
        BLOCK_SIZE=min(1024, triton.next_power_of_2(size * size)),
    )
    return grad_patch


class TriggerPaste(torch.autograd.Function):
    @staticmethod
    def forward(ctx, images, patch, rows, cols, inv_std):
        _check(images, patch, rows, cols, inv_std)
        ctx.triton = use_triton(images)
        ctx.size = patch.shape[-1]
        ctx.patch_dtype = patch.dtype
        ctx.save_for_backward(rows, cols, inv_std)
        impl = trigger_paste_triton if ctx.triton else trigger_paste_reference
        return impl(images, patch, rows, cols, inv_std)

    @staticmethod
    def backward(ctx, grad_out):
        rows, cols, inv_std = ctx.saved_tensors
        grad_patch = None
        if ctx.needs_input_grad[1]:
            impl = trigger_paste_grad_triton if ctx.triton else trigger_paste_grad_reference
            grad_patch = impl(grad_out, rows, cols, ctx.size, inv_std).to(ctx.patch_dtype)
        return grad_out, grad_patch, None, None, None


def trigger_paste(images: torch.Tensor, patch: torch.Tensor, rows: torch.Tensor,
                  cols: torch.Tensor, inv_std: torch.Tensor) -> torch.Tensor:
    """x + pad(p) · inv_std, each sample's patch at (rows[b], cols[b])."""
    return TriggerPaste.apply(images, patch, rows, cols, inv_std)


def _check(images, patch, rows, cols, inv_std):
    if images.dim() != 4 or patch.dim() != 4:
        raise ValueError(f"images and patch must be 4-d, got {tuple(images.shape)} and "
                         f"{tuple(patch.shape)}")
    check_batch("trigger_paste", images)
    batch, channels, height, width = images.shape
    size = patch.shape[-1]
    if patch.shape != (batch, channels, size, size):
        raise ValueError(f"patch must be {batch} x {channels} x s x s, got {tuple(patch.shape)}")
    if rows.shape != (batch,) or cols.shape != (batch,) or inv_std.shape != (channels,):
        raise ValueError("rows and cols need one entry per sample, inv_std one per channel")
    if size > min(height, width) or bool((rows < 0).any() | (cols < 0).any()
                                         | (rows > height - size).any() | (cols > width - size).any()):
        raise ValueError(f"a {size} x {size} patch does not fit the {height} x {width} image there")
