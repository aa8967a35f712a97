"""The POP3 maildrop: the update at QUIT (truncate or copy and rename), its
crash safety (a kill at every fault point of the update path leaves the old
or the new maildrop, whole), the owner, group and mode it keeps, a full
disk, stale update files, corrupt maildrops, user names that cannot name a
maildrop (x.lock is user x's dotlock), and a real client (fetchmail)
retrieving and deleting."""
import mailbox
import os
import re
import subprocess
import time

import pytest

from maildtest import IS_ROOT, wait_for
from test_pop3 import (DATE, OPEN, P3, _close_clients, entry, get_mbox,  # noqa: F401
                       pop3_view, put_mbox, simple, spool, subjects, update_file)
from test_smtp import connect, ehlo, msg, send

SIX = [simple("m%d" % i, "body of %d\n.dot line\nFrom inside\n" % i, i) for i in range(6)]


def six(m):
    data = b"".join(SIX)
    put_mbox(m, "alice", data)
    return data


def alive_pop3(m):
    return wait_for(lambda: m.workers("pop3d"), 15, what="a pop3d worker")


def no_crash(m):
    log = m.log()
    assert "killed by signal" not in log and "exited with status" not in log, log[-3000:]


# --- the update ------------------------------------------------------------------------

def test_deleting_the_last_messages_truncates_in_place(maild):
    data = six(maild)
    ino = os.stat(spool(maild, "alice")).st_ino
    c = P3(maild)
    c.login()
    c.ok("DELE 6")
    c.ok("DELE 5")
    c.ok("QUIT")
    assert get_mbox(maild, "alice") == b"".join(SIX[:4])
    assert os.stat(spool(maild, "alice")).st_ino == ino
    assert data.startswith(get_mbox(maild, "alice"))


def test_deleting_inner_messages_replaces_the_file(maild):
    six(maild)
    st = os.stat(spool(maild, "alice"))
    c = P3(maild)
    c.login()
    c.ok("DELE 1")
    c.ok("DELE 4")
    c.ok("QUIT")
    assert get_mbox(maild, "alice") == SIX[1] + SIX[2] + SIX[4] + SIX[5]
    st2 = os.stat(spool(maild, "alice"))
    assert st2.st_ino != st.st_ino
    assert st2.st_mode & 0o777 == 0o600
    assert (st2.st_uid, st2.st_gid) == (st.st_uid, st.st_gid)
    assert not os.path.exists(update_file(maild, "alice"))
    assert not os.path.exists(spool(maild, "alice") + ".lock")


def test_replaced_maildrop_keeps_group_and_mode(maild):
    """A 0660 user:mail maildrop (as many systems make them) is still 0660
    user:mail after the copy-and-rename update, not 0600."""
    six(maild)
    p = spool(maild, "alice")
    os.chmod(p, 0o660)
    st = os.stat(p)
    # as root the harness made it alice:mail (distinct ids); without root
    # it is ours, and the group is the only one we have: check it all the same
    if IS_ROOT:
        assert (st.st_uid, st.st_gid) == (maild.sb.uids["alice"], maild.sb.mail_gid)
    c = P3(maild)
    c.login()
    c.ok("DELE 2")
    c.ok("QUIT")
    assert get_mbox(maild, "alice") == SIX[0] + b"".join(SIX[2:])
    st2 = os.stat(p)
    assert st2.st_ino != st.st_ino, "not the rewrite path"
    assert oct(st2.st_mode & 0o7777) == oct(0o660)
    assert (st2.st_uid, st2.st_gid) == (st.st_uid, st.st_gid)


def test_deleting_everything(maild):
    six(maild)
    c = P3(maild)
    c.login()
    for i in range(1, 7):
        c.ok("DELE %d" % i)
    assert c.ok("QUIT") == "+OK maild POP3 server signing off (0 messages left)"
    assert get_mbox(maild, "alice") == b""


