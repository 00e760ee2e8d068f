"""The exit-status table, command by command, through Click: 1 is a finding and nothing else;
every error has its own status and one line on stderr; the gates; CI-friendly progress."""

import io
import json
import time

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner
from onnx import TensorProto, helper

import auditor.detection as detection
from auditor.cli import main
from auditor.errors import EXIT_STATUSES
from auditor.examples import bundled
from auditor.progress import Progress

from .models import tiny_onnx
from .test_cli import QUICK, one_line_error, run

SCAN = ["--scan-steps", "3", "--scan-starts", "2", "-q"]


@pytest.fixture
def planted(monkeypatch):
    """Pins the scan's statistics, so that the status mapping is tested apart from the statistic
    (tests/test_detection.py tests that on real models): flat, or with class 6 (2 where there
    are fewer classes) standing far out."""
    real = detection.verdict

    def plant(stands_out: bool):
        def fake(stats, alpha):
            planted_stats = 10 + 0.1 * np.arange(len(stats))
            if stands_out:
                planted_stats[6 if len(stats) > 6 else 2] += 20
            return real(planted_stats, alpha)
        monkeypatch.setattr(detection, "verdict", fake)
    return plant


def _ten_class_model(tmp_path):
    example = bundled()
    return example.model, ["--preset", "mnist"]


def test_scan_exit_0_without_evidence_and_1_with_it(tmp_path, planted):
    model, options = _ten_class_model(tmp_path)
    report, sarif = tmp_path / "scan.json", tmp_path / "scan.sarif"
    planted(False)
    result = run("scan", model, *options, *SCAN, "--report", report, "--sarif", sarif)
    assert result.exit_code == 0, result.output
    assert "no backdoor evidence" in result.output and result.stderr == ""
    assert json.loads(sarif.read_text())["runs"][0]["results"] == []
    assert json.loads(report.read_text())["precision"] in ("float32", "bfloat16")   # as auto found
    planted(True)
    result = run("scan", model, *options, *SCAN, "--report", report, "--sarif", sarif,
                 "--scan-precision", "float32")
    assert result.exit_code == 1, result.output
    assert json.loads(report.read_text())["precision"] == "float32"
    assert "(float32 passes)" in result.output
    assert "BACKDOOR SUSPECTED, target class 6" in result.output
    assert result.stderr.strip().startswith("auditor: backdoor suspected")
    payload = json.loads(report.read_text())
    assert payload["suspected"] and payload["target"] == 6 and len(payload["per_class"]) == 10
    assert payload["looked"] == 4 and set(payload["by_look"]) == {
        "noise/dense", "dark/dense", "noise/sparse", "dark/sparse"}
    (finding,) = json.loads(sarif.read_text())["runs"][0]["results"]
    assert finding["ruleId"] == "backdoor-suspected" and finding["properties"]["target"] == 6


def test_scan_writes_figures(tmp_path, planted):
    model, options = _ten_class_model(tmp_path)
    planted(True)
    result = run("scan", model, *options, *SCAN, "--figures", tmp_path / "figs")
    assert result.exit_code == 1
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["classes.png", "trigger-class-6.png"]


def test_scan_errors_have_their_own_statuses(tmp_path, monkeypatch):
    model, options = _ten_class_model(tmp_path)
    result = run("scan", model, "--alpha", "1.5")
    assert result.exit_code == 2 and "--alpha" in result.output
    result = run("scan", model, "--scan-from", "noise,bright")
    assert result.exit_code == 2 and "--scan-from" in result.output
    result = run("scan", model, "--scan-search", "dense,greedy")
    assert result.exit_code == 2 and "--scan-search" in result.output
    result = run("scan", model, "--scan-precision", "float16")
    assert result.exit_code == 2 and "--scan-precision" in result.output
    one_line_error(run("scan", tmp_path / "absent.onnx"), 3, "no such file")
    one_line_error(run("scan", _text_model(tmp_path)), 4, "--input-shape")
    one_line_error(run("scan", _custom_op_model(tmp_path)), 5, "Frobnicate-1")
    one_line_error(run("scan", model, *options, *SCAN, "--report", tmp_path / "no" / "r.json"),
                   8, "does not exist")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    one_line_error(run("scan", model, *options, *SCAN, "--device", "cuda"), 9, "no CUDA device")


