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


def _fast_overrides(ns, mod) -> None:
    """Method-based forms of numpy's Python-level wrappers: np.sum, np.expand_dims,
    np.zeros_like... cost 1-4 us each in dispatch alone; the array methods they end up calling
    cost a fraction of that, and backward rules call them at every step."""
    zeros, ones = mod.zeros, mod.ones

    def _axes(axis, ndim):
        return tuple(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))

    def expand_dims(a, axis):
        nd = a.ndim + (len(axis) if isinstance(axis, tuple) else 1)
        axes = _axes(axis, nd)
        it = iter(a.shape)
        return a.reshape(tuple(1 if i in axes else next(it) for i in range(nd)))

    def squeeze(a, axis=None):
        if axis is None:
            return a.reshape(tuple(n for n in a.shape if n != 1))
        axes = _axes(axis, a.ndim)
        return a.reshape(tuple(n for i, n in enumerate(a.shape) if i not in axes))

    def flip(a, axis=None):
        axes = range(a.ndim) if axis is None else _axes(axis, a.ndim)
        return a[tuple(slice(None, None, -1) if i in axes else slice(None)
                       for i in range(a.ndim))]

    ns.sum = lambda a, axis=None, dtype=None, keepdims=False: a.sum(
        axis=axis, dtype=dtype, keepdims=keepdims)
    ns.mean = lambda a, axis=None, dtype=None, keepdims=False: a.mean(
        axis=axis, dtype=dtype, keepdims=keepdims)
    ns.reshape = lambda a, shape: a.reshape(shape)
    ns.transpose = lambda a, axes=None: a.transpose(axes)
    ns.swapaxes = lambda a, i, j: a.swapaxes(i, j)
    ns.zeros_like = lambda a, dtype=None: zeros(a.shape, dtype or a.dtype)
    ns.ones_like = lambda a, dtype=None: ones(a.shape, dtype or a.dtype)
    ns.expand_dims = expand_dims
    ns.squeeze = squeeze
    ns.flip = flip


def _make_namespace(mod, name: str) -> types.SimpleNamespace:
    ns = types.SimpleNamespace(**{k: getattr(mod, k) for k in dir(mod) if not k.startswith("_")})
    ns.__name__ = name
    ns.sum_to = lambda g, shape: _sum_to(ns, g, tuple(shape))
    ns.mul_fresh = _mul_fresh(mod)
    _fast_overrides(ns, mod)
    if mod is np:
        ns.broadcast_to = _broadcast_to(mod)
    ns.is_tensor_ns = False
    add = getattr(mod, "add", None)
    ns.add_at = getattr(add, "at", None)  # z[key] += g with repeated indices counted
    return ns


NUMPY = _make_namespace(np, "numpy")
_CUPY = []


def make_namespace(mod, name: str) -> types.SimpleNamespace:
    """The backend namespace over a NumPy-compatible array module ``mod`` (CuPy, or a stand-in
    with CuPy's API): the functions rules call as ``xp.<name>``, plus the gradient-shaped
    ``g_*`` forms. Device arrays never pass through NumPy here."""
    ns = _make_namespace(mod, name)
    _add_plain_g_ops(ns)
    return ns


def cupy_namespace():
    """The CuPy namespace, imported on first use only (CPU-only machines never import CuPy)."""
    if not _CUPY:
        import cupy  # noqa: PLC0415  (lazy on purpose)
        ns = make_namespace(cupy, "cupy")
        try:  # scatter-add by CuPy's own kernel (ufunc.at is missing from older CuPy)
            import cupyx  # noqa: PLC0415
            ns.add_at = cupyx.scatter_add
        except ImportError:  # pragma: no cover - cupyx ships with cupy
            pass
        _CUPY.append(ns)
        register_namespace(cupy.ndarray, ns)
    return _CUPY[0]


_NUMPY_TYPES = frozenset([np.ndarray] + [np.dtype(c).type for c in "efdFDbBhHiIlLqQ?"])
# array type -> namespace, for device arrays (CuPy's ndarray; a test stand-in)
_REGISTERED: dict = {}


