"""The pre-forked pools: spare workers, growth under load, replacement of
dead workers, back-off for workers that die at start, and privileges."""
import os
import re
import signal
import time

from maildtest import Client, IS_ROOT, alive, proc_tree, proc_uids, wait_for


def test_pool_keeps_min_spare_idle_workers(maild):
    # min_spare 2 for smtp, 1 for pop3; nothing else is started
    time.sleep(0.5)
    assert len(maild.workers("smtpd")) == 2
    assert len(maild.workers("pop3d")) == 1
    # each worker has its own root monitor
    assert len(maild.monitors("smtpd")) == 2
    assert len(maild.monitors("pop3d")) == 1


def test_pool_grows_under_load_up_to_max_workers(maild):
    clients = []
    try:
        for _ in range(12):     # more than max_workers (8)
            c = Client(maild.smtp_port)
            clients.append(c)
        # each connection that got a worker sees the greeting
        wait_for(lambda: len(maild.workers("smtpd")) == 8, what="8 smtpd workers")
        time.sleep(1.0)
        assert len(maild.workers("smtpd")) == 8     # never more than max_workers
        greeted = 0
        for c in clients[:8]:
            code, _ = c.smtp_reply()
            assert code == 220
            greeted += 1
        assert greeted == 8
    finally:
        for c in clients:
            c.close()
    # the waiting connections get served as workers free up, and the pool
    # shrinks back to at most max_spare idle workers
    wait_for(lambda: len(maild.workers("smtpd")) <= 4, timeout=15, what="pool to shrink")


def test_steady_load_does_not_churn_workers(make_maild):
    # bursts of 4 sessions with short pauses: between them 4 workers are
    # idle, more than max_spare. Retiring them at once meant forking
    # them again for the next burst; a surplus must last a second first
    from test_flood import smtp_session
    import threading
    m = make_maild(config={"smtp": {"pool": {"min_spare": 1, "max_spare": 1,
                                             "max_workers": 16}}})
    results = {}
    for burst in range(15):
        threads = [threading.Thread(target=smtp_session,
                                    args=(m.smtp_port, results, (burst, i)))
                   for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        time.sleep(0.1)
    assert all(v is None for v in results.values()), results
    pids = set(re.findall(r"smtpd\[(\d+)\]: sid=\S+ connect from", m.log()))
    assert len(pids) <= 8, "%d workers served 60 sessions" % len(pids)
    # and a surplus that lasts is retired
    wait_for(lambda: len(m.workers("smtpd")) <= 2, timeout=15,
             what="pool to shrink")


def test_killed_worker_is_replaced(maild):
    before = maild.workers("smtpd")
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: victim not in maild.workers("smtpd") and
             len(maild.workers("smtpd")) == 2, what="replacement worker")
    c = Client(maild.smtp_port)
    assert c.smtp_reply()[0] == 220
    c.cmd("QUIT")
    assert c.smtp_reply()[0] == 221


def test_crash_during_session_costs_only_that_session(maild):
    a = Client(maild.smtp_port)
    assert a.smtp_reply()[0] == 220
    b = Client(maild.smtp_port)
    assert b.smtp_reply()[0] == 220
    # the worker serving a logged its pid with a's address
    port = a.sock.getsockname()[1]
    m = maild.wait_log(r"smtpd\[(\d+)\]: sid=\S+ connect from 127\.0\.0\.1:%d " % port)
    victim = int(m.group(1))
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    assert a.closed()
    b.cmd("QUIT")
    assert b.smtp_reply()[0] == 221


def test_no_worker_runs_as_root(maild):
    workers = maild.workers()
    assert len(workers) == 3
    for w in workers:
        uids = proc_uids(w)
        assert len(uids) == 4 and 0 not in uids, "worker %d has uids %s" % (w, uids)
        if IS_ROOT:
            assert uids == [60100] * 4
    # the monitors keep root: they answer the privileged requests
    if IS_ROOT:
        for m in maild.monitors():
            assert proc_uids(m)[0] == 0


def test_workers_dying_at_start_back_off(make_maild):
    m = make_maild(env={"MAILD_FAULT": "worker.start:exit:1"}, start=False)
    # every worker process dies at the fault point: each is a new process,
    # so the fault fires in every one of them
    m.start(wait=False)
    time.sleep(3.0)
    delays = [int(x) for x in re.findall(
        r"smtpd: workers die at start \(\d+ in a row\); next start in (\d+) ms",
        m.log())]
    # 100, 200, 400, 800, 1600 ms ...: a handful in 3 s, not hundreds
    assert 4 <= len(delays) <= 7, m.log()
    assert delays == sorted(delays) and delays[-1] >= 800, delays
    assert all(b == min(2 * a, 30000) for a, b in zip(delays, delays[1:])), delays


