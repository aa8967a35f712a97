"""Per-destination TLS policy (relay.tls.policy) through a running maild, and
what the relay's log line says about TLS: a domain whose policy is "encrypt"
is not delivered to its plaintext-only MX (deferred, the log says why) while
a domain without an entry goes out in plaintext under the global "may"; a
session that did use TLS is logged as one token, tls=VERSION/CIPHER/HOW.
Uses test_relay.py's World (fakedns.py, fakemx.py)."""
import time

import pytest

from fakedns import FakeDNS
from test_delivery import queue_files
from test_relay import MX1, MX2, World, queue_empty, rcpts_of, wait_mx
from test_smtp import msg, send
from maildtest import wait_for
from tlstest import make_cert


@pytest.fixture
def world(sandbox):
    w = World(sandbox)
    w.dns.stop()
    w.dns = FakeDNS({
        "relay.example": {"MX": [(10, "mx1.relay.example")]},
        "mx1.relay.example": {"A": [MX1]},
        "strict.example": {"MX": [(10, "mx.strict.example")]},
        "mx.strict.example": {"A": [MX2]},
    }).start()
    yield w
    w.close()


def test_encrypt_policy_refuses_a_plaintext_mx(make_maild, world):
    open_mx = world.mx(MX1)
    strict_mx = world.mx(MX2)
    cfg = world.config(aliases="fwd: bob@relay.example, carol@strict.example\n",
                       extra={"relay": {"tls": {"security_level": "may", "ca_file": "",
                                                "policy": ["strict.example=encrypt"]}}})
    m = make_maild(config=cfg)
    assert send(m, "alice@example.test", ["fwd@example.test"], msg("policy"))[0] == 250
    # no entry: the global "may", and the MX offers no STARTTLS: plaintext
    env = wait_mx(open_mx, 1)[0]
    assert rcpts_of(env) == ["bob@relay.example"]
    assert not env["tls"]
    m.wait_log(r"sent to=<bob@relay.example> relay=mx1\.relay\.example\S* tls=none ")
    # "encrypt": never in plaintext; deferred with the reason
    line = m.wait_log(r"id=(\S+): deferred to=<carol@strict.example> relay=mx\.strict\.example"
                      r"\S* tls=none delay=\S+ dsn=4\.7\.4 reply=\"TLS is required, but was "
                      r"not offered by host mx\.strict\.example")
    # and again on the retry, still never sent
    m.wait_log(r"(?s)deferred to=<carol@strict.example>.*deferred to=<carol@strict.example>")
    time.sleep(0.5)
    assert strict_mx.messages == []
    assert line.group(1) in queue_files(m, "deferred") + queue_files(m, "active")


def test_parent_domain_entry_and_none(make_maild, world, sandbox):
    # ".example" covers strict.example; "relay.example=none" never
    # STARTTLS even though the MX offers it
    cert, key = make_cert(sandbox.dir, "a")
    open_mx = world.mx(MX1, tls=(cert, key))
    strict_mx = world.mx(MX2)
    cfg = world.config(aliases="fwd: bob@relay.example, carol@strict.example\n",
                       extra={"relay": {"tls": {"security_level": "may", "ca_file": "",
                                                "policy": ["relay.example=none",
                                                           ".example=encrypt"]}}})
    m = make_maild(config=cfg)
    assert send(m, "alice@example.test", ["fwd@example.test"], msg("parent"))[0] == 250
    env = wait_mx(open_mx, 1)[0]
    assert not env["tls"]
    m.wait_log(r"sent to=<bob@relay.example> .* tls=none ")
    m.wait_log(r"deferred to=<carol@strict.example> .*dsn=4\.7\.4 ")
    assert strict_mx.messages == []


def test_log_line_names_the_tls_used(make_maild, world, sandbox):
    cert, key = make_cert(sandbox.dir, "a")
    mx = world.mx(MX1, tls=(cert, key))
    m = make_maild(config=world.config(aliases="fwd: bob@relay.example\n"))
    assert send(m, "alice@example.test", ["fwd@example.test"], msg("tls"))[0] == 250
    env = wait_mx(mx, 1)[0]
    assert env["tls"]
    # one token: version, cipher, how it was authenticated
    m.wait_log(r"sent to=<bob@relay.example> relay=mx1\.relay\.example\S* "
               r"tls=TLSv1\.[23]/[A-Z0-9_-]+/unverified delay=[\d.]+s dsn=2\.")
    wait_for(lambda: queue_empty(m), what="an empty queue")
