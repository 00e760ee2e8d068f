"""ACC and ASR along the straight line from the original's weights to the cleaned model's
(diagnostic, decides nothing): does a clean lose its accuracy all along the way, or late?

    python benchmarks/results/accuracy-warning/weights/path.py NAME=CLEANED.onnx ... > path.txt

NAME is a zoo model (benchmarks/out/zoo/NAME, its test images and trigger); CLEANED its clean,
which carries the original graph with new weights, so every float initializer is matched by
name and set to original + a (cleaned - original).
"""
import json
import sys
import tempfile
from pathlib import Path

import onnx
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))   # benchmarks/
import quality_zoo  # noqa: E402
import zoo  # noqa: E402

STEPS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)


def blended(original: onnx.ModelProto, cleaned: onnx.ModelProto, a: float) -> onnx.ModelProto:
    ends = {t.name: numpy_helper.to_array(t) for t in cleaned.graph.initializer}
    model = onnx.ModelProto()
    model.CopyFrom(original)
    for tensor in model.graph.initializer:
        start = numpy_helper.to_array(tensor)
        if start.dtype.kind == "f" and tensor.name in ends:
            mixed = (start + a * (ends[tensor.name] - start)).astype(start.dtype)
            tensor.CopyFrom(numpy_helper.from_array(mixed, tensor.name))
    return model


def main():
    print(f"{'model':34s} " + " ".join(f"{'a=' + str(a):>13s}" for a in STEPS))
    for item in sys.argv[1:]:
        name, cleaned_path = item.split("=", 1)
        info = json.load(open(zoo.CACHE / name / "meta.json"))
        original, cleaned = onnx.load(info["model"]), onnx.load(cleaned_path)
        cells = []
        with tempfile.TemporaryDirectory() as folder:
            for a in STEPS:
                path = Path(folder) / f"{a}.onnx"
                onnx.save(blended(original, cleaned, a), str(path))
                s = quality_zoo.score(str(path), info)
                cells.append(f"{100 * s['acc']:5.1f} / {100 * s['asr']:5.1f}")
        print(f"{name:34s} " + " ".join(f"{c:>13s}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
