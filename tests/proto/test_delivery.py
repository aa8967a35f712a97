"""Queue and local delivery: crash safety, locked and hostile maildrops,
bounces, a real client (swaks), and full disks: a maildrop written with
its user's identity (quotas and the root reserve apply), and the queue's
free-space reserve (queue.min_free)."""
import contextlib
import errno
import fcntl
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from maildtest import USERS, Client, alive, proc_tree, wait_for
from test_smtp import connect, ehlo, messages, msg, send, start_data, wait_messages


def queue_files(m, sub):
    return sorted(os.listdir(m.sb.path("queue", sub)))


@contextlib.contextmanager
def held_maildrop(m, user):
    """Holds user's maildrop fcntl-locked, as a POP3 session or MUA would."""
    path = m.sb.path("spool", user)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if os.geteuid() == 0:
        os.fchown(fd, m.sb.uids[user], m.sb.mail_gid)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    try:
        yield path
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)


def age_queued(m, qid, seconds):
    """Moves a deferred message's arrival time back (same width, in place)."""
    qf = m.sb.path("queue", "deferred", qid)
    data = open(qf, "rb").read()
    old = re.search(rb"\nT (\d+)\n", data).group(1)
    with open(qf, "r+b") as f:
        f.seek(data.index(b"\nT " + old) + 3)
        f.write(b"%0*d" % (len(old), int(old) - seconds))


def test_worker_killed_mid_data_leaves_nothing(maild):
    c = start_data(maild)
    c.send("Subject: doomed\r\n\r\n" + "data line\r\n" * 1000)
    port = c.sock.getsockname()[1]
    mm = maild.wait_log(r"smtpd\[(\d+)\]: sid=\S+ connect from 127\.0\.0\.1:%d " % port)
    os.kill(int(mm.group(1)), signal.SIGKILL)
    assert c.closed()
    time.sleep(1.0)
    assert messages(maild, "alice") == []
    assert queue_files(maild, "incoming") == []
    assert queue_files(maild, "active") == []
    assert queue_files(maild, "deferred") == []


def test_monitor_killed_mid_data_leaves_nothing_in_incoming(maild):
    # the monitor writing the queue file dies: the file it left in
    # incoming/ was never acknowledged, and the runner removes it (no
    # writer holds it any more) without waiting for a restart
    c = start_data(maild)
    c.send("Subject: doomed\r\n\r\n" + "data line\r\n" * 1000)
    wait_for(lambda: queue_files(maild, "incoming"), what="a file in incoming/")
    mon = session_monitor(maild, c)
    os.kill(mon, signal.SIGKILL)
    assert c.closed()
    wait_for(lambda: queue_files(maild, "incoming") == [], timeout=30,
             what="incoming/ to be cleaned")
    maild.wait_log(r"removed unfinished incoming message")
    assert messages(maild, "alice") == []
    assert queue_files(maild, "active") == [] and queue_files(maild, "deferred") == []


def test_slow_message_in_incoming_is_not_cleaned(maild):
    # a message still arriving after the cleaner's grace stays: its
    # monitor holds the file, and the client gets its 250 in the end
    c = start_data(maild)
    c.send("Subject: slow\r\n\r\nfirst part\r\n")
    wait_for(lambda: queue_files(maild, "incoming"), what="a file in incoming/")
    time.sleep(16)      # grace 5 s, and a runner rescan (every 10 s)
    assert len(queue_files(maild, "incoming")) == 1
    c.send("second part\r\n.\r\n")
    assert c.smtp_reply()[0] == 250
    (got,) = wait_messages(maild, "alice", 1)
    assert got.get_payload() == "first part\nsecond part\n"


@pytest.mark.parametrize("point", ["mbox_append.mid_write", "mbox_append.after_write",
                                   "mbox_append.after_fsync"])
def test_deliverer_killed_mid_append_recovers_exactly_once(make_maild, point):
    stamp = "/tmp/maild-fault-%d-%s" % (os.getpid(), point)
    if os.path.exists(stamp):
        os.unlink(stamp)
    m = make_maild(env={"MAILD_FAULT": point + ":kill", "MAILD_FAULT_ONCE": stamp})
    try:
        for i in range(3):
            assert send(m, "s@example.org", ["alice@example.test"],
                        msg("m%d" % i, "body %d\r\n" % i))[0] == 250
        m.wait_log("fault point %s: kill" % point)
        ms = wait_messages(m, "alice", 3, timeout=20)
        assert sorted(x["Subject"] for x in ms) == ["m0", "m1", "m2"]
        for x in ms:
            n = int(x["Subject"][1])
            assert x.get_payload() == "body %d\n" % n
        # and it stays that way: nothing is delivered twice later
        time.sleep(2)
        assert len(messages(m, "alice")) == 3
        wait_for(lambda: queue_files(m, "active") == [] and
                 queue_files(m, "deferred") == [], what="empty queue")
    finally:
        if os.path.exists(stamp):
            os.unlink(stamp)


