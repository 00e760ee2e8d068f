#!/bin/bash
# usage: clean_batch.sh NAME... ; cleans each zoo model through the CLI, keeping the output
cd /work/main
for n in "$@"; do
  [ -f ${OUT:-/tmp/s25/cleaned}/$n.onnx ] && continue
  OMP_NUM_THREADS=1 .venv/bin/python -m auditor.cli clean benchmarks/out/zoo/$n/model.onnx -o ${OUT:-/tmp/s25/cleaned}/$n.onnx --preset mnist --seed 0 -q --report ${OUT:-/tmp/s25/cleaned}/$n.json
  echo "$n exit $?"
done
