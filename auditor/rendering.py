"""What the commands show: progress while erasing, before/after tables, JSON reports."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click

from . import examples
from .cleaning import clean_model
from .evaluation import Scores, evaluate, load_images, load_trigger
from .recipe import Recipe
from .runtime import ModelRunner


def run_clean(model: Path, out_path: Path, *, recipe: Recipe, device: str, report_path,
              quiet: bool, **preprocessing) -> dict:
    with _progress(recipe, quiet) as on_iteration:
        result = clean_model(model, out_path, recipe=recipe, device=device,
                             on_iteration=on_iteration, **preprocessing)
    report = result.report(recipe, model)
    final = result.erasure.final
    if len(result.loaded.output_names) > 1:
        click.echo(f"class scores read from output {result.loaded.spec.output_name!r} of "
                   f"{', '.join(result.loaded.output_names)} (--output to choose); all are kept")
    click.echo(f"wrote {out_path} ({result.export.exporter} exporter, opset {result.export.opset}, "
               f"onnxruntime matches PyTorch within {result.export.max_abs_diff:.1e})")
    _table(["on synthetic images", "teacher", "clean"], [
        ["trigger search flips the prediction", _pct(final["teacher_trigger_flips"]),
         _pct(final["student_trigger_flips"])],
        ["agreement with the teacher", "100.0 %", _pct(final["agreement"])],
    ])
    if final["suspect_class"] is not None:
        # the guess is often wrong (a clean model gets one too), so it is worded as a guess
        click.echo(f"distilled on {recipe.suspect_share:.0%} of the synthetic images of class "
                   f"{final['suspect_class']}, which the warm-up's triggers raised by "
                   f"{final['suspect_rise']:.2f} (a guess at a target, not a detection)")
    click.echo(f"{recipe.iterations} iterations in {result.timings['erase']:.0f} s on {result.device}")
    if report_path is not None:
        _write_report(report_path, report)
    return report


def run_evaluate(model: Path, data_path: Path, trigger_path, target, json_path,
                 **preprocessing) -> Scores:
    runner = ModelRunner.open(model, **preprocessing)
    spec = runner.spec
    shape = (spec.height, spec.width, spec.channels)
    data = load_images(data_path, shape)
    trigger = load_trigger(trigger_path, shape) if trigger_path is not None else None
    scores = evaluate(runner.predict, data, trigger, target)
    asr = "n/a" if scores.asr is None else _pct(scores.asr)
    click.echo(f"ACC {_pct(scores.acc)} on {scores.n_images} images; ASR {asr}")
    if json_path is not None:
        _write_report(json_path, scores.as_dict())
    return scores


def run_demo(out_path: Path, *, iterations: int | None, report_path) -> None:
    example = examples.bundled()
    recipe = Recipe().with_overrides(iterations=iterations)
    click.echo(f"cleaning the bundled backdoored digits classifier ({example.attack} trigger, "
               f"target class {example.target})")
    preprocessing = dict(mean=example.mean, std=example.std)
    report = run_clean(example.model, out_path, recipe=recipe, device="auto", report_path=None,
                       quiet=False, **preprocessing)
    before = _score(example.model, example, preprocessing)
    after = _score(out_path, example, preprocessing)
    click.echo(f"\non the bundled labelled test set ({before.n_images} images):")
    _table(["", "backdoored", "clean"], [
        ["ACC (clean accuracy)", _pct(before.acc), _pct(after.acc)],
        ["ASR (attack success)", _pct(before.asr), _pct(after.asr)],
    ])
    if report_path is not None:
        report["evaluation"] = {"before": before.as_dict(), "after": after.as_dict()}
        _write_report(report_path, report)


def _score(model_path: Path, example, preprocessing) -> Scores:
    runner = ModelRunner.open(model_path, **preprocessing)
    shape = (runner.spec.height, runner.spec.width, runner.spec.channels)
    return evaluate(runner.predict, load_images(example.test_set, shape),
                    load_trigger(example.trigger, shape))


class _progress:
    """A progress bar on stderr with the latest losses, or nothing when quiet."""

    def __init__(self, recipe: Recipe, quiet: bool):
        self.recipe, self.quiet, self.bar, self.last = recipe, quiet, None, {}

    def __enter__(self):
        if self.quiet:
            return None
        self.bar = click.progressbar(length=self.recipe.iterations, label="erasing", file=None,
                                     item_show_func=self._describe, show_eta=True)
        self.bar.__enter__()
        return self._update

    def _update(self, iteration: int, figures: dict) -> None:
        self.last = figures
        self.bar.update(1, figures)

    def _describe(self, figures) -> str | None:
        if not figures:
            return None
        if "agreement" not in figures:
            return "warm-up: training the generators"
        return (f"distill {figures['distill']:.3f}  trigger shift {figures['trigger_shift']:.3f}  "
                f"agreement {figures['agreement'] * 100:.0f} %")

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths))))


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _write_report(path: Path, payload: dict) -> None:
    write_json(path, payload)
    click.echo(f"report written to {path}")


def write_json(path: Path, payload: dict) -> None:
    """Atomically, like the model: a pipeline never reads half a report."""
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)



__all__ = ["run_clean", "run_demo", "run_evaluate"]
