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
SESSION = re.compile(r'session host=(\S+) addr=(\S+) tls="([^"]*)" site_fail=(\d) tls_failed=(\d)'
                     r' dsn=(\d)$')

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
                         "tls_failed": m.group(5) == "1", "dsn": m.group(6) == "1"})
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
    assert r["dsn"]


def test_no_dsn_params_without_dsn(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    mx = relay.mx("127.0.0.2", ehlo=["PIPELINING", "8BITMIME"])
    r = relay.probe("relay.example", ["a@relay.example;NEVER"], args=["-e", "X"])
    assert classes(r) == {"a@relay.example": "sent"}
    assert mx.messages[0]["rcpts"] == ["<a@relay.example>"]
    assert "ENVID" not in mx.messages[0]["mail"] and "SIZE" not in mx.messages[0]["mail"]
    assert not r["dsn"]


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


# --- hostile servers ----------------------------------------------------------

def one_mx(relay, **kw):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    return relay.mx("127.0.0.2", **kw)


@pytest.mark.parametrize("how,log", [
    ("huge_reply", "a reply of more than 100 lines"),
    ("garbage", "not an SMTP reply line"),
    ("nul", "a NUL in a reply line"),
    ("bare_lf", "bare LF"),
    ("code_change", "the reply code changed from 250 to 251"),
])
def test_malformed_replies_defer(relay, how, log):
    mx = one_mx(relay, misbehave=how)
    t0 = time.monotonic()
    r = relay.probe("relay.example", ["a@relay.example"])
    cls, code, status, text = r["rcpts"]["a@relay.example"]
    assert cls == "defer" and status.startswith("4.") and "malformed reply" in text
    assert log in relay.stderr
    assert r["site_fail"] and mx.messages == []
    assert time.monotonic() - t0 < 15


def test_slow_drip_final_reply_hits_the_deadline(relay):
    # a byte every 0.1 s: each line (16 bytes) comes within the 2 s, the
    # whole reply never does
    mx = one_mx(relay, misbehave="drip", drip_interval=0.1)
    t0 = time.monotonic()
    r = relay.probe("relay.example", ["a@relay.example"], config={"relay": {"data_timeout": "2s"}})
    took = time.monotonic() - t0
    cls, code, status, text = r["rcpts"]["a@relay.example"]
    assert cls == "defer" and "timed out" in text and "more than once" in text
    assert not r["site_fail"] and len(mx.errors) == 0
    assert took < 5.0, took        # the reply's deadline, not a byte's


@pytest.mark.parametrize("step,site", [("EHLO", True), ("MAIL", False), ("RCPT", False),
                                       ("DATA", False)])
def test_disconnect_before_dot_tries_next_mx(relay, step, site):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example"), (20, "mx2.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    relay.dns.set("mx2.relay.example", {"A": ["127.0.0.3"]})
    relay.mx("127.0.0.2", misbehave="close_after_" + step)
    mx2 = relay.mx("127.0.0.3")
    r = relay.probe("relay.example", ["a@relay.example"])
    assert classes(r) == {"a@relay.example": "sent"} and len(mx2.messages) == 1
    # and with no second MX: deferred; site-level only if MAIL was never sent
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    r = relay.probe("relay.example", ["a@relay.example"])
    assert r["rcpts"]["a@relay.example"][0] == "defer"
    assert r["site_fail"] == site


def test_disconnect_after_dot_defers_may_duplicate(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example"), (20, "mx2.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    relay.dns.set("mx2.relay.example", {"A": ["127.0.0.3"]})
    mx1 = relay.mx("127.0.0.2", misbehave="close_after_DOT")
    mx2 = relay.mx("127.0.0.3")
    r = relay.probe("relay.example", ["a@relay.example"])
    cls, code, status, text = r["rcpts"]["a@relay.example"]
    assert cls == "defer" and "more than once" in text
    assert len(mx1.messages) == 1 and mx2.connections == 0


@pytest.mark.parametrize("step", ["MAIL", "RCPT", "DATA"])
def test_421_mid_transaction_next_mx(relay, step):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example"), (20, "mx2.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2"]})
    relay.dns.set("mx2.relay.example", {"A": ["127.0.0.3"]})
    relay.mx("127.0.0.2", misbehave="421_at_" + step)
    mx2 = relay.mx("127.0.0.3")
    r = relay.probe("relay.example", ["a@relay.example", "b@relay.example"])
    assert classes(r) == {"a@relay.example": "sent", "b@relay.example": "sent"}
    assert mx2.messages[0]["accepted"] == ["a@relay.example", "b@relay.example"]


def test_421_after_dot_defers(relay):
    mx = one_mx(relay, misbehave="421_at_DOT")
    r = relay.probe("relay.example", ["a@relay.example"])
    assert r["rcpts"]["a@relay.example"][:3] == ("defer", 421, "4.3.2")


def test_session_limit(relay):
    # three MX hosts that greet and then fail: two sessions, not three
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example"), (20, "mx2.relay.example"),
                                           (30, "mx3.relay.example")]})
    for i in (1, 2, 3):
        relay.dns.set("mx%d.relay.example" % i, {"A": ["127.0.0.%d" % (i + 1)]})
    mxs = [relay.mx("127.0.0.%d" % (i + 1), greeting="421 4.3.2 busy") for i in (1, 2, 3)]
    r = relay.probe("relay.example", ["a@relay.example"])
    assert r["rcpts"]["a@relay.example"][0] == "defer"
    assert [m.connections for m in mxs] == [1, 1, 0]


