#!/usr/bin/env bash
# scripts/tests/fuzz_campaign.sh: scripts/fuzz as a user and an environment
# meet it: Ctrl-C, SIGTERM, two runs at once, a build dir meson cannot
# reconfigure, a failing afl-fuzz, leftover work dirs. Stub engines stand in
# for the real ones (stub-libfuzzer as BUILD/fuzz/fuzz_{a,b}, stub-afl-fuzz on
# PATH) so each case takes seconds; everything lives in a temporary
# directory (the working corpus too). TAP, one test per case.
#
#   scripts/tests/fuzz_campaign.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fuzz=$here/../fuzz
tmp=$(mktemp -d "${TMPDIR:-/tmp}/iouw-fuzz-campaign.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
# Job control: background runs get a process group of their own with SIGINT
# not ignored, as a script started from a terminal has.
set -m

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; shift; printf '%s\n' "$@" | sed 's/^/# /'; }

# fresh NAME: a stub build dir $tmp/NAME/build with targets a and b, a
# working-corpus root $tmp/NAME/work, the stub log $tmp/NAME/log.
fresh() {
  local d=$tmp/$1
  mkdir -p "$d/build/fuzz" "$d/work" "$d/bin"
  cp "$here/stub-libfuzzer" "$d/build/fuzz/fuzz_a"
  cp "$here/stub-libfuzzer" "$d/build/fuzz/fuzz_b"
  cp "$here/stub-afl-fuzz" "$d/bin/afl-fuzz"
  : >"$d/log"
  B=$d/build W=$d/work L=$d/log D=$d
}
# start_run ARGS...: scripts/fuzz in the background on the stub build; PID.
start_run() {
  STUB_LOG=$L "$fuzz" --prebuilt --build-dir "$B" --corpus-dir "$W" "$@" >"$D/out" 2>&1 &
  PID=$!
  pids+=("$PID")
}
# wait_for_line TEXT FILE [SECONDS]: until FILE holds TEXT.
wait_for_line() {
  local i
  for ((i = 0; i < ${3:-10} * 10; i++)); do
    grep -q "$1" "$2" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
# finish PID SECONDS: its exit status, or 255 when still running after SECONDS.
finish() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if ! kill -0 "$1" 2>/dev/null; then
      wait "$1"
      return $?
    fi
    sleep 0.1
  done
  return 255
}

echo "1..8"

# 1. Ctrl-C (SIGINT to the process group, as a terminal sends it) while the
#    first target fuzzes: the whole campaign ends at once, 130, no merge,
#    no second target, the work dir removed.
fresh sigint
STUB_FUZZ="wait" start_run --time 60 a b
wait_for_line "a fuzz start" "$L"
t0=$(date +%s%N)
kill -INT -- "-$PID"
finish "$PID" 10; rc=$?
took=$((($(date +%s%N) - t0) / 1000000))
if [ $rc -eq 130 ] && [ $took -lt 5000 ] && grep -q "a fuzz interrupted" "$L" && ! grep -q "merge" "$L" &&
  ! grep -q "^b " "$L" && grep -q "interrupted (SIGINT) during a" "$D/out" &&
  [ -z "$(ls -A "$B/fuzz-work" 2>/dev/null)" ]; then
  ok "SIGINT stops the whole campaign at once (130 after ${took} ms, no merge, no next target, work dir gone)"
else
  not_ok "SIGINT stops the whole campaign at once" "exit $rc after ${took} ms; stub log:" "$(cat "$L")" "output:" "$(cat "$D/out")"
fi

# 2. SIGTERM to the script alone (a CI timeout, kill PID): the fuzzer it
#    runs is stopped too, 143.
fresh sigterm
STUB_FUZZ="wait" start_run --time 60 a b
wait_for_line "a fuzz start" "$L"
kill -TERM "$PID"
finish "$PID" 10; rc=$?
sleep 0.3
if [ $rc -eq 143 ] && grep -q "a fuzz interrupted" "$L" && ! grep -q "^b " "$L" &&
  ! pgrep -f "$B/fuzz/fuzz_a" >/dev/null; then
  ok "SIGTERM to the script stops its fuzzer and the campaign (143)"
else
  not_ok "SIGTERM to the script stops its fuzzer and the campaign" "exit $rc; stub log:" "$(cat "$L")" "output:" "$(cat "$D/out")"
fi

