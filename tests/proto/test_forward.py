"""Local delivery beyond the maildrop: ~/.forward (addresses, \\user,
|program, /file, refusals, loops), alias program and file targets run as
alias_user, program exit statuses, time limit and output, user+detail,
Delivered-To:, and a real procmail."""
import os
import re
import shutil
import signal
import time

import pytest

from maildtest import IS_ROOT, proc_comm, wait_for
from test_smtp import messages, msg, send, wait_messages

PROCMAIL = "/usr/bin/procmail"


def home(m, user):
    """user's home directory, made and owned by user."""
    d = m.sb.path("home", user)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    if IS_ROOT:
        os.chown(d, m.sb.uids[user], m.sb.uids[user])
    return d


def put(m, user, name, text, mode=0o644, owner=None):
    """Writes a file in user's home, owned by owner (default: user)."""
    p = os.path.join(home(m, user), name)
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, mode)
    if IS_ROOT:
        uid = m.sb.uids[owner or user]
        os.chown(p, uid, uid)
    return p


def script(m, user, name, body):
    return put(m, user, name, "#!/bin/sh\n" + body, mode=0o755)


def drop_dir(sb):
    """A directory anyone may write (for alias_user's programs)."""
    d = sb.path("drop")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o1777)
    return d


def read_env(path):
    with open(path) as f:
        return dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)


def queue_empty(m):
    return all(os.listdir(m.sb.path("queue", d)) == [] for d in ("active", "deferred"))


ENV_NAMES = "HOME USER LOGNAME SHELL PATH SENDER RECIPIENT EXTENSION LOCAL DOMAIN".split()
ENV_DUMP = ('for v in HOME USER LOGNAME SHELL PATH SENDER RECIPIENT EXTENSION LOCAL DOMAIN; do\n'
            '  eval "echo $v=\\$$v"; done > "$1"\n'
            'echo UID=$(id -u) >> "$1"\n'
            'env | sed -n "s/^\\([A-Za-z_][A-Za-z0-9_]*\\)=.*/\\1/p" | tr "\\n" " " > "$1.names"\n'
            'python3 -c "import os; print(\' \'.join(os.listdir(\'/proc/self/fd\')))" > "$1.fds"\n'
            'cat > "$1.msg"\n')


# --- ~/.forward -------------------------------------------------------------------

def test_forward_one_address(maild):
    put(maild, "alice", ".forward", "bob@example.test\n")
    assert send(maild, "s@example.org", ["alice@example.test"], msg("fwd1"))[0] == 250
    (got,) = wait_messages(maild, "bob", 1)
    assert got["Subject"] == "fwd1"
    assert "alice@example.test" in got.get_all("Delivered-To")
    maild.wait_log(r"forwarded to=<alice@example.test> user=alice by \.forward")
    time.sleep(0.5)
    assert messages(maild, "alice") == []


def test_forward_several_and_keep_copy(maild):
    put(maild, "alice", ".forward", "# my forward\nbob, carol@example.test\n\\alice\n")
    assert send(maild, "s@example.org", ["alice@example.test"], msg("fwd2"))[0] == 250
    for u in ("alice", "bob", "carol"):
        (got,) = wait_messages(maild, u, 1)
        assert got["Subject"] == "fwd2"
    # the copy kept is alice's, not a loop
    assert "mail forwarding loop" not in maild.log()


def test_forward_to_self_by_name_is_a_copy(maild):
    put(maild, "alice", ".forward", "alice, bob\n")
    assert send(maild, "s@example.org", ["alice@example.test"], msg("self"))[0] == 250
    wait_messages(maild, "alice", 1)
    wait_messages(maild, "bob", 1)


