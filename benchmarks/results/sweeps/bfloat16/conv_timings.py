"""Which convolutions bfloat16 slows on this CPU, and what keeping them float32 buys.

    python benchmarks/results/sweeps/bfloat16/conv_timings.py > conv_timings.txt

One thread. (1) Single convolutions, forward+backward at batch 128, float32 against bfloat16
autocast, both layouts. (2) The zoo's depthwise-separable net (benchmarks/zoo.py, untrained,
16 and 28 px, channels-last) run as a clean runs it: float32, bfloat16 everywhere, and
bfloat16 with auditor.precision's exception for strided depthwise convolutions; and the share
of its all-bfloat16 time spent in those convolutions' backward pass."""
import contextlib
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[4]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from auditor import precision  # noqa: E402
from zoo import Depthwise  # noqa: E402

torch.set_num_threads(1)


def seconds(step, reps=3):
    step()
    start = time.perf_counter()
    for _ in range(reps):
        step()
    return (time.perf_counter() - start) / reps


def forward_backward(net, x, context=contextlib.nullcontext):
    def step():
        with context():
            out = net(x.clone().requires_grad_(True))
        out.float().sum().backward()
    return step


def single_convolutions():
    autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
    layers = [("depthwise 3x3 stride 2, 128 ch, 8 px", nn.Conv2d(128, 128, 3, 2, 1, groups=128), 8),
              ("depthwise 3x3 stride 2, 64 ch, 16 px", nn.Conv2d(64, 64, 3, 2, 1, groups=64), 16),
              ("depthwise 3x3 stride 1, 128 ch, 8 px", nn.Conv2d(128, 128, 3, 1, 1, groups=128), 8),
              ("full 3x3 stride 2, 64 ch, 16 px", nn.Conv2d(64, 64, 3, 2, 1), 16),
              ("4 groups 3x3 stride 2, 64 ch, 16 px", nn.Conv2d(64, 64, 3, 2, 1, groups=4), 16)]
    print("(1) one convolution, forward+backward, batch 128: float32 ms, bfloat16 ms, ratio")
    for layout in (torch.contiguous_format, torch.channels_last):
        for name, conv, size in layers:
            conv = conv.to(memory_format=layout)
            x = torch.randn(128, conv.in_channels, size, size).contiguous(memory_format=layout)
            a = seconds(forward_backward(conv, x))
            b = seconds(forward_backward(conv, x, autocast))
            print(f"  {'channels-last' if layout == torch.channels_last else 'contiguous':13} "
                  f"{name:38} {a * 1e3:7.1f} {b * 1e3:7.1f} {b / a:5.2f}")


def depthwise_net():
    print("(2) the zoo's depthwise-separable net, forward+backward, batch 128, channels-last: ms")
    exception, everything = precision.slow_in_bfloat16, (lambda module: False)
    modes = (("float32", None, exception), ("bfloat16 everywhere", torch.bfloat16, everything),
             ("bfloat16, strided depthwise float32", torch.bfloat16, exception))
    for size in (16, 28):
        torch.manual_seed(0)
        net = Depthwise(size).eval().to(memory_format=torch.channels_last)
        x = torch.randn(128, 1, size, size).contiguous(memory_format=torch.channels_last)
        times = {}
        for mode, dtype, rule in modes:
            precision.slow_in_bfloat16 = rule     # nets_in looks the rule up when it is entered
            with precision.nets_in(dtype, "cpu", [net]):
                times[mode] = seconds(forward_backward(net, x))
        print(f"  {size} px: " + ", ".join(f"{m} {t * 1e3:.0f}" for m, t in times.items()))
        precision.slow_in_bfloat16 = everything
        with precision.nets_in(torch.bfloat16, "cpu", [net]), torch.profiler.profile(
                record_shapes=True) as profile:
            forward_backward(net, x)()
        precision.slow_in_bfloat16 = exception
        events = profile.key_averages(group_by_input_shape=True)
        # a strided depthwise backward: weight (C, 1, 3, 3), output smaller than its input
        strided = sum(e.self_cpu_time_total for e in events
                      if e.key == "aten::convolution_backward" and len(e.input_shapes) > 2
                      and len(e.input_shapes[2]) == 4 and e.input_shapes[2][1] == 1
                      and e.input_shapes[0][2] < e.input_shapes[1][2])
        total = sum(e.self_cpu_time_total for e in events)
        print(f"  {size} px, bfloat16 everywhere: {strided / total:.0%} of the pass in the "
              f"strided depthwise convolutions' backward")


if __name__ == "__main__":
    single_convolutions()
    depthwise_net()
