"""Steps 2 and 3 of chosen-2026-12-07.txt: zoo rows at the defaults against the same model files
cleaned with --spare-runners-up 2, both run this session.

    python compare_zoo.py STEP BASE.json [...] -- LEVER.json [...]

STEP 2 (tuning rows): (e) backdoored rows meeting the bar not fewer; (f) mean ASR over the
backdoored rows at most 5 points higher; (h) mean ACC drop over all rows at most 0.5 more.
STEP 2b (the second look, backdoored rows of seeds 0-2 only): (e2) rows meeting the bar not
fewer; (f2) mean ASR at most 2 points higher; (h2) mean ACC drop at most 0.3 more.
STEP 3 (held-out rows): (g) mean ASR over the backdoored rows at most 5 points higher; (i) mean
ACC drop over all rows not higher. A row on one side only is listed and left out."""
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gratings"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bfloat16"))
from tenth_look import clause  # noqa: E402
from zoo_step2 import print_pairs  # noqa: E402


def rows(paths):
    return {row["name"]: row for path in paths for row in json.loads(Path(path).read_text())["rows"]
            if row.get("after") and not row["after"].get("exit")}


def sides(paths, lever_label, backdoored_only=False):
    """The rows of the files before and after "--", printed side by side: (base, lever, the
    names on both sides, those of backdoored models, their mean ASR and everyone's mean ACC
    drop, each a (base, lever) pair)."""
    cut = paths.index("--")
    base, lever = rows(paths[:cut]), rows(paths[cut + 1:])
    names = sorted(set(base) & set(lever))
    if backdoored_only:
        names = [n for n in names if base[n]["attack"] not in (None, "none")]
    for name in sorted(set(base) ^ set(lever)):
        print(f"only on one side, left out: {name}")
    print_pairs(base, lever, names, ("defaults ACC/ASR", lever_label))
    backdoored = [n for n in names if base[n]["attack"] not in (None, "none")]
    asr = [statistics.mean(side[n]["asr_after"] for n in backdoored) for side in (base, lever)]
    drop = [statistics.mean(side[n]["acc_drop"] for n in names) for side in (base, lever)]
    return base, lever, names, backdoored, asr, drop


def main():
    step, paths = sys.argv[1], sys.argv[2:]
    base, lever, names, backdoored, asr, drop = sides(paths, "k = 2 ACC/ASR", step == "2b")
    print(f"{len(backdoored)} backdoored rows: mean ASR {asr[0]:.2f} -> {asr[1]:.2f}; "
          f"{len(names)} rows: mean ACC drop {drop[0]:.2f} -> {drop[1]:.2f}")
    if step in ("2", "2b"):
        meets = [sum(side[n]["meets_bar"] for n in backdoored) for side in (base, lever)]
        print(f"backdoored rows meeting the bar: {meets[0]} -> {meets[1]} of {len(backdoored)}")
        second = step == "2b"
        clause("(e2) fewer rows meeting the bar" if second else "(e) fewer rows meeting the bar",
               meets[0] - meets[1], 0)
        clause("(f2) mean ASR higher" if second else "(f) mean ASR higher", asr[1] - asr[0],
               2 if second else 5)
        clause("(h2) mean ACC drop more" if second else "(h) mean ACC drop more",
               drop[1] - drop[0], 0.3 if second else 0.5)
    else:
        clause("(g) mean ASR higher", asr[1] - asr[0], 5)
        clause("(i) mean ACC drop higher", drop[1] - drop[0], 0)


if __name__ == "__main__":
    main()
