"""bundled-dose.jsonl beside the defaults (../../runners-up/quality-base.json) and hinge 1 with
tether 0.1 (../quality-sch.json), the same models and seeds: ACC / ASR in %.

    python bundled_table.py > bundled-dose.txt"""
import json
from pathlib import Path

HERE = Path(__file__).parent


def runs(path):
    rows = json.loads(path.read_text())["rows"]
    return {(r["attack"], a["seed"]): a for r in rows for a in r["auditor"]}


def main():
    base, night = runs(HERE / "../../runners-up/quality-base.json"), runs(HERE / "../quality-sch.json")
    print(f"{'attack':7} {'seed':4} {'arm':15} {'args':70} {'ACC':>5} {'ASR':>5}   defaults    hinge 1 + tether 0.1")
    for line in (HERE / "bundled-dose.jsonl").read_text().splitlines():
        r = json.loads(line)
        key = (r["attack"], r["seed"])
        print(f"{r['attack']:7} {r['seed']:4} {r['name']:15} {' '.join(r['args']):70} "
              f"{100 * r['acc']:5.1f} {100 * r['asr']:5.1f}   "
              f"{100 * base[key]['acc']:4.1f}/{100 * base[key]['asr']:3.1f}   "
              f"{100 * night[key]['acc']:4.1f}/{100 * night[key]['asr']:3.1f}")


if __name__ == "__main__":
    main()
