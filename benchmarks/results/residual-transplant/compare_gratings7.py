"""The 13 zoo cleans of quality-zoo-kept.json (today's defaults: the probe screen, CLI, recipe
seed 0) beside the same models' recipe-seed-0 runs with 24 gratings at the stop of 150 (the
seventh look, sweeps/gratings/sweep/gratings7-*.json, in-process), checked to be the same
model files by sha256. ACC / ASR in %.

    python benchmarks/results/residual-transplant/compare_gratings7.py
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SWEEPS = HERE.parent / "sweeps" / "gratings" / "sweep"


def main() -> None:
    earlier = {}
    for path in sorted(SWEEPS.glob("gratings7-*.json")):
        report = json.loads(path.read_text())
        recipe = report["recipe"]
        for run in report["runs"]:
            if run["seed"] == 0:
                earlier[run["attack"]] = (run, path.name, recipe.get("probe_images"),
                                          recipe.get("probe_screen_images"))
    rows = json.loads((HERE / "quality-zoo-kept.json").read_text())["rows"]
    print("| row | split | today | seventh look | same model | probe images then |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        after = row["after"]
        today = f"{100 * after['acc']:.1f} / {100 * after['asr']:.1f}"
        if row["name"] not in earlier:
            print(f"| {row['name']} | {row['split']} | {today} | not run | — | — |")
            continue
        run, name, images, screen = earlier[row["name"]]
        then = f"{100 * run['after']['acc']:.1f} / {100 * run['after']['asr']:.1f}"
        print(f"| {row['name']} | {row['split']} | {today} | {then} ({name}) | "
              f"{run['model_sha256'] == row['model_sha256']} | {images}, screen {screen} |")


if __name__ == "__main__":
    main()
