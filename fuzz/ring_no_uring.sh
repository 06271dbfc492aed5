#!/usr/bin/env bash
# fuzz/ring_no_uring.sh NO_URING FUZZ_RING FILE: the ring/no-io_uring test
# (fuzz/meson.build). Replays FILE through the ring target with io_uring
# refused as a container's seccomp profile refuses it (NO_URING:
# fuzz/no_uring.c). Passes when the target skips cleanly: exit 77 (the
# replay driver's skip) and exactly one line on stderr saying io_uring is
# unavailable. Exitcode protocol: 0 pass, 1 fail.
set -uo pipefail
no_uring=$1 ring=$2 file=$3
err=$(mktemp "${TMPDIR:-/tmp}/ring-no-uring.XXXXXX")
trap 'rm -f "$err"' EXIT
rc=0
"$no_uring" "$ring" "$file" >/dev/null 2>"$err" || rc=$?
lines=$(wc -l <"$err")
if [ "$rc" -ne 77 ] || [ "$lines" -ne 1 ] ||
   ! grep -q '^fuzz_ring: io_uring unavailable (Operation not permitted): skipping$' "$err"; then
  echo "ring_no_uring: expected exit 77 and one 'io_uring unavailable' line, got exit $rc and $lines line(s):" >&2
  head -n 20 "$err" >&2
  exit 1
fi
echo "ring_no_uring: exit 77, stderr: $(cat "$err")"
