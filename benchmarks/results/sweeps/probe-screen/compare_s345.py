"""The bundled benchmark's seeds 3-5 with the probe screen beside the 128-image probe's runs of
the same seeds (reported, not decided on; chosen-2026-12-07-v3.txt's last lines).

    python compare_s345.py > compare-s345.txt
"""
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(RESULTS / "sweeps" / "gratings"))
from tenth_look import describe, load  # noqa: E402


def main():
    for name, path in (("128 probe images, seeds 3-5", "quality-seeds3-8-probe128.json"),
                       ("screen, seeds 3-5", "quality-seeds3-5-probe-screen32.json")):
        runs, control = load(RESULTS / path, seeds={3, 4, 5})
        describe(name, runs, control)


if __name__ == "__main__":
    main()
