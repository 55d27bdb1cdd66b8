"""Shared helpers for the differential tests (engine under test vs real torch).

Conventions
-----------
* ``nb`` is the module under test (see ``conftest.py``); ``torch`` is the oracle.
* Code that must behave identically is written once as ``fn(m, ...)`` where ``m``
  is either module, then run against both.
* Only the public torch API is used on ``nb`` objects.  Tensors are converted with
  ``t.detach().numpy()`` and compared with numpy.
"""

import math
import os
import re
import warnings

import numpy as np
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# ---------------------------------------------------------------------------
# hypothesis

HYP = settings(
    # NBAUTOGRAD_HYP_EXAMPLES raises the budget for a deeper local run
    max_examples=int(os.environ.get("NBAUTOGRAD_HYP_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

FLOAT_DTYPES = ("float32", "float64")

# default comparison tolerances (rtol, atol-relative-to-scale)
# atol is multiplied by max(1, max|expected|): float32 reductions are summed in different orders
# by numpy and torch, so cancellation leaves errors relative to the magnitude of the whole result.
TOL = {"float16": (1e-3, 1e-3), "float32": (1e-5, 5e-5), "float64": (1e-10, 1e-10)}


def float_elements(dtype, lo, hi, *, nonzero_min=None, grid=None, tiny=1e-4):
    """Bounded finite floats representable in ``dtype``.

    * ``nonzero_min``: values are in ``[lo, -nonzero_min] U [nonzero_min, hi]``.
    * ``grid``: values are multiples of ``grid`` (exact binary fractions for grid=0.25), which
      keeps ill-conditioned near-ties (e.g. for std/var gradients) out of the comparison.
    * ``tiny``: magnitudes below it are flushed to 0.0 -- tiny-but-nonzero inputs only measure
      accumulation precision (torch accumulates some float32 reductions in double), not semantics.
    """
    if grid is not None:
        return st.integers(int(np.ceil(lo / grid)), int(np.floor(hi / grid))).map(lambda i: i * grid)
    width = 32 if dtype == "float32" else 64
    if width == 32:  # bounds must be representable
        lo, hi = float(np.float32(lo)), float(np.float32(hi))
        nonzero_min = None if nonzero_min is None else float(np.float32(nonzero_min))
    kw = dict(allow_nan=False, allow_infinity=False, allow_subnormal=False, width=width)
    if nonzero_min is None:
        base = st.floats(lo, hi, **kw)
    else:
        base = st.floats(nonzero_min, hi, **kw) | st.floats(lo, -nonzero_min, **kw)
    if tiny:
        base = base.map(lambda v: 0.0 if abs(v) < tiny else v)
    return base


def float_arrays(dtype, shape, lo=-3.0, hi=3.0, *, unique=False, nonzero_min=None, grid=None):
    return hnp.arrays(
        np.dtype(dtype), shape, elements=float_elements(dtype, lo, hi, nonzero_min=nonzero_min, grid=grid),
        unique=unique,
    )


# ---------------------------------------------------------------------------
# small utilities


def is_tensor(m, obj):
    return isinstance(obj, m.Tensor)


def to_np(t):
    """numpy copy of a tensor of either engine (None passes through)."""
    if t is None:
        return None
    return np.array(t.detach().numpy(), copy=True)


def dtype_name(t):
    return str(t.dtype)


def grad_fn_name(t):
    gf = t.grad_fn
    return None if gf is None else type(gf).__name__


def flatten_outputs(m, out):
    """A tensor, or a (possibly nested) tuple/list of tensors -> flat list of tensors."""
    if is_tensor(m, out):
        return [out]
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res.extend(flatten_outputs(m, o))
        return res
    raise AssertionError(f"unexpected output type {type(out)!r}")


def _scale(expected):
    finite = expected[np.isfinite(expected)] if expected.size else expected
    if finite.size == 0:
        return 1.0
    return max(1.0, float(np.max(np.abs(finite))))


def assert_values_close(actual, expected, dtype=None, rtol=None, atol=None, what="values"):
    """Compare two numpy arrays (floats: rtol plus an atol scaled by the magnitude)."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    if expected.dtype.kind in "fc":
        name = dtype or str(expected.dtype)
        d_rtol, d_atol = TOL.get(name, TOL["float32"])
        rtol = d_rtol if rtol is None else rtol
        atol = (d_atol if atol is None else atol) * _scale(expected.astype(np.float64))
        np.testing.assert_allclose(
            actual.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True,
            err_msg=what,
        )
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def assert_tensor_matches(t_nb, t_torch, *, rtol=None, atol=None, what="tensor", check_grad_fn=False):
    """dtype name, shape, values (and optionally requires_grad/grad_fn name) of nb vs torch tensors."""
    assert dtype_name(t_nb) == dtype_name(t_torch), f"{what}: dtype {t_nb.dtype} != torch {t_torch.dtype}"
    assert tuple(t_nb.shape) == tuple(t_torch.shape), (
        f"{what}: shape {tuple(t_nb.shape)} != torch {tuple(t_torch.shape)}"
    )
    assert_values_close(
        to_np(t_nb), to_np(t_torch), dtype=dtype_name(t_torch).replace("torch.", ""), rtol=rtol, atol=atol, what=what
    )
    if check_grad_fn:
        assert t_nb.requires_grad == t_torch.requires_grad, f"{what}: requires_grad mismatch"
        assert grad_fn_name(t_nb) == grad_fn_name(t_torch), (
            f"{what}: grad_fn {grad_fn_name(t_nb)} != torch {grad_fn_name(t_torch)}"
        )
        if t_torch.grad_fn is not None:
            assert t_nb.grad_fn.name() == t_torch.grad_fn.name()


def assert_grads_match(nb_inputs, torch_inputs, *, rtol=None, atol=None):
    for i, (a, b) in enumerate(zip(nb_inputs, torch_inputs)):
        if not is_tensor(torch, b):
            continue
        if b.grad is None:
            assert a.grad is None, f"input {i}: torch .grad is None but engine gave {a.grad!r}"
            continue
        assert a.grad is not None, f"input {i}: engine .grad is None, torch has a gradient"
        assert_tensor_matches(a.grad, b.grad, rtol=rtol, atol=atol, what=f"grad of input {i}")


# ---------------------------------------------------------------------------
# inputs


class A:
    """Spec of a random array input for fixed (non-hypothesis) cases."""

    def __init__(self, shape, lo=-2.0, hi=2.0, *, nonzero_min=None, unique=False, dtype=None, requires_grad=None):
        self.shape, self.lo, self.hi = tuple(shape), lo, hi
        self.nonzero_min, self.unique, self.dtype = nonzero_min, unique, dtype
        self.requires_grad = requires_grad

    def make(self, dtype, rng):
        dtype = self.dtype or dtype
        n = int(np.prod(self.shape)) if self.shape else 1
        if self.unique:
            vals = rng.permutation(np.linspace(self.lo, self.hi, num=max(n, 2)))[:n]
        else:
            vals = rng.uniform(self.lo, self.hi, size=n)
        if self.nonzero_min is not None:
            vals = np.where(np.abs(vals) < self.nonzero_min, np.copysign(self.nonzero_min, vals) + vals, vals)
        return np.asarray(vals.reshape(self.shape)).astype(dtype)

    def __repr__(self):
        return f"A{self.shape}"


class Fixed:
    """A literal array input (e.g. to test ties or zeros)."""

    def __init__(self, values, dtype=None, requires_grad=None):
        self.values, self.dtype, self.requires_grad = values, dtype, requires_grad

    def make(self, dtype, rng):
        arr = np.asarray(self.values)
        if arr.dtype.kind == "b" and self.dtype is None:
            return arr.copy()
        return arr.astype(self.dtype or dtype)


def materialize(specs, dtype, seed=0):
    rng = np.random.default_rng(seed)
    arrays, rgs = [], []
    for s in specs:
        if isinstance(s, (A, Fixed)):
            arr = s.make(dtype, rng)
            arrays.append(arr)
            rgs.append(s.requires_grad if s.requires_grad is not None else arr.dtype.kind == "f")
        else:
            arrays.append(s)
            rgs.append(False)
    return arrays, rgs


def make_inputs(m, arrays, requires_grad):
    """np arrays -> tensors of module ``m``; other objects pass through unchanged."""
    res = []
    for a, rg in zip(arrays, requires_grad):
        if isinstance(a, np.ndarray):
            res.append(m.tensor(a.copy(), requires_grad=bool(rg)))
        else:
            res.append(a)
    return res


def cotangent_like(t, rng):
    arr = np.asarray(rng.standard_normal(tuple(t.shape)))
    return arr.astype(dtype_name(t).replace("torch.", ""))


# ---------------------------------------------------------------------------
# the main differential checker


def check_op(nb, fn, arrays, requires_grad=None, *, check_name=True, grad=True, seed=1234, rtol=None, atol=None):
    """Run ``fn(m, *inputs)`` on both engines; compare outputs, grad_fn names and input gradients.

    Gradients are obtained with ``out.backward(g)`` (a single differentiable output)
    or ``autograd.backward(outs, gs)`` (several) with random cotangents ``g``.
    Returns ``(nb_inputs, nb_outputs, torch_inputs, torch_outputs)``.
    """
    if requires_grad is None:
        requires_grad = [isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays]
    t_in = make_inputs(torch, arrays, requires_grad)
    n_in = make_inputs(nb, arrays, requires_grad)
    t_outs = flatten_outputs(torch, fn(torch, *t_in))
    n_outs = flatten_outputs(nb, fn(nb, *n_in))
    assert len(n_outs) == len(t_outs), f"number of outputs {len(n_outs)} != torch {len(t_outs)}"
    for i, (a, b) in enumerate(zip(n_outs, t_outs)):
        assert_tensor_matches(a, b, rtol=rtol, atol=atol, what=f"output {i}")
        assert a.requires_grad == b.requires_grad, f"output {i}: requires_grad {a.requires_grad} != {b.requires_grad}"
        if check_name:
            assert grad_fn_name(a) == grad_fn_name(b), f"output {i}: grad_fn {grad_fn_name(a)} != torch {grad_fn_name(b)}"
    if grad:
        rng = np.random.default_rng(seed)
        idx = [i for i, o in enumerate(t_outs) if o.requires_grad]
        if idx:
            cots = [cotangent_like(t_outs[i], rng) for i in idx]
            if len(idx) == 1:
                t_outs[idx[0]].backward(torch.tensor(cots[0]))
                n_outs[idx[0]].backward(nb.tensor(cots[0]))
            else:
                torch.autograd.backward([t_outs[i] for i in idx], [torch.tensor(c) for c in cots])
                nb.autograd.backward([n_outs[i] for i in idx], [nb.tensor(c) for c in cots])
            assert_grads_match(n_in, t_in, rtol=rtol, atol=atol)
    return n_in, n_outs, t_in, t_outs


def _second_order(m, fn, arrays, requires_grad, seed):
    ins = make_inputs(m, arrays, requires_grad)
    diff = [x for x in ins if is_tensor(m, x) and x.requires_grad]
    out = flatten_outputs(m, fn(m, *ins))[0]
    rng = np.random.default_rng(seed)
    g = m.tensor(cotangent_like(out, rng))
    grads = m.autograd.grad(out, diff, grad_outputs=g, create_graph=True, allow_unused=True)
    vs = [m.tensor(cotangent_like(x, rng)) for x in diff]
    first = [None if gi is None else to_np(gi) for gi in grads]
    s = None
    for gi, vi in zip(grads, vs):
        if gi is None:
            continue
        term = (gi * vi).sum()
        s = term if s is None else s + term
    if s is None or not s.requires_grad:
        second = [np.zeros(tuple(x.shape)) for x in diff]
    else:
        hv = m.autograd.grad(s, diff, allow_unused=True)
        second = [np.zeros(tuple(x.shape)) if h is None else to_np(h) for h, x in zip(hv, diff)]
    return first, second


def check_second_order(nb, fn, arrays, requires_grad=None, *, seed=99, rtol=None, atol=None):
    """Hessian-vector products: grad of (grad(out, x, g, create_graph=True) * v).sum() vs torch.

    A missing (None) or constant gradient is treated as zeros, so an engine is
    not forced to reproduce torch's exact graph for identically-zero terms.
    """
    if requires_grad is None:
        requires_grad = [isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays]
    t_first, t_second = _second_order(torch, fn, arrays, requires_grad, seed)
    n_first, n_second = _second_order(nb, fn, arrays, requires_grad, seed)
    for i, (a, b) in enumerate(zip(n_first, t_first)):
        assert (a is None) == (b is None), f"first-order grad {i}: None-ness differs"
        if b is not None:
            assert_values_close(a, b, dtype=str(b.dtype), rtol=rtol, atol=atol, what=f"first-order grad {i}")
    for i, (a, b) in enumerate(zip(n_second, t_second)):
        assert_values_close(a, b.astype(a.dtype) if b.dtype != a.dtype else b, dtype=str(a.dtype), rtol=rtol,
                            atol=atol, what=f"second-order grad {i}")


def check_finite_differences(nb, fn, arrays, requires_grad=None, *, eps=1e-6, seed=7, rtol=1e-5, atol=1e-6):
    """Engine-only check: analytic J^T g (float64) against central finite differences."""
    if requires_grad is None:
        requires_grad = [isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays]
    ins = make_inputs(nb, arrays, requires_grad)
    outs = flatten_outputs(nb, fn(nb, *ins))
    out = outs[0]
    rng = np.random.default_rng(seed)
    g = cotangent_like(out, rng)
    out.backward(nb.tensor(g))

    def f(arrs):
        with nb.no_grad():
            ins2 = make_inputs(nb, arrs, [False] * len(arrs))
            o = flatten_outputs(nb, fn(nb, *ins2))[0]
            return float(np.sum(to_np(o).astype(np.float64) * g))

    for k, (arr, rg) in enumerate(zip(arrays, requires_grad)):
        if not rg:
            continue
        num = np.zeros(arr.shape, dtype=np.float64)
        for i in np.ndindex(arr.shape):
            plus = [a.copy() if isinstance(a, np.ndarray) else a for a in arrays]
            minus = [a.copy() if isinstance(a, np.ndarray) else a for a in arrays]
            plus[k][i] += eps
            minus[k][i] -= eps
            num[i] = (f(plus) - f(minus)) / (2 * eps)
        analytic = to_np(ins[k].grad)
        np.testing.assert_allclose(analytic, num, rtol=rtol, atol=atol * max(1.0, float(np.abs(num).max(initial=0))),
                                   err_msg=f"finite differences, input {k}")


# ---------------------------------------------------------------------------
# errors and warnings


def capture_error(code):
    try:
        code()
    except Exception as e:  # noqa: BLE001 - we want every exception
        return e
    return None


def _builtin_base(exc_type):
    for c in exc_type.__mro__:
        if c.__module__ == "builtins":
            return c
    return Exception


def assert_same_error(nb, code, *, first_line=False, message=True):
    """``code(m)`` must raise in torch; the engine must raise the same type with the same text."""
    e_t = capture_error(lambda: code(torch))
    assert e_t is not None, "oracle problem: torch did not raise"
    e_n = capture_error(lambda: code(nb))
    assert e_n is not None, f"engine raised nothing; torch raised {type(e_t).__name__}: {e_t}"
    base = _builtin_base(type(e_t))
    if type(e_t) is base:
        assert type(e_n) is base, f"engine raised {type(e_n).__name__}: {e_n}; torch raised {base.__name__}: {e_t}"
    else:
        assert isinstance(e_n, base), f"engine raised {type(e_n).__name__}: {e_n}; torch raised {type(e_t).__name__}"
    if message:
        a, b = str(e_n), str(e_t)
        if first_line:
            a, b = a.splitlines()[0] if a else a, b.splitlines()[0] if b else b
        assert a == b, f"error text differs:\n engine: {a!r}\n torch:  {b!r}"
    return e_n, e_t


_TRIGGERED = re.compile(r"\s*\(Triggered internally at .*\)\s*$", re.S)


def normalize_warning(msg):
    return _TRIGGERED.sub("", str(msg))


def capture_warnings(code):
    """Run ``code()``; return (result, [(category name, normalized message), ...])."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = code()
    return res, [(w.category.__name__, normalize_warning(w.message)) for w in rec]


# ---------------------------------------------------------------------------
# "observations": run the same scenario on both engines and compare results


class TObs:
    """A tensor observation: dtype name, shape, values."""

    def __init__(self, t):
        self.dtype, self.shape, self.values = dtype_name(t), tuple(t.shape), to_np(t)

    def __repr__(self):
        return f"TObs({self.dtype}, {self.shape}, {self.values.tolist()!r})"


def observe(m, obj):
    """Turn tensors (recursively inside tuples/lists/dicts) into comparable observations."""
    if is_tensor(m, obj):
        return TObs(obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(observe(m, o) for o in obj) if not hasattr(obj, "_fields") else tuple(
            observe(m, o) for o in obj)
    if isinstance(obj, dict):
        return {k: observe(m, v) for k, v in obj.items()}
    return obj


def assert_same_obs(a, b, path="result", rtol=1e-5):
    if isinstance(b, TObs):
        assert isinstance(a, TObs), f"{path}: engine gave {a!r}, torch a tensor {b!r}"
        assert a.dtype == b.dtype, f"{path}: dtype {a.dtype} != {b.dtype}"
        assert a.shape == b.shape, f"{path}: shape {a.shape} != {b.shape}"
        assert_values_close(a.values, b.values, dtype=b.dtype.replace("torch.", ""), rtol=rtol, what=path)
    elif isinstance(b, (list, tuple)):
        assert isinstance(a, (list, tuple)) and len(a) == len(b), f"{path}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_obs(x, y, f"{path}[{i}]", rtol)
    elif isinstance(b, dict):
        assert isinstance(a, dict) and a.keys() == b.keys(), f"{path}: {a!r} != {b!r}"
        for k in b:
            assert_same_obs(a[k], b[k], f"{path}[{k!r}]", rtol)
    elif isinstance(b, float) and not isinstance(b, bool):
        assert isinstance(a, float), f"{path}: engine gave {type(a).__name__} {a!r}, torch float {b!r}"
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rtol, abs_tol=rtol), (
            f"{path}: {a!r} != {b!r}")
    else:
        assert type(a) is type(b) and a == b, f"{path}: engine {a!r} ({type(a).__name__}) != torch {b!r} ({type(b).__name__})"


def same_behaviour(nb, scenario, rtol=1e-5):
    """Run ``scenario(m)`` for torch and the engine and compare the observations. Returns torch's."""
    expected = observe(torch, scenario(torch))
    actual = observe(nb, scenario(nb))
    assert_same_obs(actual, expected, rtol=rtol)
    return expected


def engine_is_torch(nb):
    return nb is torch
