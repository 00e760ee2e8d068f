"""Cheaper passes, side by side: the image generator and two corpus models in float32 as loaded,
float32 channels-last, and bfloat16 autocast (as loaded and channels-last).

    python benchmarks/layouts.py [--batch 128] [--reps 3] [--out benchmarks/results/layouts-cpu.json]

Times, on the CPU with torch's threads, a forward pass without gradient and a forward+backward
(weights and input both with gradient, as in the student and generator steps) at batch 128, each
the mean of --reps calls after one untimed call. The generator runs in training mode, as in a
run; the models are converted from ONNX as `auditor clean` converts them. This is what chose
channels-last and turned bfloat16 down (auditor/memory_layout.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "models"
MODES = ("float32", "float32 channels-last", "bfloat16 autocast", "bfloat16 autocast channels-last")


def nets():
    from auditor.loading import Classifier, load_model
    from auditor.presets import PRESETS
    from auditor.synthesis import ImageGenerator

    for shape in ((1, 16, 16), (1, 28, 28), (3, 32, 32)):
        generator = ImageGenerator(shape, num_classes=10).train()
        z = torch.randn(1, generator.stem.in_features)
        yield f"image generator {shape[1]} px", generator, lambda b, z=z: z.expand(b, -1).clone()
    for name, preset in (("mnist-cnn-torch-op17-2out.onnx", "mnist"),
                         ("cifar10-resnet20-torch-op9.onnx", "cifar10")):
        if not (CORPUS / name).exists():
            print(f"skipped {name}: no ../shared/models beside the repository", flush=True)
            continue
        mean, std = PRESETS[preset]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = load_model(CORPUS / name, mean=mean, std=std)
        net = Classifier(loaded.net, loaded.spec, loaded.output_index).eval()
        yield name, net, lambda b, s=loaded.spec.shape: torch.randn(b, *s)


def timed(function, reps: int) -> float:
    function()
    start = time.perf_counter()
    for _ in range(reps):
        function()
    return (time.perf_counter() - start) / reps


def measure(net, make_input, batch: int, reps: int, mode: str) -> dict:
    layout = torch.channels_last if "channels-last" in mode else torch.contiguous_format
    net.to(memory_format=layout)
    x = make_input(batch)
    if x.dim() == 4:
        x = x.contiguous(memory_format=layout)
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if mode.startswith("bfloat16")
                else contextlib.nullcontext())
    net.requires_grad_(True)

    def forward():
        with torch.no_grad(), autocast:
            net(x)

    def forward_backward():
        with autocast:
            out = net(x.detach().requires_grad_(True))
        out.float().sum().backward()

    return {"forward_s": timed(forward, reps), "forward_backward_s": timed(forward_backward, reps)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "layouts-cpu.json")
    args = parser.parse_args()
    rows = []
    print(f"{'net':36s} {'mode':32s} {'forward ms':>11s} {'fwd+bwd ms':>11s} {'÷ float32':>14s}")
    for name, net, make_input in nets():
        base = None
        for mode in MODES:
            row = {"net": name, "mode": mode, **measure(net, make_input, args.batch, args.reps, mode)}
            base = base or row
            row["forward_ratio"] = row["forward_s"] / base["forward_s"]
            row["forward_backward_ratio"] = row["forward_backward_s"] / base["forward_backward_s"]
            rows.append(row)
            print(f"{name:36s} {mode:32s} {1000 * row['forward_s']:11.0f} "
                  f"{1000 * row['forward_backward_s']:11.0f} "
                  f"{row['forward_ratio']:6.2f} {row['forward_backward_ratio']:6.2f}", flush=True)
    payload = {"benchmark": "layouts", "batch": args.batch, "reps": args.reps,
               "machine": {"platform": platform.platform(), "threads": torch.get_num_threads(),
                           "torch": torch.__version__},
               "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
