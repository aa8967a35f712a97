#!/usr/bin/env python3
"""TLS benchmark over pop3s (run by hand; prints figures, passes or fails
nothing).

  tls_bench.py HOST PORT USER PASSWORD MBOX [COUNT SIZE]

1. Sessions per second with full handshakes: CONC clients (default 8)
   each connect, complete a TLS handshake (no session resumption), read
   the greeting, send QUIT and close, for SECONDS (default 10).
2. RETR throughput over TLS: writes COUNT messages of SIZE bytes (default
   10000 x 4096) into MBOX (the user's maildrop; run RESET_CMD yourself if
   the server caches an index), logs in over pop3s and retrieves every
   message, one command at a time.

The same client measures maild and Dovecot, so compare the ratio of two
runs made back to back, not the absolute figures. Also reports this
client's own CPU time, which is taken from the machine being measured.
"""
import os
import resource
import socket
import ssl
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # every session a full handshake
    ctx.options |= ssl.OP_NO_TICKET
    return ctx


def readline(s, buf):
    while b"\n" not in buf[0]:
        d = s.recv(65536)
        if not d:
            raise EOFError("server closed")
        buf[0] += d
    line, buf[0] = buf[0].split(b"\n", 1)
    return line


def sessions(host, port, conc, seconds):
    ctx = context()
    count = [0] * conc
    end = time.monotonic() + seconds

    def client(i):
        while time.monotonic() < end:
            raw = socket.create_connection((host, port), timeout=30)
            s = ctx.wrap_socket(raw)
            buf = [b""]
            assert readline(s, buf).startswith(b"+OK")
            s.sendall(b"QUIT\r\n")
            readline(s, buf)
            s.close()
            count[i] += 1

    t0 = time.monotonic()
    th = [threading.Thread(target=client, args=(i,)) for i in range(conc)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    return sum(count) / (time.monotonic() - t0)


def make_mbox(path, count, size):
    body = (b"x" * 76 + b"\n") * (size // 77)
    with open(path, "r+b") as f:
        f.truncate(0)
        for i in range(count):
            f.write(b"From bench@example.test Tue Nov 24 21:00:00 2026\n"
                    b"Subject: message %d\nMessage-ID: <%d@bench>\n\n" % (i, i))
            f.write(body)
            f.write(b"\n")
        os.fsync(f.fileno())


def retr_all(host, port, user, password, count):
    s = context().wrap_socket(socket.create_connection((host, port), timeout=120))
    buf = [b""]
    readline(s, buf)
    for cmd in (b"USER " + user.encode(), b"PASS " + password.encode()):
        s.sendall(cmd + b"\r\n")
        line = readline(s, buf)
        assert line.startswith(b"+OK"), line
    s.sendall(b"STAT\r\n")
    n = int(readline(s, buf).split()[1])
    assert n >= count, n
    total = 0
    t0 = time.monotonic()
    for i in range(1, count + 1):
        s.sendall(b"RETR %d\r\n" % i)
        assert readline(s, buf).startswith(b"+OK")
        while True:
            line = readline(s, buf)
            total += len(line) + 1
            if line == b".\r":
                break
    elapsed = time.monotonic() - t0
    s.sendall(b"QUIT\r\n")
    readline(s, buf)
    s.close()
    return total / elapsed / 1e6, elapsed


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    host, port, user, password, mbox = sys.argv[1:6]
    port = int(port)
    count = int(sys.argv[6]) if len(sys.argv) > 6 else 10000
    size = int(sys.argv[7]) if len(sys.argv) > 7 else 4096
    conc = int(os.environ.get("CONC", "8"))
    seconds = float(os.environ.get("SECONDS", "10"))
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    rate = sessions(host, port, conc, seconds)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    print("tls_sessions_per_s %.1f sessions/s (c=%d, %.0f s)" % (rate, conc, seconds))
    print("tls_sessions_client_cpu %.2f s" % (ru1.ru_utime + ru1.ru_stime -
                                             ru0.ru_utime - ru0.ru_stime))
    make_mbox(mbox, count, size)
    reset = os.environ.get("RESET_CMD")
    if reset:
        os.system(reset)
    mbs, el = retr_all(host, port, user, password, count)
    print("tls_retr_all %.1f MB/s (%d x %d B in %.2f s)" % (mbs, count, size, el))
    with open(mbox, "r+b") as f:
        f.truncate(0)


if __name__ == "__main__":
    main()
