#!/usr/bin/env bash
# The one command to give the device tool when a GPU machine is lent (issue 10):
#     run(command="benchmarks/device_check.sh", carry=[".carry"], timeout_s=540)
# That machine's python3 (3.12) holds torch, triton, onnx, onnxruntime, onnxscript, click,
# numpy and pillow, but not onnx2torch, and can fetch nothing; the checkout itself is run without
# installing (auditor/__init__.py finds kernels/), and ../shared does not travel. So, first, here:
#     benchmarks/device_prepare.sh     (onnx2torch's wheel and two corpus models into .carry/)
# Then this script installs the carried wheels into /tmp/site and runs benchmarks/gpu_check.sh
# with its files in the tool's $OUT and the carried models as the corpus. Dry-run on a CPU with torch 2.11 and Python 3.12 as that
# machine has them (benchmarks/RESULTS.md): it stops at "no CUDA device", exit 2.
set -uo pipefail
cd "$(dirname "$0")/.."
ls .carry/wheels/*.whl >/dev/null 2>&1 \
    || { echo "nothing in .carry/: run benchmarks/device_prepare.sh here first"; exit 3; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .carry/wheels/*.whl || exit 3
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export AUDITOR_CORPUS=$PWD/.carry/models
PY=${PY:-python3} exec benchmarks/gpu_check.sh "${OUT:-benchmarks/out/gpu}"
