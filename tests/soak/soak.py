#!/usr/bin/env python3
"""Soak test: faults under load (`make soak`; CI runs it after the suite).

A real maild (the black-box tests' harness: nss_wrapper users, PAM through
pam_matrix; as root the workers drop to the fake uids, as an ordinary user
uid_wrapper fakes root) takes, all at once and for SOAK_SECONDS:

  * SMTP senders: several threads, each message to one to three of the
    users, each carrying a token in its Subject and a body derived from
    it (so that a torn or mixed-up copy is seen);
  * a "MUA" that takes a maildrop's fcntl lock and dotlock and holds them
    a while, as mutt or s-nail would, so that deliveries defer;
  * POP3 sessions that read the headers of some messages, delete them and
    QUIT;
  * chaos: kill -9 of a random smtpd or pop3d worker, a monitor, the
    queue runner or the master (whose children then stop: PDEATHSIG),
    and maild is started again, which recovers from the journal.

Then the chaos stops, the queue drains, maild stops, and:

  * every message that got a 250 is in each of its recipients'
    maildrops exactly once, unless a POP3 client deleted it there (with a
    QUIT that answered +OK: then it must be gone; when the QUIT's answer
    was lost, once or not at all);
  * no message without a 250 is there more than once;
  * every maildrop parses, as Python's mailbox and as s-nail read it,
    into whole messages with the body their token says;
  * nothing is left in the queue, incoming/ included.

It prints the counts and exits 0, 1 on a failure, 77 when it cannot run.
SOAK_SECONDS (default 90) is the length of the chaos phase; SOAK_SEED
makes the random choices repeatable; SOAK_KEEP=1 keeps the sandbox.
"""
import contextlib
import errno
import fcntl
import mailbox
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proto"))

import maildtest  # noqa: E402
from maildtest import USERS, Client, Maild, Sandbox, alive, descendants  # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", "90"))
SEED = int(os.environ.get("SOAK_SEED", str(int(time.time()))))
DOMAIN = "example.test"
SENDERS = 3
POPPERS = 2

rng = random.Random(SEED)
lock = threading.Lock()
stop = threading.Event()          # ends the load
chaos_stop = threading.Event()    # ends the chaos
maild_ready = threading.Event()   # maild is up (clients wait while it restarts)

acked = {}          # token -> set of recipients (users) the 250 covered
unacked = set()     # tokens sent without a 250 (refused, or the reply lost)
deleted = {}        # user -> tokens a POP3 QUIT +OK removed
maybe_deleted = {}  # user -> tokens deleted by a session whose QUIT answer was lost
stats = {"smtp_sessions": 0, "smtp_errors": 0, "smtp_4xx": 0, "pop3_sessions": 0,
         "pop3_quit_ok": 0, "pop3_errors": 0, "mua_locks": 0, "restarts": 0}
kills = {}
failures = []


def note(key, n=1):
    with lock:
        stats[key] = stats.get(key, 0) + n


