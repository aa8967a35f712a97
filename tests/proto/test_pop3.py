"""POP3 black-box tests: every command, state and reply (RFC 1939, RFC 2449),
with Python's poplib and with raw sockets: message numbers and sizes, TOP,
UIDL, pipelining, the autologout timer, logins, [IN-USE], deliveries during a
session, the index, APOP and LOGIN-DELAY, and inetd mode.

The helpers at the top are shared with test_pop3_tls.py and
test_pop3_maildrop.py."""
import hashlib
import mailbox
import os
import poplib
import random
import re
import socket
import subprocess
import time

import pytest

from maildtest import IS_ROOT, POP3D, SRCDIR, Client, Maild, alive, wait_for
from test_smtp import msg, send

DATE = "Tue Nov 24 21:%02d:%02d 2026"
poplib._MAXLINE = 1 << 20      # our corpus has lines far longer than 2048
PASSWORDS = {"alice": "alice-pw-1", "bob": "bob-pw-2", "carol": "carol-pw-3"}


# --- building maildrops ----------------------------------------------------------

def mboxrd_quote(body):
    """mboxrd (RFC 4155): one more '>' before every ^>*From line."""
    return re.sub(rb"(?m)^(>*From )", rb">\1", body)


def entry(text, sender="sender@example.org", n=0):
    """One mboxrd message: From_ line, the message (LF or CRLF lines, as
    given), quoted, then the separating empty line."""
    if isinstance(text, str):
        text = text.encode()
    if text and not text.endswith(b"\n"):
        text += b"\n"
    return (b"From %s %s\n" % (sender.encode(), (DATE % (n // 60, n % 60)).encode()) +
            mboxrd_quote(text) + b"\n")


def simple(subject, body="hello\n", n=0, extra=""):
    return entry("From: sender@example.org\nSubject: %s\n%s\n%s" % (subject, extra, body), n=n)


def pop3_view(text):
    """What RETR sends (before byte-stuffing) for a message given as entry()
    got it: LF line ends become CRLF, a stored CRLF stays."""
    if isinstance(text, str):
        text = text.encode()
    if text and not text.endswith(b"\n"):
        text += b"\n"
    lines = text.split(b"\n")[:-1]
    return b"".join(l + (b"\n" if l.endswith(b"\r") else b"\r\n") for l in lines)


def spool(m, user):
    return m.sb.path("spool", user)


def put_mbox(m, user, data):
    """Writes a maildrop as an MDA would: the user's, mode 0600."""
    p = spool(m, user)
    with open(p, "wb") as f:
        f.write(data)
    os.chmod(p, 0o600)
    if IS_ROOT:
        os.chown(p, m.sb.uids[user], m.sb.mail_gid)
    return p


def get_mbox(m, user):
    with open(spool(m, user), "rb") as f:
        return f.read()


def subjects(m, user):
    return [x["Subject"] for x in mailbox.mbox(spool(m, user), create=False)]


def update_file(m, user):
    return m.sb.path("spool", ".%s.pop3-update" % user)


# --- clients -------------------------------------------------------------------------

OPEN = []       # clients to close before the test's maild stops


@pytest.fixture(autouse=True)
def _close_clients(make_maild):
    """Closes what a test left open, before maild is stopped (which would
    otherwise wait shutdown_grace for those sessions)."""
    yield
    while OPEN:
        try:
            OPEN.pop().close()
        except OSError:
            pass


class P3(Client):
    """A raw POP3 client: one command, one reply line; multi-line bodies."""

    def __init__(self, m=None, port=None, host="127.0.0.1", sock=None, timeout=15):
        super().__init__(port or (m.pop3_port if m else None), host=host, timeout=timeout,
                         sock=sock)
        OPEN.append(self)
        self.greeting = self.readline()
        assert self.greeting.startswith("+OK"), self.greeting

    def ask(self, line):
        self.cmd(line)
        return self.readline()

    def ok(self, line):
        r = self.ask(line)
        assert r.startswith("+OK"), (line, r)
        return r

    def err(self, line):
        r = self.ask(line)
        assert r.startswith("-ERR"), (line, r)
        return r

    def rawline(self):
        while b"\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed; buffer %r" % self.buf)
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def body(self):
        """The lines of a multi-line reply up to ".", byte-stuffing undone,
        as raw bytes with their line ends; and the raw (stuffed) bytes."""
        out, raw = [], b""
        while True:
            line = self.rawline()
            raw += line
            if line == b".\r\n":
                return b"".join(out), raw
            out.append(line[1:] if line.startswith(b".") else line)

    def multi(self, line):
        first = self.ok(line)
        data, _ = self.body()
        return first, data.decode(errors="replace").split("\r\n")[:-1]

    def login(self, user="alice", password=None):
        self.ok("USER " + user)
        return self.ok("PASS " + (password or PASSWORDS[user]))


def pop(m, user="alice", port=None, host="127.0.0.1"):
    """A logged-in poplib session."""
    c = poplib.POP3(host, port or m.pop3_port, timeout=15)
    OPEN.append(c)
    c.user(user)
    c.pass_(PASSWORDS[user])
    return c


def wait_log_count(m, pattern, n, timeout=10):
    rx = re.compile(pattern)
    return wait_for(lambda: len(rx.findall(m.log())) >= n, timeout,
                    what="%d log lines /%s/" % (n, pattern))


# --- greeting, CAPA, QUIT ----------------------------------------------------------

BASE_CAPA = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]


def test_greeting_capa_and_quit_in_authorization(maild):
    c = P3(maild)
    assert c.greeting == "+OK maild POP3 server ready"     # no APOP: no timestamp
    first, lines = c.multi("CAPA")
    assert lines == BASE_CAPA + ["USER", "SASL PLAIN", "IMPLEMENTATION maild"]
    assert "STLS" not in lines          # no TLS configured
    assert c.ok("QUIT") == "+OK maild POP3 server signing off"
    assert c.closed()


def test_capa_with_poplib_and_after_login(maild):
    put_mbox(maild, "alice", simple("one"))
    c = poplib.POP3("127.0.0.1", maild.pop3_port, timeout=15)
    caps = c.capa()
    for k in BASE_CAPA + ["USER", "SASL", "IMPLEMENTATION"]:
        assert k in caps
    assert caps["SASL"] == ["PLAIN"] and caps["IMPLEMENTATION"] == ["maild"]
    c.user("alice")
    c.pass_("alice-pw-1")
    caps = c.capa()
    # after login: nothing that only AUTHORIZATION can use
    assert "USER" not in caps and "SASL" not in caps and "STLS" not in caps
    assert "TOP" in caps and "UIDL" in caps and "PIPELINING" in caps
    c.quit()


def test_capa_login_delay_and_expire(make_maild):
    m = make_maild(config={"pop3": {"login_delay": 120, "expire": "NEVER"}})
    c = P3(m)
    _, lines = c.multi("CAPA")
    assert "LOGIN-DELAY 120" in lines and "EXPIRE NEVER" in lines


# --- a whole session ---------------------------------------------------------------

def test_full_session_with_poplib(maild):
    put_mbox(maild, "alice", simple("one", "first body\n", 1) +
             simple("two", "second body\n", 2) + simple("three", "third\n", 3))
    c = pop(maild)
    n, size = c.stat()
    assert n == 3
    resp, listing, _ = c.list()
    sizes = [int(x.split()[1]) for x in listing]
    assert resp.startswith(b"+OK 3 messages") and sum(sizes) == size
    assert c.list(2).split()[1:] == [b"2", str(sizes[1]).encode()]
    resp, lines, octets = c.retr(1)
    assert lines[-1] == b"first body" and octets == sizes[0]
    assert b"Subject: one" in lines
    resp, uidls, _ = c.uidl()
    assert len(uidls) == 3
    assert c.uidl(3).split()[1] == b"3"
    assert c.noop().startswith(b"+OK")
    assert c.dele(2) == b"+OK message 2 deleted"
    assert c.stat() == (2, size - sizes[1])
    assert [x.split()[0] for x in c.list()[1]] == [b"1", b"3"]
    assert c.rset().startswith(b"+OK maildrop has 3 messages")
    assert c.stat() == (3, size)
    c.dele(2)
    assert c.quit() == b"+OK maild POP3 server signing off (2 messages left)"
    assert subjects(maild, "alice") == ["one", "three"]
    maild.wait_log(r"disconnect client=127\.0\.0\.1 user=alice method=USER state=update "
                   r"retrieved=1/%d deleted=1/%d errors=0 time=\d+\.\d+s" % (sizes[0], sizes[1]))
    assert re.search(r"login user=alice client=127\.0\.0\.1 method=USER", maild.log())


def test_every_log_line_of_a_session_has_its_id(maild):
    put_mbox(maild, "alice", simple("one"))
    c = P3(maild)
    c.login()
    c.ok("STAT")
    c.ok("QUIT")
    sid = maild.wait_log(r"pop3d\[\d+\]: sid=(\S+) connect from").group(1)
    maild.wait_log(r"sid=%s disconnect" % sid)
    lines = [l for l in maild.log().splitlines() if "pop3d" in l and "sid=" + sid in l]
    assert len(lines) >= 5
    # the monitor's lines carry it too
    assert any("pop3d-priv" in l and "login user=alice" in l for l in lines)


def test_quit_without_deletions_leaves_the_file_alone(maild):
    data = simple("one") + simple("two", n=1)
    put_mbox(maild, "alice", data)
    st = os.stat(spool(maild, "alice"))
    c = pop(maild)
    c.retr(1)
    c.quit()
    assert get_mbox(maild, "alice") == data
    assert os.stat(spool(maild, "alice")).st_ino == st.st_ino


def test_missing_maildrop_is_empty_and_created(maild):
    assert not os.path.exists(spool(maild, "carol"))
    c = P3(maild)
    assert c.login("carol") == "+OK carol has 0 messages (0 octets)"
    assert c.ok("STAT") == "+OK 0 0"
    first, lines = c.multi("LIST")
    assert lines == []
    c.ok("QUIT")
    st = os.stat(spool(maild, "carol"))
    assert st.st_size == 0 and st.st_mode & 0o777 == 0o600
    if IS_ROOT:
        assert (st.st_uid, st.st_gid) == (maild.sb.uids["carol"], maild.sb.mail_gid)


# --- states and errors -------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP",
                                 "RSET", "TOP 1 1", "UIDL", "UIDL 1", "PASS x"])
