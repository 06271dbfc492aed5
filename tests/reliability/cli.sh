#!/usr/bin/env bash
# tests/reliability/cli.sh: the `iouwait` CLI against hostile inputs and
# interrupted runs (issue 15, bullets 1 and 3).
#
# Usage: cli.sh CASE   (meson registers one test per case: tests/reliability/meson.build)
# Each case fails on the CLI as it was before issue 15.
source "$(dirname "$0")/lib.sh"

GOOD=$SCN/cancel_before_op_recv.scn

# ---- inputs (bullet 3) ------------------------------------------------------

case_input_fifo() { # a FIFO is refused at once, never read (which would block)
  mkfifo "$WORK/f.scn"
  for cmd in run check; do
    run timeout 10 "$IOUWAIT" $cmd "$WORK/f.scn"
    expect_rc 1 "$cmd FIFO"
    expect_error_line "f.scn:0:0: error: expected a regular file, not a FIFO" "$cmd FIFO"
  done
}

case_input_dev_zero() { # a device is refused before any byte is read
  run timeout 10 "$IOUWAIT" run /dev/zero
  expect_rc 1 "run /dev/zero"
  expect_error_line "/dev/zero:0:0: error: expected a regular file, not a character device" "run /dev/zero"
}

case_input_read_error() { # a read error (EIO) is an error, not an empty file
  run "$IOUWAIT" run /proc/self/mem
  expect_rc 1 "run /proc/self/mem"
  expect_error_line "/proc/self/mem:0:0: error: expected a readable file (read: Input/output error)" "run /proc/self/mem"
  run "$IOUWAIT" check /proc/self/mem
  expect_rc 1 "check /proc/self/mem"
}

case_input_size_cap() { # a scenario above 1 MiB is refused with one line, however valid
  { for _ in $(seq 1 4); do head -c 300000 /dev/zero | tr '\0' '\n'; done; cat "$GOOD"; } >"$WORK/big.scn"
  run "$IOUWAIT" check "$WORK/big.scn"
  expect_rc 1 "check 1.2 MB"
  expect_error_line "big.scn:0:0: error: expected a scenario of at most 1048576 bytes" "check 1.2 MB"
  run "$IOUWAIT" run --mode inject "$WORK/big.scn"
  expect_rc 1 "run 1.2 MB"
}

case_input_nothing_to_run() { # a directory without scenarios, for run and check
  mkdir "$WORK/empty"
  touch "$WORK/empty/notes.txt"
  for cmd in run check; do
    run "$IOUWAIT" $cmd "$WORK/empty"
    expect_rc 1 "$cmd DIR"
    expect_error_line "empty: error: nothing to run (no *.scn file in this directory)" "$cmd DIR"
  done
}

case_input_record_dir() { # record takes one regular file, not a directory
  mkdir "$WORK/d"
  cp "$GOOD" "$WORK/d/"
  run "$IOUWAIT" record "$WORK/d" -o "$WORK/x.scn"
  expect_rc 1 "record DIR"
  expect_error_line "d:0:0: error: expected a regular file, not a directory" "record DIR"
  [ ! -e "$WORK/x.scn" ] || fail "record DIR wrote $WORK/x.scn"
}

case_input_empty_scenario() { # no steps: an error in check, in both run modes, and in record
  : >"$WORK/empty.scn"
  printf '# only a comment\nmodes kernel inject\nconfig ring=8\n' >"$WORK/header.scn"
  for f in empty header; do
    for cmd in "check" "run --mode kernel" "run --mode inject"; do
      run "$IOUWAIT" $cmd "$WORK/$f.scn"
      expect_rc 1 "$cmd $f.scn"
      expect_error_line "$f.scn:1:1: error: expected at least one step (the scenario is empty)" "$cmd $f.scn"
    done
    run "$IOUWAIT" record "$WORK/$f.scn" -o "$WORK/out.scn"
    expect_rc 1 "record $f.scn"
    [ ! -e "$WORK/out.scn" ] || fail "record of an empty scenario wrote its output"
  done
}

# ---- record -o OUT (bullet 1) ------------------------------------------------

# refuse_out WHAT: record GOOD -o $WORK/out must fail with one line, touching nothing.
refuse_out() {
  local before after
  before=$(stat -c '%F %i %s %Y' "$WORK/out"; ls -A "$WORK")
  run "$IOUWAIT" record "$GOOD" -o "$WORK/out"
  [ "$RC" != 0 ] && [ "$RC" != 77 ] || fail "record -o $1: expected a refusal; $(show)"
  expect_error_line "out: error: refusing to replace $1 (only a regular file is replaced)" "record -o $1"
  after=$(stat -c '%F %i %s %Y' "$WORK/out"; ls -A "$WORK")
  [ "$before" = "$after" ] || fail "record -o $1 touched something: '$before' became '$after'"
}

case_record_out_special() { # only a regular file at OUT is ever replaced
  mkfifo "$WORK/out"; refuse_out "a FIFO"; rm "$WORK/out"
  mkdir "$WORK/out"; refuse_out "a directory"; rmdir "$WORK/out"
  echo "keep me" >"$WORK/target"
  ln -s target "$WORK/out"; refuse_out "a symbolic link"
  [ "$(cat "$WORK/target")" = "keep me" ] || fail "the symlink's target changed"
  rm "$WORK/out"
  ln -s nowhere "$WORK/out"; refuse_out "a symbolic link"; rm "$WORK/out"
  # A character device of our own (the null device's numbers), never /dev/null.
  if mknod "$WORK/out" c 1 3 2>/dev/null; then
    refuse_out "a character device"
  else
    echo "note: mknod not permitted here; the character device case was not run"
  fi
}

