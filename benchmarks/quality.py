"""Quality benchmark: does `auditor clean` erase real backdoors, and is the regulariser why?

For each attack, builds a backdoored digits classifier (auditor/examples/digits.py, fixed
seeds), writes it to ONNX, then runs the CLI twice on it: `auditor clean` with the default recipe,
and the same run with `--reg-weight 0` (plain data-free distillation, which should keep the
backdoor). Prints a table of ACC / ASR before and after, writes it as JSON.

    python benchmarks/quality.py [--attacks badnets blend sig] [--iterations N] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from auditor.evaluation import PixelTrigger, evaluate, load_images
from auditor.examples import digits
from auditor.recipe import Recipe
from auditor.runtime import ModelRunner

PREPROCESSING = dict(mean=digits.MEAN, std=digits.STD)


def build(attack: str, out: Path, seed: int) -> tuple[Path, Path, PixelTrigger]:
    model, test, trigger = digits.train_backdoored(attack, seed=seed)
    model_path, data_path = out / f"{attack}.onnx", out / f"{attack}-test.npz"
    digits.export_onnx(model, model_path)
    digits.save_test_set(test, data_path)
    return model_path, data_path, PixelTrigger(trigger.pattern, trigger.mask, trigger.target)


def score(model_path: Path, data_path: Path, trigger: PixelTrigger) -> dict:
    runner = ModelRunner.open(model_path, **PREPROCESSING)
    data = load_images(data_path, (digits.SIZE, digits.SIZE, 1))
    return evaluate(runner.predict, data, trigger).as_dict()


def clean(model_path: Path, out_path: Path, extra: list[str]) -> float:
    command = [sys.executable, "-m", "auditor.cli", "clean", str(model_path), "-o", str(out_path),
               "--preset", "mnist", "-q", *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attacks", nargs="+", default=["badnets", "blend", "sig"],
                        choices=digits.ATTACKS)
    parser.add_argument("--iterations", type=int, default=Recipe().iterations)
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (models: seed 0)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for attack in args.attacks:
        model_path, data_path, trigger = build(attack, args.out, seed=0)
        row = {"attack": attack, "backdoored": score(model_path, data_path, trigger)}
        for name, extra in (("auditor", []), ("no_regulariser", ["--reg-weight", "0"])):
            out_path = args.out / f"{attack}-{name}.onnx"
            seconds = clean(model_path, out_path, ["--iterations", str(args.iterations),
                                                   "--seed", str(args.seed), *extra])
            row[name] = {**score(out_path, data_path, trigger), "seconds": round(seconds, 1)}
        rows.append(row)
        _print_row(row)
    payload = {"benchmark": "quality", "iterations": args.iterations, "seed": args.seed,
               "recipe": Recipe().with_overrides(iterations=args.iterations).as_dict(),
               "machine": {"cpu_threads": torch.get_num_threads(), "platform": platform.platform(),
                           "torch": torch.__version__},
               "rows": rows}
    (args.out / "quality.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwritten to {args.out / 'quality.json'}")


def _print_row(row: dict) -> None:
    if not hasattr(_print_row, "header"):
        _print_row.header = True
        print(f"{'attack':<9} {'backdoored ACC/ASR':>19} {'auditor ACC/ASR':>17} {'time':>6} "
              f"{'reg-weight 0 ACC/ASR':>21}")
    pct = lambda s: f"{100 * s['acc']:.1f}/{100 * (s['asr'] or 0):.1f}"   # noqa: E731
    print(f"{row['attack']:<9} {pct(row['backdoored']):>19} {pct(row['auditor']):>17} "
          f"{row['auditor']['seconds']:>5.0f}s {pct(row['no_regulariser']):>21}", flush=True)


if __name__ == "__main__":
    main()
