"""maild -t on broken configurations: each problem is printed as FILE:LINE:
reason, and the exit status is 1. The corpus is tests/unit/configs/bad-*.conf
(each file names its expected errors on "# expect:" lines)."""
import glob
import os
import re
import subprocess

import pytest

from maildtest import MAILD, SRCDIR, Sandbox

CONFIGS = sorted(glob.glob(os.path.join(SRCDIR, "tests", "unit", "configs", "bad-*.conf")))


def expectations(path):
    out = []
    for line in open(path):
        m = re.match(r"# expect: (\d+): (.*)", line)
        if m:
            out.append((int(m.group(1)), m.group(2).strip()))
    return out


def test_corpus_is_big_enough():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_maild_t_reports_file_line_reason(path):
    sb = Sandbox()
    try:
        # users in the files (root) must resolve under nss_wrapper as well
        r = subprocess.run([MAILD, "-t", "-c", path], capture_output=True, text=True,
                           env=sb.env(), timeout=20, cwd=os.path.dirname(path))
    finally:
        sb.cleanup()
    assert r.returncode == 1, r.stderr
    errors = [l for l in r.stderr.splitlines() if re.match(re.escape(path) + r":\d+: ", l)]
    want = expectations(path)
    assert want, "no # expect: lines in %s" % path
    assert len(errors) == len(want), r.stderr
    for got, (line, reason) in zip(errors, want):
        assert got.startswith("%s:%d: " % (path, line)), (got, line)
        assert reason in got, (got, reason)
    assert r.stderr.rstrip().endswith("configuration has errors")
