#!/usr/bin/env bash
# fuzz/explain_seed.sh BUILD_ROOT TARGET FILE: the explain/<seed> tests
# (fuzz/meson.build). Explains FILE with scripts/explain (binaries from
# BUILD_ROOT) and replays the scenario with `iouwait run --mode inject`.
# TAP: one test; `1..0 # SKIP` when io_uring or CQE injection is unavailable,
# or when the history has a drain wait the kernel leaves unanswered.
set -uo pipefail
build=$1 target=$2 file=$3
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp "${TMPDIR:-/tmp}/explain-seed.XXXXXX")
trap 'rm -f "$tmp" "$tmp.scn"' EXIT
if ! BUILD=$build "$src/scripts/explain" "$file" "$target" -o "$tmp.scn" 2>"$tmp"; then
  echo "1..1"
  sed 's/^/# /' "$tmp"
  echo "not ok 1 - scripts/explain $target $(basename "$file")"
  exit 0
fi
# A drain wait the kernel leaves unanswered until its bound (loop_run.h,
# the silence mask) has no scenario line: `at_wait=1` releases one answer
# per blocking wait. The explainer marks it; the replay would depart there.
if grep -q '^# NOTE: the drain let time pass' "$tmp.scn"; then
  echo "1..0 # SKIP $(basename "$file"): the scenario language cannot leave a drain wait unanswered (explained, not replayed)"
  exit 0
fi
rc=0
"$build/harness/iouwait" run --mode inject "$tmp.scn" >"$tmp" 2>&1 || rc=$?
if [ $rc -eq 77 ]; then
  echo "1..0 # SKIP $(tail -n 1 "$tmp")"
  exit 0
fi
echo "1..1"
sed 's/^/# /' "$tmp"
if [ $rc -eq 0 ]; then
  echo "ok 1 - explained $target/$(basename "$file") passes in inject mode"
else
  sed 's/^/# /' "$tmp.scn"
  echo "not ok 1 - explained $target/$(basename "$file") departs (exit $rc)"
fi
