"""(2026-11-29, scratch, kept as it ran but for its paths.) Per-class recall of models on a Fashion-MNIST zoo test set (28 px, its class names):
python per-class.py ZOO_DIR model.onnx ..."""
import sys, numpy as np
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "benchmarks"))
import zoo
from auditor.evaluation import load_images
from auditor.runtime import ModelRunner
d = sys.argv[1]
test = load_images(d + "/test.npz", (28, 28, 1))
names = ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
print("model".ljust(28), " ".join(n[:7].rjust(7) for n in names), "  ACC")
for m in [d + "/model.onnx"] + sys.argv[2:]:
    r = ModelRunner.open(m, mean=(zoo.MEAN,), std=(zoo.STD,))
    pred = np.asarray(r.predict(test.images))
    rec = [np.mean(pred[test.labels == c] == c) * 100 for c in range(10)]
    cnt = np.bincount(pred, minlength=10)
    print(m.split("/")[-1][:28].ljust(28), " ".join(f"{v:7.1f}" for v in rec), f" {np.mean(pred == test.labels)*100:5.1f}")
    print("  predicted count".ljust(28), " ".join(f"{v:7d}" for v in cnt))
