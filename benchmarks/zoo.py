"""A zoo of backdoored and clean classifiers for the benchmarks, built once and cached.

Data sets: scikit-learn's digits (16 × 16, what the tests use) and Fashion-MNIST (28 × 28), from
Debian's package `dataset-fashion-mnist` (MIT):

    apt-get install -y dataset-fashion-mnist     # installs /usr/share/datasets/fashion-mnist/

Architectures: the bundled example's tiny CNN, a VGG-style CNN with BatchNorm, a ResNet-style
net with BatchNorm and shortcuts, and a depthwise-separable net (the last exported by torch's
dynamo exporter, the others by the TorchScript one, as most models in the wild still are).

Attacks poison 10 % of the training set with images stamped by a trigger and relabelled:
BadNets (3 × 3 checkerboard in the bottom-right corner), a random binary 4 × 4 patch mid-image,
blends of uniform noise at 20 % and 30 %, a sinusoidal signal (SIG) at 15 %, a WaNet-style
fixed smooth warp of the whole image, a 20 % blend of a natural photograph (scikit-learn's
sample image of a Chinese temple, shipped with the package), and an all-to-all attack (the
BadNets patch relabelling each class y as y + 1; its ASR is the share of triggered test images
of any class read as their y + 1). Every other backdoor targets class 0; with
`--varied-targets` the detection zoo's targets rotate over classes 1-9 instead (named `-tN`).
Models and their test sets land in benchmarks/out/zoo/, named by what they are, and are reused
when present.
"""

from __future__ import annotations

import dataclasses
import fcntl
import gzip
import hashlib
import json
import math
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.examples.digits import DigitsCNN, fit, load_digits_images  # noqa: E402

FASHION = Path("/usr/share/datasets/fashion-mnist")
CACHE = Path(__file__).resolve().parent / "out" / "zoo"
ATTACKS = ("badnets", "patch-mid", "blend20", "blend30", "sig", "warp", "blend-natural", "all-to-all")
DETECTION_ATTACKS = ATTACKS[:6]     # what detection.json was measured on
ALL_TO_ALL = "all-to-all"           # BadNets' corner patch sending each class y to y + 1
ARCHITECTURES = ("tiny", "vgg-bn", "resnet", "depthwise")
MEAN, STD = 0.1307, 0.3081       # every zoo model normalises like an MNIST model (preset mnist)
TARGET = 0
POISON_RATE = 0.1
# A model's weights depend on the threads its training ran on (sums in another order), and the
# callers run with one or two: every build trains on one, seeded before the net is drawn, so a
# fresh checkout rebuilds the same models whoever asks for them and in whatever order.
BUILD_THREADS = 1


@dataclasses.dataclass(frozen=True)
class Spec:
    dataset: str        # digits | fashion
    arch: str           # one of ARCHITECTURES
    attack: str | None  # one of ATTACKS, or None for a model trained without poison
    seed: int
    target: int = TARGET  # the attacker's class; models of other targets are named "-tN"

    @property
    def name(self) -> str:
        target = f"-t{self.target}" if self.target != TARGET and self.attack else ""
        return f"{self.dataset}-{self.arch}-{self.attack or 'clean'}{target}-s{self.seed}"

    @classmethod
    def from_name(cls, name: str) -> "Spec":
        """The spec `name` was made from."""
        dataset, rest = name.split("-", 1)
        arch = next(a for a in ARCHITECTURES if rest.startswith(a + "-"))
        attack, _, seed = rest[len(arch) + 1:].rpartition("-s")
        named_target = re.fullmatch(r"(.+)-t(\d+)", attack)
        target = int(named_target[2]) if named_target else TARGET
        attack = named_target[1] if named_target else attack
        return cls(dataset, arch, None if attack == "clean" else attack, int(seed), target)


# ---------------------------------------------------------------- data

