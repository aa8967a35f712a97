"""Relay end to end: a running maild hands mail for other domains to its
relay workers (forked by the queue runner, unprivileged), which deliver it
to scripted MX hosts (fakemx.py on 127.0.0.x) found through a scripted DNS
server (fakedns.py). Retries, bounces with the remote's reply, partial
failure, expiry, a suspended destination, a smarthost with AUTH, and crashes
of a relay worker and of the runner between the remote's 250 and our mark
(at least once: sent again, never lost). The engine's own behaviour (MX
order, TLS, replies) is tested in test_relay_engine.py."""
import base64
import os
import re
import signal
import smtplib
import ssl
import subprocess
import time

import pytest

from fakedns import FakeDNS
from fakemx import FakeMX
from maildtest import IS_ROOT, MAILD, free_port, proc_tree, proc_uids, wait_for
from test_delivery import age_queued, queue_files
from test_smtp import messages, msg, send, wait_messages
from tlstest import make_cert, tls_config

MX1 = "127.0.0.2"
MX2 = "127.0.0.3"


class World:
    """DNS and MX hosts around one maild."""

    def __init__(self, sandbox):
        self.sb = sandbox
        self.port = free_port()
        self.dns = FakeDNS({
            "relay.example": {"MX": [(10, "mx1.relay.example")]},
            "mx1.relay.example": {"A": [MX1]},
            "dead.example": {"MX": [(10, "mx.dead.example")]},
            "mx.dead.example": {"A": [MX2]},
        }).start()
        self.mxs = []

    def mx(self, host=MX1, cls=FakeMX, **kw):
        m = cls(host, self.port, **kw).start()
        self.mxs.append(m)
        return m

    def config(self, aliases=None, extra=None):
        cfg = {
            "relay": {"port": self.port, "dns_servers": [self.dns.addr],
                      "connect_timeout": "1s", "command_timeout": "5s",
                      "data_timeout": "5s",
                      "tls": {"security_level": "may", "ca_file": ""}},
            "queue": {"retry_min": "1s", "retry_max": "2s"},
        }
        if aliases is not None:
            path = self.sb.path("aliases")
            with open(path, "w") as f:
                f.write(aliases)
            cfg["aliases"] = path
        for k, v in (extra or {}).items():
            if isinstance(v, dict):
                cfg.setdefault(k, {}).update(v)
            else:
                cfg[k] = v
        return cfg

    def close(self):
        for m in self.mxs:
            m.stop()
        self.dns.stop()


@pytest.fixture
def world(sandbox):
    w = World(sandbox)
    yield w
    w.close()


class Greylist(FakeMX):
    """Answers the final dot with 451 the first `times` times."""

    def __init__(self, *a, times=1, **kw):
        super().__init__(*a, **kw)
        self.times = times

    def _reply(self, c, text):
        if text.startswith("250 2.0.0") and self.times > 0:
            with self.lock:
                if self.messages:
                    self.messages.pop()
            self.times -= 1
            text = "451 4.7.1 greylisted, come back later"
        super()._reply(c, text)


def rcpts_of(env):
    return [r[r.find("<") + 1:r.find(">")] for r in env["rcpts"]]


def wait_mx(mx, n, timeout=20):
    return wait_for(lambda: len(mx.messages) >= n and mx.messages, timeout,
                    what="%d message(s) at the fake MX" % n)


def queue_empty(m):
    return not queue_files(m, "active") and not queue_files(m, "deferred")


def relay_workers(m):
    tree = proc_tree()
    runner = [p for p, (pp, comm, st) in tree.items() if pp == m.pid and comm == "maild-queue"]
    return [p for p, (pp, comm, st) in tree.items()
            if pp in runner and comm == "maild-relay" and st != "Z"]


# --- delivery -----------------------------------------------------------------

