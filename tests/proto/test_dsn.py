"""Delivery status notifications (RFC 3461-3464) and the queue around them:
DSN parameters from SMTP into the V 2 queue file, NOTIFY=NEVER/SUCCESS,
the delay notice (once), the defer/ side file (reasons that survive a
restart, garbage ignored), smtp.hop_limit at DATA and in the queue,
"maild -q" only for what is due (-q -f for all), "maild -l", and old
V 1 queue files still delivered."""
import os
import re
import subprocess
import time

from maildtest import wait_for
from test_delivery import age_queued, held_maildrop, queue_files
from test_smtp import connect, ehlo, messages, msg, wait_messages

MAILD = os.path.join(os.environ.get("MAILD_BUILDDIR", "."), "maild")


def run_maild(m, *args):
    return subprocess.run([MAILD, *args, "-c", m.conf], capture_output=True, text=True,
                          env=m.sb.env(), timeout=30)


def txn(m, mail, rcpts, body, c=None):
    """One transaction with raw MAIL/RCPT arguments; the final reply."""
    if c is None:
        c = connect(m)
        ehlo(c)
    c.cmd("MAIL FROM:" + mail)
    assert c.smtp_reply()[0] == 250
    for r in rcpts:
        c.cmd("RCPT TO:" + r)
        assert c.smtp_reply()[0] == 250, r
    c.cmd("DATA")
    assert c.smtp_reply()[0] == 354
    c.send(body)
    return c.smtp_reply()


def queued_id(reply):
    code, lines = reply
    assert code == 250, lines
    return lines[0].split()[-1]


def report(dsn):
    """The message/delivery-status part of a DSN, as text."""
    assert dsn.get_content_type() == "multipart/report"
    (part,) = [p for p in dsn.get_payload() if p.get_content_type() == "message/delivery-status"]
    return part.as_string()


# --- hand-written queue files --------------------------------------------------

B32 = "0123456789ABCDEFGHJKLMNPQRSTVWXY"


def make_qid(n):
    s = ""
    for _ in range(16):
        s = B32[n % 32] + s
        n //= 32
    return s


def queue_file(qid, sender, rcpts, body, version=2, arrival=None, flags=None, envid=None):
    """rcpts: (status, user, addr, tail) tuples; tail like " n=N" (V 2)."""
    lines = ["V %d" % version, "I " + qid, "T %d" % (arrival or int(time.time())),
             "N 0000000000"]
    if version == 2:
        lines.append("W 000000000000000")
    lines += ["S " + (sender or "%"), "C 127.0.0.1 test.example"]
    if flags:
        lines.append("F " + flags)
    if envid:
        lines.append("E " + envid)
    for st, user, addr, tail in rcpts:
        lines.append("R %s %020d %s %s%s" % (st, 0, user, addr, tail))
    return ("\n".join(lines) + "\n\n").encode() + body


def plant(m, sub, qid, data, mtime=None):
    d = m.sb.path("queue", sub)
    os.makedirs(d, mode=0o700, exist_ok=True)
    path = os.path.join(d, qid)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


# --- SMTP: parameters, EHLO, refusals ------------------------------------------

def test_ehlo_offers_dsn_and_parameters_reach_the_queue(maild):
    c = connect(maild)
    assert "DSN" in ehlo(c)
    with held_maildrop(maild, "bob"):
        qid = queued_id(txn(maild, "<alice@example.test> RET=HDRS ENVID=QQ+2B314 BODY=8BITMIME",
                            ["<bob@example.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;Bob+2BX@example.test",
                             "<carol@example.test> NOTIFY=NEVER"],
                            msg("dsn params"), c=c))
        maild.wait_log(r"id=%s: deferred to=<bob@example\.test>" % qid)
        data = open(maild.sb.path("queue", "deferred", qid), "rb").read()
        show = subprocess.run([MAILD, "-c", maild.conf, "queue", "show", qid],
                              capture_output=True, text=True, env=maild.sb.env(),
                              timeout=30).stdout
        assert "DSN:       BODY=8BITMIME RET=HDRS ENVID=QQ+2B314" in show, show
        assert re.search(r"<bob@example\.test> pending user=bob notify=SD "
                         r"orcpt=rfc822;Bob\+2BX@example\.test\n\s+last: 4\.", show), show
    env = data[:data.index(b"\n\n") + 1].decode()
    assert env.startswith("V 2\n")
    assert re.search(r"^W 0{15}$", env, re.M)
    assert "\nF body=8bitmime ret=hdrs\n" in env
    assert "\nE QQ+2B314\n" in env                      # xtext, as received
    assert re.search(r"^R \S \d{20} bob bob@example\.test n=SD o=rfc822;Bob\+2BX@example\.test$",
                     env, re.M), env
    assert re.search(r"^R D \d{20} carol carol@example\.test n=N$", env, re.M), env


