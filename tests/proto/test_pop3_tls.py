"""POP3 with TLS and SASL: STLS (RFC 2595) with Python's ssl module and with
openssl s_client, the STLS injection defence, pop3s (implicit TLS), old TLS
versions refused, AUTH PLAIN (RFC 5034), CAPA with and without TLS, and the
rule that passwords travel only over TLS or on loopback."""
import base64
import os
import poplib
import re
import socket
import ssl
import subprocess
import time

import pytest

from maildtest import free_port
from tlstest import make_cert
from test_pop3 import BASE_CAPA, OPEN, P3, _close_clients, put_mbox, simple  # noqa: F401


@pytest.fixture
def cert(sandbox):
    """A self-signed certificate for localhost and 127.0.0.1 (EC, 2 days)."""
    return make_cert(sandbox.dir)


def tls_config(cert, extra=None):
    cfg = {"tls": {"certificate": cert[0], "key": cert[1]}}
    for k, v in (extra or {}).items():
        cfg.setdefault(k, {}).update(v)
    return cfg


@pytest.fixture
def tls_maild(make_maild, cert):
    pop3s = free_port()
    m = make_maild(config=tls_config(cert, {"pop3": {
        "pop3s_listen": ["127.0.0.1:%d" % pop3s]}}))
    m.pop3s_port = pop3s
    return m


def client_ctx(cert):
    ctx = ssl.create_default_context(cafile=cert[0])
    return ctx


def stls(c, cert):
    """Upgrades a P3 client after a +OK to STLS."""
    c.sock = client_ctx(cert).wrap_socket(c.sock, server_hostname="localhost")
    c.buf = b""
    return c


def capa(c):
    _, lines = c.multi("CAPA")
    return lines


def plain(authz, user, pw):
    return base64.b64encode(("%s\0%s\0%s" % (authz, user, pw)).encode()).decode()


# --- CAPA ----------------------------------------------------------------------------

def test_capa_lists_stls_only_before_tls(tls_maild, cert):
    c = P3(tls_maild)
    assert capa(c) == BASE_CAPA + ["USER", "SASL PLAIN", "STLS", "IMPLEMENTATION maild"]
    c.ok("STLS")
    stls(c, cert)
    assert capa(c) == BASE_CAPA + ["USER", "SASL PLAIN", "IMPLEMENTATION maild"]
    assert "already active" in c.err("STLS")


def test_stls_not_offered_without_tls(maild):
    c = P3(maild)
    assert "STLS" not in capa(c)
    assert "not available" in c.err("STLS")
    c.login()


# --- STLS ------------------------------------------------------------------------------

def test_stls_with_python_ssl_and_poplib(tls_maild, cert):
    put_mbox(tls_maild, "alice", simple("secret one"))
    c = poplib.POP3("127.0.0.1", tls_maild.pop3_port, timeout=15)
    OPEN.append(c)
    c.stls(client_ctx(cert))
    assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
    c.user("alice")
    c.pass_("alice-pw-1")
    assert c.stat()[0] == 1
    assert b"Subject: secret one" in c.retr(1)[1]
    c.quit()
    log = tls_maild.log()
    assert re.search(r"TLS established TLSv1\.[23] \S+ \(\d+ bits\)", log)


def test_stls_with_openssl_s_client(tls_maild, cert):
    put_mbox(tls_maild, "alice", simple("via s_client"))
    r = subprocess.run(["openssl", "s_client", "-starttls", "pop3", "-connect",
                        "127.0.0.1:%d" % tls_maild.pop3_port, "-CAfile", cert[0],
                        "-verify_return_error", "-crlf", "-quiet", "-ign_eof"],
                       input="USER alice\nPASS alice-pw-1\nSTAT\nRETR 1\nQUIT\n",
                       capture_output=True, text=True, timeout=30)
    assert "+OK alice has 1 message" in r.stdout, (r.stdout, r.stderr)
    assert "Subject: via s_client" in r.stdout
    assert "signing off" in r.stdout


def test_stls_injection_plaintext_after_stls_is_discarded(tls_maild, cert):
    c = P3(tls_maild)
    # USER sent in clear in the same packet as STLS must not count
    c.send("STLS\r\nUSER alice\r\n")
    assert c.readline() == "+OK begin TLS negotiation"
    assert c.buf == b""
    stls(c, cert)
    assert "USER first" in c.err("PASS alice-pw-1")
    tls_maild.wait_log(r"discarded 12 bytes of plaintext pipelined after STLS")
    c.login()


def test_user_before_stls_is_forgotten(tls_maild, cert):
    c = P3(tls_maild)
    c.ok("USER alice")
    c.ok("STLS")
    stls(c, cert)
    assert "USER first" in c.err("PASS alice-pw-1")


