"""The master: reload, stop, a second master, the master's death, and the
grace time that lets sessions finish."""
import errno
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from maildtest import MAILD, Client, alive, free_port, wait_for
from test_smtp import ehlo, msg, send, wait_messages


def test_sighup_with_broken_config_keeps_serving(maild):
    good = open(maild.conf).read()
    maild.write_config(text=good + "smtp: { max_recipients = \"many\"; };\n"
                       "this is not libconfig\n")
    workers = set(maild.workers())
    maild.signal(signal.SIGHUP)
    m = maild.wait_log(r"maild\.conf:(\d+): .*")
    assert int(m.group(1)) > 0
    maild.wait_log(r"reload failed; still running the previous configuration")
    # the old configuration keeps serving, with the same workers
    c = Client(maild.smtp_port)
    assert c.smtp_reply()[0] == 220
    c.cmd("QUIT")
    assert c.smtp_reply()[0] == 221
    assert workers <= set(maild.workers())     # none was replaced


def test_sighup_with_good_config_replaces_workers(maild):
    old = set(maild.workers("smtpd"))
    maild.config["smtp"]["banner"] = "ESMTP reloaded"
    maild.write_config()
    maild.signal(signal.SIGHUP)
    maild.wait_log(r"configuration reloaded")
    wait_for(lambda: not (set(maild.workers("smtpd")) & old) and
             len(maild.workers("smtpd")) == 2, what="new-generation workers")
    c = Client(maild.smtp_port)
    code, lines = c.smtp_reply()
    assert code == 220 and "ESMTP reloaded" in lines[0]


def test_session_open_across_reload_goes_on(maild):
    c = Client(maild.smtp_port)
    assert c.smtp_reply()[0] == 220
    maild.config["smtp"]["banner"] = "ESMTP second"
    maild.write_config()
    maild.signal(signal.SIGHUP)
    maild.wait_log(r"configuration reloaded")
    time.sleep(0.5)
    c.cmd("QUIT")
    assert c.smtp_reply()[0] == 221


def test_sigterm_leaves_no_process_behind(maild):
    pids = maild.all_pids()
    assert len(pids) == 1 + 2 * 3 + 1      # master, 3 monitors, 3 workers, runner
    assert maild.stop() == 0
    for p in pids:
        assert not alive(p), "process %d survived" % p
    assert "stopped" in maild.log()


def test_sigterm_lets_a_session_finish(maild):
    c = Client(maild.smtp_port)
    assert c.smtp_reply()[0] == 220
    maild.signal(signal.SIGTERM)
    maild.wait_log("stopping")
    time.sleep(0.3)
    c.cmd("QUIT")
    assert c.smtp_reply()[0] == 221
    wait_for(lambda: maild.proc.poll() is not None, what="master to exit")
    assert maild.proc.returncode == 0


def test_grace_time_ends_hanging_sessions(make_maild):
    m = make_maild(config={"shutdown_grace": 1})
    c = Client(m.smtp_port)
    assert c.smtp_reply()[0] == 220
    pids = m.all_pids()
    t0 = time.monotonic()
    m.signal(signal.SIGTERM)
    wait_for(lambda: m.proc.poll() is not None, timeout=10, what="master to exit")
    assert time.monotonic() - t0 < 5
    assert "grace time over" in m.log()
    wait_for(lambda: not any(alive(p) for p in pids), what="children gone")


def test_second_master_refuses_to_start(maild):
    r = subprocess.run([MAILD, "-f", "-c", maild.conf], capture_output=True, text=True,
                       env=maild.sb.env(), timeout=10)
    assert r.returncode == 1
    assert "already running (pid %d" % maild.pid in r.stderr
    # and the first one is unharmed
    c = Client(maild.smtp_port)
    assert c.smtp_reply()[0] == 220


def test_workers_exit_when_master_dies(maild):
    pids = maild.all_pids()[1:]
    os.kill(maild.pid, signal.SIGKILL)
    maild.proc.wait()
    wait_for(lambda: not any(alive(p) for p in pids), timeout=10,
             what="monitors and workers to notice the master's death")


def test_maild_t_accepts_good_config(maild):
    r = subprocess.run([MAILD, "-t", "-c", maild.conf], capture_output=True, text=True,
                       env=maild.sb.env(), timeout=10)
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stderr


