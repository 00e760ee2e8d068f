"""The scan's statistic and null model, its verdict on real models, SARIF, figures."""

import dataclasses
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import torch
from PIL import Image

from auditor.detection import (ScanSettings, class_margin, p_value, scan_classifier, strongest,
                               verdict)
from auditor.examples import bundled
from auditor.loading import Classifier, load_model
from auditor.sarif import sarif_log

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
QUICK_SCAN = ScanSettings(images_per_class=8, steps=100)


def test_class_margin_is_own_logit_minus_the_best_other():
    logits = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]])
    torch.testing.assert_close(class_margin(logits, torch.tensor([0, 2])), torch.tensor([1.0, -6.0]))


def test_a_planted_outlier_is_flagged_and_named():
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(200):
        stats = rng.normal(50, 7, 10)
        stats[3] = stats.max() + 30          # a target that stands far out
        v = verdict(stats, 0.05)
        hits += v.suspected and v.suspect == 3
    assert hits >= 190


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_a_sample_from_the_null_is_flagged_at_the_stated_rate(alpha):
    """Fresh normal statistics (another seed than the null table's, another mean and spread
    for each set): flagged at rate alpha, within four binomial standard errors."""
    rng = np.random.default_rng(12345)
    n = 3000
    flagged = sum(verdict(rng.normal(rng.uniform(-20, 80), rng.uniform(0.5, 20), 10),
                          alpha).suspected for _ in range(n))
    assert abs(flagged / n - alpha) <= 4 * np.sqrt(alpha * (1 - alpha) / n) + 1e-3


def test_a_class_that_stands_out_in_one_look_is_corrected_for_every_look():
    rng = np.random.default_rng(1)
    flat = rng.normal(10, 1, 10)
    planted = flat.copy()
    planted[4] += 12
    by_look = {"noise/dense": verdict(flat, 0.05),
               "dark/sparse": dataclasses.replace(verdict(planted, 0.05), starts="dark",
                                                  search="sparse"),
               "dark/dense": verdict(rng.normal(10, 1, 10), 0.05)}
    v = strongest(by_look)
    assert (v.look, v.looked, v.suspect, v.suspected) == ("dark/sparse", 3, 4, True)
    # Simes with one small p-value of three: three times it (Bonferroni), unless the class
    # happens to stand out in the other looks as well
    others = sorted(by_look[k].class_p_values[4] for k in ("noise/dense", "dark/dense"))
    assert v.p_value == pytest.approx(min(3 * by_look["dark/sparse"].p_value, 1.5 * others[0],
                                          others[1]))
    assert v.class_p_values[4] == pytest.approx(v.p_value)
    assert v.statistics == by_look["dark/sparse"].statistics
    alone = strongest({"noise/dense": by_look["noise/dense"]})
    assert alone.p_value == by_look["noise/dense"].p_value and alone.looked == 1


def _with_class_p_values(p_values, **look):
    base = verdict(np.arange(10.0), 0.05)
    return dataclasses.replace(base, class_p_values=list(p_values), p_value=min(p_values),
                               suspect=int(np.argmin(p_values)), **look)


def test_a_class_that_stands_out_in_several_looks_counts_for_more():
    """Class 2 at p = 0.03 in two looks of three: Simes gives 1.5 × 0.03 = 0.045, flagged; the
    smallest p of any look corrected for three (Šidák: 0.087) was not. Class 7, alone at 0.02 in
    one look, stays at 3 × 0.02."""
    rest = [0.9] * 10
    looks = {"noise/dense": _with_class_p_values([*rest[:2], 0.03, *rest[3:]]),
             "dark/dense": _with_class_p_values([*rest[:2], 0.03, *rest[3:7], 0.02, *rest[8:]],
                                                starts="dark"),
             "dark/sparse": _with_class_p_values(rest, starts="dark", search="sparse")}
    v = strongest(looks)
    assert (v.suspect, v.suspected, v.look) == (2, True, "noise/dense")
    assert v.p_value == pytest.approx(0.045)
    assert v.class_p_values[7] == pytest.approx(0.06)
    assert 1 - (1 - min(w.p_value for w in looks.values())) ** 3 > 0.05