def test_alias_forwards_outside(make_maild, world):
    mx = world.mx()
    m = make_maild(config=world.config(aliases="fwd: bob@relay.example\n"))
    assert send(m, "alice@example.test", ["fwd@example.test"], msg("out"))[0] == 250
    env = wait_mx(mx, 1)[0]
    assert rcpts_of(env) == ["bob@relay.example"]
    assert env["mail"].startswith("<alice@example.test>")
    assert b"Subject: out\r\n" in env["data"]
    line = m.wait_log(r"id=(\S+): sent to=<bob@relay.example> relay=mx1\.relay\.example\[127\.0\.0\.2\]:%d "
                      r"tls=\S+ delay=[\d.]+s dsn=2\.\d\.\d reply=\"250 " % world.port)
    m.wait_log(r"id=%s: removed" % line.group(1))
    wait_for(lambda: queue_empty(m), what="an empty queue")
    # the worker is unprivileged and stays for the next message
    ws = relay_workers(m)
    assert ws
    if IS_ROOT:
        assert proc_uids(ws[0])[0] == m.sb.maild_uid


def test_submission_with_auth_relays(make_maild, world, sandbox):
    mx = world.mx()
    ports, tcfg = tls_config(sandbox)
    cfg = world.config()
    for k, v in tcfg.items():
        cfg.setdefault(k, {}).update(v)
    m = make_maild(config=cfg)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", ports["submission"], timeout=10) as s:
        s.ehlo("client.example.org")
        s.starttls(context=ctx)
        s.ehlo("client.example.org")
        s.login("alice", "alice-pw-1")
        s.sendmail("alice@example.test", ["carol@relay.example"],
                   b"Subject: submitted\r\n\r\nhi\r\n")
    env = wait_mx(mx, 1)[0]
    assert rcpts_of(env) == ["carol@relay.example"]
    assert b"Subject: submitted" in env["data"]


def test_4xx_then_success_on_retry(make_maild, world):
    mx = world.mx(cls=Greylist)
    m = make_maild(config=world.config(aliases="fwd: bob@relay.example\n"))
    assert send(m, "alice@example.test", ["fwd@example.test"], msg("grey"))[0] == 250
    m.wait_log(r"deferred to=<bob@relay.example> relay=mx1\.relay\.example\S* tls=\S+ "
               r"delay=\S+ dsn=4\.7\.1 reply=\"451 ")
    env = wait_mx(mx, 1)[0]
    assert b"Subject: grey" in env["data"]
    m.wait_log(r"sent to=<bob@relay.example>")
    wait_for(lambda: queue_empty(m), what="an empty queue")
    # a message-level refusal never suspends the destination
    assert "suspended" not in m.log()


def test_5xx_bounces_with_the_remote_reply(make_maild, world):
    world.mx()
    m = make_maild(config=world.config(aliases="fwd: p550-nobody@relay.example\n"))
    assert send(m, "alice@example.test", ["fwd@example.test"], msg("doomed"))[0] == 250
    m.wait_log(r"bounced to=<p550-nobody@relay.example> relay=mx1\.relay\.example\S* .*dsn=5\.1\.1")
    dsn = wait_messages(m, "alice", 1)[0]
    text = dsn.as_string()
    assert "Diagnostic-Code: smtp; 550 5.1.1" in text
    assert "no such user here" in text
    assert "Remote-MTA: dns; mx1.relay.example" in text
    assert "Final-Recipient: rfc822; p550-nobody@relay.example" in text
    wait_for(lambda: queue_empty(m), what="an empty queue")


def test_partial_failure_of_a_multi_recipient_message(make_maild, world):
    mx = world.mx()
    m = make_maild(config=world.config(
        aliases="team: ok@relay.example, p550-gone@relay.example, t451-later@relay.example, bob\n"))
    assert send(m, "alice@example.test", ["team@example.test"], msg("team"))[0] == 250
    env = wait_mx(mx, 1)[0]
    # one transaction for the three remote recipients
    assert sorted(rcpts_of(env)) == ["ok@relay.example", "p550-gone@relay.example",
                                     "t451-later@relay.example"]
    wait_messages(m, "bob", 1)
    dsn = wait_messages(m, "alice", 1)[0].as_string()
    assert "p550-gone@relay.example" in dsn and "ok@relay.example" not in dsn
    m.wait_log(r"deferred to=<t451-later@relay.example> .*dsn=4\.7\.1")
    # only the deferred one is tried again
    m.wait_log(r"(?s)deferred to=<t451-later@relay.example>.*deferred to=<t451-later@relay.example>")
    time.sleep(0.5)
    for env in mx.messages[1:]:
        assert rcpts_of(env) == ["t451-later@relay.example"], env["rcpts"]
    assert len(re.findall(r"sent to=<ok@relay.example>", m.log())) == 1
    assert queue_files(m, "deferred")