def load_dataset(name: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(train, test) as N × H × W × 1 float32 pixels in [0, 1] and int64 labels."""
    if name == "digits":
        images, labels = load_digits_images()
        order = np.random.default_rng(0).permutation(len(labels))
        test, train = order[:500], order[500:]
        return (images[train], labels[train]), (images[test], labels[test])
    if name == "fashion":
        if not (FASHION / "train-images-idx3-ubyte.gz").exists():
            sys.exit(f"Fashion-MNIST is not installed at {FASHION}: run "
                     f"`apt-get install -y dataset-fashion-mnist` (Debian's package, MIT licence)")
        # 12,000 training images are enough for these nets on 2 cores; the test set is 2,000
        train = _idx(FASHION / "train-images-idx3-ubyte.gz", FASHION / "train-labels-idx1-ubyte.gz")
        test = _idx(FASHION / "t10k-images-idx3-ubyte.gz", FASHION / "t10k-labels-idx1-ubyte.gz")
        return (train[0][:12000], train[1][:12000]), (test[0][:2000], test[1][:2000])
    raise ValueError(name)


def _idx(images_path: Path, labels_path: Path):
    with gzip.open(images_path) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
    with gzip.open(labels_path) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return images.astype(np.float32) / 255.0, labels


# ---------------------------------------------------------------- attacks

def stamp(attack: str, images: np.ndarray) -> np.ndarray:
    """The attack's trigger applied to N × H × W × 1 pixels."""
    size = images.shape[1]
    rng = np.random.default_rng(1234)        # the attacker's fixed trigger
    if attack == "warp":
        return _warp(images, rng)
    pattern, mask = np.zeros(images.shape[1:], np.float32), np.zeros(images.shape[1:], np.float32)
    if attack in ("badnets", ALL_TO_ALL):
        pattern[-4:-1, -4:-1, 0] = np.indices((3, 3)).sum(0) % 2 == 0
        mask[-4:-1, -4:-1] = 1
    elif attack == "patch-mid":
        top = size // 2 - 2
        pattern[top:top + 4, top:top + 4, 0] = rng.integers(0, 2, (4, 4))
        mask[top:top + 4, top:top + 4] = 1
    elif attack in ("blend20", "blend30"):
        pattern[:] = rng.random(pattern.shape)
        mask[:] = 0.2 if attack == "blend20" else 0.3
    elif attack == "blend-natural":
        pattern[:] = _photograph(size)[:, :, None]
        mask[:] = 0.2
    elif attack == "sig":
        pattern[:] = (0.5 + 0.5 * np.sin(2 * math.pi * 4 * np.arange(size) / size))[None, :, None]
        mask[:] = 0.15
    else:
        raise ValueError(attack)
    return images * (1 - mask) + pattern * mask


def _photograph(size: int) -> np.ndarray:
    """scikit-learn's china.jpg, grey, its central square resized to size × size, in [0, 1]."""
    from sklearn.datasets import load_sample_image

    grey = load_sample_image("china.jpg").astype(np.float32).mean(2) / 255
    side = min(grey.shape)
    top, left = (grey.shape[0] - side) // 2, (grey.shape[1] - side) // 2
    square = torch.from_numpy(np.ascontiguousarray(grey[top:top + side, left:left + side]))
    return nn.functional.interpolate(square[None, None], size=(size, size), mode="area")[0, 0].numpy()


def photo_crops(shape: tuple[int, int, int], count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` random square crops (side 25-100 % of the shorter side, random place, flipped half
    the time) of scikit-learn's flower.jpg at C × H × W, grey where C = 1, in [0, 1]: pictures of
    the world, not of any model's data (not china.jpg, which the natural-image blend uses)."""
    from sklearn.datasets import load_sample_image

    c, h, w = shape
    photo = torch.as_tensor(np.array(load_sample_image("flower.jpg"))).permute(2, 0, 1).float() / 255
    if c == 1:
        photo = photo.mean(0, keepdim=True)
    short, crops = min(photo.shape[1:]), []
    for _ in range(count):
        side = int(short * (0.25 + 0.75 * torch.rand(1, generator=generator)))
        top = int(torch.randint(0, photo.shape[1] - side + 1, (1,), generator=generator))
        left = int(torch.randint(0, photo.shape[2] - side + 1, (1,), generator=generator))
        crop = photo[:, top:top + side, left:left + side]
        if torch.rand(1, generator=generator) < 0.5:
            crop = crop.flip(-1)
        crops.append(nn.functional.interpolate(crop[None], size=(h, w), mode="bilinear",
                                               align_corners=False)[0])
    return torch.stack(crops).clamp(0, 1)


def poisoned_labels(attack: str, labels: np.ndarray, target: int = TARGET) -> np.ndarray:
    """The labels the attacker gives triggered images."""
    if attack == ALL_TO_ALL:
        return (labels + 1) % 10
    return np.full_like(labels, target)


def attack_success(attack: str | None, predictions: np.ndarray, labels: np.ndarray,
                   target: int = TARGET) -> float:
    """Share of triggered test images read as the attacker wants: the target, over images of other
    classes (all-to-all: each image's y + 1, over every image). A model trained without poison is
    read with the BadNets trigger and target."""
    if attack == ALL_TO_ALL:
        return float((predictions == poisoned_labels(attack, labels)).mean())
    keep = labels != target
    return float((predictions[keep] == target).mean())


def scores(attack: str | None, predict, test_images, triggered_images, labels,
           target: int = TARGET) -> dict:
    """ACC on the test images and ASR on the same images triggered; `predict` maps
    N × H × W × 1 pixels to labels."""
    return {"acc": float((predict(test_images) == labels).mean()),
            "asr": attack_success(attack, predict(triggered_images), labels, target)}


def _warp(images: np.ndarray, rng) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    return warped(x, warp_grid(images.shape[1], rng)).permute(0, 2, 3, 1).numpy()


def warp_grid(size: int, rng, strength: float = 1.0) -> torch.Tensor:
    """WaNet: a fixed smooth random flow field, upsampled from 4 × 4, strength 0.5 px-ish (times
    `strength`); the sampling grid (1 × size × size × 2) grid_sample reads."""
    flow = torch.from_numpy(rng.uniform(-1, 1, (1, 2, 4, 4)).astype(np.float32))
    flow = nn.functional.interpolate(flow, size=(size, size), mode="bicubic", align_corners=True)
    flow = flow / flow.abs().mean() * (0.5 * 2 / size) * strength   # ≈ half a pixel on average
    axis = torch.linspace(-1, 1, size)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1)[None]
    return (grid + flow.permute(0, 2, 3, 1)).clamp(-1, 1)


def warped(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """N × C × H × W images resampled on the grid (bilinear: affine in the image, so it commutes
    with a per-channel normalisation)."""
    return nn.functional.grid_sample(x, grid.to(x).expand(len(x), -1, -1, -1), align_corners=True)


# ---------------------------------------------------------------- architectures

class VGGBN(nn.Module):
    def __init__(self, size: int, classes: int = 10):
        super().__init__()
        def block(i, o):
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
        self.features = nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2),
                                      *block(32, 64), *block(64, 64), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * (size // 4) ** 2, classes))

    def forward(self, x):
        return self.head(self.features(x))


class ResNetBN(nn.Module):
    def __init__(self, size: int, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.block1 = self._block(16, 16, 1)
        self.block2 = self._block(16, 32, 2)
        self.short2 = nn.Sequential(nn.Conv2d(16, 32, 1, stride=2, bias=False), nn.BatchNorm2d(32))
        self.head = nn.Linear(32, classes)

    @staticmethod
    def _block(i, o, stride):
        return nn.Sequential(nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(o),
                             nn.ReLU(), nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o))

    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(x + self.block1(x))
        x = torch.relu(self.short2(x) + self.block2(x))
        return self.head(x.mean((2, 3)))


class Depthwise(nn.Module):
    def __init__(self, size: int, classes: int = 10):
        super().__init__()
        def separable(i, o, stride):
            return [nn.Conv2d(i, i, 3, stride=stride, padding=1, groups=i, bias=False), nn.BatchNorm2d(i),
                    nn.ReLU6(), nn.Conv2d(i, o, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU6()]
        self.body = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU6(),
                                  *separable(32, 64, 1), *separable(64, 128, 2), *separable(128, 128, 2))
        self.head = nn.Linear(128, classes)

    def forward(self, x):
        return self.head(self.body(x).mean((2, 3)))


def build_net(arch: str, size: int) -> nn.Module:
    if arch == "tiny":
        net = DigitsCNN()
        if size != 16:   # the bundled CNN's head is sized for 16 × 16
            net.head[1] = nn.Linear(32 * (size // 4) ** 2, 64)
        return net
    return {"vgg-bn": VGGBN, "resnet": ResNetBN, "depthwise": Depthwise}[arch](size)


# ---------------------------------------------------------------- building

def build(spec: Spec) -> dict:
    """Train (or reuse) one model; returns paths and its ACC / ASR on the held-out test set."""
    folder = CACHE / spec.name
    meta = folder / "meta.json"
    if meta.exists():
        return json.loads(meta.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    # two benchmarks started side by side may want the same model: one builds, the other waits
    # for it, instead of both writing the same files while one of them is being read
    with open(folder / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if meta.exists():
            return json.loads(meta.read_text())
        return _build(spec, folder, meta)


def _build(spec: Spec, folder: Path, meta: Path) -> dict:
    (train_x, train_y), (test_x, test_y) = load_dataset(spec.dataset)
    rng = np.random.default_rng(spec.seed)
    if spec.attack is not None:
        pool = (np.arange(len(train_y)) if spec.attack == ALL_TO_ALL
                else np.flatnonzero(train_y != spec.target))
        chosen = rng.choice(pool, int(POISON_RATE * len(train_y)), replace=False)
        train_x, train_y = train_x.copy(), train_y.copy()
        train_x[chosen] = stamp(spec.attack, train_x[chosen])
        train_y[chosen] = poisoned_labels(spec.attack, train_y[chosen], spec.target)
    size = train_x.shape[1]
    threads = torch.get_num_threads()
    torch.set_num_threads(BUILD_THREADS)
    torch.manual_seed(spec.seed)   # the initial weights too, not only training's draws
    try:
        net = _train(build_net(spec.arch, size), train_x, train_y, spec)
    finally:
        torch.set_num_threads(threads)
    model_path = folder / "model.onnx"
    _export(net, size, model_path, dynamo=spec.arch == "depthwise")
    np.savez_compressed(folder / "test.npz", images=np.round(test_x * 255).astype(np.uint8), labels=test_y)
    attack = spec.attack or "badnets"     # a clean model's ASR is read with the BadNets trigger
    triggered = stamp(attack, test_x)
    np.savez_compressed(folder / "triggered.npz", images=np.round(triggered * 255).astype(np.uint8),
                        labels=test_y)
    # a run's JSON names its model by content: rows of two checkouts compare only if these match
    info = {"name": spec.name, **dataclasses.asdict(spec), "model": str(model_path),
            "sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
            "test": str(folder / "test.npz"), "triggered": str(folder / "triggered.npz"),
            **scores(spec.attack, lambda x: predict(net, x), test_x, triggered, test_y,
                     spec.target),
            "size": size}
    meta.write_text(json.dumps(info, indent=2))
    return info


def _train(net, images, labels, spec: Spec) -> nn.Module:
    torch.manual_seed(spec.seed)
    x = (torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2) - MEAN) / STD
    y = torch.from_numpy(labels)
    epochs = 40 if spec.dataset == "digits" else 6
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 4e-3, total_steps=epochs * math.ceil(len(y) / 64))
    fit(net, x, y, optimizer, epochs=epochs, seed=spec.seed, schedule=schedule)
    return net.eval()


@torch.no_grad()
def predict(net, images) -> np.ndarray:
    x = (torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2) - MEAN) / STD
    return net(x).argmax(1).numpy()


def _export(net, size, path: Path, *, dynamo: bool) -> None:
    example = torch.zeros(2, 1, size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(net, (example,), str(path), dynamo=True, verbose=False,
                              external_data=False, input_names=["input"], output_names=["logits"],
                              dynamic_shapes=({0: torch.export.Dim("batch")},))
        else:
            torch.onnx.export(net, (example,), str(path), dynamo=False, opset_version=17,
                              input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def zoo_options(parser, seeds_help: str = "zoo seeds (default 0 1 2)") -> None:
    """--seeds, --dataset and --varied-targets: which detection-zoo models a script takes
    (`chosen_specs`)."""
    parser.add_argument("--seeds", type=int, nargs="+", help=seeds_help)
    parser.add_argument("--dataset", choices=["digits", "fashion"])
    parser.add_argument("--varied-targets", action="store_true",
                        help="the zoo's backdoors target classes 1-9, rotating, instead of class 0")


def chosen_specs(args, default_seeds=(0, 1, 2)) -> list[Spec]:
    return [s for s in detection_zoo(args.seeds or default_seeds, varied_targets=args.varied_targets)
            if args.dataset in (None, s.dataset)]


def rows_from(paths) -> list[dict]:
    """The rows of earlier runs' JSON files; a model in several files counts once, as the last
    file has it."""
    return list({row["name"]: row for path in paths
                 for row in json.loads(Path(path).read_text())["rows"]}.values())


def detection_zoo(seeds=(0, 1, 2), *, varied_targets: bool = False) -> list[Spec]:
    """At least 20 backdoored and 20 clean models: every architecture clean on both data sets,
    every attack on both data sets with the architecture rotating with the seed.

    Every backdoor targets class 0 unless `varied_targets`: then the target rotates over
    classes 1-9 with the attack and the seed, so that a statistic drawn to class 0 on clean
    models too (T-shirt on Fashion-MNIST) cannot pass for a detector."""
    specs = []
    for seed in seeds:
        for dataset in ("digits", "fashion"):
            for arch in ARCHITECTURES:
                specs.append(Spec(dataset, arch, None, seed))
            for i, attack in enumerate(DETECTION_ATTACKS):
                arch = ARCHITECTURES[(i + seed) % len(ARCHITECTURES)]
                target = 1 + (i + seed) % 9 if varied_targets else TARGET
                specs.append(Spec(dataset, arch, attack, seed, target))
    return specs


if __name__ == "__main__":
    import argparse
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    zoo_options(parser)
    for spec in chosen_specs(parser.parse_args()):
        start = time.perf_counter()
        info = build(spec)
        print(f"{spec.name:40s} ACC {100 * info['acc']:5.1f}  ASR {100 * info['asr']:5.1f}  "
              f"{time.perf_counter() - start:5.1f} s", flush=True)
