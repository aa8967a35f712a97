"""maild-logsum, the daily log summary, fed the log of a live maild that
took mail, refused some, deferred one, served POP3 logins (good and bad)
and had a message deleted by the administrator."""
import os
import poplib
import re
import subprocess
import time

from maildtest import MAILD, SRCDIR, wait_for
from test_delivery import held_maildrop, queue_files
from test_smtp import connect, ehlo, msg, send, wait_messages

LOGSUM = os.path.join(SRCDIR, "tools", "maild-logsum")
PASSWORDS = {"alice": "alice-pw-1", "bob": "bob-pw-2"}


def summary(text, *args):
    r = subprocess.run(["sh", LOGSUM] + list(args), input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def counts(out):
    """{label: number} for the "  label   N" lines of the totals."""
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^  ([a-zA-Z][a-zA-Z0-9 ()]*?) +(\d+)$", out, re.M)}


def section(out, title):
    body = out.split("\n" + title + "\n", 1)[1].split("\n\n", 1)[0]
    return [ln.split(None, 1) for ln in body.splitlines() if ln.strip() != "none"]


def pop3_login(m, user, password):
    c = poplib.POP3("127.0.0.1", m.pop3_port, timeout=15)
    try:
        c.user(user)
        c.pass_(password)
        c.quit()
        return True
    except poplib.error_proto:
        c.close()
        return False


def test_summary_of_a_real_log(make_maild):
    m = make_maild(config={"queue": {"locked_retry": "1h"}})
    assert send(m, "a@x.example", ["alice@example.test"], msg("one"))[0] == 250
    assert send(m, "a@x.example", ["alice@example.test", "bob@example.test"],
                msg("two"))[0] == 250
    c = connect(m)
    ehlo(c)
    c.cmd("MAIL FROM:<b@y.example>")
    assert c.smtp_reply()[0] == 250
    for rcpt, want in (("nosuch@example.test", 550), ("ghost@example.test", 550),
                       ("someone@elsewhere.example", 554)):
        c.cmd("RCPT TO:<%s>" % rcpt)
        assert c.smtp_reply()[0] == want
    c.cmd("QUIT")
    c.smtp_reply()
    wait_messages(m, "alice", 2)
    wait_messages(m, "bob", 1)
    with held_maildrop(m, "carol"):
        assert send(m, "b@y.example", ["carol@example.test"], msg("stuck"))[0] == 250
        wait_for(lambda: len(queue_files(m, "deferred")) == 1, what="deferred")
        r = subprocess.run([MAILD, "-c", m.conf, "queue", "delete", "-s", "b@y.example"],
                           capture_output=True, text=True, env=m.sb.env(), timeout=30)
        assert r.returncode == 0, r.stderr
    assert pop3_login(m, "alice", PASSWORDS["alice"])
    assert pop3_login(m, "bob", PASSWORDS["bob"])
    assert not pop3_login(m, "alice", "wrong")
    m.wait_log(r"failed login user=alice")
    time.sleep(0.5)
    # the admin's line goes to syslog and its stderr; add it as syslog would
    log = m.log() + "".join(ln + "\n" for ln in r.stderr.splitlines())

    out = summary(log)
    print(out)         # shown when the test fails
    n = counts(out)
    assert n["received"] == 3
    assert n["delivered (recipients)"] == 3
    assert n["deferred messages"] == 1
    assert n["bounced (recipients)"] == 0
    assert n["rejected"] == 3
    assert n["SMTP sessions"] == 4
    assert n["POP3 sessions"] == 3
    assert n["POP3 logins"] == 2
    assert n["POP3 login failures"] == 1
    assert n["SMTP AUTH logins"] == 0
    reasons = dict((k, int(v)) for v, k in section(out, "Rejects by reason"))
    assert sum(reasons.values()) == 3
    assert any(k.startswith("RCPT: ") and "relay" in k and v == 1 for k, v in reasons.items())
    senders = dict((k, int(v)) for v, k in section(out, "Top senders by messages"))
    assert senders == {"a@x.example": 2, "b@y.example": 1}
    rcpts = dict((k, int(v)) for v, k in section(out, "Top recipients"))
    assert rcpts == {"alice@example.test": 2, "bob@example.test": 1}
    users = dict((k, int(v)) for v, k in section(out, "POP3 logins by user"))
    assert users == {"alice": 1, "bob": 1}
    fails = section(out, "Login failures by user and client")
    assert [(v, k) for v, k in fails] == [("1", "pop3 alice from 127.0.0.1")]
    admin = dict((k, int(v)) for v, k in section(out, "Queue administration"))
    assert list(admin.values()) == [1] and list(admin)[0].startswith("deleted by root")

    # the same lines as syslog writes them, on two days: -d picks one
    stamped = []
    for ln in log.splitlines():
        mm = re.match(r"\d\d:\d\d:\d\d\.\d+ (.*)$", ln)
        if mm:
            stamped.append("Dec  2 10:00:00 mx %s" % mm.group(1))
            stamped.append("2026-12-03T10:00:00.000000+00:00 mx %s" % mm.group(1))
    text = "\n".join(stamped) + "\n"
    assert counts(summary(text))["received"] == 6
    assert counts(summary(text, "-d", "2026-12-02"))["received"] == 3
    assert counts(summary(text, "-d", "2026-12-03"))["POP3 logins"] == 2
    assert counts(summary(text, "-d", "2026-12-04"))["received"] == 0