def test_lifetime_expiry_bounces_with_the_last_reason(make_maild, world):
    world.mx()
    cfg = world.config(aliases="fwd: t451-slow@relay.example\n",
                       extra={"queue": {"max_lifetime": "1h", "retry_min": "2s",
                                        "retry_max": "2s"}})
    m = make_maild(config=cfg)
    code, text = send(m, "alice@example.test", ["fwd@example.test"], msg("slow"))
    assert code == 250
    qid = m.wait_log(r"id=(\S+): deferred to=<t451-slow@relay.example>").group(1)
    wait_for(lambda: qid in queue_files(m, "deferred"), what="the deferred file")
    m.stop()
    age_queued(m, qid, 2 * 3600)
    m.start()
    m.wait_log(r"id=%s: bounced to=<t451-slow@relay.example> .*5\.4\.7" % qid, timeout=20)
    dsn = wait_messages(m, "alice", 1)[0].as_string()
    assert "Status: 5.4.7" in dsn
    assert "451 4.7.1" in dsn            # the remote's last word
    wait_for(lambda: queue_empty(m), what="an empty queue")


# --- a destination that does not answer ---------------------------------------

def test_suspended_destination_is_not_hammered(make_maild, world):
    # answers every connection with 421: a site-level failure
    dead = world.mx(MX2, greeting="421 4.3.2 not now")
    aliases = "".join("d%d: u%d@dead.example\n" % (i, i) for i in range(8))
    cfg = world.config(aliases=aliases, extra={
        "relay": {"initial_destination_concurrency": 1,
                  "destination_concurrency_limit": 2},
        "queue": {"retry_min": "1s", "retry_max": "3s"}})
    m = make_maild(config=cfg)
    t0 = time.monotonic()
    for i in range(8):
        assert send(m, "alice@example.test", ["d%d@example.test" % i], msg("m%d" % i))[0] == 250
    m.wait_log(r"destination dead\.example suspended until \S+ \(\d+ s\): 4\.\d\.\d")
    m.wait_log(r"deferred to=<u\d@dead.example> relay=none .*reply=\"delivery temporarily "
               r"suspended: ")
    time.sleep(9 - (time.monotonic() - t0))
    conns = dead.connections
    # 8 messages, each retried every 1-3 s for 9 s, would be some 30
    # connections; suspended, it is the first one and a probe every 3 s
    # (the engine may try an address twice: once more without STARTTLS)
    assert 1 <= conns <= 10, conns
    assert len(re.findall(r"destination dead\.example suspended", m.log())) == 1
    # the state for maild -q (advisory)
    assert "dead.example" in open(m.sb.path("state", "relay-destinations")).read()
    # it comes back: one probe gets through and everything follows
    dead.greeting = "220 back ESMTP"
    wait_mx(dead, 8, timeout=30)
    m.wait_log(r"destination dead\.example is back")
    wait_for(lambda: queue_empty(m), what="an empty queue")
    assert "dead.example" not in open(m.sb.path("state", "relay-destinations")).read()


# --- smarthost -----------------------------------------------------------------

def test_smarthost_with_auth_over_starttls(make_maild, world, sandbox):
    cert, key = make_cert(sandbox.dir, "mx")
    mx = world.mx(tls=(cert, key), auth=("relayuser", "s3cret pass"),
                  ehlo=["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES",
                        "AUTH PLAIN LOGIN"])
    cred = sandbox.path("smarthost.cred")
    with open(cred, "w") as f:
        f.write("relayuser s3cret pass\n")
    os.chmod(cred, 0o600)
    cfg = world.config(aliases="fwd: someone@elsewhere.example\n", extra={
        "relay": {"smarthost": "[%s]:%d" % (MX1, world.port),
                  "smarthost_credentials": cred}})
    m = make_maild(config=cfg)
    assert send(m, "alice@example.test", ["fwd@example.test"], msg("via isp"))[0] == 250
    env = wait_mx(mx, 1)[0]
    assert rcpts_of(env) == ["someone@elsewhere.example"]
    assert env["tls"]
    assert [a[1:] for a in mx.auth_ok] == [("relayuser", True)]
    # never logged
    assert "s3cret" not in m.log()


