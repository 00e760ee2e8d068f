"""Recipe sweep: one recipe, several attacks and seeds, scored on held-out digits.

The quality benchmark runs the CLI once per attack; single runs vary by several points of ASR
from seed to seed, so choosing a default from them is guesswork. This script runs the erasing
loop in-process (no export: the export round trip is tested elsewhere) for every attack × seed,
scores the student on the attack's test set every `--every` iterations, and writes each run's
curve and a summary (mean and worst ACC drop and ASR) as JSON.

    python benchmarks/sweep.py --name lam05 --set reg_weight=0.5 --seeds 0 1 --jobs 2
    python benchmarks/sweep.py --name noise0 --set noise_alpha=0 --zoo digits-resnet-blend20-s0

`--zoo` runs on models of benchmarks/zoo.py instead (by name, built if missing), ASR read on its
triggered test images as benchmarks/quality_zoo.py reads it.

`--set` takes Recipe fields; tuples as comma lists (patch_scales=1,1.5).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import platform
import time
from pathlib import Path

import numpy as np
import torch

from auditor.erasing import erase_backdoor
from auditor.evaluation import evaluate, load_images
from auditor.examples import digits
from auditor.loading import Classifier, load_model
from auditor.recipe import Recipe
import zoo  # noqa: E402  (benchmarks/ is the script's folder)
from quality import CONTROL, PREPROCESSING, build   # noqa: E402


def parse_overrides(pairs: list[str]) -> dict:
    fields = {f.name: f for f in dataclasses.fields(Recipe)}
    overrides = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in fields:
            raise SystemExit(f"--set {pair}: Recipe has no field {key!r}")
        default = getattr(Recipe(), key)
        if isinstance(default, bool):
            overrides[key] = value.lower() in ("1", "true", "yes")
        elif isinstance(default, tuple):
            overrides[key] = tuple(float(v) for v in value.split(",") if v)
        elif default is None or isinstance(default, int) and not isinstance(default, bool):
            overrides[key] = int(value) if value != "None" else None
        else:
            overrides[key] = type(default)(value)
    return overrides


def run_one(job: dict) -> dict:
    torch.set_num_threads(job["threads"])
    model_path, test, trigger = job["model_path"], job["test"], job["trigger"]
    loaded = load_model(model_path, **PREPROCESSING)
    teacher = Classifier(loaded.net, loaded.spec, loaded.output_index)
    recipe = Recipe().with_overrides(**job["overrides"], seed=job["seed"])

    def predict(net):
        def labels(pixels_nhwc):
            with torch.no_grad():
                x = torch.from_numpy(np.ascontiguousarray(pixels_nhwc)).permute(0, 3, 1, 2)
                return net(loaded.spec.normalise(x)).argmax(1).numpy()
        return labels

    def per_class(net) -> list[float]:
        # the mean hides which class pays: the target on the blend, content-like classes elsewhere
        hits = predict(net)(test.images) == test.labels
        return [round(float(hits[test.labels == k].mean()), 3) for k in np.unique(test.labels)]

    def scores(net) -> dict:
        if job.get("triggered") is None:
            return evaluate(predict(net), test, trigger).as_dict()
        return zoo.scores(job["attack"], predict(net), test.images, job["triggered"].images,
                          test.labels, job.get("target", zoo.TARGET))

    def inspect(iteration, student):
        if (iteration + 1) % job["every"] == 0 or iteration + 1 == recipe.iterations:
            return {"test": {**scores(student), "per_class": per_class(student)}}
        return None

    before = scores(teacher)
    result = erase_backdoor(teacher, loaded.spec, recipe, inspect=inspect)
    curve = [{"iteration": i + 1, "acc": h["test"]["acc"], "asr": h["test"]["asr"],
              "per_class": h["test"]["per_class"]}
             for i, h in enumerate(result.history) if "test" in h]
    if not curve or curve[-1]["iteration"] != result.iterations:   # stopped between scorings
        curve.append({"iteration": result.iterations, **_acc_asr(scores(result.student)),
                      "per_class": per_class(result.student)})
    # figures the loop reports once (the suspect class at the warm-up's end, say)
    events = {k: v for h in result.history for k, v in h.items() if k.startswith("suspect")}
    # the loop's own figures, every iteration: what a stopping rule could have read
    figures = [{k: round(v, 5) for k, v in h.items() if isinstance(v, float)}
               for h in result.history]
    return {"attack": job.get("name", job["attack"]), "seed": job["seed"],
            "model_sha256": job.get("sha256"), "before": before,
            "after": curve[-1], "curve": curve, "events": events, "figures": figures,
            "stop": {"iterations": result.iterations, "reason": result.stop_reason},
            "seconds": round(result.seconds, 1)}


def _acc_asr(scores: dict) -> dict:
    return {"acc": scores["acc"], "asr": scores["asr"]}


def _zoo_job(name: str) -> dict:
    spec = zoo.Spec.from_name(name)
    info = zoo.build(spec)
    shape = (info["size"], info["size"], 1)
    return {"name": name, "attack": info["attack"], "target": spec.target, "model_path": info["model"],
            "sha256": info.get("sha256"),   # models cached before hashes were kept have none
            "test": load_images(info["test"], shape), "trigger": None,
            "triggered": load_images(info["triggered"], shape)}


def summarise(runs: list[dict]) -> dict:
    drops = [100 * (r["before"]["acc"] - r["after"]["acc"]) for r in runs]
    asrs = [100 * (r["after"]["asr"] or 0) for r in runs]
    return {"acc_drop_mean": round(float(np.mean(drops)), 2), "acc_drop_max": round(max(drops), 2),
            "asr_mean": round(float(np.mean(asrs)), 2), "asr_max": round(max(asrs), 2),
            "runs": len(runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--set", nargs="*", default=[], dest="overrides")
    parser.add_argument("--attacks", nargs="+", default=list(digits.ATTACKS),
                        choices=digits.ATTACKS + (CONTROL,))
    parser.add_argument("--zoo", nargs="+", default=[], metavar="NAME",
                        help="zoo models (e.g. digits-resnet-blend20-s0) instead of --attacks")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--every", type=int, default=50, help="score the student this often")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel, one thread each")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    overrides = parse_overrides(args.overrides)
    args.out.mkdir(parents=True, exist_ok=True)
    threads = max(1, torch.get_num_threads() // args.jobs)
    jobs = [{**_zoo_job(name), "seed": seed, "overrides": overrides, "every": args.every,
             "threads": threads} for name in args.zoo for seed in args.seeds]
    for attack in args.attacks if not args.zoo else []:
        model_path, data_path, trigger = build(attack, args.out, seed=0)
        test = load_images(data_path, (digits.SIZE, digits.SIZE, 1))
        for seed in args.seeds:
            jobs.append({"attack": attack, "seed": seed, "model_path": model_path, "test": test,
                         "trigger": trigger, "overrides": overrides, "every": args.every,
                         "threads": threads})
    start = time.perf_counter()
    folder = args.out / "sweep"
    folder.mkdir(exist_ok=True)
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        runs = []
        for run in pool.imap(run_one, jobs):
            runs.append(run)
            print(f"{run['attack']:<8} seed {run['seed']}: ACC {100 * run['before']['acc']:.1f} → "
                  f"{100 * run['after']['acc']:.1f}  ASR {100 * (run['before']['asr'] or 0):.1f} → "
                  f"{100 * (run['after']['asr'] or 0):.1f}  ({run['seconds']:.0f} s, "
                  f"{run['stop']['iterations']} it.)  curve "
                  + " ".join(f"{100 * c['acc']:.1f}/{100 * (c['asr'] or 0):.1f}" for c in run["curve"])
                  + "".join(f"  {k} {v:.3g}" for k, v in run["events"].items())
                  + "\n    per class at the end: "
                  + " ".join(f"{100 * a:.0f}" for a in run["after"]["per_class"]),
                  flush=True)
            # written after every run, so a sweep stopped part-way keeps the runs it finished
            write_payload(folder / f"{args.name}.json", args, overrides, runs, planned=len(jobs))
    print(f"{args.name}: {summarise(runs)}  ({time.perf_counter() - start:.0f} s)")


def write_payload(path: Path, args, overrides: dict, runs: list[dict], planned: int) -> None:
    """The sweep's JSON with the runs so far ("complete" once all `planned` are in), replaced whole."""
    payload = {"benchmark": "sweep", "name": args.name, "overrides": overrides,
               "recipe": Recipe().with_overrides(**overrides).as_dict(), "seeds": args.seeds,
               "machine": {"cpu_threads": torch.get_num_threads(), "jobs": args.jobs,
                           "platform": platform.platform(), "torch": torch.__version__},
               "complete": len(runs) == planned, "summary": summarise(runs), "runs": runs}
    partial = path.with_suffix(".json.part")
    partial.write_text(json.dumps(payload, indent=2) + "\n")
    partial.replace(path)


if __name__ == "__main__":
    main()