def test_forward_program_environment(maild):
    h = home(maild, "alice")
    sc = script(maild, "alice", "dump.sh", ENV_DUMP)
    put(maild, "alice", ".forward", '"|%s %s/env.out"\n' % (sc, h))
    assert send(maild, "s@example.org", ["alice+news@example.test"], msg("prog"))[0] == 250
    out = os.path.join(h, "env.out")
    wait_for(lambda: os.path.exists(out + ".msg") and queue_empty(maild), timeout=15,
             what="the program's output")
    env = read_env(out)
    assert env["USER"] == "alice" and env["LOGNAME"] == "alice"
    assert env["HOME"] == h
    assert env["SENDER"] == "s@example.org"
    assert env["RECIPIENT"] == "alice+news@example.test"
    assert env["EXTENSION"] == "news"
    assert env["LOCAL"] == "alice+news" and env["DOMAIN"] == "example.test"
    assert int(env["UID"]) == maild.sb.uids["alice"]
    # nothing of the runner's environment leaks (the test's cwrap
    # preloads are passed on so that the program sees the fake users)
    names = set(open(out + ".names").read().split())
    extra = {n for n in names if not (n.endswith("WRAPPER") or "_WRAPPER_" in n or
                                      n.startswith("UID_WRAPPER") or n == "LD_PRELOAD")}
    assert extra <= set(ENV_NAMES) | {"PWD", "SHLVL", "OLDPWD", "_"}, extra
    # descriptors 0, 1 and 2 only (the fourth is the one listdir used;
    # the shell's redirection of stdout made 1 the file)
    fds = open(out + ".fds").read().split()
    assert len(fds) == 4 and {"0", "1", "2"} <= set(fds), fds
    data = open(out + ".msg").read()
    assert data.startswith("From s@example.org ")
    assert "\nReturn-Path: <s@example.org>\n" in data
    assert "Delivered-To: alice+news@example.test\n" in data
    assert "Subject: prog" in data
    assert messages(maild, "alice") == []


def test_forward_file(maild):
    h = home(maild, "alice")
    box = os.path.join(h, "saved.mbox")
    put(maild, "alice", ".forward", "%s\n" % box)
    assert send(maild, "s@example.org", ["alice@example.test"], msg("tofile"))[0] == 250
    wait_for(lambda: os.path.exists(box) and "Subject: tofile" in open(box).read(),
             what="the file delivery")
    st = os.stat(box)
    assert st.st_mode & 0o777 == 0o600
    if IS_ROOT:
        assert st.st_uid == maild.sb.uids["alice"]
    assert open(box).read().startswith("From s@example.org ")


def test_forward_group_writable_is_refused(maild):
    put(maild, "alice", ".forward", "bob\n", mode=0o664)
    assert send(maild, "s@example.org", ["alice@example.test"], msg("gw"))[0] == 250
    wait_messages(maild, "alice", 1)
    maild.wait_log(r"\.forward: refused \(group or world writable\)")
    assert messages(maild, "bob") == []


@pytest.mark.skipif(not IS_ROOT, reason="needs root to give a file to another user")
def test_forward_owned_by_another_user_is_refused(maild):
    put(maild, "alice", ".forward", "bob\n", owner="carol")
    assert send(maild, "s@example.org", ["alice@example.test"], msg("own"))[0] == 250
    wait_messages(maild, "alice", 1)
    maild.wait_log(r"\.forward: refused \(owned by another user\)")
    assert messages(maild, "bob") == []


def test_forward_too_large_is_refused(maild):
    put(maild, "alice", ".forward", "bob\n" + "# padding\n" * 7000)
    assert send(maild, "s@example.org", ["alice@example.test"], msg("big"))[0] == 250
    wait_messages(maild, "alice", 1)
    maild.wait_log(r"\.forward: refused \(too large\)")
    assert messages(maild, "bob") == []