@pytest.mark.parametrize("fault,dele,want", [
    ("mbox_rewrite.after_copy:enospc", (2,), r"-ERR \[SYS/TEMP\] mail system full; "
     r"no messages were deleted"),
    ("mbox_rewrite.mid_copy:eio", (1, 3), r"-ERR \[SYS/TEMP\] cannot update maildrop: "
     r"Input/output error; no messages were deleted"),
    ("mbox_rewrite.before_truncate:eio", (6,), r"-ERR \[SYS/TEMP\] .*; no messages were "
     r"deleted"),
    ("priv_maildrop.before_rename:eio", (2,), r"-ERR \[SYS/TEMP\] cannot replace the "
     r"maildrop; no messages were deleted"),
])
def test_failed_update_leaves_the_maildrop_unchanged(make_maild, fault, dele, want):
    m = make_maild(env={"MAILD_FAULT": fault})
    data = six(m)
    c = P3(m)
    c.login()
    for n in dele:
        c.ok("DELE %d" % n)
    r = c.ask("QUIT")
    assert re.match(want, r), r
    assert c.closed()
    assert get_mbox(m, "alice") == data
    assert not os.path.exists(update_file(m, "alice"))
    m.wait_log(r"update failed user=alice")
    c = P3(m)
    assert c.login().startswith("+OK alice has 6 messages")
    no_crash(m)


# --- the index: proven unchanged by fstat, never served stale ------------------------------

# common/mbox_table.h MBOX_TABLE_SETTLE_MS: a ctime this old is settled
SETTLE = 2.3
IDX_FLAGS_AT, IDX_SETTLED = 136, 1     # common/mbox_index.c struct idx_header


def index_settled(m, user):
    with open(m.sb.path("state", "index", user), "rb") as f:
        f.seek(IDX_FLAGS_AT)
        return f.read(1)[0] & IDX_SETTLED == IDX_SETTLED


def served(m, user):
    """Every message as RETR gives it (byte-stuffing undone), with its UIDL."""
    c = P3(m)
    c.login(user)
    n = int(c.ok("STAT").split()[1])
    out = []
    for i in range(1, n + 1):
        c.ok("RETR %d" % i)
        out.append(c.body()[0])
    _, uidls = c.multi("UIDL")
    c.ok("QUIT")
    return out, [u.split()[1] for u in uidls]


def parsed(m, user):
    """The messages as Python's mailbox module reads the file, in POP3's form."""
    box = mailbox.mbox(spool(m, user), create=False)
    try:
        return [pop3_view(box.get_bytes(k)) for k in box.keys()]
    finally:
        box.close()


def moved_start(data):
    """The same size, but the first message's Subject changed, the second
    message one byte longer and the third one shorter (its From_ line
    moved)."""
    second = data.index(b"\nFrom ", 1) + 1
    third = data.index(b"\nFrom ", second) + 1
    body3 = data.index(b"\n\n", third) + 2
    new = data[:third - 1] + b"X\n" + data[third:body3] + data[body3 + 1:]
    i = new.index(b"Subject: ") + len(b"Subject: ")
    new = new[:i] + b"Z" + new[i + 1:]
    assert len(new) == len(data) and new != data
    return new


def same_size_rewrite(p):
    """Another MUA rewrites the maildrop in place at the same size and puts
    the mtime back (utimensat): only the ctime tells."""
    st = os.stat(p)
    with open(p, "r+b") as f:
        new = moved_start(f.read())
        f.seek(0)
        f.write(new)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(p).st_mtime_ns == st.st_mtime_ns


def replace_same_size(m, user):
    """A new file renamed over it (another inode), same size and mtime."""
    p = spool(m, user)
    st = os.stat(p)
    with open(p, "rb") as f:
        data = moved_start(f.read())
    tmp = p + ".mua"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o600)
    if IS_ROOT:
        os.chown(tmp, m.sb.uids[user], m.sb.mail_gid)
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.rename(tmp, p)


CHANGES = {
    "appended": lambda m, p: open(p, "ab").write(simple("late", n=9)),
    "rewritten shorter by a MUA": lambda m, p: open(p, "r+b").truncate(
        get_mbox(m, os.path.basename(p)).index(b"\nFrom ", 1) + 1),
    "rewritten in place at the same size, mtime put back": lambda m, p: same_size_rewrite(p),
    "truncated": lambda m, p: open(p, "r+b").truncate(0),
    "replaced by another file of the same size and mtime":
        lambda m, p: replace_same_size(m, os.path.basename(p)),
    "chmod only": lambda m, p: os.chmod(p, 0o600),
}


