"""Content filters over the milter protocol (smtpd/milter.c): a filter of
our own (miltertest.py) drives every stage and action and misbehaves on
demand; the real ones from Debian (OpenDKIM, spamass-milter) sign, verify
and judge mail on loopback."""
import base64
import os
import poplib
import re
import shutil
import socket
import subprocess
import time

import pytest

from maildtest import USERS, Client, wait_for
from miltertest import (ACCEPT, CONTINUE, DISCARD, PROGRESS, REJECT, SKIP,
                        TEMPFAIL, FakeMilter, addheader, chgheader,
                        insheader, pkt, replbody, replycode, z)
from test_smtp import connect, ehlo, messages, msg, wait_messages


@pytest.fixture
def milters():
    made = []

    def make(**kw):
        t = FakeMilter(**kw)
        made.append(t)
        return t
    yield make
    for t in made:
        t.stop()


def filtered(make_maild, *ms, action="tempfail", timeout=2, extra=None):
    smtp = {"milters": [m if isinstance(m, str) else m.addr for m in ms],
            "milter_default_action": action, "milter_timeout": timeout,
            "milter_connect_timeout": 2}
    smtp.update(extra or {})
    return make_maild(config={"smtp": smtp})


def transaction(m, body, rcpts=("alice@example.test",), sender="s@example.org",
                timeout=10):
    """One transaction; returns the replies to MAIL, each RCPT and the end."""
    c = Client(m.smtp_port, timeout=timeout)
    assert c.smtp_reply()[0] == 220
    ehlo(c)
    out = []
    c.cmd("MAIL FROM:<%s>" % sender)
    out.append(c.smtp_reply())
    if out[-1][0] != 250:
        return out
    ok = 0
    for r in rcpts:
        c.cmd("RCPT TO:<%s>" % r)
        out.append(c.smtp_reply())
        ok += out[-1][0] == 250
    if not ok:
        return out
    c.cmd("DATA")
    code = c.smtp_reply()
    out.append(code)
    if code[0] != 354:
        return out
    c.send(body)
    out.append(c.smtp_reply())
    c.cmd("QUIT")
    return out


def final(out):
    code, lines = out[-1]
    return code, " ".join(lines)


# --- stages, macros, the plain path -------------------------------------------

def test_milter_sees_every_stage_with_its_macros(make_maild, milters):
    t = milters()
    m = filtered(make_maild, t)
    out = transaction(m, msg("stages", extra="X-One: 1\r\n"))
    code, text = final(out)
    assert code == 250, out
    qid = re.search(r"queued as (\S+)", text).group(1)
    wait_messages(m, "alice", 1)
    cmds = "".join(c for c in t.cmds() if c != "D")
    assert cmds.startswith("OCHMRTLLLLNBE"), cmds
    assert t.macros["j"] == "mx.example.test"
    assert t.macros["{daemon_name}"] == "maild"
    assert t.macros["{client_addr}"] == "127.0.0.1"
    assert int(t.macros["{client_port}"]) > 0
    assert t.macros["{if_addr}"] == "127.0.0.1"
    assert t.macros["{mail_addr}"] == "s@example.org"
    assert t.macros["{rcpt_addr}"] == "alice@example.test"
    assert t.macros["i"] == qid
    assert t.data_of("H")[0] == b"client.example.org\0"
    assert t.data_of("M")[0] == b"<s@example.org>\0"
    assert t.data_of("R")[0] == b"<alice@example.test>\0"
    assert b"Subject\0stages\0" in t.data_of("L")
    assert t.data_of("B")[0] == b"hello\r\n"


def test_without_milters_nothing_changes(maild):
    out = transaction(maild, msg("plain"))
    assert final(out)[0] == 250
    wait_messages(maild, "alice", 1)
    assert "milter" not in maild.log()


# --- actions ---------------------------------------------------------------------