def test_the_kept_inversion_holds_each_class_from_the_look_where_it_stood_out_most():
    from auditor.detection import Inversion, _keep_where_smallest

    def inversion(fill):
        return Inversion(torch.full((3, 2), fill), torch.full((3, 2, 1, 4, 4), fill),
                         torch.full((3, 1, 4, 4), fill))

    kept = _keep_where_smallest(None, inversion(0.0), [0.5, 0.1, 0.5])
    kept = _keep_where_smallest(kept, inversion(1.0), [0.2, 0.1, 0.9])   # ties keep the first
    smallest, inv = _keep_where_smallest(kept, inversion(2.0), [0.9, 0.9, 0.3])
    assert smallest.tolist() == [0.2, 0.1, 0.3]
    for rows in (inv.margins, inv.images, inv.mean_shift):
        assert [float(rows[k].flatten()[0]) for k in range(3)] == [1.0, 0.0, 2.0]


@pytest.mark.parametrize("looks", [2, 4])
def test_several_looks_from_the_null_are_flagged_at_the_stated_rate(looks):
    """Fresh null samples for each look (independent looks, where Simes' test is exact for the
    looks' smallest p-values, and combining class by class can only flag less)."""
    rng = np.random.default_rng(2024 + looks)
    n, alpha = 3000, 0.05
    flagged = sum(strongest({look: verdict(rng.normal(rng.uniform(-20, 80), rng.uniform(0.5, 20), 10),
                                           alpha) for look in range(looks)}).suspected
                  for _ in range(n))
    assert abs(flagged / n - alpha) <= 4 * np.sqrt(alpha * (1 - alpha) / n) + 1e-3


def test_dark_starts_are_noise_in_a_fifth_of_the_range():
    from auditor.detection import invert_classes
    from auditor.input_spec import InputSpec

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 4))
    spec = InputSpec(1, 8, 8, 4)
    unmoved = ScanSettings(images_per_class=64, steps=1, lr=0.0)
    dark = invert_classes(model, spec, unmoved, starts="dark").images
    noise = invert_classes(model, spec, unmoved, starts="noise").images
    assert 0 <= dark.min() and dark.max() <= 0.2 and abs(dark.mean().item() - 0.1) < 0.01
    assert noise.max() > 0.9 and abs(noise.mean().item() - 0.5) < 0.05


def _corner_shortcut(size: int = 12, classes: int = 4, target: int = 2):
    """A linear classifier whose `target` answers to a 2 × 2 corner only: what a BadNets patch
    teaches, with nothing else in the image pointing there."""
    from auditor.input_spec import InputSpec

    torch.manual_seed(0)
    linear = torch.nn.Linear(size * size, classes)
    with torch.no_grad():
        linear.weight.normal_(0, 0.05)
        linear.weight[target] = 0.0
        corner = torch.zeros(size, size)
        corner[-2:, -2:] = 1.0
        linear.weight[target] = 4.0 * corner.flatten()
        linear.bias.zero_()
    return torch.nn.Sequential(torch.nn.Flatten(), linear), InputSpec(1, size, size, classes)


def _searched_from_dark(model, spec, settings, search):
    """The dark starts themselves, and where `search` and the dense search take them."""
    from auditor.detection import invert_classes

    first = invert_classes(model, spec, dataclasses.replace(settings, steps=1, lr=0.0),
                           starts="dark").images
    return (first, invert_classes(model, spec, settings, starts="dark", search=search),
            invert_classes(model, spec, settings, starts="dark", search="dense"))


