"""The course notebooks are tests: every cell runs again and its outputs must match the committed
ones (nbval), SVG pictures and HTML reports included — the renderer is deterministic, so only
memory addresses are sanitized (notebooks/nbval-sanitize.cfg).

The run is a subprocess, ``python -m pytest --nbval notebooks/ ...`` with this interpreter, so
that the notebook kernels are started outside this test session and nbval need not be
configured for the whole suite. The kernel is this interpreter too (``--nbval-current-env``).

The notebooks are built by ``tools/build_notebooks.py``; a second test checks that the
committed notebooks still hold the cells the script writes.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SANITIZE = NOTEBOOKS / "nbval-sanitize.cfg"
TIMEOUT_S = 600           # the whole run takes well under a minute; this only stops a hang

pytest.importorskip("nbval", reason="pip install nbval ipykernel to run the notebook tests")
pytest.importorskip("ipykernel")
pytest.importorskip("nbformat")


def nbval_command(*paths: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "--nbval", *paths,
            "--nbval-sanitize-with", str(SANITIZE.relative_to(ROOT)),
            "--nbval-current-env", "-p", "no:cacheprovider",
            # error cells carry both the NBVAL_RAISES_EXCEPTION comment and the
            # raises-exception tag (which lets JupyterLab's "Run All" go on); nbval warns
            "-W", "ignore:Overlapping options from comments and metadata"]


def test_notebooks_exist():
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert len(names) == 11 and names[0] == "00_tour.ipynb" and names[-1] == "10_training_loop.ipynb"


def test_notebooks_match_their_build_script():
    """notebooks/*.ipynb hold exactly the cells tools/build_notebooks.py writes (outputs aside)."""
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "build_notebooks.py"), "--check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_notebooks_run_and_outputs_match():
    """pytest --nbval notebooks/ --nbval-sanitize-with notebooks/nbval-sanitize.cfg passes."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTEST_ADDOPTS", None)
    try:
        proc = subprocess.run(nbval_command("notebooks/"), cwd=ROOT, capture_output=True,
                              text=True, timeout=TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"nbval run did not finish in {TIMEOUT_S} s:\n{(e.stdout or '')[-5000:]}")
    out = proc.stdout + proc.stderr
    # rc 0: every cell ran and matched (rc 5 would mean nothing was collected)
    assert proc.returncode == 0, (
        f"nbval failed (rc={proc.returncode}). If the new outputs are intended (the engine or "
        f"a view changed), rebuild the notebooks: python tools/build_notebooks.py\n"
        f"{out[-20000:]}")
