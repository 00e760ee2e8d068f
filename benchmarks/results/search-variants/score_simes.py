"""The looks combined class by class (Simes' test, auditor.detection.strongest since 2026-12-05)
against the single smallest p-value Šidák-corrected for the looks (the rule before), on the
stored per-look statistics of searchvar.py (chosen-2026-12-05-simes.txt):

    python score_simes.py tuning.jsonl held-out.jsonl
"""
import dataclasses, json, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from auditor.detection import strongest, verdict  # noqa: E402
from score import evaluate  # noqa: E402  (this folder's)

LOOKS = ("noise-adam0.01-20", "dark-adam0.01-20", "noise-l0k9-20", "dark-l0k9-20")


def sidak(verdicts):
    best = min(verdicts.values(), key=lambda v: v.p_value)
    p = 1 - (1 - best.p_value) ** len(verdicts)
    return dataclasses.replace(best, p_value=p, suspected=p < best.alpha, looked=len(verdicts))


def main():
    sets = {name: [json.loads(line) for line in open(name)] for name in sys.argv[1:]}
    every = [r for rows in sets.values() for r in rows]
    sets.update({"all": every, "digits": [r for r in every if r["name"].startswith("digits")],
                 "fashion": [r for r in every if r["name"].startswith("fashion")]})
    for name, rows in sets.items():
        old, new = evaluate(rows, LOOKS, sidak), evaluate(rows, LOOKS, strongest)
        print(f"{name:16s} {sum(r['backdoored'] for r in rows)} + {sum(not r['backdoored'] for r in rows)}"
              "  TPR {:.2f} -> {:.2f}  FPR {:.2f} -> {:.2f}  AUROC {:.3f} -> {:.3f}  named {:.2f} -> {:.2f}"
              .format(*(x for pair in zip(old, new) for x in pair)))
    for r in every:
        before = sidak({k: verdict(r[k], 0.05) for k in LOOKS})
        after = strongest({k: verdict(r[k], 0.05) for k in LOOKS})
        if after.suspected != before.suspected:
            print(f"changed: {r['name']} p {before.p_value:.3f} -> {after.p_value:.3f}, class {after.suspect}")

if __name__ == "__main__":
    main()
