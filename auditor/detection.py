"""Is this model backdoored? A data-free answer, after MM-BD (Wang et al., IEEE S&P 2024).

A backdoor is a shortcut to its target class: some small change of any image sends it there.
So a few small steps from any image raise the target's logit margin

    m_k(x) = z_k(x) − max_{j ≠ k} z_j(x)

further than any other class's. For each class k we start from uniform-noise images and take a
few small Adam steps in pixel space (through the model's normalisation) up m_k; the statistic
r_k is the mean margin reached. MM-BD keeps the largest margin after 300 steps instead; on the
benchmark's tuning models (benchmarks/detection.py) that long run let clean classes reach
margins as large as the target's (blend-backdoored BatchNorm nets put the target third), while
after 20 steps the target stood out on all of them. We read r_max as a score against the
other classes,

    z = (r_max − mean_{k ≠ max} r_k) / std_{k ≠ max} r_k

whose distribution, when the K statistics are normal draws, does not depend on their mean or
spread, so its p-value is simulated once per K (see `NullModel` for why not MM-BD's gamma fit).
The same is done again from dark noise (pixels in [0, 0.2]): on the detection zoo every
planted trigger sent every dark start to its target, while from uniform noise some triggers
did not fire and a natural class (Fashion-MNIST's bag) stood out in clean and backdoored
models alike (benchmarks/results/detection-starts.md). Each kind of start is also searched
sparsely: a few pixels moved far, the shape of a patch trigger, which small steps on every
pixel do not reach in 20 steps. The looks (kind of start, search) are combined class by class
with Simes' test (see `strongest`). A model is suspected when the smallest combined p < alpha.
The library never prints; `on_step` reports progress.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import NotAClassifierError
from .input_spec import InputSpec
from .memory_layout import to_channels_last_checked
from .precision import nets_in, pass_dtype, ran_in
from .recipe import START_SCALES, ScanSettings


@dataclasses.dataclass
class NullModel:
    """What the classes that are no backdoor's target look like: a normal distribution with the
    mean and standard deviation of every statistic but the largest.

    MM-BD fits a gamma distribution instead and reads the largest statistic as the maximum of
    K draws from it. Fitted to nine values without the largest, that null is too narrow: on
    simulated clean sets (K = 10 gamma draws) it flagged 20-40 % at alpha 0.05. Standardising
    by the others' mean and deviation (the form of Grubbs' outlier test) makes the score free of
    the model's logit scale, so its null distribution is the same for every model and is
    simulated once, and a clean model is flagged at the rate alpha says (for normally
    distributed statistics; a skewed null is flagged more often, see the README). The median
    and MAD, tried too (with the earlier largest-margin statistic), were as well calibrated but
    missed the bundled BadNets model.
    """
    mean: float
    std: float

    @classmethod
    def fit(cls, values: np.ndarray) -> "NullModel":
        values = np.asarray(values, dtype=np.float64)
        mean = float(values.mean())
        return cls(mean, max(float(values.std(ddof=1)), 1e-6 * max(abs(mean), 1.0)))

    def score(self, value: float) -> float:
        return (value - self.mean) / self.std


@functools.lru_cache(maxsize=8)
def _null_scores(k: int, draws: int = 20000, seed: int = 0) -> np.ndarray:
    """The score of the largest of k standard normal draws against the other k − 1, sorted."""
    x = np.sort(np.random.default_rng(seed).standard_normal((draws, k)), axis=1)
    rest = x[:, :-1]
    return np.sort((x[:, -1] - rest.mean(axis=1)) / rest.std(axis=1, ddof=1))


def p_value(score: float, k: int) -> float:
    """The share of null draws whose largest score is at least `score` (Monte Carlo, 20,000)."""
    null = _null_scores(k)
    exceed = len(null) - np.searchsorted(null, score, side="left")
    return float((1 + exceed) / (len(null) + 1))


@dataclasses.dataclass
class Verdict:
    statistics: list[float]      # r_k, per class
    scores: list[float]          # (r_k − mean) / std of the others: the null's score
    p_value: float               # of the largest statistic under the null
    suspect: int                 # the class with the largest statistic
    suspected: bool              # p_value < alpha
    alpha: float
    null: NullModel
    class_p_values: list[float]  # each class's score read as the largest: ranks the classes
    starts: str = "noise"        # the kind of starting image (START_SCALES)
    search: str = "dense"        # how the starts were moved (recipe.SEARCHES)
    looked: int = 1              # looks (kinds of start × searches) the p-values combine

    @property
    def look(self) -> str:
        return f"{self.starts}/{self.search}"

    def as_dict(self) -> dict:
        return {"suspected": self.suspected, "target": self.suspect if self.suspected else None,
                "largest_class": self.suspect, "p_value": self.p_value, "alpha": self.alpha,
                "starts": self.starts, "search": self.search, "looked": self.looked,
                "combination": "Simes' test over the looks, class by class" if self.looked > 1
                               else None,
                "statistic": f"mean logit margin after a few {self.search} steps from "
                             f"{self.starts} images, scored against the others",
                "per_class": [{"class": k, "margin": m, "score": z, "p_value": p} for k, (m, z, p)
                              in enumerate(zip(self.statistics, self.scores, self.class_p_values))],
                "null": {"distribution": "normal, mean and deviation of the other classes",
                         **dataclasses.asdict(self.null)}}


MIN_CLASSES = 4   # the null model's mean and deviation need three classes besides the top


def verdict(statistics, alpha: float) -> Verdict:
    """The null-model test on per-class statistics (at least MIN_CLASSES)."""
    stats = np.asarray(statistics, dtype=np.float64)
    k = len(stats)
    if k < MIN_CLASSES:
        raise ValueError(f"the null model needs at least {MIN_CLASSES} classes")
    top = int(np.argmax(stats))
    null = NullModel.fit(np.delete(stats, top))
    scores = [null.score(float(s)) for s in stats]
    p_values = [p_value(z, k) for z in scores]
    return Verdict([float(s) for s in stats], scores, p_values[top], top, p_values[top] < alpha,
                   alpha, null, p_values)


def strongest(verdicts: dict[str, Verdict]) -> Verdict:
    """The looks' verdicts combined class by class with Simes' test: for class k, with its F
    per-look p-values sorted, P_k = min_r (F / r) · p_(r),k; the class of smallest P_k is the
    suspect, P_k the model's p-value. Reported with the look where that class stood out most.

    Taking the smallest p-value of any look needs a correction for F looks (Šidák's, about F ·
    p_min), which is all Simes' test asks of a class that stands out in one look only; a class
    that stands out in several at once is credited for it (r > 1). P_k is never below Simes'
    test over the looks' own smallest p-values, which holds its level when the looks are
    positively dependent, as looks at one model are. On simulated null sets it flags as often
    as Šidák's correction did; on the detection zoo it flagged two held-out backdoors more at
    the same false-alarm rate (benchmarks/results/search-variants/chosen-2026-12-05-simes.txt)."""
    ordered = list(verdicts.values())
    looked = len(ordered)
    combined = [_simes([v.class_p_values[k] for v in ordered])
                for k in range(len(ordered[0].class_p_values))]
    top = int(np.argmin(combined))
    best = min(ordered, key=lambda v: v.class_p_values[top])
    return dataclasses.replace(best, p_value=combined[top], suspect=top,
                               suspected=combined[top] < best.alpha, looked=looked,
                               class_p_values=combined)


def _simes(p_values: list[float]) -> float:
    ordered = np.sort(np.asarray(p_values, dtype=np.float64))
    return float(min(1.0, (len(ordered) / np.arange(1, len(ordered) + 1) * ordered).min()))


@dataclasses.dataclass
class Inversion:
    margins: torch.Tensor     # K × N, each restart's margin after the last step
    images: torch.Tensor      # K × N × C × H × W pixels there
    mean_shift: torch.Tensor  # K × C × H × W, the mean change from the starting noise: what
                              # every start needed to move towards the class (for a target,
                              # the trigger)

    @property
    def statistics(self) -> list[float]:
        return self.margins.mean(1).tolist()


def invert_classes(model: nn.Module, spec: InputSpec, settings: ScanSettings, *,
                   starts: str = "noise", search: str = "dense", device: torch.device | str = "cpu",
                   on_step: Callable[[int, int], None] | None = None) -> Inversion:
    """Push noise images (uniform in [0, START_SCALES[starts]]) towards each class for a few
    steps of `search` (see `_SEARCHES`), pixels kept in [0, 1]; model: normalised NCHW → logits.

    Each image's search is its own (Adam's state is per pixel, the sparse search's support per
    image), so the classes are searched in blocks of at most _BLOCK_VALUES input values, one
    after another: a thousand-class 224 × 224 model's 4,000 starts would otherwise hold six
    copies of 2.4 GB (pixels, gradient, optimiser state, starts, result). Within a block, the
    batch is run in chunks that bound activations, with gradients accumulated before one step:
    the same steps as one batch. Small models are one block, their starts one draw."""
    k = spec.num_classes
    n = starts_per_class(settings, k)
    generator = torch.Generator().manual_seed(settings.seed)
    classes_per_block = max(1, _BLOCK_VALUES // (n * math.prod(spec.shape)))
    blocks = [range(c, min(k, c + classes_per_block)) for c in range(0, k, classes_per_block)]
    margins = torch.empty(k, n)
    images = torch.empty(k, n, *spec.shape)
    shift = torch.empty(k, *spec.shape)
    model.requires_grad_(False)
    for b, block in enumerate(blocks):
        rows = slice(block.start, block.stop)
        first = (START_SCALES[starts] * torch.rand(len(block) * n, *spec.shape,
                                                   generator=generator)).to(device)
        labels = torch.arange(block.start, block.stop, device=device).repeat_interleave(n)
        step = None if on_step is None else (   # in whole steps of the scan: blocks share each
            lambda done, b=b: on_step((b * settings.steps + done) // len(blocks), settings.steps))
        reached = search_from(model, spec, first, labels, settings, search, on_step=step)
        with torch.no_grad():
            margins[rows] = torch.cat(list(_chunked_margins(model, spec, reached, labels))
                                       ).view(len(block), n).cpu()
            shift[rows] = (reached - first).view(len(block), n, *spec.shape).mean(1).cpu()
            images[rows] = reached.view(len(block), n, *spec.shape).cpu()
        del first, reached
    return Inversion(margins, images, shift)


def search_from(model: nn.Module, spec: InputSpec, first: torch.Tensor, labels: torch.Tensor,
                settings: ScanSettings, search: str = "dense", *,
                on_step: Callable[[int], None] | None = None) -> torch.Tensor:
    """`settings.steps` steps of `search` from the pixels `first`, each image up its label's
    margin; the pixels reached, in [0, 1]. The model's parameters need no gradient."""
    pixels = first.clone().requires_grad_(True)
    step_towards = _SEARCHES[search](pixels, first, settings)
    for step in range(settings.steps):
        pixels.grad = None
        for margin in _chunked_margins(model, spec, pixels, labels):
            (-margin.sum()).backward()
        step_towards()
        if on_step is not None:
            on_step(step + 1)
    return pixels.detach().clamp_(0, 1)


