#!/usr/bin/env bash
# tests/reliability/env.sh: the CLI and the unit suites in a hostile
# environment (issue 15, bullets 6 and 7): io_uring blocked by seccomp,
# RLIMIT_MEMLOCK 0 without CAP_IPC_LOCK, few fds, little address space,
# failing allocations.
#
# Usage: env.sh CASE   (meson registers one test per case: tests/reliability/meson.build)
#
# The skip policy these cases hold every suite and mode to (README, "Skip
# policy"): io_uring unavailable (setup or enter refused, ring memory
# refused) skips; an exhausted environment (fds, memory) is an "environment"
# ERROR (exit 99), never a pass, never a departure from the script.
source "$(dirname "$0")/lib.sh"

GOOD=$SCN/cancel_before_op_recv.scn
# The unit suites that need a real ring (`request_ring` is test_request --ring).
RING_SUITES=(test_request_ring test_loop_uring test_uring_backend test_loop_requests test_harness)

# all_skip WHAT LAUNCH-ARGS...: under the launcher, every scenario in both
# modes skips (exit 77, SKIP lines only), record skips writing nothing, and
# every ring suite skips or runs only what needs no ring (TAP, no "not ok").
all_skip() {
  local what=$1 t args
  shift
  run "$IOUW_LAUNCH" "$@" -- "$IOUWAIT" run --mode all "$SCN" "$SCN/negative" "$SCN/explained"
  expect_rc 77 "$what: iouwait run corpus/scenarios"
  if grep -vE '^(SKIP | )' "$LOG/out" | grep -qE '^[A-Z]'; then
    fail "$what: a verdict other than SKIP; $(grep -vE '^(SKIP | )' "$LOG/out" | grep -E '^[A-Z]' | head -3 | tr '\n' '|')"
  fi
  run "$IOUW_LAUNCH" "$@" -- "$IOUWAIT" record "$GOOD" -o "$WORK/rec.scn"
  expect_rc 77 "$what: iouwait record"
  [ ! -e "$WORK/rec.scn" ] || fail "$what: record wrote its output"
  for t in "${RING_SUITES[@]}"; do
    args=()
    [ "$t" = test_request_ring ] && args=(--ring)
    run "$IOUW_LAUNCH" "$@" -- "$IOUW_BUILD_ROOT/tests/$t" "${args[@]}"
    expect_rc 0 "$what: $t"
    ! grep -q '^not ok\|^Bail out' "$LOG/out" || fail "$what: $t: $(grep -m3 '^not ok\|^Bail out' "$LOG/out" | tr '\n' '|')"
    grep -q '^1\.\.0 # SKIP io_uring unavailable\|^ok ' "$LOG/out" || fail "$what: $t neither skipped nor ran; $(show)"
  done
}

seccomp_cases() { # seccomp_cases ERRNO
  all_skip "io_uring_setup=$1" --deny "io_uring_setup=$1"
  all_skip "io_uring_enter=$1" --deny "io_uring_enter=$1"
  all_skip "all three=$1" --deny "io_uring_setup=$1" --deny "io_uring_enter=$1" --deny "io_uring_register=$1"
}

case_seccomp_eperm() { seccomp_cases EPERM; }
case_seccomp_enosys() { seccomp_cases ENOSYS; }

case_memlock_zero() { # RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK: ring memory refused
  # Whether the kernel charges rings to RLIMIT_MEMLOCK depends on its
  # version; where it does not, rings still work and there is nothing to test.
  run "$IOUW_LAUNCH" --rlimit memlock=0 --drop-cap ipc_lock -- "$IOUWAIT" run --mode inject "$GOOD"
  [ "$RC" = 77 ] || skip "this kernel does not charge io_uring rings to RLIMIT_MEMLOCK ($(show))"
  all_skip "memlock=0" --rlimit memlock=0 --drop-cap ipc_lock
}

# no_departure_under WHAT LAUNCH-ARGS...: both modes of a socket and a file
# scenario either pass with their usual hash or end in an environment ERROR.
no_departure_under() {
  local what=$1 line
  shift
  run "$IOUW_LAUNCH" "$@" -- "$IOUWAIT" run --mode all "$GOOD" "$SCN/read_at_file.scn"
  expect_no_departure "$what"
  if [ "$RC" = 99 ]; then
    grep -q 'environment' "$LOG/out" "$LOG/err" || fail "$what: exit 99 without saying 'environment'; $(show)"
  fi
  if [ "$RC" = 77 ]; then
    fail "$what: an exhausted environment skipped instead of failing; $(show)"
  fi
  while read -r line; do
    grep -qxF -- "$line" "$LOG/baseline" || fail "$what: a pass with another hash: $line"
  done < <(grep '^PASS' "$LOG/out" || true)
}

