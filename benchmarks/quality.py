"""Quality benchmark: does `auditor clean` erase real backdoors, and is the regulariser why?

For each attack, builds a backdoored digits classifier (auditor/examples/digits.py, fixed
seeds), writes it to ONNX, then runs the CLI on it: `auditor clean` with the default recipe
once per seed, and the same run with `--reg-weight 0` (plain data-free distillation, which
should keep the backdoor). A control model trained the same way without poison is cleaned too
(`--control`): its ACC drop is what cleaning costs a model that had nothing to erase, and its
ASR, counted with the BadNets trigger, is that trigger's natural effect. The bars are checked on
the backdoored models only. Prints a table of ACC / ASR before and after, writes it as JSON.

    python benchmarks/quality.py [--attacks badnets blend sig corner4] [--seeds 0 1] [--jobs 2]
                                [--iterations N] [--no-control] [--out DIR]
                                [--clean-args "--grating-rows 12"]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import shlex
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


CONTROL = "none"   # the control row's name: a model trained without poison


def build(attack: str, out: Path, seed: int) -> tuple[Path, Path, PixelTrigger]:
    """`attack` CONTROL trains without poison and keeps the BadNets trigger to count ASR with."""
    model, test, trigger = (digits.train_backdoored("badnets", seed=seed, poison_rate=0.0)
                            if attack == CONTROL else digits.train_backdoored(attack, seed=seed))
    model_path, data_path = out / f"{attack}.onnx", out / f"{attack}-test.npz"
    digits.export_onnx(model, model_path)
    digits.save_test_set(test, data_path)
    return model_path, data_path, PixelTrigger(trigger.pattern, trigger.mask, trigger.target)


def score(model_path: Path, data_path: Path, trigger: PixelTrigger) -> dict:
    runner = ModelRunner.open(model_path, **PREPROCESSING)
    data = load_images(data_path, (digits.SIZE, digits.SIZE, 1))
    return evaluate(runner.predict, data, trigger).as_dict()


def clean(model_path: Path, out_path: Path, extra: list[str], threads: int) -> tuple[float, int]:
    """Seconds the CLI took, and the iterations it ran before it stopped."""
    report = out_path.with_suffix(".json")
    command = [sys.executable, "-m", "auditor.cli", "clean", str(model_path), "-o", str(out_path),
               "--preset", "mnist", "-q", "--report", str(report), *extra]
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start, json.loads(report.read_text())["stop"]["iterations"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attacks", nargs="+", default=list(digits.ATTACKS), choices=digits.ATTACKS)
    parser.add_argument("--iterations", type=int, default=Recipe().iterations)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1],
                        help="seeds of the `auditor clean` runs; the --reg-weight 0 run uses the "
                             "first (models: seed 0)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="CLI runs at once, the CPU threads split between them (times are "
                             "then per run on fewer threads)")
    parser.add_argument("--control", action=argparse.BooleanOptionalAction, default=True,
                        help="also clean a model trained without poison (not held to the bars)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--clean-args", default="",
                        help="options added to every `auditor clean` run, to measure a recipe "
                             "other than the default")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    threads = max(1, torch.get_num_threads() // args.jobs)
    rows, runs = {}, []
    for attack in args.attacks + [CONTROL] * args.control:
        model_path, data_path, trigger = build(attack, args.out, seed=0)
        rows[attack] = {"attack": attack, "backdoored": score(model_path, data_path, trigger),
                        "auditor": []}
        runs += [(attack, model_path, data_path, trigger, "auditor", seed, []) for seed in args.seeds]
        if attack != CONTROL:
            runs.append((attack, model_path, data_path, trigger, "no_regulariser", args.seeds[0],
                         ["--reg-weight", "0"]))

    def run(job):
        attack, model_path, data_path, trigger, name, seed, extra = job
        out_path = args.out / f"{attack}-{name}-{seed}.onnx"
        seconds, iterations = clean(model_path, out_path, ["--iterations", str(args.iterations),
                                                           "--seed", str(seed),
                                                           *shlex.split(args.clean_args), *extra],
                                    threads=threads)
        return attack, name, {**score(out_path, data_path, trigger), "seed": seed,
                              "seconds": round(seconds, 1), "iterations": iterations}

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for attack, name, result in pool.map(run, runs):
            if name == "auditor":
                rows[attack]["auditor"].append(result)
            else:
                rows[attack][name] = result
            if len(rows[attack]["auditor"]) == len(args.seeds) and (
                    attack == CONTROL or "no_regulariser" in rows[attack]):
                _print_row(rows[attack])
    control = rows.pop(CONTROL, None)
    rows = list(rows.values())
    summary = summarise(rows)
    if control is not None:
        drops = _drops(control)
        summary["control_acc_drop_max"] = round(max(drops), 2)
        print(f"\ncontrol (no backdoor): worst ACC drop {max(drops):.1f} points")
    print(f"\nworst ACC drop {summary['acc_drop_max']:.1f} points, worst ASR "
          f"{summary['asr_max']:.1f} %: target (2 / 5) {'met' if summary['meets_target'] else 'missed'}, "
          f"goal (1 / 2) {'met' if summary['meets_goal'] else 'missed'}")
    payload = {"benchmark": "quality", "iterations": args.iterations, "seeds": args.seeds,
               "clean_args": args.clean_args,
               "recipe": Recipe().with_overrides(iterations=args.iterations).as_dict(),
               "machine": {"cpu_threads": torch.get_num_threads(), "jobs": args.jobs,
                           "threads_per_run": threads, "platform": platform.platform(),
                           "torch": torch.__version__},
               "summary": summary, "rows": rows, "control": control}
    (args.out / "quality.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(f"written to {args.out / 'quality.json'}")


def summarise(rows: list[dict]) -> dict:
    """Worst ACC drop (points) and worst ASR (%) over every attack and seed, against the bars."""
    drops = [drop for row in rows for drop in _drops(row)]
    asrs = [100 * (run["asr"] or 0) for row in rows for run in row["auditor"]]
    worst_drop, worst_asr = round(max(drops), 2), round(max(asrs), 2)
    return {"acc_drop_max": worst_drop, "asr_max": worst_asr,
            "acc_drop_mean": round(sum(drops) / len(drops), 2),
            "asr_mean": round(sum(asrs) / len(asrs), 2),
            "meets_target": worst_drop <= 2 and worst_asr <= 5,
            "meets_goal": worst_drop <= 1 and worst_asr <= 2}


def _drops(row: dict) -> list[float]:
    """ACC drop in points of each `auditor clean` run of a row."""
    return [100 * (row["backdoored"]["acc"] - run["acc"]) for run in row["auditor"]]


def _print_row(row: dict) -> None:
    pct = lambda s: f"{100 * s['acc']:.1f}/{100 * (s['asr'] or 0):.1f}"   # noqa: E731
    runs = "  ".join(f"seed {r['seed']}: {pct(r)} ({r['seconds']:.0f} s, {r['iterations']} it.)"
                     for r in row["auditor"])
    baseline = f"  reg-weight 0: {pct(row['no_regulariser'])}" if "no_regulariser" in row else ""
    print(f"{row['attack']:<8} before {pct(row['backdoored'])}  auditor {runs}{baseline}",
          flush=True)


if __name__ == "__main__":
    main()
