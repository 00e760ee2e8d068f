"""A student that cannot follow its teacher starts again at a tenth of the learning rate
(auditor/student_restart.py)."""

import json

import pytest
import torch

from auditor.checkpoint import Checkpoint
from auditor.recipe import Recipe
from auditor.student_restart import RestartRule

from .models import quadrant_onnx, tiny_onnx
from .test_cli import run
from .test_stopping import TINY_CLEAN, _erase

RULE = RestartRule(least=0.5, warmup=2, after=4, window=3)


def test_the_check_comes_once_after_the_warm_up_and_enough_full_iterations():
    assert [done for done in range(1, 30) if RULE.due(done)] == [6]
    assert not any(RestartRule(least=0.0, warmup=2).due(d) for d in range(100))


@pytest.mark.parametrize("agreements, lost", [
    ([1.0, 0.9, 0.4, 0.45, 0.5], 0.45),     # the last three average 0.45: lost
    ([0.1, 0.2, 0.5, 0.5, 0.5], None),      # the last three average 0.5: it follows
])
def test_only_the_last_window_decides(agreements, lost):
    history = [{"trigger": -0.1}] * 2 + [{"agreement": a} for a in agreements]
    assert RULE.agreement_if_lost(history) == pytest.approx(lost) if lost else \
        RULE.agreement_if_lost(history) is None


# a learning rate this large loses any student; the check comes after 20 full iterations
LOST = dict(lr_student=50.0, restart_agreement=0.9, stop_window=0)


def test_a_lost_student_restarts_from_the_teacher_at_a_tenth_of_the_rate(tmp_path):
    result = _erase(tmp_path, **LOST)
    assert result.restart["iteration"] == 22 and result.restart["agreement"] < 0.9
    assert result.restart["lr_student"] == pytest.approx(5.0)
    # right after the restart the student answers as the teacher does
    assert result.history[22]["agreement"] > result.restart["agreement"]


def test_a_student_that_follows_is_never_restarted_and_runs_as_without_the_check(tmp_path):
    kept = _erase(tmp_path, stop_window=0)
    assert kept.restart is None and all("restart" not in f for f in kept.history)
    unchecked = _erase(tmp_path, stop_window=0, restart_agreement=0.0)
    assert all(torch.equal(a, b) for a, b in zip(kept.student.parameters(),
                                                 unchecked.student.parameters()))


@pytest.mark.parametrize("every", [15, 25])
def test_a_run_resumed_before_or_after_its_restart_ends_as_an_uninterrupted_one(tmp_path, every):
    # saved at 15, before the restart at 22 (it replays it), or at 25, after it (the optimizer's
    # state carries the lowered rate)
    path = tmp_path / "run.ckpt"

    def checkpoint(resume):
        return Checkpoint.for_run(path, every, resume=resume, model_sha256="tiny", recipe=LOST,
                                  spec={}, device="cpu")
    first = _erase(tmp_path, checkpoint(False), **LOST)
    assert torch.load(path, weights_only=True)["state"]["iteration"] == every
    resumed = _erase(tmp_path, checkpoint(True), **LOST)
    assert resumed.resumed_from == every and resumed.restart == first.restart
    assert all(torch.equal(a, b) for a, b in zip(first.student.parameters(),
                                                 resumed.student.parameters()))


def test_clean_reports_the_restart_and_says_so(tmp_path):
    model, out, report = tiny_onnx(tmp_path), tmp_path / "clean.onnx", tmp_path / "report.json"
    result = run("clean", model, "-o", out, "--report", report, "--iterations", "30",
                 *TINY_CLEAN, "--lr-student", "50", "--restart-agreement", "0.9",
                 "--stop-window", "0")
    assert result.exit_code == 0, result.output
    restart = json.loads(report.read_text())["student_restart"]
    assert restart["iteration"] == 22 and restart["lr_student"] == pytest.approx(5.0)
    assert "restarted from the teacher at a student learning rate of 5" in result.stdout


def test_the_paper_recipe_never_restarts():
    assert not Recipe.paper().restart_rule().due(Recipe.paper().warmup_iterations + 20)


def test_a_clean_model_that_lost_its_teacher_is_written_with_a_warning(tmp_path):
    # A lost student answers one class: against a teacher that spreads its answers over 4, it
    # agrees on about a quarter of 64 images, where 8 left it a coin toss (a random TinyNet
    # answers one class too, and the student may land on it)
    model, out, report = quadrant_onnx(tmp_path), tmp_path / "clean.onnx", tmp_path / "report.json"
    result = run("clean", model, "-o", out, "--report", report, "--iterations", "30",
                 *TINY_CLEAN, "--batch-size", "64", "--lr-student", "50",
                 "--restart-agreement", "0", "--stop-window", "0")
    assert result.exit_code == 0, result.output
    written = json.loads(report.read_text())
    assert written["figures"]["final"]["agreement"] < 0.5
    assert written["warnings"] and "may have lost accuracy" in written["warnings"][0]
    assert "warning: the clean model agrees with the original on only" in result.stderr


def test_a_clean_model_that_follows_its_teacher_has_no_warning(tmp_path):
    report = tmp_path / "report.json"
    result = run("clean", tiny_onnx(tmp_path), "-o", tmp_path / "clean.onnx", "--report", report,
                 "--iterations", "30", *TINY_CLEAN, "--stop-window", "0")
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["warnings"] == []
    assert "warning:" not in result.stderr