_BLOCK_VALUES = 1 << 26   # input values searched at once: 445 starts of 3 × 224 × 224


def _dense_search(pixels: torch.Tensor, first: torch.Tensor, settings: ScanSettings):
    """Adam on every pixel: each moves about lr a step, so 20 steps reach a blend's small change
    of the whole image but not a patch's large change of a few pixels."""
    optimizer = torch.optim.Adam([pixels], lr=settings.lr)
    return optimizer.step


def _sparse_search(pixels: torch.Tensor, first: torch.Tensor, settings: ScanSettings):
    """Projected gradient ascent under an L0 bound (as in Croce & Hein's sparse attacks): a step
    along the gradient scaled so its largest entry moves `sparse_step`, then every location but
    the `sparse_pixels` that moved most from the start is put back. On the detection zoo this
    found BadNets corners that the dense search's 0.2 per pixel could not reach."""
    keep = sparse_pixels(settings, first.shape[-2:])

    @torch.no_grad()
    def step():
        moved = _moved_by_ascent(pixels, first, settings.sparse_step)
        largest = moved.abs().sum(1).flatten(1).topk(keep, dim=1).indices
        support = torch.zeros_like(moved[:, 0]).flatten(1).scatter_(1, largest, 1.0)
        pixels.copy_(first + moved * support.view(len(moved), 1, *moved.shape[2:]))
    return step