def test_transaction_commands_before_login_are_errors(maild, cmd):
    c = P3(maild)
    c.err(cmd)
    c.ok("CAPA")                         # and the session goes on
    c.body()


@pytest.mark.parametrize("cmd", ["USER alice", "PASS alice-pw-1", "APOP alice 0123",
                                 "AUTH PLAIN", "STLS"])
def test_authorization_commands_after_login_are_errors(maild, cmd):
    put_mbox(maild, "alice", simple("one"))
    c = P3(maild)
    c.login()
    c.err(cmd)
    assert c.ok("STAT").startswith("+OK 1 ")


@pytest.mark.parametrize("cmd,why", [
    ("RETR 0", "no such message"), ("RETR 4", "no such message"),
    ("RETR 18446744073709551615", "no such message"),
    ("RETR 18446744073709551616", "invalid message number"),
    ("RETR 999999999999999999999", "invalid message number"),
    ("RETR -1", "invalid message number"), ("RETR +1", "invalid message number"),
    ("RETR 1x", "invalid message number"), ("RETR abc", "invalid message number"),
    ("RETR", "usage"), ("RETR 1 2", "usage"), ("LIST 0", "no such message"),
    ("LIST 1 2", "usage"), ("UIDL 5", "no such message"), ("DELE 0", "no such message"),
    ("DELE", "usage"), ("TOP 1", "usage"), ("TOP 1 -1", "invalid number of lines"),
    ("TOP 1 x", "invalid number of lines"), ("TOP 9 1", "no such message"),
    ("STAT 1", "no argument"), ("NOOP x", "no argument"), ("RSET 1", "no argument"),
    ("QUIT now", "no argument"), ("CAPA x", "no argument"),
])
def test_bad_message_numbers_and_arguments(maild, cmd, why):
    put_mbox(maild, "alice", simple("one") + simple("two", n=1) + simple("three", n=2))
    c = P3(maild)
    c.login()
    assert why in c.err(cmd)
    assert c.ok("STAT").startswith("+OK 3 ")


