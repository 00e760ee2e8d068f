# The second rule's step 2: the CLI on the bundled models, seeds 0-2, the defaults (/work/main) and
# warpkeep (/work/wt-warp) side by side, one thread a run, three at a time: second/bundled.jsonl
HERE=$(cd "$(dirname "$0")" && pwd)
export HERE PY=/work/main/.venv/bin/python
one() {   # ATTACK SEED ARM
    local tree=/work/main opts=()
    [ "$3" = warpkeep ] && tree=/work/wt-warp opts=(--warp-pixels 1 --patch-weight 3 --noise-weight 1.5)
    cd $tree && $PY "$HERE/../shortcut-hinge/dose/bundled_dose.py" benchmarks/out/q-ru-base "$1" "$2" "$3" -- \
        "${opts[@]}" >> "$HERE/second/bundled.jsonl" 2>> "$HERE/second/bundled.log"
}
export -f one
mkdir -p "$HERE/second"
for s in 0 1 2; do for a in badnets corner4 blend sig none; do echo "$a $s defaults"; echo "$a $s warpkeep"; done; done \
    | xargs -P 3 -L 1 bash -c 'one $0 $1 $2'
