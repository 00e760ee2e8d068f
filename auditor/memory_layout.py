"""Channels-last memory layout for the nets of a run, where it leaves their answers as they were.

The layout changes where a net's numbers sit in memory, not what it computes, and the CPU's
convolutions run faster on it. On the idle 2-core development machine (a scratch script), the
image generator's forward pass took 0.37-0.69 of the time and its forward+backward 0.69-0.87
(16, 28 and 32 px), and a converted ResNet-20's forward+backward 0.58. benchmarks/layouts.py
repeats the comparison; run with both cores busy, it gave smaller gains. bfloat16 passes, the
other lever for cheaper passes, are auditor/precision.py's. A converted
graph may still hold an op that reads raw memory, so a net is moved only when it answers a
probe batch as before; otherwise it stays as loaded.

AUDITOR_MEMORY_FORMAT=contiguous keeps every net as loaded: the speed benchmark's plain baseline.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .input_spec import InputSpec

LAYOUT_ENV = "AUDITOR_MEMORY_FORMAT"
_CHOICES = ("channels_last", "contiguous")


def channels_last_wanted() -> bool:
    choice = os.environ.get(LAYOUT_ENV, "channels_last").strip().lower() or "channels_last"
    if choice not in _CHOICES:
        raise ValueError(f"{LAYOUT_ENV} must be one of {', '.join(_CHOICES)}, not {choice!r}")
    return choice == "channels_last"


def to_channels_last_checked(net: nn.Module, spec: InputSpec, device) -> bool:
    """to_channels_last with a probe batch of the net's own input spec, drawn from
    a generator of its own so that the run's random stream does not depend on the layout."""
    pixels = torch.rand(4, *spec.shape, generator=torch.Generator().manual_seed(0))
    return to_channels_last(net, spec.normalise(pixels.to(device)))


@torch.no_grad()
def to_channels_last(net: nn.Module, example: torch.Tensor) -> bool:
    """Moves the net's 4-d weights to channels-last if it then answers `example` as before (to
    float rounding); returns whether it moved. `net` must be in the mode it will run in."""
    if not channels_last_wanted():
        return False
    before = net(example)
    net.to(memory_format=torch.channels_last)
    try:
        after = net(example.contiguous(memory_format=torch.channels_last))
        same = after.shape == before.shape and torch.allclose(
            after, before, rtol=1e-3, atol=1e-4 * float(before.abs().amax().clamp_min(1)),
            equal_nan=True)
    except RuntimeError:
        same = False
    if not same:
        net.to(memory_format=torch.contiguous_format)
    return same