case_record_out_is_input() { # OUT naming the input, directly or by a hard link
  cp "$GOOD" "$WORK/in.scn"
  ln "$WORK/in.scn" "$WORK/link.scn"
  for out in in.scn link.scn; do
    run "$IOUWAIT" record "$WORK/in.scn" -o "$WORK/$out"
    expect_rc 1 "record in.scn -o $out"
    expect_error_line "$out: error: refusing to overwrite an input (same file)" "record -o $out"
    cmp -s "$GOOD" "$WORK/in.scn" || fail "record -o $out changed the input"
  done
}

case_record_umask() { # the output follows the umask, as a shell redirection would
  local m
  for m in 022:644 002:664 077:600; do
    rm -f "$WORK/out.scn"
    run bash -c "umask ${m%:*}; exec \"\$0\" record \"\$1\" -o \"\$2\"" "$IOUWAIT" "$GOOD" "$WORK/out.scn"
    [ "$RC" = 77 ] && skip "io_uring unavailable: $(show)"
    expect_rc 0 "record with umask ${m%:*}"
    [ "$(stat -c %a "$WORK/out.scn")" = "${m#*:}" ] || fail "umask ${m%:*}: mode $(stat -c %a "$WORK/out.scn"), expected ${m#*:}"
  done
  # Replacing an existing regular file works too.
  run "$IOUWAIT" record "$GOOD" -o "$WORK/out.scn"
  expect_rc 0 "record over a regular file"
  [ -z "$(find "$WORK" -name '*.tmp.*')" ] || fail "temporary files left: $(ls -A "$WORK")"
}

case_record_abort_leaves_nothing() { # the recording child dies of a broken invariant
  run "$IOUWAIT" record "$DATA/record_abort.scn" -o "$WORK/out.scn"
  [ "$RC" = 77 ] && skip "io_uring unavailable: $(show)"
  expect_rc 1 "record of an aborting run"
  grep -q "^FAIL .*(nothing written)" "$LOG/out" || fail "no FAIL line; $(show)"
  [ -z "$(ls -A "$WORK")" ] || fail "left behind: $(ls -A "$WORK")"
}

# kill_parent SIGNAL: record's parent dies of SIGNAL mid-run; its child must
# die too and nothing may appear, now or when the child's run would have ended.
kill_parent() {
  local sig=$1 pid child="" i
  "$IOUWAIT" record "$DATA/record_slow.scn" -o "$WORK/out.scn" >"$LOG/log" 2>&1 &
  pid=$!
  for i in $(seq 1 100); do
    child=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null || true)
    [ -n "$child" ] && break
    sleep 0.02
  done
  [ -n "$child" ] || { wait "$pid" || true; grep -q '^SKIP' "$LOG/log" && skip "io_uring unavailable"; fail "no recording child appeared: $(cat "$LOG/log")"; }
  sleep 0.3
  kill "-$sig" "$pid"
  wait "$pid" 2>/dev/null || true
  for i in $(seq 1 30); do
    kill -0 $child 2>/dev/null || break
    sleep 0.1
  done
  kill -0 $child 2>/dev/null && { kill -KILL $child; fail "SIG$sig: the recording child $child outlived its parent"; }
  # The child's run needs 2 s: wait past it for a (wrong) late rename.
  sleep 2.5
  [ -z "$(ls -A "$WORK")" ] || fail "SIG$sig to the parent left: $(ls -A "$WORK")"
}

case_record_kill_parent() { # SIGKILL and SIGTERM to the record parent
  kill_parent KILL
  kill_parent TERM
}

# ---- run --twice (issue 10) ----------------------------------------------------

case_run_twice_every_mode() { # --twice runs twice in the mode asked for, not inject only
  run "$IOUWAIT" run --mode kernel --twice "$SCN/fd_closed_once.scn"
  [ "$RC" = 77 ] && skip "io_uring unavailable"
  expect_rc 0 "run --mode kernel --twice"
  grep -qF 'fd_closed_once.scn [kernel] hash=' "$LOG/out" || fail "--mode kernel --twice: no kernel run; $(show)"
  grep -qF '(twice' "$LOG/out" || fail "--mode kernel --twice: not run twice; $(show)"
  grep -qF '[inject]' "$LOG/out" && fail "--mode kernel --twice ran inject mode; $(show)"
  # --twice without --mode: every mode the scenario declares, each twice
  # (a kernel race with either blocks: the kernel's run too)
  run "$IOUWAIT" run --twice "$SCN/kernel_write_at_cancel.scn"
  expect_rc 0 "run --twice (kernel race)"
  grep -qF 'kernel_write_at_cancel.scn [kernel] hash=' "$LOG/out" || fail "--twice: the kernel race was not run in kernel mode; $(show)"
  run "$IOUWAIT" run --twice "$SCN/fd_closed_once.scn"
  expect_rc 0 "run --twice (both modes)"
  [ "$(grep -c '(twice, same hash)' "$LOG/out")" = 2 ] || fail "--twice: expected two twice-run verdicts; $(show)"
}

dispatch "$@"
