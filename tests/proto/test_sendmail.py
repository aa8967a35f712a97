"""The sendmail command (sendmail/): local submission through submit.socket,
as cron, mail(1), PHP and Python scripts use it; mailq, newaliases; header
completion of submitted mail (smtpd/smtp_hdr.c)."""
import contextlib
import os
import pwd
import re
import shutil
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maildtest import BUILDDIR, IS_ROOT, Client, wait_for  # noqa: E402
from test_smtp import messages, wait_messages  # noqa: E402

SENDMAIL = os.path.join(BUILDDIR, "sendmail", "sendmail")
HOST = "mx.example.test"
EX_USAGE, EX_DATAERR, EX_NOUSER, EX_UNAVAILABLE, EX_TEMPFAIL, EX_NOPERM = 64, 65, 67, 69, 75, 77


def me(m):
    """The user name maild finds for the uid the kernel sees (SO_PEERCRED)."""
    uid = os.getuid()
    with open(m.sb.path("passwd")) as f:
        for line in f:
            parts = line.split(":")
            if int(parts[2]) == uid:
                return parts[0]
    return None


def run(m, args, data=b"", uid=None, env=None, timeout=60, prog=SENDMAIL, wrapped=False):
    """Runs sendmail (or prog, e.g. a mailq link) with m's config, as uid
    when given (root only); sendmail needs only nss_wrapper, to look its
    caller up in the sandbox's passwd (wrapped: all of maild's wrappers,
    for the maild that -bp runs)."""
    def become():
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    e = m.sb.env(env)
    if not wrapped:
        e["LD_PRELOAD"] = ":".join(x for x in e["LD_PRELOAD"].split(":")
                                    if "nss_wrapper" in x)
    e["MAILD_PROGRAM"] = os.path.join(BUILDDIR, "maild")
    return subprocess.run([prog, "-C", m.conf] + list(args), input=data,
                          capture_output=True, timeout=timeout, env=e,
                          preexec_fn=become if uid is not None else None)


def body_of(msg):
    p = msg.get_payload()
    return p if isinstance(p, str) else str(p)


def test_recipients_as_arguments_delivered(maild):
    r = run(maild, ["alice@example.test"], b"Subject: args\n\nhello\n")
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(maild, "alice", 1)
    assert msg["Subject"] == "args"
    assert "hello" in body_of(msg)


def wrapper_script(m, tmp_path):
    """A sendmail for mail(1)-style callers that cannot pass -C: a script
    that adds it (and the sandbox's passwd), as a package's link would be."""
    e = m.sb.env()
    nss = [x for x in e["LD_PRELOAD"].split(":") if "nss_wrapper" in x]
    path = tmp_path / "sendmail"
    path.write_text("#!/bin/sh\nLD_PRELOAD='%s' NSS_WRAPPER_PASSWD='%s' NSS_WRAPPER_GROUP='%s' "
                    "exec '%s' -C '%s' \"$@\"\n" % (":".join(nss), e["NSS_WRAPPER_PASSWD"],
                                                   e["NSS_WRAPPER_GROUP"], SENDMAIL, m.conf))
    path.chmod(0o755)
    return str(path)


def test_cron_style_t_from_headers(maild):
    # cron: echo output | sendmail -t, the recipients in To:
    r = run(maild, ["-t"], b"To: alice@example.test\nSubject: cron job\n\noutput\n")
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(maild, "alice", 1)
    assert msg["Subject"] == "cron job"
    assert "output" in body_of(msg)


