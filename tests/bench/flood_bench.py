#!/usr/bin/python3
"""Flood figures for maild, by hand (never part of "make check").

Starts a maild of its own in a sandbox (the test harness's; the shipped
pool defaults, limit_loopback on), then opens CONNS idle connections to
each of SMTP and POP3 (default 2000 each) from the loopback addresses
127.0.0.2..(1+SOURCES) (default 8), and reports:

  memory:  Rss, Pss and Private (kB, /proc/PID/smaps_rollup) of the whole
           maild process tree, idle and with the flood open, the number of
           processes, and the same per worker+monitor pair;
  answer:  seconds from connect to the first line (greeting or refusal)
           for a new client from 127.0.0.1 during the flood, SAMPLES times
           (default 20) for each protocol, and what the line was;
  session: seconds for a whole SMTP transaction (EHLO, MAIL, RCPT, DATA,
           QUIT) during the flood; it may be refused (counted);
  ramp:    seconds until the pools were full (stress mode on in the log)
           and until the last connection of the flood had its handshake.

Usage (from the source tree, after make; as root, to read the workers'
smaps_rollup, and with RLIMIT_NOFILE room for 2 x CONNS sockets):
  MAILD_BUILDDIR=$PWD tests/bench/flood_bench.py
Environment: CONNS, SOURCES, SAMPLES, STRESS_TIMEOUT (default 60s, so
that the flood's sessions stay while the figures are taken; the flood's
clients never reconnect). With SOURCES=8 the addresses' shares (an
eighth of the workers each) fill the pools: new clients are refused;
with 7 or fewer a share stays free and they are served.
Output: "name value unit" lines on stdout, progress on stderr."""
import os
import resource
import select
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proto"))
from maildtest import Maild, Sandbox, descendants  # noqa: E402

CONNS = int(os.environ.get("CONNS", "2000"))
SOURCES = int(os.environ.get("SOURCES", "8"))
SAMPLES = int(os.environ.get("SAMPLES", "20"))
STRESS_TIMEOUT = os.environ.get("STRESS_TIMEOUT", "60s")


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def out(name, value, unit=""):
    print("%s %s %s" % (name, value, unit), flush=True)


def rollup(pid):
    """{Rss, Pss, Private} in kB for one process, or None."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            text = f.read()
    except OSError:
        return None
    v = {"Rss": 0, "Pss": 0, "Private": 0}
    for line in text.splitlines():
        k, _, rest = line.partition(":")
        if k in ("Rss", "Pss"):
            v[k] = int(rest.split()[0])
        elif k in ("Private_Clean", "Private_Dirty"):
            v["Private"] += int(rest.split()[0])
    return v


def tree_memory(m):
    pids = [m.pid] + descendants(m.pid)
    tot = {"Rss": 0, "Pss": 0, "Private": 0}
    for p in pids:
        r = rollup(p)
        if r:
            for k in tot:
                tot[k] += r[k]
    return len(pids), tot


def open_flood(port, n, sources):
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((sources[i % len(sources)], 0))
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    return socks


def wait_connected(socks, timeout=60):
    pending = {s.fileno() for s in socks}
    poller = select.poll()
    for fd in pending:
        poller.register(fd, select.POLLOUT)
    end = time.monotonic() + timeout
    while pending and time.monotonic() < end:
        for fd, _ in poller.poll(500):
            poller.unregister(fd)
            pending.discard(fd)
    return len(pending)


def first_line(port):
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        line = s.makefile("rb").readline().decode(errors="replace")
        s.close()
    except OSError as e:
        return time.monotonic() - t0, "error " + repr(e)
    return time.monotonic() - t0, line.strip()


def transaction(port):
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    f = s.makefile("rb")

    def reply():
        while True:
            ln = f.readline().decode(errors="replace")
            if ln[3:4] != "-":
                return ln
    try:
        ln = reply()
        if not ln.startswith("220"):
            return None, ln.strip()
        for cmd in ("EHLO bench.example.test", "MAIL FROM:<b@example.org>",
                    "RCPT TO:<alice@example.test>", "DATA"):
            s.sendall(cmd.encode() + b"\r\n")
            ln = reply()
            if ln[0] not in "23":
                return None, ln.strip()
        s.sendall(b"Subject: bench\r\n\r\nbench\r\n.\r\n")
        ln = reply()
        s.sendall(b"QUIT\r\n")
        reply()
        return time.monotonic() - t0, ln.strip()
    finally:
        s.close()


def figures(name, xs, unit="s"):
    if not xs:
        out(name + "_count", 0)
        return
    out(name + "_min", "%.3f" % min(xs), unit)
    out(name + "_median", "%.3f" % statistics.median(xs), unit)
    out(name + "_max", "%.3f" % max(xs), unit)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * CONNS + 200
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    sb = Sandbox()
    m = Maild(sb)
    for proto in ("smtp", "pop3"):
        del m.config[proto]["max_connections_per_ip"]
        m.config[proto]["pool"] = {"min_spare": 2,
                                   "stress_timeout": STRESS_TIMEOUT}
    m.config["limit_loopback"] = True
    m.write_config()
    m.start()
    try:
        time.sleep(1)
        n, mem = tree_memory(m)
        out("idle_processes", n)
        for k, v in mem.items():
            out("idle_tree_" + k, v, "kB")
        sources = ["127.0.0.%d" % (2 + i) for i in range(SOURCES)]
        log("opening %d + %d connections from %d addresses" %
            (CONNS, CONNS, SOURCES))
        t0 = time.monotonic()
        flood = open_flood(m.smtp_port, CONNS, sources)
        flood += open_flood(m.pop3_port, CONNS, sources)
        left = wait_connected(flood)
        out("flood_handshakes_done", "%.2f" % (time.monotonic() - t0), "s")
        out("flood_still_in_syn", left)
        # the pools grow until the flood's shares are held
        end, last, since = time.monotonic() + 60, 0, time.monotonic()
        while time.monotonic() < end and time.monotonic() - since < 2:
            n = len(descendants(m.pid))
            if n != last:
                last, since = n, time.monotonic()
            time.sleep(0.2)
        out("ramp_pool_settled", "%.2f" % (since - t0), "s")
        out("stress_mode_on_logged", m.log().count("stress mode on"))
        n, mem = tree_memory(m)
        out("flood_processes", n)
        for k, v in mem.items():
            out("flood_tree_" + k, v, "kB")
        pairs = max(1, (n - 2) // 2)
        out("flood_private_per_worker_and_monitor",
            (mem["Private"] - 0) // pairs, "kB")
        for proto, port in (("smtp", m.smtp_port), ("pop3", m.pop3_port)):
            times, kinds = [], {}
            for _ in range(SAMPLES):
                took, line = first_line(port)
                times.append(took)
                k = line[:20]
                kinds[k] = kinds.get(k, 0) + 1
                time.sleep(0.1)
            figures("answer_" + proto, times)
            for k, c in sorted(kinds.items()):
                out("answer_%s_line[%s]" % (proto, k.replace(" ", "_")), c)
        served, refused = [], 0
        for _ in range(SAMPLES):
            took, line = transaction(m.smtp_port)
            if took is None:
                refused += 1
            else:
                served.append(took)
            time.sleep(0.1)
        figures("smtp_transaction", served)
        out("smtp_transaction_refused", refused)
        out("elapsed_since_flood", "%.1f" % (time.monotonic() - t0), "s")
        for s in flood:
            s.close()
    finally:
        m.stop(timeout=60)
        for line in m.log().splitlines():
            if "stress mode" in line:
                log(line)
        sb.cleanup()


if __name__ == "__main__":
    main()