def test_smarthost_credentials_must_be_private(make_maild, world, sandbox):
    cred = sandbox.path("smarthost.cred")
    with open(cred, "w") as f:
        f.write("u p\n")
    os.chmod(cred, 0o644)
    cfg = world.config(extra={"relay": {"smarthost": "[%s]:%d" % (MX1, world.port),
                                        "smarthost_credentials": cred}})
    m = make_maild(config=cfg, start=False)
    r = subprocess.run([MAILD, "-t", "-c", m.conf], capture_output=True, text=True,
                       env=m.sb.env(), timeout=10)
    assert r.returncode != 0
    assert "relay.smarthost_credentials" in r.stderr + r.stdout
    assert "0600" in r.stderr + r.stdout


# --- crashes between the remote's 250 and our mark: at least once ------------

class KillWorker(FakeMX):
    """Kills maild's relay workers (kill -9) once, when the message is in
    and before the reply to the final dot: mid-transaction."""

    def __init__(self, *a, maild=None, **kw):
        super().__init__(*a, **kw)
        self.maild = maild
        self.killed = []

    def _reply(self, c, text):
        if text.startswith("250 2.0.0") and not self.killed and self.maild:
            for p in relay_workers(self.maild):
                os.kill(p, signal.SIGKILL)
                self.killed.append(p)
            time.sleep(0.2)
        super()._reply(c, text)


def test_relay_worker_killed_mid_transaction(make_maild, world):
    mx = world.mx(cls=KillWorker)
    m = make_maild(config=world.config(aliases="fwd: bob@relay.example\n"))
    mx.maild = m
    assert send(m, "alice@example.test", ["fwd@example.test"], msg("twice"))[0] == 250
    m.wait_log(r"relay worker \d+ died; killed")
    assert mx.killed
    # sent again, never lost; then the queue is empty
    wait_mx(mx, 2)
    m.wait_log(r"sent to=<bob@relay.example>")
    wait_for(lambda: queue_empty(m), what="an empty queue")
    assert all(b"Subject: twice" in e["data"] for e in mx.messages)
    assert "deferred to=<bob@relay.example> relay=none" in m.log()


def test_runner_killed_after_the_remote_took_it(make_maild, world, sandbox):
    mx = world.mx()
    stamp = sandbox.path("fault-once")
    m = make_maild(config=world.config(aliases="fwd: bob@relay.example\n"),
                   env={"MAILD_FAULT": "relay.runner_result:kill",
                        "MAILD_FAULT_ONCE": stamp})
    assert send(m, "alice@example.test", ["fwd@example.test"], msg("again"))[0] == 250
    wait_for(lambda: os.path.exists(stamp), what="the runner to crash")
    wait_mx(mx, 2, timeout=40)
    m.wait_log(r"sent to=<bob@relay.example>")
    wait_for(lambda: queue_empty(m), timeout=20, what="an empty queue")


# --- maild -q relays too -------------------------------------------------------

def test_maild_q_relays(make_maild, world):
    mx = world.mx()
    cfg = world.config(aliases="fwd: bob@relay.example\n")
    m = make_maild(config=cfg)
    # the destination is away while the message arrives
    mx.stop()
    assert send(m, "alice@example.test", ["fwd@example.test"], msg("cron"))[0] == 250
    m.wait_log(r"deferred to=<bob@relay.example>")
    m.stop()
    mx.start()
    r = subprocess.run([MAILD, "-q", "-f", "-c", m.conf], capture_output=True, text=True,
                       env=m.sb.env(), timeout=60)
    assert r.returncode == 0, r.stderr
    wait_mx(mx, 1)
    assert queue_empty(m)


# --- opportunistic TLS that fails: the next try goes in plaintext ------------

