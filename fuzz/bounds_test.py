#!/usr/bin/env python3
"""fuzz/bounds_test.py: every fuzz target ends quickly on long inputs (TAP).

usage: bounds_test.py BUILD_FUZZ_DIR SOURCE_FUZZ_DIR TARGET...

The meson test `fuzz-bounds` (suites fuzz-bounds and reliability; issue 11,
"every target bounded"). Each TARGET's replay driver (BUILD_FUZZ_DIR/fuzz_TARGET)
runs, one process per input, on long uniform and random inputs: 0x00, 0xff,
0x55 and seeded random bytes, 1 byte to 1 MiB (11264 and 11265 bytes
included: 11265 bytes of 0xff once made the request decoder spin forever),
plus three long well-formed scenarios (the script target's worst shapes:
100000 turns, 25000 either blocks, repeat blocks expanding to the limit).
iouwait-decode runs on the largest 0xff and random input of each target too.

The per-input wall-clock limit is the target's libFuzzer timeout from
SOURCE_FUZZ_DIR/TARGET.options ([libfuzzer] timeout = N, the limit a campaign
enforces), or $IOUW_FUZZ_BOUNDS_LIMIT seconds when set. The expected time is
a few hundred milliseconds at most under ASan (the step budget of each
decoder, README "Fuzzing"); an input over the limit is killed and the target
fails ("not ok ... hangs"), as does a driver that crashes or exits non-zero.
Exit 77 from a driver (the environment lacks io_uring, for `ring`) skips that
target, saying so. Each test point prints the measured maximum time and the
input that took it; the slowest inputs follow as diagnostics.
"""
import configparser
import os
import random
import subprocess
import sys
import tempfile
import time

SIZES = [1, 4096, 11264, 11265, 65536, 1 << 20]
PATTERNS = [("0x00", b"\x00"), ("0xff", b"\xff"), ("0x55", b"\x55")]
EXIT_SKIP = 77


def make_inputs(root):
    """[(name, path)] of every input, written under @root."""
    inputs = []

    def add(name, data):
        path = os.path.join(root, name)
        with open(path, "wb") as f:
            f.write(data)
        inputs.append((name, path))

    rng = random.Random(11)
    for size in SIZES:
        for name, byte in PATTERNS:
            add("%s-x-%d" % (name, size), byte * size)
        add("random-x-%d" % size, bytes(rng.getrandbits(8) for _ in range(size)))
    head = b"modes inject\nconfig ring=8 tick=1ms max_timeout=10s\nsocketpair s\n"
    add("scenario-turns", head + b"turn\n" * 99990)
    either = b"either\ncqe r1 op res=1\nor\ncqe r1 op res=2\nend\n"
    add("scenario-either", (head + b"recv r1 fd=s len=8\nsubmit r1\nturn\n" + either * 25000)[: 1 << 20])
    # repeat blocks expanding to the step limit, nested and with either
    # blocks inside (the parser copies every step: issue 10, repeat)
    add("scenario-repeat", head + b"recv r1 fd=s len=8\n" + b"repeat 10\n" * 4 +
        b"repeat 3\n" + either + b"end\n" + b"end\n" * 4)
    return inputs


def limit_of(src_fuzz, target):
    env = os.environ.get("IOUW_FUZZ_BOUNDS_LIMIT")
    if env:
        return float(env)
    cp = configparser.ConfigParser()
    path = os.path.join(src_fuzz, target + ".options")
    if not cp.read(path) or not cp.has_option("libfuzzer", "timeout"):
        raise SystemExit("bounds_test.py: %s: expected a [libfuzzer] timeout = N" % path)
    return float(cp.get("libfuzzer", "timeout"))


def run(cmd, limit):
    """(seconds, status): status 'ok', 'skip', 'hang' or 'exit N: stderr tail'."""
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=limit)
    except subprocess.TimeoutExpired:
        return time.monotonic() - start, "hang"
    took = time.monotonic() - start
    if p.returncode == 0:
        return took, "ok"
    if p.returncode == EXIT_SKIP:
        return took, "skip"
    tail = p.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
    return took, "exit %d: %s" % (p.returncode, tail[0])


def check(label, runs, limit, n):
    """Print the TAP line for @runs [(seconds, status, input)]; True if ok."""
    worst = max(runs)
    skipped = [r for r in runs if r[1] == "skip"]
    bad = [r for r in runs if r[1] not in ("ok", "skip")]
    if skipped and not bad:
        print("ok %d - %s # SKIP the driver exited 77 (environment: see its stderr)" % (n, label))
        return True
    summary = "%s: %d inputs, max %.3f s (%s), limit %g s" % (label, len(runs), worst[0], worst[2], limit)
    if bad:
        print("not ok %d - %s" % (n, summary))
        for took, status, name in bad:
            print("#   %s: %s after %.3f s%s" % (name, status, took,
                  " (killed at the limit)" if status == "hang" else ""))
    else:
        print("ok %d - %s" % (n, summary))
    for took, status, name in sorted(runs, reverse=True)[:3]:
        print("#   %-22s %.3f s %s" % (name, took, status))
    sys.stdout.flush()
    return not bad


def main(argv):
    if len(argv) < 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    build_fuzz, src_fuzz, targets = argv[1], argv[2], argv[3:]
    print("1..%d" % (2 * len(targets)))
    ok = True
    n = 0
    with tempfile.TemporaryDirectory(prefix="iouw-bounds-") as root:
        inputs = make_inputs(root)
        largest = [i for i in inputs if i[0] in ("0xff-x-%d" % SIZES[-1], "random-x-%d" % SIZES[-1])]
        for target in targets:
            limit = limit_of(src_fuzz, target)
            exe = os.path.join(build_fuzz, "fuzz_" + target)
            runs = [run([exe, path], limit) + (name,) for name, path in inputs]
            n += 1
            ok &= check(target, runs, limit, n)
            decode = os.path.join(build_fuzz, "iouwait-decode")
            runs = [run([decode, target, path], limit) + (name,) for name, path in largest]
            n += 1
            ok &= check("iouwait-decode " + target, runs, limit, n)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
