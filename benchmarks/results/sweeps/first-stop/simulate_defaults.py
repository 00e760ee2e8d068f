"""The defaults' side of a stop_after lever, read from the lever's own runs (chosen-2026-12-06.txt).

    python simulate_defaults.py LEVER.json [LEVER.json ...] --out DEFAULTS.json [--after 50]

A run with a later earliest stop is the same run as the defaults' up to that point: the seeded
loop does not change, only where it may end. So the defaults' stop rule (auditor.stopping, with
`after` full iterations) is applied to the run's recorded figures at every check before the
lever's earliest stop; where it would have stopped, the defaults' result is the run's scores at
that iteration (sweep.py --every 10 scores every check). Where it would not, both sides are
the same run. Prints each run's two stops and writes the defaults' side in sweep.py's format,
for compare_seeds.py. Needs runs scored at every check (--every 10)."""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))
from auditor.recipe import Recipe  # noqa: E402


# the defaults' stop_after when this lever was measured; Recipe's own default is the lever's now
DEFAULTS_AFTER = 50


def defaults_side(run: dict, recipe: Recipe, after: int) -> dict:
    # the defaults' rule on the run's own schedule; a lever run that never stops early
    # (stop_window 0) checks the simulation itself against a real defaults run
    rule = recipe.with_overrides(stop_window=Recipe.stop_window, stop_agreement=Recipe.stop_agreement,
                                 stop_after=after).stop_rule()
    lever_earliest = recipe.warmup_iterations + recipe.stop_after if recipe.stop_window else 10**9
    figures = run["figures"]
    scored = {c["iteration"]: c for c in run["curve"]}
    for done in range(1, min(lever_earliest, run["stop"]["iterations"])):
        if not rule.due(done):
            continue
        reason = rule.reason(figures[:done])
        if reason:
            if done not in scored:
                raise SystemExit(f"{run['attack']} seed {run['seed']}: no scores at {done} (--every 10?)")
            curve = [c for c in run["curve"] if c["iteration"] <= done]
            return {**run, "after": scored[done], "curve": curve,
                    "stop": {"iterations": done, "reason": reason}, "figures": figures[:done]}
    return run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--after", type=int, default=DEFAULTS_AFTER)
    args = parser.parse_args()
    runs = []
    for name in args.files:
        payload = json.loads(Path(name).read_text())
        recipe = Recipe().with_overrides(**payload["overrides"])
        for run in payload["runs"]:
            mine = defaults_side(run, recipe, args.after)
            runs.append(mine)
            print(f"{run['attack']:28s} seed {run['seed']}: defaults stop {mine['stop']['iterations']:3d} "
                  f"{100 * mine['after']['acc']:5.1f} / {100 * (mine['after']['asr'] or 0):5.1f}   lever stop "
                  f"{run['stop']['iterations']:3d} {100 * run['after']['acc']:5.1f} / "
                  f"{100 * (run['after']['asr'] or 0):5.1f}")
    Path(args.out).write_text(json.dumps({"benchmark": "sweep", "name": "defaults (simulated)",
                                          "overrides": {}, "simulated_from": args.files,
                                          "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