def test_an_unforeseen_failure_is_one_line_and_exit_70_not_1(tmp_path, monkeypatch):
    model, options = _ten_class_model(tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("something nobody planned for\nsecond line")

    monkeypatch.setattr(detection, "invert_classes", broken)
    one_line_error(run("scan", model, *options, *SCAN), 70, "internal error: RuntimeError: "
                                                            "something nobody planned for")


def test_ctrl_c_during_a_scan_is_130(tmp_path, monkeypatch):
    model, options = _ten_class_model(tmp_path)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(detection, "invert_classes", interrupt)
    one_line_error(run("scan", model, *options, *SCAN), 130, "interrupted")


def test_clean_fails_on_residual_only_when_asked(tmp_path, planted):
    model = tiny_onnx(tmp_path)
    planted(True)
    out, report = tmp_path / "clean.onnx", tmp_path / "r.json"
    result = run("clean", model, "-o", out, "--report", report, *QUICK, *SCAN[:4])
    assert result.exit_code == 0, result.output
    assert "backdoor evidence remains: class 2" in result.output
    assert json.loads(report.read_text())["residual"]["suspected"] is True
    out.unlink()
    result = run("clean", model, "-o", out, "--fail-on-residual", *QUICK, *SCAN[:4])
    assert result.exit_code == 1 and out.exists()          # written, for inspection
    assert "still looks backdoored" in result.stderr
    planted(False)
    result = run("clean", model, "-o", out, "--fail-on-residual", *QUICK, *SCAN[:4])
    assert result.exit_code == 0 and "no backdoor evidence left" in result.output
    result = run("clean", model, "-o", out, "--fail-on-residual", "--no-residual-scan", *QUICK)
    assert result.exit_code == 2


def test_clean_fails_on_residual_when_only_the_originals_shortcut_is_left(tmp_path, planted,
                                                                          monkeypatch):
    import auditor.cleaning as cleaning
    from auditor.shortcut import ShortcutCheck

    model = tiny_onnx(tmp_path)
    planted(False)                       # neither scan has a class that stands out
    monkeypatch.setattr(cleaning, "check_shortcut",
                        lambda *a, **k: ShortcutCheck(1, 0.001, 0.9, True, 2, 0.0))
    out, report = tmp_path / "clean.onnx", tmp_path / "r.json"
    result = run("clean", model, "-o", out, "--fail-on-residual", "--report", report, *QUICK, *SCAN[:4])
    assert result.exit_code == 1 and out.exists()
    assert "follows the original's shortcut to class 1 on 90 %" in result.stderr
    assert "backdoor evidence remains: the clean model follows the original's shortcut to class 1" \
        in result.output
    payload = json.loads(report.read_text())
    assert payload["evidence_left"] and payload["shortcut"]["kept"] and not payload["residual"]["suspected"]


def test_clean_errors_have_their_own_statuses(tmp_path, monkeypatch):
    model = tiny_onnx(tmp_path)
    one_line_error(run("clean", tmp_path / "absent.onnx", "-o", tmp_path / "o.onnx"), 3, "no such file")
    one_line_error(run("clean", model, "-o", tmp_path / "o.onnx", "--report", tmp_path / "no" / "r.json",
                       *QUICK), 8, "does not exist")
    result = run("clean", model, "-o", tmp_path)            # click's own check: a usage error
    assert result.exit_code == 2 and "is a directory" in result.output
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    one_line_error(run("clean", model, "-o", tmp_path / "o.onnx", "--device", "cuda", *QUICK), 9,
                   "no CUDA device")
    assert not (tmp_path / "o.onnx").exists()


def test_evaluate_gates(tmp_path):
    example = bundled()
    base = ["evaluate", example.model, "--data", example.test_set, "--trigger", example.trigger,
            "--preset", "mnist"]
    result = run(*base, "--min-acc", "90", "--json", tmp_path / "e.json")
    assert result.exit_code == 0 and "gate min-acc: pass" in result.output
    assert json.loads((tmp_path / "e.json").read_text())["gates"][0]["passed"] is True
    result = run(*base, "--min-acc", "99.9", "--max-asr", "5")
    assert result.exit_code == 1
    assert "ACC 99.0 % < --min-acc 99.9 %" in result.stderr and "ASR 99.1 % > --max-asr 5 %" in result.stderr
    result = run(*base, "--baseline", example.model, "--max-acc-drop", "0")
    assert result.exit_code == 0 and "ACC drop 0.0 points" in result.output
    result = run("evaluate", example.model, "--data", example.test_set, "--preset", "mnist",
                 "--max-asr", "5")
    assert result.exit_code == 1 and "ASR could not be measured" in result.stderr


def test_evaluate_errors_have_their_own_statuses(tmp_path):
    example = bundled()
    base = ["evaluate", example.model, "--data", example.test_set, "--preset", "mnist"]
    result = run(*base, "--max-acc-drop", "1")
    assert result.exit_code == 2 and "--baseline" in result.output
    one_line_error(run("evaluate", tmp_path / "absent.onnx", "--data", example.test_set), 3, "no such file")
    one_line_error(run("evaluate", example.model, "--data", tmp_path / "absent.npz"), 7, "absent.npz")
    one_line_error(run(*base, "--json", tmp_path / "no" / "e.json"), 8, "does not exist")


def test_demo_output_folder_missing_is_8(tmp_path):
    one_line_error(run("demo", "-o", tmp_path / "no" / "demo.onnx", "--iterations", "2"), 8,
                   "does not exist")


def test_every_error_has_a_documented_status_that_is_not_a_finding():
    import auditor.errors as errors

    classes = [c for c in vars(errors).values()
               if isinstance(c, type) and issubclass(c, errors.AuditorError)]
    assert len(classes) >= 10
    for error in classes:
        assert error.exit_code in EXIT_STATUSES and error.exit_code != errors.FINDING, error


def test_every_command_documents_the_table():
    for command in ("scan", "clean", "evaluate", "demo"):
        text = CliRunner().invoke(main, [command, "--help"], terminal_width=200).output
        for code, meaning in EXIT_STATUSES.items():
            assert f"{code:>4}  {meaning}" in text, (command, code)


def test_progress_in_a_ci_log_is_whole_lines_every_few_percent():
    stream = io.StringIO()                  # not a terminal
    now = [0.0]
    progress = Progress("erasing", 200, describe=lambda f: f"loss {f['loss']:.2f}", stream=stream,
                        clock=lambda: now[0], heartbeat=False)
    with progress as update:
        for i in range(1, 201):
            now[0] += 0.5 if i != 50 else 45.0     # one slow iteration
            update(i, {"loss": 1.0 / i})
    text = stream.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    # the clock starts at the first update (0.5 s in): 4.5 s for 9 units, 190 left
    assert lines[0] == "erasing: 10/200 (5 %), 4 s elapsed, about 1 min 26 s left; loss 0.10"
    assert lines[-1].startswith("erasing: 200/200 (100 %)")
    assert 20 <= len(lines) <= 22                  # every 5 %, and the slow one: a line by 30 s
    assert any(line.startswith("erasing: 50/200") for line in lines)


def test_a_long_unit_of_work_still_gets_a_line_in_a_ci_log():
    stream = io.StringIO()
    with Progress("erasing", 10, describe=lambda f: None, stream=stream, every_seconds=0.2) as update, \
            Progress("residual scan", 5, describe=lambda f: None, stream=stream, every_seconds=0.2):
        update(1, {})
        time.sleep(1.0)                    # one iteration of a big model
        update(2, {})
    lines = stream.getvalue().splitlines()
    assert any(line.startswith("erasing: 1/10,") and line.endswith("still working") for line in lines)
    assert not any(line.startswith("residual scan") for line in lines)   # its phase never began


def test_progress_is_silent_when_quiet():
    stream = io.StringIO()
    with Progress("scanning", 10, describe=lambda f: None, quiet=True, stream=stream) as update:
        assert update is None
    assert stream.getvalue() == ""


def _text_model(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 16])
    model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(tmp_path / "text.onnx"))
    return tmp_path / "text.onnx"