def test_malformed_dsn_parameters_are_refused(maild):
    c = connect(maild)
    ehlo(c)
    for args, code in (("<s@example.org> ENVID=a+zz", 501),
                       ("<s@example.org> ENVID=" + "x" * 101, 501),
                       ("<s@example.org> RET=BODY", 501),
                       ("<s@example.org> RET=HDRS RET=FULL", 501),
                       ("<s@example.org> NOTIFY=NEVER", 555)):   # an RCPT parameter
        c.cmd("MAIL FROM:" + args)
        reply = c.smtp_reply()
        assert reply[0] == code, (args, reply)
        assert reply[1][0].startswith("5.5."), (args, reply)
    # a new session: smtp.max_errors (10) would close this one
    c = connect(maild)
    ehlo(c)
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    for args, code in (("<alice@example.test> NOTIFY=NEVER,SUCCESS", 501),
                       ("<alice@example.test> NOTIFY=SOMETIMES", 501),
                       ("<alice@example.test> NOTIFY=", 501),
                       ("<alice@example.test> ORCPT=rfc822", 501),
                       ("<alice@example.test> ORCPT=rfc822;a+zzb", 501),
                       ("<alice@example.test> ORCPT=rfc822;" + "a" * 500, 501),
                       ("<alice@example.test> RET=HDRS", 555)):   # a MAIL parameter
        c.cmd("RCPT TO:" + args)
        reply = c.smtp_reply()
        assert reply[0] == code, (args, reply)
        assert reply[1][0].startswith("5.5."), (args, reply)
    # the transaction is still usable
    c.cmd("RCPT TO:<alice@example.test> NOTIFY=FAILURE ORCPT=rfc822;alice@example.test")
    assert c.smtp_reply()[0] == 250


def test_notify_success_gives_a_delivered_dsn(maild):
    qid = queued_id(txn(maild, "<alice@example.test> ENVID=env+2D42",
                        ["<bob@example.test> NOTIFY=SUCCESS ORCPT=rfc822;bob+2Bo@example.test",
                         "<carol@example.test>"], msg("please confirm")))
    wait_messages(maild, "bob", 1)
    wait_messages(maild, "carol", 1)
    (dsn,) = wait_messages(maild, "alice", 1)
    assert dsn["Return-Path"] == "<>"
    assert dsn["Subject"] == "Successful Mail Delivery Report"
    text = report(dsn)
    assert "Action: delivered" in text and "Status: 2.0.0" in text
    assert "Original-Envelope-Id: env-42" in text
    assert "Original-Recipient: rfc822; bob+o@example.test" in text
    # bob only: carol did not ask
    assert "Final-Recipient: rfc822; bob@example.test" in text
    assert "carol@example.test" not in text
    # only the header comes back with a success report
    assert "text/rfc822-headers" in dsn.as_string()
    assert "hello" not in dsn.get_payload()[2].as_string()
    maild.wait_log(r"id=%s: success notice id=" % qid)


# --- NOTIFY=NEVER, V 1 files, the hop limit in the queue ----------------------

