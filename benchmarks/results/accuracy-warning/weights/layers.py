"""Which layers' changes cost a clean its accuracy (diagnostic, decides nothing): per node with
weights, ACC / ASR of the original with only that node's initializers taken from the clean
("only"), and of the clean with only that node's initializers put back ("all but").

    python benchmarks/results/accuracy-warning/weights/layers.py NAME=CLEANED.onnx ... > layers.txt
"""
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))   # benchmarks/
import quality_zoo  # noqa: E402
import zoo  # noqa: E402


def with_weights(base: onnx.ModelProto, source: onnx.ModelProto, names: set[str]) -> onnx.ModelProto:
    taken = {t.name: t for t in source.graph.initializer if t.name in names}
    model = onnx.ModelProto()
    model.CopyFrom(base)
    for tensor in model.graph.initializer:
        if tensor.name in taken:
            tensor.CopyFrom(taken[tensor.name])
    return model


def changed_nodes(original, cleaned) -> list[tuple[str, set[str], float]]:
    """(node, its changed float initializers, relative change of its largest one)."""
    before = {t.name: numpy_helper.to_array(t) for t in original.graph.initializer}
    after = {t.name: numpy_helper.to_array(t) for t in cleaned.graph.initializer}
    nodes = []
    for node in original.graph.node:
        names = {n for n in node.input if n in before and before[n].dtype.kind == "f"
                 and not np.array_equal(before[n], after[n])}
        if names:
            big = max(names, key=lambda n: before[n].size)
            moved = np.linalg.norm(after[big] - before[big]) / max(np.linalg.norm(before[big]), 1e-12)
            nodes.append((f"{node.op_type} {node.name}", names, float(moved)))
    return nodes


def main():
    for item in sys.argv[1:]:
        name, cleaned_path = item.split("=", 1)
        info = json.load(open(zoo.CACHE / name / "meta.json"))
        original, cleaned = onnx.load(info["model"]), onnx.load(cleaned_path)
        with tempfile.TemporaryDirectory() as folder:
            def measure(model) -> str:
                path = Path(folder) / "m.onnx"
                onnx.save(model, str(path))
                s = quality_zoo.score(str(path), info)
                return f"{100 * s['acc']:5.1f} / {100 * s['asr']:5.1f}"
            print(f"\n{name}: original {measure(original)}, clean {measure(cleaned)}")
            print(f"{'node':40s} {'moved':>6s} {'only':>13s} {'all but':>13s}")
            for label, names, moved in changed_nodes(original, cleaned):
                only = measure(with_weights(original, cleaned, names))
                all_but = measure(with_weights(cleaned, original, names))
                print(f"{label[:40]:40s} {moved:6.3f} {only:>13s} {all_but:>13s}", flush=True)


if __name__ == "__main__":
    main()
