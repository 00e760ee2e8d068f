"""Score statistics read at the scan's starting images (start_margins.py's rows, merged by name
with searchvar.py's): the margin at the starts alone, as an extra look, and the 'rise', each
look's per-class mean margin minus its family's mean margin at the starts (step 0).

    python score_start.py tuning.jsonl tuning-start.jsonl      (then held-out*.jsonl)

Kept as it ran, 2026-11-29 (late): the rule named in chosen-2026-11-29-start.txt was picked
from its output on the tuning rows before it was run on the held-out ones."""
import json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from score import evaluate

def load(files):
    rows = {}
    for f in files:
        for line in open(f):
            r = json.loads(line); rows.setdefault(r["name"], {}).update(r)
    for r in rows.values():
        for k in list(r):
            fam = k.split("-")[0]
            if fam in ("dark", "noise") and k != f"{fam}-start" and f"{fam}-start" in r:
                r[k + "-rise"] = [a - b for a, b in zip(r[k], r[f"{fam}-start"])]
    return list(rows.values())

FOUR = ("noise-adam0.01-20", "dark-adam0.01-20", "noise-l0k9-20", "dark-l0k9-20")
RULES = {"all four (default)": FOUR,
         "all four, rise": tuple(k + "-rise" for k in FOUR),
         "dense rise + sparse raw": ("noise-adam0.01-20-rise", "dark-adam0.01-20-rise", "noise-l0k9-20", "dark-l0k9-20"),
         "start alone (noise, dark)": ("noise-start", "dark-start")}

if __name__ == "__main__":
    rows = load(sys.argv[1:])
    print(len(rows), "models,", sum(r["backdoored"] for r in rows), "backdoored")
    for name, looks in RULES.items():
        print("{:28s} TPR {:.2f}  FPR {:.2f}  AUROC {:.3f}  named {:.2f}".format(name, *evaluate(rows, looks)))
    for look in FOUR + ("noise-start", "dark-start"):
        for k in (look, look + "-rise"):
            if k in rows[0]:
                print("  {:28s} TPR {:.2f}  FPR {:.2f}  AUROC {:.3f}  named {:.2f}".format(k, *evaluate(rows, (k,))))
    for name, looks in {"six: four + both starts": FOUR + ("noise-start", "dark-start"),
                        "four + dark start": FOUR + ("dark-start",),
                        "four + noise start": FOUR + ("noise-start",)}.items():
        print("{:28s} TPR {:.2f}  FPR {:.2f}  AUROC {:.3f}  named {:.2f}".format(name, *evaluate(rows, looks)))
