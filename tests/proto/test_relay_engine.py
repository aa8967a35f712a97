"""The relay engine (relay/): one relay worker's delivery of one request, DNS
(libunbound) to MX selection to the SMTP client with STARTTLS, driven through
tests/relay_probe against a scripted DNS server (fakedns.py) and scripted
SMTP servers (fakemx.py) on 127.0.0.x. The runner (forking workers, queue
files, bounces) has its own tests.

RFC 5321 5.1 (MX), 4.5.3.2 (timeouts), 4.5.2 (transparency); RFC 7505 (null
MX); RFC 2920, 1870, 6152, 6531, 3461 (extensions); RFC 3207 (STARTTLS);
RFC 7672 (DANE)."""
import os
import re
import subprocess
import time

import pytest

from fakedns import FakeDNS
from fakemx import FakeMX
from maildtest import BUILDDIR, free_port, merge, to_libconfig
from tlstest import make_cert

PROBE = os.path.join(BUILDDIR, "tests", "relay_probe")
LINE = re.compile(r"rcpt (\S+) (sent|defer|bounce) (-?\d+) (\S+) ?(.*)$")
SESSION = re.compile(r'session host=(\S+) addr=(\S+) tls="([^"]*)" site_fail=(\d) tls_failed=(\d)$')

MSG = b"Subject: test\n\nhello\n"


class Relay:
    """The fake world around one probe run: DNS, MX hosts, the config."""

    def __init__(self, sandbox):
        self.sb = sandbox
        self.port = free_port()
        self.dns = FakeDNS().start()
        self.mxs = []
        self.config = sandbox.base_config()
        merge(self.config, {
            "smtp": {"listen": ["127.0.0.1:%d" % free_port()]},
            "relay": {"port": self.port, "dns_servers": [self.dns.addr],
                      "connect_timeout": "2s", "command_timeout": "5s",
                      "data_timeout": "5s",
                      "tls": {"security_level": "may", "ca_file": ""}}})

    def mx(self, host, **kw):
        m = FakeMX(host, kw.pop("port", self.port), **kw).start()
        self.mxs.append(m)
        return m

    def close(self):
        for m in self.mxs:
            m.stop()
        self.dns.stop()

    def probe(self, nexthop, rcpts, msg=MSG, args=(), config=None, timeout=60):
        cfg = dict(self.config)
        merge(cfg, config or {})
        conf = self.sb.path("relay.conf")
        with open(conf, "w") as f:
            f.write(to_libconfig(cfg))
        body = self.sb.path("message")
        with open(body, "wb") as f:
            f.write(msg)
        p = subprocess.run([PROBE, "-c", conf, "-m", body, "-n", nexthop] + list(args) +
                           list(rcpts), capture_output=True, timeout=timeout,
                           env=self.sb.env())
        self.stderr = p.stderr.decode("utf-8", "replace")
        assert p.returncode == 0, self.stderr
        runs, cur = [], {}
        for line in p.stdout.decode().splitlines():
            m = LINE.match(line)
            if m:
                cur[m.group(1)] = (m.group(2), int(m.group(3)), m.group(4), m.group(5))
                continue
            m = SESSION.match(line)
            assert m, line
            runs.append({"rcpts": cur, "host": m.group(1), "addr": m.group(2),
                         "tls": m.group(3), "site_fail": m.group(4) == "1",
                         "tls_failed": m.group(5) == "1"})
            cur = {}
        print(self.stderr)
        return runs if len(runs) > 1 else runs[0]


@pytest.fixture
def relay(sandbox):
    r = Relay(sandbox)
    yield r
    r.close()


def classes(run):
    return {a: v[0] for a, v in run["rcpts"].items()}


# --- MX selection ----------------------------------------------------------

