"""Runs that are killed, resumed, or cannot write: nothing lost, nothing half-written.

Real processes where the kernel is what fails them: SIGKILL part-way through a checkpointed run,
a file-size limit (RLIMIT_FSIZE: writes fail as on a full disk), a folder the run may not write
in (as root, whom permissions do not stop, the run drops to the `nobody` user)."""

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import auditor.checkpoint
from auditor.examples import bundled

from .models import tiny_onnx
from .test_cli import one_line_error, run

RUN = ["--iterations", "12", "--warmup-iterations", "1", "--batch-size", "16",
       "--student-steps", "1", "--probe-images", "4", "--no-residual-scan", "--preset", "mnist",
       "-q"]
REPO = Path(__file__).parents[1]


def _auditor(*args, preexec_fn=None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "auditor.cli", *map(str, args)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=preexec_fn, **kwargs)


def _finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def test_a_killed_run_resumes_to_the_same_bytes(tmp_path):
    model = bundled().model
    status, _, stderr = _finish(_auditor("clean", model, "-o", tmp_path / "whole.onnx", *RUN))
    assert status == 0, stderr

    checkpoint = tmp_path / "run.ckpt"
    out = tmp_path / "resumed.onnx"
    args = ("clean", model, "-o", out, *RUN, "--checkpoint", checkpoint, "--checkpoint-every", "2")
    process = _auditor(*args)
    while not checkpoint.exists():
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    process.kill()                                # SIGKILL: no handler, no clean-up
    assert process.wait() == -signal.SIGKILL     # killed part-way, not finished
    assert not out.exists()

    status, _, stderr = _finish(_auditor(*args, "--resume", "--report", tmp_path / "r.json"))
    assert status == 0, stderr
    report = (tmp_path / "r.json").read_text()
    # it did resume, from a state past the warm-up: probe stamps, anchor and suspect included
    assert json.loads(report)["resumed_from_iteration"] >= 2
    assert out.read_bytes() == (tmp_path / "whole.onnx").read_bytes()
    assert not checkpoint.exists()                # removed once the model is written


@pytest.fixture
def kept_checkpoint(tmp_path, monkeypatch):
    """A finished run's checkpoint, kept (a finished run removes it)."""
    monkeypatch.setattr(auditor.checkpoint.Checkpoint, "remove", lambda self: None)
    model = tiny_onnx(tmp_path)
    checkpoint = tmp_path / "run.ckpt"
    result = run("clean", model, "-o", tmp_path / "a.onnx", "--iterations", "4",
                 "--warmup-iterations", "1", "--batch-size", "8", "--student-steps", "1", "-q",
                 "--no-residual-scan", "--checkpoint", checkpoint, "--checkpoint-every", "1")
    assert result.exit_code == 0 and checkpoint.exists(), result.output
    return model, checkpoint


def test_a_checkpoint_is_refused_by_another_model_or_recipe(tmp_path, kept_checkpoint):
    model, checkpoint = kept_checkpoint
    quick = ["--warmup-iterations", "1", "--batch-size", "8", "--student-steps", "1", "-q",
             "--no-residual-scan", "--checkpoint", checkpoint, "--resume"]
    other = tmp_path / "other"
    other.mkdir()
    torch.manual_seed(1)
    other_model = tiny_onnx(other, classes=5)
    one_line_error(run("clean", other_model, "-o", tmp_path / "b.onnx", "--iterations", "4", *quick),
                   2, "written for another model")
    one_line_error(run("clean", model, "-o", tmp_path / "b.onnx", "--iterations", "5", *quick),
                   2, "written for another recipe")
    one_line_error(run("clean", model, "-o", tmp_path / "b.onnx", "--iterations", "4",
                       "--preset", "mnist", *quick), 2, "written for another input settings")
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    one_line_error(run("clean", model, "-o", tmp_path / "b.onnx", "--iterations", "4", *quick),
                   2, "not a readable auditor checkpoint")
    one_line_error(run("clean", model, "-o", tmp_path / "b.onnx", "--resume", "-q"), 2,
                   "--resume needs --checkpoint")
    assert not (tmp_path / "b.onnx").exists()


def test_a_full_disk_leaves_nothing_half_written(tmp_path):
    """RLIMIT_FSIZE makes every write past 16 KiB fail (EFBIG), as a full disk fails it: the
    model loads and cleans, then neither a checkpoint nor the clean model can be written."""
    model = shutil.copy(bundled().model, tmp_path / "model.onnx")
    before = hashlib.sha256(Path(model).read_bytes()).hexdigest()
    out = tmp_path / "clean.onnx"
    out.write_bytes(b"the previous clean model")

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 10, 16 << 10))

    for extra in ([], ["--checkpoint", tmp_path / "run.ckpt", "--checkpoint-every", "2"]):
        status, _, stderr = _finish(_auditor("clean", model, "-o", out, *RUN, *extra,
                                             preexec_fn=small_files))
        assert status == 8, stderr
        assert "Traceback" not in stderr
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and "File too large" in lines[0], stderr
        assert out.read_bytes() == b"the previous clean model"
        assert hashlib.sha256(Path(model).read_bytes()).hexdigest() == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.onnx", "model.onnx"]


def test_a_folder_it_cannot_write_in_fails_before_the_run(tmp_path):
    """Permissions do not stop root, so as root the folder is a read-only tmpfs."""
    model = shutil.copy(bundled().model, tmp_path / "model.onnx")
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.getuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(locked)],
                       check=True)
    else:
        os.chmod(locked, 0o555)
    try:
        status, _, stderr = _finish(_auditor("clean", model, "-o", locked / "clean.onnx", *RUN))
        assert status == 8, stderr
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and "cannot write in" in lines[0], stderr
        assert list(locked.iterdir()) == []
    finally:
        if os.getuid() == 0:
            subprocess.run(["umount", str(locked)], check=True)
        else:
            os.chmod(locked, 0o755)


# Runs auditor with one function replaced by a stall that announces itself, so the signal
# lands inside that phase (erasing: tests/test_exit_status.py).
_STALLED = """
import importlib, sys, time
module, name = sys.argv[1].rsplit(".", 1)
def stall(*args, **kwargs):
    print("STALLED", flush=True)
    time.sleep(120)
setattr(importlib.import_module(module), name, stall)
from auditor.cli import main
main(sys.argv[2:], prog_name="auditor")
"""


@pytest.mark.parametrize("phase", ["auditor.cleaning.load_model",          # loading
                                   "auditor.cleaning.scan_classifier",     # the original's scan
                                   "auditor.export._parity"])              # export: file built
def test_sigterm_in_any_phase_leaves_nothing(tmp_path, phase):
    model = shutil.copy(bundled().model, tmp_path / "model.onnx")
    process = subprocess.Popen(
        [sys.executable, "-c", _STALLED, phase, "clean", str(model), "-o",
         str(tmp_path / "clean.onnx"), *[a for a in RUN if a != "--no-residual-scan"],
         "--scan-steps", "1", "--scan-starts", "1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "STALLED\n", process.communicate()
    process.send_signal(signal.SIGTERM)
    status, _, stderr = _finish(process, timeout=60)
    assert status == 143, stderr
    assert stderr.strip().splitlines()[-1:] == ["Error: terminated; nothing was written"], stderr
    assert "Traceback" not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
