"""The frozen-first-layer exploration beside the defaults' in-process runs (oracle_trigger.py
--search-anchor): the digits rows' defaults are the shortcut-rows exploration's "search" arm, the
Fashion-MNIST rows' were run here; the bundled rows through the CLI (bundled_dose.py) beside
runners-up/quality-base.json, the defaults' run of the same files.

    python compare_frozen.py > compare.txt"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "shortcut-rows" / "explore"))
from compare import figures  # noqa: E402  (ACC before, ACC after, ASR after, in %)

ROWS = {"digits-resnet-blend20-s2": HERE.parent / "shortcut-rows" / "explore",
        "digits-resnet-patch-mid-s2": HERE.parent / "shortcut-rows" / "explore",
        "digits-resnet-sig-s0": HERE.parent / "shortcut-rows" / "explore",
        "fashion-resnet-clean-s0": HERE / "explore", "fashion-resnet-warp-s0": HERE / "explore"}


def main():
    print(f"{'row':28s} {'before':>6s} {'defaults':>14s} {'first layer frozen':>20s}")
    for row, base in ROWS.items():
        b, f = figures(base, row, "search"), figures(HERE / "explore", row, "frozen1")
        print(f"{row:28s} {b[0]:6.1f} {b[1]:6.1f}/{b[2]:6.1f} {f[1]:12.1f}/{f[2]:6.1f}")
    base = json.load(open(HERE.parent / "runners-up" / "quality-base.json"))["rows"]
    for line in open(HERE / "explore" / "bundled.jsonl"):
        run = json.loads(line)
        row = next(r for r in base if r["attack"] == run["attack"])
        d = next(a for a in row["auditor"] if a["seed"] == run["seed"])
        print(f"{'bundled ' + run['attack'] + ' s' + str(run['seed']):28s} {100 * row['backdoored']['acc']:6.1f} "
              f"{100 * d['acc']:6.1f}/{100 * d['asr']:6.1f} {100 * run['acc']:12.1f}/{100 * run['asr']:6.1f}")


if __name__ == "__main__":
    main()