def test_locked_maildrop_defers_then_arrives(maild):
    with held_maildrop(maild, "alice") as path:
        assert send(maild, "s@example.org", ["alice@example.test"],
                    msg("waited"))[0] == 250
        maild.wait_log(r"deferred to=<alice@example\.test>.*in use")
        time.sleep(1.5)
        assert os.path.getsize(path) == 0
    t0 = time.monotonic()
    wait_messages(maild, "alice", 1, timeout=10)
    assert time.monotonic() - t0 < 5


def test_symlinked_maildrop_is_refused(maild, tmp_path):
    target = tmp_path / "victim"
    target.write_bytes(b"")
    os.chmod(str(tmp_path), 0o755)
    os.symlink(str(target), maild.sb.path("spool", "alice"))
    assert send(maild, "s@example.org", ["alice@example.test"], msg("evil"))[0] == 250
    maild.wait_log(r"deferred to=<alice@example\.test>")
    time.sleep(0.5)
    assert target.read_bytes() == b""
    assert os.path.islink(maild.sb.path("spool", "alice"))
    # the message is kept, not lost
    assert len(queue_files(maild, "deferred")) == 1


def test_hard_linked_maildrop_is_refused(maild, tmp_path):
    other = maild.sb.path("spool", "decoy")
    with open(other, "wb"):
        pass
    if os.geteuid() == 0:
        os.chown(other, maild.sb.uids["alice"], maild.sb.mail_gid)
    os.link(other, maild.sb.path("spool", "alice"))
    assert send(maild, "s@example.org", ["alice@example.test"], msg("evil"))[0] == 250
    maild.wait_log(r"deferred to=<alice@example\.test>")
    assert os.path.getsize(other) == 0


def test_new_maildrop_mode_and_owner(maild):
    assert send(maild, "s@example.org", ["carol@example.test"], msg("hi"))[0] == 250
    wait_messages(maild, "carol", 1)
    st = os.stat(maild.sb.path("spool", "carol"))
    assert st.st_mode & 0o777 == 0o600
    if os.geteuid() == 0:
        assert st.st_uid == maild.sb.uids["carol"]
        assert st.st_gid == maild.sb.mail_gid


def test_expired_message_bounces_to_sender(maild):
    # a message that cannot be delivered for longer than queue.max_lifetime
    # goes back to its sender as a DSN: hold carol's maildrop locked, age
    # the queued message, then let the runner try again
    with held_maildrop(maild, "carol") as path:
        assert send(maild, "alice@example.test", ["carol@example.test"],
                    msg("to carol"))[0] == 250
        maild.wait_log(r"deferred to=<carol@example\.test>")
        (qid,) = wait_for(lambda: queue_files(maild, "deferred"), what="deferred file")
        age_queued(maild, qid, 6 * 86400)
        maild.wait_log(r"id=%s: bounced to=<carol@example\.test>.*5\.4\.7" % qid)
    (b,) = wait_messages(maild, "alice", 1, timeout=10)
    assert b["From"].startswith("MAILER-DAEMON@")
    assert b["Auto-Submitted"] == "auto-replied"
    assert b.get_content_type() == "multipart/report"
    assert b["Return-Path"] == "<>"
    ds = b.get_payload()[1]
    assert ds.get_content_type() == "message/delivery-status"
    text = ds.as_string()
    assert "Status: 5.4.7" in text and "carol@example.test" in text
    # the original is returned inside the report
    assert "Subject: to carol" in b.as_string()
    # carol got nothing, and the queue is empty
    time.sleep(0.5)
    assert os.path.getsize(path) == 0
    wait_for(lambda: queue_files(maild, "deferred") == [] and
             queue_files(maild, "active") == [], what="empty queue")


def test_bounce_of_a_bounce_is_dropped(maild):
    with held_maildrop(maild, "carol") as path:
        assert send(maild, "", ["carol@example.test"], msg("null sender"))[0] == 250
        maild.wait_log(r"deferred to=<carol@example\.test>")
        (qid,) = wait_for(lambda: queue_files(maild, "deferred"), what="deferred file")
        age_queued(maild, qid, 6 * 86400)
        maild.wait_log(r"id=%s: not bouncing a bounce" % qid)
    wait_for(lambda: queue_files(maild, "deferred") == [], what="empty queue")
    time.sleep(0.5)
    assert os.path.getsize(path) == 0


def test_swaks_delivers(maild):
    if shutil.which("swaks") is None:
        pytest.skip("swaks not installed")
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(maild.smtp_port),
                        "--from", "swaks@example.org", "--to", "bob@example.test",
                        "--helo", "swaks.example.org", "--header", "Subject: via swaks",
                        "--body", "Sent by swaks."],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250 2.0.0 Ok: queued as" in r.stdout
    (m,) = wait_messages(maild, "bob", 1)
    assert m["Subject"] == "via swaks"
    assert "Sent by swaks." in m.get_payload()


