"""A cached zoo model (benchmarks/out/zoo) as the frozen teacher the diagnostic scripts here
look at: its meta.json, its InputSpec and the network, in eval mode without gradients."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "benchmarks"))
import zoo  # noqa: E402
from auditor.loading import Classifier, load_model  # noqa: E402
from sweep import PREPROCESSING  # noqa: E402


def load(name: str):
    info = json.loads((zoo.CACHE / name / "meta.json").read_text())
    loaded = load_model(info["model"], **PREPROCESSING)
    net = Classifier(loaded.net, loaded.spec, loaded.output_index).eval().requires_grad_(False)
    return info, loaded.spec, net
