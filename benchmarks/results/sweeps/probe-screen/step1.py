"""Step 1's clauses (chosen-2026-12-07.txt) on two quality.py JSON files run alike, seeds 0-2.

    python step1.py DEFAULTS.json LEVER.json [LEVER_NAME]

(a) mean ACC over the backdoored runs at most 0.3 points lower; (b) mean ASR over them at most
0.5 points higher; (c) no ASR above 5 %; (d) the control's mean drop at most 0.3 points more.
Runs missing the issue's bar are printed, not decided on."""
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gratings"))
from tenth_look import clause, described_pair, mean  # noqa: E402


def main():
    base, base_control, lever, lever_control = described_pair(sys.argv[1], sys.argv[2],
                                                                 (sys.argv[3:] or ["probe_screen_images 32"])[0])
    clause("(a) mean ACC lower", mean(base, 1) - mean(lever, 1), 0.3)
    clause("(b) mean ASR higher", mean(lever, 2) - mean(base, 2), 0.5)
    clause("(c) worst ASR above 5", max(run[2] for run in lever) - 5, 0)
    clause("(d) control mean drop more", statistics.mean(lever_control) - statistics.mean(base_control), 0.3)


if __name__ == "__main__":
    main()
