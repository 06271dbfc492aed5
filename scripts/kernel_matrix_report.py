#!/usr/bin/env python3
"""scripts/kernel_matrix_report.py: turn the guest logs of scripts/kernel-matrix
into the conformance tables (markdown).

usage: kernel_matrix_report.py [--out FILE] [--docs FILE] LOG...

Each LOG is build-kmatrix/results/<package>.log, written by the guest's /init
(scripts/kernel-matrix.d/guest-init) on its second serial port: "@@KERNEL",
then per step "@@BEGIN name" ... "@@END name rc=N secs=S", then "@@DONE",
and a final "@@HOST ..." line the host appends. Steps: features, unit:<suite>
(TAP), scenarios / explained / negative / msg_ring (iouwait run verdict
lines), speed:<auto|msg_ring>:<i>, ring:<corpus file> (replay exit status).

Writes the tables to --out (default stdout); with --docs, replaces the text
between "<!-- kernel-matrix:begin -->" and "<!-- kernel-matrix:end -->" in
that file (written to a temporary sibling, then renamed). Exit 0 when every
kernel finished and nothing failed, 1 on a failure, 2 on bad input (a log
without the guest's header, a docs file without the markers), naming the
file and line.
"""
import os
import re
import statistics
import sys
import tempfile

BEGIN_MARK = "<!-- kernel-matrix:begin -->"
END_MARK = "<!-- kernel-matrix:end -->"
FEATURES = ["ext_arg", "single_issuer", "multishot_poll", "nop_inject", "msg_ring"]
VERDICT = re.compile(r"^(PASS\?|PASS|FAIL|SKIP) (\S+) \[(kernel|inject)\] ?(.*)$")


class InputError(Exception):
    pass


class Kernel:
    def __init__(self, path):
        self.path = path
        self.release = "?"
        self.plan = "?"
        self.host = {}
        self.done = False
        self.steps = {}      # name -> {"lines": [...], "rc": int|None, "secs": float}
        self.order = []


def parse_log(path):
    k = Kernel(path)
    cur = None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise InputError(f"{path}:0: error: expected a readable log ({e.strerror})")
    saw_header = False
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if line.startswith("@@KERNEL "):
            w = line.split()
            k.release = w[1] if len(w) > 1 else "?"
            for t in w[2:]:
                if t.startswith("plan="):
                    k.plan = t[5:]
            saw_header = True
        elif line.startswith("@@BEGIN "):
            cur = line[8:].strip()
            k.steps[cur] = {"lines": [], "rc": None, "secs": 0.0}
            k.order.append(cur)
        elif line.startswith("@@END "):
            m = re.match(r"^@@END (\S+) rc=(\d+) secs=([0-9.]+)$", line)
            if not m or m.group(1) not in k.steps:
                raise InputError(f"{path}:{n}: error: expected '@@END <begun step> rc=N secs=S', "
                                 f"got '{line}'")
            k.steps[m.group(1)]["rc"] = int(m.group(2))
            k.steps[m.group(1)]["secs"] = float(m.group(3))
            cur = None
        elif line.startswith("@@DONE"):
            k.done = True
        elif line.startswith("@@HOST "):
            for t in line.split()[1:]:
                if "=" in t:
                    a, b = t.split("=", 1)
                    k.host[a] = b
        elif cur is not None:
            k.steps[cur]["lines"].append(line)
    if not saw_header and not k.host:
        raise InputError(f"{path}:1: error: expected an '@@KERNEL' line (a kernel-matrix guest log)")
    return k


def name_of(k):
    return k.host.get("suite", "?") + " " + k.release


def features(k):
    out = {}
    st = k.steps.get("features")
    for line in st["lines"] if st else []:
        m = re.match(r"^feature (\S+) (yes|no)(?: \((.*)\))?$", line)
        if m:
            out[m.group(1)] = "yes" if m.group(2) == "yes" else f"no ({m.group(3) or '?'})"
    return out


def tap(st):
    """(verdict, detail) for a unit suite's TAP output."""
    if st is None:
        return "not run", ""
    if st["rc"] is None:
        return "FAIL", "did not finish"
    notok = [l for l in st["lines"] if l.startswith("not ok")]
    ok = [l for l in st["lines"] if l.startswith("ok ")]
    notes = sorted({l[1:].strip() for l in st["lines"] if l.startswith("#") and "SKIP" not in l})
    skip = [l for l in st["lines"] if re.match(r"^1\.\.0 # SKIP", l)]
    if skip and st["rc"] == 0:
        return "skip", skip[0].split("# SKIP", 1)[1].strip()
    if notok or st["rc"] != 0:
        names = [re.sub(r"^not ok \d+ - (\S+?):.*?:(\w+):.*$", r"\2", l) for l in notok]
        return "FAIL", (", ".join(names) or f"exit {st['rc']}")
    return "pass", f"{len(ok)} ok" + (("; " + "; ".join(notes)) if notes else "")


