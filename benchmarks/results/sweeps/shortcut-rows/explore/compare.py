"""The exploration's arms side by side: each row's ACC / ASR after, from oracle_trigger.py's
JSON files named ROW-ARM.json, and per arm its means against the baseline arm over the rows
both have.

    python compare.py DIR BASE_ARM ARM [...] > compare.txt"""
import json
import statistics
import sys
from pathlib import Path


def figures(folder: Path, row: str, arm: str):
    """(ACC before, ACC after, ASR after) in %, or None where the arm did not run the row."""
    path = folder / f"{row}-{arm}.json"
    if not path.exists():
        return None
    run = json.loads(path.read_text())
    return 100 * run["before"]["acc"], 100 * run["after"]["acc"], 100 * (run["after"]["asr"] or 0)


def within_bar(row) -> bool:
    return row[2] <= 5 and row[0] - row[1] <= 2


def main():
    folder, base_arm, arms = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    rows = sorted(p.name[:-len(f"-{base_arm}.json")] for p in folder.glob(f"*-{base_arm}.json"))
    print(f"{'row':30} {'before':>6} {base_arm:>14} " + " ".join(f"{a:>14}" for a in arms))
    for row in rows:
        base, cells = figures(folder, row, base_arm), [figures(folder, row, a) for a in arms]
        print(f"{row:30} {base[0]:6.1f} {base[1]:6.1f}/{base[2]:6.1f} "
              + " ".join(f"{c[1]:6.1f}/{c[2]:6.1f}" if c else f"{'-':>14}" for c in cells))
    for arm in arms:
        common = [r for r in rows if figures(folder, r, arm)]
        if not common:
            continue
        base = [figures(folder, r, base_arm) for r in common]
        lever = [figures(folder, r, arm) for r in common]
        asr = [statistics.mean(x[2] for x in side) for side in (base, lever)]
        drop = [statistics.mean(x[0] - x[1] for x in side) for side in (base, lever)]
        print(f"{arm}: {len(common)} rows; mean ASR {asr[0]:.2f} -> {asr[1]:.2f}; "
              f"mean ACC drop {drop[0]:.2f} -> {drop[1]:.2f}; "
              f"within bar {sum(map(within_bar, base))} -> {sum(map(within_bar, lever))}; "
              f"ASR lower on {sum(y[2] < x[2] for x, y in zip(base, lever))}, "
              f"higher on {sum(y[2] > x[2] for x, y in zip(base, lever))}")


if __name__ == "__main__":
    main()
