"""The five seed tutorials run unchanged with ``import nbautograd as torch`` and print what
PyTorch prints (the replay harness lives in ../shared, beside the repository)."""
import os
import re
import subprocess
import sys

import pytest

REPLAY = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "seed-replay", "replay.py")
pytestmark = pytest.mark.skipif(not os.path.exists(REPLAY), reason="../shared/seed-replay absent")


def _total(*flags: str) -> tuple[int, int]:
    out = subprocess.run([sys.executable, REPLAY, "--engine", "nbautograd", *flags],
                         capture_output=True, text=True, timeout=600, check=True).stdout
    m = re.search(r"^TOTAL: (\d+)/(\d+) cells match", out, re.M)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def test_seed_replay_exact():
    ok, n = _total()
    assert n == 64 and ok >= 60, (ok, n)


def test_seed_replay_approx_all_cells():
    assert _total("--approx") == (64, 64)
