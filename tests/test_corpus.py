"""Every third-party classifier in ../shared/models/ (see its README and MANIFEST.json):
convert, match onnxruntime, backpropagate, train a step, export back, clean for 2 iterations."""

import copy
import json
import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from auditor.cli import main
from auditor.errors import UnsupportedOperatorError
from auditor.export import export_clean_model
from auditor.loading import Classifier, load_model

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "models"
NUMPY = {"float32": np.float32, "float16": np.float16, "float64": np.float64}


def corpus_files():
    if not (CORPUS / "MANIFEST.json").exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"CI must have the model corpus at {CORPUS}")
        return []
    return [entry["file"] for entry in json.loads((CORPUS / "MANIFEST.json").read_text())]


FILES = corpus_files()
QUANTIZED = [f for f in FILES if "qdq" in f]
FLOAT = [f for f in FILES if f not in QUANTIZED]


def tolerance(dtype: str, reference: np.ndarray) -> float:
    relative = 2e-2 if dtype == "float16" else 1e-4
    return relative * max(1.0, float(np.abs(reference).max()))


def random_input(loaded, batch=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.rand(batch, *loaded.spec.shape, generator=generator)
    return loaded.spec.to_layout(loaded.spec.normalise(pixels))


def ort_outputs(path, loaded, x):
    """One sample at a time: several originals were exported with a fixed batch of 1."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    runs = [session.run(None, {loaded.spec.input_name: x[i:i + 1].numpy().astype(
        NUMPY[loaded.spec.input_dtype])}) for i in range(x.shape[0])]
    return session, [np.concatenate(outputs) for outputs in zip(*runs)]


@pytest.mark.parametrize("name", FLOAT)
def test_converts_matches_trains_and_exports(name, tmp_path):
    path = CORPUS / name
    loaded = load_model(path)
    batch = 2
    x = random_input(loaded, batch)
    _, want = ort_outputs(path, loaded, x)
    with torch.no_grad():
        got = loaded.net(x)
    got = list(got) if isinstance(got, (tuple, list)) else [got]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.abs(g.numpy() - w.astype(np.float32)).max() <= tolerance(loaded.spec.input_dtype, w)

    # gradients reach the (NCHW, normalised) synthetic image
    teacher = Classifier(loaded.net, loaded.spec, loaded.output_index)
    image = torch.rand(batch, *loaded.spec.shape, requires_grad=True)
    scores = teacher(loaded.spec.normalise(image))
    (scores * torch.randn_like(scores)).sum().backward()    # not .sum(): softmax outputs sum to 1
    assert image.grad is not None and image.grad.abs().sum() > 0

    # a student copy trains a step
    student = copy.deepcopy(teacher).train()
    before = [p.detach().clone() for p in student.parameters()]
    optimizer = torch.optim.SGD(student.parameters(), lr=0.1)
    scores = student(loaded.spec.normalise(image.detach()))
    (scores * torch.randn_like(scores)).sum().backward()   # softmax outputs: not a plain sum
    optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, student.parameters()))

    # exported back: same interface, and onnxruntime agrees with the student
    out = tmp_path / "student.onnx"
    written = export_clean_model(loaded, student.eval().net, out,
                                 check_inputs=random_input(loaded, 3, 1), metadata={"test": "corpus"})
    assert (written.exporter, written.fallback) == ("weights", None)   # the original graph itself
    original, exported = onnx.load(str(path)), onnx.load(str(out))
    assert _interface(exported) == _interface(original)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = random_input(loaded, 3, 2)
    scores = session.run(None, {loaded.spec.input_name: x.numpy().astype(
        NUMPY[loaded.spec.input_dtype])})[loaded.output_index]
    assert scores.shape[0] == 3 and scores.dtype == NUMPY[loaded.output_dtypes[loaded.output_index]]


def _interface(model):
    """Names, element types and static non-batch dimensions of the graph's inputs and outputs."""
    initializers = {i.name for i in model.graph.initializer}

    def describe(values):
        return [(v.name, v.type.tensor_type.elem_type,
                 [d.dim_value if d.HasField("dim_value") else None
                  for d in v.type.tensor_type.shape.dim][1:]) for v in values]

    return (describe([i for i in model.graph.input if i.name not in initializers]),
            describe(model.graph.output))


@pytest.mark.parametrize("name", FLOAT)
def test_clean_runs_two_iterations(name, tmp_path):
    result = CliRunner().invoke(main, ["clean", str(CORPUS / name), "-o", str(tmp_path / "c.onnx"),
                                       "--iterations", "2", "--warmup-iterations", "1",
                                       "--no-residual-scan",
                                       "--batch-size", "4", "--student-steps", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c.onnx").exists()


# SqueezeNet's 1,000 classes at 224 × 224 take about a minute and a half per scan step on 2 cores
SCANNABLE = [f for f in FLOAT if "squeezenet" not in f]


@pytest.mark.parametrize("name", SCANNABLE)
def test_scan_runs_and_reports_every_class(name, tmp_path):
    report = tmp_path / "scan.json"
    result = CliRunner().invoke(main, ["scan", str(CORPUS / name), "--scan-steps", "2",
                                       "--scan-starts", "2", "--report", str(report), "-q"])
    assert result.exit_code in (0, 1), result.output          # a verdict, either way
    payload = json.loads(report.read_text())
    assert len(payload["per_class"]) == load_model(CORPUS / name).spec.num_classes
    assert payload["suspected"] == (result.exit_code == 1)


@pytest.mark.parametrize("name", QUANTIZED)
def test_quantized_models_are_refused_with_a_reason(name):
    with pytest.raises(UnsupportedOperatorError, match="quantized model"):
        load_model(CORPUS / name)


def test_the_corpus_is_all_there():
    assert len(FILES) == 12 or not FILES
