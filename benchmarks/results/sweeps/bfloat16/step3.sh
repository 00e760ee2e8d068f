#!/bin/sh
# Step 3 of chosen-2026-12-07.txt: each rung with float32 then bfloat16 passes, speed.py
# --modes auditor (2 warm-up + 3 full iterations, the default clean estimated), one at a time.
# Then: python step3.py. Models as arguments run only those (default: all five).
cd "$(dirname "$0")/../../../.." || exit 2
for model in ${*:-bundled-cnn bn-cnn-16px depthwise-16px corpus-mnist-keras-nhwc corpus-resnet20}; do
  for precision in float32 bfloat16; do
    .venv/bin/python benchmarks/speed.py --models "$model" --modes auditor --precision "$precision" \
      --out "benchmarks/results/sweeps/bfloat16/speed-$model-$precision.json" | grep -v '^model' || exit 1
  done
done