def test_deleted_messages_are_errors_and_numbers_stay_fixed(maild):
    put_mbox(maild, "alice", simple("one") + simple("two", n=1) + simple("three", n=2))
    c = P3(maild)
    c.login()
    size3 = c.ok("LIST 3").split()[2]
    c.ok("DELE 2")
    assert "already deleted" in c.err("DELE 2")
    for cmd in ("RETR 2", "LIST 2", "UIDL 2", "TOP 2 0"):
        assert "already deleted" in c.err(cmd)
    assert c.ok("LIST 3") == "+OK 3 " + size3     # not renumbered
    first, lines = c.multi("LIST")
    assert [l.split()[0] for l in lines] == ["1", "3"]
    first, lines = c.multi("UIDL")
    assert [l.split()[0] for l in lines] == ["1", "3"]


@pytest.mark.parametrize("line", [
    b"", b"FOO", b"FOO bar", b"ST4T", b"STAT\x00", b"US\x00ER alice", b"\x01",
    b"RETR \x7f", b"X" * 17, b" STAT", b"\xff\xfe",
])
def test_malformed_commands_get_err(maild, line):
    c = P3(maild)
    c.send(line + b"\r\n")
    assert c.readline().startswith("-ERR")
    c.ok("CAPA")
    c.body()


def test_line_too_long_gets_err_and_session_goes_on(maild):
    c = P3(maild)
    assert "too long" in c.err("NOOP " + "x" * 600)
    assert "too long" in c.err("USER " + "x" * 70000)
    assert c.ok("USER alice")


def test_bare_lf_commands_work(maild):
    c = P3(maild)
    c.send("USER alice\nPASS alice-pw-1\nSTAT\n")
    assert c.readline().startswith("+OK")
    assert c.readline().startswith("+OK")
    assert c.readline().startswith("+OK 0 0")


def test_lowercase_commands(maild):
    put_mbox(maild, "alice", simple("one"))
    c = P3(maild)
    c.ok("user alice")
    c.ok("pass alice-pw-1")
    assert c.ok("stat").startswith("+OK 1 ")


def test_too_many_errors_closes_the_session(maild):
    c = P3(maild)
    for _ in range(10):
        c.err("BOGUS")
    c.cmd("BOGUS")
    assert c.readline().startswith("-ERR unknown command")
    assert "too many errors" in c.readline()
    assert c.closed()


def test_pipelined_commands_in_one_packet(maild):
    put_mbox(maild, "alice", simple("one") + simple("two", n=1))
    c = P3(maild)
    c.send("CAPA\r\nUSER alice\r\nPASS alice-pw-1\r\nSTAT\r\nLIST\r\nUIDL 2\r\n"
           "RETR 1\r\nDELE 1\r\nNOOP\r\nQUIT\r\n")
    time.sleep(0.5)
    data = b""
    c.sock.settimeout(5)
    while not data.endswith(b"signing off (1 message left)\r\n"):
        d = c.sock.recv(65536)
        assert d, data
        data += d
    text = data.decode()
    assert text.startswith("+OK capability list follows\r\n")
    for want in ("+OK send PASS\r\n", "+OK alice has 2 messages", "\r\n+OK 2 ",
                 "+OK 2 messages (", "+OK 2 ", "+OK message 1 deleted\r\n", "+OK\r\n"):
        assert want in text, (want, text)
    assert subjects(maild, "alice") == ["two"]


