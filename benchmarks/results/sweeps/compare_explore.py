"""An in-process exploration's arms beside the defaults' runs of the same rows, ACC / ASR in %.

    python compare_explore.py [--defaults DIR] EXPLORE_DIR ARM [ARM ...] > EXPLORE_DIR/../compare.txt

Zoo rows: EXPLORE_DIR/ROW-ARM.json (oracle_trigger.py --out), beside the defaults' in-process run
ROW-search.json (oracle_trigger.py --search-anchor) from the first of these folders that has it:
DIR (given for runs at another recipe seed than 0), EXPLORE_DIR, shortcut-rows/explore (the 18
digits tuning rows), oracle-warp, frozen-layers/explore.
Bundled rows: EXPLORE_DIR/bundled.jsonl (shortcut-hinge/dose/bundled_dose.py, the CLI), beside
the runs named `defaults` in that file where it has them, else runners-up/quality-base.json, the
defaults' run of the same files (which predates the two changes of 2026-12-07, late).
"""
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "shortcut-rows" / "explore"))
sys.path.insert(0, str(HERE.parents[1]))   # benchmarks/
from compare import figures, within_bar  # noqa: E402  (ACC before, ACC after, ASR after, in %)
import quality_zoo  # noqa: E402
import zoo  # noqa: E402

BASES = [HERE / "shortcut-rows" / "explore", HERE / "oracle-warp", HERE / "frozen-layers" / "explore"]


def defaults(explore: Path, row: str, first: list[Path]):
    return next((f for f in (figures(d, row, "search") for d in [*first, explore, *BASES]) if f), None)


def bundled(explore: Path, arms: list[str]) -> dict:
    """(attack, seed) → {"before", "defaults", arm: (ACC, ASR)} from the CLI runs."""
    base = json.load(open(HERE / "runners-up" / "quality-base.json"))
    rows = {r["attack"]: r for r in base["rows"] + [base["control"]]}
    table = {}
    path = explore / "bundled.jsonl"
    runs = [json.loads(line) for line in open(path)] if path.exists() else []
    # runs named "defaults" in the same file, made beside the arm, replace the stored ones
    own = {(r["attack"], r["seed"]): r for r in runs if r["name"] == "defaults"}
    for run in runs:
        if run["name"] not in arms:
            continue
        row = rows[run["attack"]]
        d = own.get((run["attack"], run["seed"])) or next(a for a in row["auditor"] if a["seed"] == run["seed"])
        cell = table.setdefault((run["attack"], run["seed"]), {
            "before": 100 * row["backdoored"]["acc"], "defaults": (100 * d["acc"], 100 * d["asr"])})
        cell[run["name"]] = (100 * run["acc"], 100 * run["asr"])
    return table


def group(row: str) -> str:
    """The zoo's split (quality_zoo.split), the held-out warp rows apart."""
    spec = zoo.Spec.from_name(row)
    if quality_zoo.split(spec) == "tuning":
        return "tuning"
    return "held-out warp" if spec.attack == "warp" else "held-out other"


def main():
    args = sys.argv[1:]
    first = []
    if args[0] == "--defaults":
        first, args = [Path(args[1])], args[2:]
    explore, arms = Path(args[0]), args[1:]
    print(f"{'row':30s} {'before':>6s} {'defaults':>14s} " + " ".join(f"{a:>14s}" for a in arms))
    rows = sorted({p.name[:-len(f"-{a}.json")] for a in arms for p in explore.glob(f"*-{a}.json")})
    per_arm = {a: [] for a in arms}
    for row in rows:
        base = defaults(explore, row, first)
        cells = [figures(explore, row, a) for a in arms]
        for a, c in zip(arms, cells):
            if c and base:
                per_arm[a].append((row, base, c))
        print(f"{row:30s} {base[0]:6.1f} {base[1]:6.1f}/{base[2]:6.1f} "
              + " ".join(f"{c[1]:6.1f}/{c[2]:6.1f}" if c else f"{'-':>14s}" for c in cells))
    table = bundled(explore, arms)
    for (attack, seed), cell in sorted(table.items()):
        print(f"{'bundled ' + attack + ' s' + str(seed):30s} {cell['before']:6.1f} "
              f"{cell['defaults'][0]:6.1f}/{cell['defaults'][1]:6.1f} "
              + " ".join(f"{cell[a][0]:6.1f}/{cell[a][1]:6.1f}" if a in cell else f"{'-':>14s}" for a in arms))
    for a in arms:   # the bundled backdoored runs the arm has, beside the same runs' defaults
        cells = [c for (attack, _), c in table.items() if a in c and attack != "none"]
        if cells:
            acc = [statistics.mean(c[k][0] for c in cells) for k in ("defaults", a)]
            worst = [max(c[k][1] for c in cells) for k in ("defaults", a)]
            fall = max(c["defaults"][0] - c[a][0] for c in cells)
            print(f"{a}, bundled backdoored runs ({len(cells)}): mean ACC {acc[0]:.2f} -> {acc[1]:.2f}; "
                  f"worst ASR {worst[0]:.1f} -> {worst[1]:.1f}; largest ACC fall below its defaults' run {fall:.1f}")
        for (attack, seed), c in sorted(table.items()):
            if attack == "none" and a in c:
                print(f"{a}, bundled control s{seed}: ACC drop {c['before'] - c['defaults'][0]:.1f} -> "
                      f"{c['before'] - c[a][0]:.1f}")
    for a, runs in per_arm.items():
        for split in ("tuning", "held-out warp", "held-out other"):
            chosen = [r for r in runs if group(r[0]) == split]
            if chosen:
                asr = [statistics.mean(x[i][2] for x in chosen) for i in (1, 2)]
                drop = [statistics.mean(x[i][0] - x[i][1] for x in chosen) for i in (1, 2)]
                bar = [sum(within_bar(x[i]) for x in chosen) for i in (1, 2)]
                print(f"{a}, {split} rows ({len(chosen)}): mean ASR {asr[0]:.2f} -> {asr[1]:.2f}; "
                      f"mean ACC drop {drop[0]:.2f} -> {drop[1]:.2f}; within the bar {bar[0]} -> {bar[1]}")
        tuning = [r for r in runs if group(r[0]) == "tuning"]
        for attack in sorted({zoo.Spec.from_name(r[0]).attack for r in tuning}):
            chosen = [r for r in tuning if zoo.Spec.from_name(r[0]).attack == attack]
            asr = [statistics.mean(x[i][2] for x in chosen) for i in (1, 2)]
            print(f"{a}, tuning {attack} rows ({len(chosen)}): mean ASR {asr[0]:.2f} -> {asr[1]:.2f}")


if __name__ == "__main__":
    main()