def register_namespace(array_type: type, namespace: types.SimpleNamespace) -> None:
    """Make ``array_namespace`` answer ``namespace`` for arrays of ``array_type`` (a device
    array type: tensors holding one are on device ``cuda:<array.device.id>``). Registering
    ``None`` removes the entry."""
    if namespace is None:
        _REGISTERED.pop(array_type, None)
    else:
        _REGISTERED[array_type] = namespace


def array_namespace(a) -> types.SimpleNamespace:
    """The namespace of the library that owns array ``a``."""
    if type(a) in _NUMPY_TYPES or isinstance(a, (np.ndarray, np.generic)):
        return NUMPY
    ns = _REGISTERED.get(type(a))
    if ns is not None:
        return ns
    if type(a).__module__.startswith("cupy"):
        return cupy_namespace()
    return NUMPY


def is_host(a) -> bool:
    """True for NumPy data (a CPU tensor's array or scalar)."""
    return type(a) in _NUMPY_TYPES or isinstance(a, (np.ndarray, np.generic))


def to_host(a):
    """A NumPy array (or scalar) with the values of ``a``: the display boundary."""
    if isinstance(a, (np.ndarray, np.generic)):
        return a
    return a.get()


# --- gradient-shaped operations ----------------------------------------------------------------
# Rules call ``xp.g_<op>`` for arrays shaped like a gradient (derived from ``g``) and the plain
# ``xp.<op>`` for saved inputs/outputs. In an ordinary backward pass both are the same function;
# in a batched pass (``autograd.grad(..., is_grads_batched=True)``) every gradient carries one
# extra leading dim and the ``g_`` forms shift their axes past it.

def _axes_tuple(axes):
    return axes if isinstance(axes, tuple) else (axes,)


def _scatter_into(ns, shape, key, g, accumulate):
    z = ns.zeros(shape, dtype=g.dtype)
    if accumulate:
        ns.add_at(z, key, g)
    else:
        z[key] = g
    return z


def _replay_into(ns, shape, chain, g):
    from .ops.views import replay  # noqa: PLC0415 (views are defined over this namespace)
    z = ns.zeros(shape, dtype=g.dtype)
    replay(z, chain)[...] = g
    return z


def _add_plain_g_ops(ns) -> None:
    ns.g_expand_dims = ns.expand_dims
    ns.g_sum = ns.sum
    ns.g_reshape = ns.reshape
    ns.g_transpose = ns.transpose
    ns.g_squeeze = ns.squeeze
    ns.g_flip = ns.flip
    ns.g_cumsum = ns.cumsum
    ns.g_index = lambda g, key: g[key]
    ns.g_scatter = lambda shape, key, g, accumulate=False: _scatter_into(ns, shape, key, g,
                                                                        accumulate)
    ns.g_replay_into = lambda shape, chain, g: _replay_into(ns, shape, chain, g)
    ns.g_zero_region = _zero_region
    ns.batch = 0


def _zero_region(g, key):
    out = g.copy()
    out[key] = 0
    return out


def _shift(axis, by=1):
    return axis + by if axis >= 0 else axis


