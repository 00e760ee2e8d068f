"""Clean accuracy (ACC) and attack success rate (ASR), for users who have labelled images.

ASR counts the non-target images that the model classifies correctly without the trigger and
that the trigger flips to the attacker's class.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import DataFileError

Predict = Callable[[np.ndarray], np.ndarray]   # N × H × W × C pixels in [0, 1] → N labels


@dataclasses.dataclass(frozen=True)
class LabelledImages:
    images: np.ndarray    # N × H × W × C float32 pixels in [0, 1]
    labels: np.ndarray    # N int64


@dataclasses.dataclass(frozen=True)
class PixelTrigger:
    pattern: np.ndarray   # H × W × C pixels
    mask: np.ndarray      # H × W × C in [0, 1]
    target: int | None

    def apply(self, images: np.ndarray) -> np.ndarray:
        return (images * (1 - self.mask) + self.pattern * self.mask).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Scores:
    acc: float
    asr: float | None
    n_images: int
    n_attack_images: int | None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def evaluate(predict: Predict, data: LabelledImages, trigger: PixelTrigger | None = None,
             target: int | None = None) -> Scores:
    clean = predict(data.images)
    acc = float((clean == data.labels).mean())
    if trigger is None:
        return Scores(acc, None, len(data.labels), None)
    target = trigger.target if target is None else target
    if target is None:
        raise DataFileError("the trigger file holds no target: pass --target")
    eligible = (data.labels != target) & (clean == data.labels)
    if not eligible.any():
        return Scores(acc, None, len(data.labels), 0)
    flipped = predict(trigger.apply(data.images[eligible])) == target
    return Scores(acc, float(flipped.mean()), len(data.labels), int(eligible.sum()))


def load_images(path: str | Path, shape_hwc: tuple[int, int, int]) -> LabelledImages:
    arrays = _load_npz(path, ("images", "labels"))
    images, labels = _as_pixels(arrays["images"], path), arrays["labels"]
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[1:] != shape_hwc:
        raise DataFileError(f"{path}: images are {images.shape[1:]} (H, W, C) but the model takes "
                            f"{shape_hwc}")
    if labels.shape != (images.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise DataFileError(f"{path}: labels must be {images.shape[0]} integers")
    return LabelledImages(images, labels.astype(np.int64))


def load_trigger(path: str | Path, shape_hwc: tuple[int, int, int]) -> PixelTrigger:
    arrays = _load_npz(path, ("pattern", "mask"))
    pattern, mask = (_as_pixels(arrays[k], path) for k in ("pattern", "mask"))
    pattern, mask = (a[..., None] if a.ndim == 2 else a for a in (pattern, mask))
    for name, a in (("pattern", pattern), ("mask", mask)):
        if a.shape != shape_hwc:
            raise DataFileError(f"{path}: {name} is {a.shape} but the model takes {shape_hwc} (H, W, C)")
    target = int(arrays["target"]) if "target" in arrays else None
    return PixelTrigger(pattern, mask, target)


def _load_npz(path, keys) -> dict:
    try:
        # allow_pickle=False: an evaluation file must not be able to run code
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file") from None
    except Exception as err:
        raise DataFileError(f"{path}: not a readable .npz file ({err})") from None
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise DataFileError(f"{path}: missing array(s) {', '.join(missing)}")
    return arrays


def _as_pixels(a: np.ndarray, path) -> np.ndarray:
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if not np.issubdtype(a.dtype, np.floating):
        raise DataFileError(f"{path}: pixels must be uint8 or float in [0, 1], got {a.dtype}")
    if a.size and (a.min() < 0 or a.max() > 1):
        raise DataFileError(f"{path}: float pixels must lie in [0, 1]")
    return a.astype(np.float32)
