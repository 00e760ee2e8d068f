"""The run stops once the student has settled (auditor/stopping.py), and says why."""

import io
import json
import time

import onnx
import pytest
import torch

from auditor.checkpoint import Checkpoint
from auditor.erasing import FigureReader, erase_backdoor
from auditor.loading import Classifier, load_model
from auditor.progress import Progress
from auditor.recipe import Recipe
from auditor.stopping import StopRule, last_stage

from .models import tiny_onnx
from .test_cli import run

RULE = StopRule(window=3, agreement=0.9, after=4, warmup=2, every=2)


# a clean in seconds: the tiny model, two warm-up iterations, small batches, no residual scan
TINY_CLEAN = ["--preset", "mnist", "--warmup-iterations", "2", "--batch-size", "8",
              "--student-steps", "1", "--generator-width", "8", "--no-residual-scan"]


def _history(agreements, rises):
    """Figures as the loop records them: the warm-up has no agreement; "trigger" is -rise."""
    warmup = [{"trigger": -0.5}] * RULE.warmup
    return warmup + [{"agreement": a, "trigger": -r} for a, r in zip(agreements, rises)]


def test_a_settled_student_and_a_search_that_stopped_gaining_end_the_run():
    history = _history([0.8, 0.8, 0.8, 0.95, 0.92, 0.97], [0.30, 0.20, 0.25, 0.20, 0.22, 0.21])
    reason = RULE.reason(history)
    assert reason.startswith("settled: agreement with the teacher 94.7 % over the last 3 iterations")
    assert "class rise 0.210, from 0.250" in reason


@pytest.mark.parametrize("agreements, rises", [
    ([0.99] * 3 + [0.95, 0.85, 0.88], [0.3] * 6),            # agreement below 0.9 on average
    ([0.99] * 6, [0.10, 0.10, 0.10, 0.10, 0.12, 0.11]),      # the search is still gaining
])
def test_the_run_goes_on_while_either_figure_moves(agreements, rises):
    assert RULE.reason(_history(agreements, rises)) is None


def test_checks_come_at_fixed_iterations_after_enough_full_ones():
    # full iterations needed: the larger of `after` (4) and two windows (6); then every 2nd
    assert [done for done in range(1, 15) if RULE.due(done)] == [8, 10, 12, 14]
    assert not any(StopRule(window=0, agreement=0, after=0, warmup=0).due(d) for d in range(50))


def test_a_run_not_settled_when_the_rates_fall_to_a_hundredth_ends_there():
    assert last_stage(250, (0.6, 0.8)) == 200 and last_stage(30, (0.8, 0.6)) == 24
    # one decay never reaches a hundredth; a second one at the very end leaves nothing to skip
    assert last_stage(250, (0.6,)) == 0 and last_stage(250, (0.6, 1.0)) == 0
    rule = StopRule(window=3, agreement=0.9, after=4, warmup=2, every=5, last_stage=12)
    assert [done for done in range(1, 20) if rule.due(done)] == [10, 12, 15]
    unsettled = _history([0.5] * 10, [0.3] * 10)
    assert rule.reason(unsettled[:10]) is None
    assert rule.reason(unsettled).startswith("not settled by iteration 12, where the learning")
    # settled at the same check: the settled reason, which says more
    assert rule.reason(_history([0.99] * 10, [0.3] * 10)).startswith("settled")


def _erase(tmp_path, checkpoint=None, **overrides):
    loaded = load_model(tiny_onnx(tmp_path))
    recipe = Recipe(iterations=30, warmup_iterations=2, batch_size=8, student_steps=1,
                    generator_width=8, probe_images=4, **overrides)
    return erase_backdoor(Classifier(loaded.net, loaded.spec, 0), loaded.spec, recipe,
                          checkpoint=checkpoint)