def test_cron_invocation_with_a_bare_user_name(make_maild):
    # Debian's cron: sendmail -FCronDaemon -i -B8BITMIME -oem USER
    m = make_maild(config={"local_domains": ["example.test", "localhost", HOST]})
    # a sendmail.conf without hostname: the sender's domain is still the
    # one maild greets with, and checks
    conf = m.sb.path("sendmail.conf")
    with open(m.conf) as f, open(conf, "w") as g:
        g.write("".join(l for l in f if not l.startswith("hostname")))
    r = run(m, ["-C", conf, "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "alice"],
            b"Subject: Cron <alice@host> true\n\noutput\n")
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(m, "alice", 1)
    assert msg["Return-Path"] == "<%s@%s>" % (me(m), HOST)
    assert msg["From"].startswith('"CronDaemon" <%s@' % me(m))


def test_t_removes_bcc_and_delivers_to_it(maild):
    data = (b"To: Alice <alice@example.test>\nCc: \"Carol, C.\" <carol@example.test>\n"
            b"Bcc: bob@example.test\nSubject: blind\n\nsecret list\n")
    r = run(maild, ["-t"], data)
    assert r.returncode == 0, r.stderr
    for user in ("alice", "bob", "carol"):
        (msg,) = wait_messages(maild, user, 1)
        assert msg["Subject"] == "blind"
        assert msg["Bcc"] is None, user
        # only bob's own copy names him, in the Delivered-To: of local
        # delivery; the header the others see does not
        del msg["Delivered-To"]
        assert b"bob@example.test" not in msg.as_bytes(), user


def test_t_adds_argument_recipients_as_postfix(maild):
    r = run(maild, ["-t", "carol@example.test"], b"To: alice@example.test\nSubject: both\n\nx\n")
    assert r.returncode == 0, r.stderr
    wait_messages(maild, "alice", 1)
    wait_messages(maild, "carol", 1)


def test_php_style_t_i_keeps_lone_dot_line(maild):
    r = run(maild, ["-t", "-i"], b"To: alice@example.test\nSubject: dots\n\nbefore\n.\n..\nafter\n")
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(maild, "alice", 1)
    assert body_of(msg).replace("\r\n", "\n") == "before\n.\n..\nafter\n"


def test_without_i_a_lone_dot_ends_the_message(maild):
    r = run(maild, ["alice@example.test"], b"Subject: dot\n\nbefore\n.\nnot sent\n")
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(maild, "alice", 1)
    assert "before" in body_of(msg) and "not sent" not in body_of(msg)


def test_python_subprocess_oi_f_as_trusted_user(maild):
    # root is in submit.trusted_users by default; uid_wrapper's fake root is
    # not root to the kernel, so as an ordinary user trust it by name
    user = me(maild)
    if not IS_ROOT:
        old = set(maild.workers("smtpd"))
        maild.config["submit"]["trusted_users"] = [user]
        maild.write_config()
        maild.signal(1)
        maild.wait_log(r"configuration reloaded")
        wait_for(lambda: maild.workers("smtpd") and not set(maild.workers("smtpd")) & old,
                 what="smtpd workers of the new configuration")
    r = run(maild, ["-oi", "-f", "robot@example.org", "alice@example.test"],
            b"Subject: from python\n\nhi\n")
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(maild, "alice", 1)
    assert msg["Return-Path"] == "<robot@example.org>"


def test_f_from_untrusted_user_keeps_own_sender(maild):
    if not IS_ROOT:
        pytest.skip("needs another uid than the tester's (root only)")
    uid = maild.sb.uids["bob"]
    r = run(maild, ["-f", "ceo@example.org", "alice@example.test"],
            b"Subject: forged\n\nhi\n", uid=uid)
    assert r.returncode == 0, r.stderr
    assert b"-f ceo@example.org ignored" in r.stderr
    (msg,) = wait_messages(maild, "alice", 1)
    assert msg["Return-Path"] == "<bob@%s>" % HOST
    assert "from userid %d" % uid in " ".join(msg.get_all("Received"))
    assert msg["From"] == '"Bob" <bob@%s>' % HOST
    assert "sender <ceo@example.org> refused for local user bob" in maild.log()


def test_missing_headers_added(maild):
    r = run(maild, ["alice@example.test"], b"Subject: bare\n\nbody\n")
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(maild, "alice", 1)
    user = me(maild)
    assert msg["Date"] and msg["Message-ID"].endswith("@%s>" % HOST)
    assert msg["From"].endswith("<%s@%s>" % (user, HOST))
    rcv = msg.get_all("Received")
    assert len(rcv) == 1 and "(maild, from userid %d)" % os.getuid() in rcv[0]
    assert body_of(msg) == "body\n"


def test_present_headers_kept(maild):
    data = (b"From: Someone <someone@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
            b"Message-ID: <fixed@example.org>\nSubject: full\n\nbody\n")
    r = run(maild, ["alice@example.test"], data)
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(maild, "alice", 1)
    assert msg.get_all("From") == ["Someone <someone@example.org>"]
    assert msg.get_all("Date") == ["Mon, 1 Jan 2024 00:00:00 +0000"]
    assert msg.get_all("Message-ID") == ["<fixed@example.org>"]


def test_no_header_section_gets_headers_and_separator(maild):
    r = run(maild, ["alice@example.test"], b"just a line of text\nand another\n")
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(maild, "alice", 1)
    assert msg["Date"] and msg["Message-ID"] and msg["From"]
    assert body_of(msg) == "just a line of text\nand another\n"


def test_full_name_F(maild):
    r = run(maild, ["-F", "Cron \"Daemon\"", "alice@example.test"], b"Subject: named\n\nx\n")
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(maild, "alice", 1)
    assert msg.get_all("From") == ['"Cron \\"Daemon\\"" <%s@%s>' % (me(maild), HOST)]


def test_unknown_sendmail_options_are_ignored(maild):
    r = run(maild, ["-oem", "-odb", "-B", "8BITMIME", "-N", "never", "-R", "hdrs", "-V", "envid",
                    "-X", "/dev/null", "-h", "10", "-m", "-G", "-U", "-L", "tag", "-n", "-x",
                    "-O", "DeliveryMode=b", "-e", "m", "-i", "alice@example.test"],
            b"Subject: odd options\n\nx\n")
    assert r.returncode == 0, r.stderr
    wait_messages(maild, "alice", 1)


def test_twenty_megabyte_message(make_maild):
    m = make_maild(config={"smtp": {"message_size_limit": 30 * 1024 * 1024}})
    line = b"0123456789" * 7 + b"\n"
    body = line * (20 * 1024 * 1024 // len(line) + 1)
    r = run(m, ["-i", "alice@example.test"], b"Subject: big\n\n" + body, timeout=120)
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(m, "alice", 1, timeout=60)
    assert len(body_of(msg)) == len(body)


def test_too_big_message_is_a_data_error(maild):
    body = (b"x" * 70 + b"\n") * (11 * 1024 * 1024 // 71)
    r = run(maild, ["-i", "alice@example.test"], b"Subject: too big\n\n" + body, timeout=120)
    assert r.returncode == EX_DATAERR, r.stderr
    assert b"5.3.4" in r.stderr


def test_v_shows_the_dialogue(maild):
    r = run(maild, ["-v", "alice@example.test"], b"Subject: verbose\n\nx\n")
    assert r.returncode == 0, r.stderr
    assert b">>> MAIL FROM:<" in r.stderr and b"<<< 250 2.0.0 Ok: queued as" in r.stderr
    wait_messages(maild, "alice", 1)


def test_exit_codes(maild):
    r = run(maild, [], b"Subject: nobody\n\nx\n")
    assert r.returncode == EX_USAGE and b"no recipients" in r.stderr
    r = run(maild, ["-Q"], b"")
    assert r.returncode == EX_USAGE and b"usage" in r.stderr
    r = run(maild, ["nosuchuser@example.test"], b"Subject: x\n\nx\n")
    assert r.returncode == EX_NOUSER, r.stderr
    assert b"nosuchuser@example.test" in r.stderr
    # one good recipient: the mail goes, the status still says who was unknown
    r = run(maild, ["nosuchuser@example.test", "alice@example.test"], b"Subject: x\n\nx\n")
    assert r.returncode == EX_NOUSER, r.stderr
    wait_messages(maild, "alice", 1)


def test_bs_smtp_on_stdin(maild):
    data = (b"EHLO me\r\nMAIL FROM:<%s@%s>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
            b"Subject: via -bs\r\n\r\nhi\r\n.\r\nQUIT\r\n" % (me(maild).encode(), HOST.encode()))
    r = run(maild, ["-bs"], data)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.startswith("220 ") and "250 2.0.0 Ok: queued as" in out and "221" in out
    (msg,) = wait_messages(maild, "alice", 1)
    assert msg["Subject"] == "via -bs"


def test_bp_and_mailq_list_the_queue(maild, tmp_path):
    # a held maildrop keeps the message in the queue
    from test_delivery import held_maildrop
    with held_maildrop(maild, "alice"):
        r = run(maild, ["alice@example.test"], b"Subject: waiting\n\nx\n")
        assert r.returncode == 0, r.stderr
        maild.wait_log(r"deferred to=<alice@example\.test>")
        r = run(maild, ["-bp"], wrapped=True)
        assert r.returncode == 0, r.stderr
        assert b"<alice@example.test>" in r.stdout
        mailq = tmp_path / "mailq"
        mailq.symlink_to(SENDMAIL)
        r = run(maild, [], prog=str(mailq), wrapped=True)
        assert r.returncode == 0, r.stderr
        assert b"<alice@example.test>" in r.stdout
        if IS_ROOT:
            # the queue is root's: another user's mailq says so
            r = run(maild, ["-bp"], uid=maild.sb.uids["bob"])
            assert r.returncode == EX_NOPERM and b"permission denied" in r.stderr
    # -q: a queue run (maild -q), which delivers it now that the drop is free
    r = run(maild, ["-q"], wrapped=True)
    assert r.returncode == 0, r.stderr
    wait_messages(maild, "alice", 1)


def test_bi_and_newaliases_make_maild_reread_the_aliases(make_maild, sandbox, tmp_path):
    aliases = sandbox.path("aliases")
    with open(aliases, "w") as f:
        f.write("staff: alice\n")
    m = make_maild(config={"aliases": aliases})
    r = run(m, ["staff@example.test"], b"Subject: one\n\nx\n")
    assert r.returncode == 0, r.stderr
    wait_messages(m, "alice", 1)
    with open(aliases, "w") as f:
        f.write("staff: bob\n")
    na = tmp_path / "newaliases"
    na.symlink_to(SENDMAIL)

    def reread(prog, args, n):
        # the workers of the old generation (and their aliases) must be gone
        old = set(m.workers("smtpd"))
        r = run(m, args, prog=prog)
        assert r.returncode == 0 and b"maild reads the aliases file itself" in r.stdout
        assert b"told to re-read it (SIGHUP)" in r.stdout, r.stdout
        wait_for(lambda: m.log().count("configuration reloaded") >= n, what="reload %d" % n)
        wait_for(lambda: m.workers("smtpd") and not set(m.workers("smtpd")) & old,
                 what="smtpd workers of the new configuration")
    reread(str(na), [], 1)
    reread(SENDMAIL, ["-bi"], 2)
    reread(SENDMAIL, ["-I"], 3)      # Postfix's spelling
    r = run(m, ["staff@example.test"], b"Subject: two\n\nx\n")
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(m, "bob", 1)
    assert msg["Subject"] == "two"
    r = subprocess.run([os.path.join(BUILDDIR, "maild"), "-t", "-c", m.conf], capture_output=True,
                       text=True, env=m.sb.env(), timeout=10)
    assert re.search(r"aliases %s: \d+ entr(y|ies), read as text at start and on SIGHUP "
                     r"\(newaliases sends it" % re.escape(aliases), r.stderr), r.stderr
    assert r.stderr.count("aliases %s:" % aliases) == 1, r.stderr


def test_s_nail_with_maild_sendmail(maild, tmp_path):
    if shutil.which("s-nail") is None:
        pytest.skip("s-nail not installed")
    sm = wrapper_script(maild, tmp_path)
    r = subprocess.run(["s-nail", "-:/", "-S", "mta=" + sm, "-S", "sendwait",
                        "-s", "from s-nail", "alice@example.test"],
                       input=b"written with s-nail\n", capture_output=True, timeout=30,
                       env=dict(os.environ, HOME=str(tmp_path)))
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(maild, "alice", 1)
    assert msg["Subject"] == "from s-nail"
    assert "written with s-nail" in body_of(msg)


def bsd_mailx(tmp_path):
    """bsd-mailx unpacked (never installed: it depends on an MTA), or None."""
    d = tmp_path / "bsd-mailx"
    d.mkdir()
    for pkg in ("bsd-mailx", "liblockfile1"):
        r = subprocess.run(["apt-get", "download", pkg], cwd=str(d), capture_output=True,
                           timeout=60)
        debs = [f for f in os.listdir(str(d)) if f.startswith(pkg + "_") and f.endswith(".deb")]
        if r.returncode != 0 or not debs:
            return None
        subprocess.run(["dpkg-deb", "-x", str(d / debs[0]), str(d / "root")], check=True, timeout=60)
    prog = d / "root" / "usr" / "bin" / "bsd-mailx"
    return (str(prog), str(d / "root" / "usr" / "lib" / "x86_64-linux-gnu")) if prog.exists() else None


def test_bsd_mailx_with_maild_sendmail(maild, tmp_path):
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("no apt-get/dpkg-deb to fetch bsd-mailx")
    got = bsd_mailx(tmp_path)
    if got is None:
        pytest.skip("bsd-mailx could not be downloaded")
    prog, libdir = got
    sm = wrapper_script(maild, tmp_path)
    rc = tmp_path / "mailrc"
    rc.write_text("set sendmail=%s\n" % sm)
    r = subprocess.run([prog, "-s", "from bsd-mailx", "alice@example.test"],
                       input=b"written with bsd-mailx\n", capture_output=True, timeout=30,
                       env=dict(os.environ, HOME=str(tmp_path), MAILRC=str(rc),
                                LD_LIBRARY_PATH=libdir))
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(maild, "alice", 1)
    assert msg["Subject"] == "from bsd-mailx"
    assert "written with bsd-mailx" in body_of(msg)


def test_queued_while_maild_is_down_delivered_when_it_starts(make_maild):
    m = make_maild()
    m.stop()
    drop = m.sb.path("queue", "maildrop")
    assert os.stat(drop).st_mode & 0o7777 == 0o1733
    assert os.stat(m.sb.path("queue")).st_mode & 0o777 == 0o711
    uid = m.sb.uids["carol"] if IS_ROOT else None
    r = run(m, ["-t"], b"To: alice@example.test\nSubject: while down\n\nqueued\n", uid=uid)
    assert r.returncode == 0, r.stderr
    (name,) = os.listdir(drop)
    st = os.stat(os.path.join(drop, name))
    assert st.st_uid == (uid if uid is not None else os.getuid())
    assert st.st_mode & 0o777 == 0o700
    assert messages(m, "alice") == []
    m.start()
    (msg,) = wait_messages(m, "alice", 1)
    assert msg["Subject"] == "while down" and "queued" in body_of(msg)
    if IS_ROOT:
        # submitted as its owner, whatever the file says
        assert msg["Return-Path"] == "<carol@%s>" % HOST
        assert "from userid %d" % uid in " ".join(msg.get_all("Received"))
    wait_for(lambda: os.listdir(drop) == [], what="maildrop emptied")


def test_maildrop_garbage_is_moved_aside_and_incomplete_files_wait(make_maild):
    m = make_maild()
    m.stop()
    drop = m.sb.path("queue", "maildrop")
    bad = os.path.join(drop, "0123456789abcdef")
    with open(bad, "wb") as f:
        f.write(b"MAILDROP 1\nX forged\n\nnot a maildrop file\n")
    os.chmod(bad, 0o700)
    half = os.path.join(drop, "fedcba9876543210")
    with open(half, "wb") as f:
        f.write(b"MAILDROP 1\nF \nT alice@example.test\n\nstill being written\n")
    os.chmod(half, 0o600)
    m.start()
    m.wait_log(r"pickup: 0123456789abcdef: refused or malformed; moved to")
    assert os.path.exists(m.sb.path("queue", "corrupt", "maildrop-0123456789abcdef"))
    assert not os.path.exists(bad)
    time.sleep(1)
    assert os.path.exists(half) and messages(m, "alice") == []


def test_tempfail_when_neither_maild_nor_maildrop_is_there(make_maild):
    m = make_maild(start=False)
    # never started: no socket and no maildrop directory yet
    r = run(m, ["alice@example.test"], b"Subject: lost\n\nx\n")
    assert r.returncode == EX_TEMPFAIL, r.stderr
    assert b"maildrop" in r.stderr


def smtp_send(m, data, auth):
    import base64
    c = Client(m.smtp_port)
    assert c.smtp_reply()[0] == 220
    c.cmd("EHLO client.example.org")
    assert c.smtp_reply()[0] == 250
    if auth:
        c.cmd("AUTH PLAIN " + base64.b64encode(b"\0alice\0alice-pw-1").decode())
        assert c.smtp_reply()[0] == 235
    for line, want in (("MAIL FROM:<alice@example.test>", 250),
                       ("RCPT TO:<bob@example.test>", 250), ("DATA", 354)):
        c.cmd(line)
        assert c.smtp_reply()[0] == want, line
    c.send(data + b".\r\n")
    assert c.smtp_reply()[0] == 250
    c.cmd("QUIT")


def test_smtp_auth_mail_gets_missing_headers_relayed_mail_does_not(make_maild):
    # RFC 6409 8: completed for an authenticated submitter, with the GECOS name
    m = make_maild(config={"smtp": {"allow_plaintext_auth": True}})
    smtp_send(m, b"Subject: authed\r\n\r\nbody\r\n", auth=True)
    (msg,) = wait_messages(m, "bob", 1)
    assert msg["From"] == '"Alice" <alice@%s>' % HOST
    assert msg["Date"] and msg["Message-ID"].endswith("@%s>" % HOST)
    # mail from another server is never changed
    smtp_send(m, b"Subject: relayed\r\n\r\nbody\r\n", auth=False)
    msgs = wait_messages(m, "bob", 2)
    relayed = [x for x in msgs if x["Subject"] == "relayed"][0]
    assert relayed["From"] is None and relayed["Date"] is None
    assert relayed["Message-ID"] is None


def test_a_stopped_pickup_child_does_not_stall_the_runner(make_maild):
    """The child that submits a maildrop file runs as the file's owner, who
    may stop it (SIGSTOP; here the fault point "stop" does it): the runner
    kills it, leaves the file for later, and goes on delivering mail."""
    m = make_maild(env={"MAILD_FAULT": "pickup.child:stop"})
    m.stop()
    uid = m.sb.uids["carol"] if IS_ROOT else None
    r = run(m, ["-t"], b"To: alice@example.test\nSubject: stopped\n\nx\n", uid=uid)
    assert r.returncode == 0, r.stderr
    m.start()
    m.wait_log(r"pickup: \w+: its submission was stopped by a signal; stopped, "
               r"the file waits")
    # the runner is not stuck in the stopped child: other mail is delivered
    r = run(m, ["bob@example.test"], b"Subject: meanwhile\n\ny\n")
    assert r.returncode == 0, r.stderr
    (msg,) = wait_messages(m, "bob", 1)
    assert msg["Subject"] == "meanwhile"
    assert len(os.listdir(m.sb.path("queue", "maildrop"))) == 1


def test_roots_mail_left_while_down_goes_as_the_maild_user(make_maild):
    if not IS_ROOT:
        pytest.skip("needs a root-owned maildrop file (root only)")
    m = make_maild()
    m.stop()
    r = run(m, ["alice@example.test"], b"Subject: root while down\n\nx\n")
    assert r.returncode == 0, r.stderr
    (name,) = os.listdir(m.sb.path("queue", "maildrop"))
    assert os.stat(m.sb.path("queue", "maildrop", name)).st_uid == 0
    m.start()
    (msg,) = wait_messages(m, "alice", 1)
    # the pickup child never runs as root: the trusted maild user sends it,
    # from root's address
    assert msg["Return-Path"] == "<root@%s>" % HOST
    assert "from userid %d" % m.sb.maild_uid in " ".join(msg.get_all("Received"))


def test_busy_maild_greeting_falls_back_to_the_maildrop(make_maild, tmp_path):
    # a listener that answers like a full pool (master_pool.c's refusal)
    import socket
    import threading
    m = make_maild()
    m.stop()
    path = m.config["submit"]["socket"]
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def refuse():
        c, _ = srv.accept()
        c.sendall(b"421 4.7.0 mx.example.test all workers are busy, try again later\r\n")
        c.close()
    t = threading.Thread(target=refuse)
    t.start()
    r = run(m, ["alice@example.test"], b"Subject: busy\n\nx\n")
    t.join(10)
    srv.close()
    os.unlink(path)
    assert r.returncode == 0, r.stderr
    assert len(os.listdir(m.sb.path("queue", "maildrop"))) == 1
    m.start()
    (msg,) = wait_messages(m, "alice", 1)
    assert msg["Subject"] == "busy"
