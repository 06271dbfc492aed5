#!/usr/bin/env python3
"""scripts/kernel_model_check.py: the kernel model held against the real
kernel (issue 11 deliverable 2); scripts/check-kernel-model runs it.

usage: kernel_model_check.py BUILD SCENARIO_DIR COUNT [--probes N] [--keep DIR]

For COUNT rounds, every kernel-mode scenario of SCENARIO_DIR (a `modes`
line naming kernel) runs in four ring variants: as written; with
`config single_issuer=1` (SINGLE_ISSUER + DEFER_TASKRUN); with `async=1`
on every request (IOSQE_ASYNC on its op SQEs); both. Each run is
`iouwait record VARIANT -o REC` (kernel mode; the recording is the inject
scenario of what the kernel did), then `iouwait run --mode inject -v REC`,
whose event log gives the history in kernel order: every SQE (`sqe ...`)
and every CQE the script named (`named cqe ...`: kernel mode matches them in
the order the kernel posted them, the recording keeps that order, and the
loop reaps nothing unnamed), also one whose reap then fires an invariant. A variant whose kernel run departs from its script (the variant
may change what the kernel does) leaves no recording: its kernel-mode
event log (`iouwait run --mode kernel -v`), cut at the departure, is the
history instead, counted apart. Then `iouwait-kmodel --probe N` adds N
raw liburing op + cancel probes per ring flavour (plain, DEFER_TASKRUN,
SQPOLL where allowed, IOSQE_ASYNC).

Every history goes to iouwait-kmodel (fuzz/kernel_model.h). Prints the
counts and exits 0 when the model accepts all of them, 1 when it rejects
one (a model bug: the rejected CQE is printed), 77 when io_uring is not
available here. The event log carries no CQE flags: recordings check
results and orders (K1-K8), flags are checked by the probes only.
"""
import errno
import os
import re
import shutil
import subprocess
import sys
import tempfile

REQ_CMDS = ("send", "recv", "read_at", "write_at", "sync")
OPCODES = {"SEND": 26, "RECV": 27, "READ": 22, "WRITE": 23, "WRITEV": 2, "FSYNC": 3}
CANCEL_TAG = 1 << 63
WAKE_UD = (1 << 64) - 1


def variants(text):
    """(name, text) for the four ring variants of a scenario."""
    def defer(t):
        lines = t.split("\n")
        for i, l in enumerate(lines):
            if l.startswith("config ") or l == "config":
                if "single_issuer=" not in l:
                    lines[i] = l + " single_issuer=1"
                return "\n".join(lines)
        for i, l in enumerate(lines):
            if l.startswith("modes"):
                lines.insert(i + 1, "config single_issuer=1")
                return "\n".join(lines)
        return t

    def asyncify(t):
        out = []
        for l in t.split("\n"):
            s = l.lstrip()
            w = s.split(" ", 1)[0]
            if w in REQ_CMDS and "async=" not in s and len(s.split()) > 1:
                l = l + " async=1"
            out.append(l)
        return "\n".join(out)

    return [("plain", text), ("defer_taskrun", defer(text)), ("iosqe_async", asyncify(text)),
            ("defer_taskrun+iosqe_async", asyncify(defer(text)))]


def parse_res(v):
    if v.startswith("-E"):
        return -getattr(errno, v[1:])
    return int(v, 0)


class Names:
    def __init__(self):
        self.ids = {}

    def ud(self, name):
        """user_data for "r1 op" / "r1 cancel" / "wake" / "slot=0 gen=0 op"."""
        if name == "wake":
            return WAKE_UD
        base, _, kind = name.rpartition(" ")
        n = self.ids.setdefault(base, len(self.ids) + 1)
        return n | CANCEL_TAG if kind == "cancel" else n


SQE_OP = re.compile(r"^\s+sqe (.+?) op (\w+) fd=\S+ len=(\d+) off=\S+ total=(\d+)")
SQE_CANCEL = re.compile(r"^\s+sqe (.+?) cancel ASYNC_CANCEL target=(.+)$")
SQE_WAKE = re.compile(r"^\s+sqe wake POLL_ADD")
CQE = re.compile(r"^\s+named cqe (.+?) res=(\S+)$")
TIMELINE = re.compile(r"^\s*\d+\|\s*(.*)$")


