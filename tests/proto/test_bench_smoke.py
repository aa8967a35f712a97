"""tests/bench/run (make bench) with tiny sizes: it starts its maild, every
figure of its table comes out, and it leaves nothing behind. Not a timed
test: the figures are only checked to exist and be positive (SMOKE=1)."""
import os
import subprocess
import sys

import pytest

from maildtest import BUILDDIR, IS_ROOT, SRCDIR

RUN = os.path.join(SRCDIR, "tests", "bench", "run")
CLIENT = os.path.join(BUILDDIR, "tests", "bench", "benchclient")


def test_bench_smoke_run(tmp_path):
    if not os.access(CLIENT, os.X_OK):
        pytest.skip("tests/bench/benchclient not built")
    env = dict(os.environ, SMOKE="1", ANCHORS="0", BENCH_DIR=str(tmp_path),
               BENCHCLIENT=CLIENT)
    r = subprocess.run([sys.executable, RUN], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [l for l in r.stdout.splitlines() if l.startswith("| ")]
    names = "\n".join(rows)
    for want in ("delivery 4 KiB c=1 (msgs/s)", "server CPU s / 1000 msgs, 4 KiB c=4",
                 "RETR all 50x4 KiB (MB/s)", "TOP n 10, 50x4 KiB (msgs/s)",
                 "POP3 login+STAT 200 msgs, warm (s)", "beyond the login"):
        assert want in names, (want, r.stdout)
    if IS_ROOT:
        assert "PSS of a worker on an idle SMTP connection (kB)" in names
    # the sandbox is gone
    assert not [p for p in os.listdir(tmp_path) if p.startswith("maildt.")]
