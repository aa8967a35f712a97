"""pytest fixtures shared by the black-box tests (see maildtest.py)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maildtest import Maild, Sandbox  # noqa: E402


@pytest.fixture
def sandbox():
    sb = Sandbox()
    yield sb
    pass


@pytest.fixture
def make_maild(sandbox):
    """Factory: make_maild(config={...}, env={...}) -> started Maild."""
    started = []

    def make(config=None, env=None, start=True, args=()):
        if any(k.startswith("MAILD_FAULT") for k in env or {}) and \
                os.environ.get("MAILD_FAULT_INJECTION") == "no":
            pytest.skip("needs fault points: built with --disable-fault-injection")
        m = Maild(sandbox, config=config, env=env, args=args)
        started.append(m)
        return m.start() if start else m
    yield make
    for m in started:
        try:
            m.stop()
        finally:
            m.kill_all()
            # shown by pytest only when the test failed
            if os.path.exists(m.log_path):
                print("---- maild log (tail) ----\n" + m.log()[-8000:])


@pytest.fixture
def maild(make_maild):
    return make_maild()
