"""SMTP black-box tests: every command and reply, pipelining, transactions,
dot-stuffing, From_ quoting, big messages, smuggling, relaying, limits."""
import fcntl
import mailbox
import os
import socket
import struct
import tempfile
import time

import pytest

from maildtest import USERS, Client, wait_for

HOST = "mx.example.test"


def mbox_path(m, user):
    return m.sb.path("spool", user)


# struct flock on Linux (x86_64, aarch64): type, whence, start, len, pid
_FLOCK = "hhqqi4x"


def _write_locked(path):
    """Whether another process holds an fcntl lock on path (F_GETLK)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        got = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(_FLOCK, fcntl.F_WRLCK, 0, 0, 0, 0))
        return struct.unpack(_FLOCK, got)[0] != fcntl.F_UNLCK
    finally:
        os.close(fd)


def _settled(path, timeout=10):
    """The maildrop's bytes with no delivery in the middle of an append:
    the deliverer holds an fcntl lock from the first byte to the fsync,
    so bytes read while nobody holds it, from a file whose size and mtime
    did not move meanwhile, are whole messages (as a locking MUA sees)."""
    end = time.monotonic() + timeout
    while True:
        st = os.stat(path)
        if not _write_locked(path):
            with open(path, "rb") as f:
                data = f.read()
            st2 = os.stat(path)
            if (st.st_ino, st.st_size, st.st_mtime_ns) == \
                    (st2.st_ino, st2.st_size, st2.st_mtime_ns) and \
                    len(data) == st.st_size and not _write_locked(path):
                return data
        if time.monotonic() > end:
            raise AssertionError("%s: still being written after %d s" % (path, timeout))
        time.sleep(0.02)


def messages(m, user):
    """The messages in user's maildrop, parsed by Python's mailbox."""
    p = mbox_path(m, user)
    if not os.path.exists(p):
        return []
    data = _settled(p)
    with tempfile.NamedTemporaryFile(dir=m.sb.dir, delete=False) as f:
        f.write(data)
    try:
        box = mailbox.mbox(f.name, create=False)
        out = list(box)
        box.close()
        return out
    finally:
        os.unlink(f.name)


def wait_messages(m, user, n, timeout=15):
    return wait_for(lambda: len(messages(m, user)) == n and messages(m, user),
                    timeout, what="%d message(s) for %s" % (n, user))


def connect(m):
    c = Client(m.smtp_port)
    code, lines = c.smtp_reply()
    assert code == 220 and lines[0].startswith(HOST + " ")
    return c


def ehlo(c, name="client.example.org"):
    c.cmd("EHLO " + name)
    code, lines = c.smtp_reply()
    assert code == 250
    return lines


def start_data(m, rcpt="alice@example.test", sender="s@example.org"):
    """A session that has just been told 354 for one recipient."""
    c = connect(m)
    ehlo(c)
    c.cmd("MAIL FROM:<%s>" % sender)
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<%s>" % rcpt)
    assert c.smtp_reply()[0] == 250
    c.cmd("DATA")
    assert c.smtp_reply()[0] == 354
    return c


def send(m, sender, rcpts, body, c=None):
    """One transaction; returns the final reply (code, text)."""
    own = c is None
    if own:
        c = connect(m)
        ehlo(c)
    c.cmd("MAIL FROM:<%s>" % sender)
    assert c.smtp_reply()[0] == 250
    for r in rcpts:
        c.cmd("RCPT TO:<%s>" % r)
        assert c.smtp_reply()[0] == 250, r
    c.cmd("DATA")
    assert c.smtp_reply()[0] == 354
    c.send(body)
    reply = c.smtp_reply()
    if own:
        c.cmd("QUIT")
        c.smtp_reply()
        c.close()
    return reply


def msg(subject, body="hello\r\n", extra=""):
    return ("From: sender@example.org\r\nTo: alice@example.test\r\n"
            "Subject: %s\r\n%s\r\n%s.\r\n" % (subject, extra, body))


# --- commands and replies ------------------------------------------------------

def test_greeting_ehlo_and_quit(maild):
    c = connect(maild)
    lines = ehlo(c)
    assert lines[0].startswith(HOST)
    for kw in ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8",
               "CHUNKING", "HELP"):
        assert kw in lines, lines
    assert "SIZE 10485760" in lines
    c.cmd("QUIT")
    code, lines = c.smtp_reply()
    assert code == 221 and lines[0].startswith("2.0.0")
    assert c.closed()


def test_helo_gives_plain_smtp(maild):
    c = connect(maild)
    c.cmd("HELO client.example.org")
    assert c.smtp_reply() == (250, [HOST])
    # ESMTP parameters are not allowed after HELO
    c.cmd("MAIL FROM:<a@example.org> SIZE=100")
    assert c.smtp_reply()[0] == 555


@pytest.mark.parametrize("cmd,code,status", [
    ("NOOP", 250, "2.0.0"),
    ("RSET", 250, "2.0.0"),
    ("VRFY alice", 252, "2.5.2"),
    ("EXPN staff", 502, "5.5.1"),
    ("TURN", 502, "5.5.1"),
    ("SOML FROM:<a@b>", 502, "5.5.1"),
    ("SAML FROM:<a@b>", 502, "5.5.1"),
    ("SEND FROM:<a@b>", 502, "5.5.1"),
    ("FOO bar", 500, "5.5.1"),
    ("RCPT TO:<alice@example.test>", 503, "5.5.1"),
    ("DATA", 503, "5.5.1"),
    ("MAIL FROM:alice", 501, None),
    ("MAIL TO:<a@b>", 501, None),
    ("MAIL FROM:<a@b> FOO=1", 555, "5.5.4"),
    ("EHLO", 501, "5.5.4"),
    ("HELO bad name", 501, None),
])
def test_command_replies(maild, cmd, code, status):
    c = connect(maild)
    if not cmd.startswith(("EHLO", "HELO")):
        ehlo(c)
    c.cmd(cmd)
    got, lines = c.smtp_reply()
    assert got == code, (cmd, got, lines)
    if status:
        assert lines[-1].startswith(status + " "), lines


def test_mail_before_helo_is_503(maild):
    c = connect(maild)
    c.cmd("MAIL FROM:<a@example.org>")
    code, lines = c.smtp_reply()
    assert code == 503 and "HELO" in lines[0]


def test_help_is_214(maild):
    c = connect(maild)
    c.cmd("HELP")
    code, lines = c.smtp_reply()
    assert code == 214 and len(lines) >= 2


def test_nested_mail_is_503(maild):
    c = connect(maild)
    ehlo(c)
    c.cmd("MAIL FROM:<a@example.org>")
    assert c.smtp_reply()[0] == 250
    c.cmd("MAIL FROM:<b@example.org>")
    assert c.smtp_reply()[0] == 503


def test_command_line_too_long_is_500(maild):
    c = connect(maild)
    ehlo(c)
    c.cmd("NOOP " + "x" * 5000)
    assert c.smtp_reply()[0] == 500
    c.cmd("NOOP")
    assert c.smtp_reply()[0] == 250


def test_too_many_errors_closes_with_421(maild):
    c = connect(maild)
    for _ in range(10):
        c.cmd("BOGUS")
        assert c.smtp_reply()[0] == 500
    c.cmd("BOGUS")
    code, _ = c.smtp_reply()
    assert code == 500
    assert c.smtp_reply()[0] == 421
    assert c.closed()


# --- delivery ------------------------------------------------------------------

def test_simple_delivery_with_trace_headers(maild):
    code, lines = send(maild, "sender@example.org", ["alice@example.test"],
                       msg("first"))
    assert code == 250 and "queued as" in lines[0]
    qid = lines[0].split()[-1]
    (m,) = wait_messages(maild, "alice", 1)
    assert m["Subject"] == "first"
    assert m["Return-Path"] == "<sender@example.org>"
    rcv = m["Received"]
    assert "from client.example.org" in rcv and "[127.0.0.1]" in rcv
    assert "by %s" % HOST in rcv and "with ESMTP" in rcv
    assert "id %s" % qid in rcv and "for <alice@example.test>" in rcv
    assert m.get_from().startswith("sender@example.org ")
    assert m.get_payload() == "hello\n"
    log = maild.log()
    assert "queued id=%s" % qid in log
    wait_for(lambda: "id=%s: delivered to=<alice@example.test>" % qid in maild.log(),
             what="delivery log line")


def test_several_recipients_and_transactions(maild):
    c = connect(maild)
    ehlo(c)
    assert send(maild, "s@example.org", ["alice@example.test", "bob@example.test",
                                         "ALICE@EXAMPLE.TEST"], msg("one"), c)[0] == 250
    assert send(maild, "s@example.org", ["bob@example.test"], msg("two"), c)[0] == 250
    # RSET drops a transaction in the middle
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<carol@example.test>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RSET")
    assert c.smtp_reply()[0] == 250
    # EHLO again resets too
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    ehlo(c)
    c.cmd("RCPT TO:<carol@example.test>")
    assert c.smtp_reply()[0] == 503
    c.cmd("QUIT")
    c.smtp_reply()
    # alice once (case folded, deduplicated), bob twice, carol never
    wait_messages(maild, "alice", 1)
    subjects = [m["Subject"] for m in wait_messages(maild, "bob", 2)]
    assert subjects == ["one", "two"]
    time.sleep(0.5)
    assert messages(maild, "carol") == []
    # more than one recipient: no "for" clause in Received
    assert " for " not in messages(maild, "bob")[0]["Received"]


def test_postmaster_always_accepted(maild):
    c = connect(maild)
    ehlo(c)
    c.cmd("MAIL FROM:<>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<Postmaster>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<postmaster@EXAMPLE.test>")
    assert c.smtp_reply()[0] == 250


def test_unknown_user_is_550_511(maild):
    c = connect(maild)
    ehlo(c)
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<nosuchuser@example.test>")
    code, lines = c.smtp_reply()
    assert code == 550 and lines[0].startswith("5.1.1")


def test_relay_denied_without_auth(maild):
    c = connect(maild)
    ehlo(c)
    c.cmd("MAIL FROM:<alice@example.test>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<someone@elsewhere.example>")
    code, lines = c.smtp_reply()
    assert code == 554 and lines[0].startswith("5.7.1")
    # with a source route pointing at us: still a foreign final domain
    c.cmd("RCPT TO:<@example.test:someone@elsewhere.example>")
    assert c.smtp_reply()[0] == 554
    # a source route to a local mailbox is accepted and ignored
    c.cmd("RCPT TO:<@relay.example.org:alice@example.test>")
    assert c.smtp_reply()[0] == 250


def test_quoted_local_part_and_null_sender(maild):
    c = connect(maild)
    ehlo(c)
    c.cmd('MAIL FROM:<"john smith"@example.org>')
    assert c.smtp_reply()[0] == 250
    c.cmd("RSET")
    c.smtp_reply()
    code, _ = send(maild, "", ["alice@example.test"], msg("bounce-like"), c)
    assert code == 250
    (m,) = wait_messages(maild, "alice", 1)
    assert m["Return-Path"] == "<>"
    assert m.get_from().startswith("MAILER-DAEMON ")


def test_bare_paths_accepted_by_default(maild):
    # printers, scanners and old scripts: no angle brackets, a space
    # after the colon; the address is the same as with brackets
    c = connect(maild)
    ehlo(c)
    c.cmd("MAIL FROM: scanner@example.org SIZE=100")
    assert c.smtp_reply() == (250, ["2.1.0 Ok"])
    c.cmd("RCPT TO: alice@example.test")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:Bob@Example.Test")
    assert c.smtp_reply()[0] == 250
    c.cmd("DATA")
    assert c.smtp_reply()[0] == 354
    c.send(msg("scan"))
    assert c.smtp_reply()[0] == 250
    (m,) = wait_messages(maild, "alice", 1)
    assert m["Return-Path"] == "<scanner@example.org>"
    assert m.get_from().startswith("scanner@example.org ")
    wait_messages(maild, "bob", 1)
    # HELO sessions too
    c.cmd("HELO printer")
    assert c.smtp_reply()[0] == 250
    c.cmd("MAIL FROM:printer@example.org")
    assert c.smtp_reply()[0] == 250


@pytest.mark.parametrize("line", [
    "MAIL FROM:  a@example.org",              # one space only, as with <>
    "MAIL FROM: a@example.org>",
    "MAIL FROM: a@example.org<b@example.org>",
    'MAIL FROM: "x y"@example.org',
    'MAIL FROM: "a@example.org> SIZE=1 "@example.org',
    "MAIL FROM: a@example.org,b@example.org",
    "MAIL FROM: @relay.example:a@example.org",
    "MAIL FROM: a@example.org\tBODY=8BITMIME",
    "MAIL FROM: alice",
])
def test_bare_paths_never_ambiguous(maild, line):
    # one word that parses whole as a mailbox, or 501: nothing after a
    # space becomes part of the address, nothing of it a parameter
    c = connect(maild)
    ehlo(c)
    c.cmd(line)
    code, lines = c.smtp_reply()
    assert code == 501 and lines[0].startswith("5.1.7"), (line, lines)
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO: alice@example.test>")
    code, lines = c.smtp_reply()
    assert code == 501 and lines[0].startswith("5.1.3"), lines
    c.cmd("RCPT TO: alice@example.test XYZZY=1")
    assert c.smtp_reply()[0] == 555          # an unknown parameter, not the path


def test_bare_paths_refused_when_strict(make_maild):
    m = make_maild(config={"smtp": {"strict_rfc5321_paths": True}})
    c = connect(m)
    ehlo(c)
    c.cmd("MAIL FROM: s@example.org")
    code, lines = c.smtp_reply()
    assert code == 501 and lines[0].startswith("5.1.7")
    c.cmd("MAIL FROM: <s@example.org>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:alice@example.test")
    code, lines = c.smtp_reply()
    assert code == 501 and lines[0].startswith("5.1.3")


def test_size_limit_552(make_maild):
    m = make_maild(config={"smtp": {"message_size_limit": 2000}})
    c = connect(m)
    lines = ehlo(c)
    assert "SIZE 2000" in lines
    c.cmd("MAIL FROM:<s@example.org> SIZE=5000")
    code, lines = c.smtp_reply()
    assert code == 552 and lines[0].startswith("5.3.4")
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<alice@example.test>")
    assert c.smtp_reply()[0] == 250
    c.cmd("DATA")
    assert c.smtp_reply()[0] == 354
    c.send("Subject: big\r\n\r\n" + ("x" * 70 + "\r\n") * 60 + ".\r\n")
    code, lines = c.smtp_reply()
    assert code == 552 and lines[0].startswith("5.3.4")
    # the session goes on
    c.cmd("NOOP")
    assert c.smtp_reply()[0] == 250
    time.sleep(0.5)
    assert messages(m, "alice") == []


def test_max_recipients_452(maild):
    # max_recipients is 100, the RFC 5321 4.5.3.1.8 minimum (and default)
    c = connect(maild)
    ehlo(c)
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    batch = "".join("RCPT TO:<alice@example.test>\r\n" for _ in range(101))
    c.send(batch)
    codes = [c.smtp_reply()[0] for _ in range(101)]
    assert codes[:100] == [250] * 100
    assert codes[100] == 452


# --- data: stuffing, quoting, size, smuggling ----------------------------------

def test_dot_stuffing_and_from_quoting(maild):
    body = ("..leading dot\r\n"
            "From x is quoted\r\n"
            ">From y gets one more\r\n"
            "...\r\n"
            "last line\r\n")
    assert send(maild, "s@example.org", ["alice@example.test"],
                msg("stuffing", body))[0] == 250
    send(maild, "s@example.org", ["alice@example.test"], msg("second"))
    ms = wait_messages(maild, "alice", 2)
    assert [m["Subject"] for m in ms] == ["stuffing", "second"]
    raw = open(mbox_path(maild, "alice"), "rb").read()
    assert b"\n>From x is quoted\n" in raw
    assert b"\n>>From y gets one more\n" in raw
    assert b"\n.leading dot\n" in raw and b"\n..\n" in raw
    assert ms[0].get_payload() == (".leading dot\n>From x is quoted\n"
                                   ">>From y gets one more\n..\nlast line\n")


def test_five_megabyte_message_byte_exact(maild):
    lines = []
    for i in range(70000):
        lines.append("line %06d %s" % (i, "abcdefghijklmnopqrstuvwxyz0123456789" * 2))
    body = "\r\n".join(lines) + "\r\n"
    assert len(body) > 5 * 1024 * 1024
    code, _ = send(maild, "s@example.org", ["bob@example.test"], msg("5MB", body))
    assert code == 250
    (m,) = wait_messages(maild, "bob", 1, timeout=30)
    assert m.get_payload() == body.replace("\r\n", "\n")


def test_pipelined_batch_in_one_packet(maild):
    c = connect(maild)
    ehlo(c)
    batch = ("MAIL FROM:<s@example.org>\r\n"
             "RCPT TO:<alice@example.test>\r\n"
             "RCPT TO:<nosuch@example.test>\r\n"
             "RCPT TO:<bob@example.test>\r\n"
             "DATA\r\n")
    c.send(batch)
    # the four replies before 354 come together, in order
    time.sleep(0.3)
    first = c.sock.recv(65536).decode()
    codes = [l[:3] for l in first.split("\r\n") if l]
    assert codes == ["250", "250", "550", "250", "354"], first
    c.send("Subject: piped\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    assert c.smtp_reply()[0] == 250
    assert c.smtp_reply()[0] == 221
    wait_messages(maild, "alice", 1)
    wait_messages(maild, "bob", 1)


# The 2023 "SMTP smuggling" family: bare LF or CR around the dot must never
# end the message; whatever follows stays inside the one message.
SMUGGLE = [
    "\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r\n.\r", "\r.\r\n", "\n.\r",
]


@pytest.mark.parametrize("sep", SMUGGLE)
def test_smuggling_normalized(maild, sep):
    c = start_data(maild)
    c.send("Subject: outer\r\n\r\nbefore" + sep +
           "MAIL FROM:<evil@example.org>\r\nRCPT TO:<bob@example.test>\r\n"
           "DATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")
    code, lines = c.smtp_reply()
    assert code == 250
    c.cmd("QUIT")
    assert c.smtp_reply()[0] == 221
    (m,) = wait_messages(maild, "alice", 1)
    assert m["Subject"] == "outer"
    assert "MAIL FROM:<evil@example.org>" in m.get_payload()
    time.sleep(0.5)
    assert messages(maild, "bob") == []


@pytest.mark.parametrize("sep", SMUGGLE[:3])
def test_smuggling_rejected_in_reject_mode(make_maild, sep):
    m = make_maild(config={"smtp": {"bare_newlines": "reject"}})
    c = start_data(m)
    c.send("Subject: outer\r\n\r\nbefore" + sep +
           "MAIL FROM:<evil@example.org>\r\nRCPT TO:<bob@example.test>\r\n"
           "DATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")
    code, lines = c.smtp_reply()
    assert code == 554 and lines[0].startswith("5.6.0")
    c.cmd("NOOP")
    assert c.smtp_reply()[0] == 250
    time.sleep(0.5)
    assert messages(m, "alice") == [] and messages(m, "bob") == []


def test_long_line_refused_with_the_strict_rfc_limit(make_maild):
    m = make_maild(config={"smtp": {"max_line_length": 1000}})
    code, lines = send(m, "s@example.org", ["alice@example.test"],
                       msg("long", "y" * 1200 + "\r\n"))
    assert code == 554 and lines[0].startswith("5.6.0")
    # 998 octets and CRLF are within it
    assert send(m, "s@example.org", ["alice@example.test"],
                msg("fits", "y" * 998 + "\r\n"))[0] == 250


def _pop3_retr(m, user, n):
    """RETR n for user over a raw POP3 session: the message as sent, CRLF
    line ends, dot-stuffing undone."""
    c = Client(m.pop3_port)
    try:
        assert c.readline().startswith("+OK")
        for line in ("USER " + user, "PASS " + USERS[user]):
            c.cmd(line)
            assert c.readline().startswith("+OK"), line
        c.cmd("RETR %d" % n)
        assert c.readline().startswith("+OK")
        while b"\r\n.\r\n" not in c.buf:
            d = c.sock.recv(1 << 16)
            assert d, "connection closed in RETR"
            c.buf += d
        raw = c.buf[:c.buf.index(b"\r\n.\r\n") + 2]
        c.cmd("QUIT")
        return b"".join(x[1:] if x.startswith(b".") else x
                        for x in raw.splitlines(keepends=True))
    finally:
        c.close()


def test_long_lines_kept_byte_exact_through_mbox_and_pop3(maild):
    # by default lines past RFC 5321's 1000 octets are taken (HTML
    # newsletters, generated reports) and come back byte for byte; the
    # longest is several times the line reader's buffer
    rng = "".join(chr(33 + (i * 7) % 94) for i in range(5000))
    five_k = rng.replace(".", "-")
    assert len(five_k) == 5000
    dotted = "." + "d" * 4999
    huge = ("0123456789abcdef" * 12500)          # 200,000 octets
    body = "short\r\n%s\r\n.%s\r\n%s\r\nend\r\n" % (five_k, dotted, huge)
    code, lines = send(maild, "s@example.org", ["alice@example.test"],
                       msg("long lines", body))
    assert code == 250, lines
    (got,) = wait_messages(maild, "alice", 1)
    want = "short\n%s\n%s\n%s\nend\n" % (five_k, dotted, huge)
    assert got.get_payload() == want
    raw = open(mbox_path(maild, "alice"), "rb").read()
    assert ("\n%s\n" % five_k).encode() in raw
    text = _pop3_retr(maild, "alice", 1)
    assert text.endswith(want.replace("\n", "\r\n").encode())
    assert b"\r\nSubject: long lines\r\n" in text


def test_bdat_chunking(maild):
    c = connect(maild)
    ehlo(c)
    c.cmd("MAIL FROM:<s@example.org>")
    c.smtp_reply()
    c.cmd("RCPT TO:<alice@example.test>")
    c.smtp_reply()
    part1 = b"Subject: chunked\r\n\r\nfirst line\r"
    part2 = b"\nsecond line\r\n.not stuffed\r\n"
    c.send(b"BDAT %d\r\n" % len(part1) + part1)
    code, lines = c.smtp_reply()
    assert code == 250
    c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    code, lines = c.smtp_reply()
    assert code == 250 and "queued as" in lines[0]
    (m,) = wait_messages(maild, "alice", 1)
    assert m.get_payload() == "first line\nsecond line\n.not stuffed\n"


# A refused BDAT's chunk is data all the same (RFC 3030 2): its octets are
# read and thrown away, never run as commands, whatever the refusal.
SMUGGLED = (b"RSET\r\nMAIL FROM:<ceo@example.org>\r\nRCPT TO:<bob@example.test>\r\n"
            b"DATA\r\nSubject: injected\r\n\r\nsmuggled by the BDAT chunk\r\n.\r\n")


def queued_nothing(m):
    for d in ("incoming", "active", "deferred"):
        assert os.listdir(m.sb.path("queue", d)) == [], d
    assert messages(m, "bob") == []


@pytest.mark.parametrize("greet,prefix,codes,refusal", [
    # before HELO/EHLO
    ("", [], [], 503),
    # before MAIL
    ("EHLO", [], [], 503),
    # after MAIL, no RCPT
    ("EHLO", ["MAIL FROM:<attacker@evil.example>"], [250], 503),
    # every recipient refused (the audit's reproduction)
    ("EHLO", ["MAIL FROM:<attacker@evil.example>", "RCPT TO:<nosuchuser@localhost>"],
     [250, 550], 503),
    # after a refused message (a NUL octet: 554 5.6.0)
    ("EHLO", ["MAIL FROM:<a@example.org>", "RCPT TO:<alice@example.test>",
              "DATA\r\ny\0y\r\n."], [250, 250, 354, 554], 503),
    # a HELO session: no CHUNKING, BDAT is not a command
    ("HELO", ["MAIL FROM:<a@example.org>", "RCPT TO:<alice@example.test>"],
     [250, 250], 500),
], ids=["greeted", "ready", "mail", "rcpt-refused", "after-554", "helo"])
def test_refused_bdat_chunk_is_not_executed(maild, greet, prefix, codes, refusal):
    c = connect(maild)
    batch = b""
    if greet:
        batch += greet.encode() + b" relay.example\r\n"
    for line in prefix:
        batch += line.encode() + b"\r\n"
    batch += b"BDAT %d LAST\r\n" % len(SMUGGLED) + SMUGGLED + b"QUIT\r\n"
    c.send(batch)       # all at once, as a pipelining relay would
    if greet:
        assert c.smtp_reply()[0] == 250
    got = [c.smtp_reply()[0] for _ in codes]
    assert got == codes
    code, lines = c.smtp_reply()
    assert code == refusal, lines
    # the next reply is QUIT's: nothing of the chunk ran
    assert c.smtp_reply()[0] == 221
    assert c.closed()
    time.sleep(0.5)
    queued_nothing(maild)


def test_bdat_chunk_discarded_when_chunking_is_off(make_maild):
    m = make_maild(config={"smtp": {"chunking": False}})
    c = connect(m)
    assert "CHUNKING" not in ehlo(c)
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.test>\r\n"
           b"BDAT %d LAST\r\n" % len(SMUGGLED) + SMUGGLED + b"NOOP\r\nQUIT\r\n")
    assert [c.smtp_reply()[0] for _ in range(5)] == [250, 250, 500, 250, 221]
    time.sleep(0.5)
    queued_nothing(m)
    assert messages(m, "alice") == []


@pytest.mark.parametrize("line,code", [
    (b"BDAT 10\x01 LAST", 500),        # a control character: not a command line
    (b"BDAT\t10 LAST", 500),           # not "verb SP args"
    (b"BDAT 10 LAST" + b" " * 3000 + b"x", 500),    # longer than a command line
    (b"BDAT ten LAST", 501),
], ids=["control", "tab", "long", "size"])
def test_malformed_bdat_closes_the_session(maild, line, code):
    # where the chunk ends cannot be known: nothing after it is read
    c = connect(maild)
    ehlo(c)
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.test>\r\n" +
           line + b"\r\n" + SMUGGLED + b"QUIT\r\n")
    assert [c.smtp_reply()[0] for _ in range(3)] == [250, 250, code]
    assert c.closed()
    time.sleep(0.5)
    queued_nothing(maild)
    assert messages(maild, "alice") == []


def bdat_session(m):
    c = connect(m)
    ehlo(c)
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<alice@example.test>")
    assert c.smtp_reply()[0] == 250
    return c


def test_bdat_timeout_is_per_piece_not_per_chunk(make_maild):
    # a client that keeps sending is not cut off by one deadline for the
    # whole chunk: 8000 octets over about 3.2 s, with a 2 s data timeout
    m = make_maild(config={"smtp": {"timeout_data": 2}})
    c = bdat_session(m)
    body = b"Subject: slow\r\n\r\n" + b"".join(b"%04d " % i + b"z" * 73 + b"\r\n"
                                             for i in range(101))
    body = body[:8000 - 2] + b"\r\n"
    c.send(b"BDAT %d LAST\r\n" % len(body))
    t0 = time.monotonic()
    for i in range(0, len(body), 800):
        time.sleep(0.4)
        c.send(body[i:i + 800])
    assert time.monotonic() - t0 > 3
    code, lines = c.smtp_reply()
    assert code == 250 and "queued as" in lines[0], lines
    (msg_,) = wait_messages(m, "alice", 1)
    assert msg_["Subject"] == "slow"


def test_bdat_stalled_chunk_times_out(make_maild):
    m = make_maild(config={"smtp": {"timeout_data": 2}})
    c = bdat_session(m)
    c.send(b"BDAT 5000 LAST\r\nSubject: stalled\r\n\r\nsome of it")
    t0 = time.monotonic()
    code, lines = c.smtp_reply()
    took = time.monotonic() - t0
    assert code == 421 and lines[0].startswith("4.4.2"), lines
    assert 1.5 < took < 5, took
    assert c.closed()
    time.sleep(0.5)
    assert os.listdir(m.sb.path("queue", "active")) == []
    assert os.listdir(m.sb.path("queue", "incoming")) == []


def test_client_disconnect_mid_data_delivers_nothing(maild):
    c = start_data(maild)
    c.send("Subject: partial\r\n\r\nhalf a message\r\n")
    c.close()
    time.sleep(1.0)
    assert messages(maild, "alice") == []
    assert os.listdir(maild.sb.path("queue", "incoming")) == []
    assert os.listdir(maild.sb.path("queue", "active")) == []


# --- VRFY/EXPN when enabled, SMTPUTF8, the per-address connection limit ------

def test_vrfy_and_expn_when_enabled(make_maild, sandbox):
    aliases = sandbox.path("aliases")
    with open(aliases, "w") as f:
        f.write("# test aliases\nstaff: alice, bob\nsupport: staff, carol\n"
                "friends: alice,\n  outside@elsewhere.example\n")
    m = make_maild(config={"aliases": aliases, "smtp": {"vrfy": True, "expn": True}})
    c = connect(m)
    ehlo(c)
    c.cmd("VRFY alice")
    assert c.smtp_reply() == (250, ["2.1.5 <alice@example.test>"])
    c.cmd("VRFY <nosuch@example.test>")
    code, lines = c.smtp_reply()
    assert code == 550 and lines[0].startswith("5.1.1")
    c.cmd("EXPN support")
    code, lines = c.smtp_reply()
    assert code == 250
    assert sorted(lines) == ["2.1.5 <alice>", "2.1.5 <bob>", "2.1.5 <carol>"]
    c.cmd("EXPN friends")
    code, lines = c.smtp_reply()
    assert sorted(lines) == ["2.1.5 <alice>", "2.1.5 <outside@elsewhere.example>"]
    # VRFY says nothing about other domains (no relay probing)
    c.cmd("VRFY <someone@elsewhere.example>")
    code, lines = c.smtp_reply()
    assert code == 550 and lines[0].startswith("5.7.1")


def _domain(n):
    """A syntactically good domain of exactly n octets (labels of <= 63)."""
    labels, left = [], n
    while left > 64:
        labels.append("d" * 62)
        left -= 63
    labels.append("e" * left)
    return ".".join(labels)


def test_vrfy_and_expn_bound_the_address(make_maild):
    m = make_maild(config={"smtp": {"vrfy": True, "expn": True}})
    c = connect(m)
    ehlo(c)
    at_limit = "alice@" + _domain(254 - 6)     # 254 octets: a whole path
    assert len(at_limit) == 254
    for verb in ("VRFY", "EXPN"):
        # long but within a path's length: looked up (not ours: 5.7.1)
        c.cmd("%s <%s>" % (verb, at_limit))
        code, lines = c.smtp_reply()
        assert code == 550 and lines[0].startswith("5.7.1"), lines
        # one octet more, or a bare local part that does not leave room
        # for "@example.test": refused as such, not cut down and parsed
        for arg in ("<x%s>" % at_limit, "a" * 250):
            c.cmd("%s %s" % (verb, arg))
            assert c.smtp_reply() == (501, ["5.5.4 address too long"]), arg


def test_vrfy_and_expn_of_a_partly_failing_alias(make_maild, sandbox):
    aliases = sandbox.path("aliases")
    with open(aliases, "w") as f:
        f.write("team: alice, nosuchuser_zz\nstaff: alice, bob\n")
    m = make_maild(config={"aliases": aliases, "smtp": {"vrfy": True, "expn": True}})
    c = connect(m)
    ehlo(c)
    for verb in ("EXPN", "VRFY", "EXPN"):
        c.cmd("%s team" % verb)
        code, lines = c.smtp_reply()
        assert code == 550 and lines[0].startswith("5.1.1"), lines
    # the monitor goes on, and lists only what a later lookup finds
    c.cmd("EXPN staff")
    code, lines = c.smtp_reply()
    assert code == 250 and sorted(lines) == ["2.1.5 <alice>", "2.1.5 <bob>"]
    assert "killed by signal" not in m.log()


def test_aliases_deliver_to_members(make_maild, sandbox):
    aliases = sandbox.path("aliases")
    with open(aliases, "w") as f:
        f.write("staff: alice, bob\n")
    m = make_maild(config={"aliases": aliases})
    assert send(m, "s@example.org", ["staff@example.test"], msg("to staff"))[0] == 250
    assert wait_messages(m, "alice", 1)[0]["Subject"] == "to staff"
    assert wait_messages(m, "bob", 1)[0]["Subject"] == "to staff"


def test_smtputf8(maild):
    c = connect(maild)
    ehlo(c)
    # a non-ASCII sender needs the SMTPUTF8 parameter (RFC 6531)
    c.send("MAIL FROM:<jos\u00e9@example.org>\r\n".encode())
    code, lines = c.smtp_reply()
    assert code == 553 and lines[0].startswith("5.6.7")
    c.send("MAIL FROM:<jos\u00e9@example.org> SMTPUTF8\r\n".encode())
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<alice@example.test>")
    assert c.smtp_reply()[0] == 250
    c.cmd("DATA")
    assert c.smtp_reply()[0] == 354
    c.send("Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\ncaf\u00e9\r\n.\r\n".encode())
    assert c.smtp_reply()[0] == 250
    (m,) = wait_messages(maild, "alice", 1)
    raw = open(mbox_path(maild, "alice"), "rb").read()
    assert "caf\u00e9".encode() in raw
    assert b"with UTF8SMTP" in raw
    # the trace headers keep to ASCII: the sender's UTF-8 becomes "?"
    assert b"Return-Path: <jos" in raw


def test_connections_per_client_address_limited(make_maild):
    m = make_maild(config={"smtp": {"max_connections_per_ip": 2},
                           "limit_loopback": True})
    a, b = connect(m), connect(m)
    c = Client(m.smtp_port)
    code, lines = c.smtp_reply()
    assert code == 421 and lines[0].startswith("4.7.0")
    assert c.closed()
    a.cmd("QUIT")
    a.smtp_reply()
    # the slot comes back once a session ends
    wait_for(lambda: Client(m.smtp_port).smtp_reply()[0] == 220, what="slot freed")
    b.close()