def test_milter_header_edits(make_maild, milters):
    t = milters(replies={"E": [
        addheader("X-Added", "added value"),
        insheader(0, "X-First", "on top"),
        chgheader(1, "Subject", "changed"),
        chgheader(1, "X-Gone", ""),
        chgheader(2, "X-Two", "second changed"),
        addheader("X-Folded", "line one\r\n\tline two"),
    ]})
    m = filtered(make_maild, t)
    body = msg("orig", extra="X-Gone: bye\r\nX-Two: a\r\nX-Two: b\r\n")
    assert final(transaction(m, body))[0] == 250
    got = wait_messages(m, "alice", 1)[0]
    assert got["Subject"] == "changed"
    assert got["X-Added"] == "added value"
    assert got.get_all("X-Two") == ["a", "second changed"]
    assert "X-Gone" not in got
    keys = list(got.keys())
    # at the top of the message (below the trace headers maild adds)
    assert keys.index("X-First") < keys.index("From") < keys.index("X-Added")
    raw = got.as_bytes()
    assert b"X-Folded: line one\n\tline two\n" in raw
    assert got.get_payload() == "hello\n"


def test_milter_replaces_the_body(make_maild, milters):
    t = milters(replies={"E": [replbody(b"new body\r\nsecond"),
                               replbody(b" line\r\n")]})
    m = filtered(make_maild, t)
    assert final(transaction(m, msg("body", body="old\r\n")))[0] == 250
    got = wait_messages(m, "alice", 1)[0]
    assert got.get_payload() == "new body\nsecond line\n"
    assert got["Subject"] == "body"


@pytest.mark.parametrize("stage,reply,code,text", [
    ("M", REJECT, 550, "5.7.1"),
    ("M", TEMPFAIL, 451, "4.7.1"),
    ("R", REJECT, 550, "5.7.1 <alice@example.test>"),
    ("R", replycode("553 5.7.1 go away"), 553, "5.7.1 <alice@example.test>: go away"),
    ("T", REJECT, 550, "5.7.1"),
    ("L", replycode("554 5.7.0 header rejected"), 554, "5.7.0 header rejected"),
    ("N", TEMPFAIL, 451, "4.7.1"),
    ("B", REJECT, 550, "5.7.1"),
    ("E", replycode("550 5.7.1 spam detected"), 550, "5.7.1 spam detected"),
    ("E", replycode("451 4.7.1 greylisted"), 451, "4.7.1 greylisted"),
])
def test_milter_refusals_reach_the_client(make_maild, milters, stage, reply,
                                          code, text):
    t = milters(replies={stage: [reply]})
    m = filtered(make_maild, t)
    out = transaction(m, msg("refused"))
    got = [c for c, _ in out]
    assert code in got, out
    line = " ".join(out[got.index(code)][1])
    assert text in line, line
    assert messages(m, "alice") == []
    assert "bounce" not in m.log().lower()


def test_milter_shutdown_closes_the_session(make_maild, milters):
    t = milters(replies={"R": [replycode("421 4.7.0 going down")]})
    m = filtered(make_maild, t)
    c = connect(m)
    ehlo(c)
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<alice@example.test>")
    code, lines = c.smtp_reply()
    assert code == 421 and "going down" in lines[0]
    assert c.closed()


def test_milter_sees_a_bdat_message(make_maild, milters):
    t = milters(replies={"E": [addheader("X-Bdat", "seen")]})
    m = filtered(make_maild, t)
    c = connect(m)
    ehlo(c)
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<alice@example.test>")
    assert c.smtp_reply()[0] == 250
    part1 = "Subject: chunks\r\n\r\nfirst "
    part2 = "second\r\n"
    c.send("BDAT %d\r\n%s" % (len(part1), part1))
    assert c.smtp_reply()[0] == 250
    c.send("BDAT %d LAST\r\n%s" % (len(part2), part2))
    assert c.smtp_reply()[0] == 250
    got = wait_messages(m, "alice", 1)[0]
    assert got["X-Bdat"] == "seen"
    assert got.get_payload() == "first second\n"
    assert b"".join(t.data_of("B")) == b"first second\r\n"


def test_milter_refusal_at_connect_refuses_mail(make_maild, milters):
    t = milters(replies={"C": [replycode("554 5.7.1 not you")]})
    m = filtered(make_maild, t)
    out = transaction(m, msg("x"))
    assert out[0][0] == 554 and "not you" in " ".join(out[0][1])


