"""Can a clean that lost accuracy be told without data? Per (original, cleaned) pair: the
original is scanned with the defaults (as clean's residual check does), and the cleaned model is
asked what it makes of the scan's images of each class, the original's "class impressions":
its agreement with the original's answers there, overall and for the class it agrees on least.
Beside it, the real accuracy per class on the pair's labelled test images (evaluation only).

    python benchmarks/results/accuracy-warning/impressions.py PAIRS.txt TEST_IMAGES > rows.jsonl

PAIRS.txt: lines "name original cleaned preset kind" (residual-transplant/pairs.py).
TEST_IMAGES: "zoo" (each zoo model's own test.npz, found by the pair's name) or "bundled"
(quality.py's ATTACK-test.npz beside the original ATTACK.onnx).
"""
import json
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))   # benchmarks/, for zoo
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "residual-transplant"))
from auditor.detection import scan_classifier  # noqa: E402
from auditor.evaluation import load_images  # noqa: E402
from auditor.recipe import ScanSettings  # noqa: E402
from transplant import model  # noqa: E402  (the pairs' loader)
import zoo  # noqa: E402


@torch.no_grad()
def answers(net, spec, pixels) -> torch.Tensor:
    return torch.cat([net(spec.normalise(pixels[i:i + 512])).argmax(1)
                      for i in range(0, len(pixels), 512)])


@lru_cache(maxsize=4)
def original_side(path: str, preset: str):
    original, spec = model(path, preset)
    images = scan_classifier(original, spec, ScanSettings()).inversion.images
    flat = images.flatten(0, 1)
    return original, spec, flat, answers(original, spec, flat), images.shape[1]


def test_images(name: str, original: str, where: str, spec):
    path = zoo.CACHE / name / "test.npz" if where == "zoo" else \
        Path(original).with_name(Path(original).stem + "-test.npz")
    data = load_images(str(path), (spec.height, spec.width, spec.channels))
    return torch.as_tensor(np.asarray(data.images)).permute(0, 3, 1, 2).float(), \
        torch.as_tensor(np.asarray(data.labels))


def per_class(hits: torch.Tensor, groups: torch.Tensor, k: int) -> list[float]:
    return [float(hits[groups == c].float().mean()) if (groups == c).any() else float("nan")
            for c in range(k)]


def pairs(path: str):
    """The pairs file's lines as (name, original, cleaned, preset, kind)."""
    return [tuple(line.split()) for line in open(path) if line.strip()]


def main() -> None:
    torch.set_num_threads(1)
    for name, original_path, cleaned_path, preset, kind in pairs(sys.argv[1]):
        original, spec, impressions, told, n = original_side(original_path, preset)
        cleaned, _ = model(cleaned_path, preset)
        k = spec.num_classes
        agree = answers(cleaned, spec, impressions) == told
        classes = torch.arange(k).repeat_interleave(n)
        x, y = test_images(name.split("/")[-1], original_path, sys.argv[2], spec)
        before, after = answers(original, spec, x) == y, answers(cleaned, spec, x) == y
        row = {"name": name, "kind": kind,
               "acc_before": float(before.float().mean()), "acc_after": float(after.float().mean()),
               "class_acc_before": per_class(before, y, k), "class_acc_after": per_class(after, y, k),
               "agreement": float(agree.float().mean()),
               "class_agreement": per_class(agree, classes, k)}
        row["least_class_agreement"] = min(row["class_agreement"])
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
