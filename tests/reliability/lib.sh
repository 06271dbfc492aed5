# tests/reliability/lib.sh: helpers for the reliability suite's case scripts.
#
# Usage (from a case script): source "$(dirname "$0")/lib.sh"; then call
# `dispatch "$@"`, which runs the function case_<NAME> for `script.sh NAME`.
#
# Protocol: meson's exitcode protocol. A case exits 0 when the hostile input
# or environment was handled as promised, 1 (with one "FAIL: ..." line on
# stderr) when not, 77 (with the reason on stdout) when it cannot run here.
#
# Environment (tests/reliability/meson.build sets it):
#   IOUWAIT          the iouwait CLI
#   IOUW_LAUNCH      tests/reliability/launch.c: seccomp, rlimits, caps
#   IOUW_FAILALLOC   the malloc-failure preload shim; empty in a sanitizer
#                    build (ASan owns malloc: such cases skip there)
#   IOUW_SANITIZED   1 in a sanitizer build, else 0
#   IOUW_SOURCE_ROOT the source tree (corpus/scenarios, tests/reliability/data)
#   IOUW_BUILD_ROOT  the build tree (unit suite executables)
# Every case gets a fresh, empty $WORK directory, removed on exit.
set -euo pipefail

: "${IOUWAIT:?set by meson}" "${IOUW_LAUNCH:?set by meson}" "${IOUW_SOURCE_ROOT:?set by meson}"
: "${IOUW_BUILD_ROOT:?set by meson}" "${IOUW_SANITIZED:=0}" "${IOUW_FAILALLOC:=}"
SCN=$IOUW_SOURCE_ROOT/corpus/scenarios
DATA=$IOUW_SOURCE_ROOT/tests/reliability/data
WORK=$(mktemp -d "${TMPDIR:-/tmp}/iouw-rel.XXXXXX")
LOG=$(mktemp -d "${TMPDIR:-/tmp}/iouw-rel-log.XXXXXX")
trap 'rm -rf "$WORK" "$LOG"' EXIT

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# run CMD...: run it, stdout to $LOG/out, stderr to $LOG/err, status in RC
# ($WORK stays the case's own).
run() {
  RC=0
  "$@" >"$LOG/out" 2>"$LOG/err" </dev/null || RC=$?
}

# show: what the last run printed (for a failure message).
show() { echo "status $RC; stdout: $(tail -c 600 "$LOG/out" | tr '\n' '|'); stderr: $(tail -c 600 "$LOG/err" | tr '\n' '|')"; }

expect_rc() { # expect_rc STATUS WHAT
  [ "$RC" = "$1" ] || fail "$2: expected exit $1; $(show)"
}

# expect_error_line TEXT WHAT: stderr is exactly one line, containing TEXT.
expect_error_line() {
  grep -qF -- "$1" "$LOG/err" || fail "$2: expected an error line containing '$1'; $(show)"
  [ "$(wc -l <"$LOG/err")" -eq 1 ] || fail "$2: expected one error line; $(show)"
}

# expect_no_departure WHAT: no verdict of the last run blames the script:
# no FAIL line, no "could not fork", no sanitizer report; status 0, 77 or 99.
expect_no_departure() {
  if grep -qE '^(FAIL|PASS\?) ' "$LOG/out" || grep -q 'could not fork' "$LOG/out"; then
    fail "$1: a verdict blamed the script; $(show)"
  fi
  if grep -qE 'Sanitizer|runtime error' "$LOG/err"; then
    fail "$1: sanitizer report; $(show)"
  fi
  case $RC in 0|77|99) ;; *) fail "$1: exit $RC; $(show)" ;; esac
}

need_failalloc() {
  [ -n "$IOUW_FAILALLOC" ] || skip "failing allocations need the LD_PRELOAD malloc shim, which ASan's own malloc excludes: these cases run in the gcc build (build/)"
}

need_plain_build() { # RLIMIT_AS and friends: ASan reserves terabytes of address space
  [ "$IOUW_SANITIZED" = 0 ] || skip "$1 cannot run under ASan (its shadow memory needs the address space); runs in the gcc build (build/)"
}

dispatch() {
  [ $# -eq 1 ] || { echo "usage: $0 CASE" >&2; exit 2; }
  declare -F "case_$1" >/dev/null || { echo "$0: no case '$1'" >&2; exit 2; }
  "case_$1"
}
