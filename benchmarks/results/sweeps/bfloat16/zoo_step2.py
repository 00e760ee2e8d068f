"""Step 2's clauses (chosen-2026-12-07.txt): zoo rows cleaned with bfloat16 passes against the
float32 rows of the same model files.

    python zoo_step2.py LEVER.json [LEVER.json ...]

(e) backdoored rows meeting the bar not fewer; (f) mean ASR over the backdoored tuning rows at
most 5 points higher; (g) the same over the held-out rows; (h) mean ACC drop over all rows at
most 1 point more. A row missing from either side is listed and left out of every clause."""
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gratings"))
from tenth_look import clause  # noqa: E402

RESULTS = Path(__file__).resolve().parents[2]
FLOAT32 = [RESULTS / "residual-transplant" / "quality-zoo-kept.json",
           RESULTS / "quality-zoo-fashion-heldout-2026-12-07.json",
           RESULTS / "quality-zoo-fashion-controls-2026-12-07.json"]


def rows(paths):
    return {row["name"]: row for path in paths for row in json.loads(Path(path).read_text())["rows"]}


def print_pairs(base, lever, names, labels):
    """Each row's ACC / ASR after, one side against the other; * where a row meets the bar."""
    print(f"{'row':36} {'split':9} {'ACC before':>10} {labels[0]:>16} {labels[1]:>17}")
    for name in names:
        b, l = base[name], lever[name]
        print(f"{name:36} {b['split']:9} {100 * b['before']['acc']:10.1f} "
              f"{100 * b['after']['acc']:7.1f}/{b['asr_after'] or 0:6.1f}{'*' if b['meets_bar'] else ' '} "
              f"{100 * l['after']['acc']:8.1f}/{l['asr_after'] or 0:6.1f}{'*' if l['meets_bar'] else ' '}")
    print("* meets the bar")


def main():
    base, lever = rows(FLOAT32), rows(sys.argv[1:])
    names = sorted(set(base) & set(lever))
    for name in sorted(set(base) ^ set(lever)):
        print(f"only on one side, left out: {name}")
    print_pairs(base, lever, names, ("float32 ACC/ASR", "bfloat16 ACC/ASR"))
    backdoored = [n for n in names if base[n]["attack"] not in (None, "none")]
    meets = [sum(side[n]["meets_bar"] for n in backdoored) for side in (base, lever)]
    print(f"backdoored rows meeting the bar: float32 {meets[0]}, bfloat16 {meets[1]} of {len(backdoored)}")
    clause("(e) fewer rows meeting the bar", meets[0] - meets[1], 0)
    for label, split in (("(f) tuning", "tuning"), ("(g) held-out", "held-out")):
        chosen = [n for n in backdoored if base[n]["split"] == split]
        asr = [statistics.mean(side[n]["asr_after"] for n in chosen) for side in (base, lever)]
        print(f"{split}: {len(chosen)} rows, mean ASR float32 {asr[0]:.2f}, bfloat16 {asr[1]:.2f}")
        clause(f"{label} mean ASR higher", asr[1] - asr[0], 5)
    drop = [statistics.mean(side[n]["acc_drop"] for n in names) for side in (base, lever)]
    print(f"all {len(names)} rows: mean ACC drop float32 {drop[0]:.2f}, bfloat16 {drop[1]:.2f}")
    clause("(h) mean ACC drop more", drop[1] - drop[0], 1)


if __name__ == "__main__":
    main()
