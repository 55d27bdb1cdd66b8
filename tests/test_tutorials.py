"""PyTorch's own autograd teaching material, run unchanged on PyTorch and on nbautograd.

Each file in ``tests/tutorials/`` is a PyTorch tutorial (or a group of PyTorch docstring
examples) saved as written, with ``import torch``; its header says where it comes from and
what, if anything, was left out. Each file runs in subprocesses of ``sys.executable``:

* ``torch``: the file as is, on real PyTorch;
* ``torch_reseeded`` (only for the files compared line by line): the same with another seed:
  the lines that change with the seed are the ones that print random values, every other
  line is deterministic;
* ``nbautograd``: the same file in a fresh process where every ``torch`` / ``torch.*`` import
  is answered by ``nbautograd`` / ``nbautograd.*`` (a meta-path finder installed by a small
  runner, so ``import torch``, ``import torch.nn as nn``, ``from torch import nn, optim`` and
  ``from torch.autograd.functional import vjp`` all resolve to nbautograd, and nothing is
  imported on the tutorial's behalf: ``torch.nn`` after a bare ``import torch`` works only if
  ``import nbautograd`` provides it, as ``import torch`` does).

None of the tutorials seeds the generator, and PyTorch 2.13 seeds its default generator
differently in every process, so the runner calls ``torch.manual_seed(SEED)`` before each file
(on both engines; ``RESEED`` for ``torch_reseeded``) and seeds Python's ``random`` with 0: every
run of this test prints the same. The torch runs share one import: a runner process imports
torch, then runs each file in a child forked from it (a fresh ``python FILE`` whose first
statement is ``import torch``, less two seconds of import per file).

Comparisons, on stdout, line by line (object addresses ``0x...`` blanked first):

* ``exact`` files: a deterministic line must be identical; a random line must be identical
  once every number is replaced by ``N`` (tensor structure, ``grad_fn=<...>`` names,
  ``requires_grad``, dtypes, shapes must all match);
* ``fit`` files (the polynomial fits, which print losses and fitted coefficients): same
  lines once numbers are ``N``, same iteration numbers, and nbautograd's final loss finite
  and within a factor of 10 of torch's; where the fit starts from a fixed point
  (``polynomial_custom_function``) every printed number must also be within 1e-3 of torch's.

``NBAUTOGRAD_TEST_ENGINE=torch`` (see ``conftest.py``) runs the "nbautograd" side on torch
itself, without the renaming: every test must then pass, which validates this harness.
"""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

pytest.importorskip("torch")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TUTORIAL_DIR = HERE / "tutorials"
SEED = 0
RESEED = 1234
TIMEOUT_S = 300

# name -> (mode, rtol for every printed number or None)
TUTORIALS = {
    "blitz_autograd_tutorial": ("exact", None),
    "basics_autogradqs_tutorial": ("exact", None),
    "polynomial_autograd": ("fit", None),
    "polynomial_custom_function": ("fit", 1e-3),  # fixed initial point: numbers comparable
    "polynomial_nn": ("fit", None),
    "polynomial_optim": ("fit", None),
    "polynomial_module": ("fit", None),
    "dynamic_net": ("fit", None),
}
DOCSTRING_GROUPS = {
    "docstrings_autograd_functional": ("exact", None),
    "docstrings_grad_mode": ("exact", None),
    "docstrings_register_hook": ("exact", None),
}
ALL = {**TUTORIALS, **DOCSTRING_GROUPS}


