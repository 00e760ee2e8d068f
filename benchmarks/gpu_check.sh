#!/usr/bin/env bash
# The GPU path in one go, on one CUDA machine, in at most 8 minutes:
#   1. the kernel tests on real Triton (not the interpreter), tensors on the GPU
#   2. benchmarks/kernels.py            fused kernels vs eager vs torch.compile
#   3. benchmarks/speed.py --device cuda   the model ladder, auditor vs the plain baseline
#   4. auditor clean --device cuda on the bundled model, its output run in onnxruntime with the
#      CUDA provider where present and compared with the CPU provider
# Usage: benchmarks/gpu_check.sh [OUT_DIR]   (default benchmarks/out/gpu; PY picks the python)
# Each step has its own time limit and the script goes on past a failed step; the summary at the
# end lists every step's exit status. OUT_DIR gets six files (the device tool brings back at most
# eight): versions.txt, steps.log (every step's output), kernels.json, speed-cuda.json,
# clean-cuda.json and summary.txt. On the lent GPU machine, run it through
# benchmarks/device_check.sh. Not yet run on a GPU: see benchmarks/RESULTS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-benchmarks/out/gpu}
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
mkdir -p "$OUT"
: > "$OUT/steps.log"   # each step appends its output: a rerun into the same folder starts afresh
declare -A STATUS

step() {   # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "=== $name (limit ${limit} s)"
    local start=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee -a "$OUT/steps.log"
    STATUS[$name]="${PIPESTATUS[0]} in $((SECONDS - start)) s"
}

{ nvidia-smi || true; "$PY" - <<'PY'
import onnxruntime, torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "device",
      torch.cuda.get_device_name() if torch.cuda.is_available() else None)
try:
    import triton; print("triton", triton.__version__)
except ImportError:
    print("triton missing")
print("onnxruntime", onnxruntime.__version__, onnxruntime.get_available_providers())
PY
} 2>&1 | tee "$OUT/versions.txt"
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "no CUDA device: nothing to check"; exit 2; }

step kernel-tests 90 env TRITON_INTERPRET=0 AUDITOR_TEST_DEVICE=cuda \
    "$PY" -m pytest -q -p no:cacheprovider tests/test_kernels.py
step kernels-benchmark 60 "$PY" benchmarks/kernels.py --out "$OUT/kernels.json"
step speed 240 "$PY" benchmarks/speed.py --device cuda --out "$OUT/speed-cuda.json"
step clean-cuda 80 "$PY" - "$OUT" <<'PY'
import subprocess, sys, tempfile, numpy as np, onnxruntime as ort
from auditor.examples import bundled
out = f"{tempfile.mkdtemp()}/clean-cuda.onnx"   # not in OUT_DIR: only the report comes back
example = bundled()
subprocess.run([sys.executable, "-m", "auditor.cli", "clean", str(example.model), "-o", out,
                "--preset", "mnist", "--device", "cuda", "--report",
                f"{sys.argv[1]}/clean-cuda.json"], check=True)
subprocess.run([sys.executable, "-m", "auditor.cli", "evaluate", out, "--data",
                str(example.test_set), "--trigger", str(example.trigger), "--preset", "mnist"],
               check=True)
x = np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32)
cpu = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
name = cpu.get_inputs()[0].name
want = cpu.run(None, {name: x})[0]
if "CUDAExecutionProvider" in ort.get_available_providers():
    got = ort.InferenceSession(out, providers=["CUDAExecutionProvider"]).run(None, {name: x})[0]
    print("onnxruntime CUDA vs CPU provider, max abs diff", float(np.abs(got - want).max()))
else:
    print("onnxruntime has no CUDA provider here (onnxruntime, not onnxruntime-gpu)")
PY

echo "=== summary (exit status per step)"
for name in kernel-tests kernels-benchmark speed clean-cuda; do
    echo "$name: ${STATUS[$name]:-not run}"
done | tee "$OUT/summary.txt"