@pytest.mark.parametrize("text", ["250 2.0.0 fine", "550 4.7.1 mixed",
                                  "55 short", "550 5.7.1 ctl\x01char"])
def test_milter_reply_code_must_be_an_error(make_maild, milters, text):
    # a 2xx "reply code", an enhanced status of the wrong class, ...: broken
    t = milters(replies={"E": [replycode(text)]})
    m = filtered(make_maild, t)
    assert final(transaction(m, msg("x")))[0] == 451
    m.wait_log(r"milter inet:127.0.0.1:\d+: bad reply code; default action tempfail")


def test_milter_discard_accepts_and_drops(make_maild, milters):
    t = milters(replies={"E": [DISCARD]})
    m = filtered(make_maild, t)
    code, text = final(transaction(m, msg("dropped")))
    assert code == 250
    m.wait_log(r"discarded by milter")
    time.sleep(0.5)
    assert messages(m, "alice") == []
    assert os.listdir(m.sb.path("queue", "active")) == []


def test_milter_discard_at_rcpt_drops_the_message(make_maild, milters):
    t = milters(replies={"R": [DISCARD]})
    m = filtered(make_maild, t)
    assert final(transaction(m, msg("dropped")))[0] == 250
    m.wait_log(r"discarded by milter")
    time.sleep(0.5)
    assert messages(m, "alice") == []


def test_submission_milters_replace_milters_with_auth_macros(make_maild, milters):
    mx, sub = milters(), milters()
    sub_port = free_tcp_port()
    m = make_maild(config={"smtp": {
        "submission_listen": ["127.0.0.1:%d" % sub_port],
        "allow_plaintext_auth": True, "milters": [mx.addr],
        "submission_milters": [sub.addr],
        "milter_macro_daemon_name": "maild-sub"}})
    assert submit(m, sub_port, msg("sub"))[0] == 250
    assert "E" in sub.cmds() and "C" not in mx.cmds()
    assert sub.macros["{auth_authen}"] == "alice"
    assert sub.macros["{auth_type}"] == "PLAIN"
    assert sub.macros["{daemon_name}"] == "maild-sub"
    assert final(transaction(m, msg("mx")))[0] == 250
    assert "E" in mx.cmds()
    assert "{auth_authen}" not in mx.macros


def test_sendmail_submissions_go_through_submission_milters(make_maild, milters):
    """What local programs send (sendmail(1), submit.socket) is users'
    mail: submission_milters sign it, as they do the submission port's."""
    from test_sendmail import run as sendmail
    mx, sub = milters(), milters(replies={"E": [addheader("X-Signed", "yes"),
                                               ACCEPT]})
    m = make_maild(config={"smtp": {"milters": [mx.addr],
                                    "submission_milters": [sub.addr]}})
    r = sendmail(m, ["alice@example.test"], b"Subject: local\n\nfrom cron\n")
    assert r.returncode == 0, r.stderr
    (got,) = wait_messages(m, "alice", 1)
    assert got["X-Signed"] == "yes"
    assert "E" in sub.cmds() and "C" not in mx.cmds()


def test_milter_gets_the_tls_macros(make_maild, milters, sandbox):
    from tlstest import client_context, tls_config
    t = milters()
    ports, cfg = tls_config(sandbox)
    cfg["smtp"]["milters"] = [t.addr]
    m = make_maild(config=cfg)
    raw = socket.create_connection(("127.0.0.1", ports["smtps"]), 10)
    ctx = client_context(cfg["tls"]["certificate"])
    c = Client(0, sock=ctx.wrap_socket(raw, server_hostname="localhost"))
    assert c.smtp_reply()[0] == 220
    ehlo(c)
    wait_for(lambda: "{tls_version}" in t.macros, 5, what="TLS macros")
    assert t.macros["{tls_version}"].startswith("TLSv1.")
    assert t.macros["{cipher}"]
    c.cmd("QUIT")