@pytest.mark.skipif(not IS_ROOT, reason="needs the kernel's permission checks (root)")
def test_forward_is_read_as_the_user(maild, sandbox):
    # a .forward that is a link to a file alice cannot read (root's,
    # mode 0600): maild reads it as alice, so it is not read at all
    secret = sandbox.path("secret")
    with open(secret, "w") as f:
        f.write("bob\n")
    os.chmod(secret, 0o600)
    os.symlink(secret, os.path.join(home(maild, "alice"), ".forward"))
    assert send(maild, "s@example.org", ["alice@example.test"], msg("secret"))[0] == 250
    wait_messages(maild, "alice", 1)
    maild.wait_log(r"\.forward: cannot be read as alice \(Permission denied\); ignored")
    assert messages(maild, "bob") == []


def test_forward_loop_bounces(maild):
    put(maild, "alice", ".forward", "bob\n")
    put(maild, "bob", ".forward", "alice@example.test\n")
    assert send(maild, "carol@example.test", ["alice@example.test"], msg("loop"))[0] == 250
    (b,) = wait_messages(maild, "carol", 1, timeout=20)
    text = b.as_string()
    assert "5.4.6" in text and "mail forwarding loop" in text
    assert messages(maild, "alice") == [] and messages(maild, "bob") == []


# --- alias programs and files -------------------------------------------------------

def alias_maild(make_maild, sandbox, aliases, **cfg):
    p = sandbox.path("aliases")
    with open(p, "w") as f:
        f.write(aliases)
    conf = {"aliases": p, "alias_program_targets": True, "alias_file_targets": True,
            "alias_user": "nobody"}
    conf.update(cfg)
    return make_maild(config=conf)


def test_alias_program_refused_unless_enabled(make_maild, sandbox):
    d = drop_dir(sandbox)
    m = alias_maild(make_maild, sandbox, 'tick: "|/bin/true"\nsave: %s/x\n' % d,
                    alias_program_targets=False, alias_file_targets=False)
    from test_smtp import connect, ehlo
    c = connect(m)
    ehlo(c)
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    for r in ("tick@example.test", "save@example.test"):
        c.cmd("RCPT TO:<%s>" % r)
        code, lines = c.smtp_reply()
        assert code == 550 and "5.3.5" in lines[0]


def test_alias_program_runs_as_alias_user(make_maild, sandbox):
    d = drop_dir(sandbox)
    sc = os.path.join(d, "dump.sh")
    with open(sc, "w") as f:
        f.write("#!/bin/sh\n" + ENV_DUMP)
    os.chmod(sc, 0o755)
    m = alias_maild(make_maild, sandbox, 'ticket: "|%s %s/env.out"\n' % (sc, d))
    assert send(m, "s@example.org", ["ticket+123@example.test"], msg("ticket"))[0] == 250
    wait_for(lambda: os.path.exists(d + "/env.out.msg") and queue_empty(m), timeout=15,
             what="the alias program")
    env = read_env(d + "/env.out")
    # as an ordinary user (uid_wrapper) a program runs with the real uid
    assert int(env["UID"]) == (65534 if IS_ROOT else os.getuid())
    assert env["USER"] == "nobody"
    assert env["EXTENSION"] == "123" and env["RECIPIENT"] == "ticket+123@example.test"
    assert "Delivered-To: ticket+123@example.test\n" in open(d + "/env.out.msg").read()


def test_alias_file_written_as_alias_user(make_maild, sandbox):
    d = drop_dir(sandbox)
    m = alias_maild(make_maild, sandbox, "archive: %s/archive.mbox, alice\n" % d)
    assert send(m, "s@example.org", ["archive@example.test"], msg("arch"))[0] == 250
    wait_messages(m, "alice", 1)
    wait_for(lambda: os.path.exists(d + "/archive.mbox") and queue_empty(m),
             what="the file delivery")
    data = open(d + "/archive.mbox").read()
    assert data.startswith("From s@example.org ") and "Subject: arch" in data
    assert "Delivered-To: archive@example.test" in data
    if IS_ROOT:
        assert os.stat(d + "/archive.mbox").st_uid == 65534