def test_the_sparse_search_changes_a_few_pixels_by_much_and_finds_a_corner():
    from auditor.detection import sparse_pixels

    model, spec = _corner_shortcut()
    settings = ScanSettings(images_per_class=16, steps=10, sparse_min=4)
    assert sparse_pixels(settings, (12, 12)) == 4
    assert sparse_pixels(ScanSettings(), (224, 224)) == round(0.0115 * 224 * 224)
    first, sparse, dense = _searched_from_dark(model, spec, settings, "sparse")
    changed = (sparse.images - first).abs().flatten(2)
    assert ((changed > 1e-6).sum(2) <= 4).all()                  # at most 4 pixels an image
    assert 0 <= sparse.images.min() and sparse.images.max() <= 1
    assert changed[2].amax(1).min() > 0.5                        # by much, not by lr a step
    on_corner = sparse.images[2, :, 0, -2:, -2:]
    assert on_corner.mean() > 0.9                                # the target's starts lit it
    assert sparse.margins[2].mean() > dense.margins[2].mean() + 5


def test_the_patch_search_changes_one_square_and_finds_a_corner():
    from auditor.detection import patch_side

    model, spec = _corner_shortcut()
    settings = ScanSettings(images_per_class=16, steps=10, patch_min=2)
    assert patch_side(settings, (12, 12)) == 2
    assert patch_side(ScanSettings(), (28, 28)) == 4 and patch_side(ScanSettings(), (32, 32)) == 5
    assert patch_side(ScanSettings(), (224, 224)) == round(0.15 * 224)
    first, patch, dense = _searched_from_dark(model, spec, settings, "patch")
    changed = (patch.images - first).abs()[:, :, 0] > 1e-6       # K × N × H × W
    for lines in (changed.any(3), changed.any(2)):               # rows, columns touched
        first_line = lines.float().argmax(2)
        last_line = lines.shape[2] - 1 - lines.flip(2).float().argmax(2)
        assert (last_line - first_line <= 1).all()                # inside one 2 × 2 square
    assert 0 <= patch.images.min() and patch.images.max() <= 1
    assert patch.images[2, :, 0, -2:, -2:].mean() > 0.9          # the target's starts lit it
    assert patch.margins[2].mean() > dense.margins[2].mean() + 5


def test_every_search_the_options_name_exists():
    from auditor.detection import _SEARCHES
    from auditor.recipe import SEARCHES

    assert set(SEARCHES) == set(_SEARCHES) and set(ScanSettings().searches) <= set(SEARCHES)


def test_classes_are_searched_in_blocks_that_bound_memory(monkeypatch):
    """Three classes a block (of 8 starts of 12 × 12): every class's margin, image and shift
    comes from its own block, and progress still counts whole steps of the scan."""
    from auditor import detection

    model, spec = _corner_shortcut(classes=10, target=7)
    monkeypatch.setattr(detection, "_BLOCK_VALUES", 3 * 8 * 144)
    settings = ScanSettings(images_per_class=8, steps=6, sparse_min=4)
    steps = []
    found = detection.invert_classes(model, spec, settings, starts="dark", search="sparse",
                                     on_step=lambda done, total: steps.append((done, total)))
    assert steps[-1] == (6, 6) and [d for d, _ in steps] == sorted(d for d, _ in steps)
    assert len(steps) == 4 * 6                                  # four blocks of six steps
    labels = torch.arange(10).repeat_interleave(8)
    with torch.no_grad():
        again = class_margin(model(spec.normalise(found.images.flatten(0, 1))), labels)
    torch.testing.assert_close(found.margins.flatten(), again)
    assert found.images[7, :, 0, -2:, -2:].mean() > 0.9         # the corner, from its block
    assert found.images[:, 0].flatten(1).unique(dim=0).shape[0] == 10   # no block drew twice
    assert found.mean_shift.shape == (10, 1, 12, 12)
    assert found.mean_shift[7, 0, -2:, -2:].mean() > 0.7        # the target's starts all lit it


def test_p_values_fall_as_the_score_rises():
    ps = [p_value(z, 10) for z in (0.0, 2.0, 3.0, 4.0, 6.0)]
    assert ps == sorted(ps, reverse=True) and ps[0] > 0.9 and ps[-1] < 0.01


