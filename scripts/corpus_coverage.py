"""The README's coverage table: each model in ../shared/models/, converted and re-exported,
then the kinds of file current PyTorch writes, built here (the tests build the same ones).

    python scripts/corpus_coverage.py [CORPUS_DIR]      (from the repository root)

Max error: onnxruntime on the original vs the converted PyTorch module, on random inputs; for a
TorchScript archive, which is not converted, onnxruntime on the written file vs the archive.
Written back as: how `auditor clean` writes it (weights = the original graph with new weights).
"""

import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.errors import AuditorError  # noqa: E402
from auditor.export import export_clean_model  # noqa: E402
from auditor.loading import load_model  # noqa: E402
from tests.models import Normalising, TinyNet, archive, dynamo_with_external_data  # noqa: E402

NUMPY = {"float32": np.float32, "float16": np.float16, "float64": np.float64}


def main(corpus: Path) -> None:
    warnings.filterwarnings("ignore")
    print("| model | producer | opset | input | converts | max error | written back as |")
    print("|---|---|---|---|---|---|---|")
    for entry in json.loads((corpus / "MANIFEST.json").read_text()):
        print(row(corpus / entry["file"], entry["file"], entry["producer"], str(entry["opset"])))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        pair = dynamo_with_external_data(folder / "pair")
        print(row(pair, "model.onnx + model.onnx.data (built here)",
                  f"pytorch {torch.__version__.split('+')[0]} dynamo, default external data", None))
        for how in ("trace", "script"):
            for kind, module in (("plain", TinyNet(size=16)), ("wrapped", Normalising())):
                path = archive(folder / f"{kind}-{how}.pt", how, module)
                print(row(path, f"{kind}-{how}.pt (built here)", f"torch.jit.{how}, "
                          f"{'net alone' if kind == 'plain' else 'normalising wrapper'}", "—",
                          input_shape=(1, 16, 16)))


def row(path: Path, name: str, producer: str, opset: str | None, **options) -> str:
    """opset None: read from the file."""
    cells = [name, producer, opset or "—"]
    try:
        loaded = load_model(path, **options)
    except AuditorError as err:
        return "| " + " | ".join(cells + ["—", f"no: {err.message.split(': ', 1)[1]}", "—", "—"]) + " |"
    cells[2] = opset or str(loaded.opset)
    spec = loaded.spec
    x = spec.to_layout(spec.normalise(torch.rand(4, *spec.shape, generator=torch.Generator().manual_seed(0))))
    result = export_clean_model(loaded, loaded.net, Path(tempfile.gettempdir()) / "coverage.onnx",
                                check_inputs=x, metadata={})
    error = result.max_abs_diff if loaded.onnx_model is None else _conversion_error(path, loaded, x)
    shape = "x".join(str(d) for d in spec.shape)
    return "| " + " | ".join(cells + [f"{spec.layout} {shape} {spec.input_dtype}", "yes",
                                      f"{error:.1e}", result.exporter]) + " |"


def _conversion_error(path, loaded, x) -> float:
    """One sample at a time: several originals were exported with a fixed batch of 1."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = np.concatenate([session.run(None, {loaded.spec.input_name: x[i:i + 1].numpy().astype(
        NUMPY[loaded.spec.input_dtype])})[loaded.output_index] for i in range(len(x))])
    with torch.no_grad():
        out = loaded.net(x)
    got = (out[loaded.output_index] if isinstance(out, (list, tuple)) else out).numpy()
    return float(np.abs(got - want.astype(np.float32)).max())


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "models")
