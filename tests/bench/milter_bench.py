#!/usr/bin/python3
"""Local delivery through a content filter, by hand (never part of "make
check"): CLIENTS (default 8) SMTP clients each send MSGS messages (default
250, 4 KiB each, one transaction a message on one connection a client) to
local users, with OpenDKIM signing every message (smtp.milters), and the
figure is messages per second from the first MAIL to the last message
appended to the maildrops. The same run without the filter is the
baseline.

OpenDKIM (mode s, a fresh 2048-bit key, relaxed/simple) listens on
inet:DKIM_PORT@127.0.0.1 (default 8891) for the whole run, so that
another MTA can use the same instance: with POSTFIX_PORT set (a Postfix
already running on 127.0.0.1:POSTFIX_PORT with
"smtpd_milters = inet:127.0.0.1:8891", delivering example.test's users
locally) and POSTFIX_MBOX (the mbox its deliveries for
POSTFIX_RCPT, default alice@example.test, go to), the same load is sent
to it and timed until that mbox holds the messages. The script never
installs or configures Postfix.

Usage (from the source tree, after make):
  MAILD_BUILDDIR=$PWD tests/bench/milter_bench.py
Environment: CLIENTS, MSGS, SIZE, DKIM_PORT, POSTFIX_PORT, POSTFIX_MBOX,
POSTFIX_RCPT, BENCH_DIR. Output: "name value unit" lines on stdout."""
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proto"))
from maildtest import MAILD, Maild, Sandbox, wait_for  # noqa: E402

CLIENTS = int(os.environ.get("CLIENTS", "8"))
MSGS = int(os.environ.get("MSGS", "250"))
SIZE = int(os.environ.get("SIZE", "4096"))
DKIM_PORT = int(os.environ.get("DKIM_PORT", "8891"))
USERS = ["alice", "bob", "carol"]


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def emit(name, value, unit):
    print("%s %.6g %s" % (name, value, unit), flush=True)


