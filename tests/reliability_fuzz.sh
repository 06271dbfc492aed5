#!/usr/bin/env bash
# tests/reliability_fuzz.sh FUZZ_BUILD_DIR CORPUS_DIR: the fuzz replay
# drivers (loop, ring, request) under a hostile environment, as TAP.
#
# Each driver replays its whole corpus under `ulimit -n 8` and `ulimit -n 7`
# (too few fds for some histories: dup, eventfd and io_uring fail with
# EMFILE). An environment failure is no finding (fuzz/environment.h): the
# driver must say "environment" and exit 77, never report an oracle
# mismatch, abort or trip a sanitizer (exit 23/24, any signal). At the
# tighter limit every driver must actually meet such a failure, so the
# check cannot pass by accident. The ring driver skips where io_uring is
# unavailable (its own "io_uring unavailable" exit 77).
#
# Registered in tests/meson.build (suite `reliability`; replay builds only).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 FUZZ_BUILD_DIR CORPUS_DIR" >&2
  exit 2
fi
fuzz_dir=$1
corpus=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/iouw-reliability.XXXXXX")
trap 'rm -rf "$work"' EXIT

targets=(loop ring request)
limits=(8 7)
echo "1..$(( ${#targets[@]} * ${#limits[@]} ))"
n=0
failed=0
for t in "${targets[@]}"; do
  for lim in "${limits[@]}"; do
    n=$((n + 1))
    err="$work/$t.$lim.err"
    rc=0
    (ulimit -n "$lim" && exec "$fuzz_dir/fuzz_$t" "$corpus/$t") >/dev/null 2>"$err" || rc=$?
    what="fuzz_$t under ulimit -n $lim"
    envs=$(grep -c ': environment: ' "$err" || true)
    if [ "$t" = ring ] && grep -q 'io_uring unavailable' "$err"; then
      echo "ok $n - $what # SKIP io_uring unavailable here"
      continue
    fi
    why=""
    if grep -q 'oracle mismatch' "$err"; then
      why="reported an oracle mismatch"
    elif grep -qE 'Sanitizer|runtime error|invariant violated' "$err"; then
      why="sanitizer or invariant report"
    elif [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
      why="exit status $rc (want 0, or 77 after an environment report)"
    elif [ "$rc" -eq 77 ] && [ "$envs" -eq 0 ]; then
      why="exit 77 without an environment report"
    elif [ "$rc" -eq 0 ] && [ "$envs" -ne 0 ]; then
      why="environment reported but exit 0"
    elif [ "$lim" -eq "${limits[-1]}" ] && [ "$envs" -eq 0 ]; then
      why="no environment failure at the tightest limit: the check proved nothing"
    fi
    if [ -n "$why" ]; then
      echo "not ok $n - $what: $why"
      sed 's/^/# /' "$err" | head -20
      failed=1
    else
      echo "ok $n - $what: exit $rc, $envs input(s) skipped for the environment"
    fi
  done
done
exit $failed
