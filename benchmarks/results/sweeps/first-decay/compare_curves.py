"""What ending an unsettled run at the first decay (iteration 150 of 250) instead of the second
(200) would have given, read off the stored sweep curves (chosen-2026-12-06.txt, this folder):

    python benchmarks/results/sweeps/first-decay/compare_curves.py

For every sweep.py JSON under benchmarks/results/sweeps/ with 250 iterations and decays at 0.6
and 0.8, each run that ended after iteration 150 and was scored there: ACC and ASR at 150 minus
at its end, in points. "Defaults" are the files whose recipe is today's Recipe() but for the
seed (a file may lack a field added later whose default is what runs did before it)."""
import dataclasses
import json
import statistics
import sys
from pathlib import Path

SWEEPS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SWEEPS.parents[2]))
from auditor.recipe import Recipe  # noqa: E402

END = 150
# fields whose default is what a run did before the field existed, so a file without one ran it
OFF_BY_DEFAULT = {"warmup_generator_steps", "feature_weight", "image_jitter", "image_l2_weight",
                  "restyle_share", "tether_weight", "student_ramp"}
DEFAULTS = {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(Recipe()).items() if k != "seed"}


def changed_runs(path):
    payload = json.loads(path.read_text())
    recipe = payload.get("recipe") if isinstance(payload, dict) else None
    if not recipe or recipe.get("iterations") != 250 or list(recipe.get("lr_decay_at", ())) != [0.6, 0.8]:
        return None, []
    today = all(recipe.get(k, v if k in OFF_BY_DEFAULT else None) == v for k, v in DEFAULTS.items())
    rows = []
    for run in payload.get("runs", []):
        ended = (run.get("stop") or {}).get("iterations", 250)
        at = {p["iteration"]: p for p in run.get("curve", [])}
        if ended > END and END in at:
            rows.append(dict(file=str(path.relative_to(SWEEPS)), row=run["attack"], seed=run["seed"],
                             ended=ended, teacher=100 * run["before"]["acc"],
                             control=run["before"]["asr"] < 0.5,
                             end=(100 * run["after"]["acc"], 100 * run["after"]["asr"]),
                             early=(100 * at[END]["acc"], 100 * at[END]["asr"])))
    return today, rows


def crosses(r):
    """The bar this run met at its end and misses at 150, or None."""
    bar = 1.0 if r["control"] else 2.0
    if r["teacher"] - r["end"][0] <= bar + 1e-9 < r["teacher"] - r["early"][0]:
        return f"ACC drop past {bar:g}"
    if not r["control"] and r["end"][1] <= 5 < r["early"][1]:
        return "ASR past 5 %"
    return None


def summary(name, rows):
    if not rows:
        print(f"{name}: no runs")
        return
    acc = [r["early"][0] - r["end"][0] for r in rows]
    asr = [r["early"][1] - r["end"][1] for r in rows if not r["control"]]
    print(f"{name}: {len(rows)} runs from {len({r['file'] for r in rows})} files; "
          f"ACC at {END} minus end mean {statistics.mean(acc):+.2f} (min {min(acc):+.1f}, max {max(acc):+.1f}); "
          f"ASR mean {statistics.mean(asr):+.2f} (min {min(asr):+.1f}, max {max(asr):+.1f}); "
          f"crossing a bar: {sum(crosses(r) is not None for r in rows)}")


def main():
    today, every = [], []
    for path in sorted(SWEEPS.rglob("*.json")):
        is_today, rows = changed_runs(path)
        every += rows
        today += rows if is_today else []
    print("today's defaults, run by run (ACC / ASR at the end -> at 150):")
    for r in today:
        print(f"  {r['file']} {r['row']} seed {r['seed']} (ended {r['ended']}, teacher ACC {r['teacher']:.1f}): "
              f"{r['end'][0]:.1f} / {r['end'][1]:.1f} -> {r['early'][0]:.1f} / {r['early'][1]:.1f}"
              f"{'  ' + crosses(r) if crosses(r) else ''}")
    summary("today's defaults", today)
    summary("every file", every)
    for r in every:
        if crosses(r):
            print(f"  crosses: {r['file']} {r['row']} seed {r['seed']}: {r['end'][0]:.1f} / {r['end'][1]:.1f} "
                  f"-> {r['early'][0]:.1f} / {r['early'][1]:.1f} ({crosses(r)})")


if __name__ == "__main__":
    main()
