#!/usr/bin/env bash
# What the GPU machine lacks, into .carry/ (ignored by git) for benchmarks/device_check.sh:
#   .carry/wheels  onnx2torch for that machine's Python 3.12 (pure Python; its own needs,
#                  torch, torchvision, onnx and numpy, are there already)
#   .carry/models  the shared-corpus models benchmarks/speed.py's ladder cleans (../shared
#                  beside the checkout does not travel)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
mkdir -p .carry/wheels .carry/models
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .carry/wheels \
    onnx2torch==1.5.15
for model in mnist-cnn-torch-op17-2out.onnx cifar10-resnet20-torch-op9.onnx; do
    cp "../shared/models/$model" .carry/models/
done
du -sh .carry/*