def verdicts(k, step, mode_label=None):
    """{(scenario, mode): [status, detail, branches]} from iouwait run lines."""
    out = {}
    st = k.steps.get(step)
    if st is None:
        return out
    for line in st["lines"]:
        m = VERDICT.match(line)
        if not m:
            continue
        word, path, mode, rest = m.groups()
        scn = os.path.basename(path)
        if step == "negative":
            scn = "negative/" + scn
        key = (scn, mode_label or mode)
        br = ""
        b = re.search(r" branches=(\S+)", rest)
        if b:
            br = b.group(1)
            rest = rest[:b.start()] + rest[b.end():]
        if step == "negative":
            status = "pass" if word == "FAIL" and "(negative, as declared)" in rest else "FAIL"
            detail = "departed as declared" if status == "pass" else rest
        elif word == "PASS":
            via = re.search(r"via=(\w+)", rest)
            status, detail = "pass", (f"via {via.group(1)}" if via else "")
        elif word == "SKIP":
            status, detail = "skip", rest
        else:
            status, detail = "FAIL", rest
        prev = out.get(key)
        if prev is None:
            out[key] = [status, detail, br]
        else:  # inject variants (one per either branch index): the worst wins
            rank = {"FAIL": 2, "skip": 1, "pass": 0}
            if rank.get(status, 2) > rank.get(prev[0], 2):
                out[key] = [status, detail, br]
    if st["rc"] not in (0, 1, 77) and not out:
        out[("(" + step + ")", mode_label or "?")] = ["FAIL", f"exit {st['rc']}", ""]
    return out


def cell(v, mode=""):
    if v is None:
        return "-"
    status, detail, br = v
    s = status
    if status == "pass" and mode == "inject" and detail.startswith("via "):
        s += f" ({detail})"
    if br and br != "-":
        s += f" (branches {br})"
    if status != "pass" and detail:
        s += ": " + detail.replace("|", "\\|")
    return s


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


