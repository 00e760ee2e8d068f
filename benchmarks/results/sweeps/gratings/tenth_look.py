"""The tenth look's clauses (chosen-2026-12-06.txt), on two quality.py JSON files run alike.

    python tenth_look.py DEFAULTS.json LEVER.json

Decides on means over the backdoored runs: (a) ACC at most 0.5 points lower, (b) ASR at most 1
point higher, (c) the control's mean drop at most 0.5 points more. The runs missing the issue's
bar (drop > 2 or ASR > 5) are printed, not decided on."""
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from quality import _drops  # noqa: E402


def load(path, seeds=None):
    """Each backdoored run as (attack, ACC, ASR, drop), in %, and the control's drops; only the
    runs of `seeds` when given."""
    payload = json.loads(Path(path).read_text())
    kept = lambda row: [(run, drop) for run, drop in zip(row["auditor"], _drops(row))   # noqa: E731
                        if seeds is None or run["seed"] in seeds]
    runs = [(row["attack"], 100 * run["acc"], 100 * (run["asr"] or 0), drop)
            for row in payload["rows"] for run, drop in kept(row)]
    return runs, [drop for _, drop in kept(payload["control"])]


def describe(name, runs, control):
    acc, asr, drop = ([run[i] for run in runs] for i in (1, 2, 3))
    misses = sum(d > 2 or a > 5 for d, a in zip(drop, asr))
    print(f"{name}: mean ACC {statistics.mean(acc):.3f}, mean drop {statistics.mean(drop):.3f}, "
          f"mean ASR {statistics.mean(asr):.3f}, worst drop {max(drop):.1f}, worst ASR {max(asr):.1f}, "
          f"bar misses {misses}, control mean drop {statistics.mean(control):.3f} (worst {max(control):.1f})")
    for attack in sorted({run[0] for run in runs}):
        print("   ", attack, " ".join(f"{a:.1f}/{s:.1f}" for row, a, s, _ in runs if row == attack))


def described_pair(base_path, lever_path, lever_name):
    """Both files' runs, printed as describe() prints them: (defaults, their control's drops,
    the lever's, its control's drops)."""
    (base, base_control), (lever, lever_control) = load(base_path), load(lever_path)
    print(f"{len(base)} / {len(lever)} backdoored runs")
    describe("defaults", base, base_control)
    describe(lever_name, lever, lever_control)
    return base, base_control, lever, lever_control


def mean(runs, i):
    return statistics.mean(run[i] for run in runs)


def clause(label, excess, limit):
    print(f"{label} by {excess:.3f} (<= {limit:g}): {'passes' if excess <= limit else 'FAILS'}")


def main():
    base, base_control, lever, lever_control = described_pair(sys.argv[1], sys.argv[2], "grating_rows 24")
    clause("(a) mean ACC lower", mean(base, 1) - mean(lever, 1), 0.5)
    clause("(b) mean ASR higher", mean(lever, 2) - mean(base, 2), 1)
    clause("(c) control mean drop more", statistics.mean(lever_control) - statistics.mean(base_control), 0.5)


if __name__ == "__main__":
    main()