def test_notify_never_suppresses_the_bounce(make_maild):
    # two recipients that cannot be delivered (no such user): only the
    # one without NOTIFY=NEVER is in the bounce
    m = make_maild(start=False)
    qid = make_qid(1001)
    plant(m, "active", qid, queue_file(qid, "alice@example.test", [
        ("-", "ghost1", "ghost1@example.test", " n=N"),
        ("-", "ghost2", "ghost2@example.test", " n=F o=rfc822;ghost2@example.test"),
    ], b"Subject: to ghosts\n\nboo\n"))
    m.start()
    m.wait_log(r"id=%s: no bounce for to=<ghost1@example\.test>: NOTIFY" % qid)
    (b,) = wait_messages(m, "alice", 1)
    text = report(b)
    assert "ghost2@example.test" in text and "Action: failed" in text
    assert "Status: 5.1.1" in text
    assert "ghost1" not in b.as_string()
    wait_for(lambda: queue_files(m, "deferred") == [] and queue_files(m, "active") == [],
             what="empty queue")


def test_ret_hdrs_bounce_returns_only_the_header(make_maild):
    m = make_maild(start=False)
    qid = make_qid(1009)
    plant(m, "active", qid, queue_file(qid, "alice@example.test", [
        ("-", "ghost", "ghost@example.test", " o=rfc822;gh+2Bost@example.test")],
        b"Subject: secret plans\n\nthe body stays here\n", flags="ret=hdrs",
        envid="E+2B1"))
    m.start()
    (b,) = wait_messages(m, "alice", 1)
    assert b["Subject"] == "Undelivered Mail Returned to Sender"
    text = report(b)
    assert "Original-Envelope-Id: E+1" in text
    assert "Original-Recipient: rfc822; gh+ost@example.test" in text
    third = b.get_payload()[2]
    assert third.get_content_type() == "text/rfc822-headers"
    assert "Subject: secret plans" in third.as_string()
    assert "the body stays here" not in b.as_string()


def test_notify_never_only_gives_no_bounce_at_all(make_maild):
    m = make_maild(start=False)
    qid = make_qid(1002)
    plant(m, "active", qid, queue_file(qid, "alice@example.test", [
        ("-", "ghost1", "ghost1@example.test", " n=N")], b"Subject: x\n\nx\n"))
    m.start()
    m.wait_log(r"id=%s: removed" % qid)
    time.sleep(1)
    assert messages(m, "alice") == []
    assert "bounce id=" not in m.log()


def test_old_v1_queue_file_is_still_delivered(make_maild):
    m = make_maild(start=False)
    qid = make_qid(1003)
    plant(m, "active", qid, queue_file(qid, "s@example.org", [
        ("-", "bob", "bob@example.test", "")], b"Subject: from V1\n\nold format\n",
        version=1))
    m.start()
    (got,) = wait_messages(m, "bob", 1)
    assert got["Subject"] == "from V1"
    m.wait_log(r"id=%s: removed" % qid)


def test_v1_file_with_a_v2_tail_goes_to_corrupt(make_maild):
    m = make_maild(start=False)
    qid = make_qid(1004)
    plant(m, "active", qid, queue_file(qid, "s@example.org", [
        ("-", "bob", "bob@example.test", " n=N")], b"x\n", version=1))
    m.start()
    m.wait_log(r"id=%s: corrupt queue file" % qid)
    assert queue_files(m, "corrupt") == [qid]


def received(n):
    return "".join("Received: from hop%d.example by hop%d.example; "
                   "Tue, 1 Dec 2026 10:00:00 +0000\r\n" % (i, i + 1) for i in range(n))


def test_hop_limit_at_data(maild):
    body = received(51) + "Subject: loop\r\n\r\nround and round\r\n.\r\n"
    code, lines = txn(maild, "<s@example.org>", ["<bob@example.test>"], body)
    assert code == 554 and lines[0].startswith("5.4.6"), lines
    body = received(50) + "Subject: just\r\n\r\nunder\r\n.\r\n"
    assert txn(maild, "<s@example.org>", ["<bob@example.test>"], body)[0] == 250
    (got,) = wait_messages(maild, "bob", 1)
    assert got["Subject"] == "just"


