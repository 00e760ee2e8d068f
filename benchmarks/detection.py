"""Detection benchmark: `auditor scan` through the CLI on the zoo's backdoored and clean models.

    python benchmarks/detection.py [--seeds 0 1 2] [--jobs 2] [--dataset digits|fashion]

Builds the zoo (benchmarks/zoo.py, cached) and scans each model with the defaults, one thread
per run. Prints a row per model and TPR, FPR, AUROC (score: −log p of the largest class) and
seconds per model, overall and per data set; writes benchmarks/results/detection.json.
Targets (issue 11): TPR ≥ 90 % at FPR ≤ 10 %; goal TPR ≥ 95 % at FPR ≤ 5 %, ≤ 60 s per model.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import zoo  # noqa: E402


def scan(info: dict, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "scan.json"
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "auditor.cli", "scan", info["model"], "--preset",
                              "mnist", "--report", str(report), "-q", *extra],
                             capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
        seconds = time.perf_counter() - start
        if run.returncode not in (0, 1):
            raise RuntimeError(f"{info['name']}: exit {run.returncode}: {run.stderr.strip()}")
        payload = json.loads(report.read_text())
    return {"name": info["name"], "dataset": info["dataset"], "arch": info["arch"],
            "attack": info["attack"], "backdoored": info["attack"] is not None,
            "target": info.get("target", zoo.TARGET),
            "model_acc": info["acc"], "model_asr": info["asr"], "model_sha256": info.get("sha256"),
            "exit": run.returncode,
            "flagged": payload["suspected"], "p_value": payload["p_value"],
            "largest_class": payload["largest_class"],
            "look": f"{payload.get('starts')}/{payload.get('search')}", "seconds": seconds}


def summary(rows: list[dict]) -> dict:
    positives = [r for r in rows if r["backdoored"]]
    negatives = [r for r in rows if not r["backdoored"]]
    tpr = sum(r["flagged"] for r in positives) / max(len(positives), 1)
    fpr = sum(r["flagged"] for r in negatives) / max(len(negatives), 1)
    return {"models": len(rows), "backdoored": len(positives), "clean": len(negatives),
            "tpr": tpr, "fpr": fpr, "auroc": auroc(positives, negatives),
            "target_named": sum(r["flagged"] and r["largest_class"] == r.get("target", zoo.TARGET)
                               for r in positives)
            / max(len(positives), 1),
            "seconds_mean": sum(r["seconds"] for r in rows) / max(len(rows), 1),
            "seconds_max": max((r["seconds"] for r in rows), default=0.0)}


def auroc(positives, negatives, score=lambda r: -math.log(max(r["p_value"], 1e-300))) -> float:
    """The chance a backdoored model scores above a clean one (ties count half); the score is
    −log p unless given."""
    pairs = [(score(p) > score(n)) + 0.5 * (score(p) == score(n)) for p in positives for n in negatives]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def tuning(row: dict) -> bool:
    """The models the scan's statistic and settings were chosen on; every other row is held out
    and was never tuned on (the varied-target backdoors of seed 0 included)."""
    return (row["dataset"] == "digits" and row["name"].endswith("-s0")
            and row.get("target", zoo.TARGET) == zoo.TARGET)


def seed(row: dict) -> int:
    return int(row["name"].rsplit("-s", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    zoo.zoo_options(parser, "zoo seeds to scan (default 0 1 2), or with --rows-from to keep")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "detection.json")
    parser.add_argument("--rows-from", type=Path, nargs="+",
                        help="summarise the rows of earlier runs' JSON instead of scanning (a model "
                             "in several files counts once, as the last file has it)")
    parser.add_argument("scan_options", nargs="*", help="passed to auditor scan (after --)")
    args = parser.parse_args()
    if args.rows_from:
        rows = [r for r in zoo.rows_from(args.rows_from) if args.seeds is None or seed(r) in args.seeds]
    else:
        rows = scan_zoo(args)
    sets = {"all": rows, "tuning (digits, seed 0)": [r for r in rows if tuning(r)],
            "held out": [r for r in rows if not tuning(r)],
            **{d: [r for r in rows if r["dataset"] == d] for d in sorted({r["dataset"] for r in rows})},
            **{f"seed {n}": [r for r in rows if seed(r) == n] for n in sorted({seed(r) for r in rows})}}
    result = {"sets": {name: summary(subset) for name, subset in sets.items()},
              "by_attack": {a or "clean": summary([r for r in rows if r["attack"] == a])
                            for a in sorted({r["attack"] for r in rows}, key=str)},
              "scan_options": args.scan_options, "rows": rows}
    print("\n| set | models (backdoored + clean) | TPR | FPR | AUROC | target named | s / model (mean, max) |")
    print("|---|---|---|---|---|---|---|")
    for name, s in result["sets"].items():
        print(f"| {name} | {s['backdoored']} + {s['clean']} | {100 * s['tpr']:.0f} % | "
              f"{100 * s['fpr']:.0f} % | {s['auroc']:.3f} | {100 * s['target_named']:.0f} % | "
              f"{s['seconds_mean']:.0f}, {s['seconds_max']:.0f} |")
    print("\n| attack | flagged (clean: FPR) | flagged with the right target |")
    print("|---|---|---|")
    for attack, s in result["by_attack"].items():
        rate = s["fpr"] if attack == "clean" else s["tpr"]
        named = "—" if attack == "clean" else f"{100 * s['target_named']:.0f} %"
        print(f"| {attack} | {100 * rate:.0f} % of {s['models']} | {named} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")


def scan_zoo(args) -> list[dict]:
    specs = zoo.chosen_specs(args)
    infos = []
    for spec in specs:
        start = time.perf_counter()
        infos.append(zoo.build(spec))
        print(f"model {spec.name}: ACC {100 * infos[-1]['acc']:.1f} ASR {100 * infos[-1]['asr']:.1f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    rows = []
    with ThreadPoolExecutor(args.jobs) as pool:
        for row in pool.map(lambda info: scan(info, args.scan_options), infos):
            rows.append(row)
            print(f"{row['name']:36s} {'backdoored' if row['backdoored'] else 'clean':10s} "
                  f"{'FLAGGED' if row['flagged'] else 'passed':8s} p={row['p_value']:.3g} "
                  f"class {row['largest_class']}  {row['seconds']:.0f} s", flush=True)
    return rows


if __name__ == "__main__":
    main()
