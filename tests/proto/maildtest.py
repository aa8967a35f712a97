"""Test harness for the black-box tests: a real maild on loopback.

Each test gets a sandbox directory with fake users (nss_wrapper), a PAM
service backed by pam_matrix (pam_wrapper), a spool, a queue and a config
file, and a maild started in the foreground with its log captured.  As
root the workers really drop to the fake uids; as an ordinary user
uid_wrapper fakes root and the fake users share the real uid, so the same
tests run both ways.
"""
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BUILDDIR = os.path.abspath(os.environ.get("MAILD_BUILDDIR", "."))
SRCDIR = os.path.abspath(os.environ.get("MAILD_SRCDIR", BUILDDIR))
MAILD = os.path.join(BUILDDIR, "maild")
SMTPD = os.path.join(BUILDDIR, "smtpd", "smtpd")
POP3D = os.path.join(BUILDDIR, "pop3d", "pop3d")
IS_ROOT = os.geteuid() == 0

USERS = {"alice": "alice-pw-1", "bob": "bob-pw-2", "carol": "carol-pw-3"}


def wrapper_lib(name):
    """Full path of a cwrap preload library (pkg-config's Libs is the path)."""
    try:
        out = subprocess.run(["pkg-config", "--libs", name], capture_output=True,
                             text=True, check=True).stdout.split()
        for word in out:
            if word.endswith(".so") and os.path.exists(word):
                return word
    except (OSError, subprocess.CalledProcessError):
        pass
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"):
        p = os.path.join(d, "lib%s.so" % name)
        if os.path.exists(p):
            return p
    raise RuntimeError("%s not found: install lib%s" % (name, name.replace("_", "-")))


def pam_matrix():
    mods = os.environ.get("PAM_WRAPPER_MODULES_DIR") or subprocess.run(
        ["pkg-config", "--variable=modules", "pam_wrapper"], capture_output=True,
        text=True).stdout.strip()
    p = os.path.join(mods, "pam_matrix.so")
    if not os.path.exists(p):
        raise RuntimeError("pam_matrix.so not found (libpam-wrapper)")
    return p


_ports_given = set()


# Ports for the daemons under test come from below the kernel's ephemeral
# range (ip_local_port_range, 32768-60999 by default): a port that bind(0)
# hands out there can be taken, before maild binds it, as the source port
# of any outgoing connection on the machine. Each test process starts at
# its own random place in the range, so parallel test files rarely meet.
_PORT_LO, _PORT_HI = 20000, 32767
_port_next = [None]


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(family=socket.AF_INET):
    """A port nothing listens on, outside the ephemeral range, never the same
    twice in one test run (two listeners of one maild must differ)."""
    hi = min(_PORT_HI, _ephemeral_low() - 1)
    if _port_next[0] is None:
        _port_next[0] = random.randint(_PORT_LO, hi)
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    for _ in range(hi - _PORT_LO + 1):
        port = _port_next[0]
        _port_next[0] = port + 1 if port < hi else _PORT_LO
        if port in _ports_given:
            continue
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _ports_given.add(port)
        return port
    raise AssertionError("no free port in %d-%d" % (_PORT_LO, hi))


def to_libconfig(d, indent=0):
    """A dict (nested dicts, lists of str, str, int, bool) as libconfig text."""
    pad = "  " * indent
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out.append("%s%s: {\n%s%s};" % (pad, k, to_libconfig(v, indent + 1), pad))
        elif isinstance(v, bool):
            out.append("%s%s = %s;" % (pad, k, "true" if v else "false"))
        elif isinstance(v, int):
            out.append("%s%s = %d;" % (pad, k, v))
        elif isinstance(v, list):
            out.append("%s%s = [ %s ];" % (pad, k, ", ".join('"%s"' % x for x in v)))
        else:
            out.append('%s%s = "%s";' % (pad, k, v))
    return "\n".join(out) + "\n"


def merge(base, over):
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v
    return base


def proc_tree():
    """{pid: (ppid, comm, state)} for every process."""
    tree = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        rest = s[s.rindex(")") + 2:].split()
        tree[int(p)] = (int(rest[1]), comm, rest[0])
    return tree


def descendants(root):
    tree = proc_tree()
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for q, (pp, comm, st) in tree.items():
            if pp == p and st != "Z":
                out.append(q)
                todo.append(q)
    return out