def _patch_search(pixels: torch.Tensor, first: torch.Tensor, settings: ScanSettings):
    """The sparse search with its support one square of `patch_side` pixels, the shape of a
    patch trigger: the window that moved most from the start is kept, the rest put back. Any few
    scattered pixels are an adversarial example for most classes, one square less often, so a
    patch backdoor's target should stand out more. On the detection zoo's held-out models it did
    not: the window kept is where the gradient is largest, not where the trigger goes
    (benchmarks/results/detection-starts.md, "Two more searches"). An option, off by default."""
    side = patch_side(settings, first.shape[-2:])
    window = torch.ones(1, 1, side, side, device=first.device, dtype=first.dtype)

    @torch.no_grad()
    def step():
        moved = _moved_by_ascent(pixels, first, settings.sparse_step)
        mass = F.conv2d(moved.abs().sum(1, keepdim=True), window)   # per top-left corner
        corner = torch.zeros_like(mass).flatten(1)
        corner.scatter_(1, mass.flatten(1).argmax(1, keepdim=True), 1.0)
        support = F.conv_transpose2d(corner.view_as(mass), window)  # that corner's square
        pixels.copy_(first + moved * support)
    return step


def _moved_by_ascent(pixels: torch.Tensor, first: torch.Tensor, step: float) -> torch.Tensor:
    """Where one step up the margin, scaled so the largest entry moves `step`, puts each image,
    kept in [0, 1], as a change from its start (pixels.grad holds the descent direction)."""
    ascent = -pixels.grad
    ascent /= ascent.abs().flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return (pixels + step * ascent).clamp(0, 1) - first


