"""Where the failing row's accuracy went: per-class recall and each class's most common wrong
answer ("k:recall>wrong") on a zoo row's test images, read as quality_zoo.py reads them, then
how many images of each class the model answers with the class it answers most beyond its
share ("answered 8: 0 17/47 ..."; the total beside the number of images of that class).

    python confusion.py ZOO_ROW ORIGINAL.onnx CLEANED.onnx [...]"""
import sys
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[4]), str(Path(__file__).resolve().parents[3])]
import zoo  # noqa: E402
from auditor.evaluation import load_images  # noqa: E402
from auditor.runtime import ModelRunner  # noqa: E402


def main():
    info = zoo.build(zoo.Spec.from_name(sys.argv[1]))
    test = load_images(info["test"], (info["size"], info["size"], 1))
    for path in sys.argv[2:]:
        answers = ModelRunner.open(path, mean=(zoo.MEAN,), std=(zoo.STD,)).predict(test.images)
        cells = []
        for k in range(10):
            mine = answers[test.labels == k]
            wrong = np.bincount(mine[mine != k], minlength=10)
            cells.append(f"{k}:{100 * (mine == k).mean():.0f}" + (f">{wrong.argmax()}" if wrong.any() else ""))
        print(f"{path}: ACC {100 * (answers == test.labels).mean():.1f}  " + " ".join(cells))
        excess = np.bincount(answers, minlength=10) - np.bincount(test.labels, minlength=10)
        most = int(excess.argmax())
        counts = " ".join(f"{k} {(answers[test.labels == k] == most).sum()}/{(test.labels == k).sum()}"
                          for k in range(10) if k != most)
        print(f"    answered {most}: {counts}; {(answers == most).sum()} in all, for "
              f"{(test.labels == most).sum()} images of {most}")


if __name__ == "__main__":
    main()