def test_maild_q_and_l(make_maild):
    m = make_maild()
    with held_maildrop(m, "alice") as path:
        assert send(m, "s@example.org", ["alice@example.test"], msg("listed"))[0] == 250
        m.wait_log(r"deferred to=<alice@example\.test>")
        r = subprocess.run([os.path.join(os.environ.get("MAILD_BUILDDIR", "."), "maild"),
                            "-l", "-c", m.conf], capture_output=True, text=True,
                           env=m.sb.env(), timeout=10)
        assert r.returncode == 0
        assert "deferred" in r.stdout and "<alice@example.test>" in r.stdout
        assert "-- 1 message" in r.stdout
    wait_messages(m, "alice", 1)


@pytest.mark.parametrize("fault", ["mbox_append.mid_write:kill:2",
                                   "mbox_append.after_write:kill:3",
                                   "deliver.before_fsync:kill"])
def test_batch_killed_midway_recovers_exactly_once(make_maild, fault):
    # five messages wait behind a locked maildrop, then go in one batch;
    # the runner dies inside it and the next one must settle the batch
    stamp = "/tmp/maild-fault-%d-batch" % os.getpid()
    if os.path.exists(stamp):
        os.unlink(stamp)
    m = make_maild(env={"MAILD_FAULT": fault, "MAILD_FAULT_ONCE": stamp})
    with held_maildrop(m, "alice") as path:
        c = connect(m)
        ehlo(c)
        for i in range(5):
            assert send(m, "s@example.org", ["alice@example.test"],
                        msg("b%d" % i, "batch body %d\r\n" % i), c)[0] == 250
        c.cmd("QUIT")
        c.smtp_reply()
        wait_for(lambda: len(queue_files(m, "deferred")) == 5, what="5 deferred")
    m.wait_log("fault point %s: kill" % fault.split(":")[0])
    ms = wait_messages(m, "alice", 5, timeout=20)
    assert sorted(x["Subject"] for x in ms) == ["b%d" % i for i in range(5)]
    for x in ms:
        assert x.get_payload() == "batch body %s\n" % x["Subject"][1]
    time.sleep(2)
    assert len(messages(m, "alice")) == 5
    wait_for(lambda: queue_files(m, "active") == [] and
             queue_files(m, "deferred") == [], what="empty queue")
    if os.path.exists(stamp):
        os.unlink(stamp)


def test_journal_compacted_when_idle_not_after_every_message(make_maild):
    # compacting the journal costs three syncs; one message at a time
    # (each its own batch) must not pay them every time, but once the
    # runner has nothing to do the journal is emptied
    m = make_maild(env={"MAILD_FAULT": "journal.compact:log:0"})
    c = connect(m)
    ehlo(c)
    for i in range(10):
        assert send(m, "s@example.org", ["alice@example.test"],
                    msg("j%d" % i), c)[0] == 250
        wait_messages(m, "alice", i + 1)
    c.cmd("QUIT")
    c.smtp_reply()
    journal = m.sb.path("queue", "journal")
    wait_for(lambda: os.path.getsize(journal) == 0, timeout=10,
             what="the journal compacted once idle")
    hits = len(re.findall(r"fault point journal\.compact", m.log()))
    assert 1 <= hits <= 5, "%d compactions for 10 messages" % hits


def test_messages_one_by_one_share_batches(make_maild):
    # while mail streams in, the runner starts a batch at most every
    # 20 ms, so that messages arriving one by one share its two syncs
    m = make_maild(env={"MAILD_FAULT": "queue.batch:log:0"})
    c = connect(m)
    ehlo(c)
    for i in range(12):
        assert send(m, "s@example.org", ["alice@example.test"],
                    msg("g%d" % i), c)[0] == 250
    c.cmd("QUIT")
    c.smtp_reply()
    wait_messages(m, "alice", 12)
    stamps = []
    for h, mi, sec in re.findall(r"(\d\d):(\d\d):(\d\d\.\d\d\d) maild-queue\[\d+\]: "
                                 r"fault point queue\.batch", m.log()):
        stamps.append((int(h) * 60 + int(mi)) * 60 + float(sec))
    assert 1 <= len(stamps) <= 12
    gaps = [b - a for a, b in zip(stamps, stamps[1:]) if b >= a]  # not over midnight
    assert all(g >= 0.018 for g in gaps), gaps


# --- full disks ------------------------------------------------------------------

FAST_RETRY = {"queue": {"retry_min": "2s", "retry_max": "2s"}}
OLD_MAILDROP = b"From old@example.org Tue Nov 14 22:13:20 2023\nSubject: old\n\nold\n\n"


def own_maildrop(m, user, data=b""):
    """Makes user's maildrop as maild would (0600 user:mail) holding data."""
    path = m.sb.path("spool", user)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if os.geteuid() == 0:
            os.fchown(fd, m.sb.uids[user], m.sb.mail_gid)
        os.write(fd, data)
    finally:
        os.close(fd)
    return path


def assert_maildrop_owner(m, user):
    st = os.stat(m.sb.path("spool", user))
    assert st.st_mode & 0o7777 == 0o600
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (m.sb.uids[user], m.sb.mail_gid)


