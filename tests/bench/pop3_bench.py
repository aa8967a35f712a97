#!/usr/bin/python3
"""POP3 figures for maild, by hand (never part of "make check").

Starts a maild of its own in a sandbox (the test harness's: fake users
through nss_wrapper, PAM through pam_wrapper + pam_matrix, so a login costs
far less than a real PAM stack with yescrypt hashes: compare login times with
other servers only on the same PAM stack), writes mbox maildrops directly,
and measures with a plain client that sends one command at a time:

  small:  N x SIZE (default 10,000 x 4 KiB): login+STAT on the first open
          (no index: a full scan), login+STAT again (the index), RETR 1..N
          (MB/s on the wire), DELE 1..N and the QUIT that empties the file.
  big:    BIG_N x BIG_SIZE (default 100,000 x 10 KiB, about 1 GB): login+STAT
          first open and second open.
  memory: Private_Dirty and Rss (kB, /proc/PID/smaps_rollup) of an idle pop3d
          worker, of its monitor, and of a worker serving a logged-in session
          on the small maildrop.
  sessions: the session rate: CLIENTS clients (default 3, one user each: a
          maildrop takes one session at a time) each doing SESSIONS
          (default 300) sessions of connect, USER, PASS, STAT, QUIT on an
          empty maildrop, with pop3.pool.retire_after_login on and then off
          (a fresh worker after every login, or 100 sessions a worker).

Usage (from the source tree, after make):
  MAILD_BUILDDIR=$PWD tests/bench/pop3_bench.py [small] [big] [memory] [sessions]
Environment: RUNS (3), N, SIZE, BIG_N, BIG_SIZE, BENCH_DIR (where the sandbox
goes; default /var/tmp: the big maildrop needs about 1 GB on a real disk),
DROP_CACHES=1 (root: drop the page cache before the big maildrop's first
open), POP3BENCH (a C client with the interface of the shared
bench/pop3bench.c: "POP3BENCH retr HOST PORT USER PASS"; when set, RETR 1..N
is also timed with it, since a Python client is slower than the server).
Output: "name value unit" lines on stdout (min/median/max per figure),
progress on stderr. Run as root to read the workers' smaps_rollup."""
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proto"))
from maildtest import IS_ROOT, Maild, Sandbox, wait_for  # noqa: E402

RUNS = int(os.environ.get("RUNS", "3"))
N = int(os.environ.get("N", "10000"))
SIZE = int(os.environ.get("SIZE", "4096"))
BIG_N = int(os.environ.get("BIG_N", "100000"))
BIG_SIZE = int(os.environ.get("BIG_SIZE", "10240"))
USER, PASS = "alice", "alice-pw-1"
CLIENTS = int(os.environ.get("CLIENTS", "3"))
SESSIONS = int(os.environ.get("SESSIONS", "300"))

LINE = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n"


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def emit(name, value, unit):
    print("%s %s %s" % (name, ("%.6g" % value) if isinstance(value, float) else value, unit),
          flush=True)


def summary(name, values, unit):
    emit(name + ".min", min(values), unit)
    emit(name + ".median", statistics.median(values), unit)
    emit(name + ".max", max(values), unit)


def write_mbox(m, count, size):
    """count messages of size bytes (headers and body, LF ends; the From_
    line and separator not counted), as an MDA would leave them."""
    path = m.sb.path("spool", USER)
    tmp = path + ".tmp"
    with open(tmp, "wb", buffering=1 << 20) as f:
        for i in range(1, count + 1):
            hdr = (b"Return-Path: <sender@example.test>\n"
                   b"From: Sender <sender@example.test>\n"
                   b"To: alice@example.test\n"
                   b"Subject: bench message %d\n"
                   b"Date: Tue, 24 Nov 2026 21:00:00 +0000\n"
                   b"Message-ID: <bench.%d.%d@example.test>\n\n") % (i, i, count)
            room = size - len(hdr)
            body = LINE * (room // len(LINE))
            rest = room - len(body)
            if rest > 1:
                body += b"x" * (rest - 1) + b"\n"
            elif rest == 1:
                body += b"\n"
            f.write(b"From sender@example.test Tue Nov 24 21:00:00 2026\n" + hdr + body + b"\n")
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    if IS_ROOT:
        os.chown(tmp, m.sb.uids[USER], m.sb.mail_gid)
    os.rename(tmp, path)
    drop_index(m)
    return os.path.getsize(path)


def drop_index(m):
    idx = m.sb.path("state", "index", USER)
    if os.path.exists(idx):
        os.unlink(idx)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.bytes = 0
        self.line()

    def fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError("server closed")
        self.bytes += len(d)
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b"\n")
            if i != -1:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            self.fill()

    def cmd(self, c):
        self.s.sendall(c.encode() + b"\r\n")
        r = self.line()
        if not r.startswith(b"+OK"):
            raise RuntimeError("%s: %r" % (c, r))
        return r

    def multi_end(self):
        """Skips a multi-line body up to CRLF.CRLF without splitting lines."""
        start = 0
        while True:
            i = self.buf.find(b"\r\n.\r\n", start)
            if i != -1:
                self.buf = self.buf[i + 5:]
                return
            if self.buf.startswith(b".\r\n"):
                self.buf = self.buf[3:]
                return
            start = max(0, len(self.buf) - 4)
            self.fill()

    def close(self):
        self.s.close()


