#!/usr/bin/env python3
"""scripts/summarize.py: closing line for one or more meson test runs.

Reads each build dir's meson-logs/testlog.json and counts TAP subtests
(a test without TAP output counts once, by its meson result). Prints one
line per build and, last, the plain line 'N passed, N failed, N skipped'.
Exit status 1 when anything failed or a log is missing.
"""
import json
import re
import sys

OK = re.compile(r"^ok \d+")
NOT_OK = re.compile(r"^not ok \d+")
SKIP = re.compile(r"#\s*SKIP", re.I)


def count(build):
    passed = failed = skipped = 0
    path = f"{build}/meson-logs/testlog.json"
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        print(f"{path}: cannot read test log: {e.strerror}", file=sys.stderr)
        return 0, 1, 0
    for line in lines:
        t = json.loads(line)
        out = t.get("stdout") or ""
        tap = [l for l in out.splitlines() if OK.match(l) or NOT_OK.match(l)]
        result = t.get("result", "")
        if tap or re.search(r"^1\.\.0", out, re.M):
            for l in tap:
                if NOT_OK.match(l):
                    failed += 1
                elif SKIP.search(l):
                    skipped += 1
                else:
                    passed += 1
            if not tap:
                skipped += 1
            # A TAP test can also fail as a whole (crash, bad plan, timeout).
            if result not in ("OK", "SKIP", "EXPECTEDFAIL") and not any(NOT_OK.match(l) for l in tap):
                failed += 1
        elif result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
    return passed, failed, skipped


def main():
    total = [0, 0, 0]
    for build in sys.argv[1:]:
        p, f, s = count(build)
        print(f"{build}: {p} passed, {f} failed, {s} skipped")
        total = [total[0] + p, total[1] + f, total[2] + s]
    print(f"{total[0]} passed, {total[1]} failed, {total[2]} skipped")
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main())
