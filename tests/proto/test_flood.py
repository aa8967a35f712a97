"""Floods and pool churn: idle connections by the hundred or thousand,
stress mode, the explicit refusal when no worker is free, clients that
drip, and a pool that grows and shrinks without costing a session."""
import contextlib
import errno
import os
import resource
import select
import socket
import threading
import time

import pytest

from maildtest import USERS, wait_for


def smtp_session(port, results, key, host="127.0.0.1"):
    """Greeting, EHLO, QUIT; records what went wrong, or None."""
    try:
        s = socket.create_connection((host, port), timeout=20)
        f = s.makefile("rb")
        line = f.readline()
        if not line.startswith(b"220 "):
            results[key] = "greeting %r" % line
            return
        s.sendall(b"EHLO client.example.test\r\n")
        while True:
            line = f.readline()
            if not line.startswith(b"250"):
                results[key] = "EHLO %r" % line
                return
            if line[3:4] == b" ":
                break
        s.sendall(b"QUIT\r\n")
        line = f.readline()
        results[key] = None if line.startswith(b"221") else "QUIT %r" % line
        s.close()
    except OSError as e:
        results[key] = repr(e)


@pytest.mark.parametrize("monitors", ["normal", "slow"])
def test_shrinking_pool_never_costs_a_session(make_maild, monitors):
    # bursts of sessions make the pool grow; the pauses between them make
    # the master retire the surplus while the next burst arrives. "slow":
    # every monitor takes 300 ms to reach its loop (a busy host), while
    # its worker already reports IDLE, may be retired and may accept
    env = {"MAILD_FAULT": "monitor.slow_start:eio:0"} if monitors == "slow" else {}
    m = make_maild(config={"smtp": {"pool": {"min_spare": 1, "max_spare": 1,
                                             "max_workers": 16}}}, env=env)
    results = {}
    start = time.monotonic()
    for cycle in range(20):
        threads = [threading.Thread(target=smtp_session,
                                    args=(m.smtp_port, results, (cycle, i)))
                   for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        time.sleep(0.05 + 0.05 * (cycle % 4))
        if time.monotonic() - start > 50:
            break
    bad = {k: v for k, v in results.items() if v is not None}
    assert not bad, "sessions lost: %r" % bad
    assert len(results) >= 12 * 5
    assert "killed by signal" not in m.log()


# --- floods ---------------------------------------------------------------

def need_descriptors(n):
    """Raises the soft RLIMIT_NOFILE for n sockets, or skips."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 200
    if soft >= want:
        return
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip("RLIMIT_NOFILE hard limit %d < %d" % (hard, want))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def open_idle(port, n, sources=("127.0.0.1",), timeout=30):
    """n connections that never say a word, spread over the source
    addresses; returns the sockets once every handshake is done."""
    socks = []
    try:
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((sources[i % len(sources)], 0))
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            assert err in (0, errno.EINPROGRESS), os.strerror(err)
        pending = {s.fileno(): s for s in socks}
        poller = select.poll()
        for fd in pending:
            poller.register(fd, select.POLLOUT)
        end = time.monotonic() + timeout
        while pending and time.monotonic() < end:
            for fd, _ in poller.poll(500):
                poller.unregister(fd)
                del pending[fd]
        assert not pending, "%d connections still in SYN" % len(pending)
        return socks
    except BaseException:
        for s in socks:
            s.close()
        raise


def wait_greeted(socks, timeout=30):
    """Waits until every socket has something to read (its greeting):
    the pool has grown to serve them all."""
    pending = {s.fileno(): s for s in socks}
    poller = select.poll()
    for fd in pending:
        poller.register(fd, select.POLLIN)
    end = time.monotonic() + timeout
    while pending and time.monotonic() < end:
        for fd, _ in poller.poll(500):
            poller.unregister(fd)
            del pending[fd]
    assert not pending, "%d connections not greeted" % len(pending)


def close_all(socks):
    for s in socks:
        with contextlib.suppress(OSError):
            s.close()


def first_line(port, host="127.0.0.1", timeout=10):
    """Connects and returns (seconds to the first line, the line, socket)."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(host, 0))
    f = s.makefile("rb")
    line = f.readline()
    return time.monotonic() - t0, line.decode(errors="replace").rstrip("\r\n"), s, f


def defaults_please(m, limit_loopback=False):
    """Takes the harness's small pools and per-address overrides out
    again: the shipped defaults."""
    for proto in ("smtp", "pop3"):
        del m.config[proto]["max_connections_per_ip"]
        # the harness reads min_spare; 2 is the default
        m.config[proto]["pool"] = {"min_spare": 2}
    if limit_loopback:
        m.config["limit_loopback"] = True
    m.write_config()
    return m


def smtp_transaction(port, rcpt="alice@example.test"):
    """A whole SMTP transaction; returns the seconds to the greeting."""
    took, line, s, f = first_line(port)
    try:
        assert line.startswith("220 "), line

        def reply():
            while True:
                ln = f.readline().decode()
                if ln[3:4] != "-":
                    return ln
        for cmd, want in (("EHLO client.example.test", "250"),
                          ("MAIL FROM:<sender@example.org>", "250"),
                          ("RCPT TO:<%s>" % rcpt, "250"),
                          ("DATA", "354")):
            s.sendall(cmd.encode() + b"\r\n")
            ln = reply()
            assert ln.startswith(want), (cmd, ln)
        s.sendall(b"Subject: flood\r\n\r\nstill served\r\n.\r\n")
        ln = reply()
        assert ln.startswith("250"), ln
        s.sendall(b"QUIT\r\n")
        assert reply().startswith("221")
        return took
    finally:
        s.close()


def pop3_retr(port, user="alice"):
    took, line, s, f = first_line(port)
    try:
        assert line.startswith("+OK"), line
        for cmd in ("USER %s" % user, "PASS %s" % USERS[user], "RETR 1"):
            s.sendall(cmd.encode() + b"\r\n")
            ln = f.readline().decode()
            assert ln.startswith("+OK"), (cmd, ln)
        body = b""
        while not body.endswith(b"\r\n.\r\n"):
            d = f.readline()
            assert d, "connection closed in RETR"
            body += d
        assert b"still served" in body
        s.sendall(b"QUIT\r\n")
        assert f.readline().startswith(b"+OK")
        return took
    finally:
        s.close()


def test_200_idle_connections_leave_room_for_a_real_session(make_maild):
    # shipped defaults; the 200 come from one (loopback) address, which
    # the per-address limit leaves alone unless limit_loopback is set
    need_descriptors(500)
    m = defaults_please(make_maild(start=False)).start()
    idle = open_idle(m.smtp_port, 200) + open_idle(m.pop3_port, 200)
    try:
        # 400 sessions open (the pools grow: a fork costs ~10 ms here)
        wait_greeted(idle)
        took = smtp_transaction(m.smtp_port)
        assert took < 2.5, "greeting after %.1f s" % took
        wait_for(lambda: os.path.exists(m.sb.path("spool", "alice")) and
                 b"still served" in open(m.sb.path("spool", "alice"), "rb").read(),
                 timeout=10, what="delivery")
        took = pop3_retr(m.pop3_port)
        assert took < 2.5, "POP3 greeting after %.1f s" % took
    finally:
        close_all(idle)


def test_2000_connections_get_service_or_a_refusal(make_maild):
    # 250 connections from each of 127.0.0.2..9 against each protocol's
    # pool of 256 workers: each address may hold an eighth of them, so
    # together they fill the pools; a new client must hear an answer at
    # once: a greeting, or 421 4.7.0 / -ERR [SYS/TEMP], never silence
    need_descriptors(4400)
    m = defaults_please(make_maild(start=False), limit_loopback=True)
    # held sessions are not cut during the test: the count below holds
    m.config["smtp"]["pool"]["stress_timeout"] = 40
    m.config["pop3"]["pool"]["stress_timeout"] = 40
    m.write_config()
    m.start()
    sources = ["127.0.0.%d" % i for i in range(2, 10)]
    flood = []
    try:
        flood += open_idle(m.smtp_port, 2000, sources)
        flood += open_idle(m.pop3_port, 2000, sources)
        # the pools grow to their 256 workers (a fork costs some 10 ms)
        m.wait_log(r"smtpd: all 256 workers busy: stress mode on", timeout=20)
        m.wait_log(r"pop3d: all 256 workers busy: stress mode on", timeout=20)
        answers = []
        for i in range(6):
            for port, ok, no in ((m.smtp_port, "220 ", "421 4.7.0 "),
                                 (m.pop3_port, "+OK", "-ERR [SYS/TEMP] ")):
                took, line, s, _ = first_line(port, "127.0.0.1")
                s.close()
                answers.append((took, line))
                assert took < 3, "answer after %.1f s: %r" % (took, line)
                assert line.startswith(ok) or line.startswith(no), line
            time.sleep(0.5)
        # one address never holds more than its share of a pool's workers
        greeted = {}
        for s in flood[:2000]:
            s.setblocking(True)
            s.settimeout(0.01)
            try:
                d = s.recv(64)
            except OSError:
                continue
            if d.startswith(b"220 "):
                src = s.getsockname()[0]
                greeted[src] = greeted.get(src, 0) + 1
        assert greeted and max(greeted.values()) <= 32, greeted
    finally:
        close_all(flood)


def test_stress_mode_begins_ends_and_cuts_idle_sessions(make_maild):
    m = make_maild(config={"smtp": {"pool": {"min_spare": 1, "max_spare": 2,
                                             "max_workers": 3,
                                             "stress_timeout": 2}}})
    idle = open_idle(m.smtp_port, 3)
    try:
        wait_greeted(idle)
        # the pool is full, but nobody waits yet: no stress
        time.sleep(1)
        assert "stress mode" not in m.log()
        # no worker free: an explicit refusal after the grace, not silence
        took, line, s, _ = first_line(m.smtp_port)
        s.close()
        assert line.startswith("421 4.7.0 mx.example.test "), line
        assert took < 3, took
        m.wait_log(r"smtpd: all 3 workers busy: stress mode on \(waits for "
                   r"clients cut to 2 s, at most 1 errors\)")
        # the idle sessions are cut at the stress timeout, not after 5 min
        t0 = time.monotonic()
        for c in idle:
            c.setblocking(True)
            c.settimeout(10)
            data = b""
            while True:
                d = c.recv(4096)
                if not d:
                    break
                data += d
            assert b"421 4.4.2 " in data, data
        assert time.monotonic() - t0 < 8
    finally:
        close_all(idle)
    m.wait_log(r"smtpd: stress mode off after \d+ s; [1-9]\d* connections "
               r"refused", timeout=15)
    # and the pool serves again
    results = {}
    smtp_session(m.smtp_port, results, 0)
    assert results[0] is None, results


def drip(sock, data, interval, limit):
    """Sends data a byte at a time; returns the seconds until the server
    closed the connection, and what it said."""
    t0 = time.monotonic()
    got = b""
    sock.settimeout(interval)
    i = 0
    while time.monotonic() - t0 < limit:
        try:
            d = sock.recv(4096)
            if not d:
                return time.monotonic() - t0, got
            got += d
            continue
        except socket.timeout:
            pass
        except ConnectionResetError:
            return time.monotonic() - t0, got
        try:
            sock.send(data[i % len(data):i % len(data) + 1])
        except OSError:
            return time.monotonic() - t0, got
        i += 1
    return None, got


def test_drip_client_is_cut_off_at_the_command_timeout(make_maild):
    # "NOOP\r\n" a byte every half second: each line takes 3 s, longer
    # than the 2 s a command may take
    m = make_maild(config={"smtp": {"timeout_command": 2}})
    s = socket.create_connection(("127.0.0.1", m.smtp_port), timeout=10)
    try:
        took, got = drip(s, b"NOOP\r\n", 0.5, 20)
        assert took is not None and took < 6, (took, got)
        assert b"421 4.4.2 " in got, got
    finally:
        s.close()


def test_pop3_drip_client_is_cut_off_under_stress(make_maild):
    # pop3.timeout may not be below 10 minutes (RFC 1939), but a client
    # that holds the pool's only worker puts it under stress, and then
    # it has stress_timeout for a command
    m = make_maild(config={"pop3": {"pool": {"min_spare": 1, "max_spare": 1,
                                             "max_workers": 1,
                                             "stress_timeout": 2}}})
    s = socket.create_connection(("127.0.0.1", m.pop3_port), timeout=10)
    waiting = None
    try:
        # a second client, waiting for the worker, makes it stress
        waiting = open_idle(m.pop3_port, 1)
        took, got = drip(s, b"NOOP\r\n", 0.5, 20)
        assert took is not None and took < 8, (took, got)
        assert got.startswith(b"+OK"), got
    finally:
        s.close()
        close_all(waiting or [])
    m.wait_log(r"pop3d: all 1 workers busy: stress mode on")


def test_a_handful_of_addresses_cannot_take_every_worker(make_maild):
    # 250 connections from each of four addresses: each may hold an
    # eighth of the 256 workers, so half the pool stays for the others
    need_descriptors(2200)
    m = defaults_please(make_maild(start=False), limit_loopback=True).start()
    sources = ["127.0.0.%d" % i for i in range(2, 6)]
    flood = []
    try:
        flood += open_idle(m.smtp_port, 1000, sources)
        flood += open_idle(m.pop3_port, 1000, sources)
        wait_for(lambda: m.log().count("too many connections from") >= 500,
                 timeout=30, what="the flood's excess to be refused")
        time.sleep(1)
        took = smtp_transaction(m.smtp_port)
        assert took < 3, "greeting after %.1f s" % took
        wait_for(lambda: os.path.exists(m.sb.path("spool", "alice")) and
                 b"still served" in open(m.sb.path("spool", "alice"), "rb").read(),
                 timeout=10, what="delivery")
        took = pop3_retr(m.pop3_port)
        assert took < 3, "POP3 greeting after %.1f s" % took
    finally:
        close_all(flood)


def test_tls_handshake_is_cut_under_stress(make_maild, sandbox):
    # a silent client on the smtps port holds the only worker in its
    # handshake: the pool is full, and stress_timeout (2 s), not the
    # 5 minutes of timeout_command, bounds that handshake
    from tlstest import tls_config
    ports, cfg = tls_config(sandbox)
    cfg["smtp"]["pool"] = {"min_spare": 1, "max_spare": 1, "max_workers": 1,
                           "stress_timeout": 2}
    m = make_maild(config=cfg)
    s = socket.create_connection(("127.0.0.1", ports["smtps"]), timeout=10)
    t0 = time.monotonic()
    waiting = None
    try:
        # a second client, waiting for the worker, makes it stress
        waiting = open_idle(ports["smtps"], 1)
        s.settimeout(15)
        with contextlib.suppress(ConnectionResetError):
            while s.recv(4096):
                pass
        took = time.monotonic() - t0
        assert took < 8, took
    finally:
        s.close()
        close_all(waiting or [])
    m.wait_log(r"TLS handshake failed: timeout during the handshake")
    m.wait_log(r"smtpd: all 1 workers busy: stress mode on")