def login_stat(port):
    """(login s, STAT s, QUIT s, messages)"""
    t0 = time.monotonic()
    c = Conn(port)
    c.cmd("USER " + USER)
    c.cmd("PASS " + PASS)
    t1 = time.monotonic()
    n = int(c.cmd("STAT").split()[1])
    t2 = time.monotonic()
    c.cmd("QUIT")
    t3 = time.monotonic()
    c.close()
    return t1 - t0, t2 - t1, t3 - t2, n


def bench_small(m):
    res = {k: [] for k in ("cold", "warm", "warm_login", "retr_s", "retr_mbps", "dele", "quit")}
    tag = "pop3_%dx%dB" % (N, SIZE)
    for r in range(RUNS):
        size = write_mbox(m, N, SIZE)
        lg, st, q, n = login_stat(m.pop3_port)
        assert n == N, (n, N)
        res["cold"].append(lg + st)
        lg, st, q, n = login_stat(m.pop3_port)
        res["warm"].append(lg + st)
        res["warm_login"].append(lg)
        c = Conn(m.pop3_port)
        c.cmd("USER " + USER)
        c.cmd("PASS " + PASS)
        c.cmd("STAT")
        before = c.bytes - len(c.buf)
        t0 = time.monotonic()
        for i in range(1, N + 1):
            c.s.sendall(b"RETR %d\r\n" % i)
            first = c.line()
            assert first.startswith(b"+OK"), first
            c.multi_end()
        t1 = time.monotonic()
        wire = c.bytes - len(c.buf) - before
        res["retr_s"].append(t1 - t0)
        res["retr_mbps"].append(wire / (t1 - t0) / 1e6)
        t0 = time.monotonic()
        for i in range(1, N + 1):
            c.cmd("DELE %d" % i)
        t1 = time.monotonic()
        c.cmd("QUIT")
        t2 = time.monotonic()
        c.close()
        res["dele"].append(t1 - t0)
        res["quit"].append(t2 - t1)
        if os.environ.get("POP3BENCH"):
            size = write_mbox(m, N, SIZE)
            login_stat(m.pop3_port)
            out = subprocess.run([os.environ["POP3BENCH"], "retr", "127.0.0.1",
                                  str(m.pop3_port), USER, PASS], check=True,
                                 capture_output=True, text=True).stdout
            got = dict((l.split()[0], float(l.split()[1])) for l in out.splitlines()
                       if len(l.split()) == 3)
            res.setdefault("c_retr_s", []).append(got["pop3_retr_all_s"])
            res.setdefault("c_retr_mbps", []).append(got["pop3_retr_wire_MBps"])
            res.setdefault("c_retr_cpu", []).append(got["pop3_retr_client_cpu_s"])
            log("run %d: RETR all with the C client %.3f s = %.1f MB/s (client cpu %.2f s)"
                % (r + 1, got["pop3_retr_all_s"], got["pop3_retr_wire_MBps"],
                   got["pop3_retr_client_cpu_s"]))
            with open(m.sb.path("spool", USER), "r+b") as f:
                f.truncate(0)
        left = os.path.getsize(m.sb.path("spool", USER))
        log("run %d: %d bytes; login+STAT cold %.3f s, warm %.3f s (login %.3f s); RETR all "
            "%.3f s = %.1f MB/s; DELE all %.3f s, QUIT %.3f s; %d bytes left"
            % (r + 1, size, res["cold"][-1], res["warm"][-1], res["warm_login"][-1],
               res["retr_s"][-1], res["retr_mbps"][-1], res["dele"][-1], res["quit"][-1], left))
        assert left == 0
    emit(tag + "_bytes", size, "bytes")
    summary(tag + "_login_stat_cold", res["cold"], "s")
    summary(tag + "_login_stat_warm", res["warm"], "s")
    summary(tag + "_login_only_warm", res["warm_login"], "s")
    summary(tag + "_retr_all", res["retr_s"], "s")
    summary(tag + "_retr_all_rate", res["retr_mbps"], "MB/s")
    summary(tag + "_dele_all_cmds", res["dele"], "s")
    summary(tag + "_dele_all_quit_update", res["quit"], "s")
    if "c_retr_s" in res:
        summary(tag + "_retr_all_c_client", res["c_retr_s"], "s")
        summary(tag + "_retr_all_c_client_rate", res["c_retr_mbps"], "MB/s")
        summary(tag + "_retr_all_c_client_cpu", res["c_retr_cpu"], "s")


