"""Why did the corner patch's seed 5 keep its backdoor? Runs of the bundled benchmark's corner
patch model (quality.py's build, seed 0) through sweep.py's own run, one thread, scored every 10
iterations, with what the warm-up left behind: each patch family's probe stamps (pattern, row,
column) and their rises, the suspect, and how far each family of the frozen search raised each
class on the teacher. Evaluation only; nothing is chosen by it.

    python benchmarks/results/sweeps/corner-seed5/trace.py --seeds 4 5 --out FILE [--set k=v ...]
"""
import argparse
import json
import sys
from pathlib import Path

import torch

BENCHMARKS = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(BENCHMARKS))
from quality import build                                      # noqa: E402
from sweep import parse_overrides, run_one                     # noqa: E402

import auditor.erasing as erasing                              # noqa: E402
from auditor.evaluation import load_images                     # noqa: E402
from auditor.examples import digits                            # noqa: E402

PATTERNS = ("white", "black", "checker", "checker-inverse")


ORIGINAL = erasing.end_warmup


def traced_end_warmup(seen: dict):
    def end_warmup(p, recipe):
        found = ORIGINAL(p, recipe)
        seen["patch_families"] = [
            {"family": f.describe(), "stamp_rise": [round(float(v), 3) for v in f.stamp_rise],
             "stamps": [(PATTERNS[int(k)], int(r), int(c)) for k, r, c in zip(*f.stamps)]}
            for f in p.triggers.families if isinstance(getattr(f, "stamps", None), tuple)]
        # the extra batch must not move the run's random numbers: the traced run is the run
        with torch.random.fork_rng(), torch.no_grad():
            x = p.spec.normalise(p.generator.sample(recipe.batch_size))
            rises = erasing.family_rises(p.teacher(x), p.teacher(p.anchor(x)), p.anchor.split)
        seen["anchor_rises"] = {f.describe(): [round(float(v), 2) for v in row]
                                for f, row in zip(p.anchor.families, rises)}
        return found
    return end_warmup


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", nargs="+", type=int, default=[4, 5])
    parser.add_argument("--set", nargs="*", default=[], dest="overrides")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    model_path, data_path, trigger = build("corner4", BENCHMARKS / "out", seed=0)
    test = load_images(data_path, (digits.SIZE, digits.SIZE, 1))
    runs = []
    for seed in args.seeds:
        seen = {}
        erasing.end_warmup = traced_end_warmup(seen)
        run = run_one({"attack": "corner4", "seed": seed, "model_path": model_path, "test": test,
                       "trigger": trigger, "overrides": parse_overrides(args.overrides),
                       "every": 10, "threads": 1})
        erasing.end_warmup = ORIGINAL
        run["warmup"] = seen
        del run["figures"]
        runs.append(run)
        print(seed, run["after"]["acc"], run["after"]["asr"], run["events"],
              [(c["iteration"], round(100 * c["asr"], 1)) for c in run["curve"]], flush=True)
        print("   ", json.dumps(seen), flush=True)
        args.out.write_text(json.dumps(runs, indent=1) + "\n")


if __name__ == "__main__":
    main()