def test_address_limit(relay):
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.%d" % i for i in range(2, 12)]})
    r = relay.probe("relay.example", ["a@relay.example"],
                    config={"relay": {"mx_address_limit": 3}})
    assert r["rcpts"]["a@relay.example"][0] == "defer"
    assert relay.stderr.count("Connection refused") == 3


# --- connection reuse ------------------------------------------------------------

def test_connection_reuse(relay):
    mx = one_mx(relay)
    runs = relay.probe("relay.example", ["a@relay.example"], args=["-r", "3"])
    assert [classes(r) for r in runs] == [{"a@relay.example": "sent"}] * 3
    assert mx.connections == 1 and len(mx.messages) == 3
    assert not any(c.startswith("RSET") for c in mx.commands)


def test_connection_reuse_limit_and_cache_time(relay):
    mx = one_mx(relay)
    relay.probe("relay.example", ["a@relay.example"], args=["-r", "3"],
                config={"relay": {"connection_reuse_limit": 1}})
    assert mx.connections == 3
    mx2 = one_mx(relay, port=free_port())
    relay.config["relay"]["port"] = mx2.port
    relay.probe("relay.example", ["a@relay.example"], args=["-r", "2", "-w", "1500"],
                config={"relay": {"connection_cache_time": "1s"}})
    assert mx2.connections == 2 and mx2.commands.count("QUIT") == 2


def test_stale_reused_session_retried_fresh(relay):
    mx = one_mx(relay, misbehave="close_after_txn")
    runs = relay.probe("relay.example", ["a@relay.example"], args=["-r", "2"])
    assert [classes(r) for r in runs] == [{"a@relay.example": "sent"}] * 2
    assert mx.connections == 2 and len(mx.messages) == 2
    assert not runs[1]["site_fail"]


# --- STARTTLS and AUTH ------------------------------------------------------------

@pytest.fixture
def certs(sandbox):
    good = make_cert(sandbox.dir, "mx1", cn="mx1.relay.example")
    wrong = make_cert(sandbox.dir, "wrong", cn="wrong.example")
    return {"good": good, "wrong": wrong}


def test_starttls_may(relay, certs):
    mx = one_mx(relay, tls=certs["good"])
    r = relay.probe("relay.example", ["a@relay.example"])
    assert classes(r) == {"a@relay.example": "sent"}
    assert r["tls"].startswith("TLSv1.") and r["tls"].endswith("unverified")
    assert mx.messages[0]["tls"]
    # EHLO again after TLS (RFC 3207 4.2)
    assert [c.split()[0] for c in mx.commands[:3]] == ["EHLO", "STARTTLS", "EHLO"]


