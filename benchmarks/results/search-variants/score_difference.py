"""A fifth look, derived: per class, the dark starts' standardised dense statistic minus the noise
starts' (chosen-2026-12-06-difference.txt; not adopted). Prints each rule on each file, the models
whose verdict the fifth look changes, and, with --simulate N, how often it flags null sets (ten
normal statistics a look, four looks sharing correlation rho, as simulate_null.py):

    python score_difference.py tuning.jsonl held-out.jsonl
    python score_difference.py --simulate 2000
"""
import argparse, json, sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from auditor.detection import strongest, verdict  # noqa: E402
from score import evaluate  # noqa: E402  (this folder's)

LOOKS = ("noise-adam0.01-20", "dark-adam0.01-20", "noise-l0k9-20", "dark-l0k9-20")


def standardised(values):
    values = np.asarray(values, dtype=np.float64)
    return (values - values.mean()) / values.std(ddof=1)


def with_differences(row):
    row = dict(row)
    dense = standardised(row["dark-adam0.01-20"]) - standardised(row["noise-adam0.01-20"])
    sparse = standardised(row["dark-l0k9-20"]) - standardised(row["noise-l0k9-20"])
    row["diff-dense"], row["diff-sparse"], row["diff-both"] = list(dense), list(sparse), list(dense + sparse)
    return row


RULES = {"the four looks (default)": LOOKS, "dense difference alone": ("diff-dense",),
         "sparse difference alone": ("diff-sparse",), "both summed, alone": ("diff-both",),
         "four + dense difference (the candidate)": LOOKS + ("diff-dense",),
         "four + both summed": LOOKS + ("diff-both",),
         "four + both differences as two looks": LOOKS + ("diff-dense", "diff-sparse")}


def simulate(sets):
    for rho in (0.0, 0.5, 0.9):
        rng, four, five = np.random.default_rng(7), 0, 0
        for _ in range(sets):
            shared = rng.normal(0, 1, 10)
            looks = [np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.normal(0, 1, 10) for _ in range(4)]
            verdicts = {i: verdict(v, 0.05) for i, v in enumerate(looks)}
            four += strongest(verdicts).suspected
            verdicts["d"] = verdict(standardised(looks[1]) - standardised(looks[0]), 0.05)
            five += strongest(verdicts).suspected
        print(f"rho {rho}: four looks {four / sets:.4f}, with the difference {five / sets:.4f} ({sets} sets)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*")
    parser.add_argument("--simulate", type=int, default=0)
    args = parser.parse_args()
    for name in args.files:
        rows = [with_differences(json.loads(line)) for line in open(name)]
        print(name)
        for rule, looks in RULES.items():
            print("  {:42s} TPR {:.2f}  FPR {:.2f}  AUROC {:.3f}  named {:.2f}".format(rule, *evaluate(rows, looks)))
        for r in rows:
            before = strongest({k: verdict(r[k], 0.05) for k in LOOKS})
            after = strongest({k: verdict(r[k], 0.05) for k in LOOKS + ("diff-dense",)})
            if before.suspected != after.suspected:
                print(f"  changed: {r['name']} p {before.p_value:.3f} -> {after.p_value:.3f}, "
                      f"class {before.suspect} -> {after.suspect}")
    if args.simulate:
        simulate(args.simulate)


if __name__ == "__main__":
    main()
