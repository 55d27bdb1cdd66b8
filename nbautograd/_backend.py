"""Array namespaces: the only place that knows which array library holds the data.

Backward rules receive an ``xp`` namespace and never call ``numpy`` directly, so the same
rule runs on NumPy arrays, on CuPy arrays, and (for ``create_graph=True``) on Tensors.

>>> import numpy as np
>>> from nbautograd._backend import array_namespace
>>> array_namespace(np.zeros(2)).exp(np.zeros(2))
array([1., 1.])
"""
from __future__ import annotations

import types

import numpy as np


def _sum_to(xp, g, shape):
    """Sum ``g`` over the axes that broadcasting added or stretched, back to ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1
    )
    g = xp.sum(g, axis=axes, keepdims=True) if axes else g
    return xp.reshape(g, shape) if lead or g.shape != shape else g


def _mul_fresh(mod):
    ndarray, multiply = mod.ndarray, mod.multiply

    def mul_fresh(fresh, g):
        """``fresh * g``, written into ``fresh`` when it is an array this rule just made (no
        other reference exists) and the result keeps its shape: one allocation saved."""
        # in place only for big arrays: for small ones the keyword call costs more than a
        # fresh allocation saves
        if type(fresh) is ndarray and fresh.size >= 4096 and fresh.shape == g.shape \
                and fresh.dtype == g.dtype:
            return multiply(fresh, g, out=fresh)
        return fresh * g
    return mul_fresh


def _broadcast_to(mod):
    ndarray, asarray, generic, slow = mod.ndarray, mod.asarray, getattr(mod, "generic", ()), \
        mod.broadcast_to

    def broadcast_to(g, shape):
        """A read-only broadcast view; a one-element ``g`` (the usual gradient of a sum) takes
        a constructor path ~6x cheaper than numpy's general broadcast_to."""
        if (type(g) is ndarray and g.ndim == 0) or isinstance(g, generic):
            a = asarray(g)
            out = ndarray(tuple(shape), a.dtype, a, 0, (0,) * len(shape))
            out.flags.writeable = False
            return out
        return slow(g, shape)
    return broadcast_to


def _make_namespace(mod, name: str) -> types.SimpleNamespace:
    ns = types.SimpleNamespace(**{k: getattr(mod, k) for k in dir(mod) if not k.startswith("_")})
    ns.__name__ = name
    ns.sum_to = lambda g, shape: _sum_to(ns, g, tuple(shape))
    ns.mul_fresh = _mul_fresh(mod)
    if mod is np:
        ns.broadcast_to = _broadcast_to(mod)
    ns.is_tensor_ns = False
    return ns


NUMPY = _make_namespace(np, "numpy")
_CUPY = []


def cupy_namespace():
    """The CuPy namespace, imported on first use only (CPU-only machines never import CuPy)."""
    if not _CUPY:
        import cupy  # noqa: PLC0415  (lazy on purpose)
        _CUPY.append(_make_namespace(cupy, "cupy"))
    return _CUPY[0]


_NUMPY_TYPES = frozenset([np.ndarray] + [np.dtype(c).type for c in "efdFDbBhHiIlLqQ?"])


def array_namespace(a) -> types.SimpleNamespace:
    """The namespace of the library that owns array ``a``."""
    if type(a) in _NUMPY_TYPES or isinstance(a, (np.ndarray, np.generic)):
        return NUMPY
    if type(a).__module__.startswith("cupy"):
        return cupy_namespace()
    return NUMPY


def to_host(a):
    """A NumPy array (or scalar) with the values of ``a``: the display boundary."""
    if isinstance(a, (np.ndarray, np.generic)):
        return a
    return a.get()
