"""Model files made the ordinary way by current PyTorch, through `clean` and `evaluate`:
TorchScript archives from torch.jit.trace and torch.jit.script, and dynamo ONNX exports whose
weights sit in torch's default external-data file beside the model."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx.external_data_helper import uses_external_data

from auditor.cleaning import clean_model
from auditor.recipe import Recipe

from .models import (Branching, Normalising, TinyNet, archive, dynamo_with_external_data,
                     tiny_onnx)
from .test_cli import QUICK, one_line_error, run

SHORT = Recipe().with_overrides(iterations=2, warmup_iterations=1, batch_size=8, student_steps=1)


def _assert_matches_student(out_path, result, inputs):
    session = ort.InferenceSession(str(out_path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: inputs.numpy()})
    with torch.no_grad():
        want = result.erasure.student(inputs).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("how", ["trace", "script"])
@pytest.mark.parametrize("kind", ["plain", "wrapped"])
def test_torchscript_archives_clean_to_onnx_that_matches_the_student(tmp_path, how, kind):
    torch.manual_seed(0)
    module = TinyNet(size=16) if kind == "plain" else Normalising()
    model = archive(tmp_path / f"{kind}.ts", how, module)
    out = tmp_path / "clean.onnx"
    result = clean_model(model, out, recipe=SHORT, input_shape=(1, 16, 16))
    assert result.export.exporter == "torchscript"
    # a batch other than the export's 2: the batch axis is dynamic
    _assert_matches_student(out, result, torch.rand(5, 1, 16, 16))
    # and the command a user runs
    cli = run("clean", model, "-o", tmp_path / "cli.onnx", "--input-shape", "1x16x16", *QUICK)
    assert cli.exit_code == 0, cli.output


def test_a_scripted_archive_keeps_its_control_flow(tmp_path):
    model = archive(tmp_path / "branching.ts", "script", Branching())
    out = tmp_path / "clean.onnx"
    result = clean_model(model, out, recipe=SHORT, input_shape=(1, 16, 16))
    assert "If" in {node.op_type for node in onnx.load(str(out)).graph.node}
    for level in (0.1, 0.9):                      # one input down each branch
        _assert_matches_student(out, result, torch.full((3, 1, 16, 16), level))


def test_external_data_models_clean_and_evaluate_from_another_folder(tmp_path, monkeypatch):
    model = dynamo_with_external_data(tmp_path / "models" / "x")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for given in (model, "../models/x/model.onnx"):      # absolute, and relative to the cwd
        result = run("clean", given, "-o", "clean.onnx", *QUICK)
        assert result.exit_code == 0, result.output
    out = elsewhere / "clean.onnx"
    clean = onnx.load(str(out), load_external_data=False)
    assert not any(uses_external_data(t) for t in clean.graph.initializer)   # one file
    assert sorted(p.name for p in elsewhere.iterdir()) == ["clean.onnx"]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.run(None, {session.get_inputs()[0].name:
                              np.random.rand(3, 1, 8, 8).astype(np.float32)})[0].shape == (3, 4)

    data = elsewhere / "test.npz"
    np.savez(data, images=np.random.rand(6, 8, 8, 1).astype(np.float32), labels=np.arange(6) % 4)
    for given in (model, out):
        result = run("evaluate", given, "--data", "test.npz")
        assert result.exit_code == 0, result.output
        assert "ACC" in result.output


def test_external_data_outside_the_model_folder_is_refused(tmp_path, monkeypatch):
    model = dynamo_with_external_data(tmp_path / "models" / "x")
    proto = onnx.load(str(model), load_external_data=False)
    (tmp_path / "models" / "secret.bin").write_bytes((model.parent / "model.onnx.data").read_bytes())
    for tensor in proto.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../secret.bin"
    escaping = model.parent / "escaping.onnx"
    onnx.save(proto, str(escaping))
    monkeypatch.chdir(tmp_path / "models")     # where ../secret.bin would not even resolve
    for command in (["clean", escaping, "-o", tmp_path / "o.onnx", *QUICK],
                    ["evaluate", escaping, "--data", tmp_path / "absent.npz"]):
        one_line_error(run(*command), 3, "refused: '../secret.bin' leaves the model's folder")
    assert not (tmp_path / "o.onnx").exists()


def test_the_clean_model_never_overwrites_the_external_data(tmp_path):
    model = dynamo_with_external_data(tmp_path / "x")
    weights = model.parent / "model.onnx.data"
    before = weights.read_bytes()
    one_line_error(run("clean", model, "-o", weights, *QUICK), 8, "refusing to overwrite")
    assert weights.read_bytes() == before


def test_an_onnx_model_without_external_data_loads_from_anywhere(tmp_path, monkeypatch):
    model = tiny_onnx(tmp_path)
    monkeypatch.chdir("/")
    assert run("clean", model, "-o", tmp_path / "o.onnx", *QUICK).exit_code == 0