@contextlib.contextmanager
def small_fs(path, megabytes, reserved_pct):
    """A fresh ext4 of that size, with that root reserve, mounted on path
    (a loop device: root only). Always unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a file system")
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("no mkfs.ext4")
    img = path.rstrip("/") + ".img"
    with open(img, "wb") as f:
        f.truncate(megabytes << 20)
    try:
        r = subprocess.run(["mkfs.ext4", "-q", "-F", "-m", str(reserved_pct), img],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            pytest.skip("mkfs.ext4 failed: " + r.stderr.strip())
        r = subprocess.run(["mount", "-o", "loop", img, path], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            pytest.skip("cannot mount a loop device: " + r.stderr.strip())
        try:
            yield path
        finally:
            for _ in range(50):
                if subprocess.run(["umount", path], capture_output=True,
                                  timeout=60).returncode == 0:
                    break
                time.sleep(0.2)
            else:
                subprocess.run(["umount", "-l", path], capture_output=True, timeout=60)
    finally:
        os.unlink(img)


def fill_as_user(path, uid, limit):
    """Writes path as uid until the file system refuses (ENOSPC) or limit
    bytes are written; returns how many were. A user stops at the root
    reserve; root would not."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchown(fd, uid, uid)
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        n = 0
        try:
            os.close(rd)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            buf = b"\0" * 65536
            while n < limit:
                n += os.write(fd, buf[:min(len(buf), limit - n)])
            os.fsync(fd)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                n = -1
        finally:
            os.write(wr, b"%d" % n)
            os._exit(0)
    os.close(wr)
    os.close(fd)
    got = int(os.read(rd, 64) or b"-1")
    os.close(rd)
    os.waitpid(pid, 0)
    assert got >= 0, "filling %s failed" % path
    return got


