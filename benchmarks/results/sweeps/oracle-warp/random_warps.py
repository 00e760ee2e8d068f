"""Does a warp backdoor answer to other warps? (evaluation only, decides nothing)

Per zoo warp model: the share of its test images of other classes that the original sends to
the target, under the attack's own warp and under random warps of the same kind (zoo.warp_grid
with other seeds: a 4 × 4 flow upsampled, half a pixel on average), at 1, 2 and 4 times that
strength. A backdoor that answers to any warp could be erased by a family of random warps, as
the noise-blend family erases noise blends (auditor/triggers.py, NoiseBlendTrigger).

    python benchmarks/results/sweeps/oracle-warp/random_warps.py NAME ... > random-warps.txt
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))   # benchmarks/
import zoo  # noqa: E402
from auditor.evaluation import load_images  # noqa: E402
from auditor.runtime import ModelRunner  # noqa: E402

DRAWS = 16


def main():
    print(f"{'model':28s} {'planted':>8s} " + " ".join(f"{f'random x{k}':>16s}" for k in (1, 2, 4))
          + "   (random: mean and largest share over 16 warps)")
    for name in sys.argv[1:]:
        info = json.load(open(zoo.CACHE / name / "meta.json"))
        size, target = info["size"], info.get("target", zoo.TARGET)
        runner = ModelRunner.open(info["model"], mean=(zoo.MEAN,), std=(zoo.STD,))
        test = load_images(info["test"], (size, size, 1))
        keep = np.asarray(test.labels) != target
        pixels = torch.from_numpy(np.asarray(test.images)[keep]).permute(0, 3, 1, 2).float()

        def asr(grid) -> float:
            out = zoo.warped(pixels, grid).permute(0, 2, 3, 1).numpy()
            return float((runner.predict(out) == target).mean())

        planted = asr(zoo.warp_grid(size, np.random.default_rng(1234)))
        cells = []
        for strength in (1, 2, 4):
            shares = []
            for draw in range(DRAWS):
                shares.append(asr(zoo.warp_grid(size, np.random.default_rng(draw), strength)))
            cells.append(f"{100 * np.mean(shares):6.1f} / {100 * max(shares):6.1f}")
        print(f"{name:28s} {100 * planted:8.1f} " + " ".join(f"{c:>16s}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
