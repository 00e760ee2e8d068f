"""Step 3's clauses (chosen-2026-12-07.txt) on step3.sh's JSON files: (i) on the keras2onnx CNN
and ResNet-20 the estimated default clean with bfloat16 passes at most 0.8 of float32's; (j) on
the depthwise-separable net at most 1.1."""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIMITS = {"corpus-mnist-keras-nhwc": ("(i)", 0.8), "corpus-resnet20": ("(i)", 0.8),
          "depthwise-16px": ("(j)", 1.1)}


def row(model, precision):
    return json.loads((HERE / f"speed-{model}-{precision}.json").read_text())["rows"][0]


def main():
    print(f"{'model':24} {'full s/it f32 -> bf16':>22} {'probe s':>14} {'est. clean min':>16} {'ratio':>6}")
    for model in ("bundled-cnn", "bn-cnn-16px", "depthwise-16px", "corpus-mnist-keras-nhwc",
                  "corpus-resnet20"):
        a, b = row(model, "float32"), row(model, "bfloat16")
        assert (a["precision"], b["precision"]) == ("float32", "bfloat16")
        ratio = b["estimated_default_clean_s"] / a["estimated_default_clean_s"]
        print(f"{model:24} {a['seconds']['full_iteration']:10.2f} -> {b['seconds']['full_iteration']:5.2f} "
              f"{a['seconds']['probe']:6.1f} -> {b['seconds']['probe']:5.1f} "
              f"{a['estimated_default_clean_s'] / 60:7.1f} -> {b['estimated_default_clean_s'] / 60:5.1f} "
              f"{ratio:6.2f}")
        if model in LIMITS:
            label, limit = LIMITS[model]
            print(f"    {label} ratio {ratio:.3f} (<= {limit:g}): {'passes' if ratio <= limit else 'FAILS'}")


if __name__ == "__main__":
    main()