def batched(ns: types.SimpleNamespace, batch: int) -> types.SimpleNamespace:
    """``ns`` for gradients with a leading batch dim of size ``batch``."""
    b = types.SimpleNamespace(**vars(ns))
    b.batch = batch
    lead = (slice(None),)

    def g_expand_dims(g, axes):
        return ns.expand_dims(g, tuple(_shift(a) for a in _axes_tuple(axes)))

    def g_sum(g, axis=None, keepdims=False, **kw):
        if axis is None:
            axis = tuple(range(1, g.ndim))
        else:
            axis = tuple(_shift(a) for a in _axes_tuple(axis))
        return ns.sum(g, axis=axis, keepdims=keepdims, **kw)

    def g_reshape(g, shape):
        return ns.reshape(g, (g.shape[0],) + tuple(shape))

    def broadcast_to(g, shape):
        shape = tuple(shape)
        logical = g.shape[1:]
        g = ns.reshape(g, (g.shape[0],) + (1,) * (len(shape) - len(logical)) + logical)
        return ns.broadcast_to(g, (g.shape[0],) + shape)

    def sum_to(g, shape):
        shape = tuple(shape)
        logical = g.shape[1:]
        if logical == shape:
            return g
        lead_n = len(logical) - len(shape)
        axes = tuple(range(1, 1 + lead_n)) + tuple(
            1 + i + lead_n for i, n in enumerate(shape) if n == 1 and logical[i + lead_n] != 1)
        if axes:
            g = ns.sum(g, axis=axes, keepdims=True)
        return ns.reshape(g, (g.shape[0],) + shape)

    b.g_expand_dims = g_expand_dims
    b.g_sum = g_sum
    b.g_reshape = g_reshape
    b.broadcast_to = broadcast_to
    b.sum_to = sum_to
    b.g_transpose = lambda g, axes: ns.transpose(g, (0,) + tuple(_shift(a) for a in axes))
    b.g_squeeze = lambda g, axis: ns.squeeze(g, tuple(_shift(a) for a in _axes_tuple(axis)))
    b.g_flip = lambda g, axis: ns.flip(g, tuple(_shift(a) for a in _axes_tuple(axis)))
    b.g_cumsum = lambda g, axis: ns.cumsum(g, _shift(axis))
    def g_index(g, key):
        key = _key_tuple(key)
        if _advanced(key):  # numpy may move advanced dims in front of a leading slice
            return ns.stack([g[k][key] for k in range(g.shape[0])])
        return g[lead + key]

    def g_scatter(shape, key, g, accumulate=False):
        key = _key_tuple(key)
        if _advanced(key):
            z = ns.zeros((g.shape[0],) + tuple(shape), dtype=g.dtype)
            for k in range(g.shape[0]):
                z[k] = _scatter_into(ns, shape, key, g[k], accumulate)
            return z
        return _scatter_into(ns, (g.shape[0],) + tuple(shape), lead + key, g, accumulate)

    b.g_index = g_index
    b.g_scatter = g_scatter
    b.g_replay_into = lambda shape, chain, g: _replay_into(
        ns, (g.shape[0],) + tuple(shape), _batched_chain(chain, g.shape[0]), g)
    def g_zero_region(g, key):
        key = _key_tuple(key)
        if _advanced(key):
            return ns.stack([_zero_region(g[k], key) for k in range(g.shape[0])])
        return _zero_region(g, lead + key)

    b.g_zero_region = g_zero_region
    return b


def _advanced(key: tuple) -> bool:
    return any(hasattr(k, "shape") and hasattr(k, "dtype") for k in key)


def _key_tuple(key):
    return key if isinstance(key, tuple) else (key,)


def _batched_chain(chain, batch: int):
    """View steps re-expressed for an array with one extra leading dim of size ``batch``."""
    out = []
    for kind, arg in chain:
        if kind == "index":
            out.append((kind, (slice(None),) + _key_tuple(arg)))
        elif kind == "permute":
            out.append((kind, (0,) + tuple(a + 1 for a in arg)))
        elif kind in ("reshape", "expand"):
            out.append((kind, (batch,) + tuple(arg)))
        else:
            out.append((kind, arg))
    return tuple(out)


_add_plain_g_ops(NUMPY)


# --- silencing floating-point warnings ----------------------------------------------------------
# torch returns inf/nan without a word; numpy warns. np.errstate costs ~8 us to enter and leave,
# which a higher-order derivative pays several times; numpy 2 keeps the error state in a context
# variable, so setting a precomputed "ignore everything" state costs ~0.3 us. If numpy's layout
# changes, fall back to np.errstate.
try:
    from numpy._core import _ufunc_config as _ufc

    with np.errstate(all="ignore"):
        _IGNORE_ALL = _ufc._extobj_contextvar.get()
    _ERRVAR = _ufc._extobj_contextvar
except (ImportError, AttributeError):  # pragma: no cover - other numpy versions
    _ERRVAR = None


def quiet_enter():
    """Start ignoring floating-point errors; returns the token for ``quiet_exit``."""
    if _ERRVAR is not None:
        return _ERRVAR.set(_IGNORE_ALL)
    state = np.errstate(all="ignore")
    state.__enter__()
    return state


def quiet_exit(token) -> None:
    if _ERRVAR is not None:
        _ERRVAR.reset(token)
    else:
        token.__exit__(None, None, None)