def history(log, title):
    """The kernel history of one event log, as iouwait-kmodel lines."""
    out = ["history " + title]
    names = Names()
    bad_cancel = False
    for line in log.split("\n"):
        if "timeline" in line and out[-1] != "history " + title:
            break  # a second run of the same file: one history per log
        m = TIMELINE.match(line)
        if m:
            text = m.group(1)
            bad_cancel = bool(re.search(r"\bcancel_flags=(?!0\b)", text))
            continue
        m = SQE_OP.match(line)
        if m:
            name, opc, ln, total = m.groups()
            if opc not in OPCODES:
                raise SystemExit(f"{title}: unknown opcode {opc} in: {line.strip()}")
            nbytes = int(total) if opc == "WRITEV" else int(ln)
            out.append(f"sqe op {names.ud(name + ' op')} {OPCODES[opc]} {nbytes}")
            continue
        m = SQE_CANCEL.match(line)
        if m:
            name, target = m.groups()
            out.append(f"sqe cancel {names.ud(name + ' cancel')} {names.ud(target)}"
                       + (" invalid" if bad_cancel else ""))
            continue
        if SQE_WAKE.match(line):
            out.append(f"sqe wake {WAKE_UD}")
            continue
        m = CQE.match(line)
        if m:
            name, res = m.groups()
            ud = names.ud(name)
            r = parse_res(res)
            # The log has no CQE flags: a wake CQE with a mask is taken as
            # the multishot poll's usual F_MORE (K10).
            flags = 2 if ud == WAKE_UD and r > 0 else 0
            out.append(f"cqe {ud} {r} {flags}")
    return out


def run(cmd, timeout=60):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


def main(argv):
    if len(argv) < 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    build, scen_dir, count = argv[1], argv[2], int(argv[3])
    probes, keep = 0, None
    rest = argv[4:]
    while rest:
        if rest[0] == "--probes" and len(rest) > 1:
            probes, rest = int(rest[1]), rest[2:]
        elif rest[0] == "--keep" and len(rest) > 1:
            keep, rest = rest[1], rest[2:]
        else:
            print(f"kernel_model_check.py: unknown argument {rest[0]}", file=sys.stderr)
            return 2
    iouwait = os.path.join(build, "harness", "iouwait")
    kmodel = os.path.join(build, "fuzz", "iouwait-kmodel")
    for exe in (iouwait, kmodel):
        if not os.access(exe, os.X_OK):
            print(f"{exe}: missing (build it: ninja -C {build})", file=sys.stderr)
            return 2
    feats = run([iouwait, "features"])
    if feats.returncode == 77:
        print("1..0 # SKIP io_uring not available here")
        return 77
    files = []
    for f in sorted(os.listdir(scen_dir)):
        if not f.endswith(".scn"):
            continue
        text = open(os.path.join(scen_dir, f)).read()
        m = re.search(r"^modes\s+(.*)$", text, re.M)
        if m and "kernel" in m.group(1).split():
            files.append((f, text))
    tmp = tempfile.mkdtemp(prefix="kmodel-")
    lines, recorded, fallback, failed_runs = [], 0, 0, 0
    per_variant = {}
    try:
        for rnd in range(count):
            for f, text in files:
                for vname, vtext in variants(text):
                    if vname != "plain" and vtext == text:
                        continue
                    src = os.path.join(tmp, f)
                    rec = os.path.join(tmp, "rec-" + f)
                    with open(src, "w") as fh:
                        fh.write(vtext)
                    if os.path.exists(rec):
                        os.unlink(rec)
                    title = f"{f}:{vname}:{rnd}"
                    r = run([iouwait, "record", src, "-o", rec])
                    if r.returncode == 0 and os.path.exists(rec):
                        log = run([iouwait, "run", "--mode", "inject", "-v", rec]).stdout
                        recorded += 1
                        if keep:
                            os.makedirs(keep, exist_ok=True)
                            shutil.copy(rec, os.path.join(keep, f"{f[:-4]}.{vname}.{rnd}.scn"))
                    else:
                        log = run([iouwait, "run", "--mode", "kernel", "-v", src]).stdout
                        if "SKIP" in log and "PASS" not in log and "FAIL" not in log:
                            continue
                        fallback += 1
                        title += ":kernel-log"
                    h = history(log, title)
                    if len(h) == 1:
                        failed_runs += 1
                        continue
                    per_variant[vname] = per_variant.get(vname, 0) + 1
                    lines.extend(h)
        hist = os.path.join(tmp, "histories.txt")
        with open(hist, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        res = run([kmodel, hist], timeout=600)
        print(f"scenarios: {len(files)} kernel-mode files x {count} rounds; "
              f"histories: {recorded} recorded (iouwait record), {fallback} from kernel runs that "
              f"departed from their script, {failed_runs} without a history; per variant: "
              + ", ".join(f"{k} {v}" for k, v in sorted(per_variant.items())))
        print("recordings: " + res.stdout.strip().split("\n")[-1])
        status = 0 if res.returncode == 0 else 1
        if res.returncode != 0:
            print(res.stdout, end="")
            if keep:
                shutil.copy(hist, os.path.join(keep, "histories.txt"))
        if probes:
            pr = run([kmodel, "--probe", str(probes)], timeout=900)
            print("probes: " + pr.stdout.strip().replace("\n", "\nprobes: "))
            if pr.returncode not in (0, 77):
                status = 1
        return status
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
