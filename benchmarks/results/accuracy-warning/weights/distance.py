"""How far a clean moved the weights, against the accuracy it cost (chosen-2026-12-07.txt).

    python benchmarks/results/accuracy-warning/weights/distance.py > rows.jsonl 2> table.txt
    python benchmarks/results/accuracy-warning/weights/distance.py --confirm \
        benchmarks/results/accuracy-warning/weights/confirm-*.json > confirm-rows.jsonl 2> confirm.txt

Run from the repository root. --confirm: the rule's confirmation step, fresh cleans kept in
benchmarks/out/weights-keep, against the tau of the rule's tuning-good pairs. The pairs are the cleans kept on this checkout (benchmarks/out),
their ACC from the quality runs the rule names. No image is read: the statistic is the weights'.
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

HERE = Path(__file__).resolve().parent
SWEEPS = HERE.parents[1] / "sweeps"
OUT = HERE.parents[2] / "out"


def kernels(path) -> dict[str, np.ndarray]:
    graph = onnx.load(str(path), load_external_data=False).graph
    return {t.name: numpy_helper.to_array(t).astype(np.float64)
            for t in graph.initializer if len(t.dims) >= 2}


def distances(original, cleaned) -> dict[str, float]:
    before, after = kernels(original), kernels(cleaned)
    shared = [n for n in before if n in after and before[n].shape == after[n].shape]
    moved = [np.linalg.norm(after[n] - before[n]) for n in shared]
    sizes = [np.linalg.norm(before[n]) for n in shared]
    return {"global": float(np.sqrt(np.sum(np.square(moved))) / np.sqrt(np.sum(np.square(sizes)))),
            "layer_mean": float(np.mean([m / s for m, s in zip(moved, sizes) if s > 0])),
            "tensors": len(shared)}


def bundled_pairs():
    """q-ru-base: every attack's auditor runs (seeds 0-2) and its --reg-weight 0 run."""
    base = json.load(open(SWEEPS / "runners-up" / "quality-base.json"))
    for row in base["rows"] + [base["control"]]:
        attack, before = row["attack"], row["backdoored"]["acc"]
        runs = [(f"auditor-{r['seed']}", r) for r in row["auditor"]]
        if row.get("no_regulariser"):
            runs.append(("no_regulariser-0", row["no_regulariser"]))
        for name, run in runs:
            yield (f"q-ru-base/{attack}-{name}", "tuning", OUT / "q-ru-base" / f"{attack}.onnx",
                   OUT / "q-ru-base" / f"{attack}-{name}.onnx", before, run["acc"])


def zoo_pairs(runs=None):
    """The digits and Fashion-MNIST cleans kept by the clear-stop and scan-suspect runs, or
    those of the quality_zoo.py runs given (kept in weights-keep)."""
    if runs is None:
        runs = [(p, OUT / "clear-keep") for p in sorted((SWEEPS / "clear-stop").glob("zoo-clear-*.json"))]
        runs += [(p, OUT / "sus-keep") for p in sorted((SWEEPS / "scan-suspect").glob("zoo-sus-*.json"))]
    for path, keep in runs:
        for row in json.load(open(path))["rows"]:
            cleaned = keep / f"{row['name']}.onnx"
            if cleaned.exists() and row["after"].get("acc") is not None:
                split = "tuning" if row["dataset"] == "digits" else "held-out"
                yield (row["name"], split, Path(row["model"]), cleaned,
                       row["before"]["acc"], row["after"]["acc"])


def measured(pairs) -> list[dict]:
    rows = []
    for name, split, original, cleaned, before, after in pairs:
        drop = round(100 * (before - after), 2)   # 2.0000000000000018 is a drop of 2
        row = {"name": name, "split": split, "acc_before": before, "acc_after": after,
               "acc_drop": drop,
               "kind": "good" if drop <= 2 else "bad" if drop >= 5 else "between",
               **distances(original, cleaned)}
        rows.append(row)
    return rows


def main():
    rows = measured(list(bundled_pairs()) + list(zoo_pairs()))
    if sys.argv[1:2] == ["--confirm"]:
        fresh = measured(zoo_pairs([(Path(p), OUT / "weights-keep") for p in sys.argv[2:]]))
        for row in fresh:
            print(json.dumps(row))
        confirm(rows, fresh)
        return
    for row in rows:
        print(json.dumps(row))
    decide(rows)


def confirm(rows, fresh):
    """Every fresh clean against tau(W1); the warning ships only if no good one is above it."""
    log = sys.stderr
    tau = max(r["global"] for r in rows if r["split"] == "tuning" and r["kind"] == "good")
    print(f"tau(global) {tau:.4f}", file=log)
    for r in fresh:
        print(f"{r['name']:42s} {r['kind']:7s} {r['acc_drop']:6.2f} {r['global']:7.4f} "
              f"{'above' if r['global'] > tau else 'below'}", file=log)
    good_above = [r["name"] for r in fresh if r["kind"] == "good" and r["global"] > tau]
    print(f"fresh good cleans above tau: {good_above}; "
          f"{'the warning ships' if not good_above else 'the warning is not added'}", file=log)


def decide(rows):
    log = sys.stderr
    print(f"{'pair':42s} {'split':8s} {'kind':7s} {'drop':>6s} {'global':>7s} {'layer mean':>10s}", file=log)
    for r in sorted(rows, key=lambda r: (r["split"] != "tuning", r["name"])):
        print(f"{r['name']:42s} {r['split']:8s} {r['kind']:7s} {r['acc_drop']:6.2f} "
              f"{r['global']:7.4f} {r['layer_mean']:10.4f}", file=log)
    for stat in ("global", "layer_mean"):
        good = [r for r in rows if r["split"] == "tuning" and r["kind"] == "good"]
        tau = max(r[stat] for r in good)
        held = [r for r in rows if r["split"] == "held-out"]
        bad_above = [r["name"] for r in held if r["kind"] == "bad" and r[stat] > tau]
        good_above = [r["name"] for r in held if r["kind"] == "good" and r[stat] > tau]
        passes = len(bad_above) >= 2 and not good_above
        print(f"\n{stat}: tau {tau:.4f} over {len(good)} tuning-good pairs; held-out bad above: "
              f"{len(bad_above)} of {sum(r['kind'] == 'bad' for r in held)} {bad_above}; held-out "
              f"good above: {good_above}; {'PASSES' if passes else 'FAILS'}", file=log)


if __name__ == "__main__":
    main()