def test_failed_handshake_is_logged_and_the_worker_goes_on(make_maild, cert):
    m = make_maild(config=tls_config(cert, {"pop3": {"pool": {
        "min_spare": 1, "max_spare": 1, "max_workers": 1}}}))
    c = P3(m)
    c.ok("STLS")
    c.send(b"this is not a TLS client hello\r\n" * 4)
    assert c.closed()
    m.wait_log(r"TLS handshake failed client=127\.0\.0\.1: \S+")
    worker = m.workers("pop3d")
    c = P3(m)
    c.login()
    assert m.workers("pop3d") == worker


# --- pop3s ---------------------------------------------------------------------------

def test_pop3s_implicit_tls(tls_maild, cert):
    put_mbox(tls_maild, "alice", simple("over pop3s"))
    c = poplib.POP3_SSL("127.0.0.1", tls_maild.pop3s_port, context=client_ctx(cert),
                        timeout=15)
    OPEN.append(c)
    assert c.getwelcome().startswith(b"+OK maild POP3 server ready")
    caps = c.capa()
    assert "STLS" not in caps and "USER" in caps
    c.user("alice")
    c.pass_("alice-pw-1")
    assert b"Subject: over pop3s" in c.retr(1)[1]
    c.quit()
    tls_maild.wait_log(r"connect from 127\.0\.0\.1:\d+ \(pop3s\)")


def test_big_retr_over_tls_is_byte_exact(tls_maild, cert):
    """A message of several MB goes out in big SSL_write()s (straight from
    the reader's buffer, partial writes resumed): the same bytes as over
    plain POP3, dot-stuffed."""
    body = b"".join(b".%d %s\n" % (i, b"y" * (i % 300)) for i in range(40000))
    put_mbox(tls_maild, "alice", simple("big", body.decode()))
    plain = P3(tls_maild)
    plain.login()
    plain.ok("RETR 1")
    want = plain.body()[1]
    plain.ok("QUIT")
    assert len(want) > 4000000 and b"\r\n..0 " in want
    c = P3(tls_maild)
    c.ok("STLS")
    stls(c, cert)
    c.login()
    c.ok("RETR 1")
    assert c.body()[1] == want
    c.ok("QUIT")


def test_pop3s_plaintext_client_gets_nothing(tls_maild):
    s = socket.create_connection(("127.0.0.1", tls_maild.pop3s_port), timeout=10)
    s.sendall(b"USER alice\r\n")
    data = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except (ConnectionResetError, socket.timeout):
        pass
    assert b"+OK" not in data
    tls_maild.wait_log(r"TLS handshake failed")