def test_pipelined_replies_are_flushed_together(maild):
    put_mbox(maild, "alice", simple("one"))
    c = P3(maild)
    c.login()
    c.send("NOOP\r\nSTAT\r\nNOOP\r\nLIST 1\r\n")
    time.sleep(0.3)
    first = c.sock.recv(65536).decode()
    assert first.count("+OK") == 4, first


# --- logins --------------------------------------------------------------------------

def test_unknown_user_and_wrong_password_look_the_same(maild):
    replies, times = [], []
    for user, pw in (("nosuchuser", "whatever"), ("alice", "wrong-password")):
        c = P3(maild)
        c.ok("USER " + user)
        t0 = time.monotonic()
        replies.append(c.ask("PASS " + pw))
        times.append(time.monotonic() - t0)
        c.ok("QUIT")
    assert replies[0] == replies[1] == "-ERR [AUTH] authentication failed"
    assert min(times) >= 0.9            # auth_fail_delay = 1 s for both
    assert abs(times[0] - times[1]) < 0.5
    log = maild.log()
    assert "failed login user=nosuchuser client=127.0.0.1 method=USER" in log
    assert "failed login user=alice client=127.0.0.1 method=USER" in log
    assert "wrong-password" not in log and "whatever" not in log


def test_pass_before_user_and_after_failure(maild):
    c = P3(maild)
    assert "USER first" in c.err("PASS alice-pw-1")
    c.ok("USER alice")
    c.err("PASS bad")
    # a failed PASS forgets the name
    assert "USER first" in c.err("PASS alice-pw-1")
    c.login()


def test_password_with_spaces_is_passed_whole(maild):
    c = P3(maild)
    c.ok("USER alice")
    assert c.err("PASS alice-pw-1 ").startswith("-ERR [AUTH]")


def test_two_sessions_second_gets_in_use(maild):
    put_mbox(maild, "alice", simple("one"))
    a = P3(maild)
    a.login()
    b = P3(maild)
    b.ok("USER alice")
    r = b.ask("PASS alice-pw-1")
    assert r.startswith("-ERR [IN-USE] "), r
    # the second stays in AUTHORIZATION and may try again later
    assert a.ok("STAT").startswith("+OK 1 ")
    a.ok("QUIT")
    b.login()
    assert b.ok("STAT").startswith("+OK 1 ")
    b.ok("QUIT")


def test_connections_per_client_address_limited(make_maild):
    # as for SMTP (test_smtp.py); loopback counts with limit_loopback
    m = make_maild(config={"pop3": {"max_connections_per_ip": 2},
                           "limit_loopback": True})
    a, b = P3(m), P3(m)
    c = Client(m.pop3_port)
    OPEN.append(c)
    r = c.readline()
    assert r.startswith("-ERR [SYS/TEMP] too many connections"), r
    assert c.closed()
    m.wait_log(r"too many connections from 127\.0\.0\.1 \(max 2\)")
    a.ok("QUIT")

    # the slot comes back once a session ends
    def greeted():
        d = Client(m.pop3_port)
        OPEN.append(d)
        return d.readline().startswith("+OK")
    wait_for(greeted, what="slot freed")
    b.ok("QUIT")


def test_pop3_sessions_do_not_count_against_the_smtp_limit(make_maild):
    m = make_maild(config={"smtp": {"max_connections_per_ip": 2},
                           "pop3": {"max_connections_per_ip": 2},
                           "limit_loopback": True})
    P3(m), P3(m)
    s = Client(m.smtp_port)
    OPEN.append(s)
    code, lines = s.smtp_reply()
    assert code == 220, (code, lines)


def test_loopback_is_exempt_from_the_per_address_limit(make_maild):
    # local programs share 127.0.0.1: not limited unless limit_loopback
    m = make_maild(config={"smtp": {"max_connections_per_ip": 1},
                           "pop3": {"max_connections_per_ip": 1}})
    sessions = [P3(m) for _ in range(3)]
    s = [Client(m.smtp_port) for _ in range(3)]
    OPEN.extend(s)
    for c in s:
        code, lines = c.smtp_reply()
        assert code == 220, (code, lines)
    for p in sessions:
        p.ok("QUIT")
    assert "too many connections" not in m.log()


def test_bad_user_names_are_refused(maild):
    c = P3(maild)
    c.err("USER")
    c.err("USER a b")
    c.err("USER " + "u" * 300)


def test_login_delay_is_enforced(make_maild):
    m = make_maild(config={"pop3": {"login_delay": 60}})
    c = P3(m)
    c.login()
    c.ok("QUIT")
    c = P3(m)
    c.ok("USER alice")
    r = c.ask("PASS alice-pw-1")
    assert r.startswith("-ERR [LOGIN-DELAY] "), r
    # another user is not held up
    c.login("bob")


