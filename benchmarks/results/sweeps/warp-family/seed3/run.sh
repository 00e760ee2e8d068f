# The rule's runs (chosen-2026-12-08.txt): in-process, recipe seed 3, one thread a run, three at
# a time, from the worktree with warp-family.patch applied. [SEED=3] [ARMS="search warpkeep"] bash run.sh ROW ...
# (the second rule's seeds: SEED=6, SEED=7, into ../seed6, ../seed7)
SEED=${SEED:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)/seed$SEED
mkdir -p "$HERE"
cd /work/wt-warp || exit 2
one() {   # ROW ARM
    case $2 in
        search) set_args=() ;;
        warpkeep) set_args=(--set warp_pixels=1.0 patch_weight=3.0 noise_weight=1.5) ;;
    esac
    /work/main/.venv/bin/python benchmarks/oracle_trigger.py "$1" --search-anchor --seed "$SEED" \
        "${set_args[@]}" --out "$HERE/$1-$2.json" > "$HERE/$1-$2.log" 2>&1
}
export -f one; export HERE SEED
for row in "$@"; do for arm in ${ARMS:-search warpkeep}; do echo "$row $arm"; done; done | xargs -P 3 -L 1 bash -c 'one $0 $1'