def body_for(token):
    """The message body for token: lines whose content depends on it, one
    of them long (past RFC 5321's 1000 octets), one starting with "From "
    (mboxrd quoting) and one with a dot (SMTP transparency)."""
    h = sum(token.encode()) % 50
    lines = ["token %s line %d %s" % (token, i, "x" * ((i * 7 + h) % 60)) for i in range(20)]
    lines.insert(5, "From the soak test, %s" % token)
    lines.insert(9, ".dot %s" % token)
    lines.append(("L%s" % token) * (1200 // (len(token) + 1)))
    return "\n".join(lines) + "\n"


def mboxrd(body):
    """body as Python's mailbox shows it: it keeps the mboxrd quoting
    (one more ">" before "From " and ">From " lines)."""
    return "".join(">" + ln if re.match(r">*From ", ln) else ln
                   for ln in body.splitlines(keepends=True))


def subject_token(text):
    m = re.search(r"^Subject: soak (\S+)$", text, re.M)
    return m.group(1) if m else None


# --- the load ------------------------------------------------------------------

class Load:
    def __init__(self, m):
        self.m = m
        self.counter = 0

    def next_token(self, who):
        with lock:
            self.counter += 1
            return "t%d-%s-%d" % (SEED % 100000, who, self.counter)

    def wait_up(self):
        while not stop.is_set() and not maild_ready.wait(0.2):
            pass
        return not stop.is_set()

    def sender(self, n):
        users = sorted(USERS)
        while self.wait_up():
            note("smtp_sessions")
            c = None
            try:
                c = Client(self.m.smtp_port, timeout=20)
                code, _ = c.smtp_reply()
                if code != 220:
                    raise ConnectionError("greeting %d" % code)
                c.cmd("EHLO sender%d.example.org" % n)
                if c.smtp_reply()[0] != 250:
                    raise ConnectionError("EHLO")
                for _ in range(rng.randint(1, 4)):
                    if stop.is_set():
                        break
                    self.transaction(c, n, rng.sample(users, rng.randint(1, 3)))
                    time.sleep(rng.random() * 0.02)
                c.cmd("QUIT")
                c.smtp_reply()
            except (OSError, EOFError, ConnectionError, ValueError):
                note("smtp_errors")
                time.sleep(0.05)
            finally:
                if c:
                    c.close()

    def transaction(self, c, n, rcpts):
        token = self.next_token("s%d" % n)
        with lock:
            unacked.add(token)
        c.cmd("MAIL FROM:<sender%d@example.org>" % n)
        code, _ = c.smtp_reply()
        if code != 250:
            note("smtp_4xx")
            c.cmd("RSET")
            c.smtp_reply()
            return
        ok = []
        for u in rcpts:
            c.cmd("RCPT TO:<%s@%s>" % (u, DOMAIN))
            if c.smtp_reply()[0] == 250:
                ok.append(u)
        if not ok:
            c.cmd("RSET")
            c.smtp_reply()
            return
        c.cmd("DATA")
        if c.smtp_reply()[0] != 354:
            note("smtp_4xx")
            c.cmd("RSET")
            c.smtp_reply()
            return
        text = ("From: sender%d@example.org\r\nTo: %s\r\nSubject: soak %s\r\n\r\n" %
                (n, ", ".join("%s@%s" % (u, DOMAIN) for u in ok), token))
        body = body_for(token).replace("\n", "\r\n")
        body = "".join("." + ln if ln.startswith(".") else ln
                       for ln in body.splitlines(keepends=True))
        c.send(text + body + ".\r\n")
        code, _ = c.smtp_reply()
        if code == 250:
            with lock:
                unacked.discard(token)
                acked[token] = set(ok)
        else:
            note("smtp_4xx")

    def popper(self, n):
        users = sorted(USERS)
        while self.wait_up():
            user = rng.choice(users)
            note("pop3_sessions")
            c = None
            dels = []
            try:
                c = Client(self.m.pop3_port, timeout=20)
                if not c.readline().startswith("+OK"):
                    raise ConnectionError("greeting")
                for line in ("USER " + user, "PASS " + USERS[user]):
                    c.cmd(line)
                    r = c.readline()
                    if not r.startswith("+OK"):
                        raise ConnectionError(r)     # e.g. [IN-USE]
                c.cmd("STAT")
                r = c.readline()
                count = int(r.split()[1]) if r.startswith("+OK") else 0
                picks = sorted(rng.sample(range(1, count + 1),
                                          min(count, rng.randint(0, 3))))
                for i in picks:
                    c.cmd("TOP %d 0" % i)
                    if not c.readline().startswith("+OK"):
                        raise ConnectionError("TOP")
                    head = []
                    while True:
                        ln = c.readline()
                        if ln == ".":
                            break
                        head.append(ln[1:] if ln.startswith(".") else ln)
                    tok = subject_token("\n".join(head))
                    c.cmd("DELE %d" % i)
                    if c.readline().startswith("+OK") and tok:
                        dels.append(tok)
                time.sleep(rng.random() * 0.5)
                with lock:
                    maybe_deleted.setdefault(user, set()).update(dels)
                c.cmd("QUIT")
                r = c.readline()
                if r.startswith("+OK"):
                    note("pop3_quit_ok")
                    with lock:
                        deleted.setdefault(user, set()).update(dels)
                        maybe_deleted[user].difference_update(dels)
            except (OSError, EOFError, ConnectionError, ValueError, IndexError):
                note("pop3_errors")
                time.sleep(0.1)
            finally:
                if c:
                    c.close()

    def mua(self):
        """Holds a maildrop's fcntl lock and dotlock for a while, as a
        mail reader does, then lets go."""
        sb = self.m.sb
        while self.wait_up():
            user = rng.choice(sorted(USERS))
            path = sb.path("spool", user)
            dot = path + ".lock"
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                time.sleep(0.3)
                continue
            try:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue
                try:
                    dfd = os.open(dot, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                except FileExistsError:
                    continue
                os.close(dfd)
                note("mua_locks")
                try:
                    stop.wait(0.3 + rng.random() * 1.5)
                finally:
                    os.unlink(dot)
            finally:
                os.close(fd)        # drops the fcntl lock too
            stop.wait(rng.random() * 2)


# --- chaos ---------------------------------------------------------------------

def start_maild(m):
    m.start(wait=False)
    try:
        m.wait_ready(timeout=30)
    except AssertionError as e:
        failures.append("maild did not come back: %s" % e)
        raise


slow = []    # runners still busy 20 s after the master's death


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def proc_wchan(pid):
    try:
        with open("/proc/%d/wchan" % pid) as f:
            return f.read().strip() or "-"
    except OSError:
        return "?"


def chaos(m):
    while not chaos_stop.wait(0.5 + rng.random() * 2.5):
        tree = maildtest.proc_tree()
        pids = [m.pid] + descendants(m.pid)
        by = {"master": [m.pid]}
        for p in pids[1:]:
            if p in tree:
                by.setdefault(tree[p][1], []).append(p)
        kinds = [k for k in ("smtpd", "pop3d", "smtpd-priv", "pop3d-priv", "maild-queue")
                 if by.get(k)]
        kind = "master" if rng.random() < 0.12 or not kinds else rng.choice(kinds)
        victim = rng.choice(by[kind])
        with lock:
            kills[kind] = kills.get(kind, 0) + 1
        if kind != "master":
            with contextlib.suppress(OSError):
                os.kill(victim, signal.SIGKILL)
            continue
        maild_ready.clear()
        with contextlib.suppress(OSError):
            os.kill(m.pid, signal.SIGKILL)
        m.proc.wait()
        # the children stop when their parent dies (PDEATHSIG); sessions
        # in progress may finish first, within shutdown_grace
        end = time.monotonic() + 20
        while any(alive(p) for p in pids) and time.monotonic() < end:
            time.sleep(0.05)
        left = [p for p in pids if alive(p)]
        for p in left:
            what = "%s pid %d state %s wchan %s" % (
                tree.get(p, (0, "?"))[1], p, proc_state(p), proc_wchan(p))
            # a runner that is slow to stop holds no listener and shares
            # the journal's lock with the next one: noted; anything else
            # keeps the listeners from the next maild: a failure
            if tree.get(p, (0, ""))[1] == "maild-queue":
                note("slow runner stops after the master's death")
                slow.append(what)
            else:
                failures.append("after the master's death, still alive "
                                "after 20 s: " + what)
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)
        note("restarts")
        start_maild(m)
        maild_ready.set()


# --- the checks ----------------------------------------------------------------

def queue_left(m):
    return {d: os.listdir(m.sb.path("queue", d)) for d in ("incoming", "active", "deferred")}


def snail_count(path):
    """How many messages s-nail finds in the mbox at path (None: no s-nail)."""
    exe = shutil.which("s-nail")
    if exe is None:
        return None
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.path.dirname(path),
           "LC_ALL": "C", "MAILRC": "/dev/null", "NAIL_EXTRA_RC": "/dev/null"}
    r = subprocess.run([exe, "-n", "-N", "-R", "-H", "-S", "headline=%m", "-f", path],
                       capture_output=True, text=True, env=env, timeout=60,
                       stdin=subprocess.DEVNULL)
    if r.returncode not in (0, 1):
        raise AssertionError("s-nail failed on %s: %s" % (path, r.stderr.strip()))
    return len([ln for ln in r.stdout.splitlines() if ln.strip()])


def check(m):
    found = {}
    total = 0
    for user in sorted(USERS):
        path = m.sb.path("spool", user)
        if not os.path.exists(path):
            found[user] = {}
            continue
        with open(path, "rb") as f:
            raw = f.read()
        box = mailbox.mbox(path, create=False)
        counts = {}
        n = 0
        for msg in box:
            n += 1
            tok = subject_token(str(msg["Subject"] and "Subject: " + msg["Subject"]))
            if tok is None:
                failures.append("%s: a message without a soak Subject: %r" %
                                (user, msg.as_bytes()[:200]))
                continue
            got = msg.get_payload()
            if got != mboxrd(body_for(tok)):
                failures.append("%s: message %s has a damaged body" % (user, tok))
            counts[tok] = counts.get(tok, 0) + 1
        box.close()
        if raw and not raw.startswith(b"From "):
            failures.append("%s: the maildrop does not start with a From_ line" % user)
        if raw and not raw.endswith(b"\n\n"):
            failures.append("%s: the maildrop does not end with an empty line" % user)
        sn = snail_count(path)
        if sn is not None and sn != n:
            failures.append("%s: s-nail sees %d messages, Python's mailbox %d" % (user, sn, n))
        found[user] = counts
        total += n

    delivered = lost = dup = gone_back = maybe = 0
    for tok, users in acked.items():
        for u in users:
            c = found[u].get(tok, 0)
            if tok in deleted.get(u, ()):
                if c:
                    gone_back += 1
                    failures.append("%s: %s was deleted (QUIT +OK) and is back" % (u, tok))
            elif tok in maybe_deleted.get(u, ()):
                maybe += 1
                if c > 1:
                    dup += 1
                    failures.append("%s: %s is there %d times" % (u, tok, c))
            elif c == 1:
                delivered += 1
            elif c == 0:
                lost += 1
                failures.append("%s: %s got a 250 and is not in the maildrop" % (u, tok))
            else:
                dup += 1
                failures.append("%s: %s got a 250 and is there %d times" % (u, tok, c))
    unacked_there = 0
    for u, counts in found.items():
        for tok, c in counts.items():
            if tok not in acked:
                unacked_there += 1
                if c > 1:
                    failures.append("%s: %s (no 250) is there %d times" % (u, tok, c))
                if tok not in unacked:
                    failures.append("%s: %s was never sent" % (u, tok))
            elif u not in acked[tok]:
                failures.append("%s: %s was not sent to this user" % (u, tok))
    return {"messages in maildrops": total, "acked copies delivered once": delivered,
            "acked copies lost": lost, "duplicates": dup,
            "deleted (QUIT +OK) and back": gone_back,
            "deleted, QUIT answer lost": maybe,
            "unacked messages found once": unacked_there}


def main():
    if not os.path.exists(maildtest.MAILD):
        print("soak: no maild in %s: build first" % maildtest.BUILDDIR)
        return 77
    try:
        sb = Sandbox()
    except RuntimeError as e:
        print("soak: skipped: %s" % e)
        return 77
    m = Maild(sb, config={
        "queue": {"retry_min": "1s", "retry_max": "2s", "locked_retry": "1s",
                  "min_free": 0},
        "smtp": {"pool": {"min_spare": 2, "max_spare": 6, "max_workers": 12}},
        "pop3": {"pool": {"min_spare": 2, "max_spare": 4, "max_workers": 6}},
        "shutdown_grace": 3,
    })
    print("soak: seed %d, %.0f s of chaos, sandbox %s" % (SEED, SECONDS, sb.dir))
    t0 = time.monotonic()
    rc = 1
    try:
        start_maild(m)
        maild_ready.set()
        load = Load(m)
        threads = [threading.Thread(target=load.sender, args=(i,), daemon=True)
                   for i in range(SENDERS)]
        threads += [threading.Thread(target=load.popper, args=(i,), daemon=True)
                    for i in range(POPPERS)]
        threads.append(threading.Thread(target=load.mua, daemon=True))
        ch = threading.Thread(target=chaos, args=(m,), daemon=True)
        for t in threads + [ch]:
            t.start()
        time.sleep(SECONDS)
        chaos_stop.set()
        ch.join(60)
        if ch.is_alive():
            failures.append("the chaos loop did not stop")
        # a little load without chaos, then none
        time.sleep(2)
        stop.set()
        for t in threads:
            t.join(60)
            if t.is_alive():
                failures.append("a client thread did not stop")
        if m.proc.poll() is not None:
            start_maild(m)
        # the queue drains (the MUA is gone, retries every second or two)
        end = time.monotonic() + 120
        while time.monotonic() < end:
            q = queue_left(m)
            if not q["active"] and not q["deferred"]:
                break
            time.sleep(0.5)
        m.stop(timeout=30)
        q = queue_left(m)
        for d, files in q.items():
            if files:
                failures.append("queue %s/ not empty at the end: %s" % (d, files[:10]))
        counts = check(m)
        print("soak: %.0f s in all" % (time.monotonic() - t0))
        print("soak: sent %d messages, %d with 250, %d without" %
              (len(acked) + len(unacked), len(acked), len(unacked)))
        for k in sorted(stats):
            print("soak:   %s: %d" % (k, stats[k]))
        print("soak: kill -9: %s" % ", ".join("%s %d" % kv for kv in sorted(kills.items())))
        for k, v in counts.items():
            print("soak:   %s: %d" % (k, v))
        for w in slow[:5]:
            print("soak: note: still busy 20 s after the master's death: " + w)
        if not acked:
            failures.append("no message got a 250")
        if failures:
            print("soak: FAILED")
            for f in failures[:50]:
                print("soak:   " + f)
            print("---- maild log (tail) ----")
            print(m.log()[-6000:])
        else:
            print("soak: OK")
            rc = 0
    finally:
        stop.set()
        chaos_stop.set()
        with contextlib.suppress(Exception):
            m.kill_all()
        if os.environ.get("SOAK_KEEP") or rc != 0:
            print("soak: sandbox kept in %s" % sb.dir)
        else:
            sb.cleanup()
    return rc


if __name__ == "__main__":
    sys.exit(main())