def test_starttls_may_without_offer_is_plaintext(relay):
    mx = one_mx(relay)
    r = relay.probe("relay.example", ["a@relay.example"])
    assert classes(r) == {"a@relay.example": "sent"} and r["tls"] == "none"


def test_starttls_none_never_tries(relay, certs):
    mx = one_mx(relay, tls=certs["good"])
    r = relay.probe("relay.example", ["a@relay.example"], args=["-t", "none"])
    assert classes(r) == {"a@relay.example": "sent"} and r["tls"] == "none"
    assert "STARTTLS" not in mx.commands


def test_encrypt_refuses_plaintext_mx(relay):
    mx = one_mx(relay)
    r = relay.probe("relay.example", ["a@relay.example"], args=["-t", "encrypt"])
    cls, code, status, text = r["rcpts"]["a@relay.example"]
    assert (cls, status) == ("defer", "4.7.4") and "TLS is required" in text
    assert mx.messages == [] and r["site_fail"]


def test_verify_accepts_right_name(relay, certs):
    mx = one_mx(relay, tls=certs["good"])
    r = relay.probe("relay.example", ["a@relay.example"], args=["-t", "verify"],
                    config={"relay": {"tls": {"ca_file": certs["good"][0]}}})
    assert classes(r) == {"a@relay.example": "sent"} and r["tls"].endswith(" verified")


def test_verify_refuses_wrong_name(relay, certs):
    mx = one_mx(relay, tls=certs["wrong"])
    r = relay.probe("relay.example", ["a@relay.example"], args=["-t", "verify"],
                    config={"relay": {"tls": {"ca_file": certs["wrong"][0]}}})
    cls, code, status, text = r["rcpts"]["a@relay.example"]
    assert (cls, status) == ("defer", "4.7.5") and "certificate verify failed" in text
    assert mx.messages == [] and not r["tls_failed"]


def test_may_handshake_failure_sets_tls_failed(relay, certs, sandbox):
    # a server whose "certificate" cannot be used: the handshake fails
    bad = (certs["good"][0], certs["wrong"][1])       # key does not match
    mx = one_mx(relay, tls=bad)
    r = relay.probe("relay.example", ["a@relay.example"])
    assert r["rcpts"]["a@relay.example"][0] == "defer" and r["tls_failed"]
    # the runner's retry: no STARTTLS
    r = relay.probe("relay.example", ["a@relay.example"], args=["-N"])
    assert classes(r) == {"a@relay.example": "sent"} and r["tls"] == "none"


def test_starttls_response_injection_aborts(relay, certs):
    mx = one_mx(relay, tls=certs["good"], misbehave="inject")
    r = relay.probe("relay.example", ["a@relay.example"])
    cls, code, status, text = r["rcpts"]["a@relay.example"]
    assert cls == "defer" and "injection" in text
    assert "possible injection" in relay.stderr and mx.messages == []


def test_auth_to_smarthost_over_tls(relay, certs):
    smart = relay.mx("127.0.0.7", tls=certs["good"], auth=("relayuser", "s3cret-pw"))
    r = relay.probe("[127.0.0.7]", ["a@far.example"], args=["-a", "relayuser:s3cret-pw"])
    assert classes(r) == {"a@far.example": "sent"}
    assert smart.auth_ok == [("PLAIN", "relayuser", True)]
    assert "s3cret-pw" not in relay.stderr


def test_auth_wrong_password_defers(relay, certs):
    smart = relay.mx("127.0.0.7", tls=certs["good"], auth=("relayuser", "s3cret-pw"))
    r = relay.probe("[127.0.0.7]", ["a@far.example"], args=["-a", "relayuser:nope-pw"])
    cls, code, status, text = r["rcpts"]["a@far.example"]
    assert cls == "defer" and code == 535 and smart.messages == []
    assert "nope-pw" not in relay.stderr