def test_milter_changes_the_envelope(make_maild, milters):
    t = milters(replies={"E": [pkt(b"e", z("<new@example.org>")),
                               pkt(b"+", z("<bob@example.test>")),
                               pkt(b"2", z("<carol@example.test>", "")),
                               pkt(b"-", z("<alice@example.test>"))]})
    m = filtered(make_maild, t)
    code, text = final(transaction(m, msg("env")))
    assert code == 250
    qid = re.search(r"queued as (\S+)", text).group(1)
    got = wait_messages(m, "bob", 1)[0]
    assert got.get_from().startswith("new@example.org ")
    assert "id %s" % qid in " ".join(got["Received"].split())
    wait_messages(m, "carol", 1)
    time.sleep(0.3)
    assert messages(m, "alice") == []
    m.wait_log(r"milter changed the envelope")


def test_milter_added_recipient_passes_the_rcpt_checks(make_maild, milters):
    # port 25, no AUTH: a remote recipient would be relaying: refused
    t = milters(replies={"E": [pkt(b"+", z("<x@elsewhere.example>")),
                               pkt(b"+", z("<nosuchuser@example.test>"))]})
    m = filtered(make_maild, t)
    assert final(transaction(m, msg("relay")))[0] == 250
    wait_messages(m, "alice", 1)
    m.wait_log(r"recipient <x@elsewhere.example> refused")
    m.wait_log(r"recipient <nosuchuser@example.test> refused")


def test_milter_quarantine_holds_the_message(make_maild, milters):
    t = milters(replies={"E": [pkt(b"q", z("looks bad"))]})
    m = filtered(make_maild, t)
    code, text = final(transaction(m, msg("held")))
    assert code == 250
    qid = re.search(r"queued as (\S+)", text).group(1)
    wait_for(lambda: qid in os.listdir(m.sb.path("queue", "hold")), 5,
             what="held file")
    m.wait_log(r"quarantined by milter: looks bad")
    time.sleep(0.5)
    assert messages(m, "alice") == []


def test_milter_accept_skips_the_rest(make_maild, milters):
    t = milters(replies={"M": [ACCEPT]})
    m = filtered(make_maild, t)
    assert final(transaction(m, msg("acc")))[0] == 250
    wait_messages(m, "alice", 1)
    assert "E" not in t.cmds() and "R" not in t.cmds()


def test_milter_skip_stops_the_body(make_maild, milters):
    t = milters(replies={"B": [SKIP]})
    m = filtered(make_maild, t)
    body = "x" * 900 + "\r\n"
    assert final(transaction(m, msg("skip", body=body * 200)))[0] == 250
    assert len(t.data_of("B")) == 1
    assert "E" in t.cmds()
    got = wait_messages(m, "alice", 1)[0]
    assert len(got.get_payload()) == 901 * 200


def test_milter_progress_keeps_a_slow_filter_alive(make_maild, milters):
    t = milters(replies={"E": [PROGRESS, ACCEPT]})
    m = filtered(make_maild, t)
    assert final(transaction(m, msg("progress")))[0] == 250
    wait_messages(m, "alice", 1)


def test_negotiated_steps_are_left_out_or_unanswered(make_maild, milters):
    # NOHELO, NORCPT, NOBODY: not sent; NR_CONN, NR_MAIL, NR_HDR, NR_EOH,
    # NR_DATA: sent but never answered (the filter stays silent there; had
    # maild waited, milter_timeout would have made it a 451)
    NOHELO, NORCPT, NOBODY = 0x2, 0x8, 0x10
    NR_HDR, NR_CONN, NR_MAIL, NR_DATA, NR_EOH = 0x80, 0x1000, 0x4000, 0x10000, 0x40000
    t = milters(protocol=NOHELO | NORCPT | NOBODY | NR_HDR | NR_CONN | NR_MAIL |
                NR_DATA | NR_EOH)
    m = filtered(make_maild, t)
    assert final(transaction(m, msg("quiet")))[0] == 250
    wait_messages(m, "alice", 1)
    cmds = "".join(c for c in t.cmds() if c != "D")
    assert "H" not in cmds and "R" not in cmds and "B" not in cmds
    assert cmds.startswith("OCMTLLLNE"), cmds