def _custom_op_model(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    graph = helper.make_graph([helper.make_node("Frobnicate", ["x"], ["y"], domain="com.example")],
                              "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    onnx.save(model, str(tmp_path / "custom.onnx"))
    return tmp_path / "custom.onnx"


def test_sigterm_during_erasing_leaves_nothing_and_exits_143(tmp_path):
    """A real process, as a CI runner or `docker stop` would stop it."""
    import signal
    import subprocess
    import sys

    example = bundled()
    out = tmp_path / "clean.onnx"
    process = subprocess.Popen(
        [sys.executable, "-m", "auditor.cli", "clean", str(example.model), "-o", str(out),
         "--preset", "mnist", "--iterations", "2000", "--warmup-iterations", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # the first progress line means the model is loaded and the loop is running
    before = []
    while not (line := process.stderr.readline()).startswith("erasing: "):
        assert line, "".join(before)             # the run ended without a progress line
        before.append(line)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 143
    assert "Traceback" not in "".join(before) + stderr
    lines = [line for line in stderr.splitlines() if not line.startswith("erasing: ")]
    assert lines[-1:] == ["Error: terminated; nothing was written"], stderr
    assert list(tmp_path.iterdir()) == []


def test_fewer_than_four_classes_cannot_be_scanned_but_can_be_cleaned(tmp_path):
    from .models import TinyNet, export

    model = export(TinyNet(classes=3), torch.zeros(1, 1, 8, 8), tmp_path / "three.onnx")
    one_line_error(run("scan", model, *SCAN), 4, "needs at least 4")
    result = run("clean", model, "-o", tmp_path / "clean.onnx", *QUICK)
    assert result.exit_code == 0 and "residual scan skipped" in result.output
