"""Fused Triton objectives vs eager PyTorch vs torch.compile, forward + backward, on CUDA.

    python benchmarks/kernels.py [--out benchmarks/out/kernels.json]

Times are medians of triton.testing.do_bench; GB/s counts the bytes each fused kernel must
move (inputs read once, gradients written once). Without a CUDA device it says so and exits 0.
The eager formulas come from the tests, so benchmark and oracle cannot drift apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.test_kernels import eager_tv  # noqa: E402

from auditor import kernels  # noqa: E402

L1 = torch.nn.functional.l1_loss


def cases(device):
    for k in (10, 100, 1000):
        s, t, p = (torch.randn(256, k, device=device, requires_grad=i != 1) for i in range(3))
        bytes_moved = 5 * s.numel() * s.element_size()
        yield (f"student B=256 K={k}", bytes_moved,
               lambda: kernels.student_objective(s, t, p, 0.1),
               lambda: L1(s, t) + 0.1 * L1(p, s.detach()), [s, p])
        yield (f"trigger B=256 K={k}", 4 * s.numel() * s.element_size(),
               lambda: kernels.trigger_objective(s, p), lambda: -L1(s, p), [s, p])
    for size in (32, 224):
        x = torch.rand(256, 3, size, size, device=device, requires_grad=True)
        yield (f"tv 256x3x{size}x{size}", 3 * x.numel() * x.element_size(),
               lambda: kernels.total_variation(x, 1e-4, 0.0), lambda: eager_tv(x, 1e-4, 0.0), [x])
        patch_size = 5 if size == 32 else 35
        patch = torch.randn(256, 3, patch_size, patch_size, device=device, requires_grad=True)
        rows = torch.randint(0, size - patch_size + 1, (256,), device=device)
        cols = torch.randint(0, size - patch_size + 1, (256,), device=device)
        inv_std = torch.rand(3, device=device) + 1
        from auditor.kernels.trigger_paste import trigger_paste_reference
        yield (f"paste 256x3x{size}x{size} s={patch_size}", 2 * x.numel() * x.element_size(),
               lambda: kernels.trigger_paste(x, patch, rows, cols, inv_std).sum(),
               lambda: trigger_paste_reference(x, patch, rows, cols, inv_std).sum(), [x, patch])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/kernels.json"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: the Triton kernels run only on CUDA, so there is nothing to time "
              "here (CPU runs the PyTorch reference). Nothing was measured.")
        return
    import triton
    from triton.testing import do_bench

    def step(fn, leaves):
        def run():
            for leaf in leaves:
                leaf.grad = None
            fn().backward()
        return run

    device = torch.device("cuda")
    rows = []
    print(f"{'case':<32} {'fused ms':>9} {'eager ms':>9} {'compile ms':>11} {'fused GB/s':>11}")
    for name, bytes_moved, fused, eager, leaves in cases(device):
        compiled = torch.compile(eager)
        times = {label: do_bench(step(fn, leaves), return_mode="median")
                 for label, fn in (("fused", fused), ("eager", eager), ("compile", compiled))}
        gbps = bytes_moved / (times["fused"] * 1e-3) / 1e9
        rows.append({"case": name, **{f"{k}_ms": v for k, v in times.items()}, "fused_gbps": gbps})
        print(f"{name:<32} {times['fused']:>9.4f} {times['eager']:>9.4f} {times['compile']:>11.4f} "
              f"{gbps:>11.1f}")
    payload = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
               "triton": triton.__version__, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