def test_index_is_never_served_stale(maild):
    """A maildrop whose index the fstat proof accepts (settled, as a warm
    open of a big maildrop sees it), changed behind its back in every way
    a MUA, an MDA or an administrator can: every session serves exactly the
    messages Python's mailbox reads from the file. Three maildrops at a
    time, so that they settle together."""
    users = ["alice", "bob", "carol"]
    changes = list(CHANGES.items())
    for start in range(0, len(changes), len(users)):
        batch = list(zip(users, changes[start:start + len(users)]))
        for n, (user, _) in enumerate(batch):
            put_mbox(maild, user, b"".join(simple("%s %d" % (user, i), "body %d\n" % i, i + n)
                                           for i in range(4)))
        time.sleep(SETTLE)
        for user, _ in batch:
            got, _ = served(maild, user)        # the index, made settled
            assert got == parsed(maild, user)
            assert index_settled(maild, user)
            got, _ = served(maild, user)        # and proven by fstat
            assert got == parsed(maild, user)
        for user, (name, change) in batch:
            before = served(maild, user)
            change(maild, spool(maild, user))
            want = parsed(maild, user)
            got = served(maild, user)
            assert got[0] == want, name
            assert served(maild, user) == got, name
            # what a scan without any index gives, UIDLs included
            os.unlink(maild.sb.path("state", "index", user))
            assert served(maild, user) == got, name
            assert (got == before) == (name == "chmod only"), name


# --- crash safety ----------------------------------------------------------------------

CRASH_POINTS = [
    # point, messages deleted, what must be on disk after the crash
    ("mbox_rewrite.mid_copy", (2, 4), "old"),
    ("mbox_rewrite.after_copy", (2, 4), "old"),
    ("mbox_rewrite.before_truncate", (5, 6), "old"),
    ("priv_maildrop.before_rename", (1, 3, 5), "old"),
    ("priv_maildrop.after_rename", (1, 3, 5), "new"),
]


@pytest.mark.parametrize("point,dele,want", CRASH_POINTS)
def test_crash_during_update_leaves_old_or_new_maildrop(make_maild, request, point, dele,
                                                        want):
    """A kill (SIGKILL, in the worker or the monitor, whichever reaches the
    point) at each step of the update: the maildrop is then exactly the old
    one or exactly the new one, mailbox parses it, and the next session
    works and cleans up what the crash left.

    MAILD_FAULT_ONCE makes only the first process that reaches the point
    die. Its stamp file must be reachable and writable by the worker too:
    so no chroot here, and the stamp in /tmp."""
    stamp = "/tmp/maild-fault-%d-%s" % (os.getpid(), point)
    if os.path.exists(stamp):
        os.unlink(stamp)
    request.addfinalizer(lambda: os.path.exists(stamp) and os.unlink(stamp))
    m = make_maild(config={"chroot": ""},
                   env={"MAILD_FAULT": point + ":kill", "MAILD_FAULT_ONCE": stamp})
    old = six(m)
    new = b"".join(x for i, x in enumerate(SIX) if i + 1 not in dele)
    c = P3(m)
    c.login()
    for n in dele:
        c.ok("DELE %d" % n)
    c.cmd("QUIT")
    m.wait_log(r"fault point %s: kill" % re.escape(point))
    try:
        reply = c.readline()
    except (EOFError, ConnectionResetError):
        reply = None
    # whatever the client heard, it was not "+OK": the update was cut short
    assert reply is None or reply.startswith("-ERR"), reply
    data = get_mbox(m, "alice")
    assert data == (old if want == "old" else new), point
    kept = [x["Subject"] for x in mailbox.mbox(spool(m, "alice"), create=False)]
    gone = ["m%d" % (n - 1) for n in dele]
    assert kept == ["m%d" % i for i in range(6) if want == "old" or "m%d" % i not in gone]
    for x in mailbox.mbox(spool(m, "alice"), create=False):
        assert x.get_payload().startswith("body of ")
    # the next session works, and leaves no stale update file behind
    alive_pop3(m)
    if point.startswith("mbox_rewrite."):
        # the worker died; its monitor lives on and, when it hears of the
        # death, throws the unfinished update file away itself
        m.wait_log(r"maildrop released user=alice")
        assert not os.path.exists(update_file(m, "alice"))
    stale = os.path.exists(update_file(m, "alice"))
    c = P3(m)
    assert c.login().startswith("+OK alice has %d messages" % len(kept))
    assert not os.path.exists(update_file(m, "alice"))
    if stale:
        m.wait_log(r"removed stale update file")
    c.ok("DELE 1")
    c.ok("QUIT")
    assert subjects(m, "alice") == kept[1:]
    assert not os.path.exists(spool(m, "alice") + ".lock")


