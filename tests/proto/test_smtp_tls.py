"""SMTP over TLS and SMTP AUTH: STARTTLS (RFC 3207), smtps (RFC 8314),
submission rules, AUTH PLAIN/LOGIN (RFC 4954), relaying after AUTH,
certificate reloads and refusals."""
import base64
import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from maildtest import MAILD, Client, free_port, wait_for
from test_smtp import HOST, connect, ehlo, messages, msg, wait_messages
from tlstest import cert_serial, client_context, make_cert, tls_config


@pytest.fixture
def tmaild(make_maild, sandbox):
    ports, cfg = tls_config(sandbox)
    m = make_maild(config=cfg)
    m.ports = ports
    m.cafile = cfg["tls"]["certificate"]
    return m


def plain(user, pw):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode()).decode()


def tls_wrap(m, c):
    ctx = client_context(m.cafile)
    c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
    c.buf = b""
    return c


def starttls(m, c):
    c.cmd("STARTTLS")
    code, lines = c.smtp_reply()
    assert code == 220 and lines[0].startswith("2.0.0")
    return tls_wrap(m, c)


def test_starttls_offered_and_auth_only_after(tmaild):
    c = connect(tmaild)
    lines = ehlo(c)
    assert "STARTTLS" in lines
    assert not any(l.startswith("AUTH") for l in lines)
    # AUTH in plaintext is refused outright
    c.cmd("AUTH PLAIN " + plain("alice", "alice-pw-1"))
    code, lines = c.smtp_reply()
    assert code == 538 and lines[0].startswith("5.7.11")
    starttls(tmaild, c)
    lines = ehlo(c)
    assert "STARTTLS" not in lines
    assert "AUTH PLAIN LOGIN" in lines
    assert c.sock.version() in ("TLSv1.2", "TLSv1.3")


def test_starttls_resets_the_session(tmaild):
    c = connect(tmaild)
    ehlo(c)
    starttls(tmaild, c)
    # the HELO from before TLS is forgotten
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 503
    ehlo(c)
    c.cmd("STARTTLS")
    assert c.smtp_reply()[0] == 503


def test_starttls_injection_is_not_executed(tmaild):
    c = connect(tmaild)
    ehlo(c)
    # plaintext pipelined behind STARTTLS must be thrown away
    c.send("STARTTLS\r\nMAIL FROM:<injected@example.org>\r\n")
    code, _ = c.smtp_reply()
    assert code == 220
    tls_wrap(tmaild, c)
    ehlo(c)
    # had the injected MAIL run inside TLS, this would be a nested MAIL
    c.cmd("MAIL FROM:<real@example.org>")
    assert c.smtp_reply()[0] == 250
    tmaild.wait_log(r"discarded 34 bytes of plaintext sent before the TLS handshake")


def test_received_says_esmtps_and_esmtpsa(tmaild):
    s = smtplib.SMTP("127.0.0.1", tmaild.smtp_port, timeout=10)
    s.starttls(context=client_context(tmaild.cafile))
    s.ehlo("client.example.org")
    s.sendmail("s@example.org", ["bob@example.test"], msg("tls").replace(".\r\n", "").encode())
    s.login("alice", "alice-pw-1")
    s.sendmail("alice@example.test", ["bob@example.test"],
               msg("tls+auth").replace(".\r\n", "").encode())
    s.quit()
    ms = wait_messages(tmaild, "bob", 2)
    r1, r2 = ms[0]["Received"], ms[1]["Received"]
    assert "with ESMTPS" in r1 and "version=TLSv1." in r1 and "cipher=" in r1
    assert "with ESMTPSA" in r2