def test_body_chunks_are_at_most_65535_octets(make_maild, milters):
    t = milters()
    m = filtered(make_maild, t)
    body = ("y" * 998 + "\r\n") * 300
    assert final(transaction(m, msg("big", body=body)))[0] == 250
    chunks = t.data_of("B")
    assert len(chunks) >= 5 and max(len(c) for c in chunks) <= 65535
    assert b"".join(chunks) == body.encode()


def test_two_milters_in_order_second_sees_first_edits(make_maild, milters):
    a = milters(replies={"E": [addheader("X-From-A", "yes")]})
    b = milters()
    m = filtered(make_maild, a, b)
    assert final(transaction(m, msg("two")))[0] == 250
    got = wait_messages(m, "alice", 1)[0]
    assert got["X-From-A"] == "yes"
    assert b"X-From-A\0yes\0" in b.data_of("L")


def test_milter_over_ipv6(make_maild, milters):
    try:
        t = milters(family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback")
    m = filtered(make_maild, t)
    assert final(transaction(m, msg("v6")))[0] == 250
    wait_messages(m, "alice", 1)
    assert "E" in t.cmds()


def test_milter_over_a_unix_socket_inside_the_chroot(make_maild, milters, sandbox):
    # the worker is chrooted (as root): the socket must be inside the chroot,
    # and the setting names it as the worker sees it
    root = sandbox.path("empty")
    path = os.path.join(root, "milter.sock")
    chrooted = os.geteuid() == 0
    t = milters(family=socket.AF_UNIX, path=path,
                unix_name="/milter.sock" if chrooted else None)
    m = filtered(make_maild, t, extra={"milters": [t.addr]})
    assert final(transaction(m, msg("unix")))[0] == 250
    assert "E" in t.cmds()
    wait_messages(m, "alice", 1)


def test_rset_aborts_the_filters(make_maild, milters):
    t = milters()
    m = filtered(make_maild, t)
    c = connect(m)
    ehlo(c)
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RSET")
    assert c.smtp_reply()[0] == 250
    c.cmd("QUIT")
    c.smtp_reply()
    wait_for(lambda: "Q" in t.cmds(), 5, what="QUIT to the filter")
    cmds = t.cmds()
    assert cmds.index("A") > cmds.index("M")


# --- misbehaviour ---------------------------------------------------------------

BAD = [
    ("slow", {"E": "slow"}, {}, "timed out"),
    ("close", {"E": "close"}, {}, "connection lost"),
    ("garbage", {"E": "garbage"}, {}, "unknown reply"),
    ("huge", {"E": "huge"}, {}, "packet length out of bounds"),
    ("name-space", {}, {"E": [addheader("Bad Name", "x")]}, "invalid header name"),
    ("name-crlf", {}, {"E": [addheader("X-A\r\nX-B", "x")]}, "invalid header name"),
    ("value-lf", {}, {"E": [addheader("X-Inject", "a\nBcc: evil@example.org")]},
     "invalid header value"),
    ("value-cr", {}, {"E": [addheader("X-Inject", "a\rb")]}, "invalid header value"),
    ("value-end", {}, {"E": [chgheader(1, "Subject", "a\r\n")]}, "invalid header value"),
    ("body-nul", {}, {"E": [replbody(b"a\0b\r\n")]}, "replaced body"),
    ("not-negotiated", {}, {"E": [addheader("X-A", "b")]}, "action not negotiated"),
]


@pytest.mark.parametrize("action", ["tempfail", "reject", "accept"])
@pytest.mark.parametrize("name,bad,replies,why", BAD, ids=[b[0] for b in BAD])
def test_broken_milter_gets_the_default_action(make_maild, milters, action,
                                               name, bad, replies, why):
    t = milters(misbehave=bad, replies=replies, delay=3.0,
                actions=0 if name == "not-negotiated" else 0x1ff)
    m = filtered(make_maild, t, action=action, timeout=1)
    code, text = final(transaction(m, msg("bad")))
    want = {"tempfail": 451, "reject": 550, "accept": 250}[action]
    assert code == want, text
    m.wait_log(r"milter inet:127.0.0.1:%d: %s.*; default action %s" %
               (t.port, re.escape(why), action))
    if action == "accept":
        got = wait_messages(m, "alice", 1)[0]
        raw = got.as_bytes()
        assert b"evil" not in raw and b"X-Inject" not in raw and b"Bad Name" not in raw
        assert got["Subject"] == "bad"
    else:
        time.sleep(0.3)
        assert messages(m, "alice") == []
    assert os.listdir(m.sb.path("queue", "incoming")) == []


def test_broken_milter_changes_nothing(make_maild, milters):
    # a recipient and a header asked for before the filter broke are dropped
    t = milters(replies={"E": [pkt(b"+", z("<bob@example.test>")),
                               addheader("X-Before", "x"),
                               addheader("Bad Name", "x")]})
    m = filtered(make_maild, t, action="accept")
    assert final(transaction(m, msg("partial")))[0] == 250
    got = wait_messages(m, "alice", 1)[0]
    assert "X-Before" not in got
    time.sleep(0.5)
    assert messages(m, "bob") == []


def test_milter_rcpt_replycode_is_kept(make_maild, milters):
    t = milters(replies={"R": [replycode("550 5.1.1 no such mailbox here")]})
    m = filtered(make_maild, t)
    out = transaction(m, msg("x"))
    assert out[1][0] == 550 and "5.1.1 <alice@example.test>: no such mailbox here" in out[1][1][0]


def test_accept_default_goes_on_to_the_next_milter(make_maild, milters):
    a = milters(misbehave={"M": "close"})
    b = milters(replies={"E": [addheader("X-B", "ran")]})
    m = filtered(make_maild, a, b, action="accept")
    assert final(transaction(m, msg("next")))[0] == 250
    assert wait_messages(m, "alice", 1)[0]["X-B"] == "ran"


@pytest.mark.parametrize("action,want", [("tempfail", 451), ("accept", 250),
                                         ("reject", 550)])
def test_dead_milter_gets_the_default_action(make_maild, action, want):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()       # nothing listens there
    m = filtered(make_maild, "inet:127.0.0.1:%d" % port, action=action)
    out = transaction(m, msg("dead"))
    assert out[-1][0] == want or out[0][0] == want, out
    m.wait_log(r"milter inet:127.0.0.1:%d: cannot connect; default action %s" %
               (port, action))


# --- OpenDKIM (Debian's opendkim, run by the test on loopback) ---------------------

OPENDKIM = shutil.which("opendkim") or "/usr/sbin/opendkim"
GENKEY = shutil.which("opendkim-genkey") or "/usr/sbin/opendkim-genkey"


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


@pytest.fixture
def dkim_key(sandbox):
    """A key pair for selector "sel" of example.test, and its TXT record."""
    if not os.access(OPENDKIM, os.X_OK) or not os.access(GENKEY, os.X_OK):
        pytest.skip("opendkim is not installed")
    d = sandbox.path("dkim")
    os.makedirs(d, exist_ok=True)
    subprocess.run([GENKEY, "-b", "2048", "-D", d, "-d", "example.test", "-s", "sel"],
                   check=True, capture_output=True, timeout=60)
    txt = open(os.path.join(d, "sel.txt")).read()
    # the zone file's quoted pieces make the record
    record = "".join(re.findall(r'"([^"]*)"', txt))
    keyfile = os.path.join(d, "sel.private")
    with open(os.path.join(d, "keys"), "w") as f:
        f.write("sel._domainkey.example.test %s\n" % record)
    return d, keyfile, record


@pytest.fixture
def opendkim(sandbox, dkim_key):
    """opendkim(mode) -> a started opendkim in the foreground as this user."""
    procs = []

    def start(mode):
        d, keyfile, record = dkim_key
        port = free_tcp_port()
        conf = os.path.join(d, "opendkim-%s.conf" % mode)
        with open(conf, "w") as f:
            f.write("Syslog no\nMode %s\nDomain example.test\nSelector sel\n"
                    "KeyFile %s\nSocket inet:%d@127.0.0.1\nRequireSafeKeys no\n"
                    "AuthservID mx.example.test\nTestPublicKeys %s\n"
                    "Canonicalization simple/simple\nSignatureAlgorithm rsa-sha256\n"
                    "AlwaysAddARHeader yes\n"
                    % (mode, keyfile, port, os.path.join(d, "keys")))
            if mode == "v":
                # loopback is the test's client, not an internal host here
                f.write("InternalHosts 192.0.2.1\n")
            if os.geteuid() == 0:
                f.write("UserID root\n")
        log = open(os.path.join(d, "opendkim-%s.log" % mode), "ab")
        p = subprocess.Popen([OPENDKIM, "-f", "-x", conf], stdout=log, stderr=log)
        procs.append(p)

        def up():
            if p.poll() is not None:
                raise AssertionError("opendkim exited: %s" % open(log.name).read())
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return True
            except OSError:
                return False
        wait_for(up, 15, what="opendkim on port %d" % port)
        return "inet:127.0.0.1:%d" % port
    yield start
    for p in procs:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()


def dkim_verify(raw, record):
    import dkim
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return dkim.verify(raw, dnsfunc=lambda name, timeout=5: record.encode())


def submit(m, port, body, user="alice", sender="alice@example.test",
           rcpt="bob@example.test"):
    c = Client(port)
    assert c.smtp_reply()[0] == 220
    ehlo(c)
    c.cmd("AUTH PLAIN " + base64.b64encode(
        ("\0%s\0%s" % (user, USERS[user])).encode()).decode())
    assert c.smtp_reply()[0] == 235
    c.cmd("MAIL FROM:<%s>" % sender)
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<%s>" % rcpt)
    assert c.smtp_reply()[0] == 250
    c.cmd("DATA")
    assert c.smtp_reply()[0] == 354
    c.send(body)
    r = c.smtp_reply()
    c.cmd("QUIT")
    return r


DKIM_MSG = ("From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n"
            "Subject: signed   by  opendkim\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
            "Message-ID: <dkim-1@example.test>\r\n"
            "X-Folded: first\r\n\tsecond line\r\n\r\n"
            "Hello Bob,\r\n\r\n  indented line  \r\n..dot line\r\nbye\r\n.\r\n")


def test_opendkim_signs_submitted_mail(make_maild, opendkim, dkim_key):
    pytest.importorskip("dkim")
    signer = opendkim("s")
    sub_port = free_tcp_port()
    m = make_maild(config={"smtp": {
        "submission_listen": ["127.0.0.1:%d" % sub_port],
        "allow_plaintext_auth": True, "submission_milters": [signer]}})
    code, lines = submit(m, sub_port, DKIM_MSG)
    assert code == 250, lines
    got = wait_messages(m, "bob", 1)[0]
    assert "DKIM-Signature" in got, got.as_string()
    assert "d=example.test" in got["DKIM-Signature"]
    record = dkim_key[2]
    assert dkim_verify(got.as_bytes(), record)
    # port 25 has no milters here: nothing signed there
    assert final(transaction(m, msg("unsigned"), rcpts=["carol@example.test"]))[0] == 250
    assert "DKIM-Signature" not in wait_messages(m, "carol", 1)[0]
    # and after POP3 retrieval, byte for byte what the client gets
    c = poplib.POP3("127.0.0.1", m.pop3_port, timeout=15)
    c.user("bob")
    c.pass_(USERS["bob"])
    resp, lines, _ = c.retr(1)
    c.quit()
    raw = b"\r\n".join(lines) + b"\r\n"
    assert b"DKIM-Signature:" in raw
    assert dkim_verify(raw, record)
    # a change after signing breaks it (the check can fail)
    assert not dkim_verify(raw.replace(b"Hello Bob", b"Hello Eve"), record)


def test_opendkim_verifies_incoming_mail(make_maild, opendkim, dkim_key):
    dkim = pytest.importorskip("dkim")
    verifier = opendkim("v")
    m = filtered(make_maild, verifier)
    d, keyfile, record = dkim_key
    key = open(keyfile, "rb").read()
    # the message as stored: DATA's dot-stuffing undone
    body = DKIM_MSG[:-3].replace("\r\n..", "\r\n.").encode()
    sig = dkim.sign(body, b"sel", b"example.test", key,
                    include_headers=[b"from", b"to", b"subject", b"date"])
    def stuffed(b):
        return b.decode().replace("\r\n.", "\r\n..") + ".\r\n"
    good = sig + body
    assert final(transaction(m, stuffed(good)))[0] == 250
    got = wait_messages(m, "alice", 1)[0]
    ar = got["Authentication-Results"]
    assert ar is not None and "dkim=pass" in ar, got.as_string()
    bad = sig + body.replace(b"Hello Bob", b"Hello Eve")
    assert final(transaction(m, stuffed(bad)))[0] == 250
    got = wait_messages(m, "alice", 2)[1]
    ar = got["Authentication-Results"]
    assert ar is not None and "dkim=fail" in ar, got.as_string()


# --- spamass-milter + spamd (SpamAssassin) --------------------------------------------

SPAMD = shutil.which("spamd") or "/usr/sbin/spamd"
SPAMASS = shutil.which("spamass-milter") or "/usr/sbin/spamass-milter"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def wait_port(p, port, what, timeout=60):
    def up():
        if p.poll() is not None:
            raise AssertionError("%s exited with %s" % (what, p.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            return False
    wait_for(up, timeout, what=what)


@pytest.fixture
def spamass(sandbox):
    """spamd and spamass-milter (rejecting at a score of 15), as this user."""
    if not os.access(SPAMD, os.X_OK) or not os.access(SPAMASS, os.X_OK) or \
            not shutil.which("spamc"):
        pytest.skip("spamd, spamc or spamass-milter is not installed")
    procs = []
    log = open(sandbox.path("spam.log"), "ab")
    sport, mport = free_tcp_port(), free_tcp_port()
    # -L: local tests only (no DNS, no network); -x: no per-user files
    cmd = [SPAMD, "--listen=127.0.0.1:%d" % sport, "-L", "-x", "-m", "1",
           "--syslog=stderr", "--pidfile", sandbox.path("run", "spamd.pid")]
    if os.geteuid() == 0:
        cmd += ["-u", "nobody"]
    p = subprocess.Popen(cmd, stdout=log, stderr=log)
    procs.append(p)
    try:
        wait_port(p, sport, "spamd")
        p2 = subprocess.Popen([SPAMASS, "-p", "inet:%d@127.0.0.1" % mport,
                               "-r", "15", "-P", sandbox.path("run", "sm.pid"),
                               "--", "-d", "127.0.0.1", "-p", str(sport)],
                              stdout=log, stderr=log)
        procs.append(p2)
        wait_port(p2, mport, "spamass-milter")
        # spamd compiles its rules on the first message: not in the test's time
        subprocess.run(["spamc", "-d", "127.0.0.1", "-p", str(sport), "-c"],
                       input=b"Subject: warm up\n\nhello\n", capture_output=True,
                       timeout=180)
        yield "inet:127.0.0.1:%d" % mport
    finally:
        for q in procs:
            q.terminate()
            try:
                q.wait(10)
            except subprocess.TimeoutExpired:
                q.kill()


def test_spamassassin_rejects_gtube_and_passes_clean_mail(make_maild, spamass):
    m = filtered(make_maild, spamass, timeout=120)
    clean = msg("lunch", body="Shall we meet for lunch on Friday at noon?\r\n",
                extra="Date: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
                      "Message-ID: <lunch-1@example.org>\r\n")
    out = transaction(m, clean, timeout=150)
    assert final(out)[0] == 250, out
    got = wait_messages(m, "alice", 1)[0]
    assert got["X-Spam-Status"] is not None and got["X-Spam-Status"].startswith("No")
    out = transaction(m, msg("gtube", body=GTUBE + "\r\n"), timeout=150)
    code, text = final(out)
    assert code == 550 and "5.7.1" in text, out
    time.sleep(0.5)
    assert len(messages(m, "alice")) == 1
