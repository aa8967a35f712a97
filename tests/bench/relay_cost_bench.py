#!/usr/bin/python3
"""Relay costs of maild beside Postfix, by hand (never part of "make check"):
msgs/s and CPU per message of both trees (Postfix's too), fsyncs per
message (strace) and the PSS of an idle relay worker and of an idle Postfix
smtp(8). relay_bench.py measures throughput in more set-ups (REUSE=0).

The chain (design brief, section 8): smtp-source -s CONC -> MTA -> smtp-sink,
N messages of SIZE bytes (default 2000 x 4096 at concurrency 8), to one
recipient domain, sink.example, whose next hop both MTAs pin to the sink:

  maild:   its own instance in a sandbox (the test harness's), an alias
           sink@example.test -> x@sink.example (mail from an
           unauthenticated client reaches the relay that way), relay.routes
           "sink.example=[127.0.0.1]:PORT", initial and limit destination
           concurrency CONC, connection cache on (2 s, the default);
  Postfix: the anchor on 127.0.0.1:2525 (../shared/anchors/start.sh, not
           started here), with relay_domains = sink.example, transport_maps
           inline:{sink.example=smtp:[127.0.0.1]:PORT} and smtp initial and
           limit destination concurrency CONC (connection caching on demand,
           the default). These settings are removed again at the end
           (postconf -X; none of them was set before: checked at start).

Per MTA and run: msgs/s (from smtp-source's start until smtp-sink has N
messages), CPU seconds per 1,000 messages (utime+stime of the MTA's whole
process tree, including reaped children: /proc/PID/stat of every live
process, before and after), the PSS of idle workers (below), and once, in a separate run under
"strace -f -c -e trace=fsync,fdatasync" attached to every process of the
tree, fsyncs per message. The PSS (kB, smaps_rollup) is that of an idle
relay worker (maild-relay) and of an idle Postfix smtp(8) process, taken
before the strace runs. RUNS runs each
(default 3), alternating, medians printed; uptime before and after.

Usage, as root, from the build tree after make:
  MAILD_BUILDDIR=$PWD tests/bench/relay_cost_bench.py
Environment: N, SIZE, CONC, RUNS, SKIP_POSTFIX=1.
Output: "name value unit" lines on stdout, progress on stderr."""
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proto"))
from maildtest import Maild, Sandbox, descendants, free_port  # noqa: E402

N = int(os.environ.get("N", "2000"))
SIZE = int(os.environ.get("SIZE", "4096"))
CONC = int(os.environ.get("CONC", "8"))
RUNS = int(os.environ.get("RUNS", "3"))
SKIP_POSTFIX = os.environ.get("SKIP_POSTFIX") == "1"
SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
POSTFIX_PORT = 2525
POSTFIX_KEYS = ("relay_domains", "transport_maps",
                "smtp_initial_destination_concurrency",
                "smtp_destination_concurrency_limit")
TICK = os.sysconf("SC_CLK_TCK")
RUN_TIMEOUT = 600


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def out(name, value, unit=""):
    print("%s %s %s" % (name, value, unit), flush=True)


def tree_cpu(root):
    """CPU seconds of root and its live descendants, reaped children included."""
    total = 0
    for pid in [root] + descendants(root):
        try:
            with open("/proc/%d/stat" % pid) as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after "pid (comm)": state is rest[0]; utime stime cutime cstime = fields 14-17
        total += sum(int(x) for x in rest[11:15])
    return total / TICK