def test_the_bundled_backdoor_target_stands_out():
    example = bundled()
    loaded = load_model(example.model, mean=example.mean, std=example.std)
    model = Classifier(loaded.net, loaded.spec, loaded.output_index)
    result = scan_classifier(model, loaded.spec, ScanSettings())
    stats = result.verdict.statistics
    assert list(result.by_look) == ["noise/dense", "dark/dense", "noise/sparse", "dark/sparse"]
    assert result.verdict.looked == 4
    assert result.verdict.suspect == example.target
    assert stats[example.target] > 1.25 * sorted(stats)[-2]    # far above every other class
    assert result.inversion.images.shape == (10, 32, 1, 16, 16)
    assert 0 <= result.inversion.images.min() and result.inversion.images.max() <= 1


def test_a_bfloat16_scan_names_the_bundled_target_says_so_and_leaves_the_model_as_it_was():
    example = bundled()
    loaded = load_model(example.model, mean=example.mean, std=example.std)
    model = Classifier(loaded.net, loaded.spec, loaded.output_index)
    settings = ScanSettings(images_per_class=16, precision="float32")
    single = scan_classifier(model, loaded.spec, settings)
    half = scan_classifier(model, loaded.spec, dataclasses.replace(settings, precision="bfloat16"))
    assert (single.precision, half.precision) == ("float32", "bfloat16")
    assert half.as_dict()["precision"] == "bfloat16"
    assert half.verdict.suspected and half.verdict.suspect == example.target
    target = example.target      # the same margins, to bfloat16's rounding over 20 steps
    assert abs(half.verdict.statistics[target] - single.verdict.statistics[target]) < \
        0.1 * abs(single.verdict.statistics[target])
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    again = scan_classifier(model, loaded.spec, settings)
    assert again.verdict.statistics == single.verdict.statistics     # float32 as before


def _validate(log):
    jsonschema.Draft4Validator(SCHEMA).validate(log)


def test_sarif_logs_validate_against_the_2_1_0_schema(tmp_path):
    finding = {"rule": "backdoor-suspected", "message": "class 0 stands out",
               "properties": {"target": 0, "p_value": 0.001}}
    for findings in ([], [finding]):
        log = sarif_log(tmp_path / "model.onnx", findings)
        _validate(log)
        results = log["runs"][0]["results"]
        assert len(results) == len(findings)
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location["uri"].endswith("model.onnx")
    log["runs"][0]["results"][0]["level"] = "fatal"       # the check can fail
    with pytest.raises(jsonschema.ValidationError):
        _validate(log)


def test_figures_are_pictures_of_each_class_and_the_trigger(tmp_path):
    from auditor.detection import Inversion, verdict as make_verdict
    from auditor.figures import write_figures

    margins = torch.rand(10, 4)
    margins[2] += 100
    inversion = Inversion(margins, torch.rand(10, 4, 1, 16, 16), torch.randn(10, 1, 16, 16))
    written = write_figures(tmp_path / "figs", inversion, make_verdict(margins.max(1).values.tolist(), 0.05))
    assert [p.name for p in written] == ["classes.png", "trigger-class-2.png"]
    with Image.open(written[0]) as picture:
        assert picture.size[0] == 10 * 96
    with Image.open(written[1]) as picture:
        assert picture.size[0] == (1 + 4) * 96        # the mean change, then every start


def test_chunked_steps_equal_one_batch(monkeypatch):
    """Chunks bound memory; the gradient is accumulated, so the result is the same."""
    import auditor.detection as detection
    from auditor.input_spec import InputSpec

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 5))
    spec = InputSpec(3, 8, 8, 5)
    settings = ScanSettings(images_per_class=6, steps=5)
    whole = detection.invert_classes(model, spec, settings)
    monkeypatch.setattr(detection, "_CHUNK_VALUES", 3 * 8 * 8 * 4)     # 4 images a pass
    chunked = detection.invert_classes(model, spec, settings)
    torch.testing.assert_close(chunked.margins, whole.margins)
    torch.testing.assert_close(chunked.images, whole.images)


def test_many_classes_get_fewer_starts_each():
    from auditor.detection import starts_per_class

    settings = ScanSettings()
    assert [starts_per_class(settings, k) for k in (10, 64, 100, 1000)] == [32, 32, 20, 4]
    assert starts_per_class(ScanSettings(images_per_class=1), 1000) == 1     # asked for: one
