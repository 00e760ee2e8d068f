"""Did cleaning remove the shortcut the original model was suspected of? (clean's residual check)

The scan of a clean model alone misses most backdoors that survive cleaning: the student is
trained to ignore the small changes a search makes, so a search from noise no longer finds the
planted shortcut even where the planted trigger still works (README, "A release gate"). The
original model still has it. So when the scan of the original suspects class c, the original
is pushed to c from dark starts by the scan's dense search, and the clean model is asked what
it makes of those images. On 59 zoo models cleaned with the defaults, where the backdoor
survived and the original was suspected, the clean model answered c on 56-100 % of them (100 %
on 27 of 29); where it was erased, on 0-6 % for four of seven, but 91-100 % for the other three
(README, "The original's shortcut"; benchmarks/results/residual-transfer/).

The check can only be as good as the scan of the original: an original that is not suspected
gives no class to check, and an original wrongly suspected of a natural class gives one whose
images the clean model rightly still follows, a false alarm.
"""

from __future__ import annotations

import dataclasses
import time

import torch
from torch import nn

from .detection import ScanResult, search_from, starts_per_class
from .input_spec import InputSpec
from .precision import nets_in, pass_dtype
from .recipe import START_SCALES, ScanSettings

KEPT_SHARE = 0.5        # the shortcut is kept if the clean model answers c on this share or more
STARTS = "dark"         # dark starts: every planted trigger of the zoo fired from them
SEARCH = "dense"


@dataclasses.dataclass
class ShortcutCheck:
    target: int            # the class the scan of the original suspected
    original_p: float      # that scan's p-value, its looks combined
    share: float           # of the original's images of `target`, the share the clean model gives it
    kept: bool             # share >= KEPT_SHARE: backdoor evidence remains
    images: int
    seconds: float

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "kept_at": KEPT_SHARE,
                "statistic": f"share of {self.images} images the original was pushed to class "
                             f"{self.target} ({SEARCH} search from {STARTS} starts) that the clean "
                             f"model also gives class {self.target}"}


@torch.no_grad()
def _answers(model: nn.Module, spec: InputSpec, pixels: torch.Tensor) -> torch.Tensor:
    return model(spec.normalise(pixels)).argmax(1)


def check_shortcut(original_scan: ScanResult, original: nn.Module, cleaned: nn.Module,
                   spec: InputSpec, *, device: torch.device | str = "cpu") -> ShortcutCheck | None:
    """None when the scan of the original suspected nothing. Both models: normalised NCHW →
    logits, on `device`."""
    verdict = original_scan.verdict
    if not verdict.suspected:
        return None
    start = time.perf_counter()
    settings: ScanSettings = original_scan.settings
    n = starts_per_class(settings, spec.num_classes)
    generator = torch.Generator().manual_seed(settings.seed)
    first = (START_SCALES[STARTS] * torch.rand(n, *spec.shape, generator=generator)).to(device)
    labels = torch.full((n,), verdict.suspect, device=device)
    # in the precision the scans ran in: the search is one of their looks, read by another model
    with nets_in(pass_dtype(settings.precision, device), device, [original, cleaned]):
        reached = search_from(original, spec, first, labels, settings, SEARCH)
        share = (_answers(cleaned, spec, reached) == verdict.suspect).float().mean().item()
    return ShortcutCheck(verdict.suspect, verdict.p_value, share, share >= KEPT_SHARE, n,
                         time.perf_counter() - start)