def test_a_run_resumed_after_its_stop_stops_at_the_same_iteration(tmp_path):
    settled = dict(stop_window=2, stop_after=4, stop_agreement=0.0)
    path = tmp_path / "run.ckpt"

    def checkpoint(resume):
        return Checkpoint.for_run(path, 5, resume=resume, model_sha256="tiny", recipe=settled,
                                  spec={}, device="cpu")
    first = _erase(tmp_path, checkpoint(False), **settled)
    assert first.iterations < 30
    # killed after the loop (in the export, say): the saved state is from before the stop
    saved = torch.load(path, weights_only=True)["state"]["iteration"]
    assert saved < first.iterations
    resumed = _erase(tmp_path, checkpoint(True), **settled)
    assert resumed.resumed_from == saved and resumed.iterations == first.iterations
    assert all(torch.equal(a, b) for a, b in zip(first.student.parameters(),
                                                 resumed.student.parameters()))


def test_a_run_that_settles_stops_early_at_the_same_iteration_whenever_figures_are_read(
        tmp_path, monkeypatch):
    settled = dict(stop_window=2, stop_after=4, stop_agreement=0.0)
    first = _erase(tmp_path, **settled)
    assert first.iterations < 30 and first.stop_reason.startswith("settled")
    # where the rule checks (every 10 iterations, and at the last stage, 24), whichever the
    # precision the run took its path in
    rule = Recipe(iterations=30, warmup_iterations=2, **settled).stop_rule()
    assert len(first.history) == first.iterations and rule.due(first.iterations)
    # read at every iteration instead of in batches: the stop must not move with the reads
    monkeypatch.setattr(FigureReader, "every", 1)
    again = _erase(tmp_path, **settled)
    assert again.iterations == first.iterations
    assert all(torch.equal(a, b) for a, b in zip(first.student.parameters(),
                                                 again.student.parameters()))


def test_without_a_window_or_before_its_first_check_the_run_reaches_its_cap(tmp_path):
    for overrides in (dict(stop_window=0), dict(stop_window=2, stop_after=28, stop_agreement=0.0)):
        result = _erase(tmp_path, **overrides)
        assert result.iterations == 30 and result.stop_reason == "reached --iterations"


def test_an_unsettled_run_ends_at_the_last_stage_and_says_so(tmp_path):
    # agreement can never reach 1.01: the run goes on until the rates fall to a hundredth (24)
    result = _erase(tmp_path, stop_window=2, stop_after=4, stop_agreement=1.01)
    assert result.iterations == len(result.history) == 24
    assert result.stop_reason.startswith("not settled by iteration 24")


def test_the_latest_end_is_the_last_stage_only_where_the_rule_is_checked_there():
    assert Recipe().stop_rule().latest_end(250) == 200
    assert Recipe(stop_window=0).stop_rule().latest_end(250) == 250
    assert Recipe(lr_decay_at=(0.6,)).stop_rule().latest_end(250) == 250
    # the last stage (48) comes before the first check (50 + 50): the cap is the end
    assert Recipe(iterations=60).stop_rule().latest_end(60) == 60


def test_a_progress_with_an_earlier_end_counts_the_time_left_to_it():
    stream, now = io.StringIO(), [0.0]
    progress = Progress("erasing", 100, describe=lambda f: None, stream=stream,
                        clock=lambda: now[0], heartbeat=False, capped=True, end=50)
    with progress as update:
        for i in range(1, 61):
            now[0] += 1.0
            update(i, {})
    lines = stream.getvalue().splitlines()
    assert lines[0] == "erasing: 5/100 (5 %), 4 s elapsed, at most about 36 s left"
    assert lines[-1].startswith("erasing: 60/100 (60 %), 59 s elapsed, at most about 0 s left")


