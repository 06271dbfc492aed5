#!/usr/bin/env python3
"""tests/test_kernel_matrix.py: scripts/kernel-matrix's argument checks (which
refuse before anything is installed or booted), its report parser
(scripts/kernel_matrix_report.py) on canned guest logs, and the `iouwait
features` lines the parser reads.

usage: test_kernel_matrix.py SOURCE_ROOT IOUWAIT   (meson: exitcode protocol)
"""
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = IOUWAIT = None

GOOD = """@@KERNEL 6.1.0-57-amd64 plan=full cpus=1
@@BEGIN features
kernel 6.1.0-57-amd64
feature ext_arg yes
feature single_issuer yes
feature multishot_poll yes
feature nop_inject no (Invalid argument)
feature msg_ring yes
@@END features rc=0 secs=0.62
@@BEGIN unit:uring_backend
ok 1 - t.c:uring:test_a: Passed
# this kernel rejects IORING_NOP_INJECT_RESULT (-EINVAL): checked the MSG_RING fallback instead
ok 2 - t.c:uring:test_b: Passed
1..2
@@END unit:uring_backend rc=0 secs=1.91
@@BEGIN unit:loop_uring
ok 1 - t.c:loop:test_c: Passed
not ok 2 - t.c:loop:test_d: Assertion 'x' failed
1..2
@@END unit:loop_uring rc=1 secs=6.79
@@BEGIN scenarios
PASS scenarios/a.scn [kernel] hash=1 branches=17:1,28:2
PASS scenarios/a.scn [inject] hash=1 via=msg_ring
FAIL scenarios/a.scn [inject] scenarios/a.scn:9: departed from the script
  departed at scenarios/a.scn:9: cqe r1 op res=0
SKIP scenarios/b.scn [kernel] no CQE injection | nothing
PASS scenarios/c.scn [kernel] hash=2 branches=-
PASS scenarios/c.scn [inject] hash=2 via=msg_ring
@@END scenarios rc=1 secs=8.38
@@BEGIN negative
FAIL scenarios/negative/w.scn [kernel] (negative, as declared) w.scn:25: departed from the script
PASS? scenarios/negative/x.scn [inject] negative scenario did not depart at line 3 (it passed)
@@END negative rc=1 secs=1.14
@@BEGIN speed:auto:1
@@END speed:auto:1 rc=0 secs=2.00
@@BEGIN speed:msg_ring:1
@@END speed:msg_ring:1 rc=0 secs=3.00
@@BEGIN bench:inject:1
inject nop: skipped, this kernel lacks it (Invalid argument)
inject msg_ring batch  1:     321582 CQEs/s   3109.6 ns/CQE
inject msg_ring batch 32:     757277 CQEs/s   1420.5 ns/CQE
@@END bench:inject:1 rc=0 secs=3.00
@@BEGIN bench:inject:2
inject nop: skipped, this kernel lacks it (Invalid argument)
inject msg_ring batch  1:     221582 CQEs/s   4109.6 ns/CQE
inject msg_ring batch 32:     757277 CQEs/s   1320.5 ns/CQE
@@END bench:inject:2 rc=0 secs=3.00
@@BEGIN ring:seed-a
@@END ring:seed-a rc=0 secs=0.29
@@BEGIN ring:seed-b
@@END ring:seed-b rc=77 secs=0.29
@@DONE
@@HOST package=linux-image-6.1.0-57-amd64 suite=bookworm accel=tcg smp=1 wall=68 qemu_rc=0
"""

CLEAN = """@@KERNEL 6.12.1 plan=smoke cpus=1
@@BEGIN features
feature nop_inject yes
@@END features rc=0 secs=0.1
@@BEGIN scenarios
PASS scenarios/c.scn [kernel] hash=2 branches=5:1
@@END scenarios rc=0 secs=1.0
@@DONE
@@HOST package=p suite=trixie accel=tcg smp=1 wall=10 qemu_rc=0
"""


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60)


