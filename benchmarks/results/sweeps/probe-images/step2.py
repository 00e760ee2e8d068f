"""Step 2's clauses (chosen-2026-12-06.txt) on two quality.py JSON files run alike, seeds 3-8.

    python step2.py DEFAULTS.json LEVER.json

(a) mean ACC over the backdoored runs at most 0.5 points lower; (b) mean ASR over them, less the
corner patch's seeds 4 and 5 (seen before the rule), at most 1 point higher; (c) the control's
mean drop at most 0.5 points more. Runs missing the issue's bar are printed, not decided on."""
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gratings"))
from tenth_look import clause, describe, load  # noqa: E402

SEEN = {("corner4", 4), ("corner4", 5)}


def unseen(path, runs):
    """The runs (in load()'s order) but the seen ones, each run's seed read from the file."""
    payload = json.loads(Path(path).read_text())
    seeds = [(row["attack"], run["seed"]) for row in payload["rows"] for run in row["auditor"]]
    return [run for run, key in zip(runs, seeds, strict=True) if key not in SEEN]


def main():
    (base, base_control), (lever, lever_control) = load(sys.argv[1]), load(sys.argv[2])
    describe("defaults", base, base_control)
    describe("probe_images 128", lever, lever_control)
    mean = lambda runs, i: statistics.mean(run[i] for run in runs)   # noqa: E731
    base_unseen, lever_unseen = unseen(sys.argv[1], base), unseen(sys.argv[2], lever)
    print(f"(b) on {len(base_unseen)} / {len(lever_unseen)} runs, the corner patch's seeds 4-5 left out")
    clause("(a) mean ACC lower", mean(base, 1) - mean(lever, 1), 0.5)
    clause("(b) mean ASR higher", mean(lever_unseen, 2) - mean(base_unseen, 2), 1)
    clause("(c) control mean drop more", statistics.mean(lever_control) - statistics.mean(base_control), 0.5)


if __name__ == "__main__":
    main()
