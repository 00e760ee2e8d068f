# The plan's runs: the defaults in-process at the given recipe seeds, one thread a run, three at a
# time, from main. bash run.sh SEED [SEED ...]
HERE=$(cd "$(dirname "$0")" && pwd)
export HERE
one() {   # ROW SEED
    mkdir -p "$HERE/seed$2" && cd /work/main && .venv/bin/python benchmarks/oracle_trigger.py "$1" \
        --search-anchor --seed "$2" --out "$HERE/seed$2/$1-search.json" > "$HERE/seed$2/$1-search.log" 2>&1
}
export -f one
for seed in "$@"; do for s in 0 1 2; do for a in vgg-bn resnet; do for k in patch-mid blend20 sig; do
    echo "digits-$a-$k-s$s $seed"; done; done; done; done | xargs -P 3 -L 1 bash -c 'one $0 $1'
