"""Floods and pool churn: idle connections by the hundred or thousand,
stress mode, the explicit refusal when no worker is free, clients that
drip, and a pool that grows and shrinks without costing a session."""
import re
import socket
import threading
import time

import pytest

from maildtest import wait_for


def smtp_session(port, results, key, host="127.0.0.1"):
    """Greeting, EHLO, QUIT; records what went wrong, or None."""
    try:
        s = socket.create_connection((host, port), timeout=20)
        f = s.makefile("rb")
        line = f.readline()
        if not line.startswith(b"220 "):
            results[key] = "greeting %r" % line
            return
        s.sendall(b"EHLO client.example.test\r\n")
        while True:
            line = f.readline()
            if not line.startswith(b"250"):
                results[key] = "EHLO %r" % line
                return
            if line[3:4] == b" ":
                break
        s.sendall(b"QUIT\r\n")
        line = f.readline()
        results[key] = None if line.startswith(b"221") else "QUIT %r" % line
        s.close()
    except OSError as e:
        results[key] = repr(e)


def test_shrinking_pool_never_costs_a_session(make_maild):
    # bursts of sessions make the pool grow; the pauses between them make
    # the master retire the surplus while the next burst arrives
    m = make_maild(config={"smtp": {"pool": {"min_spare": 1, "max_spare": 1,
                                             "max_workers": 16}}})
    results = {}
    start = time.monotonic()
    for cycle in range(20):
        threads = [threading.Thread(target=smtp_session,
                                    args=(m.smtp_port, results, (cycle, i)))
                   for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        time.sleep(0.05 + 0.05 * (cycle % 4))
        if time.monotonic() - start > 50:
            break
    bad = {k: v for k, v in results.items() if v is not None}
    assert not bad, "sessions lost: %r" % bad
    assert len(results) >= 12 * 5
    assert "killed by signal" not in m.log()
