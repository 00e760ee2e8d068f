"""bfloat16 passes for the run's three nets (teacher, student, image generator), and for the
model a scan searches, where asked.

Their convolutions and matrix products are nearly all of a clean's time. Under autocast they
run in bfloat16 while their weights, their outputs, the losses, the image pool and the trigger
search stay float32: only the nets' insides change precision, so the kernels and the figures
see the dtypes they always did; within them, strided depthwise convolutions stay float32 too
(`slow_in_bfloat16`). On this project's 2-core AMD EPYC (avx512_bf16) a forward and
backward pass at batch 128, channels-last, took 0.47-0.65 of float32's time on the 16-32 px
generators, a corpus MNIST CNN and ResNet-20 (benchmarks/results/layouts-cpu-2026-12-07.json),
and speed.py's estimate of a default clean fell to 0.62-0.69 of float32's on five nets
(2026-12-07, benchmarks/results/sweeps/bfloat16/). On 2026-11-28 benchmarks/layouts.py, on
another host (platform string fc-v595, today's fc-v1300), had measured bfloat16 4.7-37x
slower; why is not known. 'auto', the default, asks the processor for the
instructions; the speed benchmark, not this comment, says whether they pay on a new machine.

The precision is a recipe field, so it is in the report and a run is reproducible on the same
machine. It changes the numbers a run computes, so it became the default by a rule measured
on the quality benchmarks (benchmarks/results/sweeps.md, "bfloat16 passes under a rule"). The
scans' own field (ScanSettings.precision) changes verdicts, not the clean model: it became the
default by a rule of its own on 59 models' verdicts and 43 cleans' gates ("bfloat16 scans
under a rule").
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from .recipe import PRECISIONS


def bfloat16_is_fast(device: torch.device) -> bool:
    """Whether the device computes bfloat16 natively (a CPU without it emulates, far slower)."""
    if device.type == "cuda":
        # by default torch also says yes where it only emulates bfloat16 (before Ampere: the T4s
        # and V100s of many CI clouds); 'auto' means native, as on the CPU (unmeasured on a GPU)
        return torch.cuda.is_bf16_supported(including_emulation=False)
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


def ran_in(dtype: torch.dtype | None) -> str:
    """pass_dtype's answer as the reports name it."""
    return "bfloat16" if dtype is not None else "float32"


def slow_in_bfloat16(module: nn.Module) -> bool:
    """A strided depthwise convolution: on the development CPU its forward+backward pass in
    bfloat16 was 3-21x slower than in float32 (64 and 128 channels, batch 128, either layout),
    and a digits depthwise-separable net's clean took 289 s of erasing against 167. Stride-1
    depthwise, full and 4-group convolutions were 0.21-0.75x
    (benchmarks/results/sweeps/bfloat16/conv_timings.txt)."""
    return (isinstance(module, nn.Conv2d) and module.groups > 1
            and module.groups == module.in_channels and max(module.stride) > 1)


@contextlib.contextmanager
def nets_in(dtype: torch.dtype | None, device, nets: list[nn.Module]):
    """Within, each net's forward pass runs under autocast to `dtype` and returns float32, but
    for its layers that `slow_in_bfloat16` names, which run float32.

    Hooks rather than one autocast around the loop: the trigger search's own small layers and
    the fused kernels then keep float32 inputs."""
    if dtype is None:
        yield
        return
    device_type = torch.device(device).type
    handles = []
    for net in nets:
        handles += _around(net, lambda: torch.autocast(device_type, dtype=dtype))
        for layer in filter(slow_in_bfloat16, net.modules()):
            handles += _around(layer, lambda: torch.autocast(device_type, enabled=False),
                               float_inputs=True)
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _around(module: nn.Module, context, *, float_inputs: bool = False) -> list:
    """Hooks that run the module's forward pass within a fresh `context()` and hand out its
    output, and with `float_inputs` take its inputs, as float32."""
    open_contexts: list = []

    def enter(module, args):
        open_contexts.append(context())
        open_contexts[-1].__enter__()
        return tuple(map(_float32, args)) if float_inputs else None

    def leave(module, args, output):
        open_contexts.pop().__exit__(None, None, None)
        return _float32(output)

    return [module.register_forward_pre_hook(enter),
            module.register_forward_hook(leave, always_call=True)]


def _float32(value):
    return value.float() if isinstance(value, torch.Tensor) and value.dtype == torch.bfloat16 else value
