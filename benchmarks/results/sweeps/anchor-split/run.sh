# The rule's runs (chosen-2026-12-08.txt), one thread a run, three at a time.
#   [SEED=3] bash run.sh zoo ROW ...  in-process, the fix (/work/wt-split): seedSEED/ROW-split.json
#   bash run.sh bundled ATTACK ...    the CLI, seeds 0-2, the defaults (/work/main) and the fix: bundled.jsonl
HERE=$(cd "$(dirname "$0")" && pwd)
export HERE PY=/work/main/.venv/bin/python SEED=${SEED:-3}
zoo_one() {   # ROW
    cd /work/wt-split && $PY benchmarks/oracle_trigger.py "$1" --search-anchor --seed $SEED \
        --out "$HERE/seed$SEED/$1-split.json" > "$HERE/seed$SEED/$1-split.log" 2>&1
}
bundled_one() {   # ATTACK SEED ARM
    local tree=/work/main; [ "$3" = split ] && tree=/work/wt-split
    cd $tree && $PY "$HERE/../shortcut-hinge/dose/bundled_dose.py" benchmarks/out/q-ru-base "$1" "$2" "$3" -- \
        >> "$HERE/bundled.jsonl" 2>> "$HERE/bundled.log"
}
export -f zoo_one bundled_one
mkdir -p "$HERE/seed$SEED"
what=$1; shift
case $what in
    zoo) for row in "$@"; do echo "$row"; done | xargs -P 3 -L 1 bash -c 'zoo_one $0' ;;
    bundled) for s in 0 1 2; do for a in "$@"; do echo "$a $s defaults"; echo "$a $s split"; done; done \
                 | xargs -P 3 -L 1 bash -c 'bundled_one $0 $1 $2' ;;
esac
