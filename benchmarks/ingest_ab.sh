#!/usr/bin/env bash
# A/B of end-to-end ingest between two source trees of clef, run alternately in the same minutes
# (on a shared machine the host's speed drifts by up to 2x within an hour, so only a same-minutes
# ratio is a fair comparison). Each tree's default `clef cohort build` + `clef embed`.
#
# Usage: benchmarks/ingest_ab.sh OLD_TREE NEW_TREE RECORDINGS [ROUNDS]
#   OLD_TREE / NEW_TREE: checkouts of the repository (e.g. `git worktree add /tmp/old 09f4535`)
#   RECORDINGS: a folder of EDFs (benchmarks/ingest.py makes one; see its docstring)
# Prints one line per run: build, embed and total wall seconds and sessions/s.
set -euo pipefail
OLD=$(realpath "$1"); NEW=$(realpath "$2"); REC=$(realpath "$3"); ROUNDS=${4:-2}
PY=${PYTHON:-$(dirname "$(realpath "$0")")/../.venv/bin/python}
N=$(find "$REC" -maxdepth 1 -name '*.edf' | wc -l)
WORK=$(mktemp -d /tmp/clef-ingest-ab-XXXX)
trap 'rm -rf "$WORK"' EXIT
clef_in() {  # TREE ARGS...: run that tree's clef CLI (cwd outside both trees: '' not on the path)
  local tree=$1; shift
  (cd "$WORK" && PYTHONPATH="$tree" "$PY" -c \
    "import sys; from clef.cli import app; sys.argv = ['clef'] + sys.argv[1:]; app()" "$@")
}
run() {  # LABEL TREE
  rm -rf "$WORK/$1"
  local t0 t1 t2
  t0=$(date +%s.%N)
  clef_in "$2" cohort build --recordings "$REC" --out "$WORK/$1" --quiet > /dev/null
  t1=$(date +%s.%N)
  clef_in "$2" embed --cohort "$WORK/$1" --quiet > /dev/null
  t2=$(date +%s.%N)
  "$PY" -c "b, e = $t1 - $t0, $t2 - $t1; print(f'$1: build {b:.1f} s, embed {e:.1f} s, ' \
    f'total {b + e:.1f} s, {$N / (b + e):.2f} sessions/s ($N sessions)')"
}
for _ in $(seq "$ROUNDS"); do run old "$OLD"; run new "$NEW"; done