def test_alias_file_symlink_refused(make_maild, sandbox):
    d = drop_dir(sandbox)
    target = os.path.join(d, "victim")
    with open(target, "w") as f:
        f.write("")
    os.symlink(target, os.path.join(d, "link.mbox"))
    m = alias_maild(make_maild, sandbox, "arch: %s/link.mbox\n" % d)
    assert send(m, "carol@example.test", ["arch@example.test"], msg("sym"))[0] == 250
    (b,) = wait_messages(m, "carol", 1, timeout=20)
    assert "symbolic link" in b.as_string()
    assert open(target).read() == ""


@pytest.mark.skipif(not IS_ROOT, reason="needs root to give a file to another user")
def test_alias_file_owned_by_another_user_refused(make_maild, sandbox):
    d = drop_dir(sandbox)
    theirs = os.path.join(d, "alices.mbox")
    with open(theirs, "w") as f:
        f.write("")
    os.chmod(theirs, 0o666)
    os.chown(theirs, sandbox.uids["alice"], sandbox.uids["alice"])
    m = alias_maild(make_maild, sandbox, "arch: %s\n" % theirs)
    assert send(m, "carol@example.test", ["arch@example.test"], msg("own"))[0] == 250
    (b,) = wait_messages(m, "carol", 1, timeout=20)
    assert "is not a regular file owned by nobody" in b.as_string()
    assert open(theirs).read() == ""


def test_program_exit_75_is_deferred_and_retried(make_maild, sandbox):
    d = drop_dir(sandbox)
    sc = os.path.join(d, "flaky.sh")
    with open(sc, "w") as f:
        # fails with EX_TEMPFAIL the first time, then takes the message
        f.write('#!/bin/sh\nif [ -e "%s/once" ]; then cat > "%s/got"; exit 0; fi\n'
                'touch "%s/once"; echo try later; exit 75\n' % (d, d, d))
    os.chmod(sc, 0o755)
    m = alias_maild(make_maild, sandbox, 'flaky: "|%s"\n' % sc,
                    queue={"retry_min": 1, "retry_max": 1})
    assert send(m, "s@example.org", ["flaky@example.test"], msg("retry"))[0] == 250
    m.wait_log(r"deferred to=<flaky@example.test> .*4\.3\.0 command exited with status 75"
               r" \(temporary failure\): try later")
    wait_for(lambda: os.path.exists(d + "/got") and "Subject: retry" in open(d + "/got").read()
             and queue_empty(m), timeout=20, what="the retry")


def test_program_exit_1_bounces_with_its_output(make_maild, sandbox):
    m = alias_maild(make_maild, sandbox,
                    'nope: "|echo no such list >&2; exit 1"\n')
    assert send(m, "carol@example.test", ["nope@example.test"], msg("bnc"))[0] == 250
    (b,) = wait_messages(m, "carol", 1, timeout=20)
    text = b.as_string()
    assert "command exited with status 1" in text
    assert "no such list" in text


def test_program_past_time_limit_is_killed_and_deferred(make_maild, sandbox):
    d = drop_dir(sandbox)
    m = alias_maild(make_maild, sandbox,
                    'slow: "|echo $$ > %s/pid; exec sleep 60"\n' % d,
                    command_time_limit=2)
    assert send(m, "s@example.org", ["slow@example.test"], msg("slow"))[0] == 250
    m.wait_log(r"deferred to=<slow@example.test> .*command time limit exceeded", timeout=15)
    pid = int(open(d + "/pid").read())
    wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
             open("/proc/%d/stat" % pid).read().split(")")[1].split()[0] == "Z",
             what="the sleeping program to be killed")


