#!/usr/bin/env bash
# scripts/tests/corpus_tools.sh: scripts/distil, scripts/promote and
# scripts/replay-corpus on throwaway corpora (stub-libfuzzer stands in for
# libFuzzer; nothing in the repository is written). TAP.
#
#   scripts/tests/corpus_tools.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
scripts=$here/..
tmp=$(mktemp -d "${TMPDIR:-/tmp}/iouw-corpus-tools.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
set -m
n=0
# no_temps DIR: DIR holds no dot entry (distil's temporaries).
no_temps() { [ -z "$(find "$1" -mindepth 1 -maxdepth 1 -name '.*')" ]; }
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; shift; printf '%s\n' "$@" | sed 's/^/# /'; }

B=$tmp/build W=$tmp/work L=$tmp/log
mkdir -p "$B/fuzz" "$W/a"
cp "$here/stub-libfuzzer" "$B/fuzz/fuzz_a"
for i in 1 2 3; do echo "input $i" >"$W/a/in-$i"; done
: >"$L"

echo "1..7"

# 1. distil swaps in the merged set and reports files and bytes.
STUB_LOG=$L "$scripts/distil" --prebuilt --build-dir "$B" --corpus-dir "$W" a >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "^a: 3 files, 24 bytes -> 3 files, 24 bytes" "$tmp/out" &&
  [ -f "$W/a/$(echo "input 1" | sha1sum | cut -d' ' -f1)" ] && [ ! -e "$W/a/in-1" ] &&
  no_temps "$W"; then
  ok "distil replaces the working corpus by the merged set: $(cat "$tmp/out")"
else
  not_ok "distil replaces the working corpus by the merged set" "exit $rc" "$(cat "$tmp/out")" "$(ls -a "$W" "$W/a")"
fi

# 2. --out leaves the working corpus alone.
before=$(ls "$W/a")
STUB_LOG=$L "$scripts/distil" --prebuilt --build-dir "$B" --corpus-dir "$W" --out "$tmp/out-dir" a >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ "$(ls "$W/a")" = "$before" ] && [ "$(ls "$tmp/out-dir/a" | wc -l)" -eq 3 ]; then
  ok "distil --out writes OUT/TARGET and leaves the working corpus as it was"
else
  not_ok "distil --out" "exit $rc" "$(cat "$tmp/out")"
fi

# 3. Interrupted while merging (the merge ignores SIGINT): exit 130 within
#    seconds, the working corpus untouched, no temporary left.
before=$(ls "$W/a")
# Tests 1-2 logged their merges too: start from an empty log, so the wait
# below sees this run's merge (a stale line let SIGINT arrive before
# distil had set its traps, on a loaded machine).
: >"$L"
STUB_LOG=$L STUB_MERGE=hang "$scripts/distil" --prebuilt --build-dir "$B" --corpus-dir "$W" a >"$tmp/out" 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do grep -q "merge start" "$L" && break; sleep 0.1; done
: >"$L"
kill -INT -- "-$pid"
rc=999
for ((i = 0; i < 100; i++)); do
  if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; rc=$?; break; fi
  sleep 0.1
done
if [ $rc -eq 130 ] && [ "$(ls "$W/a")" = "$before" ] && no_temps "$W"; then
  ok "an interrupted distil leaves the corpus as it was (130)"
else
  kill -KILL -- "-$pid" 2>/dev/null
  not_ok "an interrupted distil leaves the corpus as it was" "exit $rc" "$(cat "$tmp/out")" "$(ls -a "$W" "$W/a")"
fi

# 4-5. replay-corpus skips, saying why, when there is nothing to replay.
IOUW_WORK_CORPUS=$tmp/none "$scripts/replay-corpus" /bin/true a >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 77 ] && grep -q "SKIP: no working corpus for a: .* does not exist" "$tmp/out"; then
  ok "replay-corpus: absent directory -> exit 77 saying so"
else
  not_ok "replay-corpus: absent directory" "exit $rc" "$(cat "$tmp/out")"
fi
mkdir -p "$tmp/empty/a"
IOUW_WORK_CORPUS=$tmp/empty "$scripts/replay-corpus" /bin/false a >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 77 ] && grep -q "holds no file" "$tmp/out"; then
  ok "replay-corpus: empty directory -> exit 77 saying so"
else
  not_ok "replay-corpus: empty directory" "exit $rc" "$(cat "$tmp/out")"
fi

# 6. promote refuses an input over the per-file budget, writing nothing.
head -c 20000 /dev/zero >"$tmp/big"
before=$(ls "$here/../../corpus/waiter")
"$scripts/promote" waiter "$tmp/big" seed-too-big >"$tmp/out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "over budget: waiter: largest file big, 20000 bytes" "$tmp/out" &&
  [ "$(ls "$here/../../corpus/waiter")" = "$before" ]; then
  ok "promote refuses an input over the budget and writes nothing"
else
  not_ok "promote refuses an input over the budget" "exit $rc" "$(cat "$tmp/out")"
fi

# 7. promote refuses bytes the curated corpus already holds, and a taken name.
seed=$(ls "$here/../../corpus/waiter" | head -1)
"$scripts/promote" waiter "$here/../../corpus/waiter/$seed" seed-again >"$tmp/out" 2>&1
rc1=$?
echo new >"$tmp/new"
"$scripts/promote" waiter "$tmp/new" "$seed" >"$tmp/out2" 2>&1
rc2=$?
if [ $rc1 -eq 1 ] && grep -q "already holds these bytes" "$tmp/out" &&
  [ $rc2 -eq 1 ] && grep -q "already exists" "$tmp/out2" &&
  [ "$(ls "$here/../../corpus/waiter")" = "$before" ]; then
  ok "promote refuses a duplicate and a taken name"
else
  not_ok "promote refuses a duplicate and a taken name" "exit $rc1/$rc2" "$(cat "$tmp/out" "$tmp/out2")"
fi
exit 0
