#!/usr/bin/env python3
"""Relay throughput benchmark (run by hand; prints figures, passes or fails
nothing): smtp-source -> MTA on loopback -> relay -> smtp-sink, the same
chain for maild and for Postfix, measured in one run (the relay design
brief, section 8, variant A: the next hop pinned, no DNS).

  relay_bench.py [maild|postfix|both]        (default both; root for postfix)

Environment: N (messages, 2000), SIZE (bytes, 4096), CONC (smtp-source
sessions and both MTAs' per-destination concurrency, 8), RUNS (3),
REUSE (1: connection caching on for both; 0: off for both).

- Injection without AUTH: an alias (maild aliases "benchrelay: sink@sink.test";
  Postfix virtual_alias_maps inline:{benchrelay@example.test=sink@sink.test},
  not local(8) aliases, which would re-inject a second queue file).
- The next hop pinned: maild relay.routes "sink.test=[127.0.0.1]:SINK";
  Postfix transport_maps inline:{sink.test=smtp:[127.0.0.1]:SINK}.
- Both at the same concurrency: initial = limit = CONC.
- Postfix is the anchor instance (anchors/start.sh: smtpd on 127.0.0.1:2525);
  its main.cf is changed with postconf -e for the run and restored after,
  then reloaded. Its default_transport/relay_transport (discard on the
  anchor) are undone for the run.
- A run ends when smtp-sink -M N exits: N messages received. Reported:
  delivered msgs/s = N / (sink exit - source start), the client's session
  rate, and for maild the CPU seconds per 1000 messages of the whole maild
  tree (RUSAGE_CHILDREN of the foreground maild this script runs).
  Medians of RUNS with [min-max]; compare ratios from one run of this
  script, never absolute figures across days.
"""
import os
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proto"))

from maildtest import Maild, Sandbox, free_port  # noqa: E402

N = int(os.environ.get("N", "2000"))
SIZE = int(os.environ.get("SIZE", "4096"))
CONC = int(os.environ.get("CONC", "8"))
RUNS = int(os.environ.get("RUNS", "3"))
REUSE = os.environ.get("REUSE", "1") == "1"
POSTFIX_PORT = int(os.environ.get("POSTFIX_PORT", "2525"))


def sink(port):
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    p = subprocess.Popen(["smtp-sink"] + user + ["-c", "-M", str(N), "127.0.0.1:%d" % port,
                                                 "1024"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.3)
    if p.poll() is not None:
        raise SystemExit("smtp-sink: %s" % p.stderr.read().decode(errors="replace"))
    return p


def source(port):
    return subprocess.run(["smtp-source", "-s", str(CONC), "-m", str(N), "-l", str(SIZE),
                           "-f", "sender@example.test", "-t", "benchrelay@example.test",
                           "-M", "bench.example.test", "127.0.0.1:%d" % port],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)


def one_run(port, sink_port):
    s = sink(sink_port)
    t0 = time.monotonic()
    source(port)
    t_src = time.monotonic() - t0
    try:
        s.wait(timeout=600)
    except subprocess.TimeoutExpired:
        s.kill()
        raise SystemExit("smtp-sink did not get %d messages in 600 s" % N)
    t_all = time.monotonic() - t0
    return N / t_all, N / t_src


def med(v):
    v = sorted(v)
    return "%.0f [%.0f-%.0f]" % (v[len(v) // 2], v[0], v[-1])


def bench_maild():
    sb = Sandbox()
    sink_port = free_port()
    with open(sb.path("aliases"), "w") as f:
        f.write("benchrelay: sink@sink.test\n")
    cfg = {
        "aliases": sb.path("aliases"),
        "smtp": {"pool": {"min_spare": CONC, "max_spare": 2 * CONC,
                          "max_workers": 4 * CONC}},
        "relay": {"routes": ["sink.test=[127.0.0.1]:%d" % sink_port],
                  "initial_destination_concurrency": CONC,
                  "destination_concurrency_limit": CONC,
                  "connection_cache_time": "2s" if REUSE else "0s",
                  "tls": {"security_level": "may", "ca_file": ""}},
    }
    m = Maild(sb, config=cfg)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    m.debug = False     # production logging: no -d (every SMTP command)
    m.start()
    rates, clients = [], []
    try:
        for _ in range(RUNS):
            r, c = one_run(m.smtp_port, sink_port)
            rates.append(r)
            clients.append(c)
            # smtp-sink -M quits at the N-th dot without a reply: that
            # one message is deferred ("may be sent more than once")
            time.sleep(1)
    finally:
        m.stop()
        m.kill_all()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print("maild   size=%d conc=%d reuse=%s: delivered %s msgs/s, client %s sessions/s, "
          "CPU %.2f s per 1000 messages (whole tree)" %
          (SIZE, CONC, REUSE, med(rates), med(clients), cpu * 1000 / (N * RUNS)))
    shutil.rmtree(sb.dir, ignore_errors=True)


POSTFIX_KEYS = ["virtual_alias_maps", "transport_maps", "default_transport",
                "relay_transport", "smtp_destination_concurrency_limit",
                "initial_destination_concurrency", "smtp_connection_cache_on_demand",
                "smtp_tls_security_level", "delay_warning_time"]


def postconf(*args):
    return subprocess.run(["postconf"] + list(args), capture_output=True, text=True,
                          check=True).stdout


def bench_postfix():
    if os.geteuid() != 0:
        raise SystemExit("postfix: needs root (postconf -e, postfix reload)")
    sink_port = free_port()
    saved = {k: postconf("-h", k).strip() for k in POSTFIX_KEYS}
    explicit = postconf("-n")
    try:
        postconf("-e",
                 "virtual_alias_maps=inline:{benchrelay@example.test=sink@sink.test}",
                 "transport_maps=inline:{sink.test=smtp:[127.0.0.1]:%d}" % sink_port,
                 "default_transport=smtp", "relay_transport=smtp",
                 "smtp_destination_concurrency_limit=%d" % CONC,
                 "initial_destination_concurrency=%d" % CONC,
                 "smtp_connection_cache_on_demand=%s" % ("yes" if REUSE else "no"),
                 "smtp_tls_security_level=may", "delay_warning_time=0h")
        subprocess.run(["postfix", "reload"], check=True, capture_output=True)
        time.sleep(1)
        rates, clients = [], []
        for _ in range(RUNS):
            r, c = one_run(POSTFIX_PORT, sink_port)
            rates.append(r)
            clients.append(c)
            time.sleep(1)
        print("postfix size=%d conc=%d reuse=%s: delivered %s msgs/s, client %s sessions/s" %
              (SIZE, CONC, REUSE, med(rates), med(clients)))
    finally:
        for k, v in saved.items():
            # whole lines: "initial_destination_concurrency =" is also
            # the tail of "smtp_initial_destination_concurrency ="
            if any(l.startswith(k + " =") for l in explicit.splitlines()):
                postconf("-e", "%s=%s" % (k, v))
            else:
                subprocess.run(["postconf", "-X", k], capture_output=True)
        subprocess.run(["postfix", "reload"], capture_output=True)


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "both"
    if which in ("maild", "both"):
        bench_maild()
    if which in ("postfix", "both"):
        bench_postfix()
