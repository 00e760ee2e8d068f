"""What the commands show: progress while erasing, before/after tables, JSON reports."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import click

from . import __version__, examples
from .cleaning import clean_model
from .detection import MIN_CLASSES, ScanSettings, scan_model
from .errors import OutputPathError
from .evaluation import Scores, evaluate, load_images, load_trigger
from .figures import write_figures
from .gates import Gates
from .progress import Progress
from .recipe import Recipe
from .runtime import ModelRunner
from .sarif import sarif_log
from .shortcut import KEPT_SHARE


def run_clean(model: Path, out_path: Path, *, recipe: Recipe, device: str, report_path,
              quiet: bool, residual_scan: ScanSettings | None = None, checkpoint=None,
              checkpoint_every: int = 10, resume: bool = False, **preprocessing) -> dict:
    """Returns the report; report["evidence_left"] says whether backdoor evidence is left."""
    _check_writable(report_path)
    # the original's scan, the erasing, then the clean model's scan, see clean_model
    steps = residual_scan.total_steps if residual_scan is not None else 0
    rule = recipe.stop_rule()
    erasing_progress = Progress("erasing", recipe.iterations, describe=_describe_erasing,
                                quiet=quiet, capped=rule.active,
                                end=rule.latest_end(recipe.iterations))
    scan_quiet = quiet or not steps
    with Progress("scan of the original", steps, describe=_no_figures, quiet=scan_quiet) as first, \
            erasing_progress as erasing, \
            Progress("residual scan", steps, describe=_no_figures, quiet=scan_quiet) as scan:
        result = clean_model(model, out_path, recipe=recipe, device=device,
                             on_iteration=erasing and (lambda i, figures: erasing(i + 1, figures)),
                             on_stop=erasing_progress.stopped,
                             residual_scan=residual_scan,
                             on_original_scan_step=first and (lambda done, _: first(done, {})),
                             on_scan_step=scan and (lambda done, _: scan(done, {})),
                             checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                             resume=resume, **preprocessing)
    report = result.report(model)
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
    if final["suspect_class"] is not None and final["suspect_class"] == result.recipe.scan_suspect:
        click.echo(f"distilled on {recipe.suspect_share:.0%} of the synthetic images of class "
                   f"{final['suspect_class']}, which the scan of the original suspects "
                   f"(--suspect-from-scan)")
    elif final["suspect_class"] is not None:
        # the guess is often wrong (a clean model gets one too), so it is worded as a guess
        click.echo(f"distilled on {recipe.suspect_share:.0%} of the synthetic images of class "
                   f"{final['suspect_class']}, which the warm-up's triggers raised by "
                   f"{final['suspect_rise']:.2f} (a guess at a target, not a detection)")
    if final.get("reset_channels"):
        click.echo(f"{final['reset_channels']} convolution channels with outlying gain re-initialised "
                   f"before distillation (--reset-deviations {recipe.reset_deviations:g})")
    if recipe.feature_weight and not final.get("feature_head", True):
        click.echo("--feature-weight had no effect: the model's logits come from no Linear layer")
    resumed, erasure = result.erasure.resumed_from, result.erasure
    if erasure.restart is not None:
        r = erasure.restart
        click.echo(f"the student agreed with the teacher on {_pct(r['agreement'])} of synthetic images "
                   f"after {r['iteration']} iterations, too few to re-learn from: restarted from the "
                   f"teacher at a student learning rate of {r['lr_student']:g}")
    click.echo(f"{erasure.iterations} of at most {recipe.iterations} iterations in "
               f"{result.timings['erase']:.0f} s on {result.device} "
               f"({erasure.final['precision']} passes)"
               + (f" (resumed from a checkpoint at iteration {resumed})" if resumed else "")
               + f"; stopped: {erasure.stop_reason}")
    if result.recipe.earliest_stop != recipe.earliest_stop:
        click.echo(f"the original's scan found no backdoor evidence, so the run could stop from "
                   f"iteration {result.recipe.earliest_stop} on "
                   f"(--stop-after-clear; from {recipe.earliest_stop} otherwise)")
    if residual_scan is not None and result.residual is None:
        click.echo(f"residual scan skipped: it needs at least {MIN_CLASSES} classes")
    if result.residual is not None:
        _echo_residual(result)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if report_path is not None:
        _write_report(report_path, report)
    return report


def _echo_residual(result) -> None:
    v, o, check = result.residual.verdict, result.original_scan.verdict, result.shortcut
    stands = f"class {v.suspect} stands out" if v.suspected else \
        f"nothing stands out (highest: class {v.suspect})"
    click.echo(f"scan of the clean model: {stands}, p = {v.p_value:.3g} (alpha {v.alpha}), "
               f"{result.residual.seconds:.0f} s ({result.residual.precision} passes)")
    if check is None:
        click.echo(f"scan of the original: nothing stands out (p = {o.p_value:.3g}), no shortcut "
                   f"to check")
    else:
        click.echo(f"scan of the original: class {check.target} stands out (p = {o.p_value:.3g}); "
                   f"the clean model follows that shortcut on {_pct(check.share)} of "
                   f"{check.images} images (kept at {_pct(KEPT_SHARE)} or more)")
    evidence = result.evidence
    click.echo("residual check: " + ("backdoor evidence remains: " + "; ".join(evidence)
                                     if evidence else "no backdoor evidence left"))


def run_evaluate(model: Path, data_path: Path, trigger_path, target, json_path, *,
                 gates: Gates = Gates(), baseline: Path | None = None, **preprocessing) -> list[str]:
    """Prints the figures; returns the gates that failed (empty: all passed)."""
    _check_writable(json_path)
    scores = _evaluate_file(model, data_path, trigger_path, target, preprocessing)
    _echo_scores("", scores)
    payload = scores.as_dict()
    baseline_scores = None
    if baseline is not None:
        baseline_scores = _evaluate_file(baseline, data_path, trigger_path, target, preprocessing)
        _echo_scores("baseline ", baseline_scores)
        payload["baseline"] = baseline_scores.as_dict()
    checks = gates.check(scores, baseline_scores)
    for check in checks:
        click.echo(f"gate {check['gate']}: {'pass' if check['passed'] else 'FAIL'} ({check['text']})")
    payload["gates"] = checks
    if json_path is not None:
        _write_report(json_path, payload)
    return [c["text"] for c in checks if not c["passed"]]


def _evaluate_file(model, data_path, trigger_path, target, preprocessing) -> Scores:
    runner = ModelRunner.open(model, **preprocessing)
    spec = runner.spec
    shape = (spec.height, spec.width, spec.channels)
    data = load_images(data_path, shape)
    trigger = load_trigger(trigger_path, shape) if trigger_path is not None else None
    return evaluate(runner.predict, data, trigger, target)


def _echo_scores(prefix: str, scores: Scores) -> None:
    asr = "n/a" if scores.asr is None else _pct(scores.asr)
    click.echo(f"{prefix}ACC {_pct(scores.acc)} on {scores.n_images} images; ASR {asr}")


def run_demo(out_path: Path, *, iterations: int | None, report_path) -> None:
    example = examples.bundled()
    recipe = Recipe()
    if iterations is not None:   # a shorter look keeps the warm-up's share of the run
        recipe = recipe.with_overrides(iterations=iterations, warmup_iterations=min(
            recipe.warmup_iterations, iterations * recipe.warmup_iterations // recipe.iterations))
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


_SHOWN_CLASSES = 20


def run_scan(model: Path, *, settings: ScanSettings, device: str, report_path, sarif_path,
             figures_dir, quiet: bool, **preprocessing) -> bool:
    """Prints the verdict and the per-class table; returns whether a backdoor is suspected."""
    for path in (report_path, sarif_path):
        _check_writable(path)
    with Progress("scanning", settings.total_steps, describe=_no_figures,
                  quiet=quiet) as update:
        loaded, result = scan_model(model, settings, device=device,
                                    on_step=update and (lambda done, total: update(done, {})),
                                    **preprocessing)
    v = result.verdict
    looked = f"{v.search} search from {v.starts} starts" + (
        f", combined over {v.looked} looks (Simes)" if v.looked > 1 else "")
    if v.suspected:
        click.echo(f"verdict: BACKDOOR SUSPECTED, target class {v.suspect} "
                   f"(p = {v.p_value:.3g} < alpha {v.alpha}; {looked})")
    else:
        click.echo(f"verdict: no backdoor evidence (highest: class {v.suspect}, "
                   f"p = {v.p_value:.3g} >= alpha {v.alpha}; {looked})")
    order = sorted(range(len(v.statistics)), key=lambda k: (v.class_p_values[k], -v.statistics[k]))
    _table(["class", "mean margin", "score", "p-value"],
           [[str(k), f"{v.statistics[k]:.2f}", f"{v.scores[k]:.2f}", f"{v.class_p_values[k]:.3g}"]
            for k in order[:_SHOWN_CLASSES]])
    if len(order) > _SHOWN_CLASSES:
        click.echo(f"({len(order) - _SHOWN_CLASSES} more classes in --report)")
    others = "; ".join(f"{name}: class {w.suspect}, p = {w.p_value:.3g} uncorrected"
                       for name, w in result.by_look.items())
    click.echo(f"looks (start/search): {others}\nscanned {len(v.statistics)} classes x "
               f"{result.inversion.margins.shape[1]} starts x {settings.steps} steps x "
               f"{len(result.by_look)} looks in {result.seconds:.1f} s ({result.precision} passes)")
    report = {"tool": {"name": "auditor", "version": __version__,
                       "method": f"class margins reached from {' and '.join(settings.starts)} "
                                 f"starts by {' and '.join(settings.searches)} search (after MM-BD)"},
              "model": {"path": str(model), "sha256": loaded.sha256,
                        "format": loaded.source_format},
              "input": dataclasses.asdict(loaded.spec), **result.as_dict()}
    if figures_dir is not None:
        written = write_figures(figures_dir, result.inversion, v)
        report["figures"] = [str(p) for p in written]
        click.echo(f"figures written to {figures_dir}: {', '.join(p.name for p in written)}")
    if sarif_path is not None:
        findings = [] if not v.suspected else [{
            "rule": "backdoor-suspected",
            "message": f"{model}: images from {v.starts} starts, moved by a {v.search} search, "
                       f"reach class {v.suspect} with a mean margin of "
                       f"{v.statistics[v.suspect]:.2f}, improbable for a clean model "
                       f"(p = {v.p_value:.3g} < {v.alpha}): a backdoor target is suspected",
            "properties": {"target": v.suspect, "p_value": v.p_value}}]
        write_json(sarif_path, sarif_log(model, findings))
        click.echo(f"SARIF written to {sarif_path}")
    if report_path is not None:
        _write_report(report_path, report)
    return v.suspected


def _score(model_path: Path, example, preprocessing) -> Scores:
    runner = ModelRunner.open(model_path, **preprocessing)
    shape = (runner.spec.height, runner.spec.width, runner.spec.channels)
    return evaluate(runner.predict, load_images(example.test_set, shape),
                    load_trigger(example.trigger, shape))


def _describe_erasing(figures: dict) -> str | None:
    if "agreement" not in figures:
        return "warm-up: training the generators"
    return (f"distill {figures['distill']:.3f}  trigger shift {figures['trigger_shift']:.3f}  "
            f"agreement {figures['agreement'] * 100:.0f} %")


def _no_figures(figures: dict) -> None:
    return None


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


def _check_writable(path: Path | None) -> None:
    """Before the long work, not after it: the folder a report goes to must exist."""
    if path is not None and not Path(path).parent.is_dir():
        raise OutputPathError(f"{path}: the folder {Path(path).parent} does not exist")


def write_json(path: Path, payload: dict) -> None:
    """Atomically, like the model: a pipeline never reads half a report."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except OSError as err:    # read-only folder, disk full
        raise OutputPathError(f"{path}: cannot write there ({err.strerror or err})") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)

__all__ = ["run_clean", "run_demo", "run_evaluate", "run_scan"]