def test_hop_limit_with_bdat(maild):
    for n, want in ((51, 554), (50, 250)):
        data = (received(n) + "Subject: chunked\r\n\r\nx\r\n").encode()
        c = connect(maild)
        ehlo(c)
        c.cmd("MAIL FROM:<s@example.org>")
        assert c.smtp_reply()[0] == 250
        c.cmd("RCPT TO:<bob@example.test>")
        assert c.smtp_reply()[0] == 250
        half = len(data) // 2
        c.send(("BDAT %d\r\n" % half).encode() + data[:half])
        assert c.smtp_reply()[0] == 250
        c.send(("BDAT %d LAST\r\n" % (len(data) - half)).encode() + data[half:])
        code, lines = c.smtp_reply()
        assert code == want, (n, lines)
        if want == 554:
            assert lines[0].startswith("5.4.6")
    wait_messages(maild, "bob", 1)


def test_hop_limit_smaller_setting_and_folded_lines(make_maild):
    m = make_maild(config={"smtp": {"hop_limit": 3}})
    # folded continuation lines and a "Received:" in the body do not count
    body = (received(3).replace("; Tue", ";\r\n\tTue") +
            "Subject: three\r\n\r\nReceived: not a header\r\n.\r\n")
    assert txn(m, "<s@example.org>", ["<bob@example.test>"], body)[0] == 250
    body = received(4) + "Subject: four\r\n\r\nx\r\n.\r\n"
    assert txn(m, "<s@example.org>", ["<bob@example.test>"], body)[0] == 554


def test_queued_message_over_the_hop_limit_is_bounced(make_maild):
    # 52 = the limit, plus ours, plus one: came in some way DATA did not see
    m = make_maild(start=False)
    qid = make_qid(1005)
    hdrs = received(52).replace("\r\n", "\n").encode()
    plant(m, "active", qid, queue_file(qid, "alice@example.test", [
        ("-", "bob", "bob@example.test", "")], hdrs + b"Subject: looped\n\nx\n"))
    m.start()
    m.wait_log(r"id=%s: bounced to=<bob@example\.test>.*5\.4\.6" % qid)
    (b,) = wait_messages(m, "alice", 1)
    assert "Status: 5.4.6" in report(b)
    time.sleep(0.5)
    assert messages(m, "bob") == []


# --- the delay notice -----------------------------------------------------------

def test_one_delay_notice_and_never_a_second(make_maild):
    m = make_maild(config={"queue": {"delay_warning": "2s"}})
    with held_maildrop(m, "carol") as path:
        qid = queued_id(txn(m, "<alice@example.test>", ["<carol@example.test>"],
                            msg("slow one")))
        (n,) = wait_messages(m, "alice", 1, timeout=15)
        assert n["Subject"] == "Delayed Mail (still being retried)"
        assert "This is a warning only" in n.get_payload()[0].as_string()
        text = report(n)
        assert "Action: delayed" in text
        assert re.search(r"Status: 4\.\d+\.\d+", text)
        assert "Will-Retry-Until: " in text and "Last-Attempt-Date: " in text
        assert "Final-Recipient: rfc822; carol@example.test" in text
        # W records it, in place
        data = open(m.sb.path("queue", "deferred", qid), "rb").read()
        assert re.search(rb"\nW (?!0{15})\d{15}\n", data)
        # the runner keeps trying the locked maildrop (every second): no more notices
        n0 = len(re.findall(r"id=%s: deferred" % qid, m.log()))
        wait_for(lambda: len(re.findall(r"id=%s: deferred" % qid, m.log())) >= n0 + 3,
                 timeout=15, what="more attempts")
        assert len(messages(m, "alice")) == 1
        assert os.path.getsize(path) == 0
    wait_messages(m, "carol", 1)
    time.sleep(1)
    assert len(messages(m, "alice")) == 1
    assert len(re.findall(r"id=%s: delay notice id=" % qid, m.log())) == 1


