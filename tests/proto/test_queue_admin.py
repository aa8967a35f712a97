"""Queue administration (maild queue delete|hold|release|requeue|show|
summary) against a live maild whose deliveries are held back by maildrops
the test keeps locked, or by a runner frozen in the middle of a delivery
(the fault point deliver.before_fsync with the action "stop")."""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from maildtest import IS_ROOT, MAILD, proc_tree, wait_for
from test_delivery import age_queued, held_maildrop, queue_files
from test_smtp import messages, msg, send, wait_messages

# a locked maildrop is retried only every hour: the queue stays put
# unless the test (or the command under test) moves it
SLOW = {"queue": {"locked_retry": "1h"}}


def q(m, *args, timeout=30):
    return subprocess.run([MAILD, "-c", m.conf, "queue"] + list(args),
                          capture_output=True, text=True, env=m.sb.env(),
                          timeout=timeout)


def queued(m, sender, rcpts, subject):
    """Sends one message and returns its queue id (from the 250 reply)."""
    code, text = send(m, sender, rcpts, msg(subject))
    assert code == 250
    return re.search(r"queued as (\S+)", " ".join(text)).group(1)


def wait_deferred(m, n):
    wait_for(lambda: len(queue_files(m, "deferred")) == n, what="%d deferred" % n)


def runner_pid(m):
    return wait_for(lambda: [p for p, (pp, comm, st) in proc_tree().items()
                             if pp == m.pid and comm == "maild-queue"],
                    what="the queue runner")[0]


def runner_cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def test_delete_by_id_while_deferred(make_maild):
    m = make_maild(config={"queue": {"locked_retry": "1s"}})
    with held_maildrop(m, "alice") as path:
        qid = queued(m, "s@example.org", ["alice@example.test"], "doomed")
        wait_deferred(m, 1)
        r = q(m, "delete", qid)
        assert r.returncode == 0, r.stderr
        assert "deleted 1 message" in r.stdout
        assert re.search(r"id=%s: deleted by=root\S* from=<s@example\.org> nrcpt=1 "
                         r"queue=deferred" % qid, r.stderr)
        assert queue_files(m, "deferred") == []
        # the runner forgets it, and does not spin on a file that is gone
        pid = runner_pid(m)
        time.sleep(1.5)
        t0 = runner_cpu_ticks(pid)
        time.sleep(2)
        assert runner_cpu_ticks(pid) - t0 < 50
    time.sleep(2)
    assert os.path.getsize(path) == 0
    assert "delivered" not in m.log()


def test_delete_unknown_id_fails(maild):
    r = q(maild, "delete", "0123456789ABCDEF")
    assert r.returncode == 1
    assert "no such message" in r.stderr
    r = q(maild, "delete", "../../etc/passwd")
    assert r.returncode == 2 and "not a queue id" in r.stderr


def test_delete_by_sender_recipient_and_domain(make_maild):
    m = make_maild(config=SLOW)
    with held_maildrop(m, "alice"), held_maildrop(m, "bob"), held_maildrop(m, "carol"):
        m1 = queued(m, "a@x.example", ["alice@example.test"], "m1")
        m2 = queued(m, "b@y.example", ["bob@example.test"], "m2")
        m3 = queued(m, "A@X.example", ["carol@localhost"], "m3")
        m4 = queued(m, "c@z.example", ["alice@example.test", "carol@localhost"], "m4")
        m5 = queued(m, "", ["bob@example.test"], "m5")
        wait_deferred(m, 5)
        said = ""
        r = q(m, "delete", "-s", "a@x.example")     # case does not matter
        said += r.stderr
        assert r.returncode == 0 and "deleted 2 messages" in r.stdout
        assert queue_files(m, "deferred") == sorted([m2, m4, m5])
        r = q(m, "delete", "-s", "<>")
        said += r.stderr
        assert "deleted 1 message" in r.stdout
        r = q(m, "delete", "-r", "bob@example.test")
        said += r.stderr
        assert "deleted 1 message" in r.stdout
        assert queue_files(m, "deferred") == [m4]
        r = q(m, "delete", "-d", "nowhere.example")
        assert r.returncode == 0 and "deleted 0 messages" in r.stdout
        r = q(m, "delete", "-d", "localhost")
        said += r.stderr
        assert "deleted 1 message" in r.stdout
        assert queue_files(m, "deferred") == []
        for qid in (m1, m2, m3, m4, m5):
            assert len(re.findall(r"id=%s: deleted by=root" % qid, said)) == 1
    # a bare "delete" is a usage error, never "everything"
    r = q(m, "delete")
    assert r.returncode == 2


