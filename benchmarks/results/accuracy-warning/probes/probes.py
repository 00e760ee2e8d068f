"""Does a clean that lost accuracy disagree with its original on images that are neither the
synthetic images it was trained on nor the backdoor's? Per (original, cleaned) pair: the share
of a fixed set of probe images where the two models' classes differ, for each candidate of
chosen-2026-12-07.txt, beside the real accuracy before and after (evaluation only).

    python benchmarks/results/accuracy-warning/probes/probes.py PAIRS.txt TEST_IMAGES > rows.jsonl

PAIRS.txt and TEST_IMAGES as in ../impressions.py (lines "name original cleaned preset kind";
"zoo" or "bundled").
"""
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # accuracy-warning/, for impressions
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))   # benchmarks/, for zoo
from impressions import answers, pairs, test_images  # noqa: E402
from transplant import model  # noqa: E402
from zoo import photo_crops  # noqa: E402

COUNT = 1024


def smooth(shape, generator) -> torch.Tensor:
    c, h, w = shape
    coarse = torch.rand(COUNT, c, -(-h // 4), -(-w // 4), generator=generator)
    return F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)


def flower(shape, generator) -> torch.Tensor:
    return photo_crops(shape, COUNT, generator)


PROBES = {"smooth": smooth, "flower": flower}


def main() -> None:
    torch.set_num_threads(1)
    for name, original_path, cleaned_path, preset, kind in pairs(sys.argv[1]):
        original, spec = model(original_path, preset)
        cleaned, _ = model(cleaned_path, preset)
        x, y = test_images(name.split("/")[-1], original_path, sys.argv[2], spec)
        row = {"name": name, "kind": kind,
               "acc_before": float((answers(original, spec, x) == y).float().mean()),
               "acc_after": float((answers(cleaned, spec, x) == y).float().mean())}
        for probe, draw in PROBES.items():
            images = draw((spec.channels, spec.height, spec.width), torch.Generator().manual_seed(0))
            row[probe] = float((answers(original, spec, images) != answers(cleaned, spec, images))
                               .float().mean())
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
