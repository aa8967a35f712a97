"""inetd mode: smtpd -i and pop3d -i serve one session on stdin/stdout with
the same privilege split."""
import socket
import subprocess

from maildtest import POP3D, SMTPD, Client, Maild, alive, descendants, wait_for


def run_inetd(sandbox, prog):
    m = Maild(sandbox)      # only for its config file
    ours, theirs = socket.socketpair()
    p = subprocess.Popen([prog, "-i", "-c", m.conf], stdin=theirs, stdout=theirs,
                         stderr=theirs, env=sandbox.env())
    theirs.close()
    return p, Client(None, sock=ours)


def test_smtpd_i_greets_and_quits(sandbox):
    p, c = run_inetd(sandbox, SMTPD)
    code, lines = c.smtp_reply()
    assert code == 220 and lines[0].startswith("mx.example.test ")
    kids = descendants(p.pid)
    assert len(kids) == 1       # the unprivileged worker
    c.cmd("QUIT")
    assert c.smtp_reply()[0] == 221
    assert c.closed()
    assert p.wait(timeout=10) == 0
    wait_for(lambda: not any(alive(k) for k in kids), what="worker to exit")


def test_smtpd_i_stderr_is_never_written(sandbox):
    # stderr is the client too: nothing but protocol may appear on it
    p, c = run_inetd(sandbox, SMTPD)
    c.smtp_reply()
    c.cmd("NOOP")
    c.smtp_reply()
    c.cmd("QUIT")
    assert c.smtp_reply()[0] == 221
    rest = b""
    c.sock.settimeout(5)
    while True:
        d = c.sock.recv(4096)
        if not d:
            break
        rest += d
    assert rest == b""
    p.wait(timeout=10)


def test_pop3d_i_greets_and_quits(sandbox):
    p, c = run_inetd(sandbox, POP3D)
    assert c.readline().startswith("+OK")
    c.cmd("QUIT")
    assert c.readline().startswith("+OK")
    assert c.closed()
    assert p.wait(timeout=10) == 0


def test_inetd_client_hangup_ends_both_processes(sandbox):
    p, c = run_inetd(sandbox, SMTPD)
    c.smtp_reply()
    kids = descendants(p.pid)
    c.close()
    assert p.wait(timeout=10) == 0
    wait_for(lambda: not any(alive(k) for k in kids), what="worker to exit")
