"""bfloat16 passes for the run's three nets (teacher, student, image generator), where asked.

Their convolutions and matrix products are nearly all of a clean's time. Under autocast they
run in bfloat16 while their weights, their outputs, the losses, the image pool and the trigger
search stay float32: only the nets' insides change precision, so the kernels and the figures
see the dtypes they always did. On this project's 2-core AMD EPYC (avx512_bf16) a forward and
backward pass at batch 128 took half the float32 channels-last time on the corpus's keras2onnx
MNIST CNN, ResNet-20 and the 28 px generator (2026-12-07, benchmarks/layouts.py). On 2026-11-28
the same script, on a machine with the same platform string, had measured bfloat16 4.7-37x
slower; why is not known. 'auto' asks the processor for the instructions, and the speed
benchmark, not this comment, says whether they pay.

The precision is a recipe field, so it is in the report and a run is reproducible on the same
machine; it changes the numbers a run computes, so it is measured on the quality benchmarks
before it is a default (benchmarks/results/sweeps.md, "bfloat16 passes").
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from .recipe import PRECISIONS


def bfloat16_is_fast(device: torch.device) -> bool:
    """Whether the device computes bfloat16 natively (a CPU without it emulates, far slower)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    asks = [getattr(torch.cpu, name, None) for name in
            ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(ask() for ask in asks if ask is not None)


def pass_dtype(precision: str, device) -> torch.dtype | None:
    """The dtype the nets' passes run in; None for float32 as loaded."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "float32":
        return None
    if precision == "auto" and not bfloat16_is_fast(torch.device(device)):
        return None
    return torch.bfloat16


@contextlib.contextmanager
def nets_in(dtype: torch.dtype | None, device, nets: list[nn.Module]):
    """Within, each net's forward pass runs under autocast to `dtype` and returns float32.

    Hooks rather than one autocast around the loop: the trigger search's own small layers and
    the fused kernels then keep float32 inputs."""
    if dtype is None:
        yield
        return
    device_type = torch.device(device).type
    handles = []
    for net in nets:
        open_contexts: list = []

        def enter(module, args, open_contexts=open_contexts):
            context = torch.autocast(device_type, dtype=dtype)
            context.__enter__()
            open_contexts.append(context)

        def leave(module, args, output, open_contexts=open_contexts):
            open_contexts.pop().__exit__(None, None, None)
            if isinstance(output, torch.Tensor) and output.dtype == dtype:
                return output.float()
            return output

        handles += [net.register_forward_pre_hook(enter),
                    net.register_forward_hook(leave, always_call=True)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
