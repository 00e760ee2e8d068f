"""Step 0 of chosen-2026-12-07.txt: does the screened probe keep what the 128-image probe finds?

Each model's warm-up runs as a clean runs it (sweep.py's run_one, one thread a run) and stops at
the warm-up's end. There, on the 128 images the run's own probe would draw (drawn with the
random numbers forked, so nothing the run does changes), each patch family is copied twice and
probed both ways: every stamp on all 128 images, and every stamp on the first `--screen` then
the strongest 64 on all 128. Evaluation only.

    python benchmarks/results/sweeps/probe-screen/probe_screen.py --out FILE.jsonl --jobs 2
"""
import argparse
import copy
import json
import multiprocessing
import sys
import time
from pathlib import Path

import torch

BENCHMARKS = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(BENCHMARKS))
from quality import CONTROL, build                             # noqa: E402
from sweep import _zoo_job, run_one                            # noqa: E402

import auditor.erasing as erasing                              # noqa: E402
from auditor.evaluation import load_images                     # noqa: E402
from auditor.examples import digits                            # noqa: E402
from auditor.triggers import PatchTrigger                      # noqa: E402

ZOO = ["digits-resnet-sig-s0", "digits-vgg-bn-sig-s0", "digits-resnet-patch-mid-s0",
       "digits-vgg-bn-patch-mid-s0", "digits-vgg-bn-blend20-s1", "digits-resnet-blend20-s0",
       "digits-vgg-bn-blend20-s0", "digits-resnet-clean-s0",                 # tuning sets a, b
       "fashion-tiny-sig-s0", "digits-depthwise-sig-s0",                     # held-out SIG
       "digits-resnet-warp-s0", "digits-depthwise-warp-s0"]                  # held-out warp


class WarmupEnded(Exception):
    pass


def _stamps(family: PatchTrigger) -> list[tuple[int, int, int]]:
    return [(int(k), int(r), int(c)) for k, r, c in zip(*family.stamps)]


def compare(p, recipe, screen: int) -> list[dict]:
    with torch.random.fork_rng(), torch.no_grad():
        images = p.generator.sample(min(recipe.probe_images, recipe.batch_size))
        rows = []
        for family in p.triggers.families:
            if not isinstance(family, PatchTrigger):
                continue
            full, screened = copy.deepcopy(family), copy.deepcopy(family)
            start = time.perf_counter()
            full.probe(p.teacher, images, p.spec)
            middle = time.perf_counter()
            screened.probe(p.teacher, images, p.spec, screen_images=screen)
            end = time.perf_counter()
            distance = 0.5 * (full.draw_weights(full.prior) - screened.draw_weights(screened.prior)).abs().sum()
            before = p.teacher(p.spec.normalise(images)).softmax(1).mean(0)
            # each kept stamp's largest class rise on all the images: tied stamps are alike
            full_strengths, screened_strengths = (
                family._rises(p.teacher, images, p.spec, *probed.stamps, before).amax(1).sort().values
                for probed in (full, screened))
            rows.append({"family": family.describe(), "full_stamps": _stamps(full),
                         "screened_stamps": _stamps(screened),
                         "same_set": set(_stamps(full)) == set(_stamps(screened)),
                         "same_top": _stamps(full)[0] == _stamps(screened)[0],
                         "kept_strength_diff": float((full_strengths - screened_strengths).abs().max()),
                         "top_rise_diff": float((full.stamp_rise - screened.stamp_rise).abs().max()),
                         "top_class": int(full.stamp_rise.argmax()),
                         "top_rise": round(float(full.stamp_rise.max()), 4),
                         "prior_tv": float(distance),
                         "seconds_full": round(middle - start, 2), "seconds_screened": round(end - middle, 2)})
    return rows


def job_run(job: dict) -> dict:
    seen = {}

    def end_warmup(p, recipe):
        seen["families"] = compare(p, recipe, job["screen"])
        raise WarmupEnded()

    erasing.end_warmup = end_warmup
    start = time.perf_counter()
    try:
        run_one(job)
    except WarmupEnded:
        pass
    return {"model": job.get("name", job["attack"]), "seed": job["seed"],
            "seconds": round(time.perf_counter() - start, 1), **seen}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--screen", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--bundled-seeds", nargs="*", type=int, default=list(range(9)))
    parser.add_argument("--zoo", nargs="*", default=ZOO)
    parser.add_argument("--zoo-seed", type=int, default=0, help="the recipe seed of the zoo's warm-ups")
    args = parser.parse_args()
    common = {"overrides": {}, "every": 10 ** 9, "threads": 1, "screen": args.screen}
    jobs = [{**_zoo_job(name), "seed": args.zoo_seed, **common} for name in args.zoo]
    for attack in digits.ATTACKS + (CONTROL,):
        model_path, data_path, trigger = build(attack, BENCHMARKS / "out", seed=0)
        test = load_images(data_path, (digits.SIZE, digits.SIZE, 1))
        jobs += [{"attack": attack, "seed": seed, "model_path": model_path, "test": test,
                  "trigger": trigger, **common} for seed in args.bundled_seeds]
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool, args.out.open("w") as out:
        for row in pool.imap(job_run, jobs):
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(row["model"], row["seed"], f"{row['seconds']} s",
                  [(f["same_top"], f["same_set"], f"{f['top_rise_diff']:.1g}", round(f["prior_tv"], 3),
                    f["seconds_full"], f["seconds_screened"]) for f in row["families"]], flush=True)
    rows = [f for line in args.out.read_text().splitlines() for f in json.loads(line)["families"]]
    share = lambda test: sum(map(test, rows)) / len(rows)            # noqa: E731
    print(f"{len(rows)} (model, family) pairs: top rises within 1e-5 "
          f"{100 * share(lambda f: f['top_rise_diff'] <= 1e-5):.1f} %, same top stamp "
          f"{100 * share(lambda f: f['same_top']):.1f} %, same kept set {100 * share(lambda f: f['same_set']):.1f} %, "
          f"mean TV of the maps' draws {sum(f['prior_tv'] for f in rows) / len(rows):.4f}; probe seconds "
          f"{sum(f['seconds_full'] for f in rows):.0f} -> {sum(f['seconds_screened'] for f in rows):.0f}")


if __name__ == "__main__":
    main()