def message(i):
    body = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit %d.\r\n" % i)
    head = ("From: Sender <sender@example.test>\r\nTo: alice@example.test\r\n"
            "Subject: bench %d\r\nMessage-ID: <bench-%d@example.test>\r\n\r\n" % (i, i))
    n = max(1, (SIZE - len(head)) // len(body))
    return head + body * n + ".\r\n"


def reply(f):
    while True:
        line = f.readline()
        if not line:
            raise EOFError
        if line[3:4] != b"-":
            return int(line[:3])


def client(port, rcpts, first, count, errors):
    s = socket.create_connection(("127.0.0.1", port), 30)
    f = s.makefile("rb")
    try:
        assert reply(f) == 220
        s.sendall(b"EHLO bench.example.test\r\n")
        assert reply(f) == 250
        for i in range(first, first + count):
            rc = rcpts[i % len(rcpts)]
            s.sendall(b"MAIL FROM:<sender@example.test>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                      % rc.encode())
            if reply(f) != 250 or reply(f) != 250 or reply(f) != 354:
                errors.append(i)
                s.sendall(b"RSET\r\n")
                reply(f)
                continue
            s.sendall(message(i).encode())
            if reply(f) != 250:
                errors.append(i)
        s.sendall(b"QUIT\r\n")
    finally:
        s.close()


def load(port, rcpts, delivered):
    """Sends CLIENTS x MSGS messages; returns seconds until delivered()."""
    errors = []
    start = time.monotonic()
    ts = [threading.Thread(target=client, args=(port, rcpts, c * MSGS, MSGS, errors))
          for c in range(CLIENTS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    accepted = time.monotonic() - start
    total = CLIENTS * MSGS - len(errors)
    wait_for(lambda: delivered() >= total, 600, what="%d deliveries" % total)
    if errors:
        log("%d messages refused" % len(errors))
    return accepted, time.monotonic() - start, total


def count_mbox(path):
    try:
        with open(path, "rb") as f:
            return len(re.findall(rb"^From ", f.read(), re.M))
    except FileNotFoundError:
        return 0


def start_opendkim(d):
    key = os.path.join(d, "sel.private")
    subprocess.run(["opendkim-genkey", "-b", "2048", "-D", d, "-d", "example.test",
                    "-s", "sel"], check=True)
    conf = os.path.join(d, "opendkim.conf")
    with open(conf, "w") as f:
        f.write("Syslog no\nMode s\nDomain example.test\nSelector sel\nKeyFile %s\n"
                "Socket inet:%d@127.0.0.1\nRequireSafeKeys no\n"
                "Canonicalization relaxed/simple\n%s"
                % (key, DKIM_PORT, "UserID root\n" if os.geteuid() == 0 else ""))
    p = subprocess.Popen([shutil.which("opendkim") or "/usr/sbin/opendkim", "-f", "-x",
                          conf])

    def up():
        try:
            socket.create_connection(("127.0.0.1", DKIM_PORT), 0.5).close()
            return True
        except OSError:
            return p.poll() is None and False
    wait_for(up, 20, what="opendkim")
    return p


class QuietMaild(Maild):
    """maild without -d (debug logging would cost it the race)."""

    def start(self, wait=True):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([MAILD, "-f", "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=self.sb.env())
        self.pid = self.proc.pid
        if wait:
            self.wait_ready()
        return self


def run_maild(sb, milters):
    m = QuietMaild(sb, config={"smtp": {
        "milters": milters, "milter_timeout": 60,
        "pool": {"min_spare": CLIENTS, "max_spare": CLIENTS * 2,
                 "max_workers": CLIENTS * 2}}}).start()
    try:
        rcpts = ["%s@example.test" % u for u in USERS]
        before = sum(count_mbox(sb.path("spool", u)) for u in USERS)
        try:
            size0 = os.path.getsize(sb.path("spool", "alice"))
        except FileNotFoundError:
            size0 = 0
        acc, done, n = load(m.smtp_port, rcpts, lambda: sum(
            count_mbox(sb.path("spool", u)) for u in USERS) - before)
        if milters:
            # this run's messages only: the plain run's come first
            with open(sb.path("spool", "alice"), "rb") as f:
                f.seek(size0)
                assert b"DKIM-Signature:" in f.read(1 << 20), "not signed"
        return acc, done, n
    finally:
        m.stop()


def main():
    base = os.environ.get("BENCH_DIR")
    sb = Sandbox(base)
    dk = None
    try:
        d = sb.path("dkim")
        os.makedirs(d)
        dk = start_opendkim(d)
        for name, milters in (("maild.plain", []),
                              ("maild.opendkim", ["inet:127.0.0.1:%d" % DKIM_PORT])):
            log("%s: %d clients x %d messages" % (name, CLIENTS, MSGS))
            acc, done, n = run_maild(sb, milters)
            emit(name + ".accepted_rate", n / acc, "msg/s")
            emit(name + ".delivered_rate", n / done, "msg/s")
        if os.environ.get("POSTFIX_PORT") and os.environ.get("POSTFIX_MBOX"):
            mbox = os.environ["POSTFIX_MBOX"]
            rc = os.environ.get("POSTFIX_RCPT", "alice@example.test")
            before = count_mbox(mbox)
            log("postfix.opendkim: %d clients x %d messages" % (CLIENTS, MSGS))
            acc, done, n = load(int(os.environ["POSTFIX_PORT"]), [rc],
                                lambda: count_mbox(mbox) - before)
            emit("postfix.opendkim.accepted_rate", n / acc, "msg/s")
            emit("postfix.opendkim.delivered_rate", n / done, "msg/s")
        else:
            log("POSTFIX_PORT/POSTFIX_MBOX not set: Postfix not measured")
    finally:
        if dk is not None:
            dk.terminate()
            dk.wait(10)
        sb.cleanup()


if __name__ == "__main__":
    main()