def report(kernels):
    lines = []
    failed = False
    # Kernels and features.
    rows = []
    for k in kernels:
        f = features(k)
        rows.append([k.host.get("suite", "?"), k.host.get("package", "?"), k.release,
                     f"{k.host.get('accel', '?')} -smp {k.host.get('smp', '?')}",
                     f"{k.host.get('wall', '?')} s" + ("" if k.done else " (DID NOT FINISH)")]
                    + [f.get(x, "?") for x in FEATURES])
        if not k.done:
            failed = True
    lines += ["### Kernels and ring features", "",
              table(["suite", "package", "release", "qemu", "run"] + FEATURES, rows), ""]

    # Summary per kernel.
    rows = []
    all_v = {}
    for k in kernels:
        v = {}
        for step, label in (("scenarios", None), ("explained", None), ("negative", None),
                            ("msg_ring", "inject (forced MSG_RING)")):
            for key, val in verdicts(k, step, label).items():
                v[key] = val
        all_v[name_of(k)] = v
        counts = {}
        for (scn, mode), val in v.items():
            c = counts.setdefault(mode, {"pass": 0, "skip": 0, "FAIL": 0})
            c[val[0] if val[0] in c else "FAIL"] += 1
        units = [s for s in k.order if s.startswith("unit:")]
        ufail = [s[5:] for s in units if tap(k.steps[s])[0] == "FAIL"]
        ring = [s for s in k.order if s.startswith("ring:")]
        rfail = [s[5:] for s in ring if k.steps[s]["rc"] not in (0, 77)]
        rskip = [s[5:] for s in ring if k.steps[s]["rc"] == 77]

        def fmt(mode):
            c = counts.get(mode)
            if not c:
                return "-"
            return f"{c['pass']} pass, {c['skip']} skip, {c['FAIL']} fail"
        rows.append([name_of(k),
                     f"{len(units) - len(ufail)}/{len(units)} pass" + (f" (FAIL: {', '.join(ufail)})" if ufail else ""),
                     fmt("kernel"), fmt("inject"), fmt("inject (forced MSG_RING)"),
                     f"{len(ring) - len(rfail) - len(rskip)} pass, {len(rskip)} skip, {len(rfail)} fail"])
        if ufail or rfail or any(val[0] == "FAIL" for val in v.values()):
            failed = True
    lines += ["### Summary", "",
              table(["kernel", "unit suites (real ring)", "scenarios: kernel", "scenarios: inject",
                     "scenarios: inject, forced MSG_RING", "ring corpus"], rows), ""]

    # Unit suites.
    suites = []
    for k in kernels:
        for s in k.order:
            if s.startswith("unit:") and s not in suites:
                suites.append(s)
    rows = [[s[5:]] + [" ".join(x for x in tap(k.steps.get(s)) if x).replace("|", "\\|") for k in kernels]
            for s in suites]
    lines += ["### Unit suites that touch a real ring", "",
              table(["suite"] + [name_of(k) for k in kernels], rows), ""]

    # Either branches (kernel mode).
    rows = []
    keys = sorted({key for v in all_v.values() for key, val in v.items()
                   if key[1] == "kernel" and val[2] and val[2] != "-"})
    for key in keys:
        rows.append([key[0]] + [all_v[name_of(k)].get(key, [None, None, "-"])[2] or "-" for k in kernels])
    lines += ["### Which `either` branch each kernel took (kernel mode, `LINE:BRANCH`)", "",
              table(["scenario"] + [name_of(k) for k in kernels], rows) if rows else "(no either blocks ran)", ""]

    # Conformance table.
    keys = sorted({key for v in all_v.values() for key in v})
    rows = [[scn, mode] + [cell(all_v[name_of(k)].get((scn, mode)), mode) for k in kernels]
            for scn, mode in keys]
    lines += ["### Conformance: scenario x mode x kernel", "",
              table(["scenario", "mode"] + [name_of(k) for k in kernels], rows), ""]

    # Ring corpus.
    files = []
    for k in kernels:
        for s in k.order:
            if s.startswith("ring:") and s not in files:
                files.append(s)
    def ring_cell(st):
        if st is None:
            return "-"
        return {0: "pass", 77: "skip"}.get(st["rc"], f"FAIL (exit {st['rc']})")
    rows = [[s[5:]] + [ring_cell(k.steps.get(s)) for k in kernels] for s in files]
    lines += ["### `ring` regression corpus (replay driver)", "",
              table(["corpus/ring file"] + [name_of(k) for k in kernels], rows), ""]

    # Inject speed.
    rows = []
    for k in kernels:
        auto = [k.steps[s]["secs"] for s in k.order if s.startswith("speed:auto:")]
        msg = [k.steps[s]["secs"] for s in k.order if s.startswith("speed:msg_ring:")]
        if not auto:
            continue
        via = features(k).get("nop_inject", "?")
        rows.append([name_of(k), "NOP inject" if via == "yes" else "MSG_RING (no NOP inject)",
                     f"{statistics.median(auto):.2f} s", f"{statistics.median(msg):.2f} s",
                     " / ".join(f"{x:.2f}" for x in auto), " / ".join(f"{x:.2f}" for x in msg)])
    if rows:
        lines += ["### Inject mode speed: `iouwait run --mode inject` over corpus/scenarios", "",
                  table(["kernel", "default path", "median, default", "median, forced MSG_RING",
                         "runs, default (s)", "runs, MSG_RING (s)"], rows), ""]
    # Injected CQE cost (tests/bench_inject.c), best of the runs.
    rows = []
    for k in kernels:
        runs = [k.steps[s] for s in k.order if s.split(":")[:2] == ["bench", "inject"]]
        if not runs:
            continue
        best, skipped = {}, {}
        bad = any(st["rc"] not in (0, 77) for st in runs)
        for st in runs:
            for line in st["lines"]:
                m = re.match(r"^inject (\w+) +batch +(\d+): +(\d+) CQEs/s +([0-9.]+) ns/CQE$", line)
                if m:
                    key = (m.group(1), m.group(2))
                    best[key] = min(best.get(key, float("inf")), float(m.group(4)))
                m = re.match(r"^inject (\w+): skipped, (.*)$", line)
                if m:
                    skipped[m.group(1)] = "n/a: " + m.group(2)
        failed = failed or bad
        rows.append([name_of(k), str(len(runs))]
                    + [f"{best[(p, b)]:.0f} ns" if (p, b) in best and not bad
                       else skipped.get(p, "FAIL" if bad else "-")
                       for p in ("nop", "msg_ring") for b in ("1", "32")])
    if rows:
        lines += ["### Cost of one injected CQE (`bench_inject`: push + submit_and_wait + reap; best of the runs)", "",
                  table(["kernel", "runs", "NOP inject, batch 1", "NOP inject, batch 32",
                         "MSG_RING, batch 1", "MSG_RING, batch 32"], rows), ""]
    return "\n".join(lines), failed


def write_docs(path, body):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise InputError(f"{path}:0: error: expected a readable docs file ({e.strerror})")
    b, e = text.find(BEGIN_MARK), text.find(END_MARK)
    if b < 0 or e < b:
        raise InputError(f"{path}:1: error: expected the markers '{BEGIN_MARK}' and '{END_MARK}'")
    new = text[:b + len(BEGIN_MARK)] + "\n\n" + body + "\n" + text[e:]
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", dir=os.path.dirname(path) or ".")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(tmp, path)


def main(argv):
    out = docs = None
    logs = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--out", "--docs"):
            if i + 1 >= len(argv):
                print(f"kernel_matrix_report: {a} needs a file", file=sys.stderr)
                return 2
            if a == "--out":
                out = argv[i + 1]
            else:
                docs = argv[i + 1]
            i += 2
            continue
        if a.startswith("-"):
            print(f"kernel_matrix_report: unknown option {a}", file=sys.stderr)
            return 2
        logs.append(a)
        i += 1
    if not logs:
        print("usage: kernel_matrix_report.py [--out FILE] [--docs FILE] LOG...", file=sys.stderr)
        return 2
    try:
        kernels = [parse_log(p) for p in logs]
        body, failed = report(kernels)
        if docs:
            write_docs(docs, body)
    except InputError as e:
        print(str(e), file=sys.stderr)
        return 2
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(body + "\n")
    else:
        print(body)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
