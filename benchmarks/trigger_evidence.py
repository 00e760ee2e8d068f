"""Does the DHBE trigger search's warm-up tell backdoored models from clean ones? (issue 11 asks
whether to combine it with the scan's statistic.)

    python benchmarks/trigger_evidence.py [--dataset digits] [--seeds 0 1 2]

For each zoo model (benchmarks/zoo.py), runs `auditor clean`'s warm-up (the generators and the
trigger search, then the patch probe) and reads the suspect class and its rise (erasing.py's
find_suspect). Prints, per model, the rise and whether the class is the target, then the AUROC
of the rise as a backdoor score and the best TPR at FPR ≤ 10 %; writes
benchmarks/results/trigger_evidence.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import zoo  # noqa: E402
from detection import auroc  # noqa: E402

from auditor.erasing import erase_backdoor  # noqa: E402
from auditor.loading import Classifier, load_model  # noqa: E402
from auditor.recipe import Recipe  # noqa: E402


def warmup_evidence(info: dict) -> dict:
    loaded = load_model(info["model"], mean=(zoo.MEAN,), std=(zoo.STD,))
    teacher = Classifier(loaded.net, loaded.spec, loaded.output_index)
    recipe = Recipe()
    # one iteration past the warm-up: find_suspect runs as the warm-up ends
    recipe = recipe.with_overrides(iterations=recipe.warmup_iterations + 1, student_steps=1)
    start = time.perf_counter()
    final = erase_backdoor(teacher, loaded.spec, recipe).final
    return {"name": info["name"], "backdoored": info["attack"] is not None, "attack": info["attack"],
            "rise": final["suspect_rise"], "suspect_class": final["suspect_class"],
            "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dataset", choices=["digits", "fashion"], default="digits")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "trigger_evidence.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for spec in zoo.detection_zoo(args.seeds):
        if spec.dataset != args.dataset:
            continue
        row = warmup_evidence(zoo.build(spec))
        rows.append(row)
        print(f"{row['name']:36s} rise {row['rise']:.2f} class {row['suspect_class']} "
              f"({'target' if row['suspect_class'] == zoo.TARGET else 'other'})  "
              f"{row['seconds']:.0f} s", flush=True)
    positives = [r for r in rows if r["backdoored"]]
    negatives = [r for r in rows if not r["backdoored"]]
    best = 0.0
    for threshold in sorted({r["rise"] for r in rows}):
        fpr = sum(r["rise"] >= threshold for r in negatives) / len(negatives)
        if fpr <= 0.10:
            best = max(best, sum(r["rise"] >= threshold for r in positives) / len(positives))
    summary = {"auroc": auroc(positives, negatives, score=lambda r: r["rise"]), "tpr_at_fpr_10": best,
               "clean_rise_max": max(r["rise"] for r in negatives),
               "target_named": sum(r["suspect_class"] == zoo.TARGET for r in positives) / len(positives)}
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