def casefold_nss(sandbox):
    """Environment for a case-insensitive user database: nss_wrapper's files
    backend, then nss_casefold.c (built here), where getpwnam("Alice") is
    alice's entry, pw_name "alice"."""
    so = sandbox.path("libnss_casefold.so")
    src = os.path.join(SRCDIR, "tests", "proto", "nss_casefold.c")
    try:
        r = subprocess.run(os.environ.get("CC", "cc").split() +
                           ["-shared", "-fPIC", "-o", so, src], capture_output=True, text=True,
                           timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip("cannot build the NSS module: %s" % e)
    if r.returncode != 0:
        pytest.skip("cannot build the NSS module: %s" % r.stderr[-500:])
    return {"NSS_WRAPPER_MODULE_SO_PATH": so, "NSS_WRAPPER_MODULE_FN_PREFIX": "casefold"}


def test_login_in_another_case_opens_the_passwd_name_maildrop(make_maild, sandbox):
    """PAM accepts "Alice" (pam_matrix has the entry); the user database is
    case-insensitive and says the user is "alice": the session is alice's,
    with the maildrop delivery uses, not a new SPOOL/Alice."""
    env = casefold_nss(sandbox)
    with open(sandbox.path("passdb"), "a") as f:
        f.write("Alice:alice-pw-1:maildtest\n")
    m = make_maild(env=env)
    put_mbox(m, "alice", simple("one"))
    c = P3(m)
    r = c.login("Alice", "alice-pw-1")
    assert r.startswith("+OK alice has 1 message"), r
    c.ok("DELE 1")
    c.ok("QUIT")
    assert get_mbox(m, "alice") == b""
    assert not os.path.exists(spool(m, "Alice"))
    assert "login user=alice client=127.0.0.1 method=USER" in m.log()
    # and mail for Alice@ (folded by delivery) lands in the same maildrop
    assert send(m, "s@example.org", ["Alice@example.test"], msg("for Alice"))[0] == 250
    wait_for(lambda: get_mbox(m, "alice") != b"", 15, what="delivery to alice")
    assert not os.path.exists(spool(m, "Alice"))


ONE_WORKER = {"pop3": {"pool": {"min_spare": 1, "max_spare": 1, "max_workers": 1}}}


def served_by(m, c, proto="pop3d"):
    """The pid of the worker that took client c (its "connect from" line)."""
    port = c.sock.getsockname()[1]
    return int(m.wait_log(r"%s\[(\d+)\]: sid=\S+ connect from 127\.0\.0\.1:%d " %
                          (proto, port)).group(1))


def test_worker_retires_after_a_login(make_maild):
    """A worker that logged a user in serves nobody else: one taken over in
    that session must not see the next user's password."""
    m = make_maild(config=ONE_WORKER)
    a = P3(m)
    pa = served_by(m, a)
    a.ok("USER alice")
    a.err("PASS wrong")         # a failed login is no login
    a.ok("QUIT")
    b = P3(m)
    assert served_by(m, b) == pa
    b.login()
    b.ok("QUIT")
    assert b.closed()
    wait_for(lambda: not alive(pa), 10, what="the worker to retire")
    c = P3(m)
    pc = served_by(m, c)
    assert pc != pa
    c.login("bob")
    c.ok("QUIT")
    d = P3(m)
    assert served_by(m, d) not in (pa, pc)
    d.ok("QUIT")
    assert "killing it" not in m.log()      # it went by itself


def test_worker_serves_on_after_a_login_when_told_to(make_maild):
    cfg = {"pop3": {"pool": dict(ONE_WORKER["pop3"]["pool"], retire_after_login=False)}}
    m = make_maild(config=cfg)
    a = P3(m)
    pa = served_by(m, a)
    a.login()
    a.ok("QUIT")
    b = P3(m)
    assert served_by(m, b) == pa
    b.login("bob")
    b.ok("QUIT")


def test_apop(make_maild, sandbox):
    secrets = sandbox.path("apop-secrets")
    with open(secrets, "w") as f:
        f.write("# user:secret\nbob:other\nalice:tanstaaf:with:colons\n")
    os.chmod(secrets, 0o600)
    m = make_maild(config={"pop3": {"apop_secrets": secrets}})
    put_mbox(m, "alice", simple("one"))
    c = P3(m)
    stamp = re.search(r"(<\d+\.\d+\.\S+@mx\.example\.test>)$", c.greeting).group(1)
    wrong = hashlib.md5((stamp + "nope").encode()).hexdigest()
    assert c.ask("APOP alice " + wrong) == "-ERR [AUTH] authentication failed"
    assert c.ask("APOP nosuch " + wrong) == "-ERR [AUTH] authentication failed"
    c.err("APOP alice xyz")
    good = hashlib.md5((stamp + "tanstaaf:with:colons").encode()).hexdigest()
    assert c.ok("APOP alice " + good.upper()).startswith("+OK alice has 1 message")
    c.ok("QUIT")
    # another session gets another timestamp; the old answer is worthless
    d = P3(m)
    assert stamp not in d.greeting
    assert d.ask("APOP alice " + good) == "-ERR [AUTH] authentication failed"
    log = m.log()
    assert "login user=alice client=127.0.0.1 method=APOP" in log
    assert "tanstaaf" not in log
    # USER/PASS works beside it
    d.login()


def test_apop_not_offered_without_secrets(maild):
    c = P3(maild)
    assert "<" not in c.greeting
    assert "not available" in c.err("APOP alice " + "0" * 32)


# --- message content and sizes -----------------------------------------------------

ODD = [
    ("dot-lines", b"Subject: dots\n\n.\n..\n.hidden\n...three\nend.\n"),
    ("from-lines", b"Subject: from\n\nFrom the start\n>From quoted once\n>>From twice\nFromage\n"),
    ("crlf-stored", b"Subject: crlf\r\nX-A: 1\r\n\r\nline one\r\nline two\r\n"),
    ("mixed-ends", b"Subject: mixed\n\none\r\ntwo\nthree\r\n"),
    ("empty-body", b"Subject: empty\n\n"),
    ("no-body-line", b"Subject: headers only\nX-B: 2\n"),
    ("long-line", b"Subject: long\n\n" + b"x" * 200000 + b"\n.y" + b"z" * 70000 + b"\n"),
    ("bare-cr", b"Subject: cr\n\nab\rcd\r\n.\r.\n"),
    ("nul-bytes", b"Subject: nul\n\na\x00b\n\x00\n"),
    ("eight-bit", "Subject: caf\u00e9\n\nna\u00efve \u2603\n".encode()),
    ("blank-lines", b"Subject: blanks\n\n\n\n\nx\n\n\n"),
]


def test_octets_equal_what_retr_sends(maild):
    data = b"".join(entry(t, n=i) for i, (_, t) in enumerate(ODD))
    # the last one without its final newline and separator
    last = b"Subject: no final newline\n\nlast line"
    data += b"From x@y " + (DATE % (59, 0)).encode() + b"\n" + last
    put_mbox(maild, "alice", data)
    c = P3(maild)
    c.login()
    _, listing = c.multi("LIST")
    assert len(listing) == len(ODD) + 1
    total = 0
    for i, (name, text) in enumerate(ODD + [("no-final-newline", last)]):
        size = int(listing[i].split()[1])
        total += size
        first = c.ok("RETR %d" % (i + 1))
        got, raw = c.body()
        assert first == "+OK %d octets" % size, name
        assert len(got) == size, (name, len(got), size)
        assert got == pop3_view(text), name
        # byte-stuffing: no line of the raw reply starts with a lone "."
        for line in raw.split(b"\r\n")[:-2]:
            assert not line.startswith(b".") or line.startswith(b".."), (name, line)
    assert c.ok("STAT") == "+OK %d %d" % (len(ODD) + 1, total)
    c.ok("QUIT")
    # poplib agrees
    p = pop(maild)
    for i in range(len(ODD) + 1):
        resp, lines, octets = p.retr(i + 1)
        assert octets == int(listing[i].split()[1])
    p.quit()


def dot_stuff(view):
    """RFC 1939 3 on CRLF text: a '.' before every line starting with '.'."""
    return re.sub(rb"(?m)^\.", b"..", view)


def test_retr_and_top_are_byte_exact_against_pythons_mailbox(maild):
    """Long lines (past the reader's 256 KiB reads), lines of dots, From_
    lines quoted once and twice, a '>' run across a read boundary, binary
    bytes, stored CRLF, and a last message without a final newline: every
    RETR and TOP, on the wire with its byte-stuffing, is exactly what
    Python's mailbox reads from the file (with mboxrd quoting undone, LF
    made CRLF, dots stuffed)."""
    rnd = random.Random(14)
    binary = bytes(b for b in rnd.randbytes(300000) if b != 0x0a)
    texts = [
        b"Subject: dots\n.Odd: header\n\n" + b".\n..\n.hidden\n...three\nend.\n" * 3000,
        b"Subject: from\n\nFrom the start\n>From quoted\n>>From twice\nFromage\n",
        b"Subject: long\n\n" + b"x" * (256 * 1024 - 20) + b"\n" + b">" * 40 + b"From q\n"
        + b"." * 300000 + b"\n.\n",
        b"Subject: binary\n\n" + binary[:150000] + b"\n." + binary[150000:] + b"\n",
        b"Subject: crlf\r\n\r\n.dot\r\nline\r\n",
        b"Subject: many\n\n" + b"".join(b".%d\n" % i for i in range(50000)),
    ]
    data = b"".join(entry(t, n=i) for i, t in enumerate(texts))
    data += b"From x@y " + (DATE % (59, 0)).encode() + b"\nSubject: end\n\n.last line"
    path = put_mbox(maild, "alice", data)
    box = mailbox.mbox(path, create=False)
    msgs = [box.get_bytes(k) for k in box.keys()]
    box.close()
    assert len(msgs) == len(texts) + 1
    c = P3(maild)
    c.login()
    for i, raw in enumerate(msgs):
        view = pop3_view(re.sub(rb"(?m)^>(>*From )", rb"\1", raw))
        first = c.ok("RETR %d" % (i + 1))
        assert first == "+OK %d octets" % len(view), i
        assert c.body()[1] == dot_stuff(view) + b".\r\n", i
        head, _, body = view.partition(b"\r\n\r\n")
        lines = body.split(b"\r\n")[:-1] if body else []
        for n in (0, 1, 7, rnd.randrange(0, len(lines) + 2), len(lines) + 5):
            c.ok("TOP %d %d" % (i + 1, n))
            want = (head + b"\r\n\r\n" + b"".join(l + b"\r\n" for l in lines[:n])
                    if b"\r\n\r\n" in view else view)
            assert c.body()[1] == dot_stuff(want) + b".\r\n", (i, n)
    c.ok("QUIT")


def test_top(maild):
    text = b"Subject: top\nX-H: 1\n\nline 1\n.line 2\nline 3\n"
    put_mbox(maild, "alice", entry(text) + entry(b"Subject: bare\n", n=1))
    c = P3(maild)
    c.login()
    c.ok("TOP 1 0")
    assert c.body()[0] == b"Subject: top\r\nX-H: 1\r\n\r\n"
    c.ok("TOP 1 2")
    assert c.body()[0] == b"Subject: top\r\nX-H: 1\r\n\r\nline 1\r\n.line 2\r\n"
    c.ok("TOP 1 100")
    assert c.body()[0] == pop3_view(text)
    c.ok("TOP 1 99999999999")
    assert c.body()[0] == pop3_view(text)
    # a message without a body separator gets none added
    c.ok("TOP 2 0")
    assert c.body()[0] == b"Subject: bare\r\n"
    p = pop(maild, "bob")           # poplib on another maildrop works too
    p.quit()


# --- UIDL ----------------------------------------------------------------------------

def uidl_map(c):
    _, lines = c.multi("UIDL")
    return dict(l.split() for l in lines)


def test_uidl_stable_across_sessions_deletions_restarts_and_index_loss(make_maild):
    m = make_maild()
    data = b"".join(simple("m%d" % i, "body %d\n" % i, i) for i in range(6))
    # the same message delivered twice in one second: numbered apart
    data += simple("dup", n=50) + simple("dup", n=50)
    put_mbox(m, "alice", data)
    c = P3(m)
    c.login()
    first = uidl_map(c)
    assert len(set(first.values())) == 8
    for u in first.values():
        assert 1 <= len(u) <= 70 and all(0x21 <= ord(ch) <= 0x7e for ch in u)
    assert first["8"] == first["7"] + "-1"
    c.ok("QUIT")
    # again: the same
    c = P3(m)
    c.login()
    assert uidl_map(c) == first
    c.ok("DELE 2")
    c.ok("DELE 5")
    c.ok("QUIT")
    # after deletions the others keep theirs
    c = P3(m)
    c.login()
    after = uidl_map(c)
    assert sorted(after.values()) == sorted(v for k, v in first.items() if k not in ("2", "5"))
    c.ok("QUIT")
    # after a restart, without the index, and with mail another MDA appended
    m.stop()
    for f in os.listdir(m.sb.path("state", "index")):
        os.unlink(m.sb.path("state", "index", f))
    with open(spool(m, "alice"), "ab") as f:
        f.write(simple("foreign", n=59))
    m2 = make_maild(config={"pop3": {"index": False}})
    c = P3(m2)
    c.login()
    again = uidl_map(c)
    assert set(after.values()) <= set(again.values())
    assert len(again) == len(after) + 1


# --- index -----------------------------------------------------------------------------

def test_index_is_made_private_and_a_corrupt_one_is_rebuilt(maild):
    put_mbox(maild, "alice", simple("one") + simple("two", n=1))
    c = P3(maild)
    c.login()
    uidls = uidl_map(c)
    c.ok("QUIT")
    idx = maild.sb.path("state", "index", "alice")
    st = os.stat(idx)
    assert st.st_mode & 0o777 == 0o600 and st.st_size > 0
    assert os.stat(maild.sb.path("state", "index")).st_mode & 0o777 == 0o700
    # garbage in the index: ignored, rebuilt, nothing lost
    with open(idx, "r+b") as f:
        f.seek(40)
        f.write(b"\xff" * 64)
    c = P3(maild)
    assert c.login().startswith("+OK alice has 2 messages")
    assert uidl_map(c) == uidls
    c.ok("QUIT")
    # truncated to nothing: the same
    open(idx, "wb").close()
    c = P3(maild)
    assert c.login().startswith("+OK alice has 2 messages")
    assert uidl_map(c) == uidls


def test_index_follows_appends_and_updates(maild):
    put_mbox(maild, "alice", simple("one") + simple("two", n=1) + simple("three", n=2))
    c = P3(maild)
    c.login()
    c.ok("QUIT")
    with open(spool(maild, "alice"), "ab") as f:
        f.write(simple("four", n=3))
    c = P3(maild)
    assert c.login().startswith("+OK alice has 4 messages")
    c.ok("DELE 4")          # a suffix: truncated
    c.ok("QUIT")
    c = P3(maild)
    assert c.login().startswith("+OK alice has 3 messages")
    c.ok("DELE 1")          # not a suffix: copied and renamed
    c.ok("QUIT")
    c = P3(maild)
    assert c.login().startswith("+OK alice has 2 messages")
    c.ok("RETR 2")
    assert b"Subject: three" in c.body()[0]
    assert subjects(maild, "alice") == ["two", "three"]


# --- deliveries during a session -------------------------------------------------------

def test_delivery_during_session_is_kept_and_arrives_after_quit(make_maild):
    # a long locked_retry: only the monitor's "U alice" can bring it in soon
    m = make_maild(config={"queue": {"locked_retry": "1h"}})
    put_mbox(m, "alice", simple("old1") + simple("old2", n=1))
    c = P3(m)
    c.login()
    assert send(m, "s@example.org", ["alice@example.test"], msg("during"))[0] == 250
    m.wait_log(r"deferred to=<alice@example\.test>.*(in use|is locked)")
    time.sleep(0.5)
    assert subjects(m, "alice") == ["old1", "old2"]
    c.ok("DELE 1")
    c.ok("QUIT")
    t0 = time.monotonic()
    wait_for(lambda: subjects(m, "alice") == ["old2", "during"], 10,
             what="the deferred message after QUIT")
    assert time.monotonic() - t0 < 5


def test_mail_appended_without_locks_during_session_is_kept(maild):
    # an MDA that takes no lock appends while the session is open
    put_mbox(maild, "alice", simple("a") + simple("b", n=1) + simple("c", n=2))
    c = P3(maild)
    c.login()
    with open(spool(maild, "alice"), "ab") as f:
        f.write(simple("late", n=3))
    c.ok("DELE 2")
    c.ok("QUIT")
    assert subjects(maild, "alice") == ["a", "c", "late"]
    # and a suffix deletion with an append in between is not a truncate
    c = P3(maild)
    c.login()
    with open(spool(maild, "alice"), "ab") as f:
        f.write(simple("later", n=4))
    c.ok("DELE 3")
    c.ok("QUIT")
    assert subjects(maild, "alice") == ["a", "c", "later"]


# --- autologout ------------------------------------------------------------------------

def test_autologout_timer_closes_without_update(make_maild):
    """pop3.timeout cannot be set below 10 minutes (RFC 1939 3), so the test
    arms the fault point pop3.short_timeout, which makes it 2 s (see
    pop3_session.c; compiled out with --disable-fault-injection). It fires in
    the first session of each worker process; one worker serves here."""
    m = make_maild(config={"pop3": {"pool": {"min_spare": 1, "max_spare": 1,
                                             "max_workers": 1}}},
                   env={"MAILD_FAULT": "pop3.short_timeout:eio"})
    put_mbox(m, "alice", simple("one") + simple("two", n=1))
    c = P3(m)
    c.login()
    c.ok("DELE 1")
    t0 = time.monotonic()
    line = c.readline()
    assert line == "-ERR autologout timer expired, closing the connection"
    assert 1.5 < time.monotonic() - t0 < 10
    assert c.closed()
    # RFC 1939 3: no UPDATE, the message is still there
    assert subjects(m, "alice") == ["one", "two"]
    m.wait_log(r"autologout: no command for 2 s")
    # the lock went with the session
    c = P3(m)
    assert c.login().startswith("+OK alice has 2 messages")


# --- inetd -------------------------------------------------------------------------------

def run_pop3d(sandbox, args=(), config=None):
    m = Maild(sandbox, config=config)     # only for its config file
    ours, theirs = socket.socketpair()
    p = subprocess.Popen([POP3D, "-i"] + list(args) + ["-c", m.conf], stdin=theirs,
                         stdout=theirs, stderr=theirs, env=sandbox.env())
    theirs.close()
    return p, m, ours


def test_pop3d_inetd_full_session(sandbox):
    p, m, sock = run_pop3d(sandbox)
    put_mbox(m, "alice", simple("one") + simple("two", n=1))
    c = P3(sock=sock)
    c.login()
    c.ok("DELE 1")
    c.ok("QUIT")
    assert c.closed()
    assert p.wait(timeout=10) == 0
    assert subjects(m, "alice") == ["two"]


def test_pop3d_inetd_failed_logins_slow_down_across_sessions(sandbox):
    """Under inetd every session is a new process; the failed logins per
    client address are kept in state_dir/clients so that the growing delay
    still holds. inetd's socket is a real TCP connection on 127.0.0.1 here,
    so the session has a client address."""
    m = Maild(sandbox)     # only for its config file (auth_fail_delay 1 s)
    lsock = socket.create_server(("127.0.0.1", 0))
    took = []

    def attempt(pw):
        cs = socket.create_connection(lsock.getsockname(), timeout=30)
        srv, _ = lsock.accept()
        p = subprocess.Popen([POP3D, "-i", "-c", m.conf], stdin=srv, stdout=srv,
                             stderr=subprocess.DEVNULL, env=sandbox.env())
        srv.close()
        c = P3(sock=cs)
        c.ok("USER alice")
        t0 = time.monotonic()
        c.cmd("PASS " + pw)
        line = c.readline()
        took.append(time.monotonic() - t0)
        c.cmd("QUIT")
        c.readline()
        c.close()
        assert p.wait(timeout=10) == 0
        return line

    try:
        for _ in range(5):
            assert attempt("not-it").startswith("-ERR [AUTH]")
        # 1 s each, then from the fourth failure 1 s more, doubling
        assert all(t >= 0.9 for t in took[:3]), took
        assert took[3] >= 1.9 and took[4] >= 2.9, took
        st = os.stat(m.sb.path("state", "clients"))
        assert st.st_mode & 0o777 == 0o600
        # a good login forgives nothing (else an attacker with an account
        # of their own would log in between guesses): 4 s more now
        assert attempt("alice-pw-1").startswith("+OK")
        assert attempt("not-it").startswith("-ERR [AUTH]")
        assert took[-1] >= 4.9, took
    finally:
        lsock.close()


def test_pop3d_usage_mentions_s():
    r = subprocess.run([POP3D], capture_output=True, text=True)
    assert r.returncode == 2 and "-i [-ds]" in r.stderr