def pss(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            m = re.search(r"^Pss:\s+(\d+) kB", f.read(), re.M)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d" % port)


def one_run(mta_port, mta_root, rcpt, sink_port, strace_out=None):
    """Sends N messages through the MTA into a fresh sink; returns (secs, cpu)."""
    sink = subprocess.Popen([SINK, "-u", "nobody", "-M", str(N),
                             "127.0.0.1:%d" % sink_port, "256"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tracer = None
    try:
        wait_port(sink_port)
        if strace_out is not None:
            args = ["strace", "-f", "-c", "-e", "trace=fsync,fdatasync", "-o", strace_out]
            for p in [mta_root] + descendants(mta_root):
                args += ["-p", str(p)]
            tracer = subprocess.Popen(args, stderr=subprocess.DEVNULL)
            time.sleep(1.0)         # attached
        cpu0 = tree_cpu(mta_root)
        t0 = time.monotonic()
        src = subprocess.run([SOURCE, "-s", str(CONC), "-m", str(N), "-l", str(SIZE),
                              "-f", "bench@example.test", "-t", rcpt,
                              "127.0.0.1:%d" % mta_port],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             timeout=RUN_TIMEOUT)
        if src.returncode != 0:
            raise RuntimeError("smtp-source: %s" % src.stderr.decode(errors="replace"))
        sink.wait(RUN_TIMEOUT)
        secs = time.monotonic() - t0
        cpu = tree_cpu(mta_root) - cpu0
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
        if tracer is not None:
            tracer.terminate()
            tracer.wait(30)
    return secs, cpu


def fsyncs(path):
    calls = 0
    with open(path) as f:
        for line in f:
            p = line.split()
            if p and p[-1] in ("fsync", "fdatasync"):
                # "% time seconds usecs/call calls [errors] syscall"
                calls += int(p[3])
    return calls


# --- maild ---------------------------------------------------------------------

def maild_start(sink_port):
    sb = Sandbox()
    aliases = sb.path("aliases")
    with open(aliases, "w") as f:
        f.write("sink: x@sink.example\n")
    m = Maild(sb, config={
        "aliases": aliases,
        "relay": {"routes": ["sink.example=[127.0.0.1]:%d" % sink_port],
                  "initial_destination_concurrency": CONC,
                  "destination_concurrency_limit": CONC,
                  "tls": {"security_level": "may", "ca_file": ""}},
        # as many smtpd workers as the source has sessions
        "smtp": {"pool": {"min_spare": CONC, "max_spare": CONC, "max_workers": CONC * 2}},
    })
    # as it runs in production: no debug lines (-d logs every SMTP command
    # of every session, a dozen lines a message, which Postfix does not)
    m.debug = False
    m.start()
    return sb, m


# --- Postfix -------------------------------------------------------------------

def postconf_n():
    r = subprocess.run(["postconf", "-n"], capture_output=True, text=True, check=True)
    return {k.strip(): v.strip() for k, _, v in
            (l.partition("=") for l in r.stdout.splitlines())}


def postfix_setup(sink_port):
    set_before = [k for k in POSTFIX_KEYS if k in postconf_n()]
    if set_before:
        raise RuntimeError("Postfix already sets %s: not touching it" % ", ".join(set_before))
    subprocess.run(["postconf", "-e", "relay_domains = sink.example",
                    "transport_maps = inline:{sink.example=smtp:[127.0.0.1]:%d}" % sink_port,
                    "smtp_initial_destination_concurrency = %d" % CONC,
                    "smtp_destination_concurrency_limit = %d" % CONC], check=True)
    try:
        subprocess.run(["postfix", "reload"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        # main() restores only once setup has returned: do it here
        postfix_restore()
        raise
    time.sleep(2)


def postfix_restore():
    subprocess.run(["postconf", "-X"] + list(POSTFIX_KEYS), check=False)
    subprocess.run(["postfix", "reload"], check=False, capture_output=True)


def postfix_master():
    with open("/var/spool/postfix/pid/master.pid") as f:
        return int(f.read().split()[0])


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main():
    if os.geteuid() != 0:
        sys.exit("run as root (smtp-sink -u, strace -p, Postfix settings)")
    log("uptime before: " + uptime())
    out("uptime_before", '"%s"' % uptime())
    sink_port = free_port()
    results = {"maild": [], "postfix": []}
    sb, m = maild_start(sink_port)
    pf_ok = False
    tmp = tempfile.mkdtemp(prefix="relay-bench-")
    try:
        if not SKIP_POSTFIX:
            wait_port(POSTFIX_PORT)
            postfix_setup(sink_port)
            pf_ok = True
        targets = [("maild", m.smtp_port, lambda: m.pid, "sink@example.test")]
        if pf_ok:
            targets.append(("postfix", POSTFIX_PORT, postfix_master, "x@sink.example"))
        # a warm-up run each (workers forked, caches filled), not counted
        for name, port, root, rcpt in targets:
            log("%s: warm-up" % name)
            one_run(port, root(), rcpt, sink_port)
        for i in range(RUNS):
            for name, port, root, rcpt in targets:
                secs, cpu = one_run(port, root(), rcpt, sink_port)
                results[name].append((N / secs, cpu * 1000 / N))
                log("%s run %d: %.1f msgs/s, %.2f CPU s/1000 msgs"
                    % (name, i + 1, N / secs, cpu * 1000 / N))
        # idle workers: the sessions cached after the last run are closed by now
        time.sleep(4)
        relay = [p for p in descendants(m.pid) if comm(p) == "maild-relay"]
        vals = [v for v in (pss(p) for p in relay) if v is not None]
        if vals:
            out("maild_relay_worker_pss", min(vals), "kB (idle, of %d workers)" % len(vals))
        else:
            out("maild_relay_worker_pss", "none", "(no relay worker left)")
        if pf_ok:
            smtp = [p for p in descendants(postfix_master()) if comm(p) == "smtp"]
            vals = [v for v in (pss(p) for p in smtp) if v is not None]
            if vals:
                out("postfix_smtp_pss", min(vals), "kB (idle, of %d smtp processes)" % len(vals))
        for name, port, root, rcpt in targets:
            path = os.path.join(tmp, name + ".strace")
            log("%s: run under strace" % name)
            one_run(port, root(), rcpt, sink_port, strace_out=path)
            out(name + "_fsyncs_per_msg", "%.2f" % (fsyncs(path) / N))
        for name, rs in results.items():
            if rs:
                out(name + "_msgs_per_s", "%.1f" % statistics.median(r[0] for r in rs),
                    "(median of %d: %s)" % (len(rs), " ".join("%.1f" % r[0] for r in rs)))
                out(name + "_cpu_s_per_1000", "%.2f" % statistics.median(r[1] for r in rs),
                    "(median of %d: %s)" % (len(rs), " ".join("%.2f" % r[1] for r in rs)))
        if results["postfix"]:
            out("ratio_msgs_per_s",
                "%.2f" % (statistics.median(r[0] for r in results["maild"]) /
                          statistics.median(r[0] for r in results["postfix"])), "maild/postfix")
            out("ratio_cpu_per_msg",
                "%.2f" % (statistics.median(r[1] for r in results["maild"]) /
                          statistics.median(r[1] for r in results["postfix"])), "maild/postfix")
    finally:
        if pf_ok:
            postfix_restore()
        m.stop()
        sb.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    out("uptime_after", '"%s"' % uptime())


if __name__ == "__main__":
    main()