# --- corrupt maildrops -----------------------------------------------------------------

def _from(n=0, sender="x@y"):
    return b"From %s %s\n" % (sender.encode(), (DATE % (0, n)).encode())


CORRUPT = {
    # name: (bytes, served?)
    "no-from-line": (b"Subject: no separator\n\nbody\n", False),
    "garbage": (bytes(range(256)) * 40, False),
    "leading-text": (b"junk\n" + _from() + b"Subject: x\n\nbody\n", False),
    "leading-blank-lines": (b"\n\n \n" + _from() + b"Subject: x\n\nbody\n\n", True),
    "nul-bytes": (_from() + b"Subject: nul\x00\n\n\x00\x00a\x00\n\n" + _from(1) +
                  b"Subject: two\n\nb\n\n", True),
    "truncated-last": (_from() + b"Subject: one\n\nbody one\n\n" + _from(1) +
                       b"Subject: trunc\n\npartial bo", True),
    "cr-only": (_from().replace(b"\n", b"\r") + b"Subject: cr\r\rbody\r" + b"\r" +
                _from(1).replace(b"\n", b"\r"), True),
    "from-only": (b"From \n", True),
    "from-lines-only": (b"From a\nFrom b\nFrom c\n", True),
    "empty": (b"", True),
    "whitespace-only": (b"\n \n\t\n", True),
    "mboxo-unquoted-from": (_from() + b"Subject: o\n\nbody\nFrom here on\nmore\n\n", True),
    "junk-after-message": (_from() + b"Subject: j\n\nok\n" + bytes(range(256)) * 8, True),
    "many-tiny": (b"".join(_from(i % 60) + b"\n" for i in range(3000)), True),
}


def retr_count(c, n):
    """RETR n over the raw client; returns the octets after unstuffing."""
    first = c.ask("RETR %d" % n)
    if not first.startswith("+OK"):
        return first
    data, _ = c.body()
    assert first == "+OK %d octets" % len(data), (first, len(data))
    return len(data)


@pytest.mark.parametrize("name", sorted(CORRUPT))
def test_corrupt_maildrop_is_served_or_refused_never_damaged(maild, name):
    data, served = CORRUPT[name]
    put_mbox(maild, "alice", data)
    c = P3(maild)
    c.ok("USER alice")
    r = c.ask("PASS alice-pw-1")
    if not served:
        assert r == "-ERR [SYS/PERM] maildrop does not start with a From_ line", r
        maild.wait_log(r"maildrop of alice refused: 5\.2\.0")
        # the session goes on, and the lock was given back
        c.ok("USER bob")
        c.ok("PASS bob-pw-2")
        c.ok("QUIT")
    else:
        assert r.startswith("+OK alice has"), r
        n = int(c.ok("STAT").split()[1])
        _, listing = c.multi("LIST")
        _, uidls = c.multi("UIDL")
        assert len(listing) == len(uidls) == n
        for i in range(1, min(n, 50) + 1):
            assert retr_count(c, i) == int(listing[i - 1].split()[1])
            c.ok("TOP %d 0" % i)
            c.body()
        c.ok("QUIT")
    assert get_mbox(maild, "alice") == data
    no_crash(maild)