def test_hold_then_release(make_maild):
    m = make_maild(config={"queue": {"locked_retry": "1s"}})
    with held_maildrop(m, "alice"):
        qid = queued(m, "s@example.org", ["alice@example.test"], "held")
        wait_deferred(m, 1)
        r = q(m, "hold", qid)
        assert r.returncode == 0, r.stderr
        assert "id=%s: held by=root" % qid in r.stderr
        assert queue_files(m, "hold") == [qid]
        assert queue_files(m, "deferred") == []
    # the maildrop is free now, but nobody delivers from hold/
    time.sleep(3)
    assert messages(m, "alice") == []
    listing = subprocess.run([MAILD, "-l", "-c", m.conf], capture_output=True,
                             text=True, env=m.sb.env(), timeout=10).stdout
    assert re.search(r"%s\s+hold\s" % qid, listing)
    # release: back to active/, and the runner takes it at once
    t0 = time.monotonic()
    r = q(m, "release", qid)
    assert r.returncode == 0, r.stderr
    assert "id=%s: released by=root" % qid in r.stderr
    (got,) = wait_messages(m, "alice", 1, timeout=10)
    assert got["Subject"] == "held"
    assert time.monotonic() - t0 < 5
    assert queue_files(m, "hold") == []
    # releasing what is not held is an error
    r = q(m, "release", qid)
    assert r.returncode == 1


def test_hold_by_domain_and_release_all(make_maild):
    m = make_maild(config=SLOW)
    with held_maildrop(m, "alice"), held_maildrop(m, "carol"):
        a = queued(m, "s@example.org", ["alice@example.test"], "a")
        c = queued(m, "s@example.org", ["carol@localhost"], "c")
        wait_deferred(m, 2)
        r = q(m, "hold", "-d", "localhost")
        assert "held 1 message" in r.stdout
        assert queue_files(m, "hold") == [c] and queue_files(m, "deferred") == [a]
        r = q(m, "release", "-a")
        assert "released 1 message" in r.stdout
        assert queue_files(m, "hold") == []


def test_requeue_retries_at_once(make_maild):
    m = make_maild(config=SLOW)
    with held_maildrop(m, "alice"):
        qid = queued(m, "s@example.org", ["alice@example.test"], "again")
        wait_deferred(m, 1)
    # the next try would be in an hour; requeue makes it now
    time.sleep(1)
    assert messages(m, "alice") == []
    t0 = time.monotonic()
    r = q(m, "requeue", "-d", "example.test")
    assert r.returncode == 0, r.stderr
    assert "requeued 1 message" in r.stdout
    assert "id=%s: requeued by=root" % qid in r.stderr
    wait_messages(m, "alice", 1, timeout=10)
    # told through the FIFO: well before the runner's 10 s scan
    assert time.monotonic() - t0 < 5
    wait_for(lambda: queue_files(m, "deferred") == [] and
             queue_files(m, "active") == [], what="empty queue")


