"""clean's residual check on the original's shortcut (auditor/shortcut.py)."""

import copy
import dataclasses

import pytest
import torch

from auditor.detection import ScanSettings, scan_classifier
from auditor.input_spec import InputSpec
from auditor.shortcut import KEPT_SHARE, check_shortcut

SETTINGS = ScanSettings(images_per_class=16, steps=20)


def _brightness_shortcut(size=12, classes=6, target=2):
    """A linear classifier whose `target` answers to brightness anywhere, as a blend trigger
    teaches: a small change of every pixel sends any dark image there."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(size * size, classes)
    with torch.no_grad():
        linear.weight.normal_(0, 0.05)
        linear.weight[target] = 0.5
        linear.bias.zero_()
        linear.bias[target] = -3.0
    return torch.nn.Sequential(torch.nn.Flatten(), linear), InputSpec(1, size, size, classes)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])   # the check runs in the scan's
def test_a_clean_model_that_still_follows_the_shortcut_keeps_it_and_one_that_does_not_is_clear(
        precision):
    original, spec = _brightness_shortcut()
    scan = scan_classifier(original, spec, dataclasses.replace(SETTINGS, precision=precision))
    assert scan.precision == precision
    assert scan.verdict.suspected and scan.verdict.suspect == 2
    kept = check_shortcut(scan, original, copy.deepcopy(original), spec)
    assert kept.target == 2 and kept.share >= KEPT_SHARE and kept.kept
    assert kept.images == 16 and kept.original_p == scan.verdict.p_value
    erased = copy.deepcopy(original)
    with torch.no_grad():               # class 2 no longer answers to brightness
        erased[1].weight[2] = 0.0
    cleared = check_shortcut(scan, original, erased, spec)
    assert cleared.share < KEPT_SHARE and not cleared.kept
    assert cleared.as_dict()["kept_at"] == KEPT_SHARE


def test_nothing_is_checked_when_the_original_is_not_suspected():
    original, spec = _brightness_shortcut()
    scan = scan_classifier(original, spec, SETTINGS)
    unsuspected = dataclasses.replace(scan, verdict=dataclasses.replace(scan.verdict, suspected=False))
    assert check_shortcut(unsuspected, original, original, spec) is None