def test_no_delay_notice_when_notify_says_failure_only(make_maild):
    m = make_maild(config={"queue": {"delay_warning": "1s"}})
    with held_maildrop(m, "carol"):
        qid = queued_id(txn(m, "<alice@example.test>",
                            ["<carol@example.test> NOTIFY=FAILURE"], msg("quiet")))
        wait_for(lambda: len(re.findall(r"id=%s: deferred" % qid, m.log())) >= 4,
                 timeout=15, what="several attempts")
    wait_messages(m, "carol", 1)
    time.sleep(0.5)
    assert messages(m, "alice") == []


# --- the defer/ side file, maild -l, maild -q ------------------------------------

def test_reason_and_next_attempt_listed_and_kept_in_defer(make_maild):
    m = make_maild(config={"queue": {"locked_retry": "1h"}})
    with held_maildrop(m, "alice"):
        qid = queued_id(txn(m, "<s@example.org>", ["<alice@example.test>"], msg("listed")))
        m.wait_log(r"id=%s: deferred to=<alice@example\.test>" % qid)
        dfile = m.sb.path("queue", "defer", qid)
        wait_for(lambda: os.path.exists(dfile), what="defer file")
        assert b"in%20use" in open(dfile, "rb").read() or b"in use" in open(dfile, "rb").read()
        r = run_maild(m, "-l")
        assert r.returncode == 0, r.stderr
        out = r.stdout
        assert re.search(r"%s\s+deferred\s+\d+\s+\d+s\s+<s@example\.org>" % qid, out), out
        assert re.search(r"- <alice@example\.test>\n\s+last: 4\.\d\.\d .*in use", out), out
        assert re.search(r"next attempt: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in (59m|1h00m)\)",
                         out), out
        # "maild queue delete" takes the reasons away with the message
        r = subprocess.run([MAILD, "-c", m.conf, "queue", "delete", qid], capture_output=True,
                           text=True, env=m.sb.env(), timeout=30)
        assert r.returncode == 0, r.stderr
        assert not os.path.exists(dfile)
        assert queue_files(m, "deferred") == []


def test_garbage_defer_file_is_ignored(make_maild):
    m = make_maild(start=False)
    qid = make_qid(1006)
    plant(m, "active", qid, queue_file(qid, "s@example.org", [
        ("-", "bob", "bob@example.test", "")], b"Subject: fine\n\nx\n"))
    os.makedirs(m.sb.path("queue", "defer"), mode=0o700, exist_ok=True)
    with open(m.sb.path("queue", "defer", qid), "wb") as f:
        f.write(b"D 1 " + qid.encode() + b"\nr 0 1 4.4.1 \xff\x00%0A\nr 99999 x\n" * 50)
    r = run_maild(m, "-l")
    assert r.returncode == 0 and qid in r.stdout
    m.start()
    (got,) = wait_messages(m, "bob", 1)
    assert got["Subject"] == "fine"
    m.wait_log(r"id=%s: ignoring a damaged defer/ file" % qid)
    m.wait_log(r"id=%s: removed" % qid)
    # and it goes with the message
    assert not os.path.exists(m.sb.path("queue", "defer", qid))


def test_expiry_bounce_after_restart_carries_the_saved_reason(make_maild):
    # what the last attempt found, saved in defer/ by an earlier runner,
    # is what the sender reads when the message expires
    m = make_maild(start=False)
    qid = make_qid(1007)
    plant(m, "deferred", qid, queue_file(qid, "alice@example.test", [
        ("X", "@", "friend@remote.example", "")], b"Subject: far away\n\nx\n",
        arrival=int(time.time()) - 6 * 86400), mtime=time.time() - 1)
    os.makedirs(m.sb.path("queue", "defer"), mode=0o700, exist_ok=True)
    with open(m.sb.path("queue", "defer", qid), "wb") as f:
        f.write(b"D 1 %s\nr 0 1764100000 4.4.1 greylisted%%20by%%20them "
                b"smtp;%%20451%%204.7.1%%20try%%20again%%20later mx.remote.example\n"
                % qid.encode())
    m.start()
    m.wait_log(r"id=%s: bounced to=<friend@remote\.example>.*5\.4\.7.*greylisted by them" % qid)
    (b,) = wait_messages(m, "alice", 1)
    text = report(b)
    assert "Diagnostic-Code: smtp; 451 4.7.1 try again later" in text
    assert "Remote-MTA: dns; mx.remote.example" in text
    assert "Last-Attempt-Date: " in text
    assert "Status: 5.4.7" in text


