"""A scripted DNS server for the relay tests (python3-dnslib), on 127.0.0.1,
UDP and TCP on one high port.

    dns = FakeDNS({
        "relay.test":     {"MX": [(10, "mx1.relay.test"), (20, "mx2.relay.test")]},
        "mx1.relay.test": {"A": ["127.0.0.2"], "AAAA": ["::1"]},
        "nullmx.test":    {"MX": [(0, ".")]},
        "servfail.test":  "SERVFAIL",      # also "REFUSED", "SILENT" (no reply)
        "_25._tcp.mx1.relay.test": {"TLSA": [(3, 1, 1, "ab12...")]},
    })
    dns.start(); ... "127.0.0.1@%d" % dns.port ...; dns.stop()

A name in the table answers its records; asked for a type it lacks, it
answers NODATA (NOERROR, empty); a name not in the table is NXDOMAIN
(dnslib's own zone resolver says NXDOMAIN for NODATA too, which is why this
exists). A string instead of records makes every question for the name fail
that way. dns.queries lists (name, type) as asked.

Run as a script for a manual check: fakedns.py PORT (a small fixed table).
"""
import socket
import sys
import threading

from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, A, DNSLabel, RD
from dnslib.dns import DNSError
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class TLSA(RD):
    """RFC 6698 rdata (dnslib 0.9.23 has it, older ones not: ours is tiny)."""

    def __init__(self, usage, selector, mtype, data):
        self.usage, self.selector, self.mtype, self.data = usage, selector, mtype, data

    def pack(self, buffer):
        buffer.append(bytes([self.usage, self.selector, self.mtype]) + self.data)

    def __repr__(self):
        return "%d %d %d %s" % (self.usage, self.selector, self.mtype, self.data.hex())


class _QuietLogger(DNSLogger):
    def __init__(self):
        super().__init__(log="-recv,-send,-request,-reply,-truncated,-data,-error",
                         prefix=False)


def _rdata(rtype, v):
    if rtype == "A":
        return A(v)
    if rtype == "AAAA":
        return AAAA(v)
    if rtype == "MX":
        pref, host = v
        return MX("." if host == "." else host, pref)
    if rtype == "CNAME":
        return CNAME(v)
    if rtype == "TLSA":
        u, s, m, data = v
        return TLSA(u, s, m, bytes.fromhex(data) if isinstance(data, str) else data)
    raise ValueError(rtype)


class _Resolver(BaseResolver):
    def __init__(self, owner):
        self.owner = owner

    def resolve(self, request, handler):
        q = request.q
        name = str(q.qname).rstrip(".").lower()
        qtype = QTYPE[q.qtype]
        with self.owner.lock:
            self.owner.queries.append((name, qtype))
            entry = self.owner.zone.get(name)
        reply = request.reply()
        reply.header.ra = 1
        if entry is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if isinstance(entry, str):
            if entry == "SILENT":
                raise DNSError("silent by request")      # dnslib sends nothing
            reply.header.rcode = getattr(RCODE, entry)
            return reply
        for rtype in (qtype, "CNAME"):
            for v in entry.get(rtype, []):
                rr = RR(q.qname, getattr(QTYPE, rtype), rdata=_rdata(rtype, v), ttl=60)
                if rtype == "MX" and v[1] == ".":
                    rr.rdata.label = DNSLabel(".")
                reply.add_answer(rr)
            if reply.rr:
                break
        return reply


def _free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            u.close()
            t.close()
        return port
    raise RuntimeError("no free port")


class FakeDNS:
    def __init__(self, zone=None):
        self.zone = {k.rstrip(".").lower(): v for k, v in (zone or {}).items()}
        self.queries = []
        self.lock = threading.Lock()
        self.port = None
        self.servers = []

    def set(self, name, entry):
        with self.lock:
            self.zone[name.rstrip(".").lower()] = entry

    def start(self):
        resolver = _Resolver(self)
        for _ in range(5):
            self.port = _free_port()
            try:
                self.servers = [DNSServer(resolver, port=self.port, address="127.0.0.1",
                                          tcp=tcp, logger=_QuietLogger())
                                for tcp in (False, True)]
                break
            except OSError:
                continue
        for s in self.servers:
            s.start_thread()
        return self

    @property
    def addr(self):
        return "127.0.0.1@%d" % self.port

    def stop(self):
        for s in self.servers:
            s.server.shutdown()
            s.server.server_close()
        self.servers = []


if __name__ == "__main__":
    d = FakeDNS({"relay.test": {"MX": [(10, "mx1.relay.test")]},
                 "mx1.relay.test": {"A": ["127.0.0.2"]},
                 "nullmx.test": {"MX": [(0, ".")]},
                 "servfail.test": "SERVFAIL"})
    d.start()
    print("fakedns on", d.addr, flush=True)
    try:
        threading.Event().wait(int(sys.argv[1]) if len(sys.argv) > 1 else 3600)
    finally:
        d.stop()
