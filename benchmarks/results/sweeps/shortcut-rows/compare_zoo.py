"""Steps 2 and 3 of chosen-2026-12-07.txt: zoo rows at the defaults (the runners-up rule's
baseline files) against the same model files cleaned with --shortcut-rows 24.

    python compare_zoo.py STEP BASE.json [...] -- LEVER.json [...]

STEP 2 (tuning rows): (e) backdoored rows meeting the bar not fewer; (f) mean ASR over the
backdoored rows at least 2 points lower; (h) mean ACC drop over all rows at most 0.5 more; (j)
no row's ACC drop more than 2 points above its defaults'.
STEP 3 (held-out rows): (g) mean ASR over the backdoored rows at most 5 points higher; (i) mean
ACC drop over all rows at most 1 point more. A row on one side only is listed and left out."""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "runners-up"), str(HERE.parent / "gratings"), str(HERE.parent / "bfloat16")]
from compare_zoo import sides  # noqa: E402  (the runners-up rule's reader)
from tenth_look import clause  # noqa: E402


def main():
    step, paths = sys.argv[1], sys.argv[2:]
    base, lever, names, backdoored, asr, drop = sides(paths, "24 rows ACC/ASR")
    lower = sum(lever[n]["asr_after"] < base[n]["asr_after"] for n in backdoored)
    higher = sum(lever[n]["asr_after"] > base[n]["asr_after"] for n in backdoored)
    print(f"{len(backdoored)} backdoored rows: mean ASR {asr[0]:.2f} -> {asr[1]:.2f} (lower on {lower}, "
          f"higher on {higher}); {len(names)} rows: mean ACC drop {drop[0]:.2f} -> {drop[1]:.2f}")
    if step == "2":
        meets = [sum(side[n]["meets_bar"] for n in backdoored) for side in (base, lever)]
        print(f"backdoored rows meeting the bar: {meets[0]} -> {meets[1]} of {len(backdoored)}")
        clause("(e) fewer rows meeting the bar", meets[0] - meets[1], 0)
        print(f"(f) mean ASR lower by {asr[0] - asr[1]:.3f} (>= 2): "
              f"{'passes' if asr[0] - asr[1] >= 2 else 'FAILS'}")
        clause("(h) mean ACC drop more", drop[1] - drop[0], 0.5)
        worst = max(names, key=lambda n: lever[n]["acc_drop"] - base[n]["acc_drop"])
        clause(f"(j) a row's ACC drop above its defaults' ({worst})",
               lever[worst]["acc_drop"] - base[worst]["acc_drop"], 2)
    else:
        clause("(g) mean ASR higher", asr[1] - asr[0], 5)
        clause("(i) mean ACC drop more", drop[1] - drop[0], 1)


if __name__ == "__main__":
    main()
