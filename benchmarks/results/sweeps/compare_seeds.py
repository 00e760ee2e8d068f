"""A lever's runs beside the defaults', row by row and recipe seed by seed (sweep.py JSON files).

    python benchmarks/results/sweeps/compare_seeds.py \
        --defaults jitter/sweep/fixed-build-defaults-a.json ... --lever lambda1/sweep/lambda1-a.json ...

Paths are relative to this folder. Prints ACC / ASR per seed, each row's means, and the mean ASR
over every backdoored run (a row named *-clean-* or the bundled "none" is a control). Both sides
are read only where the same (row, seed) pair exists on the other, so a half-finished sweep
compares like with like; the count of pairs is printed."""
import argparse
import json
import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parent


def runs(files):
    table = {}
    for name in files:
        for run in json.loads((HERE / name).read_text())["runs"]:
            table[(run["attack"], run["seed"])] = (100 * run["after"]["acc"], 100 * run["after"]["asr"],
                                                  run["before"]["acc"] * 100)
    return table


def is_control(row):
    return "-clean-" in row or row == "none"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--defaults", nargs="+", required=True)
    parser.add_argument("--lever", nargs="+", required=True)
    args = parser.parse_args()
    base, lever = runs(args.defaults), runs(args.lever)
    pairs = sorted(set(base) & set(lever))
    print(f"{len(pairs)} (row, seed) pairs on both sides")
    print("row | teacher ACC | defaults ACC/ASR by seed | lever ACC/ASR by seed | mean ACC, defaults -> lever | mean ASR")
    for row in sorted({r for r, _ in pairs}):
        seeds = [s for r, s in pairs if r == row]
        cells = lambda t: " ".join(f"{t[(row, s)][0]:.1f}/{t[(row, s)][1]:.1f}" for s in seeds)  # noqa: E731
        mean = lambda t, i: statistics.mean(t[(row, s)][i] for s in seeds)  # noqa: E731
        print(f"{row} (seeds {seeds}) | {base[(row, seeds[0])][2]:.1f} | {cells(base)} | {cells(lever)} | "
              f"{mean(base, 0):.2f} -> {mean(lever, 0):.2f} | {mean(base, 1):.1f} -> {mean(lever, 1):.1f}")
    backdoored = [p for p in pairs if not is_control(p[0])]
    if backdoored:
        # two decimals: rules ask for a gain of so many points, and a verdict can hang on a tenth
        before, after = (statistics.mean(t[p][1] for p in backdoored) for t in (base, lever))
        print(f"mean ASR over {len(backdoored)} backdoored runs: {before:.2f} -> {after:.2f} "
              f"(gain {before - after:.2f} points)")


if __name__ == "__main__":
    main()