def test_huge_single_line_is_served(maild):
    """A 100 MB line with no line end: served, with the size it has."""
    path = spool(maild, "alice")
    put_mbox(maild, "alice", _from() + b"Subject: huge\n\n")
    with open(path, "ab") as f:
        chunk = b"x" * (1 << 20)
        for _ in range(100):
            f.write(chunk)
    size = os.path.getsize(path)
    c = P3(maild, timeout=60)
    c.login()
    t0 = time.monotonic()
    assert c.ok("LIST 1") == "+OK 1 %d" % (size - len(_from()) + 2 + 2)
    first = c.ok("RETR 1")
    # read to the final "." without growing one buffer line by line
    total, tail = len(c.buf), c.buf[-5:]
    c.buf = b""
    while not tail.endswith(b"\r\n.\r\n"):
        d = c.sock.recv(1 << 20)
        assert d
        total += len(d)
        tail = (tail + d)[-5:]
    t1 = time.monotonic()
    assert first == "+OK %d octets" % (total - 3)
    c.ok("QUIT")
    assert os.path.getsize(path) == size
    no_crash(maild)
    print("100 MB line: LIST and RETR in %.2f s" % (t1 - t0))


@pytest.mark.parametrize("name", ["nul-bytes", "truncated-last", "mboxo-unquoted-from"])
def test_corrupt_maildrop_deletion_keeps_the_rest_exactly(maild, name):
    data, _ = CORRUPT[name]
    put_mbox(maild, "alice", data)
    second = data.index(b"\nFrom ", 1) + 1
    c = P3(maild)
    c.login()
    c.ok("DELE 1")
    c.ok("QUIT")
    assert get_mbox(maild, "alice") == data[second:]


# --- fetchmail -------------------------------------------------------------------------