def test_maild_n_prints_what_differs_and_a_all(maild):
    env = maild.sb.env()
    r = subprocess.run([MAILD, "-n", "-c", maild.conf], capture_output=True, text=True,
                       env=env, timeout=10)
    assert r.returncode == 0, r.stderr
    assert 'pam_service = "maildtest";' in r.stdout
    assert "max_workers = 8;" in r.stdout
    assert "vrfy" not in r.stdout            # a default: not printed
    full = subprocess.run([MAILD, "-n", "-a", "-c", maild.conf], capture_output=True,
                          text=True, env=env, timeout=10)
    assert full.returncode == 0
    assert "vrfy = false;" in full.stdout and len(full.stdout) > len(r.stdout)
    # what it prints is a configuration that checks out the same
    for text in (r.stdout, full.stdout):
        p = maild.sb.path("printed.conf")
        with open(p, "w") as f:
            f.write(text)
        t = subprocess.run([MAILD, "-t", "-c", p], capture_output=True, text=True,
                           env=env, timeout=10)
        assert t.returncode == 0, t.stderr


def _port_free_on_both():
    """A loopback port free on 127.0.0.1 and on ::1, or None without IPv6."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
                s.bind(("::1", port))
            return port
        except OSError as e:
            if e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                return None
    return None


def test_listens_on_ipv4_and_ipv6_on_the_same_port(make_maild):
    smtp, pop3 = _port_free_on_both(), _port_free_on_both()
    if smtp is None or pop3 is None:
        pytest.skip("no IPv6 loopback here")
    m = make_maild(config={
        "smtp": {"listen": ["127.0.0.1:%d" % smtp, "[::1]:%d" % smtp]},
        "pop3": {"listen": ["127.0.0.1:%d" % pop3, "[::1]:%d" % pop3]}})
    m.wait_log(r"listening on \[::1\]:%d \(smtp\)" % smtp)
    m.wait_log(r"listening on 127\.0\.0\.1:%d \(smtp\)" % smtp)
    for host in ("127.0.0.1", "::1"):
        c = Client(smtp, host=host)
        assert c.smtp_reply()[0] == 220
        ehlo(c)
        assert send(m, "s@example.org", ["alice@example.test"], msg("over " + host),
                    c)[0] == 250
        p = Client(pop3, host=host)
        assert p.readline().startswith("+OK")
        p.cmd("QUIT")
        assert p.readline().startswith("+OK")
    m.wait_log(r"connect from \[::1\]:\d+ \(smtp\)")
    m.wait_log(r"connect from \[::1\]:\d+ \(pop3\)")
    # the trace header names each client in its own family's syntax
    ms = wait_messages(m, "alice", 2)
    received = {x["Subject"]: x["Received"] for x in ms}
    assert "[127.0.0.1]" in received["over 127.0.0.1"]
    assert "[IPv6:::1]" in received["over ::1"], received


# --- out of processes (RLIMIT_NPROC) --------------------------------------------

def _nproc_hard(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max processes"):
                return line.split()[3]
    return "unlimited"


def test_master_out_of_processes_says_so_and_recovers(make_maild):
    # the master's RLIMIT_NPROC at 1 (prlimit on the running master):
    # it cannot fork a POP3 worker, says so in the log, and goes on; the
    # SMTP pool serves meanwhile; with the limit back the POP3 pool is
    # refilled. Root is exempt from RLIMIT_NPROC: an ordinary user only.
    if os.geteuid() == 0:
        pytest.skip("RLIMIT_NPROC does not apply to root")
    one = {"pool": {"min_spare": 1, "max_spare": 1, "max_workers": 1}}
    m = make_maild(config={"pop3": one})
    hard = _nproc_hard(m.pid)
    r = subprocess.run(["prlimit", "--pid", str(m.pid), "--nproc=1:"],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        pytest.skip("prlimit --pid: " + r.stderr.strip())
    try:
        (w,) = m.workers("pop3d")
        os.kill(w, signal.SIGKILL)
        m.wait_log(r"maild\[%d\]: pop3d: fork: Resource temporarily unavailable" % m.pid)
        assert alive(m.pid)
        assert send(m, "s@example.org", ["alice@example.test"], msg("meanwhile"))[0] == 250
        wait_messages(m, "alice", 1)
        # a POP3 client is not left in silence: the pool counts as full
        # while no worker can be started, and the master refuses it
        t0 = time.monotonic()
        c = Client(m.pop3_port)
        r = c.readline()
        c.close()
        assert r.startswith("-ERR [SYS/TEMP]"), r
        assert time.monotonic() - t0 < 5
        # and the failure is retried once a second, not in a tight loop
        assert len(re.findall(r"pop3d: fork: Resource temporarily unavailable",
                              m.log())) < 20
    finally:
        subprocess.run(["prlimit", "--pid", str(m.pid), "--nproc=%s:" % hard],
                       capture_output=True, timeout=30)
    wait_for(lambda: m.workers("pop3d"), timeout=20, what="a new POP3 worker")
    m.wait_log(r"pop3d: starting workers again")
    c = Client(m.pop3_port)
    assert c.readline().startswith("+OK")
    c.close()
