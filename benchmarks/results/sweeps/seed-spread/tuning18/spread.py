"""The defaults' 18 digits tuning rows at several recipe seeds: each row's ACC / ASR after, the
18-row means per seed, and their spread (plan-2026-12-08.txt).

    python spread.py > spread.txt
"""
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SWEEPS = HERE.parents[1]
sys.path.insert(0, str(SWEEPS / "shortcut-rows" / "explore"))
from compare import figures, within_bar  # noqa: E402  (ACC before, ACC after, ASR after, in %)

FOLDERS = {0: SWEEPS / "shortcut-rows" / "explore", 3: SWEEPS / "warp-family" / "seed3",
           4: HERE / "seed4", 5: HERE / "seed5"}
ROWS = [f"digits-{a}-{k}-s{s}" for s in (0, 1, 2) for a in ("vgg-bn", "resnet")
        for k in ("patch-mid", "blend20", "sig")]


def main():
    runs = {seed: {row: figures(folder, row, "search") for row in ROWS} for seed, folder in FOLDERS.items()}
    seeds = [s for s in FOLDERS if all(runs[s].values())]
    print(f"{'row':30s} " + " ".join(f"{'seed ' + str(s):>13s}" for s in seeds) + "  ASR sd")
    for row in sorted(ROWS):
        cells = [runs[s][row] for s in seeds]
        print(f"{row:30s} " + " ".join(f"{c[1]:5.1f}/{c[2]:5.1f}  " for c in cells)
              + f"  {statistics.stdev(c[2] for c in cells):5.1f}")
    means = {s: statistics.mean(c[2] for c in runs[s].values()) for s in seeds}
    for s in seeds:
        cells = list(runs[s].values())
        print(f"seed {s}: mean ASR {means[s]:.2f}; mean ACC drop {statistics.mean(c[0] - c[1] for c in cells):.2f}; "
              f"within the bar {sum(map(within_bar, cells))}")
    sd = statistics.stdev(means.values())
    row_sd = statistics.mean(statistics.stdev(runs[s][r][2] for s in seeds) for r in ROWS)
    print(f"18-row mean ASR over seeds {seeds}: range {min(means.values()):.2f}-{max(means.values()):.2f}, "
          f"sd {sd:.2f}; so a difference of two such means has an sd of about {sd * 2 ** 0.5:.2f}")
    print(f"each row's ASR sd over those seeds, averaged over the rows: {row_sd:.2f} "
          f"(independent rows would give the mean an sd of {row_sd / len(ROWS) ** 0.5:.2f})")


if __name__ == "__main__":
    main()