def test_auth_plain_and_login_good_and_bad(tmaild):
    c = connect(tmaild)
    ehlo(c)
    starttls(tmaild, c)
    ehlo(c)
    t0 = time.monotonic()
    c.cmd("AUTH PLAIN " + plain("alice", "wrong"))
    code, lines = c.smtp_reply()
    assert code == 535 and lines[0].startswith("5.7.8")
    assert time.monotonic() - t0 >= 0.9          # auth_fail_delay = 1
    c.cmd("AUTH PLAIN " + plain("nosuchuser", "x"))
    assert c.smtp_reply()[0] == 535
    # LOGIN, step by step
    c.cmd("AUTH LOGIN")
    code, lines = c.smtp_reply()
    assert code == 334 and base64.b64decode(lines[0]) == b"Username:"
    c.cmd(base64.b64encode(b"alice").decode())
    code, lines = c.smtp_reply()
    assert code == 334 and base64.b64decode(lines[0]) == b"Password:"
    c.cmd(base64.b64encode(b"alice-pw-1").decode())
    code, lines = c.smtp_reply()
    assert code == 235 and lines[0].startswith("2.7.0")
    c.cmd("AUTH PLAIN " + plain("alice", "alice-pw-1"))
    assert c.smtp_reply()[0] == 503
    log = tmaild.log()
    assert "failed login user=alice" in log
    assert "alice-pw-1" not in log and "wrong" not in log.replace("wrong password", "")


def test_auth_plain_continuation_and_cancel(tmaild):
    c = connect(tmaild)
    ehlo(c)
    starttls(tmaild, c)
    ehlo(c)
    c.cmd("AUTH PLAIN")
    code, lines = c.smtp_reply()
    assert code == 334
    c.cmd("*")
    code, lines = c.smtp_reply()
    assert code == 501
    c.cmd("AUTH PLAIN")
    assert c.smtp_reply()[0] == 334
    c.cmd(plain("bob", "bob-pw-2"))
    assert c.smtp_reply()[0] == 235
    c.cmd("AUTH CRAM-MD5")
    assert c.smtp_reply()[0] == 503


def test_relay_only_after_auth(make_maild, sandbox):
    # the relay's next hop for elsewhere.example is a closed port: the
    # message waits in the queue
    ports, cfg = tls_config(sandbox)
    cfg["relay"] = {"routes": ["elsewhere.example=[127.0.0.1]:%d" % free_port()],
                    "connect_timeout": "1s"}
    tmaild = make_maild(config=cfg)
    tmaild.ports = ports
    tmaild.cafile = cfg["tls"]["certificate"]
    c = connect(tmaild)
    ehlo(c)
    starttls(tmaild, c)
    ehlo(c)
    c.cmd("MAIL FROM:<alice@example.test>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<friend@elsewhere.example>")
    assert c.smtp_reply()[0] == 554
    c.cmd("RSET")
    c.smtp_reply()
    c.cmd("AUTH PLAIN " + plain("alice", "alice-pw-1"))
    assert c.smtp_reply()[0] == 235
    c.cmd("MAIL FROM:<alice@example.test>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<friend@elsewhere.example>")
    assert c.smtp_reply()[0] == 250
    c.cmd("DATA")
    assert c.smtp_reply()[0] == 354
    c.send("Subject: out\r\n\r\nto the world\r\n.\r\n")
    code, lines = c.smtp_reply()
    assert code == 250
    qid = lines[0].split()[-1]
    # its next hop is down: it waits in the queue, and the listing says so
    tmaild.wait_log(r"id=%s: deferred to=<friend@elsewhere.example>" % qid)
    r = subprocess.run([MAILD, "-l", "-c", tmaild.conf], capture_output=True, text=True,
                       env=tmaild.sb.env(), timeout=10)
    assert qid in r.stdout and "<friend@elsewhere.example> (awaiting relay)" in r.stdout


