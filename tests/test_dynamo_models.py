"""Models the tests build with torch's dynamo exporter at opsets 18-21: convert, match
onnxruntime, and `auditor clean --iterations 2` writes a model onnxruntime runs."""

import contextlib
import io

import numpy as np
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from auditor.cli import main
from auditor.loading import load_model

from .dynamo_models import ARCHITECTURES, export_dynamo

CASES = [(name, opset) for name in ARCHITECTURES for opset in (18, 19, 20, 21)]


@pytest.mark.parametrize("name,opset", CASES)
def test_dynamo_exported_models_convert_and_clean(name, opset, tmp_path):
    with contextlib.redirect_stdout(io.StringIO()):
        path = export_dynamo(name, opset, tmp_path / f"{name}.onnx")
    loaded = load_model(path)
    x = torch.rand(3, 3, 16, 16)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (want,) = session.run(None, {"image": x.numpy()})
    with torch.no_grad():
        got = loaded.net(x).numpy()
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())

    out = tmp_path / "clean.onnx"
    result = CliRunner().invoke(main, ["clean", str(path), "-o", str(out), "--iterations", "2",
                                       "--warmup-iterations", "1", "--batch-size", "4",
                                       "--student-steps", "1", "-q"])
    assert result.exit_code == 0, result.output
    cleaned = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in cleaned.get_inputs()] == ["image"]
    (scores,) = cleaned.run(None, {"image": np.random.rand(5, 3, 16, 16).astype(np.float32)})
    assert scores.shape == (5, 5)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_every_trained_weight_is_written_back_to_its_own_node(name, tmp_path):
    """Two iterations (the test above) barely move a weight; here every one moves far, so a
    weight written back to any initializer but its own fails the export's onnxruntime check
    (test_loading.py has the equal-valued case that once did)."""
    from auditor.export import export_clean_model

    with contextlib.redirect_stdout(io.StringIO()):
        path = export_dynamo(name, 20, tmp_path / f"{name}.onnx")
    loaded = load_model(path)
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in loaded.net.parameters():
            parameter.mul_(1 + 0.5 * torch.rand_like(parameter)).add_(0.1 * torch.randn_like(parameter))
    result = export_clean_model(loaded, loaded.net, tmp_path / "moved.onnx",
                                check_inputs=torch.rand(8, 3, 16, 16), metadata={})
    assert result.max_abs_diff <= 1e-3
