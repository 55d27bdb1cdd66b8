"""The array namespace of Tensors: lets backward rules run on Tensors for ``create_graph``.

Rules are written against ``xp`` (``xp.cos(x)``, ``xp.sum(g, axis=...)``); with this
namespace each call is a recorded op, so the gradient computed by a rule has a graph of its
own and can be differentiated again.

>>> import nbautograd as torch
>>> x = torch.tensor(2., requires_grad=True)
>>> (g,) = torch.autograd.grad(x ** 3, x, create_graph=True)
>>> g
tensor(12., grad_fn=<MulBackward0>)
"""
from __future__ import annotations

import types

import numpy as np

from ._backend import array_namespace
from ._node import Node, op, record
from ._tensor import Tensor, wrap


def _t(x):
    if isinstance(x, Tensor):
        return x
    if hasattr(x, "shape") and hasattr(x, "dtype"):  # an array (NumPy or on a GPU)
        return wrap(x)
    return wrap(np.asarray(x))


def _axes(axis, ndim):
    if axis is None:
        return None
    return axis if isinstance(axis, tuple) else (axis,)


def _sum(g, axis=None, keepdims=False, dtype=None):
    g = _t(g)
    if axis is None and not keepdims:
        return g.sum()
    axes = _axes(axis, g.ndim) if axis is not None else tuple(range(g.ndim))
    return g.sum(dim=axes, keepdim=keepdims)


def _expand_dims(g, axes):
    axes = axes if isinstance(axes, tuple) else (axes,)
    nd = g.ndim + len(axes)
    for a in sorted(x % nd for x in axes):
        g = g.unsqueeze(a)
    return g


def _sum_to(g, shape):
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
    if axes:
        g = g.sum(dim=axes, keepdim=True)
    return g.reshape(shape) if tuple(g.shape) != shape else g


def _where(c, a, b):
    from .ops.elementwise import where  # noqa: PLC0415
    return where(c, a, b)


def _zeros_like(x, dtype=None):
    d = _t(x)._data
    return wrap(array_namespace(d).zeros_like(d, dtype=dtype))


def _ones_like(x, dtype=None):
    d = _t(x)._data
    return wrap(array_namespace(d).ones_like(d, dtype=dtype))


@op
class IndexScatterBackward(Node):
    """Scattering a gradient into zeros (the backward of indexing), as a differentiable op."""
    save = ((),)

    def vjp(self, xp, g, x, out):
        key, chain = self._params
        if chain is not None:
            from .ops.views import replay  # noqa: PLC0415
            return (replay(g, chain),)
        return (g[key],)


IndexScatterBackward.__name__ = "IndexPutBackward0"


def _scatter(shape, key, g, accumulate=False):
    xp = array_namespace(g._data)
    z = xp.zeros(shape, dtype=g._data.dtype)
    if accumulate:
        xp.add_at(z, key, g._data)
    else:
        z[key] = g._data
    return record(IndexScatterBackward, z, (g,), (key, None))


def _scatter_view(shape, chain, g):
    from .ops.views import replay  # noqa: PLC0415
    z = array_namespace(g._data).zeros(shape, dtype=g._data.dtype)
    replay(z, chain)[...] = g._data
    return record(IndexScatterBackward, z, (g,), (None, chain))


def _unary(name):
    # the op function itself (saved values are Tensors already): no extra call layers
    return getattr(Tensor, name)


TENSOR_NS = types.SimpleNamespace(
    __name__="nbautograd.tensor_ns",
    is_tensor_ns=True,
    sum=_sum,
    mean=lambda g, axis=None, keepdims=False: _t(g).mean() if axis is None and not keepdims
    else _t(g).mean(dim=axis if axis is not None else tuple(range(_t(g).ndim)), keepdim=keepdims),
    sum_to=_sum_to,
    broadcast_to=lambda g, shape: _t(g).expand(*shape),
    expand_dims=_expand_dims,
    reshape=lambda g, shape: _t(g).reshape(*shape) if isinstance(shape, tuple) else
    _t(g).reshape(shape),
    squeeze=lambda g, axis: _t(g).squeeze(axis),
    swapaxes=lambda g, a, b: _t(g).transpose(a, b),
    transpose=lambda g, axes: _t(g).permute(*axes),
    matmul=lambda a, b: _t(a) @ _t(b),
    where=_where,
    zeros_like=_zeros_like,
    ones_like=_ones_like,
    flip=lambda g, axes: _t(g).flip(axes),
    cumsum=lambda g, axis: _t(g).cumsum(axis),
    scatter=_scatter,
    scatter_view=_scatter_view,
    array=lambda x: x,
    mul_fresh=lambda fresh, g: fresh * g,
    batch=0,
    maximum=lambda a, b: _t(a).maximum(_t(b)),
    minimum=lambda a, b: _t(a).minimum(_t(b)),
    **{n: _unary(n) for n in ("exp", "log", "sin", "cos", "tan", "sqrt", "sign", "abs", "cosh",
                              "sinh", "tanh", "sigmoid", "log1p", "expm1")},
)


def _zero_region(g, key):
    mask = _ones_like(g)  # a constant: writing into it records nothing
    mask[key] = 0
    return g * mask


# gradient-shaped forms (see nbautograd._backend): the same functions when building a graph
TENSOR_NS.g_expand_dims = TENSOR_NS.expand_dims
TENSOR_NS.g_sum = TENSOR_NS.sum
TENSOR_NS.g_reshape = TENSOR_NS.reshape
TENSOR_NS.g_transpose = TENSOR_NS.transpose
TENSOR_NS.g_squeeze = TENSOR_NS.squeeze
TENSOR_NS.g_flip = TENSOR_NS.flip
TENSOR_NS.g_cumsum = TENSOR_NS.cumsum
TENSOR_NS.g_index = lambda g, key: g[key]
TENSOR_NS.g_scatter = _scatter
TENSOR_NS.g_replay_into = _scatter_view
TENSOR_NS.g_zero_region = _zero_region


def saved_as_tensors(node: Node) -> list:
    """The node's saved values as Tensors connected to the graph (for create_graph)."""
    n = len(node._saved) - 1
    vals = [node._saved_t[i] if node._saved_t else None for i in range(n)]
    out = node._saved[n]
    vals.append(None if out is None else wrap(out, node))
    return vals


def as_tensor_grad(g) -> Tensor:
    return g if isinstance(g, Tensor) else wrap(g)


def unwrap_like(r, g):
    """A hook's replacement gradient, in the form the engine is using (array or Tensor)."""
    if isinstance(g, Tensor):
        return r
    return r._data if isinstance(r, Tensor) else r