def test_default_per_address_limit_is_a_share_of_max_workers(make_maild):
    """Left unset, max_connections_per_ip is an eighth of the pool's
    max_workers (at least 1), so that a couple of addresses cannot take
    every worker. The harness sets no limit: take that out again."""
    m = make_maild(config={"smtp": {"pool": {"min_spare": 2, "max_spare": 4,
                                             "max_workers": 16}},
                           "limit_loopback": True},
                   start=False)
    del m.config["smtp"]["max_connections_per_ip"]
    del m.config["pop3"]["max_connections_per_ip"]
    m.write_config()
    m.start()
    clients = []
    try:
        # smtp: 16 workers, 2 per address
        for _ in range(2):
            clients.append(Client(m.smtp_port))
            assert clients[-1].smtp_reply()[0] == 220
        clients.append(Client(m.smtp_port))
        code, lines = clients[-1].smtp_reply()
        assert code == 421 and lines[0].startswith("4.7.0"), (code, lines)
        # pop3: 4 workers, 1 per address
        clients.append(Client(m.pop3_port))
        assert clients[-1].readline().startswith("+OK")
        clients.append(Client(m.pop3_port))
        r = clients[-1].readline()
        assert r.startswith("-ERR [SYS/TEMP] "), r
    finally:
        for c in clients:
            c.close()


def test_smtp_worker_retires_after_auth(make_maild):
    """SMTP AUTH is a login too: that worker takes no further client."""
    import base64
    m = make_maild(config={"smtp": {"allow_plaintext_auth": True,
                                    "pool": {"min_spare": 1, "max_spare": 1,
                                             "max_workers": 1}}})

    def served_by(c):
        port = c.sock.getsockname()[1]
        return int(m.wait_log(r"smtpd\[(\d+)\]: sid=\S+ connect from 127\.0\.0\.1:%d " %
                              port).group(1))

    def session(auth):
        c = Client(m.smtp_port)
        assert c.smtp_reply()[0] == 220
        pid = served_by(c)
        c.cmd("EHLO client.example.org")
        assert c.smtp_reply()[0] == 250
        if auth:
            c.cmd("AUTH PLAIN " + base64.b64encode(b"\0alice\0alice-pw-1").decode())
            assert c.smtp_reply()[0] == 235
        c.cmd("QUIT")
        assert c.smtp_reply()[0] == 221
        c.close()
        return pid

    p1 = session(False)
    assert session(True) == p1      # no login before: the same worker
    p3 = session(False)
    assert p3 != p1
    assert session(False) == p3


def served_again(m, n=3):
    """n clients in a row each get a whole session: no stream of 421s."""
    for _ in range(n):
        c = Client(m.smtp_port)
        try:
            assert c.smtp_reply()[0] == 220
            c.cmd("QUIT")
            assert c.smtp_reply()[0] == 221
        finally:
            c.close()


def test_dropped_worker_is_stopped_and_replaced(make_maild, sandbox):
    # One smtpd worker. Its monitor finds it hostile at its second request
    # (the fault point stands for a worker that breaks the protocol) and
    # drops it: the worker must stop, not go on taking clients it can only
    # answer 421, and the master starts another.
    stamp = sandbox.path("run", "fault-once")
    m = make_maild(config={"smtp": {"pool": {"min_spare": 1, "max_spare": 1,
                                             "max_workers": 1}}},
                   env={"MAILD_FAULT": "priv.request:eio:2",
                        "MAILD_FAULT_ONCE": stamp})
    victim = m.workers("smtpd")[0]
    a = Client(m.smtp_port)
    try:
        assert a.smtp_reply()[0] == 220         # request 1: SESSION_BEGIN
        a.cmd("EHLO client.example")
        assert a.smtp_reply()[0] == 250
        a.cmd("MAIL FROM:<a@example.org>")      # request 2: dropped
        try:
            code = a.smtp_reply()[0]
        except (EOFError, ConnectionResetError):
            code = None                         # killed before a reply
        assert code in (None, 421)
        assert a.closed()
    finally:
        a.close()
    m.wait_log(r"fault point priv\.request")
    wait_for(lambda: not alive(victim), timeout=5, what="dropped worker to stop")
    served_again(m)
    assert victim not in m.workers("smtpd")
    # it had served: not a worker that dies at start (no back-off)
    assert "die at start" not in m.log()


def test_worker_whose_monitor_dies_exits(maild):
    mon = maild.monitors("smtpd")[0]
    worker = [p for p, (pp, comm, st) in proc_tree().items()
              if pp == mon and st != "Z"][0]
    os.kill(mon, signal.SIGKILL)
    wait_for(lambda: not alive(worker), timeout=3, what="orphaned worker to exit")
    wait_for(lambda: len(maild.workers("smtpd")) == 2, what="replacement worker")
    served_again(maild, 4)
