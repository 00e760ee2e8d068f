"""What --probe-images 128 costs against 32, and 128 with the screen on 32 of them
(--probe-screen-images 32): the patch probe of both patch families (as the default recipe builds
them) on each model, timed side by side in one process, alternating, the fastest of `--repeats`
each. Images are uniform noise: the probe's cost hardly depends on them.

    python benchmarks/results/sweeps/probe-images/probe_cost.py --models bundled-cnn,corpus-mnist-keras-nhwc
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from speed import MODELS, model_file                               # noqa: E402

from auditor import erasing                                         # noqa: E402
from auditor.loading import Classifier, load_model                  # noqa: E402
from auditor.presets import PRESETS                                 # noqa: E402
from auditor.recipe import Recipe                                   # noqa: E402
from auditor.triggers import PatchTrigger                           # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="bundled-cnn,corpus-mnist-keras-nhwc,corpus-resnet20")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    recipe = Recipe()
    before, after = 32, 128            # the rule's two values, and the screen's (the default's since 2026-12-07)
    print(f"torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            mean, std = PRESETS[MODELS[name][1]]
            loaded = load_model(model_file(name, Path(folder)), mean=mean, std=std)
            teacher = Classifier(loaded.net, loaded.spec, loaded.output_index).eval()
            spec = loaded.spec
            # the patch families exactly as a clean builds them (sizes, stamps)
            players = erasing._make_players(teacher, spec, recipe, "cpu")
            families = [f for f in players.triggers.families if isinstance(f, PatchTrigger)]
            best = {}
            variants = {"32": (before, 0), "128": (after, 0), "128 screened on 32": (after, before)}
            for _ in range(args.repeats):
                for variant, (images, screen) in variants.items():
                    pixels = torch.rand(images, *spec.shape)
                    start = time.perf_counter()
                    for family in families:
                        family.probe(teacher, pixels, spec, screen_images=screen)
                    best[variant] = min(best.get(variant, float("inf")), time.perf_counter() - start)
            print(f"{name}: probe {best['32']:.1f} s with {before} images, "
                  f"{best['128']:.1f} s with {after} ({best['128'] / best['32']:.1f}x), "
                  f"{best['128 screened on 32']:.1f} s with {after} screened on {before} "
                  f"({best['128 screened on 32'] / best['128']:.2f}x the {after})", flush=True)


if __name__ == "__main__":
    main()