def test_mx_preference_order(relay):
    relay.dns.set("relay.example", {"MX": [(20, "mx2.relay.example"), (10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    relay.dns.set("mx2.relay.example", {"A": ["127.0.0.3"]})
    mx1, mx2 = relay.mx("127.0.0.2"), relay.mx("127.0.0.3")
    r = relay.probe("relay.example", ["a@relay.example"])
    assert classes(r) == {"a@relay.example": "sent"}
    assert r["host"] == "mx1.relay.example" and r["addr"] == "[127.0.0.2]:%d" % relay.port
    assert len(mx1.messages) == 1 and mx2.connections == 0


def test_mx_fallback_when_first_refuses(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example"), (20, "mx2.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    relay.dns.set("mx2.relay.example", {"A": ["127.0.0.3"]})
    mx2 = relay.mx("127.0.0.3")          # nothing listens on 127.0.0.2
    r = relay.probe("relay.example", ["a@relay.example"])
    assert classes(r) == {"a@relay.example": "sent"} and r["host"] == "mx2.relay.example"
    assert "connect to mx1.relay.example [127.0.0.2]:%d: Connection refused" % relay.port \
        in relay.stderr
    assert len(mx2.messages) == 1


def test_mx_fallback_on_5xx_greeting(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example"), (20, "mx2.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    relay.dns.set("mx2.relay.example", {"A": ["127.0.0.3"]})
    relay.mx("127.0.0.2", greeting="554 5.7.1 no thanks")
    mx2 = relay.mx("127.0.0.3")
    r = relay.probe("relay.example", ["a@relay.example"])
    assert classes(r) == {"a@relay.example": "sent"} and len(mx2.messages) == 1


def test_all_mx_down_defers_as_site_failure(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"], "AAAA": ["::1"]})
    r = relay.probe("relay.example", ["a@relay.example"])
    cls, code, status, text = r["rcpts"]["a@relay.example"]
    assert cls == "defer" and status == "4.4.1" and "Connection refused" in text
    assert r["site_fail"]


def test_equal_preference_shuffled(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example"), (10, "mx2.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    relay.dns.set("mx2.relay.example", {"A": ["127.0.0.3"]})
    relay.mx("127.0.0.2"), relay.mx("127.0.0.3")
    hosts = set()
    for _ in range(12):         # 2 ** -11 that one host is always first
        hosts.add(relay.probe("relay.example", ["a@relay.example"])["host"])
        if len(hosts) == 2:
            break
    assert hosts == {"mx1.relay.example", "mx2.relay.example"}


def test_implicit_mx(relay):
    relay.dns.set("implicit.example", {"A": ["127.0.0.4"]})
    mx = relay.mx("127.0.0.4")
    r = relay.probe("implicit.example", ["a@implicit.example"])
    assert classes(r) == {"a@implicit.example": "sent"} and r["host"] == "implicit.example"
    assert len(mx.messages) == 1


def test_null_mx_bounces(relay):
    relay.dns.set("nullmx.example", {"MX": [(0, ".")], "A": ["127.0.0.4"]})
    r = relay.probe("nullmx.example", ["a@nullmx.example"])
    assert r["rcpts"]["a@nullmx.example"][:3] == ("bounce", 0, "5.1.10")
    assert not r["site_fail"]


def test_nxdomain_bounces(relay):
    r = relay.probe("nx.example", ["a@nx.example"])
    assert r["rcpts"]["a@nx.example"][:3] == ("bounce", 0, "5.1.2")


@pytest.mark.parametrize("how", ["SERVFAIL", "REFUSED", "SILENT"])
def test_resolver_failure_defers(relay, how):
    relay.dns.set("broken.example", how)
    t0 = time.monotonic()
    r = relay.probe("broken.example", ["a@broken.example"])
    assert r["rcpts"]["a@broken.example"][:3] == ("defer", 0, "4.4.3")
    assert r["site_fail"]
    assert time.monotonic() - t0 < 20      # one connect_timeout (2 s), not more


def test_mx_host_without_address_skipped(relay):
    relay.dns.set("relay.example", {"MX": [(10, "gone.relay.example"), (20, "mx2.relay.example")]})
    relay.dns.set("mx2.relay.example", {"A": ["127.0.0.3"]})
    mx2 = relay.mx("127.0.0.3")
    r = relay.probe("relay.example", ["a@relay.example"])
    assert classes(r) == {"a@relay.example": "sent"} and len(mx2.messages) == 1


def test_self_by_name_uses_more_preferred_only(relay):
    # our hostname is mx.example.test (the sandbox's config)
    relay.dns.set("self.example", {"MX": [(10, "mx1.relay.example"), (20, "mx.example.test"),
                                       (30, "mx3.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    relay.dns.set("mx3.relay.example", {"A": ["127.0.0.3"]})
    mx3 = relay.mx("127.0.0.3")         # less preferred than us: never tried
    r = relay.probe("self.example", ["a@self.example"])
    assert r["rcpts"]["a@self.example"][0] == "defer" and mx3.connections == 0


def test_self_best_mx_loops(relay):
    relay.dns.set("self.example", {"MX": [(10, "mx.example.test"), (20, "mx3.relay.example")]})
    relay.dns.set("mx3.relay.example", {"A": ["127.0.0.3"]})
    mx3 = relay.mx("127.0.0.3")
    r = relay.probe("self.example", ["a@self.example"])
    cls, code, status, text = r["rcpts"]["a@self.example"]
    assert (cls, status) == ("bounce", "5.4.6") and "loops back to myself" in text
    assert mx3.connections == 0


def test_self_by_address_and_port(relay):
    # an MX host whose address is ours, on a port we listen on
    relay.config["smtp"]["listen"] = ["127.0.0.1:%d" % relay.port]
    relay.dns.set("self.example", {"MX": [(10, "me.relay.example"), (20, "mx3.relay.example")]})
    relay.dns.set("me.relay.example", {"A": ["127.0.0.1"]})
    relay.dns.set("mx3.relay.example", {"A": ["127.0.0.3"]})
    r = relay.probe("self.example", ["a@self.example"])
    assert r["rcpts"]["a@self.example"][:3] == ("bounce", 0, "5.4.6")


def test_bracket_hop_skips_mx(relay):
    relay.dns.set("smart.example", {"MX": [(10, "other.example")], "A": ["127.0.0.5"]})
    mx = relay.mx("127.0.0.5")
    other = relay.mx("127.0.0.6", port=free_port())
    r = relay.probe("[smart.example]", ["a@x.example"])
    assert classes(r) == {"a@x.example": "sent"} and len(mx.messages) == 1
    r = relay.probe("[127.0.0.6]:%d" % other.port, ["a@x.example"])
    assert classes(r) == {"a@x.example": "sent"} and len(other.messages) == 1
    assert ("other.example", "A") not in relay.dns.queries


def test_ipv6_closed_then_ipv4(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"], "AAAA": ["::1"]})
    mx = relay.mx("127.0.0.2")
    r = relay.probe("relay.example", ["a@relay.example"])
    assert classes(r) == {"a@relay.example": "sent"} and len(mx.messages) == 1
    assert "[::1]:%d: Connection refused" % relay.port in relay.stderr


# --- the transaction --------------------------------------------------------

def test_per_recipient_results_one_transaction(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    mx = relay.mx("127.0.0.2")
    r = relay.probe("relay.example", ["ok@relay.example", "t451-x@relay.example", "p550-y@relay.example"])
    assert r["rcpts"]["ok@relay.example"][:3] == ("sent", 250, "2.0.0")
    assert r["rcpts"]["t451-x@relay.example"][:3] == ("defer", 451, "4.7.1")
    assert r["rcpts"]["p550-y@relay.example"][:3] == ("bounce", 550, "5.1.1")
    assert r["rcpts"]["p550-y@relay.example"][3] == "no such user here"
    assert len(mx.messages) == 1 and mx.connections == 1
    assert mx.messages[0]["accepted"] == ["ok@relay.example"]


@pytest.mark.parametrize("pipelining", [True, False])
def test_all_recipients_rejected_no_data(relay, pipelining):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    ehlo = ["8BITMIME"] + (["PIPELINING"] if pipelining else [])
    mx = relay.mx("127.0.0.2", ehlo=ehlo)
    r = relay.probe("relay.example", ["p550-a@relay.example", "t451-b@relay.example"])
    assert classes(r) == {"p550-a@relay.example": "bounce", "t451-b@relay.example": "defer"}
    assert mx.messages == []
    assert ("DATA" in mx.commands) == pipelining


def test_final_reply_applies_to_accepted(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    relay.mx("127.0.0.2")
    r = relay.probe("relay.example", ["final451-a@relay.example", "p550-b@relay.example"])
    assert r["rcpts"]["final451-a@relay.example"][:3] == ("defer", 450, "4.7.0")
    assert r["rcpts"]["p550-b@relay.example"][:3] == ("bounce", 550, "5.1.1")
    r = relay.probe("relay.example", ["final554-a@relay.example"])
    assert r["rcpts"]["final554-a@relay.example"][:3] == ("bounce", 554, "5.7.1")


def test_dot_stuffing_and_crlf_byte_exact(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    mx = relay.mx("127.0.0.2")
    body = (b"Subject: dots\n\n.\n..two\n.leading\nmid.dle\n\xc3\xa9 8bit \r stray CR\n"
            b"x" * 70000 + b"\n." + b"\n" * 3 + b"no final newline")
    r = relay.probe("relay.example", ["a@relay.example"], msg=body, args=["-8"])
    assert classes(r) == {"a@relay.example": "sent"}
    want = body.replace(b"\n", b"\r\n")
    want = b"\r\n".join(b"." + l if l.startswith(b".") else l for l in want.split(b"\r\n"))
    assert mx.messages[0]["data"] == want + b"\r\n"


def test_body_offset_and_length(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    mx = relay.mx("127.0.0.2")
    r = relay.probe("relay.example", ["a@relay.example"], msg=b"HEADERS-OF-QUEUE\nbody\n",
                    args=["-o", "17"])
    assert classes(r) == {"a@relay.example": "sent"}
    assert mx.messages[0]["data"] == b"body\r\n"


def test_mail_params_size_body_smtputf8_dsn(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    mx = relay.mx("127.0.0.2")
    r = relay.probe("relay.example", ["a@relay.example;SUCCESS,FAILURE;rfc822;a+40x@relay.example"],
                    args=["-8", "-U", "-e", "ENV+2B1"])
    assert classes(r) == {"a@relay.example": "sent"}
    mail = mx.messages[0]["mail"]
    assert "SIZE=%d" % len(MSG) in mail and "BODY=8BITMIME" in mail and "SMTPUTF8" in mail
    assert "ENVID=ENV+2B1" in mail
    assert mx.messages[0]["rcpts"] == ["<a@relay.example> NOTIFY=SUCCESS,FAILURE "
                                       "ORCPT=rfc822;a+40x@relay.example"]


def test_no_dsn_params_without_dsn(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    mx = relay.mx("127.0.0.2", ehlo=["PIPELINING", "8BITMIME"])
    r = relay.probe("relay.example", ["a@relay.example;NEVER"], args=["-e", "X"])
    assert classes(r) == {"a@relay.example": "sent"}
    assert mx.messages[0]["rcpts"] == ["<a@relay.example>"]
    assert "ENVID" not in mx.messages[0]["mail"] and "SIZE" not in mx.messages[0]["mail"]


def test_size_too_big_bounces(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    mx = relay.mx("127.0.0.2", ehlo=["PIPELINING", "SIZE 100", "8BITMIME"])
    r = relay.probe("relay.example", ["a@relay.example"], msg=b"x" * 200 + b"\n")
    assert r["rcpts"]["a@relay.example"][:3] == ("bounce", 0, "5.3.4")
    assert mx.messages == [] and not any(c.startswith("MAIL") for c in mx.commands)


def test_8bit_to_7bit_server_bounces(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    mx = relay.mx("127.0.0.2", ehlo=["PIPELINING"])
    r = relay.probe("relay.example", ["a@relay.example"], msg=b"\xc3\xa9t\xc3\xa9\n", args=["-8"])
    cls, code, status, text = r["rcpts"]["a@relay.example"]
    assert (cls, status) == ("bounce", "5.6.3") and "8BITMIME" in text
    assert mx.messages == []
    # a 7-bit message goes to the same server
    r = relay.probe("relay.example", ["a@relay.example"])
    assert classes(r) == {"a@relay.example": "sent"}


def test_smtputf8_missing_bounces(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    mx = relay.mx("127.0.0.2", ehlo=["PIPELINING", "8BITMIME"])
    r = relay.probe("relay.example", ["a@relay.example"], args=["-U"])
    assert r["rcpts"]["a@relay.example"][:3] == ("bounce", 0, "5.6.7")
    assert mx.messages == []


def test_helo_after_ehlo_refused(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    mx = relay.mx("127.0.0.2", misbehave="helo_only")
    r = relay.probe("relay.example", ["a@relay.example"])
    assert classes(r) == {"a@relay.example": "sent"}
    assert any(c.startswith("HELO ") for c in mx.commands)
    assert "SIZE" not in mx.messages[0]["mail"]