# 3. Interrupted in b's merge, whose process ignores SIGINT (libFuzzer's
#    merge parent does): the campaign still ends within seconds, and what a
#    merged before stays in the working corpus.
fresh merge
STUB_FUZZ=ok STUB_MERGE_b=hang start_run --time 60 a b
wait_for_line "b merge start" "$L"
kill -INT -- "-$PID"
finish "$PID" 10; rc=$?
a_kept=$(find "$W/a" -type f 2>/dev/null | wc -l)
if [ $rc -eq 130 ] && [ "$a_kept" -ge 1 ] && grep -q "merged earlier: a" "$D/out" &&
  ! pgrep -f "$B/fuzz/fuzz_b" >/dev/null; then
  ok "SIGINT during a merge that ignores SIGINT: stopped within seconds, a's merge kept ($a_kept file)"
else
  not_ok "SIGINT during a merge that ignores SIGINT" "exit $rc, a kept $a_kept; stub log:" "$(cat "$L")" "output:" "$(cat "$D/out")"
fi

# 4. Two runs on one build dir: the second exits 1 at once with one line
#    naming the holder; the first is unharmed.
fresh lock
STUB_FUZZ="wait" start_run --time 60 a
first=$PID
wait_for_line "a fuzz start" "$L"
t0=$(date +%s)
STUB_LOG=$L "$fuzz" --prebuilt --build-dir "$B" --corpus-dir "$W" --time 60 a >"$D/second.out" 2>"$D/second.err"
rc=$?
took=$(($(date +%s) - t0))
lines=$(wc -l <"$D/second.err")
alive=no; kill -0 "$first" 2>/dev/null && alive=yes
kill -INT -- "-$first"; finish "$first" 10
if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && [ "$took" -le 2 ] && [ "$alive" = yes ] &&
  grep -q "in use by another run (pid $first)" "$D/second.err"; then
  ok "a second run on the same build dir is refused at once: $(cat "$D/second.err")"
else
  not_ok "a second run on the same build dir is refused at once" "exit $rc after ${took}s, first alive: $alive; stderr:" "$(cat "$D/second.err")"
fi

# 5. A build dir meson cannot reconfigure: meson's own error is shown.
fresh reconf
echo "not a ninja file" >"$B/build.ninja"
"$fuzz" --build-dir "$B" --corpus-dir "$W" --time 1 a >"$D/out" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q "meson: .*does not contain a valid build tree" "$D/out" &&
  grep -q "meson reconfigure failed" "$D/out"; then
  ok "a failing reconfigure shows meson's own error"
else
  not_ok "a failing reconfigure shows meson's own error" "exit $rc; output:" "$(cat "$D/out")"
fi

# 6. Work dirs: a finished run leaves no BUILD/fuzz-work/, and a run clears
#    what an earlier (killed) run left there.
fresh clean
mkdir -p "$B/fuzz-work/a.stale"
echo junk >"$B/fuzz-work/a.stale/big"
STUB_LOG=$L "$fuzz" --prebuilt --build-dir "$B" --corpus-dir "$W" --time 1 a b >"$D/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ ! -e "$B/fuzz-work" ] && [ "$(find "$W" -type f | wc -l)" -eq 2 ]; then
  ok "work dirs removed (stale ones too); the working corpus holds the 2 merged inputs"
else
  not_ok "work dirs removed" "exit $rc; left: $(find "$B/fuzz-work" 2>/dev/null | tr '\n' ' ')" "$(cat "$D/out")"
fi

# 7. --engine afl: a failing afl-fuzz makes the campaign fail.
fresh aflfail
PATH=$D/bin:$PATH STUB_AFL=fail STUB_LOG=$L "$fuzz" --engine afl --prebuilt --build-dir "$B" \
  --corpus-dir "$W" --time 1 --no-merge a >"$D/out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "a: afl-fuzz failed with status 1" "$D/out" &&
  grep -q "PROGRAM ABORT" "$D/out" && grep -q "afl-fuzz fail" "$L"; then
  ok "a failing afl-fuzz makes scripts/fuzz --engine afl exit 1, with its error"
else
  not_ok "a failing afl-fuzz makes scripts/fuzz --engine afl exit 1" "exit $rc; output:" "$(cat "$D/out")"
fi

# 8. The same with an afl-fuzz that runs: exit 0 (the check above can pass).
fresh aflok
PATH=$D/bin:$PATH STUB_AFL=ok STUB_LOG=$L "$fuzz" --engine afl --prebuilt --build-dir "$B" \
  --corpus-dir "$W" --time 1 --no-merge a >"$D/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "afl-fuzz ok" "$L"; then
  ok "an afl-fuzz that runs leaves scripts/fuzz --engine afl at 0"
else
  not_ok "an afl-fuzz that runs leaves scripts/fuzz --engine afl at 0" "exit $rc; output:" "$(cat "$D/out")"
fi
exit 0
