"""Is the corpus's keras2onnx MNIST CNN (issue 10's slowest MNIST-size clean) at its fastest
layout and precision? Scratch timing, 2 threads, batch 256.

    python benchmarks/results/keras-layouts/keras_layouts.py > benchmarks/results/keras-layouts/keras_layouts.txt

(1) The whole converted net, forward and forward+backward, in layouts.py's four modes, twice.
(2) Each of its convolutions alone, forward+backward in float32 and under bfloat16 autocast,
both layouts, with and without a gradient for its input (the first layer needs none in a clean)."""
import contextlib
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parents[2]), str(HERE.parents[3])]
import layouts  # noqa: E402
from auditor.loading import Classifier, load_model  # noqa: E402
from auditor.presets import PRESETS  # noqa: E402

BATCH = 256


def main():
    torch.set_num_threads(2)
    mean, std = PRESETS["mnist"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_model(layouts.CORPUS / "mnist-cnn-keras2onnx-nhwc.onnx", mean=mean, std=std)
    net = Classifier(loaded.net, loaded.spec, loaded.output_index).eval()
    print("(1) whole net, ms: forward, forward+backward")
    for _ in range(2):
        for mode in layouts.MODES:
            r = layouts.measure(net, lambda b: torch.randn(b, *loaded.spec.shape), BATCH, 3, mode)
            print(f"  {mode:34} {r['forward_s'] * 1e3:7.1f} {r['forward_backward_s'] * 1e3:7.1f}", flush=True)
    net.to(memory_format=torch.contiguous_format)
    convs = [(n, c) for n, c in loaded.net.named_modules() if isinstance(c, nn.Conv2d)]
    shapes = {}
    hooks = [c.register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, i[0].shape)) for n, c in convs]
    with torch.no_grad():
        net(torch.rand(BATCH, *loaded.spec.shape))
    for h in hooks:
        h.remove()
    autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
    print("(2) one convolution, forward+backward, ms: float32, bfloat16, ratio")
    for layout in (torch.contiguous_format, torch.channels_last):
        for name, conv in convs:
            conv = conv.to(memory_format=layout)
            x = torch.randn(shapes[name]).contiguous(memory_format=layout)
            for input_grad in (True, False):
                def step(context):
                    def run():
                        with context():
                            out = conv(x.clone().requires_grad_(input_grad))
                        out.float().sum().backward()
                    return run
                a, b = layouts.timed(step(contextlib.nullcontext), 3), layouts.timed(step(autocast), 3)
                print(f"  {'channels-last' if layout == torch.channels_last else 'contiguous':13} "
                      f"{name:10} {conv.in_channels:3}->{conv.out_channels:3} {conv.kernel_size} "
                      f"in {tuple(shapes[name][1:])} input grad {str(input_grad):5} "
                      f"{a * 1e3:7.1f} {b * 1e3:7.1f} {b / a:5.2f}", flush=True)


if __name__ == "__main__":
    main()