def test_fetchmail_retrieves_and_deletes(maild, sandbox):
    msgs = [simple("fetch %d" % i, "line %d\n.dotted\nFrom quoted\n" % i, i) for i in range(5)]
    put_mbox(maild, "alice", b"".join(msgs))
    out = sandbox.path("fetched")
    os.mkdir(out)
    rc = sandbox.path("fetchmailrc")
    with open(rc, "w") as f:
        f.write('set no bouncemail\n'
                'poll 127.0.0.1 with proto POP3 service %d\n'
                '  user "alice" there with password "alice-pw-1" is "alice" here\n'
                '  options fetchall nokeep sslproto ""\n'
                '  mda "/bin/sh -c \'cat > %s/msg.$$\'"\n' % (maild.pop3_port, out))
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=sandbox.dir, FETCHMAILHOME=sandbox.dir)
    r = subprocess.run(["fetchmail", "-f", rc, "-v", "--nosyslog"], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    got = sorted(open(os.path.join(out, f)).read() for f in os.listdir(out))
    assert len(got) == 5, r.stdout + r.stderr
    for i, text in enumerate(got):
        assert "Subject: fetch %d" % i in text
        assert "\n.dotted\n" in text and "\nFrom quoted\n" in text
    # fetchmail deleted them: the maildrop is empty
    wait_for(lambda: get_mbox(maild, "alice") == b"", 10, what="an empty maildrop")
    maild.wait_log(r"disconnect client=127\.0\.0\.1 user=alice method=USER state=update "
                   r"retrieved=5/\d+ deleted=5/\d+")


# --- curl (the quick start's way to read mail) ------------------------------------------

def test_curl_lists_and_retrieves(maild):
    if subprocess.run(["sh", "-c", "command -v curl"], capture_output=True).returncode:
        pytest.skip("curl is not installed")
    put_mbox(maild, "alice", simple("via curl", "hello curl\n.dot\n") + simple("two", n=1))
    url = "pop3://127.0.0.1:%d/" % maild.pop3_port
    r = subprocess.run(["curl", "-sS", "-u", "alice:alice-pw-1", url], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert [l.split()[0] for l in r.stdout.splitlines()] == ["1", "2"]
    r = subprocess.run(["curl", "-sS", "-u", "alice:alice-pw-1", url + "1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "Subject: via curl" in r.stdout and "\n.dot\n" in r.stdout.replace("\r\n", "\n")
    maild.wait_log(r"login user=alice client=127\.0\.0\.1 method=PLAIN")


# --- user names that cannot name a maildrop ----------------------------------------------

OLD_MAIL = _from() + b"Subject: mail of x.lock\n\nkeep me\n\n"


def add_user(sb, name, password, uid):
    """A user in nss_wrapper's passwd and pam_matrix's database."""
    if not IS_ROOT:
        uid = os.getuid()
    with open(sb.path("passwd"), "a") as f:
        f.write("%s:x:%d:%d:%s:%s:/bin/sh\n" % (name, uid, uid if IS_ROOT else os.getgid(),
                                                name, sb.path("home", name)))
    with open(sb.path("passdb"), "a") as f:
        f.write("%s:%s:maildtest\n" % (name, password))
    sb.uids[name] = uid


@pytest.fixture
def lock_users(sandbox):
    """Users x and x.lock; x.lock's maildrop (SPOOL/x.lock, which is also x's
    dotlock) holds mail and is older than a stale dotlock."""
    add_user(sandbox, "x", "x-pw", 60011)
    add_user(sandbox, "x.lock", "xlock-pw", 60012)
    p = sandbox.path("spool", "x.lock")
    with open(p, "wb") as f:
        f.write(OLD_MAIL)
    os.chmod(p, 0o600)
    if IS_ROOT:
        os.chown(p, 60012, sandbox.mail_gid)
    old = time.time() - 3 * 3600
    os.utime(p, (old, old))
    return p


def test_mail_to_x_never_removes_the_maildrop_of_x_lock(lock_users, maild):
    ino = os.stat(lock_users).st_ino
    assert send(maild, "s@example.org", ["x@example.test"], msg("for x"))[0] == 250
    maild.wait_log(r"(deferred|delivered) to=<x@example\.test>")
    with open(lock_users, "rb") as f:
        assert f.read() == OLD_MAIL
    assert os.stat(lock_users).st_ino == ino
    # x's delivery found a "dotlock" that is a maildrop: busy, never stale
    assert re.search(r"dotlock path=\S*/x\.lock is a maildrop, not a lock", maild.log())
    assert re.search(r"deferred to=<x@example\.test>", maild.log())
    assert os.path.getsize(spool(maild, "x")) == 0
    assert "dotlock removed" not in maild.log()


def test_x_lock_is_no_such_user_for_delivery(lock_users, maild):
    c = connect(maild)
    ehlo(c)
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<x.lock@example.test>")
    code, lines = c.smtp_reply()
    assert code == 550 and lines[0].startswith("5.1.1"), (code, lines)
    c.cmd("RCPT TO:<x@example.test>")
    assert c.smtp_reply()[0] == 250
    c.cmd("QUIT")
    c.smtp_reply()
    with open(lock_users, "rb") as f:
        assert f.read() == OLD_MAIL


def test_x_lock_cannot_open_a_maildrop_over_pop3(lock_users, maild):
    c = P3(maild)
    c.ok("USER x.lock")
    r = c.err("PASS xlock-pw")
    assert "maildrop" in r, r
    maild.wait_log(r"user name x\.lock cannot name a maildrop")
    # x's maildrop looks dotlocked (by x.lock's file): busy, and left alone
    c.ok("USER x")
    r = c.err("PASS x-pw")
    assert r.startswith("-ERR [IN-USE]"), r
    with open(lock_users, "rb") as f:
        assert f.read() == OLD_MAIL


# --- user names as SSSD and LDAP give them out ----------------------------------

@pytest.fixture
def at_user(sandbox):
    add_user(sandbox, "carol@corp.example", "carol-pw", 60013)


def test_user_name_with_at_sign_gets_mail_and_logs_in(at_user, maild):
    """A fully qualified name (SSSD's alice@example.org) names a maildrop
    for delivery and for POP3 alike: one rule for both."""
    rcpt = '"carol@corp.example"@example.test'
    assert send(maild, "s@example.org", [rcpt], msg("for carol"))[0] == 250
    maild.wait_log(r"delivered to=<\"carol@corp\.example\"@example\.test>")
    assert os.path.getsize(spool(maild, "carol@corp.example")) > 0
    c = P3(maild)
    c.ok("USER carol@corp.example")
    c.ok("PASS carol-pw")
    r = c.ok("STAT")
    assert r.startswith("+OK 1 "), r
    _, lines = c.multi("RETR 1")
    assert any(l == "Subject: for carol" for l in lines), lines
    c.ok("QUIT")