def test_failed_starttls_retried_without_it(make_maild, world, sandbox):
    # a certificate with the wrong key: the server's handshake fails
    cert, _ = make_cert(sandbox.dir, "a")
    _, key = make_cert(sandbox.dir, "b")
    mx = world.mx(tls=(cert, key))
    m = make_maild(config=world.config(aliases="fwd: bob@relay.example\n"))
    assert send(m, "alice@example.test", ["fwd@example.test"], msg("plain"))[0] == 250
    m.wait_log(r"deferred to=<bob@relay.example> relay=mx1\.relay\.example\S*")
    env = wait_mx(mx, 1)[0]
    assert not env["tls"]
    m.wait_log(r"sent to=<bob@relay.example> .* tls=none ")
    wait_for(lambda: queue_empty(m), what="an empty queue")


# --- bounces of relayed mail ---------------------------------------------------

def test_bounce_to_a_remote_sender_is_relayed(make_maild, world):
    mx = world.mx()
    m = make_maild(config=world.config(aliases="fwd: p550-gone@relay.example\n"))
    assert send(m, "far@relay.example", ["fwd@example.test"], msg("lost"))[0] == 250
    # (the refused message itself never got past RCPT)
    env = wait_mx(mx, 1)[0]
    # the DSN goes out with the null sender to the sender's own MX
    assert env["mail"].startswith("<>")
    assert rcpts_of(env) == ["far@relay.example"]
    assert b"Diagnostic-Code: smtp; 550 5.1.1" in env["data"]
    wait_for(lambda: queue_empty(m), what="an empty queue")


def test_bounce_of_a_bounce_is_dropped(make_maild, world):
    mx = world.mx()
    m = make_maild(config=world.config(aliases="fwd: p550-gone@relay.example\n"))
    assert send(m, "", ["fwd@example.test"], msg("dsn"))[0] == 250
    m.wait_log(r"bounced to=<p550-gone@relay.example>")
    m.wait_log(r"not bouncing a bounce \(null sender\)")
    wait_for(lambda: queue_empty(m), what="an empty queue")
    time.sleep(0.5)
    assert mx.messages == []


# --- per-destination concurrency ------------------------------------------------

class Slow(FakeMX):
    """Takes its time over each message and counts sessions at once."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.now = 0
        self.most = 0

    def _session(self, c):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            super()._session(c)
        finally:
            with self.lock:
                self.now -= 1

    def _reply(self, c, text):
        if text.startswith("250 2.0.0"):
            time.sleep(0.3)
        super()._reply(c, text)


def test_destination_concurrency_is_bounded(make_maild, world):
    mx = world.mx(cls=Slow)
    aliases = "".join("c%d: u%d@relay.example\n" % (i, i) for i in range(12))
    m = make_maild(config=world.config(aliases=aliases, extra={
        "relay": {"initial_destination_concurrency": 2,
                  "destination_concurrency_limit": 3,
                  "connection_cache_time": "0s"}}))
    for i in range(12):
        assert send(m, "alice@example.test", ["c%d@example.test" % i], msg("c%d" % i))[0] == 250
    wait_mx(mx, 12, timeout=40)
    # more than one at a time, never more than the limit
    assert 2 <= mx.most <= 3, mx.most
    wait_for(lambda: queue_empty(m), what="an empty queue")


def test_notify_success_to_a_server_without_dsn_gets_a_relayed_notice(make_maild, world,
                                                                     sandbox):
    mx = world.mx(ehlo=["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"])
    ports, tcfg = tls_config(sandbox)
    cfg = world.config()
    for k, v in tcfg.items():
        cfg.setdefault(k, {}).update(v)
    m = make_maild(config=cfg)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", ports["submission"], timeout=10) as s:
        s.ehlo("client.example.org")
        s.starttls(context=ctx)
        s.ehlo("client.example.org")
        s.login("alice", "alice-pw-1")
        s.sendmail("alice@example.test", ["far@relay.example"],
                   b"Subject: tell me\r\n\r\nhi\r\n",
                   rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
    env = wait_mx(mx, 1)[0]
    assert "NOTIFY" not in " ".join(env["rcpts"])
    (n,) = wait_messages(m, "alice", 1)
    text = n.as_string()
    assert "Action: relayed" in text
    assert "far@relay.example" in text
