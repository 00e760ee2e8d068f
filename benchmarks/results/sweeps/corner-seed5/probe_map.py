"""The probe's map at the end of the warm-up, for the bundled corner-patch model: for each
position of each patch family, the largest class rise over the four patterns (the family's
`prior`) and, for the planted corner, the rise of every class. The run stops at the warm-up's end.

    python benchmarks/results/sweeps/corner-seed5/probe_map.py SEED [SEED ...]
"""
import sys
from pathlib import Path

import torch

BENCHMARKS = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(BENCHMARKS))
from quality import PREPROCESSING                              # noqa: E402

import auditor.erasing as erasing                              # noqa: E402
from auditor.loading import Classifier, load_model             # noqa: E402
from auditor.recipe import Recipe                              # noqa: E402


class Seen(Exception):
    pass


def main() -> None:
    torch.set_num_threads(1)
    loaded = load_model(BENCHMARKS / "out" / "corner4.onnx", **PREPROCESSING)
    teacher = Classifier(loaded.net, loaded.spec, loaded.output_index)
    original = erasing.end_warmup

    def end_warmup(p, recipe):
        found = original(p, recipe)
        with torch.no_grad():
            x = p.generator.sample(recipe.probe_images)
            before = p.teacher(p.spec.normalise(x)).softmax(1).mean(0)
            for f in p.triggers.families:
                if not hasattr(f, "prior"):
                    continue
                grid = f.prior.view(f.grid[0], f.grid[1])
                print(f"  {f.describe()}: largest class rise per position (x100), rows x cols")
                for row in grid:
                    print("   " + " ".join(f"{100 * v:3.0f}" for v in row))
                corner = f.stamp(x[None], torch.tensor([0]), torch.tensor([0]), torch.tensor([0]))[0]
                rise = p.teacher(p.spec.normalise(corner)).softmax(1).mean(0) - before
                print("   white at the planted corner (0, 0), rise per class:",
                      " ".join(f"{v:.2f}" for v in rise))
        print("  suspect", found)
        raise Seen

    erasing.end_warmup = end_warmup
    for seed in map(int, sys.argv[1:]):
        print(f"seed {seed}")
        try:
            erasing.erase_backdoor(teacher, loaded.spec, Recipe(seed=seed))
        except Seen:
            pass


if __name__ == "__main__":
    main()