def test_clean_says_why_it_stopped_in_the_log_the_report_and_the_file(tmp_path):
    model, out, report = tiny_onnx(tmp_path), tmp_path / "clean.onnx", tmp_path / "report.json"
    result = run("clean", model, "-o", out, "--report", report, "--iterations", "100",
                 *TINY_CLEAN, "--stop-window", "2", "--stop-after", "4", "--stop-agreement", "0")
    assert result.exit_code == 0, result.output
    stop = json.loads(report.read_text())["stop"]
    assert stop["iterations"] < stop["cap"] == 100 and stop["reason"].startswith("settled")
    # stderr is not a terminal here, as in a CI log: one plain line says where and why
    assert f"erasing: stopped at {stop['iterations']}/100, " in result.stderr
    assert stop["reason"] in result.stderr
    assert f"{stop['iterations']} of at most 100 iterations" in result.stdout
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert props["auditor.iterations"] == str(stop["iterations"])


@pytest.mark.parametrize("value", ["-0.1", "1.5"])
def test_an_agreement_outside_0_to_1_is_a_usage_error(tmp_path, value):
    result = run("clean", tiny_onnx(tmp_path), "-o", tmp_path / "c.onnx", "--stop-agreement", value)
    assert result.exit_code == 2 and "--stop-agreement must be between 0 and 1" in result.output


def test_a_capped_progress_gives_time_left_as_a_bound_and_ends_on_the_reason():
    stream, now = io.StringIO(), [0.0]
    progress = Progress("erasing", 100, describe=lambda f: None, stream=stream,
                        clock=lambda: now[0], heartbeat=False, capped=True)
    with progress as update:
        for i in range(1, 31):
            now[0] += 1.0
            update(i, {})
        progress.stopped(30, "settled: because")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "erasing: 5/100 (5 %), 4 s elapsed, at most about 1 min 16 s left"
    assert lines[-1] == "erasing: stopped at 30/100, 29 s elapsed; settled: because"


def test_where_the_scan_found_nothing_the_run_may_stop_from_stop_after_clear():
    recipe = Recipe(stop_after=100, stop_after_clear=50)
    assert recipe.after_scan(False).stop_after == 50
    # suspected, or not scanned at all: the later stop
    assert recipe.after_scan(True) == recipe and recipe.after_scan(None) == recipe
    assert Recipe(stop_after_clear=None).after_scan(False) == Recipe(stop_after_clear=None)
    # never later than the stop asked for
    assert Recipe(stop_after=4, stop_after_clear=50).after_scan(False).stop_after == 4


def test_clean_scans_the_original_first_and_says_when_that_moved_the_earliest_stop(tmp_path):
    model, out, report = tiny_onnx(tmp_path), tmp_path / "clean.onnx", tmp_path / "report.json"
    scan = ["--scan-steps", "2", "--scan-starts", "4"]
    stopping = ["--iterations", "100", "--stop-window", "2", "--stop-after", "40",
                "--stop-agreement", "0", "--stop-after-clear", "4"]
    # an alpha no p-value is below: the original is never suspected
    result = run("clean", model, "-o", out, "--report", report, *TINY_CLEAN[:-1], *scan,
                 "--alpha", "1e-12", *stopping)
    assert result.exit_code == 0, result.output
    written = json.loads(report.read_text())
    assert written["original_scan"]["suspected"] is False
    assert written["recipe"]["stop_after"] == 4 and written["stop"]["earliest"] == 2 + 4
    assert written["stop"]["iterations"] < 2 + 40
    assert "the original's scan found no backdoor evidence, so the run could stop from iteration 6" \
        in result.stdout
    # the phases in order, each said done before the next begins
    stderr = result.stderr
    assert stderr.index("scan of the original: 8/8") < stderr.index("erasing:") \
        < stderr.index("residual scan: 8/8")   # 2 steps, each kind of start searched 2 ways


def test_a_phase_that_reached_its_total_falls_silent_while_later_ones_run():
    # clean's scan of the original ends before the erasing begins: its heartbeat must not go on
    # saying "still working" through the whole clean in a CI log
    stream = io.StringIO()
    with Progress("scan of the original", 4, describe=lambda f: None, stream=stream,
                  every_seconds=0.04) as update:
        update(4, {})
        time.sleep(0.3)
    assert stream.getvalue().splitlines() == ["scan of the original: 4/4 (100 %), 0 s elapsed, about 0 s left"]