def test_show_prints_envelope_and_headers(make_maild):
    m = make_maild(config=SLOW)
    with held_maildrop(m, "alice"):
        code, text = send(m, "s@example.org", ["alice@example.test", "bob@example.test"],
                          msg("shown", extra="X-Evil: a\x1b[31mred\r\n"))
        assert code == 250
        qid = re.search(r"queued as (\S+)", " ".join(text)).group(1)
        wait_messages(m, "bob", 1)
        wait_deferred(m, 1)
        r = q(m, "show", qid)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Queue ID:  %s" % qid in out
    assert "Queue:     deferred" in out
    assert "Sender:    <s@example.org>" in out
    assert "Recipient: <alice@example.test> pending user=alice" in out
    assert "Recipient: <bob@example.test> delivered user=bob" in out
    assert "Subject: shown" in out
    assert "\x1b" not in out and "X-Evil: a\\x1b[31mred" in out
    assert "hello" not in out           # headers only, not the body
    assert q(m, "show", "0123456789ABCDEF").returncode == 1


def test_summary_by_domain_and_age(make_maild):
    m = make_maild(config=SLOW)
    with held_maildrop(m, "alice"), held_maildrop(m, "carol"):
        old = queued(m, "s@example.org", ["alice@example.test"], "old")
        queued(m, "s@example.org", ["alice@example.test", "carol@localhost"], "new")
        queued(m, "t@other.example", ["carol@localhost"], "new2")
        wait_deferred(m, 3)
        age_queued(m, old, 30 * 60)      # 30 minutes: the 20-40 column
        r = q(m, "summary")
        assert r.returncode == 0, r.stderr
        rows = {ln.split()[0]: [int(x) for x in ln.split()[1:]]
                for ln in r.stdout.splitlines()[2:]}
        #                    T  5 10 20 40 ...
        assert rows["TOTAL"] == [4, 3, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        assert rows["example.test"] == [2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        assert rows["localhost"] == [2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        r = q(m, "summary", "-s")
        rows = {ln.split()[0]: int(ln.split()[1]) for ln in r.stdout.splitlines()[2:]}
        assert rows == {"TOTAL": 3, "example.org": 2, "other.example": 1}


def test_delete_waits_for_the_delivery_in_progress(make_maild):
    # alice's copy is being written (the runner is frozen before the
    # maildrop's fsync); bob's maildrop is locked, so the message stays
    m = make_maild(config=SLOW, env={"MAILD_FAULT": "deliver.before_fsync:stop"})
    with held_maildrop(m, "bob") as bob:
        qid = queued(m, "s@example.org", ["alice@example.test", "bob@example.test"],
                     "mid-delivery")
        m.wait_log(r"fault point deliver\.before_fsync: stop")
        pid = runner_pid(m)
        wait_for(lambda: proc_tree()[pid][2] == "T", what="the runner to stop")
        # a short wait: refused, nothing changed
        r = q(m, "delete", "-w", "1", qid)
        assert r.returncode == 75, r.stderr
        assert "queue busy" in r.stderr
        assert queue_files(m, "active") == [qid]
        # a longer one waits for the batch to end, then deletes
        p = subprocess.Popen([MAILD, "-c", m.conf, "queue", "delete", "-w", "30", qid],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=m.sb.env())
        time.sleep(1)
        assert p.poll() is None
        assert queue_files(m, "active") == [qid]
        os.kill(pid, signal.SIGCONT)
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        assert "id=%s: deleted by=root" % qid in err
        assert queue_files(m, "active") == [] and queue_files(m, "deferred") == []
    # alice got it exactly once and whole; bob never does
    (got,) = wait_messages(m, "alice", 1)
    assert got["Subject"] == "mid-delivery" and got.get_payload() == "hello\n"
    time.sleep(2)
    assert len(messages(m, "alice")) == 1
    assert os.path.getsize(bob) == 0


def test_non_root_is_refused(maild):
    if not IS_ROOT:
        pytest.skip("needs root to run a command as nobody")
    if shutil.which("runuser") is None:
        pytest.skip("no runuser")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for args in (["queue", "delete", "-a"], ["queue", "summary"], ["-l"], ["-q"]):
        r = subprocess.run(["runuser", "-u", "nobody", "--", MAILD, "-c", maild.conf] + args,
                           capture_output=True, text=True, env=env, timeout=10)
        assert r.returncode == 77, (args, r.stderr)
        assert "permission denied" in r.stderr and "only root may" in r.stderr