def test_authenticated_sender_must_be_own(tmaild):
    c = connect(tmaild)
    ehlo(c)
    starttls(tmaild, c)
    ehlo(c)
    c.cmd("AUTH PLAIN " + plain("alice", "alice-pw-1"))
    assert c.smtp_reply()[0] == 235
    c.cmd("MAIL FROM:<bob@example.test>")
    code, lines = c.smtp_reply()
    assert code == 553 and lines[0].startswith("5.7.1")
    c.cmd("MAIL FROM:<Alice@Example.Test>")
    assert c.smtp_reply()[0] == 250


def test_submission_requires_auth(tmaild):
    c = Client(tmaild.ports["submission"])
    assert c.smtp_reply()[0] == 220
    lines = ehlo(c)
    assert "STARTTLS" in lines
    c.cmd("MAIL FROM:<alice@example.test>")
    code, lines = c.smtp_reply()
    assert code == 530 and lines[0].startswith("5.7.0")
    starttls(tmaild, c)
    ehlo(c)
    c.cmd("AUTH PLAIN " + plain("alice", "alice-pw-1"))
    assert c.smtp_reply()[0] == 235
    c.cmd("MAIL FROM:<alice@example.test>")
    assert c.smtp_reply()[0] == 250


def test_submission_takes_a_bare_path(tmaild):
    c = Client(tmaild.ports["submission"])
    assert c.smtp_reply()[0] == 220
    ehlo(c)
    starttls(tmaild, c)
    ehlo(c)
    c.cmd("AUTH PLAIN " + plain("alice", "alice-pw-1"))
    assert c.smtp_reply()[0] == 235
    c.cmd("MAIL FROM: alice@example.test")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO: bob@example.test")
    assert c.smtp_reply()[0] == 250


def test_smtps_implicit_tls(tmaild):
    ctx = client_context(tmaild.cafile)
    raw = socket.create_connection(("127.0.0.1", tmaild.ports["smtps"]), timeout=10)
    c = Client(None, sock=ctx.wrap_socket(raw, server_hostname="localhost"))
    code, lines = c.smtp_reply()
    assert code == 220 and lines[0].startswith(HOST)
    lines = ehlo(c)
    assert "STARTTLS" not in lines and "AUTH PLAIN LOGIN" in lines


def test_garbage_instead_of_client_hello(tmaild):
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", tmaild.ports["smtps"]), timeout=10)
        s.sendall(b"EHLO this is not a ClientHello\r\n" * 10)
        s.settimeout(10)
        try:
            while s.recv(4096):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
    tmaild.wait_log(r"TLS handshake failed")
    # the pool is unharmed
    ctx = client_context(tmaild.cafile)
    raw = socket.create_connection(("127.0.0.1", tmaild.ports["smtps"]), timeout=10)
    c = Client(None, sock=ctx.wrap_socket(raw, server_hostname="localhost"))
    assert c.smtp_reply()[0] == 220