def test_slow_program_does_not_hold_up_other_mail(make_maild, sandbox):
    d = drop_dir(sandbox)
    m = alias_maild(make_maild, sandbox,
                    'slow: "|cat > %s/slow.msg; sleep 8; echo done > %s/slow.done"\n' % (d, d),
                    queue={"locked_retry": 1})
    assert send(m, "s@example.org", ["slow@example.test"], msg("slow"))[0] == 250
    wait_for(lambda: os.path.exists(d + "/slow.msg"), what="the slow program to start")
    t0 = time.monotonic()
    assert send(m, "s@example.org", ["alice@example.test"], msg("fast"))[0] == 250
    wait_messages(m, "alice", 1, timeout=5)
    assert time.monotonic() - t0 < 5
    assert not os.path.exists(d + "/slow.done")
    # and the slow one is delivered once, when it is done
    wait_for(lambda: queue_empty(m), timeout=30, what="the slow delivery")
    assert os.path.exists(d + "/slow.done")
    assert len(re.findall(r"delivered to=<slow@example\.test>", m.log())) == 1
    assert os.listdir(m.sb.path("queue", "prog")) == []


def _ppid(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_program_job_killed_is_run_again(make_maild, sandbox):
    # the process running a program dies without a result (kill -9, a
    # crash): the next attempt runs the program again, nothing is lost
    d = drop_dir(sandbox)
    sc = os.path.join(d, "once.sh")
    with open(sc, "w") as f:
        f.write('#!/bin/sh\nif [ -e "%s/first" ]; then cat > "%s/got"; exit 0; fi\n'
                'touch "%s/first"; echo $$ > "%s/pid"; exec sleep 60\n' % (d, d, d, d))
    os.chmod(sc, 0o755)
    m = alias_maild(make_maild, sandbox, 'once: "|%s"\n' % sc,
                    queue={"retry_min": 1, "retry_max": 1, "locked_retry": 1})
    assert send(m, "s@example.org", ["once@example.test"], msg("again"))[0] == 250
    wait_for(lambda: os.path.exists(d + "/pid") and open(d + "/pid").read().strip(),
             what="the program to start")
    # the program, the child that became the user, and the job that
    # holds the result file (detached: no maild process is its parent)
    chain, p = [], int(open(d + "/pid").read())
    while proc_comm(p) in ("sh", "dash", "sleep", "once.sh", "maild-queue") and \
            p not in (1, m.pid) and _ppid(p) != m.pid and len(chain) < 6:
        chain.append(p)
        p = _ppid(p)
    assert len(chain) >= 3, [(x, proc_comm(x)) for x in chain]
    for p in reversed(chain):
        os.kill(p, signal.SIGKILL)
    m.wait_log(r"a command for <once@example\.test> ended without a result; running it again",
               timeout=20)
    wait_for(lambda: os.path.exists(d + "/got") and "Subject: again" in open(d + "/got").read()
             and queue_empty(m), timeout=20, what="the second run")


def test_program_that_reads_nothing_of_a_big_message_is_delivered(make_maild, sandbox):
    # it exits at once: writing the rest gets EPIPE, which is no failure
    m = alias_maild(make_maild, sandbox, 'drop: "|exit 0"\n')
    body = ("x" * 70 + "\r\n") * 8000           # 576 kB, beyond a pipe's buffer
    assert send(m, "s@example.org", ["drop@example.test"], msg("big", body))[0] == 250
    m.wait_log(r"delivered to=<drop@example\.test>", timeout=20)
    assert "died with signal" not in m.log()


def test_program_huge_output_is_bounded(make_maild, sandbox):
    m = alias_maild(make_maild, sandbox,
                    'loud: "|head -c 5000000 /dev/zero | tr \'\\\\0\' x; exit 1"\n')
    assert send(m, "carol@example.test", ["loud@example.test"], msg("loud"))[0] == 250
    (b,) = wait_messages(m, "carol", 1, timeout=30)
    text = b.as_string()
    assert "command exited with status 1" in text and "xxxxxxxxxx" in text
    assert len(text) < 100000


# --- user+detail ----------------------------------------------------------------

def test_user_plus_detail_reaches_user(maild):
    assert send(maild, "s@example.org", ["alice+lists@example.test"], msg("detail"))[0] == 250
    (got,) = wait_messages(maild, "alice", 1)
    assert got["Delivered-To"] == "alice+lists@example.test"


def test_full_local_part_wins_over_delimiter(make_maild, sandbox):
    p = sandbox.path("aliases")
    with open(p, "w") as f:
        f.write("alice+x: bob\n")
    m = make_maild(config={"aliases": p})
    assert send(m, "s@example.org", ["alice+x@example.test"], msg("full"))[0] == 250
    wait_messages(m, "bob", 1)
    assert messages(m, "alice") == []


def test_delimiter_off(make_maild):
    m = make_maild(config={"recipient_delimiter": ""})
    from test_smtp import connect, ehlo
    c = connect(m)
    ehlo(c)
    c.cmd("MAIL FROM:<s@example.org>")
    assert c.smtp_reply()[0] == 250
    c.cmd("RCPT TO:<alice+x@example.test>")
    assert c.smtp_reply()[0] == 550


# --- procmail ---------------------------------------------------------------------

@pytest.mark.skipif(not os.path.exists(PROCMAIL), reason="procmail is not installed")
def test_procmail_from_forward_files_into_folder(maild):
    h = home(maild, "alice")
    os.makedirs(os.path.join(h, "Mail"), exist_ok=True)
    if IS_ROOT:
        os.chown(os.path.join(h, "Mail"), maild.sb.uids["alice"], maild.sb.uids["alice"])
    # The test's users exist only in nss_wrapper, which procmail cannot
    # see (it is set-uid, so it gets no LD_PRELOAD, and it clears its
    # environment): so -m and an rcfile with absolute paths, as a site
    # filter would use, instead of "~/.procmailrc through getpwuid".
    rc = put(maild, "alice", "filter.rc",
             "MAILDIR=%s/Mail\nDEFAULT=%s/Mail/inbox\nLOGFILE=%s/procmail.log\n"
             ":0:\n* ^Subject:.*lists\nlists\n" % (h, h, h))
    put(maild, "alice", ".forward", '"|%s -m %s"\n' % (PROCMAIL, rc))
    assert send(maild, "s@example.org", ["alice@example.test"], msg("about lists"))[0] == 250
    folder = os.path.join(h, "Mail", "lists")
    wait_for(lambda: os.path.exists(folder) and "Subject: about lists" in open(folder).read()
             and queue_empty(maild), timeout=15, what="procmail to file the message")
    data = open(folder).read()
    assert data.startswith("From s@example.org ")
    assert "Delivered-To: alice@example.test" in data
    if IS_ROOT:
        assert os.stat(folder).st_uid == maild.sb.uids["alice"]
    assert messages(maild, "alice") == []


# --- the aliases file: how a change is seen -----------------------------------------

def test_maild_t_says_how_aliases_are_read(make_maild, sandbox):
    import subprocess
    from maildtest import MAILD
    p = sandbox.path("aliases")
    with open(p, "w") as f:
        f.write("staff: alice, bob\nops: carol\n")
    m = make_maild(config={"aliases": p}, start=False)
    r = subprocess.run([MAILD, "-t", "-c", m.conf], capture_output=True, text=True,
                       env=m.sb.env(), timeout=10)
    assert r.returncode == 0, r.stderr
    assert "aliases %s: 2 entries, read as text at start and on SIGHUP" % p in r.stderr


def test_aliases_change_seen_after_sighup(make_maild, sandbox):
    import signal
    p = sandbox.path("aliases")
    with open(p, "w") as f:
        f.write("staff: alice\n")
    m = make_maild(config={"aliases": p})
    assert send(m, "s@example.org", ["staff@example.test"], msg("one"))[0] == 250
    wait_messages(m, "alice", 1)
    with open(p, "w") as f:
        f.write("staff: bob\n")
    m.signal(signal.SIGHUP)
    m.wait_log(r"configuration reloaded")
    time.sleep(1)       # the old generation's workers retire
    assert send(m, "s@example.org", ["staff@example.test"], msg("two"))[0] == 250
    wait_messages(m, "bob", 1)
