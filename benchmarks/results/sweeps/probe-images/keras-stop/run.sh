#!/bin/sh
# Where the keras2onnx MNIST CNN's clean stops with 128 and with 32 probe images, clean seeds 1-2
# (speed.py's seed 0 stopped at 200 with 128, at 150 with 32). Through the CLI, one thread a run,
# the two values of a seed side by side; the residual scan is skipped (it does not change the stop).
# Run from the repository root: sh benchmarks/results/sweeps/probe-images/keras-stop/run.sh
set -u
here=benchmarks/results/sweeps/probe-images/keras-stop
model=../shared/models/mnist-cnn-keras2onnx-nhwc.onnx
for seed in 1 2; do
  for probe in 128 32; do
    OMP_NUM_THREADS=1 .venv/bin/auditor clean "$model" -o "/tmp/keras-s$seed-p$probe.onnx" \
      --preset mnist --seed "$seed" --probe-images "$probe" --no-residual-scan \
      --report "$here/s$seed-p$probe.json" > "$here/s$seed-p$probe.log" 2>&1 &
  done
  wait
done