class Report(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, text):
        p = os.path.join(self.dir.name, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def report(self, *args):
        return run(sys.executable, os.path.join(ROOT, "scripts", "kernel_matrix_report.py"), *args)

    def test_cells_and_failure_exit(self):
        r = self.report(self.write("a.log", GOOD))
        self.assertEqual(r.returncode, 1, r.stderr)  # a unit failure, an inject FAIL, a PASS?
        out = r.stdout
        self.assertIn("| bookworm | linux-image-6.1.0-57-amd64 | 6.1.0-57-amd64 | tcg -smp 1 | 68 s | "
                      "yes | yes | yes | no (Invalid argument) | yes |", out)
        # the worst inject variant wins; kernel mode carries its branches
        self.assertIn("| a.scn | inject | FAIL: scenarios/a.scn:9: departed from the script |", out)
        self.assertIn("| a.scn | kernel | pass (branches 17:1,28:2) |", out)
        self.assertIn("| c.scn | inject | pass (via msg_ring) |", out)
        self.assertIn("| b.scn | kernel | skip: no CQE injection \\| nothing |", out)
        self.assertIn("| negative/w.scn | kernel | pass |", out)
        self.assertIn("| negative/x.scn | inject | FAIL: negative scenario did not depart", out)
        self.assertIn("| a.scn | 17:1,28:2 |", out)
        self.assertNotIn("| c.scn | - |", out)  # no either block: not in the branch table
        self.assertIn("| loop_uring | FAIL test_d |", out)
        self.assertIn("| uring_backend | pass 2 ok; this kernel rejects IORING_NOP_INJECT_RESULT", out)
        self.assertIn("| seed-b | skip |", out)
        self.assertIn("MSG_RING (no NOP inject) | 2.00 s | 3.00 s |", out)
        self.assertIn("| bookworm 6.1.0-57-amd64 | 2 | n/a: this kernel lacks it (Invalid argument) | "
                      "n/a: this kernel lacks it (Invalid argument) | 3110 ns | 1320 ns |", out)

    def test_clean_run_exits_0_and_fills_docs(self):
        log = self.write("b.log", CLEAN)
        docs = self.write("d.md", "intro\n<!-- kernel-matrix:begin -->\nold\n<!-- kernel-matrix:end -->\nend\n")
        r = self.report("--docs", docs, log)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(docs) as f:
            text = f.read()
        self.assertTrue(text.startswith("intro\n<!-- kernel-matrix:begin -->\n\n### Kernels"))
        self.assertNotIn("old", text)
        self.assertTrue(text.endswith("<!-- kernel-matrix:end -->\nend\n"))
        self.assertIn("| c.scn | 5:1 |", text)
        self.assertEqual(sorted(os.listdir(self.dir.name)), ["b.log", "d.md"])  # no temp left

    def test_unfinished_kernel_fails(self):
        r = self.report(self.write("c.log", CLEAN.replace("@@DONE\n", "")))
        self.assertEqual(r.returncode, 1)
        self.assertIn("10 s (DID NOT FINISH)", r.stdout)

    def test_bad_input_names_file_and_line(self):
        p = self.write("x.log", "garbage\n")
        r = self.report(p)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.strip(), f"{p}:1: error: expected an '@@KERNEL' line "
                                           "(a kernel-matrix guest log)")
        p = self.write("y.log", "@@KERNEL 6.1 plan=x\n@@END nope rc=0 secs=1\n")
        r = self.report(p)
        self.assertEqual(r.returncode, 2)
        self.assertTrue(r.stderr.startswith(f"{p}:2: error: expected '@@END <begun step>"), r.stderr)
        docs = self.write("nomark.md", "no markers\n")
        r = self.report("--docs", docs, self.write("b.log", CLEAN))
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{docs}:1: error: expected the markers", r.stderr)
        with open(docs) as f:
            self.assertEqual(f.read(), "no markers\n")
        self.assertEqual(self.report().returncode, 2)


class Arguments(unittest.TestCase):
    def km(self, *args):
        return run("bash", os.path.join(ROOT, "scripts", "kernel-matrix"), *args)

    def test_refusals(self):
        for args, msg in ((["--bogus"], "unknown option --bogus"),
                          (["--smp", "x"], "expected a number, got 'x'"),
                          (["--smp", "0"], "--smp must be at least 1"),
                          (["--timeout"], "--timeout needs seconds"),
                          (["sid"], "unknown kernel 'sid'")):
            r = self.km(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(msg, r.stderr, args)
            self.assertEqual(r.stdout, "", args)

    def test_help(self):
        r = self.km("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: scripts/kernel-matrix [--smoke]", r.stdout)


class Features(unittest.TestCase):
    def test_lines(self):
        r = run(IOUWAIT, "features")
        if r.returncode == 77:
            self.skipTest("io_uring unavailable")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("kernel "))
        names = [l.split()[1] for l in lines[1:]]
        self.assertEqual(names, ["ext_arg", "single_issuer", "multishot_poll", "nop_inject", "msg_ring"])
        for l in lines[1:]:
            self.assertRegex(l, r"^feature \w+ (yes|no \(.+\))$")
        self.assertEqual(run(IOUWAIT, "features", "x").returncode, 2)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: test_kernel_matrix.py SOURCE_ROOT IOUWAIT", file=sys.stderr)
        sys.exit(2)
    ROOT, IOUWAIT = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"])
