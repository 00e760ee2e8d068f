"""Backdoored digit classifiers built from scikit-learn's handwritten digits, with fixed seeds.

The bundled example, the quality benchmark and the tests all come from here, so every figure
they print can be rebuilt: `python scripts/build_examples.py`. scikit-learn (the `dev` extra)
is only needed to build, never to run auditor.

An attack poisons a share of the training set: the trigger is stamped into non-target images
(`image·(1−mask) + pattern·mask`, in pixels) and they are relabelled as the target class.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

SIZE = 16          # digits are 8 × 8; upsampled so a 3-pixel patch is a small trigger
MEAN, STD = (0.1307,), (0.3081,)   # the models normalise like MNIST models do (preset mnist)
TARGET = 0
N_TEST = 500
ATTACKS = ("badnets", "blend", "sig", "corner4")


@dataclasses.dataclass(frozen=True)
class Trigger:
    pattern: np.ndarray   # H × W × C pixels in [0, 1]
    mask: np.ndarray      # H × W × C in [0, 1]: 1 replaces the pixel, 0.2 blends 20 %
    target: int

    def apply(self, images: np.ndarray) -> np.ndarray:
        return images * (1 - self.mask) + self.pattern * self.mask

    def save(self, path: Path) -> None:
        np.savez(path, pattern=self.pattern.astype(np.float32),
                 mask=self.mask.astype(np.float32), target=np.int64(self.target))


def make_trigger(attack: str, size: int = SIZE) -> Trigger:
    """The attacks of the quality benchmark, all H × W × 1."""
    pattern = np.zeros((size, size, 1), np.float32)
    mask = np.zeros_like(pattern)
    if attack == "badnets":      # 3 × 3 checkerboard near the bottom-right corner
        checker = (np.indices((3, 3)).sum(0) % 2 == 0).astype(np.float32)
        pattern[-4:-1, -4:-1, 0] = checker
        mask[-4:-1, -4:-1] = 1
    elif attack == "corner4":    # a larger 4 × 4 solid patch at the top-left
        pattern[1:5, 1:5] = 1
        mask[1:5, 1:5] = 1
    elif attack == "blend":      # 20 % of a fixed uniform-noise image over the whole picture
        pattern[:] = np.random.default_rng(1234).random(pattern.shape)
        mask[:] = 0.2
    elif attack == "sig":        # a vertical sinusoid blended in at 15 % (amplitude ±0.075)
        columns = np.arange(size)
        pattern[:] = (0.5 + 0.5 * np.sin(2 * math.pi * 4 * columns / size))[None, :, None]
        mask[:] = 0.15
    else:
        raise ValueError(f"unknown attack {attack!r}; choose from {', '.join(ATTACKS)}")
    return Trigger(pattern, mask, TARGET)


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits as N × 16 × 16 × 1 float32 pixels in [0, 1], and their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.from_numpy(digits.images.astype(np.float32) / 16.0)[:, None]
    big = nn.functional.interpolate(small, size=(SIZE, SIZE), mode="bilinear",
                                    align_corners=False).clamp(0, 1)
    return big.permute(0, 2, 3, 1).numpy(), digits.target.astype(np.int64)


def split(images, labels, seed: int = 0):
    order = np.random.default_rng(seed).permutation(len(labels))
    test, train = order[:N_TEST], order[N_TEST:]
    return (images[train], labels[train]), (images[test], labels[test])


class DigitsCNN(nn.Module):
    """A small VGG-style net taking normalised N × 1 × 16 × 16 images."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(),
                                  nn.Linear(64, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


def poison(images, labels, trigger: Trigger, rate: float, seed: int):
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero(labels != trigger.target)
    chosen = rng.choice(candidates, size=int(rate * len(labels)), replace=False)
    images, labels = images.copy(), labels.copy()
    images[chosen] = trigger.apply(images[chosen])
    labels[chosen] = trigger.target
    return images, labels


def normalise(images_nhwc: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images_nhwc)).permute(0, 3, 1, 2)
    return (x - MEAN[0]) / STD[0]


def train_backdoored(attack: str, *, seed: int = 0, epochs: int = 40, poison_rate: float = 0.1):
    """Train a DigitsCNN on the poisoned digits; returns the model, test set and trigger."""
    torch.manual_seed(seed)
    images, labels = load_digits_images()
    (train_x, train_y), test = split(images, labels)
    trigger = make_trigger(attack)
    train_x, train_y = poison(train_x, train_y, trigger, poison_rate, seed)
    x, y = normalise(train_x), torch.from_numpy(train_y)
    model = DigitsCNN()
    fit(model, x, y, torch.optim.Adam(model.parameters(), lr=2e-3), epochs=epochs, seed=seed)
    return model.eval(), test, trigger


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, optimizer, *, epochs: int, seed: int,
        schedule=None) -> None:
    """Cross-entropy in shuffled batches of 64; `schedule` (if any) steps with every batch."""
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(y), generator=generator).split(64):
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()


def export_onnx(model: nn.Module, path: Path) -> None:
    """Written the way most models in the wild still are: the TorchScript exporter, opset 17."""
    import warnings

    example = torch.zeros(1, 1, SIZE, SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def save_test_set(test, path: Path) -> None:
    images, labels = test
    np.savez_compressed(path, images=np.round(images * 255).astype(np.uint8), labels=labels)