def proc_uids(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return []


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        return s[s.rindex(")") + 2] != "Z"
    except OSError:
        return False


def wait_for(cond, timeout=10.0, interval=0.05, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))


class Sandbox:
    """Users, PAM, directories and the environment a maild (or smtpd -i) runs in."""

    def __init__(self, base=None):
        self.dir = tempfile.mkdtemp(prefix="maildt.", dir=base)
        os.chmod(self.dir, 0o755)
        for d in ("spool", "queue", "state", "empty", "pam", "run", "home"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        os.chmod(os.path.join(self.dir, "spool"), 0o1777 if not IS_ROOT else 0o775)
        if IS_ROOT:
            self.uids = {"alice": 60001, "bob": 60002, "carol": 60003}
            self.maild_uid, self.mail_gid = 60100, 60008
        else:
            me = os.getuid()
            self.uids = {u: me for u in USERS}
            self.maild_uid, self.mail_gid = 60100, os.getgid()
        self._write_nss()
        self._write_pam()

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def _write_nss(self):
        rows = ["root:x:0:0:root:/root:/bin/sh",
                "maild:x:%d:%d:maild:/nonexistent:/bin/false" % (self.maild_uid, self.maild_uid),
                "nobody:x:65534:65534:nobody:/nonexistent:/bin/false"]
        for u, uid in self.uids.items():
            rows.append("%s:x:%d:%d:%s:%s:/bin/sh" % (u, uid, uid if IS_ROOT else os.getgid(),
                                                       u.title(), self.path("home", u)))
        with open(self.path("passwd"), "w") as f:
            f.write("\n".join(rows) + "\n")
        groups = ["root:x:0:", "maild:x:%d:" % self.maild_uid, "nogroup:x:65534:",
                  "mail:x:%d:" % self.mail_gid]
        if IS_ROOT:
            groups += ["%s:x:%d:" % (u, uid) for u, uid in self.uids.items()]
        with open(self.path("group"), "w") as f:
            f.write("\n".join(groups) + "\n")

    def _write_pam(self):
        m = pam_matrix()
        with open(self.path("pam", "maildtest"), "w") as f:
            f.write("auth required %s\naccount required %s\n" % (m, m))
        with open(self.path("pam", "other"), "w") as f:
            f.write("auth required pam_deny.so\naccount required pam_deny.so\n")
        with open(self.path("passdb"), "w") as f:
            f.write("".join("%s:%s:maildtest\n" % kv for kv in USERS.items()))

    def env(self, extra=None):
        e = dict(os.environ)
        libs = [wrapper_lib("pam_wrapper"), wrapper_lib("nss_wrapper")]
        e.update(PAM_WRAPPER="1", PAM_WRAPPER_SERVICE_DIR=self.path("pam"),
                 PAM_MATRIX_PASSWD=self.path("passdb"),
                 NSS_WRAPPER_PASSWD=self.path("passwd"), NSS_WRAPPER_GROUP=self.path("group"))
        if not IS_ROOT:
            libs.append(wrapper_lib("uid_wrapper"))
            e.update(UID_WRAPPER="1", UID_WRAPPER_ROOT="1")
        pre = os.environ.get("MAILD_TEST_PRELOAD")    # e.g. libasan first
        e["LD_PRELOAD"] = ":".join(([pre] if pre else []) + libs)
        if extra:
            e.update(extra)
        return e

    def base_config(self):
        return {
            "hostname": "mx.example.test",
            "user": "maild",
            "group": "maild",
            "chroot": self.path("empty") if IS_ROOT else "",
            "spool_dir": self.path("spool"),
            "queue_dir": self.path("queue"),
            "state_dir": self.path("state"),
            "pid_file": self.path("run", "maild.pid"),
            "local_domains": ["example.test", "localhost"],
            "aliases": "",
            "mail_group": "mail",
            "pam_service": "maildtest",
            "auth_fail_delay": 1,
            "shutdown_grace": 5,
            # the sendmail command's socket (tests/proto/test_sendmail.py)
            "submit": {"socket": self.path("run", "maild.submit")},
        }

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Maild:
    """A running maild master and its helpers for tests."""

    def __init__(self, sandbox, config=None, env=None, args=()):
        self.sb = sandbox
        self.smtp_port = free_port()
        self.pop3_port = free_port()
        cfg = sandbox.base_config()
        # Every client is 127.0.0.1: no per-address limit (the default
        # would be an eighth of max_workers) except where a test sets one.
        merge(cfg, {
            "smtp": {"listen": ["127.0.0.1:%d" % self.smtp_port],
                     "max_connections_per_ip": 0,
                     "pool": {"min_spare": 2, "max_spare": 4, "max_workers": 8}},
            "pop3": {"listen": ["127.0.0.1:%d" % self.pop3_port],
                     "max_connections_per_ip": 0,
                     "pool": {"min_spare": 1, "max_spare": 3, "max_workers": 4}},
        })
        merge(cfg, config or {})
        self.config = cfg
        self.conf = sandbox.path("maild.conf")
        self.write_config(cfg)
        self.log_path = sandbox.path("maild.log")
        self.extra_env = env or {}
        self.args = list(args)
        self.proc = None
        self.pid = None
        # a command to run maild under, e.g. ["prlimit", "--fsize=65536"]
        self.wrapper = []
        # -d: debug lines (every SMTP command); benchmarks turn it off
        self.debug = True

    def write_config(self, cfg=None, text=None):
        with open(self.conf, "w") as f:
            f.write(text if text is not None else to_libconfig(cfg or self.config))

    def start(self, wait=True):
        self.logf = open(self.log_path, "ab")
        # e.g. MAILD_TEST_WRAPPER="valgrind -q --error-exitcode=99": the
        # whole process tree runs under it (workers are forked, not exec'd)
        wrapper = os.environ.get("MAILD_TEST_WRAPPER", "").split()
        self.proc = subprocess.Popen(self.wrapper + wrapper + [MAILD, "-f"] + (["-d"] if self.debug else []) +
                                     ["-c", self.conf] + self.args,
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=self.sb.env(self.extra_env))
        self.pid = self.proc.pid
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30 if os.environ.get("MAILD_TEST_WRAPPER") else 10):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("maild exited with %s:\n%s" % (self.proc.returncode, self.log()))
            return (len(self.workers("smtpd")) >= self.config["smtp"]["pool"]["min_spare"] and
                    len(self.workers("pop3d")) >= self.config["pop3"]["pool"]["min_spare"])
        wait_for(ready, timeout, what="workers to start")

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, pattern, timeout=10):
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log()), timeout, what="log line /%s/" % pattern)

    def monitors(self, proto=None):
        tree = proc_tree()
        return [p for p, (pp, comm, st) in tree.items()
                if pp == self.pid and st != "Z" and comm.endswith("-priv") and
                (proto is None or comm == proto + "-priv")]

    def workers(self, proto=None):
        """Worker pids (children of the monitors), optionally of one protocol."""
        tree = proc_tree()
        mons = {p for p, (pp, comm, st) in tree.items() if pp == self.pid and st != "Z"}
        return [p for p, (pp, comm, st) in tree.items()
                if pp in mons and st != "Z" and comm in ("smtpd", "pop3d") and
                (proto is None or comm == proto)]

    def all_pids(self):
        return [self.pid] + descendants(self.pid)

    def signal(self, sig):
        os.kill(self.pid, sig)

    def stop(self, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        pids = self.all_pids()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            for p in pids:
                with contextlib.suppress(OSError):
                    os.kill(p, signal.SIGKILL)
            raise AssertionError("maild did not stop within %d s" % timeout)
        wait_for(lambda: not any(alive(p) for p in pids), 5, what="children to exit")
        return rc

    def kill_all(self):
        if self.proc and self.proc.poll() is None:
            for p in self.all_pids():
                with contextlib.suppress(OSError):
                    os.kill(p, signal.SIGKILL)
            self.proc.wait()


class Client:
    """A line-oriented protocol client over a real socket."""

    def __init__(self, port, host="127.0.0.1", timeout=10, sock=None):
        self.sock = sock or socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def cmd(self, line):
        self.send(line + "\r\n")

    def readline(self):
        while b"\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed; buffer %r" % self.buf)
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode(errors="replace")

    def smtp_reply(self):
        """One (possibly multi-line) SMTP reply: (code, [lines])."""
        lines = []
        while True:
            line = self.readline()
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def closed(self, timeout=5):
        """True if the server closed the connection (EOF or reset) within timeout."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()
