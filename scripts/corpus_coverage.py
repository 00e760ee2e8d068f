"""The README's coverage table: each model in ../shared/models/, converted and re-exported.

    python scripts/corpus_coverage.py [CORPUS_DIR]

Max error: onnxruntime on the original vs the converted PyTorch module, on random inputs.
Exported: how `auditor clean` writes it back (weights = the original graph with new weights).
"""

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from auditor.errors import AuditorError
from auditor.export import export_clean_model
from auditor.loading import load_model

NUMPY = {"float32": np.float32, "float16": np.float16, "float64": np.float64}


def main(corpus: Path) -> None:
    warnings.filterwarnings("ignore")
    print("| model | producer | opset | input | converts | max error | written back as |")
    print("|---|---|---|---|---|---|---|")
    for entry in json.loads((corpus / "MANIFEST.json").read_text()):
        path = corpus / entry["file"]
        row = [entry["file"], entry["producer"], str(entry["opset"])]
        try:
            loaded = load_model(path)
        except AuditorError as err:
            print("| " + " | ".join(row + ["—", f"no: {err.message.split(': ', 1)[1]}", "—", "—"]) + " |")
            continue
        spec = loaded.spec
        x = spec.to_layout(spec.normalise(torch.rand(4, *spec.shape, generator=torch.Generator().manual_seed(0))))
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        want = np.concatenate([session.run(None, {spec.input_name: x[i:i + 1].numpy().astype(
            NUMPY[spec.input_dtype])})[loaded.output_index] for i in range(4)])
        with torch.no_grad():
            out = loaded.net(x)
        got = (out[loaded.output_index] if isinstance(out, (list, tuple)) else out).numpy()
        error = float(np.abs(got - want.astype(np.float32)).max())
        result = export_clean_model(loaded, loaded.net, Path("/tmp/coverage.onnx"), check_inputs=x,
                                    metadata={})
        shape = "x".join(str(d) for d in spec.shape)
        print("| " + " | ".join(row + [f"{spec.layout} {shape} {spec.input_dtype}", "yes",
                                       f"{error:.1e}", result.exporter]) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "models")