def test_auth_refused_without_tls(relay):
    smart = relay.mx("127.0.0.7", auth=("relayuser", "s3cret-pw"))
    r = relay.probe("[127.0.0.7]", ["a@far.example"], args=["-a", "relayuser:s3cret-pw"])
    cls, code, status, text = r["rcpts"]["a@far.example"]
    assert cls == "defer" and "without TLS" in text
    assert not any(c.startswith("AUTH") for c in smart.commands)


# --- DANE (RFC 7672): a DNSSEC-signed zone served by nsd ----------------------------

def _spki_sha256(cert):
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         check=True, capture_output=True).stdout
    import hashlib
    return hashlib.sha256(der).hexdigest()


class SignedZone:
    """dane.example, signed with ldns-signzone, served by nsd on a high port."""

    def __init__(self, sandbox, port, cert):
        import shutil
        from fakedns import _free_port
        for tool in ("nsd", "ldns-keygen", "ldns-signzone"):
            if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
                pytest.skip("needs %s (packages nsd, ldnsutils)" % tool)
        self.dir = sandbox.path("dane")
        os.makedirs(self.dir)
        good = _spki_sha256(cert)
        zone = """$ORIGIN dane.example.
$TTL 300
@ IN SOA ns.dane.example. host.dane.example. 1 3600 600 86400 300
@ IN NS ns.dane.example.
ns IN A 127.0.0.1
@ IN MX 10 mx1.dane.example.
mx1 IN A 127.0.0.2
_{p}._tcp.mx1 IN TLSA 3 1 1 {good}
bad IN MX 10 mx2.dane.example.
mx2 IN A 127.0.0.3
_{p}._tcp.mx2 IN TLSA 3 1 1 {wrong}
notlsa IN MX 10 mx4.dane.example.
mx4 IN A 127.0.0.5
bogus IN MX 10 mx3.dane.example.
mx3 IN A 127.0.0.4
_{p}._tcp.mx3 IN TLSA 3 1 1 {good}
unusable IN MX 10 mx5.dane.example.
mx5 IN A 127.0.0.6
_{p}._tcp.mx5 IN TLSA 1 1 1 {good}
""".format(p=port, good=good, wrong="00" * 32)
        zf = os.path.join(self.dir, "dane.example.zone")
        with open(zf, "w") as f:
            f.write(zone)

        def run(*a):
            return subprocess.run(list(a), cwd=self.dir, check=True, capture_output=True,
                                  text=True).stdout.strip()
        ksk = run("ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "dane.example")
        zsk = run("ldns-keygen", "-a", "ECDSAP256SHA256", "dane.example")
        run("ldns-signzone", zf, ksk, zsk)
        self.anchor = os.path.join(self.dir, ksk + ".ds")
        # mx3's TLSA changed after signing: its signature no longer fits (bogus)
        signed = zf + ".signed"
        with open(signed) as f:
            text = f.read()
        marker = "_%d._tcp.mx3.dane.example.\t300\tIN\tTLSA\t3 1 1 %s" % (port, good)
        assert marker in text, text[:2000]
        text = text.replace(marker, marker[:-4] + "beef")
        with open(signed, "w") as f:
            f.write(text)
        self.port = _free_port()
        with open(os.path.join(self.dir, "nsd.conf"), "w") as f:
            f.write("""server:
  ip-address: 127.0.0.1@{port}
  port: {port}
  username: ""
  chroot: ""
  zonesdir: "{d}"
  pidfile: "{d}/nsd.pid"
  xfrdfile: "{d}/xfrd.state"
  zonelistfile: "{d}/zone.list"
  database: ""
  logfile: "{d}/nsd.log"
remote-control:
  control-enable: no
zone:
  name: dane.example
  zonefile: dane.example.zone.signed
""".format(port=self.port, d=self.dir))
        nsd = "nsd" if shutil.which("nsd") else "/usr/sbin/nsd"
        self.proc = subprocess.Popen([nsd, "-d", "-c", os.path.join(self.dir, "nsd.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        from dnslib import DNSRecord
        for _ in range(100):
            try:
                DNSRecord.question("dane.example", "SOA").send("127.0.0.1", self.port,
                                                                timeout=0.2)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("nsd did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def dane(relay, certs, sandbox):
    z = SignedZone(sandbox, relay.port, certs["good"][0])
    relay.config["relay"]["dns_servers"] = ["127.0.0.1@%d" % z.port]
    relay.config["relay"]["dnssec_trust_anchor"] = z.anchor
    relay.config["relay"]["tls"]["security_level"] = "dane"
    yield z
    z.stop()


def test_dane_matching_tlsa(relay, certs, dane):
    mx = relay.mx("127.0.0.2", tls=certs["good"])
    r = relay.probe("dane.example", ["a@dane.example"])
    assert classes(r) == {"a@dane.example": "sent"}, relay.stderr
    assert r["tls"].endswith(" dane") and mx.messages[0]["tls"]


def test_dane_mismatched_tlsa_refused(relay, certs, dane):
    mx = relay.mx("127.0.0.3", tls=certs["good"])
    r = relay.probe("bad.dane.example", ["a@bad.dane.example"])
    cls, code, status, text = r["rcpts"]["a@bad.dane.example"]
    assert (cls, status) == ("defer", "4.7.5") and mx.messages == []


def test_dane_no_tlsa_is_opportunistic(relay, certs, dane):
    mx = relay.mx("127.0.0.5", tls=certs["good"])
    r = relay.probe("notlsa.dane.example", ["a@notlsa.dane.example"])
    assert classes(r) == {"a@notlsa.dane.example": "sent"}
    assert r["tls"].endswith(" unverified")


def test_dane_bogus_tlsa_never_downgrades(relay, certs, dane):
    mx = relay.mx("127.0.0.4", tls=certs["good"])
    r = relay.probe("bogus.dane.example", ["a@bogus.dane.example"])
    cls, code, status, text = r["rcpts"]["a@bogus.dane.example"]
    assert (cls, status) == ("defer", "4.7.5") and "TLSA" in text
    assert mx.connections == 0


def test_dane_only_unusable_tlsa_encrypts_unauthenticated(relay, certs, dane):
    # RFC 7672 2.2: PKIX-EE (1) is unusable for SMTP; TLS is still a must
    mx = relay.mx("127.0.0.6", tls=certs["wrong"])
    r = relay.probe("unusable.dane.example", ["a@unusable.dane.example"])
    assert classes(r) == {"a@unusable.dane.example": "sent"}, r
    assert r["tls"].endswith(" unverified") and mx.messages[0]["tls"]
    mx.stop()
    mx = relay.mx("127.0.0.6")
    r = relay.probe("unusable.dane.example", ["a@unusable.dane.example"])
    assert r["rcpts"]["a@unusable.dane.example"][:3] == ("defer", 0, "4.7.4")


def test_dane_encrypt_when_tlsa_server_has_no_starttls(relay, dane):
    mx = relay.mx("127.0.0.2")          # secure TLSA, but no STARTTLS offered
    r = relay.probe("dane.example", ["a@dane.example"])
    assert r["rcpts"]["a@dane.example"][:3] == ("defer", 0, "4.7.4") and mx.messages == []


def test_delivers_inside_chroot_as_nobody(relay, certs, sandbox):
    # what a relay worker does: the engine is made first, then chroot and
    # privdrop; DNS, STARTTLS and the session must need no file after that
    if os.geteuid() != 0 or os.environ.get("UID_WRAPPER"):
        pytest.skip("needs real root to chroot")
    jail = sandbox.path("empty")
    one_mx(relay, tls=certs["good"])
    r = relay.probe("relay.example", ["a@relay.example"], args=["-C", jail])
    assert classes(r) == {"a@relay.example": "sent"} and r["tls"].startswith("TLSv1.")


def test_dane_inside_chroot(relay, certs, dane, sandbox):
    if os.geteuid() != 0 or os.environ.get("UID_WRAPPER"):
        pytest.skip("needs real root to chroot")
    relay.mx("127.0.0.2", tls=certs["good"])
    r = relay.probe("dane.example", ["a@dane.example"], args=["-C", sandbox.path("empty")])
    assert classes(r) == {"a@dane.example": "sent"} and r["tls"].endswith(" dane")


# --- more of the same, per setting ---------------------------------------------------

@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize("sender,cls,code", [("p553-s@x.example", "bounce", 553),
                                             ("t450-s@x.example", "defer", 450)])
def test_mail_refused_applies_to_all(relay, pipelining, sender, cls, code):
    mx = one_mx(relay, ehlo=["8BITMIME"] + (["PIPELINING"] if pipelining else []))
    r = relay.probe("relay.example", ["a@relay.example", "b@relay.example"], args=["-s", sender])
    assert {a: v[:2] for a, v in r["rcpts"].items()} == \
        {"a@relay.example": (cls, code), "b@relay.example": (cls, code)}
    assert mx.messages == [] and not r["site_fail"]
    assert any(c.startswith("RCPT") for c in mx.commands) == pipelining


def test_overlong_command_bounces_without_overflow(relay):
    mx = one_mx(relay)
    orcpt = "rfc822;" + "x" * 3000 + "@relay.example"
    r = relay.probe("relay.example", ["a@relay.example;FAILURE;" + orcpt])
    assert r["rcpts"]["a@relay.example"][:3] == ("bounce", 0, "5.5.2")
    assert mx.messages == []


def test_null_sender(relay):
    mx = one_mx(relay)
    r = relay.probe("relay.example", ["a@relay.example"], args=["-s", ""])
    assert classes(r) == {"a@relay.example": "sent"}
    assert mx.messages[0]["mail"].startswith("<>")


@pytest.mark.parametrize("pref,families", [("ipv4", "4466"), ("ipv6", "6644"),
                                           ("any", "6464")])
def test_address_preference(relay, pref, families):
    # (libunbound rotates the order within an RRset: only families are fixed)
    relay.dns.set("relay.example", {"MX": [(10, "mx1.relay.example")]})
    relay.dns.set("mx1.relay.example", {"A": ["127.0.0.2", "127.0.0.3"],
                                        "AAAA": ["::1", "::2"]})
    r = relay.probe("relay.example", ["a@relay.example"],
                    config={"relay": {"address_preference": pref}})
    tried = re.findall(r"connect to mx1.relay.example \[([^\]]+)\]", relay.stderr)
    assert "".join("6" if ":" in a else "4" for a in tried) == families, tried
    assert sorted(tried) == ["127.0.0.2", "127.0.0.3", "::1", "::2"]


def test_auth_login_when_plain_not_offered(relay, certs):
    smart = relay.mx("127.0.0.7", tls=certs["good"], auth=("relayuser", "s3cret-pw"),
                     auth_mechs="LOGIN")
    r = relay.probe("[127.0.0.7]", ["a@far.example"], args=["-a", "relayuser:s3cret-pw"])
    assert classes(r) == {"a@far.example": "sent"}
    assert smart.auth_ok == [("LOGIN", "relayuser", True)]


def test_tls_min_protocol(relay, certs):
    mx = one_mx(relay, tls=certs["good"], tls_max="TLSv1_2")
    r = relay.probe("relay.example", ["a@relay.example"])
    assert classes(r) == {"a@relay.example": "sent"} and r["tls"].startswith("TLSv1.2 ")
    r = relay.probe("relay.example", ["a@relay.example"],
                    config={"relay": {"tls": {"min_protocol": "TLSv1.3"}}})
    assert r["rcpts"]["a@relay.example"][0] == "defer" and r["tls_failed"]


def test_no_mx_host_has_an_address_bounces(relay):
    relay.dns.set("relay.example", {"MX": [(10, "gone1.relay.example"),
                                           (20, "gone2.relay.example")]})
    relay.dns.set("gone2.relay.example", {"TXT": []})      # exists, no address
    r = relay.probe("relay.example", ["a@relay.example"])
    assert r["rcpts"]["a@relay.example"][:3] == ("bounce", 0, "5.4.4")
    # one MX host that cannot be looked up now: only deferred
    relay.dns.set("gone2.relay.example", "SERVFAIL")
    r = relay.probe("relay.example", ["a@relay.example"])
    assert r["rcpts"]["a@relay.example"][:3] == ("defer", 0, "4.4.3")
