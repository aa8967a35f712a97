"""A scripted SMTP server for the relay tests: the "remote MX" maild relays
to, on 127.0.0.x and a high port (all of 127/8 is loopback on Linux, so any
127.0.0.x binds without root and without ip addr).

It is written on the standard library rather than python3-aiosmtpd: aiosmtpd
refuses the DSN parameters (RET, ENVID, NOTIFY, ORCPT: "555 not recognized")
and cannot misbehave on purpose (replies that drip, lie or never end,
bytes injected after STARTTLS), which is most of what these tests need.

    mx = FakeMX("127.0.0.2", port, tls=(cert, key)).start()
    ... mx.messages[0]["data"]  (the DATA bytes exactly as received, with
        dot-stuffing and CRLF, up to and without the final ".\\r\\n")
    mx.stop()

MAIL is refused (553 5.7.1) for a sender whose local part starts "p553-",
deferred (450 4.7.1) for "t450-". Replies per recipient, by local part prefix: "t451-..." gets 451 4.7.1,
"p550-..." 550 5.1.1, "t452-..." 452 4.5.3; the reply to the final dot is
450 4.7.0 if any accepted recipient starts "final451-", 554 5.7.1 for
"final554-". Misbehaviour is chosen with keyword arguments (see FakeMX).
"""
import socket
import socketserver
import ssl
import threading
import time

DEFAULT_EHLO = ["PIPELINING", "SIZE 10240000", "8BITMIME", "SMTPUTF8",
                "ENHANCEDSTATUSCODES", "DSN"]


