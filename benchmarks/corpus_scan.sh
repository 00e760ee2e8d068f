#!/usr/bin/env bash
# False alarms on third-party models: `auditor scan` on the shared corpus's classifiers
# (../shared/models/, no backdoor known in any), with the dense search only (from uniform and
# dark noise: the scan until the sparse search was added) and at the default (both searches),
# one thread each, one after the other.
#   benchmarks/corpus_scan.sh [CORPUS_DIR] > benchmarks/results/corpus-scan.txt
set -u
corpus=${1:-../shared/models}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python=${PYTHON:-python}
echo "model | preset | searches | exit | p | class | deciding look | seconds"
for path in "$corpus"/*.onnx; do
  name=$(basename "$path" .onnx)
  case $name in mnist*) preset=mnist ;; cifar*|gtsrb*) preset=cifar10 ;; *) continue ;; esac
  for searches in dense dense,sparse; do
    start=$(date +%s)
    OMP_NUM_THREADS=1 "$python" -m auditor.cli scan "$path" --preset $preset --scan-search $searches \
      --report "$out/r.json" -q > /dev/null 2> "$out/err"
    status=$?
    seconds=$(( $(date +%s) - start ))
    if [ -s "$out/r.json" ] && [ $status -le 1 ]; then
      "$python" -c "import json,sys; d=json.load(open(sys.argv[1])); print(f\"$name | $preset | $searches | $status | {d['p_value']:.3g} | {d['largest_class']} | {d['starts']}/{d['search']} | $seconds\")" "$out/r.json"
    else
      echo "$name | $preset | $searches | $status | $(tr '\n' ' ' < "$out/err" | cut -c1-120)"
    fi
    rm -f "$out/r.json"
  done
done