class Run(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


RUNNER = r'''
"""Run tutorial files as __main__, after ``torch.manual_seed(seed)`` and ``random.seed(0)``.

``_run_tutorial.py nbautograd SEED PATH``: in this process, with ``torch`` (and every
``torch.*``) imported as ``nbautograd`` (``nbautograd.*``).
``_run_tutorial.py plain SEED PATH``: the same without the renaming (torch itself).

``_run_tutorial.py torch OUTDIR JOBS_JSON``: import torch once, then run each job
``{"key", "path", "seed"}`` in a child forked from this process, its stdout and stderr in
``OUTDIR/KEY.out`` / ``.err`` and its exit status in ``OUTDIR/KEY.rc``. A child starts from a
process that has imported torch and done nothing else, which is what a fresh ``python PATH``
is when PATH's first statement is ``import torch`` -- without paying for the import per file.
"""
import importlib
import importlib.abc
import importlib.util
import json
import os
import random
import runpy
import sys
import traceback


class _TorchIsNbautograd(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import torch[.x.y]`` gives ``nbautograd[.x.y]``, the very same module objects."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        module = importlib.import_module("nbautograd" + spec.name[len("torch"):])
        self._own_spec = module.__spec__  # the import system overwrites it; put it back below
        return module

    def exec_module(self, module):
        module.__spec__ = self._own_spec


def _run_main(path, seed):
    import torch  # (nbautograd, in the nbautograd run)
    torch.manual_seed(seed)
    random.seed(0)  # dynamic_net.py draws from Python's random
    sys.argv = [path]
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    runpy.run_path(path, run_name="__main__")


def _child(job, outdir):
    out = os.open(os.path.join(outdir, job["key"] + ".out"), os.O_WRONLY | os.O_CREAT, 0o644)
    err = os.open(os.path.join(outdir, job["key"] + ".err"), os.O_WRONLY | os.O_CREAT, 0o644)
    os.dup2(out, 1)
    os.dup2(err, 2)
    code = 0
    try:
        _run_main(job["path"], job["seed"])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    how = sys.argv[1]
    if how == "nbautograd":
        sys.meta_path.insert(0, _TorchIsNbautograd())
        _run_main(sys.argv[3], int(sys.argv[2]))
    elif how == "plain":
        _run_main(sys.argv[3], int(sys.argv[2]))
    elif how == "torch":
        outdir, jobs = sys.argv[2], json.loads(sys.argv[3])
        import torch  # noqa: F401
        for job in jobs:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(job, outdir)
            _, status = os.waitpid(pid, 0)
            with open(os.path.join(outdir, job["key"] + ".rc"), "w") as f:
                f.write(str(os.waitstatus_to_exitcode(status)))
    else:
        raise SystemExit(f"unknown mode {how!r}")
'''

_ADDR = re.compile(r"0x[0-9a-fA-F]+")
_NUM = re.compile(r"\s*(?<![\w.])-?(?:inf|nan|\d+\.?\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?)"
                  r"(?![\w.])")
_LOSS_LINE = re.compile(r"^(\d+) (\S+)$")


def _blank_addresses(text: str) -> list[str]:
    return _ADDR.sub("0x...", text).splitlines()


def _shape(line: str) -> str:
    """The line with every number replaced by ``N`` (and the padding before it dropped)."""
    return _NUM.sub("N", line)


def _numbers(line: str) -> list[float]:
    return [float(m.group().strip()) for m in _NUM.finditer(line)]


# --- running -----------------------------------------------------------------------------

def _engine() -> str:
    """The engine under test: ``nbautograd``, or ``torch`` to validate this harness."""
    return os.environ.get("NBAUTOGRAD_TEST_ENGINE", "nbautograd")


def _env(nbautograd_first: bool) -> dict:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    env.setdefault("OMP_NUM_THREADS", "1")
    if nbautograd_first:  # the working tree's nbautograd, whatever is installed
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _path(name: str) -> str:
    return str(TUTORIAL_DIR / f"{name}.py")


def _subprocess(args: list[str], workdir: Path, nbautograd_first: bool) -> Run:
    proc = subprocess.run([sys.executable, *args], cwd=workdir, env=_env(nbautograd_first),
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def _run_engine(runner: Path, name: str, workdir: Path) -> Run:
    how = "plain" if _engine() == "torch" else "nbautograd"
    return _subprocess([str(runner), how, str(SEED), _path(name)], workdir, nbautograd_first=True)


def _run_torch(runner: Path, jobs: list[dict], workdir: Path) -> dict[str, Run]:
    """One process imports torch, then runs each job in a child forked from it (elsewhere
    than on Linux, where forking a process that has imported torch is less safe: one process
    per job)."""
    if sys.platform != "linux":
        return {job["key"]: _subprocess([str(runner), "plain", str(job["seed"]), job["path"]],
                                        workdir, nbautograd_first=False)
                for job in jobs}
    outdir = workdir / f"torch-{jobs[0]['key']}"
    outdir.mkdir()
    proc = _subprocess([str(runner), "torch", str(outdir), json.dumps(jobs)], workdir,
                       nbautograd_first=False)
    runs = {}
    for job in jobs:
        rc_file = outdir / f"{job['key']}.rc"
        if not rc_file.exists():
            raise RuntimeError(f"torch runner died before {job['key']}:\n{proc.stderr[-3000:]}")
        runs[job["key"]] = Run(int(rc_file.read_text()),
                               (outdir / f"{job['key']}.out").read_text(),
                               (outdir / f"{job['key']}.err").read_text())
    return runs


@pytest.fixture(scope="module")
def outputs(request, tmp_path_factory):
    """``outputs(name) -> {kind: Run}``: every run the selected tests need, started together."""
    workdir = tmp_path_factory.mktemp("tutorials")
    runner = workdir / "_run_tutorial.py"
    runner.write_text(RUNNER)
    selected = sorted({item.callspec.params["name"] for item in request.session.items
                       if item.module is request.module and hasattr(item, "callspec")
                       and "name" in item.callspec.params})
    torch_jobs = []
    for name in selected:
        torch_jobs.append({"key": f"{name}.torch", "path": _path(name), "seed": SEED})
        if ALL[name][0] == "exact":
            torch_jobs.append({"key": f"{name}.torch_reseeded", "path": _path(name),
                               "seed": RESEED})
    n_torch = 2 if len(torch_jobs) > 4 else 1
    pool = ThreadPoolExecutor(max_workers=n_torch + max(1, (os.cpu_count() or 2) - 1))
    torch_futures = [pool.submit(_run_torch, runner, torch_jobs[i::n_torch], workdir)
                     for i in range(n_torch) if torch_jobs[i::n_torch]]
    engine_futures = {name: pool.submit(_run_engine, runner, name, workdir) for name in selected}

    def get(name: str) -> dict[str, Run]:
        runs = {"nbautograd": engine_futures[name].result()}
        for fut in torch_futures:
            for key, run in fut.result().items():
                n, kind = key.rsplit(".", 1)
                if n == name:
                    runs[kind] = run
        return runs

    yield get
    pool.shutdown(wait=True, cancel_futures=True)


def _results(outputs, name: str) -> dict[str, Run]:
    res = outputs(name)
    for kind in ("torch", "torch_reseeded"):
        if kind in res:
            assert res[kind].returncode == 0, (
                f"{name}.py fails on real PyTorch ({kind}; a harness or tutorial problem):\n"
                f"{res[kind].stderr[-3000:]}")
    nb = res["nbautograd"]
    assert nb.returncode == 0, (
        f"{name}.py fails on {_engine()} (exit {nb.returncode}).\n--- stdout so far:\n"
        f"{nb.stdout[-2000:]}\n--- stderr:\n{nb.stderr[-4000:]}")
    return res


# --- comparing ---------------------------------------------------------------------------

def _report(name: str, problems: list[str], torch_lines: list[str], nb_lines: list[str]) -> str:
    return (f"{name}.py: {_engine()}'s output differs from PyTorch's\n" + "\n".join(problems)
            + "\n--- torch stdout:\n" + "\n".join(torch_lines)
            + f"\n--- {_engine()} stdout:\n" + "\n".join(nb_lines))


def _line_count_problem(t: list[str], n: list[str]) -> list[str]:
    if len(t) == len(n):
        return []
    return [f"line count: torch {len(t)}, {_engine()} {len(n)}"]


def compare_exact(name: str, res) -> None:
    t = _blank_addresses(res["torch"].stdout)
    r = _blank_addresses(res["torch_reseeded"].stdout)
    n = _blank_addresses(res["nbautograd"].stdout)
    random_lines = ({i for i in range(len(t)) if t[i] != r[i]} if len(t) == len(r)
                    else set(range(len(t))))
    problems = _line_count_problem(t, n)
    for i, (tl, nl) in enumerate(zip(t, n)):
        if i in random_lines:
            if _shape(tl) != _shape(nl):
                problems.append(f"line {i + 1} (random values; compared with numbers as N):\n"
                                f"  torch:      {tl!r}\n  {_engine() + ':':<11} {nl!r}")
        elif tl != nl:
            problems.append(f"line {i + 1} (deterministic; compared exactly):\n"
                            f"  torch:      {tl!r}\n  {_engine() + ':':<11} {nl!r}")
    assert not problems, _report(name, problems, t, n)


def compare_fit(name: str, res, rtol: float | None) -> None:
    t = _blank_addresses(res["torch"].stdout)
    n = _blank_addresses(res["nbautograd"].stdout)
    problems = _line_count_problem(t, n)
    for i, (tl, nl) in enumerate(zip(t, n)):
        tm, nm = _LOSS_LINE.match(tl), _LOSS_LINE.match(nl)
        if _shape(tl) != _shape(nl) or (tm and nm and tm.group(1) != nm.group(1)):
            problems.append(f"line {i + 1} (structure; numbers as N, iteration exact):\n"
                            f"  torch:      {tl!r}\n  {_engine() + ':':<11} {nl!r}")
        elif rtol is not None:
            for tv, nv in zip(_numbers(tl), _numbers(nl)):
                if not math.isclose(tv, nv, rel_tol=rtol, abs_tol=rtol):
                    problems.append(f"line {i + 1}: {nv!r} is not within {rtol} of torch's "
                                    f"{tv!r}\n  torch:      {tl!r}\n  {_engine() + ':':<11} {nl!r}")
                    break
    t_losses = [float(m.group(2)) for m in map(_LOSS_LINE.match, t) if m]
    n_losses = [float(m.group(2)) for m in map(_LOSS_LINE.match, n) if m]
    assert t_losses, f"{name}.py: torch printed no loss lines:\n" + "\n".join(t)
    if n_losses:
        tf, nf = t_losses[-1], n_losses[-1]
        if not math.isfinite(nf):
            problems.append(f"final loss is not finite: {nf!r} (torch {tf!r})")
        elif not (nf > 0 and tf > 0 and abs(math.log10(nf / tf)) <= 1):
            problems.append(f"final loss not within a factor of 10 of torch's: {nf!r}, "
                            f"torch {tf!r}")
    assert not problems, _report(name, problems, t, n)


def _check(outputs, name: str) -> None:
    res = _results(outputs, name)
    mode, rtol = ALL[name]
    if mode == "exact":
        compare_exact(name, res)
    else:
        compare_fit(name, res, rtol)


# --- tests -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(TUTORIALS))
def test_tutorial(outputs, name):
    _check(outputs, name)


@pytest.mark.parametrize("name", sorted(DOCSTRING_GROUPS))
def test_docstring_examples(outputs, name):
    _check(outputs, name)


def test_every_tutorial_file_is_tested():
    on_disk = {p.stem for p in TUTORIAL_DIR.glob("*.py")}
    assert on_disk == set(ALL)


def test_harness_normalization():
    """The number normalization blanks values only, and keeps what must match."""
    assert _shape("tensor([ 0.1234, -5.0000e-01], grad_fn=<SumBackward1>)") == \
        "tensor([N,N], grad_fn=<SumBackward1>)"
    assert _shape("99 1234.5678") == "NN"
    assert _shape("torch.Size([4, 2])") == "torch.Size([N,N])"
    assert _shape("tensor(nan)") == _shape("tensor(0.5)")
    assert _shape("dtype=torch.float64") == "dtype=torch.float64"
    assert _shape("tensor([1., 2.], dtype=torch.float64)") != _shape("tensor([1., 2.])")
    assert _blank_addresses("<AddBackward0 object at 0x7f3a2c>") == [
        "<AddBackward0 object at 0x...>"]
    assert _numbers("Result: y = -0.5 + 1e-05 x") == [-0.5, 1e-05]


def test_harness_comparisons():
    """The comparisons fail on what they must catch, and pass on random values alone."""
    def runs(torch_out, nb_out, reseeded_out=None):
        res = {"torch": Run(0, torch_out, ""), "nbautograd": Run(0, nb_out, "")}
        if reseeded_out is not None:
            res["torch_reseeded"] = Run(0, reseeded_out, "")
        return res

    t = "tensor([0.1, 0.2], grad_fn=<MulBackward0>)\ntensor([4.5])\nTrue\n<F object at 0x1>\n"
    r = "tensor([0.7, 0.3], grad_fn=<MulBackward0>)\ntensor([4.5])\nTrue\n<F object at 0x2>\n"
    compare_exact("ok", runs(t, "tensor([0.5, -0.9], grad_fn=<MulBackward0>)\ntensor([4.5])\n"
                              "True\n<F object at 0x3>\n", r))
    tail = "\ntensor([4.5])\nTrue\n<F object at 0x3>\n"
    for wrong in ("tensor([0.5, 0.9], grad_fn=<MulBackward1>)" + tail,  # grad_fn name
                  "tensor([0.5, 0.9, 0.1], grad_fn=<MulBackward0>)" + tail,  # shape
                  "tensor([0.5, 0.9], grad_fn=<MulBackward0>)" + tail.replace("4.5", "4.6"),
                  "tensor([0.5, 0.9], grad_fn=<MulBackward0>)\ntensor([4.5])\nTrue\n"):
        with pytest.raises(AssertionError):
            compare_exact("wrong", runs(t, wrong, r))

    fit = "99 120.5\n199 10.25\nResult: y = 0.5 + -0.25 x\n"
    compare_fit("ok", runs(fit, "99 80.125\n199 12.5\nResult: y = -0.125 + 0.75 x\n"), None)
    for wrong in ("99 80.125\n199 nan\nResult: y = nan + nan x\n",
                  "99 80.125\n199 1250.5\nResult: y = 0.5 + -0.25 x\n",
                  "98 80.125\n199 12.5\nResult: y = 0.5 + -0.25 x\n",
                  "99 80.125\n199 12.5\nResult: y = 0.5 + -0.25 x^2\n"):
        with pytest.raises(AssertionError):
            compare_fit("wrong", runs(fit, wrong), None)
    with pytest.raises(AssertionError):
        compare_fit("wrong", runs(fit, "99 120.5\n199 10.5\nResult: y = 0.5 + -0.25 x\n"), 1e-3)