class _Conn:
    """Line I/O on a socket that can switch to TLS."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def readline(self, limit=65536):
        while b"\n" not in self.buf:
            if len(self.buf) > limit:
                raise ConnectionError("line too long")
            d = self.sock.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def read_data(self, limit=64 * 1024 * 1024):
        """The DATA bytes up to CRLF.CRLF (raw, stuffed), without it."""
        while True:
            i = self.buf.find(b"\r\n.\r\n")
            if self.buf.startswith(b".\r\n"):
                self.buf = self.buf[3:]
                return b""
            if i >= 0:
                data, self.buf = self.buf[:i + 2], self.buf[i + 5:]
                return data
            if len(self.buf) > limit:
                raise ConnectionError("data too long")
            d = self.sock.recv(65536)
            if not d:
                raise ConnectionError("closed in DATA")
            self.buf += d

    def send(self, b):
        self.sock.sendall(b if isinstance(b, bytes) else b.encode())


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        mx = self.server.mx
        with mx.lock:
            mx.connections += 1
        self.request.settimeout(60)
        c = _Conn(self.request)
        try:
            mx._session(c)
        except (ConnectionError, OSError, ssl.SSLError) as e:
            with mx.lock:
                mx.errors.append(repr(e))


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr, mx):
        fam = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.address_family = fam
        self.mx = mx
        super().__init__(addr, _Handler)


class FakeMX:
    """
    host, port: where to listen.
    ehlo: the extensions offered (list of lines after the name).
    tls: (cert, key) to offer STARTTLS.
    greeting: the first reply ("220 ..." by default; "554 ..." refuses).
    auth: (user, password): offer AUTH (auth_mechs), check them.
    tls_max: the newest TLS version offered ("TLSv1_2"), else OpenSSL's.
    misbehave: None or one of
        "huge_reply"       EHLO answered with an endless multi-line reply
        "garbage"          the greeting is not SMTP
        "nul"              a NUL inside the greeting
        "bare_lf"          replies end with LF only
        "code_change"      a multi-line EHLO reply whose code changes
        "drip"             the reply to the final dot arrives a byte every
                           drip_interval seconds, as lines "250-2.0.0 drip"
                           that never end
        "close_after_X"    close the connection after command X (EHLO, MAIL,
                           RCPT, DATA, DOT: the final dot), without replying
        "421_at_X"         reply 421 to command X and close
        "inject"           put "250 injected" right after the 220 to STARTTLS
        "helo_only"        5xx to EHLO, then HELO works (no extensions)
        "close_after_txn"  close (silently) after the reply to the final dot
    """

    def __init__(self, host, port, ehlo=None, tls=None, greeting="220 fakemx ESMTP",
                 auth=None, misbehave=None, drip_interval=0.2, name="fakemx",
                 auth_mechs="PLAIN LOGIN", tls_max=None):
        self.host, self.port = host, port
        self.ehlo = list(DEFAULT_EHLO if ehlo is None else ehlo)
        self.tls = tls
        self.greeting = greeting
        self.auth = auth
        self.auth_mechs = auth_mechs
        self.tls_max = tls_max
        self.misbehave = misbehave or ""
        self.drip_interval = drip_interval
        self.name = name
        self.lock = threading.Lock()
        self.messages = []
        self.connections = 0
        self.commands = []
        self.errors = []
        self.auth_ok = []
        self.server = None
        self.stopping = threading.Event()

    def start(self):
        self.server = _Server((self.host, self.port), self)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.stopping.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # --- the session ---------------------------------------------------
    def _eol(self):
        return "\n" if self.misbehave == "bare_lf" else "\r\n"

    def _reply(self, c, text):
        c.send("".join(line + self._eol() for line in text.split("\n")))

    def _log(self, line):
        with self.lock:
            self.commands.append(line)

    def _session(self, c):
        mb = self.misbehave
        if mb == "garbage":
            c.send(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            time.sleep(0.5)
            return
        if mb == "nul":
            c.send(b"220 fake\x00mx\r\n")
            time.sleep(0.5)
            return
        self._reply(c, self.greeting)
        if not self.greeting.startswith("2"):
            try:
                while True:
                    line = c.readline()
                    self._log(line.decode("latin-1").rstrip("\r\n"))
                    if line.upper().startswith(b"QUIT"):
                        self._reply(c, "221 bye")
                        return
                    self._reply(c, "503 5.5.1 go away")
            except ConnectionError:
                return
        tls_on = False
        env = None
        while True:
            raw = c.readline()
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            self._log(line if not verb == "AUTH" else "AUTH " + line.split(" ")[1])
            if mb == "close_after_" + verb:
                return
            if mb == "421_at_" + verb:
                self._reply(c, "421 4.3.2 shutting down")
                return
            if verb == "EHLO":
                if mb == "helo_only":
                    self._reply(c, "502 5.5.2 no EHLO here")
                    continue
                if mb == "huge_reply":
                    c.send(b"250-" + self.name.encode() + b"\r\n")
                    for i in range(1000000):
                        if self.stopping.is_set():
                            return
                        c.send(b"250-X-FILLER-%d\r\n" % i)
                    return
                if mb == "code_change":
                    c.send(b"250-fakemx\r\n251-PIPELINING\r\n250 8BITMIME\r\n")
                    continue
                lines = [self.name] + self.ehlo
                if self.tls and not tls_on:
                    lines.append("STARTTLS")
                if self.auth:
                    lines.append("AUTH " + self.auth_mechs)
                self._reply(c, "\n".join(("250-" if i < len(lines) - 1 else "250 ") + l
                                         for i, l in enumerate(lines)))
                env = None
            elif verb == "HELO":
                self._reply(c, "250 " + self.name)
            elif verb == "STARTTLS":
                if not self.tls or tls_on:
                    self._reply(c, "502 5.5.1 no")
                    continue
                if mb == "inject":
                    c.send(b"220 2.0.0 go ahead\r\n250 injected\r\n")
                else:
                    self._reply(c, "220 2.0.0 go ahead")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(*self.tls)
                if self.tls_max:
                    ctx.maximum_version = getattr(ssl.TLSVersion, self.tls_max)
                c.sock = ctx.wrap_socket(c.sock, server_side=True)
                c.buf = b""
                tls_on = True
            elif verb == "AUTH":
                self._auth(c, line)
            elif verb == "MAIL":
                env = {"mail": line[10:], "rcpts": [], "accepted": [], "tls": tls_on}
                sender = line[line.find("<") + 1:line.find(">")]
                if sender.startswith("p553-"):
                    self._reply(c, "553 5.7.1 sender refused")
                    env = None
                elif sender.startswith("t450-"):
                    self._reply(c, "450 4.7.1 sender greylisted")
                    env = None
                else:
                    self._reply(c, "250 2.1.0 ok")
            elif verb == "RCPT":
                if env is None:
                    self._reply(c, "503 5.5.1 MAIL first")
                    continue
                arg = line[8:]
                addr = arg[arg.find("<") + 1:arg.find(">")]
                env["rcpts"].append(arg)
                local = addr.split("@")[0]
                if local.startswith("t451-"):
                    self._reply(c, "451 4.7.1 try again later")
                elif local.startswith("t452-"):
                    self._reply(c, "452 4.5.3 too many recipients")
                elif local.startswith("p550-"):
                    self._reply(c, "550 5.1.1 no such user here")
                else:
                    env["accepted"].append(addr)
                    self._reply(c, "250 2.1.5 ok")
            elif verb == "DATA":
                if env is None or not env["accepted"]:
                    self._reply(c, "554 5.5.1 no valid recipients")
                    continue
                self._reply(c, "354 go ahead")
                env["data"] = c.read_data()
                if mb == "close_after_DOT":
                    with self.lock:
                        self.messages.append(env)
                    return
                if mb == "421_at_DOT":
                    self._reply(c, "421 4.3.2 shutting down")
                    return
                if mb == "drip":
                    # a multi-line reply: each line is quick, the whole is not
                    for ch in b"250-2.0.0 drip\r\n" * 1000:
                        if self.stopping.is_set():
                            return
                        c.send(bytes([ch]))
                        time.sleep(self.drip_interval)
                    return
                with self.lock:
                    self.messages.append(env)
                if any(a.startswith("final451-") for a in env["accepted"]):
                    self._reply(c, "450 4.7.0 not now")
                elif any(a.startswith("final554-") for a in env["accepted"]):
                    self._reply(c, "554 5.7.1 rejected content")
                else:
                    self._reply(c, "250 2.0.0 queued as FAKE%d" % len(self.messages))
                env = None
                if mb == "close_after_txn":
                    return
            elif verb == "RSET":
                env = None
                self._reply(c, "250 2.0.0 ok")
            elif verb == "NOOP":
                self._reply(c, "250 2.0.0 ok")
            elif verb == "QUIT":
                self._reply(c, "221 2.0.0 bye")
                return
            else:
                self._reply(c, "500 5.5.2 what?")

    def _auth(self, c, line):
        import base64
        parts = line.split(" ")
        mech = parts[1].upper() if len(parts) > 1 else ""
        if mech == "PLAIN":
            b = base64.b64decode(parts[2]) if len(parts) > 2 else b""
            _, user, pw = (b.split(b"\0") + [b"", b""])[:3]
        elif mech == "LOGIN":
            self._reply(c, "334 VXNlcm5hbWU6")
            user = base64.b64decode(c.readline().strip())
            self._reply(c, "334 UGFzc3dvcmQ6")
            pw = base64.b64decode(c.readline().strip())
        else:
            self._reply(c, "504 5.5.4 unknown mechanism")
            return
        ok = self.auth and (user.decode(), pw.decode()) == tuple(self.auth)
        with self.lock:
            self.auth_ok.append((mech, user.decode(), bool(ok)))
        self._reply(c, "235 2.7.0 ok" if ok else "535 5.7.8 bad credentials")
