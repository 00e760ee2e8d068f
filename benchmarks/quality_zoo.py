"""Quality over the zoo: the default recipe on models it was not tuned on.

    python benchmarks/quality_zoo.py [--datasets digits fashion] [--archs tiny vgg-bn ...]
                                     [--attacks badnets ...] [--seeds 0 1 2] [--jobs 2]
                                     [--split all|tuning|held-out] [--out FILE]
                                     [--clean-args "--patch-weight 2"] [--rows-from A.json B.json]
                                     [--cached-only] [--keep DIR]

Each (data set, architecture, attack, seed) model is built once by benchmarks/zoo.py (cached in
benchmarks/out/zoo/; Fashion-MNIST needs `apt-get install -y dataset-fashion-mnist`) and cleaned
through the CLI (`auditor clean --preset mnist --seed SEED`, default recipe otherwise), one thread
per run. Each architecture is also trained without poison (the controls). ACC is read on the
zoo's held-out test images (digits 500, Fashion-MNIST 2,000) and ASR on the same images
triggered, before and after, both in onnxruntime on the ONNX files.

The split. The default recipe was tuned (benchmarks/results/sweeps.md) on the bundled tiny
digits CNN with BadNets, noise-blend, sinusoid and corner-patch backdoors. `TUNING` names the
zoo rows a later tuning may look at: digits, the tiny, VGG and ResNet nets, the patch, noise-blend
and sinusoid attacks. Every other row is held out and only ever evaluated: all of
Fashion-MNIST, the depthwise-separable net (the one torch's dynamo exporter writes), and the
warp, natural-image blend and all-to-all attacks.

Bars (per row, worst over seeds): backdoored, ACC drop ≤ 2 points and ASR ≤ 5 % (goal 1 and 2);
controls, ACC drop ≤ 1 point. The JSON is rewritten after every run, so a run that is stopped
keeps what it measured; rows not yet run are listed as such, never dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
import zoo  # noqa: E402

TUNING_ARCHS = ("tiny", "vgg-bn", "resnet")
TUNING_ATTACKS = ("badnets", "patch-mid", "blend20", "blend30", "sig", None)
BARS = {"backdoored": (2.0, 5.0), "control": (1.0, None)}    # (ACC drop, ASR) at most
GOAL = (1.0, 2.0)


def split(spec: zoo.Spec) -> str:
    tuned = (spec.dataset == "digits" and spec.arch in TUNING_ARCHS
             and spec.attack in TUNING_ATTACKS)
    return "tuning" if tuned else "held-out"


def score(model_path: str, info: dict) -> dict:
    from auditor.evaluation import load_images
    from auditor.runtime import ModelRunner

    runner = ModelRunner.open(model_path, mean=(zoo.MEAN,), std=(zoo.STD,))
    shape = (info["size"], info["size"], 1)
    test, triggered = load_images(info["test"], shape), load_images(info["triggered"], shape)
    return zoo.scores(info["attack"], runner.predict, test.images, triggered.images, test.labels,
                      info.get("target", zoo.TARGET))


def clean(info: dict, seed: int, extra: list[str], keep: Path | None = None) -> dict:
    """keep: a folder to leave the cleaned model and its report in, as NAME.onnx and NAME.json."""
    with tempfile.TemporaryDirectory() as folder:
        out, report = Path(folder) / "clean.onnx", Path(folder) / "clean.json"
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            out, report = keep / f"{info['name']}.onnx", keep / f"{info['name']}.json"
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "auditor.cli", "clean", info["model"], "-o",
                              str(out), "--preset", "mnist", "--seed", str(seed), "-q",
                              "--report", str(report), *extra],
                             capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
        seconds = time.perf_counter() - start
        if run.returncode != 0:
            return {"exit": run.returncode, "error": run.stderr.strip()[-300:], "seconds": seconds}
        # the run's own view, to read a miss by: the suspect, the trigger flips, the residual scan
        own = json.loads(report.read_text())
        residual = own["residual"] or {}
        return {"exit": 0, **score(str(out), info), "seconds": round(seconds, 1),
                "run_figures": own["figures"]["final"], "timings_s": own["timings_s"],
                "stop": own["stop"],
                "residual_suspected": residual.get("suspected"),
                "residual_p_value": residual.get("p_value"),
                "shortcut": own.get("shortcut"), "evidence_left": own.get("evidence_left")}


def verdict(row: dict) -> dict:
    """ACC drop in points, ASR in %, and whether the row meets its bar and the goal."""
    if row.get("after") is None or row["after"].get("exit"):
        return {"acc_drop": None, "asr_after": None, "meets_bar": False, "meets_goal": False}
    # rounded before the comparison: 0.99 - 0.97 is 2.0000000000000018 points in floating point,
    # and one test image more or less is 0.2 points
    drop = round(100 * (row["before"]["acc"] - row["after"]["acc"]), 2)
    asr = round(100 * row["after"]["asr"], 2)
    max_drop, max_asr = BARS["control" if row["attack"] is None else "backdoored"]
    meets = drop <= max_drop and (max_asr is None or asr <= max_asr)
    goal = drop <= GOAL[0] and (row["attack"] is None or asr <= GOAL[1])
    return {"acc_drop": drop, "asr_after": asr, "meets_bar": meets,
            "meets_goal": goal}


def summary(rows: list[dict]) -> dict:
    done = [r for r in rows if r.get("after") is not None]
    out = {}
    for kind in ("backdoored", "control"):
        mine = [r for r in done if (r["attack"] is None) == (kind == "control")]
        drops = [r["acc_drop"] for r in mine if r["acc_drop"] is not None]
        asrs = [r["asr_after"] for r in mine if r["asr_after"] is not None and kind == "backdoored"]
        out[kind] = {"runs": len(mine), "meet_bar": sum(r["meets_bar"] for r in mine),
                     "failed_runs": sum(r["acc_drop"] is None for r in mine),
                     "worst_acc_drop": max(drops, default=None),
                     "worst_asr": max(asrs, default=None)}
    out["not_run"] = len(rows) - len(done)
    return out


def write(path: Path, rows: list[dict], args) -> None:
    payload = {"benchmark": "quality-zoo", "seeds": args.seeds, "clean_args": args.clean_args,
               "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                           "threads_per_run": 1, "jobs": args.jobs, "torch": torch.__version__},
               "sets": {name: summary([r for r in rows if name == "all" or r["split"] == name])
                        for name in ("all", "tuning", "held-out")},
               "rows": rows}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)


def print_table(rows: list[dict]) -> None:
    print("\n| data set | net | attack | split | seed | before ACC / ASR | after ACC / ASR | "
          "drop | bar | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    pct = lambda s: f"{100 * s['acc']:.1f} / {100 * s['asr']:.1f}" if s else "—"   # noqa: E731
    for r in rows:
        after = r.get("after")
        if after is None:
            cells = "not run | — | — | —"
        elif after.get("exit"):
            cells = f"exit {after['exit']} | — | missed | {after['seconds']:.0f}"
        else:
            bar = "met" + (" (goal)" if r["meets_goal"] else "") if r["meets_bar"] else "**missed**"
            cells = f"{pct(after)} | {r['acc_drop']:.1f} | {bar} | {after['seconds']:.0f}"
        print(f"| {r['dataset']} | {r['arch']} | {r['attack'] or 'none (control)'} | {r['split']} | "
              f"{r['seed']} | {pct(r['before'])} | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "fashion"])
    parser.add_argument("--archs", nargs="+", default=list(zoo.ARCHITECTURES))
    parser.add_argument("--attacks", nargs="+", default=list(zoo.ATTACKS) + ["none"],
                        help="'none' is the control, trained without poison")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--split", choices=["all", "tuning", "held-out"], default="all")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "quality-zoo.json")
    parser.add_argument("--clean-args", default="",
                        help="extra `auditor clean` options, to measure a variant of the recipe "
                             "(e.g. \"--patch-weight 2\"); the default recipe when empty")
    parser.add_argument("--rows-from", type=Path, nargs="+",
                        help="print and summarise earlier runs' rows instead of running")
    parser.add_argument("--cached-only", action="store_true",
                        help="only the chosen models already built in benchmarks/out/zoo/: "
                             "measure without training any (the others are not listed)")
    parser.add_argument("--keep", type=Path,
                        help="leave each cleaned model and its report in this folder "
                             "(NAME.onnx, NAME.json), to look at them again")
    args = parser.parse_args()
    if args.rows_from:
        rows = [r for path in args.rows_from for r in json.loads(path.read_text())["rows"]]
        print_table(rows)
        print(json.dumps({n: summary([r for r in rows if n == "all" or r["split"] == n])
                          for n in ("all", "tuning", "held-out")}, indent=2))
        return
    # each seed's rows on diagonals of the attack × net grid, so that a run stopped early has
    # seen every net and as many attacks as it had time for
    attacks = [None if a == "none" else a for a in args.attacks]
    specs = [zoo.Spec(d, arch, attacks[(i + j) % len(attacks)], seed)
             for seed in args.seeds for d in args.datasets for i in range(len(attacks))
             for j, arch in enumerate(args.archs)]
    specs = [s for s in specs if args.split in ("all", split(s))
             and not (args.cached_only and not (zoo.CACHE / s.name / "meta.json").exists())]
    rows = [{"name": s.name, "dataset": s.dataset, "arch": s.arch, "attack": s.attack,
             "seed": s.seed, "split": split(s), "before": None, "after": None} for s in specs]
    write(args.out, rows, args)
    torch.set_num_threads(max(1, torch.get_num_threads() // args.jobs))   # models trained here

    def run(index):
        row = rows[index]
        info = zoo.build(specs[index])     # cached after the first time; build time is not run time
        done = {**row, "model": info["model"], "model_sha256": info.get("sha256"),
                "before": score(info["model"], info),
                "after": clean(info, row["seed"], args.clean_args.split(), args.keep)}
        return index, {**done, **verdict(done)}

    with ThreadPoolExecutor(args.jobs) as pool:
        for future in as_completed([pool.submit(run, i) for i in range(len(rows))]):
            index, row = future.result()
            rows[index] = row       # only this thread touches rows, so write() sees whole rows
            after = row["after"]
            state = (f"exit {after['exit']}: {after['error']}" if after.get("exit") else
                     f"ACC / ASR {100 * after['acc']:.1f} / {100 * after['asr']:.1f}, drop "
                     f"{row['acc_drop']:.1f}, bar {'met' if row['meets_bar'] else 'MISSED'}")
            print(f"cleaned {row['name']} ({row['split']}): {state} ({after['seconds']:.0f} s)",
                  flush=True)
            write(args.out, rows, args)
    print_table(rows)
    print(json.dumps(summary(rows), indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
