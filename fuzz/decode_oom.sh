#!/usr/bin/env bash
# fuzz/decode_oom.sh DECODE SANITIZE: the decode/out-of-memory test
# (fuzz/meson.build). Feeds iouwait-decode an endless input (/dev/zero)
# with its allocations capped -- ASan's max_allocation_size_mb when
# SANITIZE (meson's b_sanitize) names address, `ulimit -v` otherwise -- so
# that growing the buffer fails. Passes when decode then exits 1 with its
# one-line "out of memory" error; under ASan, LeakSanitizer runs at that
# exit, so a buffer lost to a failed realloc() turns into exit status 23.
# Exitcode protocol: 0 pass, 1 fail.
set -uo pipefail
decode=$1 sanitize=$2
err=$(mktemp "${TMPDIR:-/tmp}/decode-oom.XXXXXX")
trap 'rm -f "$err"' EXIT
rc=0
case $sanitize in
  *address*)
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:max_allocation_size_mb=4:detect_leaks=1" \
      "$decode" waiter /dev/zero >/dev/null 2>"$err" || rc=$? ;;
  *)
    (ulimit -v 262144 && exec "$decode" waiter /dev/zero) >/dev/null 2>"$err" || rc=$? ;;
esac
if [ "$rc" -ne 1 ] || ! grep -q '^iouwait-decode: /dev/zero: out of memory after [0-9]* bytes$' "$err"; then
  echo "decode_oom: expected exit 1 and one 'out of memory' line, got exit $rc:" >&2
  head -n 20 "$err" >&2
  exit 1
fi
echo "decode_oom: exit 1, $(cat "$err")"