baseline() {
  run "$IOUWAIT" run --mode all "$GOOD" "$SCN/read_at_file.scn"
  [ "$RC" = 77 ] && skip "io_uring unavailable here: $(show)"
  expect_rc 0 "baseline run"
  cp "$LOG/out" "$LOG/baseline"
}

case_nofile() { # RLIMIT_NOFILE from 4 to 16: out of fds is "environment", never a departure
  local n
  baseline
  for n in $(seq 4 16); do
    no_departure_under "nofile=$n" --rlimit "nofile=$n"
  done
  # A pipe2 failure says so (it used to say "could not fork").
  run "$IOUW_LAUNCH" --rlimit nofile=4 -- "$IOUWAIT" run --mode inject "$GOOD"
  expect_rc 99 "nofile=4"
  grep -q '^ERROR .*environment: pipe2: Too many open files' "$LOG/out" || fail "nofile=4: $(show)"
}

case_rlimit_as() { # little address space: out of memory is "environment", never a departure
  local as
  need_plain_build "RLIMIT_AS"
  baseline
  for as in $(seq 3000000 200000 6000000); do
    no_departure_under "as=$as" --rlimit "as=$as"
  done
}

# sweep ARGS...: fail the Nth allocation of `iouwait ARGS...`, for every N
# until one goes past the last allocation. Each run must give the baseline
# output (same verdicts, same hashes) or exit 99 saying "environment".
sweep() {
  local n
  run "$IOUWAIT" "$@"
  [ "$RC" = 77 ] && skip "io_uring unavailable here: $(show)"
  expect_rc 0 "baseline $*"
  grep -E '^(PASS|RECORDED) ' "$LOG/out" >"$LOG/baseline"
  for n in $(seq 1 5000); do
    rm -f "$WORK/mark"
    run env LD_PRELOAD="$IOUW_FAILALLOC" IOUW_FAILALLOC_NTH="$n" IOUW_FAILALLOC_MARK="$WORK/mark" "$IOUWAIT" "$@"
    [ -e "$WORK/mark" ] || return 0
    case $RC in
      0) grep -E '^(PASS|RECORDED) ' "$LOG/out" | cmp -s - "$LOG/baseline" ||
           fail "allocation $n failed: passed with another output: $(show)" ;;
      99) grep -q environment "$LOG/out" "$LOG/err" ||
           fail "allocation $n failed: exit 99 without saying 'environment'; $(show)" ;;
      *) fail "allocation $n of '$*' failed: $(show)" ;;
    esac
  done
  fail "more than 5000 allocations in '$*'"
}

case_failalloc_run() { # every allocation of a run failing in turn, startup included
  need_failalloc
  sweep run --mode all "$GOOD"
  sweep run --mode inject "$SCN/read_at_file.scn" "$SCN/cancel_result_einval_panics.scn"
  sweep run --mode inject "$SCN/nested_cancel_retry_race.scn"
}

case_failalloc_record() { # ... and of a record: the same file, or nothing at all
  need_failalloc
  sweep record "$GOOD" -o "$WORK/out.scn"
  cp "$WORK/out.scn" "$LOG/recorded"
  local n
  for n in $(seq 1 5000); do
    rm -f "$WORK/mark" "$WORK/out.scn"
    run env LD_PRELOAD="$IOUW_FAILALLOC" IOUW_FAILALLOC_NTH="$n" IOUW_FAILALLOC_MARK="$WORK/mark" "$IOUWAIT" record "$GOOD" -o "$WORK/out.scn"
    [ -e "$WORK/mark" ] || break
    if [ "$RC" = 0 ]; then
      cmp -s "$WORK/out.scn" "$LOG/recorded" || fail "allocation $n failed: a different recording"
    else
      [ ! -e "$WORK/out.scn" ] || fail "allocation $n failed (exit $RC) but the output was written"
    fi
    [ -z "$(ls -A "$WORK" | grep -v '^mark$\|^out.scn$')" ] || fail "allocation $n failed: left $(ls -A "$WORK")"
  done
}

dispatch "$@"