def test_maild_q_delivers_only_what_is_due_and_q_f_everything(make_maild):
    m = make_maild()
    with held_maildrop(m, "bob"):
        qid = queued_id(txn(m, "<s@example.org>", ["<bob@example.test>"], msg("later")))
        m.wait_log(r"id=%s: deferred" % qid)
        m.stop()
    # its next attempt an hour from now
    path = m.sb.path("queue", "deferred", qid)
    later = time.time() + 3600
    os.utime(path, (later, later))
    r = run_maild(m, "-q")
    assert r.returncode == 0, r.stderr
    assert messages(m, "bob") == []
    assert queue_files(m, "deferred") == [qid]
    r = run_maild(m, "-q", "-f")
    assert r.returncode == 0, r.stderr
    (got,) = messages(m, "bob")
    assert got["Subject"] == "later"
    assert queue_files(m, "deferred") == []


def test_null_sender_mail_has_the_shorter_lifetime(make_maild):
    m = make_maild(config={"queue": {"bounce_lifetime": "1h"}})
    with held_maildrop(m, "carol"):
        assert txn(m, "<>", ["<carol@example.test>"], msg("a bounce"))[0] == 250
        m.wait_log(r"deferred to=<carol@example\.test>")
        (qid,) = wait_for(lambda: queue_files(m, "deferred"), what="deferred file")
        age_queued(m, qid, 2 * 3600)          # past 1h, far from 5d
        m.wait_log(r"id=%s: not bouncing a bounce" % qid)
    wait_for(lambda: queue_files(m, "deferred") == [], what="empty queue")


def test_double_bounce_goes_to_postmaster_when_asked(make_maild, sandbox):
    aliases = sandbox.path("aliases")
    with open(aliases, "w") as f:
        f.write("postmaster: bob\n")
    m = make_maild(config={"aliases": aliases,
                           "queue": {"double_bounce_to_postmaster": True}})
    with held_maildrop(m, "bob"), held_maildrop(m, "carol"):
        assert txn(m, "<>", ["<carol@example.test>"], msg("a bounce"))[0] == 250
        m.wait_log(r"deferred to=<carol@example\.test>")
        (qid,) = wait_for(lambda: queue_files(m, "deferred"), what="deferred file")
        age_queued(m, qid, 6 * 86400)
        m.wait_log(r"id=%s: not bouncing a bounce" % qid)
        nid = m.wait_log(r"id=%s: bounce id=(\w+) to=<postmaster@mx\.example\.test>"
                         % qid).group(1)
        m.wait_log(r"id=%s: deferred" % nid)
        # marked, so that its own failure is never reported again
        data = open(m.sb.path("queue", "deferred", nid), "rb").read()
        assert b"\nF postmaster-notice\n" in data
    (n,) = wait_messages(m, "bob", 1)
    assert "Final-Recipient: rfc822; carol@example.test" in report(n)


def test_postmaster_notice_that_fails_is_not_reported_again(make_maild):
    m = make_maild(start=False, config={"queue": {"double_bounce_to_postmaster": True}})
    qid = make_qid(1008)
    plant(m, "active", qid, queue_file(qid, "", [
        ("-", "ghost", "ghost@example.test", "")], b"Subject: x\n\nx\n",
        flags="postmaster-notice"))
    m.start()
    m.wait_log(r"id=%s: not bouncing a bounce" % qid)
    m.wait_log(r"id=%s: removed" % qid)
    time.sleep(0.5)
    assert "bounce id=" not in m.log()