def client_hello():
    """The bytes of a real TLS ClientHello, as Python's ssl would send them."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    out = ssl.MemoryBIO()
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def closed_within(s, seconds):
    """Seconds until the server closes s, or None if it has not after that."""
    t0 = time.monotonic()
    s.settimeout(seconds)
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        return None
    return time.monotonic() - t0


@pytest.mark.parametrize("how", ["silent", "drip", "starttls"])
def test_handshake_is_bounded_by_the_command_timeout(make_maild, sandbox, how):
    # smtp.timeout_command (2 s here) bounds the whole handshake, not each
    # read: a client that drips a real ClientHello a byte at a time is cut
    # off as surely as one that says nothing
    ports, cfg = tls_config(sandbox)
    cfg["smtp"]["timeout_command"] = 2
    cfg["smtp"]["pool"] = {"min_spare": 1, "max_spare": 1, "max_workers": 1}
    m = make_maild(config=cfg)
    if how == "starttls":
        c = connect(m)
        ehlo(c)
        c.cmd("STARTTLS")
        assert c.smtp_reply()[0] == 220
        s = c.sock
    else:
        s = socket.create_connection(("127.0.0.1", ports["smtps"]), timeout=10)
    t0 = time.monotonic()
    if how == "drip":
        hello = client_hello()
        # one byte every 0.25 s: all of it would take far longer than 2 s
        assert len(hello) * 0.25 > 20
        for b in hello[:-1]:
            try:
                s.sendall(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                break
            if time.monotonic() - t0 > 12:
                break
            time.sleep(0.25)
        took = closed_within(s, 1)
        took = took is not None and time.monotonic() - t0
    else:
        took = closed_within(s, 12)
    assert took and 1.5 < took < 10, took
    s.close()
    m.wait_log(r"TLS handshake failed: timeout during the handshake")
    # the one worker goes on to its next session
    ctx = client_context(cfg["tls"]["certificate"])
    raw = socket.create_connection(("127.0.0.1", ports["smtps"]), timeout=10)
    c = Client(None, sock=ctx.wrap_socket(raw, server_hostname="localhost"))
    assert c.smtp_reply()[0] == 220


@pytest.mark.parametrize("proto", ["-tls1", "-tls1_1"])
def test_old_tls_versions_refused(tmaild, proto):
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % tmaild.ports["smtps"],
                        proto, "-cipher", "DEFAULT@SECLEVEL=0", "-brief"],
                       input="", capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "CONNECTION ESTABLISHED" not in r.stdout + r.stderr


def test_openssl_s_client_starttls(tmaild):
    r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                        "127.0.0.1:%d" % tmaild.smtp_port, "-CAfile", tmaild.cafile,
                        "-verify_return_error", "-brief"],
                       input="QUIT\r\n", capture_output=True, text=True, timeout=20)
    out = r.stdout + r.stderr
    assert "CONNECTION ESTABLISHED" in out and "Verification: OK" in out, out


@pytest.mark.parametrize("mode", ["--tls", "--tlsc"])
def test_swaks_tls(tmaild, mode):
    if shutil.which("swaks") is None:
        pytest.skip("swaks not installed")
    port = tmaild.smtp_port if mode == "--tls" else tmaild.ports["smtps"]
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(port), mode,
                        "--from", "alice@example.test", "--to", "carol@example.test",
                        "--auth", "PLAIN", "--auth-user", "alice",
                        "--auth-password", "alice-pw-1",
                        "--header", "Subject: swaks %s" % mode],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    (m,) = wait_messages(tmaild, "carol", 1)
    assert "with ESMTPSA" in m["Received"]


def test_plaintext_auth_when_allowed(make_maild):
    m = make_maild(config={"smtp": {"allow_plaintext_auth": True}})
    c = connect(m)
    lines = ehlo(c)
    assert "AUTH PLAIN LOGIN" in lines
    c.cmd("AUTH PLAIN " + plain("alice", "alice-pw-1"))
    assert c.smtp_reply()[0] == 235


def test_maild_t_mismatched_key_and_certificate(sandbox, make_maild):
    cert1, key1 = make_cert(sandbox.dir, "one")
    cert2, key2 = make_cert(sandbox.dir, "two")
    m = make_maild(config={"tls": {"certificate": cert1, "key": key2}}, start=False)
    r = subprocess.run([MAILD, "-t", "-c", m.conf], capture_output=True, text=True,
                       env=sandbox.env(), timeout=10)
    assert r.returncode == 1
    assert "tls.key %s does not match tls.certificate %s" % (key2, cert1) in r.stderr


def test_sighup_loads_new_certificate(tmaild, sandbox):
    def serial_seen():
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", tmaild.ports["smtps"]), timeout=10)
        s = ctx.wrap_socket(raw)
        der = s.getpeercert(binary_form=True)
        s.close()
        pem = ssl.DER_cert_to_PEM_cert(der)
        p = os.path.join(sandbox.dir, "seen.pem")
        with open(p, "w") as f:
            f.write(pem)
        return cert_serial(p)

    old_serial = serial_seen()
    assert old_serial == cert_serial(tmaild.cafile)
    # a session open across the reload goes on
    c = connect(tmaild)
    ehlo(c)
    starttls(tmaild, c)
    cert, key = make_cert(sandbox.dir, "new")
    tmaild.config["tls"] = {"certificate": cert, "key": key}
    tmaild.write_config()
    tmaild.signal(signal.SIGHUP)
    tmaild.wait_log("configuration reloaded")
    wait_for(lambda: serial_seen() == cert_serial(cert), what="new certificate")
    ehlo(c)
    c.cmd("QUIT")
    assert c.smtp_reply()[0] == 221


def test_failed_logins_slow_down_per_client_address(tmaild):
    # auth_fail_delay is 1 s; from the fourth failure on the same address,
    # a penalty that doubles is added
    took = []
    for _ in range(5):
        c = connect(tmaild)
        ehlo(c)
        starttls(tmaild, c)
        ehlo(c)
        t0 = time.monotonic()
        c.cmd("AUTH PLAIN " + plain("alice", "not-it"))
        assert c.smtp_reply()[0] == 535
        took.append(time.monotonic() - t0)
        c.close()
    assert all(t >= 0.9 for t in took[:3]), took
    assert took[3] >= 1.9 and took[4] >= 2.9, took
    # a success is not slowed down, and forgives nothing: else two
    # guesses, a login to one's own account, two guesses ... never slow down
    c = connect(tmaild)
    ehlo(c)
    starttls(tmaild, c)
    ehlo(c)
    t0 = time.monotonic()
    c.cmd("AUTH PLAIN " + plain("alice", "alice-pw-1"))
    assert c.smtp_reply()[0] == 235
    assert time.monotonic() - t0 < 0.9
    c.close()
    c = connect(tmaild)
    ehlo(c)
    starttls(tmaild, c)
    ehlo(c)
    t0 = time.monotonic()
    c.cmd("AUTH PLAIN " + plain("alice", "not-it"))
    assert c.smtp_reply()[0] == 535
    assert time.monotonic() - t0 >= 4.9
    c.close()


# --- AUTH: bounded credentials, safe user names, STARTTLS after AUTH ---------

def plain_bytes(user, pw):
    return base64.b64encode(b"\0" + user + b"\0" + pw).decode()


def one_worker_plaintext_auth(make_maild, extra=None):
    # one worker: any stray connection (another test's probe of a port it
    # used before) would put the pool under stress, where a session may
    # fail but once; these tests count their own errors
    cfg = {"smtp": {"allow_plaintext_auth": True,
                    "pool": {"min_spare": 1, "max_spare": 1, "max_workers": 1,
                             "stress_max_errors": 10}}}
    if extra:
        cfg["smtp"].update(extra)
    m = make_maild(config=cfg)
    return m


def test_overlong_credentials_refused_by_the_worker(make_maild):
    # the monitor's bounds (PASSWORD_MAX, USER_NAME_MAX) are the worker's
    # too: an over-long password or user name is answered without
    # bothering the monitor, which kept refusing such requests and then
    # dropped the worker
    m = one_worker_plaintext_auth(make_maild)
    (worker,) = m.workers("smtpd")
    for i in range(12):
        c = connect(m)
        ehlo(c)
        c.cmd("AUTH PLAIN " + plain_bytes(b"alice", b"x" * 1100))
        code, lines = c.smtp_reply()
        assert code == 535 and lines[0].startswith("5.7.8"), (i, code, lines)
        c.cmd("QUIT")
        assert c.smtp_reply()[0] == 221
        c.close()
    c = connect(m)
    ehlo(c)
    c.cmd("AUTH PLAIN " + plain_bytes(b"a" * 300, b"pw"))
    code, lines = c.smtp_reply()
    assert code == 501 and lines[0].startswith("5.5.2"), lines
    c.cmd("AUTH LOGIN")
    assert c.smtp_reply()[0] == 334
    c.cmd(base64.b64encode(b"alice").decode())
    assert c.smtp_reply()[0] == 334
    c.cmd(base64.b64encode(b"y" * 1025).decode())
    code, lines = c.smtp_reply()
    assert code == 535 and lines[0].startswith("5.7.8"), lines
    # the longest password allowed still reaches the monitor (and fails)
    c.cmd("AUTH PLAIN " + plain_bytes(b"alice", b"z" * 1024))
    assert c.smtp_reply()[0] == 535
    # the same worker served every session, and its monitor kept it
    # (checked before the login below, after which it retires)
    assert m.workers("smtpd") == [worker]
    c.cmd("AUTH PLAIN " + plain("alice", "alice-pw-1"))
    assert c.smtp_reply()[0] == 235
    c.cmd("QUIT")
    assert c.smtp_reply()[0] == 221
    log = m.log()
    assert "malformed AUTH" not in log and "dropping worker" not in log


@pytest.mark.parametrize("user", [
    b"alice client=192.0.2.1",
    b"alice\tclient=192.0.2.1",
    b"alice\r\nfailed login user=bob client=192.0.2.1 method=PLAIN",
    b"alice\x7fclient=192.0.2.1",
], ids=["space", "tab", "crlf", "del"])
def test_auth_user_name_cannot_forge_the_log(make_maild, user):
    # fail2ban reads "client=" from the failed-login line
    m = one_worker_plaintext_auth(make_maild)
    c = connect(m)
    ehlo(c)
    c.cmd("AUTH PLAIN " + plain_bytes(user, b"wrong"))
    code, lines = c.smtp_reply()
    assert code == 501 and lines[0].startswith("5.5.2"), lines
    c.cmd("AUTH LOGIN " + base64.b64encode(user).decode())
    code, lines = c.smtp_reply()
    assert code == 501 and lines[0].startswith("5.5.2"), lines
    c.cmd("AUTH LOGIN")
    assert c.smtp_reply()[0] == 334
    c.cmd(base64.b64encode(user).decode())
    code, lines = c.smtp_reply()
    assert code == 501 and lines[0].startswith("5.5.2"), lines
    c.cmd("QUIT")
    assert c.smtp_reply()[0] == 221
    m.wait_log("disconnect client=127.0.0.1")
    assert "192.0.2.1" not in m.log()


def test_starttls_after_auth_is_refused(make_maild, sandbox):
    # RFC 3207 4.2: a TLS session starts from nothing, AUTH included; we
    # refuse STARTTLS once authenticated rather than keep the login
    ports, cfg = tls_config(sandbox)
    cfg["smtp"]["allow_plaintext_auth"] = True
    m = make_maild(config=cfg)
    c = connect(m)
    assert "STARTTLS" in ehlo(c)
    c.cmd("AUTH PLAIN " + plain("alice", "alice-pw-1"))
    assert c.smtp_reply()[0] == 235
    lines = ehlo(c)
    assert "STARTTLS" not in lines, lines
    c.cmd("STARTTLS")
    code, lines = c.smtp_reply()
    assert code == 503 and lines[0].startswith("5.5.1"), lines
    # the session goes on in the clear, as it was
    c.cmd("NOOP")
    assert c.smtp_reply()[0] == 250
    c.cmd("QUIT")
    assert c.smtp_reply()[0] == 221


def test_rest_of_an_overlong_auth_line_is_not_a_command(make_maild):
    m = one_worker_plaintext_auth(make_maild)
    c = connect(m)
    ehlo(c)
    # the first 12288 octets are the response; "QUIT" is its tail
    c.send("AUTH PLAIN\r\n" + "A" * 12288 + "QUIT\r\nNOOP\r\n")
    assert c.smtp_reply()[0] == 334
    code, lines = c.smtp_reply()
    assert code == 500 and lines[0].startswith("5.5.6"), lines
    assert c.smtp_reply()[0] == 250