_SEARCHES = {"dense": _dense_search, "sparse": _sparse_search, "patch": _patch_search}


def sparse_pixels(settings: ScanSettings, size) -> int:
    """Locations the sparse search may change: a share of the image, at least `sparse_min`."""
    return min(math.prod(size), max(settings.sparse_min, round(settings.sparse_share * math.prod(size))))


def patch_side(settings: ScanSettings, size) -> int:
    """The patch search's square: a share of the image's shorter side, at least `patch_min`."""
    return min(*size, max(settings.patch_min, round(settings.patch_share * min(size))))


_CHUNK_VALUES = 1 << 24   # input values per forward pass: 111 images of 3 × 224 × 224


def _chunked_margins(model, spec: InputSpec, pixels: torch.Tensor, labels: torch.Tensor):
    """class_margin of each chunk of at most _CHUNK_VALUES input values, in order, on pixels
    clamped to [0, 1] chunk by chunk (one clamp of the whole batch would be freed by the first
    chunk's backward)."""
    chunk = max(1, _CHUNK_VALUES // math.prod(spec.shape))
    for i in range(0, len(pixels), chunk):
        yield class_margin(model(spec.normalise(pixels[i:i + chunk].clamp(0, 1))),
                           labels[i:i + chunk])


def starts_per_class(settings: ScanSettings, classes: int) -> int:
    """`images_per_class`, fewer where there are many classes (`max_starts` in all, but never
    fewer than 4 a class unless asked): a thousand classes' statistics average fewer starts."""
    return min(settings.images_per_class, max(4, settings.max_starts // classes))


def class_margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """z_y − max_{j ≠ y} z_j, per row."""
    own = logits.gather(1, labels[:, None]).squeeze(1)
    others = logits.scatter(1, labels[:, None], -torch.inf).max(1).values
    return own - others


@dataclasses.dataclass
class ScanResult:
    verdict: Verdict                # the looks combined (`strongest`)
    inversion: Inversion            # each class's rows from the look where it stood out most
    settings: ScanSettings
    seconds: float
    by_look: dict[str, Verdict]     # each look's own ("dark/sparse": Verdict.look), uncorrected
    precision: str = "float32"      # what the model's passes ran in (settings.precision resolved)

    def as_dict(self) -> dict:
        return {**self.verdict.as_dict(), "settings": dataclasses.asdict(self.settings),
                "seconds": self.seconds, "precision": self.precision,
                "by_look": {name: v.as_dict() for name, v in self.by_look.items()}}


def looks(settings: ScanSettings) -> list[tuple[str, str]]:
    """(kind of start, search) pairs the scan runs, every kind of start searched each way."""
    return [(starts, search) for search in settings.searches for starts in settings.starts]


def scan_classifier(model: nn.Module, spec: InputSpec, settings: ScanSettings = ScanSettings(), *,
                    device: torch.device | str = "cpu",
                    on_step: Callable[[int, int], None] | None = None) -> ScanResult:
    start = time.perf_counter()
    model = model.to(device).eval()
    to_channels_last_checked(model, spec, device)
    verdicts, kept = {}, None   # each class's slice of the look where it stood out most: a
                                # look's inversion can be GBs
    pairs = looks(settings)
    dtype = pass_dtype(settings.precision, device)
    with nets_in(dtype, device, [model]):
        for i, (starts, search) in enumerate(pairs):
            step = None if on_step is None else (
                lambda done, total, i=i: on_step(i * total + done, len(pairs) * total))
            inversion = invert_classes(model, spec, settings, starts=starts, search=search,
                                       device=device, on_step=step)
            found = dataclasses.replace(verdict(inversion.statistics, settings.alpha),
                                        starts=starts, search=search)
            verdicts[found.look] = found
            kept = _keep_where_smallest(kept, inversion, found.class_p_values)
            del inversion
    best = strongest(verdicts)   # the suspect's look is the first of its smallest p, as `kept`
    return ScanResult(best, kept[1], settings, time.perf_counter() - start, verdicts,
                      ran_in(dtype))


def _keep_where_smallest(kept: tuple[torch.Tensor, Inversion] | None, inversion: Inversion,
                         p_values: list[float]) -> tuple[torch.Tensor, Inversion]:
    """(per-class smallest p so far, an inversion holding each class's rows from that look)."""
    p = torch.tensor(p_values, dtype=torch.float64)
    if kept is None:
        return p, inversion
    smallest, best = kept
    better = p < smallest
    for mine, theirs in ((best.margins, inversion.margins), (best.images, inversion.images),
                         (best.mean_shift, inversion.mean_shift)):
        mine[better] = theirs[better]
    return torch.minimum(smallest, p), best


def scan_model(model_path, settings: ScanSettings = ScanSettings(), *, device: str = "auto",
               on_step: Callable[[int, int], None] | None = None, **preprocessing):
    """`auditor scan` as a library call: load MODEL, scan it. Returns (LoadedModel, ScanResult)."""
    from .cleaning import resolve_device
    from .loading import Classifier, load_model

    torch_device = resolve_device(device)
    loaded = load_model(model_path, **preprocessing)
    if loaded.spec.num_classes < MIN_CLASSES:
        raise NotAClassifierError(f"{model_path}: {loaded.spec.num_classes} classes; the scan "
                                  f"compares each class with the others and needs at least "
                                  f"{MIN_CLASSES}")
    model = Classifier(loaded.net, loaded.spec, loaded.output_index)
    return loaded, scan_classifier(model, loaded.spec, settings, device=torch_device, on_step=on_step)