@pytest.mark.parametrize("how", ["pop3s", "stls"])
def test_stalled_handshake_is_cut_off_by_the_timer(make_maild, cert, how):
    """The autologout timer bounds the TLS handshake too. pop3.timeout
    cannot be set below 10 minutes, so the fault point pop3.short_timeout
    makes it 2 s, as in test_pop3.py's autologout test; one worker."""
    pop3s = free_port()
    m = make_maild(config=tls_config(cert, {"pop3": {
        "pop3s_listen": ["127.0.0.1:%d" % pop3s],
        "pool": {"min_spare": 1, "max_spare": 1, "max_workers": 1}}}),
        env={"MAILD_FAULT": "pop3.short_timeout:eio:0"})
    if how == "stls":
        c = P3(m)
        c.ok("STLS")
        s = c.sock
    else:
        s = socket.create_connection(("127.0.0.1", pop3s), timeout=10)
    t0 = time.monotonic()
    s.settimeout(12)
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    took = time.monotonic() - t0
    assert 1.5 < took < 10, took
    s.close()
    m.wait_log(r"TLS handshake failed client=127\.0\.0\.1: timeout during the handshake")
    # and the worker serves the next client
    c = poplib.POP3_SSL("127.0.0.1", pop3s, context=client_ctx(cert), timeout=15)
    OPEN.append(c)
    assert c.getwelcome().startswith(b"+OK")
    c.quit()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_old_tls_versions_are_refused(tls_maild, cert, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # let this client really offer the old version: lower its own floor
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = getattr(ssl.TLSVersion, version)
    ctx.maximum_version = getattr(ssl.TLSVersion, version)
    s = socket.create_connection(("127.0.0.1", tls_maild.pop3s_port), timeout=10)
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        ctx.wrap_socket(s, server_hostname="localhost")
    tls_maild.wait_log(r"TLS handshake failed client=127\.0\.0\.1: .*unsupported protocol")


# --- AUTH PLAIN ----------------------------------------------------------------------

def test_auth_plain_with_initial_response(maild):
    put_mbox(maild, "alice", simple("one"))
    c = P3(maild)
    assert c.ok("AUTH PLAIN " + plain("", "alice", "alice-pw-1")).startswith(
        "+OK alice has 1 message (")
    assert c.ok("STAT").startswith("+OK 1 ")
    maild.wait_log(r"login user=alice client=127\.0\.0\.1 method=PLAIN")


def test_auth_plain_with_continuation_and_authzid(maild):
    c = P3(maild)
    c.cmd("AUTH plain")
    assert c.readline() == "+ "
    assert c.ok(plain("alice", "alice", "alice-pw-1")).startswith("+OK alice has 0 messages")


@pytest.mark.parametrize("resp,why", [
    (plain("", "alice", "wrong"), "-ERR [AUTH] authentication failed"),
    (plain("", "nosuch", "alice-pw-1"), "-ERR [AUTH] authentication failed"),
    (plain("bob", "alice", "alice-pw-1"), "-ERR [AUTH] cannot log in as another user"),
    (plain("", "", "x"), "-ERR [AUTH] empty user name or password"),
    ("=", "-ERR [AUTH] empty SASL response"),
    ("!!!!", "-ERR malformed base64"),
    ("YWJj", "-ERR malformed PLAIN response"),
    ("*", "-ERR authentication cancelled"),
])
def test_auth_plain_failures(maild, resp, why):
    c = P3(maild)
    c.cmd("AUTH PLAIN")
    assert c.readline() == "+ "
    assert c.ask(resp) == why
    # still in AUTHORIZATION: a good login works
    c.ok("AUTH PLAIN " + plain("", "alice", "alice-pw-1"))
    assert "alice-pw-1" not in maild.log() and "wrong" not in maild.log().split("reason")[0]


def test_auth_other_forms(maild):
    c = P3(maild)
    c.ok("AUTH")
    assert c.body()[0] == b"PLAIN\r\n"
    assert "unsupported" in c.err("AUTH LOGIN")
    assert "unsupported" in c.err("AUTH CRAM-MD5")
    assert "usage" in c.err("AUTH PLAIN a b")
    assert "too long" in c.err("AUTH PLAIN " + "A" * 5000)


# --- passwords only over TLS or on loopback --------------------------------------------

def test_loopback_is_exempt_from_the_tls_rule(maild):
    # allow_plaintext_login is false by default; 127.0.0.1 may log in anyway
    assert maild.config["pop3"].get("allow_plaintext_login") is None
    c = P3(maild)
    c.login()


def test_plaintext_login_refused_from_non_loopback(make_maild, cert):
    """Tests stay on loopback: a fault point makes the worker see every
    client as remote, as one outside 127/8 would be."""
    m = make_maild(config=tls_config(cert, {}),
                   env={"MAILD_FAULT": "pop3.not_loopback:eio:0"})
    put_mbox(m, "alice", simple("one"))
    c = P3(m)
    lines = capa(c)
    assert "USER" not in lines and "SASL PLAIN" not in lines and "STLS" in lines
    r = c.err("USER alice")
    assert r.startswith("-ERR [AUTH] plaintext login is not allowed without TLS; use STLS")
    c.err("PASS alice-pw-1")
    assert c.err("AUTH PLAIN " + plain("", "alice", "alice-pw-1")).startswith("-ERR [AUTH]")
    c.ok("AUTH")
    assert c.body()[0] == b""
    m.wait_log(r"plaintext login refused client=127\.0\.0\.1: no TLS")
    # APOP sends no password; it is not configured here, so only TLS is left
    c.ok("STLS")
    stls(c, cert)
    assert "USER" in capa(c)
    assert c.login().startswith("+OK alice has 1 message")


def test_plaintext_login_allowed_by_config(make_maild):
    # a "remote" client (see above) may log in without TLS when allowed
    m = make_maild(config={"pop3": {"allow_plaintext_login": True}},
                   env={"MAILD_FAULT": "pop3.not_loopback:eio:0"})
    c = P3(m)
    assert "USER" in capa(c)
    c.login()
    m.wait_log(r"login user=alice client=127\.0\.0\.1 method=USER")


def test_pop3d_inetd_pop3s(sandbox, cert):
    from test_pop3 import run_pop3d
    p, m, sock = run_pop3d(sandbox, args=["-s"], config=tls_config(cert))
    put_mbox(m, "alice", simple("inetd pop3s"))
    tsock = client_ctx(cert).wrap_socket(sock, server_hostname="localhost")
    c = P3(sock=tsock)
    c.login()
    c.ok("RETR 1")
    assert b"Subject: inetd pop3s" in c.body()[0]
    c.ok("QUIT")
    assert p.wait(timeout=10) == 0

