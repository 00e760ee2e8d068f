"""The defaults' 18 digits tuning rows at several recipe seeds: each row's ACC / ASR after, the
18-row means per seed, and their spread (plan-2026-12-08.txt).

    python spread.py > spread.txt
    python spread.py --arm warpkeep DIR:SEED [DIR:SEED ...] > compare.txt

With --arm, an arm's runs (DIR/ROW-ARM.json at each recipe seed) beside the defaults': each
row's mean over the arm's seeds against its mean over the defaults', and the 18-row means.
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


def compare_arm(arm: str, folders: dict, defaults: dict) -> None:
    runs = {seed: {row: figures(folder, row, arm) for row in ROWS} for seed, folder in folders.items()}
    missing = [f"{row} seed {s}" for s in runs for row in ROWS if not runs[s][row]]
    if missing:
        sys.exit(f"no run: {', '.join(missing)}")

    def means(side, row):   # mean ACC drop, mean ASR over a side's seeds
        cells = [side[s][row] for s in side]
        return statistics.mean(c[0] - c[1] for c in cells), statistics.mean(c[2] for c in cells)

    print(f"{arm} at seeds {list(runs)} against the defaults at seeds {list(defaults)}: "
          "mean ACC drop / mean ASR, in points and %")
    rows = {row: (means(defaults, row), means(runs, row)) for row in sorted(ROWS)}
    for row, (d, a) in rows.items():
        print(f"{row:30s} {d[0]:5.2f} / {d[1]:5.1f}   {a[0]:5.2f} / {a[1]:5.1f}   "
              f"ASR {a[1] - d[1]:+6.1f}  ACC drop {a[0] - d[0]:+5.2f}")
    d, a = ([statistics.mean(v[i][k] for v in rows.values()) for k in (0, 1)] for i in (0, 1))
    print(f"18-row means: ACC drop {d[0]:.2f} -> {a[0]:.2f} ({a[0] - d[0]:+.2f}); "
          f"ASR {d[1]:.2f} -> {a[1]:.2f} ({a[1] - d[1]:+.2f})")
    print(f"largest row rise: ASR {max(v[1][1] - v[0][1] for v in rows.values()):+.1f}, "
          f"ACC drop {max(v[1][0] - v[0][0] for v in rows.values()):+.2f}")


def main():
    runs = {seed: {row: figures(folder, row, "search") for row in ROWS} for seed, folder in FOLDERS.items()}
    if sys.argv[1:2] == ["--arm"]:
        folders = {int(seed): Path(folder) for folder, seed in (a.rsplit(":", 1) for a in sys.argv[3:])}
        return compare_arm(sys.argv[2], folders, runs)
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
