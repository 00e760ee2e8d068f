"""Where the scan starts from: does the planted trigger fire there, and which class stands out?

    python benchmarks/start_families.py [--seeds 0 1] [--dataset fashion] [--jobs 2] [--varied-targets]

`auditor scan` pushes uniform-noise images towards each class and asks which class got
abnormally far (auditor/detection.py). On Fashion-MNIST the class that stands out is the bag,
in clean and backdoored models alike. This script measures, on the detection zoo
(benchmarks/zoo.py, cached), four families of starting images (uniform noise, as the scan;
dark: 0.2 × noise; grey: 0.4 + 0.2 × noise; smooth: noise upsampled from 4 × 4), 32 each:
- `plain`: the share of starts the model puts in each class, as they are;
- `fires`: the share the attacker's own trigger sends to the target (backdoored models only);
- the scan's statistic from that family: each class's mean margin after 20 Adam steps (lr 0.01),
  the largest class's score against the others, as `verdict` computes it, and its class.
It prints a row per model and family and, per family, the AUROC of that score (backdoored
against clean) and the share of backdoored models whose largest class is the target; then, for
several sets of families, TPR and FPR of the verdict `auditor scan` would give looking from
them (`strongest`, alpha 0.05). Writes benchmarks/results/start-families.json; `--rows-from`
summarises earlier files instead. A diagnostic: its starts are shared by every class and drawn
apart from the scan's, so `benchmarks/detection.py` measures the shipped scan.

The zoo's backdoors target class 0 (T-shirt on Fashion-MNIST), where dark starts land on
several clean models too: a family drawn to class 0 could pass for a detector. The table's
"clean: class 0 largest" column shows whether it is; `--varied-targets` measures the models
whose targets rotate over classes 1-9 instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import zoo  # noqa: E402
from detection import auroc  # noqa: E402

from auditor.detection import ScanSettings, class_margin, search_from, strongest, verdict  # noqa: E402
from auditor.loading import Classifier, load_model  # noqa: E402

FAMILIES = ("noise", "dark", "grey", "smooth")
RULES = (("noise",), ("dark",), ("noise", "dark"), ("noise", "dark", "grey"),
         ("noise", "dark", "smooth"))
STARTS, STEPS, LR = 32, 20, 0.01


def starts(family: str, shape, generator: torch.Generator) -> torch.Tensor:
    c, h, w = shape
    noise = torch.rand(STARTS, c, h, w, generator=generator)
    if family == "noise":
        return noise
    if family == "dark":
        return 0.2 * noise
    if family == "grey":
        return 0.4 + 0.2 * noise
    coarse = torch.rand(STARTS, c, 4, 4, generator=generator)
    return nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)


def reached_margins(model, spec, images: torch.Tensor, k: int) -> float:
    """The mean margin of class k after STEPS Adam steps from `images`, as the scan takes them."""
    labels = torch.full((len(images),), k, dtype=torch.long)
    reached = search_from(model, spec, images, labels, ScanSettings(steps=STEPS, lr=LR))
    with torch.no_grad():
        return class_margin(model(spec.normalise(reached)), labels).mean().item()


def measure(name: str) -> dict:
    torch.set_num_threads(1)
    meta = json.loads((zoo.CACHE / name / "meta.json").read_text())
    loaded = load_model(meta["model"], mean=(zoo.MEAN,), std=(zoo.STD,))
    spec = loaded.spec
    model = Classifier(loaded.net, spec, loaded.output_index).eval().requires_grad_(False)
    generator = torch.Generator().manual_seed(0)
    target = meta.get("target", zoo.TARGET)
    row = {"name": name, "dataset": meta["dataset"], "arch": meta["arch"], "attack": meta["attack"],
           "target": target, "families": {}}
    for family in FAMILIES:
        images = starts(family, spec.shape, generator)
        with torch.no_grad():
            plain = model(spec.normalise(images)).argmax(1)
            fires = None
            if meta["attack"]:
                stamped = zoo.stamp(meta["attack"], images.permute(0, 2, 3, 1).numpy())
                fires = (model(spec.normalise(torch.from_numpy(stamped).permute(0, 3, 1, 2).float()))
                         .argmax(1) == target).float().mean().item()
        statistics = [reached_margins(model, spec, images, k) for k in range(spec.num_classes)]
        v = verdict(statistics, 0.05)
        row["families"][family] = {
            "plain": (torch.bincount(plain, minlength=spec.num_classes) / STARTS).tolist(),
            "fires": fires, "statistics": statistics, "score": v.scores[v.suspect],
            "largest_class": v.suspect}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    zoo.zoo_options(parser, "zoo seeds (default 0 1)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "start-families.json")
    parser.add_argument("--rows-from", type=Path, nargs="+",
                        help="summarise earlier runs' JSON instead of measuring (a model in several "
                             "files counts once)")
    args = parser.parse_args()
    if args.rows_from:
        summarise(zoo.rows_from(args.rows_from))
        return
    rows = measure_zoo(args)
    summary = summarise(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2) + "\n")
    print(f"written to {args.out}")


def measure_zoo(args) -> list[dict]:
    specs = zoo.chosen_specs(args, default_seeds=(0, 1))
    for spec in specs:
        zoo.build(spec)
    os.environ["OMP_NUM_THREADS"] = "1"
    rows = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for row in pool.map(measure, [s.name for s in specs]):
            rows.append(row)
            for family, f in row["families"].items():
                top = int(np.argmax(f["plain"]))
                fires = "—" if f["fires"] is None else f"{100 * f['fires']:.0f} %"
                print(f"{row['name']:34s} {family:6s} plain: class {top} {100 * f['plain'][top]:3.0f} %  "
                      f"trigger fires {fires:6s} largest class {f['largest_class']} "
                      f"score {f['score']:5.2f}", flush=True)
    return rows


def summarise(rows: list[dict]) -> dict:
    """Per family: the score's AUROC and where the target stands; per rule (`auditor scan`'s
    verdict over those kinds of start, `strongest`): TPR and FPR at alpha 0.05. Prints both."""
    summary = {}
    for family in FAMILIES:
        positives = [(r["families"][family], r.get("target", zoo.TARGET)) for r in rows if r["attack"]]
        negatives = [r["families"][family] for r in rows if not r["attack"]]
        summary[family] = {
            "auroc": auroc([f for f, _ in positives], negatives, score=lambda f: f["score"]),
            "target_largest": float(np.mean([f["largest_class"] == t for f, t in positives])),
            "clean_largest_is_class_0": float(np.mean([f["largest_class"] == 0 for f in negatives])),
            "fires_mean": float(np.mean([f["fires"] for f, _ in positives]))}
    print("\n| starts | AUROC of the score | backdoored: target largest | clean: class 0 largest "
          "| trigger fires (mean) |")
    print("|---|---|---|---|---|")
    for family, s in summary.items():
        print(f"| {family} | {s['auroc']:.3f} | {100 * s['target_largest']:.0f} % | "
              f"{100 * s['clean_largest_is_class_0']:.0f} % | {100 * s['fires_mean']:.0f} % |")
    print(f"\n| kinds of start, alpha 0.05 ({sum(bool(r['attack']) for r in rows)} backdoored + "
          f"{sum(not r['attack'] for r in rows)} clean) | TPR | FPR | AUROC of −log p |")
    print("|---|---|---|---|")
    for kinds in RULES:
        found = [(bool(r["attack"]), strongest({k: verdict(r["families"][k]["statistics"], 0.05)
                                                for k in kinds})) for r in rows]
        positives = [v for backdoored, v in found if backdoored]
        negatives = [v for backdoored, v in found if not backdoored]
        tpr, fpr = (float(np.mean([v.suspected for v in vs])) for vs in (positives, negatives))
        area = auroc(positives, negatives, score=lambda v: -np.log(v.p_value))
        summary["+".join(kinds)] = {"tpr": tpr, "fpr": fpr, "auroc": area}
        print(f"| {' + '.join(kinds)} | {100 * tpr:.0f} % | {100 * fpr:.0f} % | {area:.3f} |")
    return summary


if __name__ == "__main__":
    main()
