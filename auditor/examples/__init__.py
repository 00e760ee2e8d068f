"""The bundled example: a backdoored digits classifier, its labelled test set and its trigger.

Built by `scripts/build_examples.py` from scikit-learn's digits with fixed seeds; see digits.py.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

HERE = Path(__file__).parent


@dataclasses.dataclass(frozen=True)
class Example:
    model: Path           # the backdoored classifier (ONNX)
    test_set: Path        # .npz: images (N, H, W, C) uint8, labels
    trigger: Path         # .npz: pattern, mask (H, W, C), target
    attack: str
    target: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


def bundled() -> Example:
    manifest = json.loads((HERE / "manifest.json").read_text())
    return Example(model=HERE / manifest["model"], test_set=HERE / manifest["test_set"],
                   trigger=HERE / manifest["trigger"], attack=manifest["attack"],
                   target=manifest["target"], mean=tuple(manifest["mean"]),
                   std=tuple(manifest["std"]))