def bench_big(m):
    first, second, third = [], [], []
    tag = "big_mbox_%dx%dB%s" % (BIG_N, BIG_SIZE,
                                 "_dropcaches" if os.environ.get("DROP_CACHES") == "1" else "")
    for r in range(RUNS):
        size = write_mbox(m, BIG_N, BIG_SIZE)
        if os.environ.get("DROP_CACHES") == "1":
            subprocess.run("sync; echo 3 > /proc/sys/vm/drop_caches", shell=True, check=True)
        a = login_stat(m.pop3_port)
        b = login_stat(m.pop3_port)
        c = login_stat(m.pop3_port)
        assert a[3] == b[3] == BIG_N
        first.append(a[0] + a[1])
        second.append(b[0] + b[1])
        third.append(c[0] + c[1])
        log("run %d: %d bytes; login+STAT first %.3f s, second %.3f s, third %.3f s"
            % (r + 1, size, first[-1], second[-1], third[-1]))
    emit(tag + "_bytes", size, "bytes")
    summary(tag + "_login_stat_first", first, "s")
    summary(tag + "_login_stat_second", second, "s")
    summary(tag + "_login_stat_third", third, "s")
    with open(m.sb.path("spool", USER), "r+b") as f:
        f.truncate(0)


def smaps(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                out[parts[0][:-1]] = int(parts[1])
    return out


def bench_memory(m):
    write_mbox(m, N, SIZE)
    login_stat(m.pop3_port)     # one session: the workers have served one
    time.sleep(0.5)
    workers = m.workers("pop3d")
    mons = m.monitors("pop3d")
    for p in workers:
        s = smaps(p)
        emit("mem_pop3d_idle_worker_%d_private_dirty" % p, s["Private_Dirty"], "kB")
        emit("mem_pop3d_idle_worker_%d_rss" % p, s["Rss"], "kB")
        emit("mem_pop3d_idle_worker_%d_pss" % p, s["Pss"], "kB")
    for p in mons:
        s = smaps(p)
        emit("mem_pop3d_idle_monitor_%d_private_dirty" % p, s["Private_Dirty"], "kB")
        emit("mem_pop3d_idle_monitor_%d_rss" % p, s["Rss"], "kB")
    # a worker serving a logged-in session on the N-message maildrop
    c = Conn(m.pop3_port)
    c.cmd("USER " + USER)
    c.cmd("PASS " + PASS)
    c.cmd("STAT")
    port = c.s.getsockname()[1]
    busy = int(m.wait_log(r"pop3d\[(\d+)\]: sid=\S+ connect from 127\.0\.0\.1:%d " % port)
               .group(1))
    s = smaps(busy)
    emit("mem_pop3d_session_%dmsgs_private_dirty" % N, s["Private_Dirty"], "kB")
    emit("mem_pop3d_session_%dmsgs_rss" % N, s["Rss"], "kB")
    c.cmd("QUIT")
    c.close()


def bench_sessions(base):
    """Sessions per second, with workers retired after each login or not:
    each setting gets a maild of its own, the runs alternate."""
    import threading
    users = [("alice", "alice-pw-1"), ("bob", "bob-pw-2"), ("carol", "carol-pw-3")]
    res = {True: [], False: []}
    for r in range(RUNS):
        for retire in (True, False):
            sb = Sandbox(base=base)
            m = Maild(sb, config={"pop3": {"pool": {
                "min_spare": 2, "max_spare": 4, "max_workers": 8,
                "retire_after_login": retire}}})
            m.start()
            errors = []

            def client(user, pw):
                try:
                    for _ in range(SESSIONS):
                        c = Conn(m.pop3_port)
                        c.cmd("USER " + user)
                        c.cmd("PASS " + pw)
                        c.cmd("STAT")
                        c.cmd("QUIT")
                        c.close()
                except Exception as e:      # reported below
                    errors.append(e)
            try:
                wait_for(lambda: len(m.workers("pop3d")) >= 2, 10, what="pop3d workers")
                ts = [threading.Thread(target=client, args=users[i % len(users)])
                      for i in range(min(CLIENTS, len(users)))]
                t0 = time.monotonic()
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                dt = time.monotonic() - t0
            finally:
                m.stop()
                sb.cleanup()
            if errors:
                raise errors[0]
            rate = len(ts) * SESSIONS / dt
            res[retire].append(rate)
            log("run %d: retire_after_login=%s: %d sessions in %.2f s = %.1f sessions/s"
                % (r + 1, retire, len(ts) * SESSIONS, dt, rate))
    summary("pop3_login_stat_sessions_retire", res[True], "sessions/s")
    summary("pop3_login_stat_sessions_keep", res[False], "sessions/s")


def main():
    what = sys.argv[1:] or ["small", "big", "memory"]
    base = os.environ.get("BENCH_DIR", "/var/tmp")
    if what == ["sessions"]:
        bench_sessions(base)
        return
    sb = Sandbox(base=base)
    m = Maild(sb, config={"pop3": {"pool": {"min_spare": 2, "max_spare": 4}}})
    m.start()
    log("sandbox %s, maild pid %d, POP3 on 127.0.0.1:%d" % (sb.dir, m.pid, m.pop3_port))
    try:
        wait_for(lambda: len(m.workers("pop3d")) >= 2, 10, what="pop3d workers")
        if "memory" in what:
            bench_memory(m)
        if "small" in what:
            bench_small(m)
        if "big" in what:
            bench_big(m)
    finally:
        m.stop()
        sb.cleanup()


if __name__ == "__main__":
    main()