def user_free(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_full_maildrop_file_system_defers_without_using_root_reserve(make_maild, sandbox):
    # the spool on an ext4 with a 25% root reserve, filled by a user up
    # to that reserve: the deliverer writes as alice, so the disk is full
    # for it too; mail waits in the queue, the maildrop stays as it was
    spool = sandbox.path("spool")
    with small_fs(spool, 8, 25):
        os.chmod(spool, 0o775)
        m = make_maild(config=FAST_RETRY)
        try:
            path = own_maildrop(m, "alice", OLD_MAILDROP)
            filler = os.path.join(spool, "filler")
            fill_as_user(filler, 65534, 64 << 20)
            assert user_free(spool) < 64 << 10
            reserve = os.statvfs(spool).f_bfree * os.statvfs(spool).f_frsize
            assert reserve > 1 << 20     # root could still write here
            assert send(m, "s@example.org", ["alice@example.test"],
                        msg("waits", ("x" * 998 + "\r\n") * 100))[0] == 250
            m.wait_log(r"deferred to=<alice@example\.test>.*4\.3\.1 mail system full")
            with open(path, "rb") as f:
                assert f.read() == OLD_MAILDROP
            assert len(queue_files(m, "deferred")) == 1
            # space back: delivered at the next try
            os.unlink(filler)
            ms = wait_messages(m, "alice", 2, timeout=20)
            assert [x["Subject"] for x in ms] == ["old", "waits"]
            assert_maildrop_owner(m, "alice")
            wait_for(lambda: queue_files(m, "deferred") == [] and
                     queue_files(m, "active") == [], what="empty queue")
        finally:
            m.stop()


def test_mailbox_full_defers_and_keeps_the_maildrop(make_maild):
    # EDQUOT from the maildrop (simulated: kernel quotas are not
    # available everywhere, and not at all without root): the delivery is
    # deferred as 4.2.2, the maildrop cut back, and the next try delivers
    m = make_maild(config=FAST_RETRY,
                   env={"MAILD_FAULT": "mbox_append.mid_write:edquot"})
    path = own_maildrop(m, "alice", OLD_MAILDROP)
    assert send(m, "s@example.org", ["alice@example.test"], msg("over quota"))[0] == 250
    m.wait_log(r"deferred to=<alice@example\.test>.*4\.2\.2 mailbox full")
    with open(path, "rb") as f:
        assert f.read() == OLD_MAILDROP
    ms = wait_messages(m, "alice", 2, timeout=20)
    assert [x["Subject"] for x in ms] == ["old", "over quota"]
    assert_maildrop_owner(m, "alice")


def smtp_tx(m, c, mail_args=""):
    c.cmd("MAIL FROM:<s@example.org>" + mail_args)
    return c.smtp_reply()


def test_queue_below_min_free_refuses_mail_with_452(make_maild, sandbox):
    # the queue on a 16 MB file system, queue.min_free 4M: MAIL is
    # refused when less is free, or when the declared SIZE would go below
    # it; DATA when the message went below it; and all is well again when
    # space is back
    queue = sandbox.path("queue")
    with small_fs(queue, 16, 0):
        os.chmod(queue, 0o755)
        cfg = {"queue": {"min_free": "4M"}}
        m = make_maild(config=cfg)
        try:
            filler = os.path.join(queue, "filler")
            c = connect(m)
            ehlo(c)
            assert smtp_tx(m, c)[0] == 250
            c.cmd("RSET")
            assert c.smtp_reply()[0] == 250
            # leave about 4.5M: a plain MAIL passes, one saying 1M does not
            fill_as_user(filler, 0, user_free(queue) - (4608 << 10))
            assert 4 << 20 < user_free(queue) < 5 << 20
            code, lines = smtp_tx(m, c, " SIZE=1048576")
            assert (code, lines[0][:5]) == (452, "4.3.1"), lines
            assert smtp_tx(m, c)[0] == 250
            c.cmd("RCPT TO:<alice@example.test>")
            assert c.smtp_reply()[0] == 250
            c.cmd("DATA")
            assert c.smtp_reply()[0] == 354
            c.send(msg("big", ("y" * 998 + "\r\n") * 1100))
            code, lines = c.smtp_reply()
            assert (code, lines[0][:5]) == (452, "4.3.1"), lines
            assert queue_files(m, "incoming") == []
            assert queue_files(m, "active") == [] and queue_files(m, "deferred") == []
            m.wait_log(r"mail refused: \d+ bytes free in queue_dir")
            # below the reserve: every MAIL is refused
            fill_as_user(filler, 0, user_free(queue) - (1 << 20))
            code, lines = smtp_tx(m, c)
            assert (code, lines[0][:5]) == (452, "4.3.1"), lines
            # space back
            os.unlink(filler)
            assert send(m, "s@example.org", ["alice@example.test"], msg("after"), c)[0] == 250
            c.cmd("QUIT")
            c.smtp_reply()
            wait_messages(m, "alice", 1)
        finally:
            m.stop()


def refused_452(m, c, body):
    """One transaction on c whose message the queue cannot store: the
    refusal may come at DATA (the queue file's envelope did not fit) or
    after the data; either way 452 4.3.1, never 250."""
    assert smtp_tx(m, c)[0] == 250
    c.cmd("RCPT TO:<alice@example.test>")
    assert c.smtp_reply()[0] == 250
    c.cmd("DATA")
    code, lines = c.smtp_reply()
    if code == 354:
        c.send(body)
        code, lines = c.smtp_reply()
    assert (code, lines[0][:5]) == (452, "4.3.1"), (code, lines)
    if code != 250:
        c.cmd("RSET")
        assert c.smtp_reply()[0] == 250


def assert_queue_empty(m):
    for sub in ("incoming", "active", "deferred"):
        assert queue_files(m, sub) == [], sub


def test_queue_file_system_really_full_answers_452(make_maild, sandbox):
    # the reserve check off (min_free 0), the queue's own file system
    # full to the last block: no 250, no torn queue file, nothing left
    # in incoming/; the next message after space is back is delivered
    queue = sandbox.path("queue")
    with small_fs(queue, 8, 0):
        os.chmod(queue, 0o755)
        m = make_maild(config={"queue": {"min_free": 0}})
        try:
            filler = os.path.join(queue, "filler")
            fill_as_user(filler, 0, 64 << 20)
            c = connect(m)
            ehlo(c)
            refused_452(m, c, msg("full", ("z" * 70 + "\r\n") * 2000))
            assert_queue_empty(m)
            # room for the envelope but not the message
            os.truncate(filler, os.path.getsize(filler) - (48 << 10))
            refused_452(m, c, msg("too big", ("z" * 70 + "\r\n") * 4000))
            assert_queue_empty(m)
            m.wait_log(r"write queue file \S+: No space left on device")
            os.unlink(filler)
            assert send(m, "s@example.org", ["alice@example.test"],
                        msg("after"), c)[0] == 250
            c.cmd("QUIT")
            c.smtp_reply()
            (got,) = wait_messages(m, "alice", 1)
            assert got["Subject"] == "after"
            time.sleep(1)
            assert len(messages(m, "alice")) == 1
        finally:
            m.stop()


def test_delivery_with_the_queue_full_is_exactly_once(make_maild, sandbox):
    # a message waits (its maildrop is busy) while the queue's file
    # system fills up to the last block. The runner needs little there
    # (a journal record, often inside a block it has, in-place marks):
    # it delivers, or defers when the journal cannot grow; either way the
    # maildrop is never torn, and with space back the message is there
    # exactly once
    queue = sandbox.path("queue")
    with small_fs(queue, 8, 0):
        os.chmod(queue, 0o755)
        m = make_maild(config=merge_cfg(FAST_RETRY, {"queue": {"min_free": 0}}))
        try:
            own_maildrop(m, "alice", OLD_MAILDROP)
            filler = os.path.join(queue, "filler")
            with held_maildrop(m, "alice"):
                assert send(m, "s@example.org", ["alice@example.test"],
                            msg("waits"))[0] == 250
                m.wait_log(r"deferred to=<alice@example\.test>.*in use")
                fill_as_user(filler, 0, 64 << 20)
            time.sleep(5)
            assert [x["Subject"] for x in messages(m, "alice")] in \
                (["old"], ["old", "waits"])
            assert queue_files(m, "incoming") == []
            os.unlink(filler)
            ms = wait_messages(m, "alice", 2, timeout=30)
            assert [x["Subject"] for x in ms] == ["old", "waits"]
            wait_for(lambda: queue_files(m, "deferred") == [] and
                     queue_files(m, "active") == [], what="empty queue")
            time.sleep(2.5)
            assert len(messages(m, "alice")) == 2
        finally:
            m.stop()


def pop3_session(m, user, cmds):
    """Logs user in over POP3, runs cmds; returns their replies' first
    lines (the QUIT reply last when cmds end with QUIT)."""
    c = Client(m.pop3_port)
    try:
        assert c.readline().startswith("+OK")
        out = []
        for line in ["USER " + user, "PASS " + USERS[user]] + cmds:
            c.cmd(line)
            out.append(c.readline())
        return out[2:]
    finally:
        c.close()


def test_pop3_update_on_a_full_spool_keeps_the_old_maildrop(make_maild, sandbox):
    # DELE of a middle message makes QUIT copy the kept messages to a new
    # file: on a full spool that fails, the client hears -ERR, and the
    # maildrop is exactly as it was; with space back the update works
    spool = sandbox.path("spool")
    with small_fs(spool, 8, 0):
        os.chmod(spool, 0o775)
        m = make_maild()
        try:
            big = b"".join(b"From s@example.org Tue Nov 14 22:13:2%d 2023\n"
                           b"Subject: m%d\n\n" % (i, i) +
                           (b"%d" % i) * 70 * 10000 + b"\n\n" for i in range(3))
            path = own_maildrop(m, "alice", big)
            filler = os.path.join(spool, "filler")
            fill_as_user(filler, 0, 64 << 20)
            replies = pop3_session(m, "alice", ["STAT", "DELE 2", "QUIT"])
            assert replies[0].startswith("+OK 3 ")
            assert replies[1].startswith("+OK")
            assert replies[2].startswith("-ERR [SYS/TEMP]"), replies
            assert "no messages were deleted" in replies[2]
            with open(path, "rb") as f:
                assert f.read() == big
            assert not os.path.exists(os.path.join(spool, ".alice.pop3-update"))
            assert pop3_session(m, "alice", ["STAT", "QUIT"])[0].startswith("+OK 3 ")
            os.unlink(filler)
            replies = pop3_session(m, "alice", ["DELE 2", "QUIT"])
            assert replies[1].startswith("+OK"), replies
            assert [x["Subject"] for x in messages(m, "alice")] == ["m0", "m2"]
            assert_maildrop_owner(m, "alice")
        finally:
            m.stop()


def test_monitor_out_of_descriptors_refuses_at_data(make_maild):
    # the SMTP monitor at its RLIMIT_NOFILE (prlimit on the running
    # process): the queue file cannot be opened, the client hears 451 at
    # DATA, before it sends the message, the log says why, nothing is
    # left in the queue; the POP3 pool is not touched
    if shutil.which("prlimit") is None:
        pytest.skip("no prlimit")
    one = {"pool": {"min_spare": 1, "max_spare": 1, "max_workers": 1}}
    m = make_maild(config={"smtp": one})
    (mon,) = m.monitors("smtpd")
    nfd = len(os.listdir("/proc/%d/fd" % mon))
    r = subprocess.run(["prlimit", "--pid", str(mon), "--nofile=%d" % nfd],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        pytest.skip("prlimit --pid: " + r.stderr.strip())
    c = connect(m)
    ehlo(c)
    assert smtp_tx(m, c)[0] == 250
    c.cmd("RCPT TO:<alice@example.test>")
    assert c.smtp_reply()[0] == 250
    c.cmd("DATA")
    code, lines = c.smtp_reply()
    assert code == 451 and lines[0].startswith("4.3.0"), lines
    m.wait_log(r"smtpd-priv\[%d\]: .*: Too many open files" % mon)
    assert_queue_empty(m)
    # the session goes on; the other pool serves as before
    c.cmd("NOOP")
    assert c.smtp_reply()[0] == 250
    assert pop3_session(m, "bob", ["STAT", "QUIT"])[0].startswith("+OK 0 ")
    c.cmd("QUIT")
    c.smtp_reply()


def merge_cfg(*parts):
    out = {}
    for p in parts:
        for k, v in p.items():
            if isinstance(v, dict):
                out.setdefault(k, {}).update(v)
            else:
                out[k] = v
    return out


@pytest.mark.parametrize("fault,want", [
    ("queue.write:enospc", "452 4.3.1"),
    ("queue.before_fsync:enospc", "452 4.3.1"),
    ("queue.before_fsync:edquot", "452 4.3.1"),
    ("queue.dir_fsync:eio", "451 4.3.0"),
])
def test_queue_write_failure_is_a_temporary_refusal(make_maild, fault, want):
    # the same without a mount (any user): a full disk at each step of
    # writing the queue file is 452 4.3.1, and nothing is left behind
    m = make_maild(env={"MAILD_FAULT": fault})
    c = connect(m)
    ehlo(c)
    assert smtp_tx(m, c)[0] == 250
    c.cmd("RCPT TO:<alice@example.test>")
    assert c.smtp_reply()[0] == 250
    c.cmd("DATA")
    assert c.smtp_reply()[0] == 354
    c.send(msg("refused", "x\r\n" * 100))
    code, lines = c.smtp_reply()
    assert "%d %s" % (code, lines[0][:5]) == want, lines
    assert_queue_empty(m)
    # the fault fired once: the next message goes through
    assert send(m, "s@example.org", ["alice@example.test"], msg("ok"), c)[0] == 250
    (got,) = wait_messages(m, "alice", 1)
    assert got["Subject"] == "ok"


def test_file_size_limit_is_a_full_disk_not_a_crash(make_maild):
    # RLIMIT_FSIZE (prlimit) on the daemon: the monitor's write past it
    # fails with EFBIG (SIGXFSZ ignored) and the client gets 452 4.3.1
    # rather than a dropped connection; smaller mail still goes through
    if shutil.which("prlimit") is None:
        pytest.skip("no prlimit")
    m = make_maild(start=False)
    m.wrapper = ["prlimit", "--fsize=%d" % (512 << 10)]
    m.start()
    c = connect(m)
    ehlo(c)
    refused_452(m, c, msg("big", ("f" * 98 + "\r\n") * 8000))
    assert_queue_empty(m)
    assert send(m, "s@example.org", ["alice@example.test"], msg("small"), c)[0] == 250
    (got,) = wait_messages(m, "alice", 1)
    assert got["Subject"] == "small"
    assert "killed by signal" not in m.log()


# --- an alias that fails part-way (a member is not a user) -----------------
# aliases are resolved by the root monitor; a refused RCPT must leave its
# transaction exactly as it was, whatever the alias had expanded so far

PARTLY_BAD = "team: alice, nosuchuser_zz\n"


def alias_maild(make_maild, sandbox, text=PARTLY_BAD):
    path = sandbox.path("aliases")
    with open(path, "w") as f:
        f.write(text)
    return make_maild(config={"aliases": path})


def session_monitor(m, c):
    """The pid of the monitor that serves client c's session."""
    port = c.sock.getsockname()[1]
    mm = m.wait_log(r"smtpd\[(\d+)\]: sid=\S+ connect from 127\.0\.0\.1:%d " % port)
    return proc_tree()[int(mm.group(1))][0]


def envelope_rcpts(m, qid):
    """The R lines of a queued file: [(user, original recipient)]."""
    def read():
        for sub in ("deferred", "active"):
            with contextlib.suppress(FileNotFoundError):
                with open(m.sb.path("queue", sub, qid), "rb") as f:
                    return f.read()
        return None     # moved between the two: look again
    env = wait_for(read, what="queue file %s" % qid).split(b"\n\n", 1)[0].decode()
    return [tuple(line.split(" ")[3:5]) for line in env.split("\n")
            if line.startswith("R ")]


def test_partly_failing_alias_then_quit_keeps_the_monitor(make_maild, sandbox):
    m = alias_maild(make_maild, sandbox)
    c = connect(m)
    ehlo(c)
    mon = session_monitor(m, c)
    c.cmd("MAIL FROM:<>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<team@localhost>")
    code, lines = c.smtp_reply()
    assert code == 550 and lines[0].startswith("5.1.1"), lines
    c.cmd("QUIT")
    assert c.smtp_reply()[0] == 221
    assert c.closed()
    # the end of the session frees the transaction in the monitor
    m.wait_log(r"sid=\S+ disconnect client=127\.0\.0\.1 ")
    time.sleep(1.0)
    assert "killed by signal" not in m.log()
    assert alive(mon)


def test_partly_failing_alias_then_rset_goes_on(make_maild, sandbox):
    m = alias_maild(make_maild, sandbox)
    c = connect(m)
    ehlo(c)
    mon = session_monitor(m, c)
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<team@example.test>")
    assert c.smtp_reply()[0] == 550
    c.cmd("RSET")
    assert c.smtp_reply()[0] == 250
    # the same session, the same monitor: a whole transaction still works
    assert send(m, "s@example.org", ["bob@example.test"], msg("after rset"), c)[0] == 250
    c.cmd("QUIT")
    assert c.smtp_reply()[0] == 221
    assert wait_messages(m, "bob", 1)[0]["Subject"] == "after rset"
    assert alive(mon)
    assert messages(m, "alice") == []
    assert "killed by signal" not in m.log()


def test_partly_failing_alias_queues_only_accepted_recipients(make_maild, sandbox):
    m = alias_maild(make_maild, sandbox)
    with held_maildrop(m, "bob"), held_maildrop(m, "carol"):
        c = connect(m)
        ehlo(c)
        mon = session_monitor(m, c)
        c.cmd("MAIL FROM:<s@example.org>")
        assert c.smtp_reply()[0] == 250
        c.cmd("RCPT TO:<bob@example.test>")
        assert c.smtp_reply()[0] == 250
        c.cmd("RCPT TO:<team@example.test>")
        code, lines = c.smtp_reply()
        assert code == 550 and lines[0].startswith("5.1.1"), lines
        c.cmd("RCPT TO:<carol@example.test>")
        assert c.smtp_reply()[0] == 250
        c.cmd("DATA")
        assert c.smtp_reply()[0] == 354
        c.send(msg("not for team"))
        code, lines = c.smtp_reply()
        # committed and acknowledged once: no 421 that makes the client resend
        assert code == 250 and "queued as" in lines[0], (code, lines)
        qid = lines[0].split()[-1]
        c.cmd("NOOP")
        assert c.smtp_reply()[0] == 250
        c.cmd("QUIT")
        assert c.smtp_reply()[0] == 221
        m.wait_log(r"deferred to=<carol@example\.test>")
        assert envelope_rcpts(m, qid) == [("bob", "bob@example.test"),
                                          ("carol", "carol@example.test")]
    assert wait_messages(m, "bob", 1)[0]["Subject"] == "not for team"
    assert wait_messages(m, "carol", 1)[0]["Subject"] == "not for team"
    wait_for(lambda: queue_files(m, "active") == [] and
             queue_files(m, "deferred") == [], what="empty queue")
    assert messages(m, "alice") == []
    assert alive(mon)
    assert "killed by signal" not in m.log()


# --- spare queue files (queue_dir/free/) -----------------------------------------

def queued_id(reply):
    return re.search(r"queued as (\S+)", " ".join(reply[1])).group(1)


def test_a_finished_queue_file_is_written_over_by_the_next_message(maild):
    # the first message's file is kept in free/ after delivery; the
    # second, much shorter one is written over it and must come out
    # whole, with nothing of the first after it
    big = "".join("line %05d of the first message\r\n" % i for i in range(3000))
    r1 = send(maild, "s@example.org", ["alice@example.test"], msg("first", big))
    assert r1[0] == 250
    q1 = queued_id(r1)
    wait_messages(maild, "alice", 1)
    wait_for(lambda: q1 in queue_files(maild, "free"), what="the finished file in free/")
    spare = os.stat(maild.sb.path("queue", "free", q1))
    r2 = send(maild, "s@example.org", ["alice@example.test"], msg("second", "short\r\n"))
    assert r2[0] == 250
    q2 = queued_id(r2)
    first, second = wait_messages(maild, "alice", 2)
    assert first["Subject"] == "first" and first.get_payload() == big.replace("\r\n", "\n")
    assert second["Subject"] == "second" and second.get_payload() == "short\n"
    # the same file carried the second message and went back to free/
    wait_for(lambda: q2 in queue_files(maild, "free"), what="the second file in free/")
    assert q1 not in queue_files(maild, "free")
    st = os.stat(maild.sb.path("queue", "free", q2))
    assert st.st_ino == spare.st_ino and st.st_size < spare.st_size
    assert queue_files(maild, "incoming") == [] and queue_files(maild, "active") == []


def test_what_is_not_a_spare_in_free_is_removed_never_written(make_maild):
    # free/ is the queue's own (root only); still, nothing there is
    # written over unless it is a plain one-link 0600 file of the queue's
    # owner, at most 1 MiB: a symbolic link, a second link to another
    # file, another mode or a huge file is removed, and its target kept
    m = make_maild(start=False)
    free = m.sb.path("queue", "free")
    os.makedirs(free, exist_ok=True)
    victim = m.sb.path("victim")
    with open(victim, "w") as f:
        f.write("keep me\n")
    names = ["01MH100000000%03d" % i for i in range(4)]
    os.symlink(victim, os.path.join(free, names[0]))
    os.link(victim, os.path.join(free, names[1]))
    with open(os.path.join(free, names[2]), "w") as f:
        f.write("x")
    os.chmod(os.path.join(free, names[2]), 0o644)
    with open(os.path.join(free, names[3]), "wb") as f:
        f.truncate(2 * 1024 * 1024)
    os.chmod(os.path.join(free, names[3]), 0o600)
    m.start()
    wait_for(lambda: not any(n in os.listdir(free) for n in names), 15,
             what="the odd files removed from free/")
    r = send(m, "s@example.org", ["alice@example.test"], msg("after", "body\r\n"))
    assert r[0] == 250
    (got,) = wait_messages(m, "alice", 1)
    assert got.get_payload() == "body\n"
    assert open(victim).read() == "keep me\n" and os.stat(victim).st_nlink == 1


def test_free_keeps_at_most_64_spares(make_maild):
    m = make_maild(start=False)
    free = m.sb.path("queue", "free")
    os.makedirs(free, exist_ok=True)
    for i in range(80):
        p = os.path.join(free, "01MH10000000%04d" % i)
        with open(p, "w") as f:
            f.write("old\n")
        os.chmod(p, 0o600)
    m.start()
    wait_for(lambda: len(os.listdir(free)) == 64, 15, what="free/ trimmed to 64")
    for i in range(3):
        r = send(m, "s@example.org", ["alice@example.test"], msg("m%d" % i, "body %d\r\n" % i))
        assert r[0] == 250
    got = wait_messages(m, "alice", 3)
    assert sorted(x.get_payload() for x in got) == ["body 0\n", "body 1\n", "body 2\n"]
    assert len(os.listdir(free)) <= 64
