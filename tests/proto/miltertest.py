"""A milter (the filter side of Sendmail's milter protocol, version 6) for
the tests: a few dozen lines of the wire protocol, on loopback, that
records what the MTA sends and answers as a test tells it to, including
badly (slow, closing, garbage, huge packets, invalid header edits)."""
import os
import socket
import struct
import threading
import time

# reply packets a test can queue
def pkt(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def z(*strs):
    return b"".join(s.encode() + b"\0" if isinstance(s, str) else s + b"\0" for s in strs)


def addheader(name, value):
    return pkt(b"h", z(name, value))


def insheader(idx, name, value):
    return pkt(b"i", struct.pack(">I", idx) + z(name, value))


def chgheader(idx, name, value):
    return pkt(b"m", struct.pack(">I", idx) + z(name, value))


def replbody(data):
    return pkt(b"b", data)


def replycode(text):
    return pkt(b"y", z(text))


CONTINUE, ACCEPT, REJECT, TEMPFAIL, DISCARD, PROGRESS, SKIP = (
    pkt(b"c"), pkt(b"a"), pkt(b"r"), pkt(b"t"), pkt(b"d"), pkt(b"p"), pkt(b"s"))

NEEDS_REPLY = b"CHMRTLNBE"


class FakeMilter:
    """replies: {stage letter: [packets]} sent instead of CONTINUE (for
    "E", before the final ACCEPT unless the list ends in a verdict);
    misbehave: {stage letter: "slow" | "close" | "garbage" | "huge"}."""

    def __init__(self, replies=None, misbehave=None, actions=0x1ff,
                 protocol=0, delay=3.0, family=socket.AF_INET, path=None,
                 unix_name=None):
        self.replies = replies or {}
        self.misbehave = misbehave or {}
        self.actions, self.protocol, self.delay = actions, protocol, delay
        self.seen = []          # (cmd letter, data) in order, all connections
        self.macros = {}        # name -> last value
        self.lock = threading.Lock()
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_UNIX:
            # path: where to make the socket; addr: as the worker sees it
            self.sock.bind(path)
            os.chmod(path, 0o666)
            self.port = 0
            self.addr = "unix:" + (unix_name or path)
        else:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
            self.port = self.sock.getsockname()[1]
            self.addr = ("inet:127.0.0.1:%d" % self.port if family == socket.AF_INET
                         else "inet:[::1]:%d" % self.port)
        self.sock.listen(16)
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.stopping = True
        self.sock.close()

    def cmds(self):
        with self.lock:
            return [c for c, _ in self.seen]

    def data_of(self, cmd):
        with self.lock:
            return [d for c, d in self.seen if c == cmd]

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    NR = {"C": 0x1000, "H": 0x2000, "M": 0x4000, "R": 0x8000, "T": 0x10000,
          "N": 0x40000, "B": 0x80000, "L": 0x80}

    def _no_reply(self, cmd):
        return bool(self.protocol & self.NR.get(cmd, 0))

    def _read(self, c, n):
        b = b""
        while len(b) < n:
            k = c.recv(n - len(b))
            if not k:
                raise EOFError
            b += k
        return b

    def _serve(self, c):
        c.settimeout(60)
        try:
            while True:
                n = struct.unpack(">I", self._read(c, 4))[0]
                body = self._read(c, n)
                cmd, data = body[:1].decode(), body[1:]
                with self.lock:
                    self.seen.append((cmd, data))
                if cmd == "O":
                    c.sendall(pkt(b"O", struct.pack(">III", 6, self.actions,
                                                    self.protocol)))
                    continue
                if cmd == "D":
                    parts = data[1:].split(b"\0")
                    with self.lock:
                        for i in range(0, len(parts) - 1, 2):
                            self.macros[parts[i].decode()] = parts[i + 1].decode()
                    continue
                if cmd == "Q":
                    return
                if cmd.encode() not in NEEDS_REPLY or self._no_reply(cmd):
                    continue
                bad = self.misbehave.get(cmd)
                if bad == "slow":
                    time.sleep(self.delay)
                elif bad == "close":
                    return
                elif bad == "garbage":
                    c.sendall(b"\0\0\0\x05Zjunk")
                    continue
                elif bad == "huge":
                    c.sendall(struct.pack(">I", 64 * 1024 * 1024) + b"h")
                    c.sendall(b"X" * 65536)
                    time.sleep(self.delay)
                    return
                out = list(self.replies.get(cmd, []))
                if cmd == "E" and (not out or out[-1][4:5] not in b"acrtdy"):
                    out.append(ACCEPT)
                if not out:
                    out = [CONTINUE]
                c.sendall(b"".join(out))
        except (EOFError, OSError):
            pass
        finally:
            c.close()
