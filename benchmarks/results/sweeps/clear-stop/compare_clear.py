"""The steps of chosen-2026-12-07-late.txt. Only models the original's scan does not suspect can
differ with the lever (a suspected model's run is the defaults' run, checked on the identity
rows), so the lever's side is the defaults' rows with the rows run again in their place.

    python compare_clear.py 1 ../runners-up/quality-base.json bundled-control.jsonl
    python compare_clear.py 2|3 BASE.json [...] -- RERUN.json [...]

STEP 1: (d) the bundled control's mean ACC drop at most 0.3 points more.
STEP 2: (e) backdoored rows meeting the bar not fewer; (f) mean ASR at most 1 point higher; (h)
mean ACC drop over all rows at most 0.5 more; (j) no row's ACC drop more than 2 points above its
defaults'; (k) no row's ASR more than 5 points above its defaults'.
STEP 3: (g) mean ASR at most 2 points higher; (i) mean ACC drop at most 1 point more; (k)."""
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "runners-up"), str(HERE.parent / "gratings"), str(HERE.parent / "bfloat16")]
from compare_zoo import rows  # noqa: E402  (the runners-up rule's reader)
from tenth_look import clause  # noqa: E402
from zoo_step2 import print_pairs  # noqa: E402


def step1(base_path, control_path):
    control = json.loads(Path(base_path).read_text())["control"]
    before = 100 * control["backdoored"]["acc"]
    base = {run["seed"]: before - 100 * run["acc"] for run in control["auditor"]}
    lever = {}
    for line in Path(control_path).read_text().splitlines():
        run = json.loads(line)
        lever[run["seed"]] = before - 100 * run["acc"]
        print(f"control seed {run['seed']}: ACC {before:.1f} -> {100 * run['acc']:.1f} "
              f"(defaults {before - base[run['seed']]:.1f}), stop {run['iterations']}")
    seeds = sorted(lever)
    drops = [statistics.mean(side[s] for s in seeds) for side in (base, lever)]
    print(f"control mean ACC drop over seeds {seeds}: {drops[0]:.2f} -> {drops[1]:.2f}")
    clause("(d) control mean drop more", drops[1] - drops[0], 0.3)


def stop(row):
    return row["after"]["stop"]["iterations"]


def main():
    step, paths = sys.argv[1], sys.argv[2:]
    if step == "1":
        return step1(*paths)
    cut = paths.index("--")
    base, rerun = rows(paths[:cut]), rows(paths[cut + 1:])
    for name in sorted(set(rerun) - set(base)):
        print(f"run again but not in the defaults' files, left out: {name}")
    lever = {**base, **{n: r for n, r in rerun.items() if n in base}}
    for name in sorted(set(rerun) & set(base)):
        b, r = base[name], rerun[name]
        suspected = r["after"].get("shortcut") is not None
        same = (b["after"]["acc"], b["after"]["asr"], stop(b)) == (r["after"]["acc"], r["after"]["asr"], stop(r))
        print(f"run again: {name:34} original suspected {str(suspected):5}  stop {stop(b)} -> {stop(r)}"
              f"  {'the same run' if same else 'differs'}")
    names = sorted(base)
    backdoored = [n for n in names if base[n]["attack"] not in (None, "none")]
    print_pairs(base, lever, names, ("defaults ACC/ASR", "clear 50 ACC/ASR"))
    asr = [statistics.mean(side[n]["asr_after"] for n in backdoored) for side in (base, lever)]
    drop = [statistics.mean(side[n]["acc_drop"] for n in names) for side in (base, lever)]
    print(f"{len(backdoored)} backdoored rows: mean ASR {asr[0]:.2f} -> {asr[1]:.2f}; "
          f"{len(names)} rows: mean ACC drop {drop[0]:.2f} -> {drop[1]:.2f}")
    worst_acc = max(names, key=lambda n: lever[n]["acc_drop"] - base[n]["acc_drop"])
    worst_asr = max(backdoored, key=lambda n: lever[n]["asr_after"] - base[n]["asr_after"])
    if step == "2":
        meets = [sum(side[n]["meets_bar"] for n in backdoored) for side in (base, lever)]
        print(f"backdoored rows meeting the bar: {meets[0]} -> {meets[1]} of {len(backdoored)}")
        clause("(e) fewer rows meeting the bar", meets[0] - meets[1], 0)
        clause("(f) mean ASR higher", asr[1] - asr[0], 1)
        clause("(h) mean ACC drop more", drop[1] - drop[0], 0.5)
        clause(f"(j) a row's ACC drop above its defaults' ({worst_acc})",
               lever[worst_acc]["acc_drop"] - base[worst_acc]["acc_drop"], 2)
    else:
        clause("(g) mean ASR higher", asr[1] - asr[0], 2)
        clause("(i) mean ACC drop more", drop[1] - drop[0], 1)
    clause(f"(k) a row's ASR above its defaults' ({worst_asr})",
           lever[worst_asr]["asr_after"] - base[worst_asr]["asr_after"], 5)


if __name__ == "__main__":
    main()
