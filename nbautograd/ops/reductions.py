"""Reductions: sum, mean, prod, max/min, amax/amin, norm, var/std, logsumexp, cumsum,
softmax and log_softmax.

>>> import nbautograd as torch
>>> x = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
>>> x.sum(dim=1)
tensor([3., 7.], grad_fn=<SumBackward1>)
"""
from __future__ import annotations

import builtins
import warnings
from collections import namedtuple

import numpy as np

from .. import _dtypes
from .._backend import array_namespace
from .._node import OUT, Node, op, record
from .._tensor import Tensor
from ._common import dims_arg, float_data, tensor_method, wrap_dim


def _expand_back(xp, g, shape, axes, keepdim):
    """Broadcast a reduced gradient back to the input's shape."""
    if not keepdim and axes:
        g = xp.g_expand_dims(g, axes)
    return xp.broadcast_to(g, shape)


# --- sum / mean ------------------------------------------------------------------------------
@op
class SumBackward0(Node):
    save = ((),)
    param_names = ("self_sym_sizes",)

    def vjp(self, xp, g, x, out):
        return (xp.broadcast_to(g, self._params[0]),)


@op
class SumBackward1(Node):
    save = ((),)
    param_names = ("self_sym_sizes", "dim", "keepdim")

    def vjp(self, xp, g, x, out):
        shape, axes, keepdim = self._params
        return (_expand_back(xp, g, shape, axes, keepdim),)


def _sum_dtype(d, dtype):
    if dtype is not None:
        return _dtypes.as_dtype(dtype).np
    if d.dtype.kind in "biu":
        return np.int64  # torch sums integers and bools into int64
    return None


@tensor_method()
def sum(input, dim=None, keepdim: bool = False, *, dtype=None):  # noqa: A001 (torch's name)
    """Sum of all elements, or over ``dim`` (SumBackward0 / SumBackward1)."""
    d = input._data
    xp = array_namespace(d)
    dt = _sum_dtype(d, dtype)
    if dim is None:
        out = d.sum(dtype=dt)  # the method: numpy's module-level sum adds ~1.5 us of dispatch
        return record(SumBackward0, out, (input,), (d.shape,),
                      ((None, d.dtype),) if dt is not None and dt != d.dtype else None)
    axes = dims_arg(dim, d.ndim)
    out = xp.sum(d, axis=axes, keepdims=keepdim, dtype=dt)
    return record(SumBackward1, out, (input,), (d.shape, axes, keepdim),
                  ((None, d.dtype),) if dt is not None and dt != d.dtype else None)


@op
class MeanBackward0(Node):
    save = ((),)
    param_names = ("self_sym_sizes",)

    def vjp(self, xp, g, x, out):
        shape, n = self._params
        return (xp.broadcast_to(g / n, shape),)


@op
class MeanBackward1(Node):
    save = ((),)
    param_names = ("self_sym_sizes", "dim", "keepdim")

    def vjp(self, xp, g, x, out):
        shape, axes, keepdim, n = self._params
        return (_expand_back(xp, g / n, shape, axes, keepdim),)


def _need_float(d, fname: str) -> None:
    if d.dtype.kind not in "fc":
        name = _dtypes._LEGACY[_dtypes.FROM_NP[d.dtype]._name]
        raise RuntimeError(f"{fname}(): could not infer output dtype. Input dtype must be either "
                           f"a floating point or complex dtype. Got: {name}")


@tensor_method()
def mean(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Mean of all elements, or over ``dim`` (MeanBackward0 / MeanBackward1)."""
    d = input._data
    if dtype is not None:
        d = d.astype(_dtypes.as_dtype(dtype).np)
    _need_float(d, "mean")
    xp = array_namespace(d)
    if dim is None:
        n = d.size
        out = xp.mean(d) if n else xp.asarray(np.nan, d.dtype)[()]
        return record(MeanBackward0, out.astype(d.dtype) if out.dtype != d.dtype else out,
                      (input,), (d.shape, n))
    axes = dims_arg(dim, d.ndim)
    n = 1
    for a in axes:
        n *= d.shape[a]
    out = xp.mean(d, axis=axes, keepdims=keepdim, dtype=d.dtype)
    return record(MeanBackward1, out, (input,), (d.shape, axes, keepdim, n))


# --- prod --------------------------------------------------------------------------------------
def _prod_grad(xp, g, x, out, axis):
    """d prod / dx_i = product of the others, computed without dividing (exact at zeros)."""
    if axis is None:
        flat = xp.reshape(x, (-1,))
        others = _exclusive_prod(xp, flat, 0)
        return xp.reshape(others, x.shape) * g
    others = _exclusive_prod(xp, x, axis)
    return others * g


def _exclusive_prod(xp, x, axis):
    ones_shape = list(x.shape)
    ones_shape[axis] = 1
    one = xp.ones(tuple(ones_shape), dtype=x.dtype)
    n = x.shape[axis]
    left = xp.concatenate([one, xp.cumprod(xp.take(x, xp.arange(n - 1), axis=axis), axis=axis)],
                          axis=axis)
    rx = xp.flip(x, axis=axis)
    right = xp.concatenate([one, xp.cumprod(xp.take(rx, xp.arange(n - 1), axis=axis), axis=axis)],
                           axis=axis)
    return left * xp.flip(right, axis=axis)


@op
class ProdBackward0(Node):
    save = ((0, OUT),)

    def vjp(self, xp, g, x, out):
        g = xp.broadcast_to(g, x.shape)
        if getattr(xp, "is_tensor_ns", False):
            return (g * out / x,)
        return (_prod_grad(xp, g, x, out, None),)


@op
class ProdBackward1(Node):
    save = ((0, OUT),)
    param_names = ("dim", "keepdim")

    def vjp(self, xp, g, x, out):
        axis, keepdim = self._params
        if not keepdim:
            g = xp.g_expand_dims(g, axis)
            out = xp.expand_dims(out, axis)
        if getattr(xp, "is_tensor_ns", False):
            return (g * out / x,)
        return (_prod_grad(xp, g, x, out, axis),)


@tensor_method()
def prod(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Product of all elements, or along one ``dim`` (ProdBackward0 / ProdBackward1)."""
    d = input._data
    xp = array_namespace(d)
    dt = _sum_dtype(d, dtype)
    if dim is None:
        return record(ProdBackward0, xp.prod(d, dtype=dt), (input,))
    axis = wrap_dim(dim, d.ndim)
    return record(ProdBackward1, xp.prod(d, axis=axis, keepdims=keepdim, dtype=dt), (input,),
                  (axis, keepdim))


# --- max / min -------------------------------------------------------------------------------
@op
class MaxBackward1(Node):
    """Full max/min: the gradient is shared evenly between tied maxima, as in torch."""
    save = ((0, OUT),)

    def vjp(self, xp, g, x, out):
        mask = xp.where(x == out, xp.ones_like(x), xp.zeros_like(x))  # in x's dtype
        return (xp.broadcast_to(g, x.shape) * (mask / xp.sum(mask)),)


class MinBackward1(MaxBackward1):
    pass


op(MinBackward1)


@op
class MaxBackward0(Node):
    """max/min along a dim: the gradient goes to the index that was returned."""
    save = ((),)
    param_names = ("dim", "keepdim", "indices")

    def vjp(self, xp, g, x, out):
        axis, keepdim, onehot = self._params
        if not keepdim:
            g = xp.g_expand_dims(g, axis)
        return (g * onehot,)


class MinBackward0(MaxBackward0):
    pass


op(MinBackward0)


return_types_max = namedtuple("max", ["values", "indices"])
return_types_min = namedtuple("min", ["values", "indices"])
for _rt in (return_types_max, return_types_min):
    _rt.__module__ = "torch.return_types"
    _rt.__repr__ = lambda self, _n=_rt.__name__: (
        f"torch.return_types.{_n}(\nvalues={self.values!r},\nindices={self.indices!r})")


def _extreme(input, dim, keepdim, full_cls, dim_cls, np_fn, arg_fn, rtype, other_fn):
    if isinstance(dim, Tensor):  # torch.max(a, b) is maximum
        return other_fn(input, dim)
    d = input._data
    xp = array_namespace(d)
    if dim is None:
        if d.size == 0:
            raise RuntimeError(f"{np_fn.__name__}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        return record(full_cls, getattr(d, np_fn.__name__)(), (input,))  # d.max(), d.min()
    axis = wrap_dim(dim, d.ndim)
    if d.ndim == 0:
        idx = xp.zeros((), dtype=np.int64)
        onehot = xp.ones((), dtype=d.dtype)
        values = record(dim_cls, d, (input,), (axis, True, onehot))
    else:
        idx = getattr(d, arg_fn.__name__)(axis=axis, keepdims=True)  # d.argmax(...)
        shape = [1] * d.ndim
        shape[axis] = d.shape[axis]
        onehot = (xp.reshape(xp.arange(d.shape[axis]), shape) == idx).astype(d.dtype)
        vals = xp.take_along_axis(d, idx, axis=axis)
        if not keepdim:
            vals = xp.squeeze(vals, axis)
            idx = xp.squeeze(idx, axis)
        values = record(dim_cls, vals, (input,), (axis, keepdim, onehot))
    it = Tensor.__new__(Tensor)
    it._data = idx.astype(np.int64)
    return rtype(values, it)


@tensor_method()
def max(input, dim=None, keepdim: bool = False):  # noqa: A001
    """The largest element, or ``(values, indices)`` along ``dim``."""
    from .elementwise import maximum  # noqa: PLC0415
    return _extreme(input, dim, keepdim, MaxBackward1, MaxBackward0, np.max, np.argmax,
                    return_types_max, maximum)


@tensor_method()
def min(input, dim=None, keepdim: bool = False):  # noqa: A001
    """The smallest element, or ``(values, indices)`` along ``dim``."""
    from .elementwise import minimum  # noqa: PLC0415
    return _extreme(input, dim, keepdim, MinBackward1, MinBackward0, np.min, np.argmin,
                    return_types_min, minimum)


@tensor_method()
def argmax(input, dim=None, keepdim: bool = False):
    d = input._data
    t = Tensor.__new__(Tensor)
    t._data = (d.argmax() if dim is None else
               d.argmax(axis=wrap_dim(dim, d.ndim), keepdims=keepdim)).astype(np.int64)
    return t


@tensor_method()
def argmin(input, dim=None, keepdim: bool = False):
    d = input._data
    t = Tensor.__new__(Tensor)
    t._data = (d.argmin() if dim is None else
               d.argmin(axis=wrap_dim(dim, d.ndim), keepdims=keepdim)).astype(np.int64)
    return t


@op
class AmaxBackward0(Node):
    save = ((0, OUT),)
    param_names = ("dim", "keepdim")

    def vjp(self, xp, g, x, out):
        axes, keepdim = self._params
        if not keepdim:
            g = xp.g_expand_dims(g, axes)
            out = xp.expand_dims(out, axes)
        mask = xp.where(x == out, xp.ones_like(x), xp.zeros_like(x))  # in x's dtype
        return (g * mask / xp.sum(mask, axis=axes, keepdims=True),)


class AminBackward0(AmaxBackward0):
    pass


op(AminBackward0)


@tensor_method()
def amax(input, dim=(), keepdim: bool = False):
    """Maximum over ``dim`` (all dims by default); ties share the gradient."""
    d = input._data
    axes = dims_arg(dim if dim != () else None, d.ndim)
    return record(AmaxBackward0, d.max(axis=axes, keepdims=keepdim), (input,), (axes, keepdim))


@tensor_method()
def amin(input, dim=(), keepdim: bool = False):
    """Minimum over ``dim`` (all dims by default); ties share the gradient."""
    d = input._data
    axes = dims_arg(dim if dim != () else None, d.ndim)
    return record(AminBackward0, d.min(axis=axes, keepdims=keepdim), (input,), (axes, keepdim))


# --- norms and moments -----------------------------------------------------------------------
@op
class LinalgVectorNormBackward0(Node):
    save = ((0, OUT),)
    param_names = ("ord", "dim", "keepdim")

    def vjp(self, xp, g, x, out):
        p, axes, keepdim = self._params
        if not keepdim:
            g = xp.g_expand_dims(g, axes)
            out = xp.expand_dims(out, axes)
        if p == 2:
            safe = xp.where(out == 0, xp.ones_like(out), out)
            return (g * x / safe * (out != 0),)
        if p == 1:
            return (g * xp.sign(x),)
        if p == float("inf"):
            mask = xp.where(xp.abs(x) == out, xp.ones_like(x), xp.zeros_like(x))
            return (g * xp.sign(x) * mask / xp.sum(mask, axis=axes, keepdims=True),)
        ax = xp.abs(x)
        safe = xp.where(out == 0, xp.ones_like(out), out)
        return (g * xp.sign(x) * ax ** (p - 1) / safe ** (p - 1) * (out != 0),)


@tensor_method()
def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None):
    """Vector p-norm over all elements or ``dim`` (LinalgVectorNormBackward0)."""
    if p == "fro" or p is None:
        p = 2
    d = float_data(input)
    axes = dims_arg(dim, d.ndim)
    xp = array_namespace(d)
    ad = xp.abs(d)
    if p == 2:
        out = xp.sqrt(xp.sum(ad * ad, axis=axes, keepdims=keepdim))
    elif p == float("inf"):
        out = xp.max(ad, axis=axes, keepdims=keepdim)
    elif p == 1:
        out = xp.sum(ad, axis=axes, keepdims=keepdim)
    elif p == 0:
        out = xp.sum(ad != 0, axis=axes, keepdims=keepdim).astype(d.dtype)
    else:
        out = xp.sum(ad ** p, axis=axes, keepdims=keepdim) ** (1.0 / p)
    out = out.astype(d.dtype) if out.dtype != d.dtype else out
    return record(LinalgVectorNormBackward0, out, (input,), (p, axes, keepdim))


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    if unbiased is None or unbiased is True:
        return 1
    return 0


def _moment_args(input, dim, unbiased, keepdim, correction, fname="var"):
    # torch.var(x, 0) passes the dim positionally; a bool there is the old ``unbiased``
    if isinstance(dim, bool):
        unbiased, dim = dim, None
    d = input._data
    _need_float(d, "std and var")
    axes = dims_arg(dim, d.ndim)
    n = 1
    for a in axes:
        n *= d.shape[a]
    dof = n - _correction(unbiased, correction)
    if dof <= 0:
        warnings.warn(f"{fname}(): degrees of freedom is <= 0. Correction should be strictly "
                      "less than the reduction factor (input numel divided by output numel). "
                      "(Triggered internally at /__w/pytorch/pytorch/aten/src/ATen/native/"
                      "ReduceOps.cpp:1861.)", UserWarning, stacklevel=3)
    return d, axes, builtins.max(dof, 0), keepdim


@op
class VarBackward0(Node):
    save = ((0,),)
    param_names = ("dim", "keepdim", "correction")

    def vjp(self, xp, g, x, out):
        axes, keepdim, denom = self._params
        if not keepdim:
            g = xp.g_expand_dims(g, axes)
        centered = x - xp.mean(x, axis=axes, keepdims=True)
        return (g * (2 / denom) * centered,)


@op
class StdBackward0(Node):
    save = ((0, OUT),)
    param_names = ("dim", "keepdim", "correction")

    def vjp(self, xp, g, x, out):
        axes, keepdim, denom = self._params
        if not keepdim:
            g = xp.g_expand_dims(g, axes)
            out = xp.expand_dims(out, axes)
        centered = x - xp.mean(x, axis=axes, keepdims=True)
        # torch masks the gradient where the deviation is exactly 0 (instead of 0/0)
        safe = xp.where(out == 0, xp.ones_like(out), out)
        return (xp.where(out == 0, xp.zeros_like(centered), g * centered / (denom * safe)),)


def _var_forward(d, axes, denom, keepdim):
    xp = array_namespace(d)
    centered = d - xp.mean(d, axis=axes, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = xp.sum(centered * centered, axis=axes, keepdims=keepdim) / denom
    return out.astype(d.dtype) if out.dtype != d.dtype else out


@tensor_method()
def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Variance (Bessel-corrected unless ``unbiased=False``/``correction=0``)."""
    d, axes, denom, keepdim = _moment_args(input, dim, unbiased, keepdim, correction)
    return record(VarBackward0, _var_forward(d, axes, denom, keepdim), (input,),
                  (axes, keepdim, denom))


@tensor_method()
def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Standard deviation (Bessel-corrected unless ``unbiased=False``/``correction=0``)."""
    d, axes, denom, keepdim = _moment_args(input, dim, unbiased, keepdim, correction, "std")
    out = array_namespace(d).sqrt(_var_forward(d, axes, denom, keepdim))
    return record(StdBackward0, out, (input,), (axes, keepdim, denom))


# --- cumulative and softmax family -----------------------------------------------------------
@op
class CumsumBackward0(Node):
    save = ((),)
    param_names = ("dim",)

    def vjp(self, xp, g, x, out):
        axis = self._params[0]
        return (xp.g_flip(xp.g_cumsum(xp.g_flip(g, axis), axis), axis),)


@tensor_method()
def cumsum(input, dim, *, dtype=None):
    """Cumulative sum along ``dim`` (CumsumBackward0)."""
    d = input._data
    axis = wrap_dim(dim, d.ndim)
    dt = _sum_dtype(d, dtype)
    out = d.cumsum(axis=axis, dtype=dt) if d.ndim else d.astype(dt or d.dtype)
    return record(CumsumBackward0, out, (input,), (axis,))


@op
class LogsumexpBackward0(Node):
    save = ((0, OUT),)
    param_names = ("dim", "keepdim")

    def vjp(self, xp, g, x, out):
        axes, keepdim = self._params
        if not keepdim:
            g = xp.g_expand_dims(g, axes)
            out = xp.expand_dims(out, axes)
        return (g * xp.exp(x - out),)


@tensor_method()
def logsumexp(input, dim, keepdim: bool = False):
    """``log(sum(exp(x)))`` along ``dim``, computed stably (LogsumexpBackward0)."""
    d = float_data(input)
    axes = dims_arg(dim, d.ndim)
    xp = array_namespace(d)
    m = xp.max(d, axis=axes, keepdims=True) if d.size else xp.zeros((), d.dtype)
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    out = xp.log(xp.sum(xp.exp(d - m), axis=axes, keepdims=True)) + m
    if not keepdim:
        out = xp.squeeze(out, axes)
    return record(LogsumexpBackward0, out.astype(d.dtype), (input,), (axes, keepdim))


@op
class SoftmaxBackward0(Node):
    save = ((OUT,),)
    param_names = ("dim",)

    def vjp(self, xp, g, x, out):
        axis = self._params[0]
        return (out * (g - xp.g_sum(g * out, axis=axis, keepdims=True)),)


@op
class LogSoftmaxBackward0(Node):
    save = ((OUT,),)
    param_names = ("dim",)

    def vjp(self, xp, g, x, out):
        axis = self._params[0]
        return (g - xp.exp(out) * xp.g_sum(g, axis=axis, keepdims=True),)


def _softmax_dim(input, dim, dtype):
    d = input._data
    if dtype is not None:
        d = d.astype(_dtypes.as_dtype(dtype).np)
    if d.dtype.kind not in "fc":
        raise RuntimeError(f'"softmax_lastdim_kernel_impl" not implemented for '
                           f"'{_dtypes._LEGACY[_dtypes.FROM_NP[d.dtype]._name]}'")
    if dim is None:
        dim = 0 if d.ndim in (0, 1, 3) else 1  # torch's legacy implicit-dim rule
    return d, wrap_dim(dim, d.ndim)


@tensor_method()
def softmax(input, dim=None, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim`` (SoftmaxBackward0)."""
    d, axis = _softmax_dim(input, dim, dtype)
    xp = array_namespace(d)
    if d.ndim == 0:
        return record(SoftmaxBackward0, xp.ones_like(d), (input,), (axis,))
    e = xp.exp(d - xp.max(d, axis=axis, keepdims=True))
    return record(SoftmaxBackward0, e / xp.sum(e, axis=axis, keepdims=True), (input,), (axis,))


@tensor_method()
def log_softmax(input, dim=None, dtype=None):
    """``x - logsumexp(x)`` along ``dim`` (LogSoftmaxBackward0)."""
    d, axis = _softmax_dim(input, dim, dtype)
    xp = array_namespace(d)
    if d.ndim == 0:
        return record(LogSoftmaxBackward0, xp.zeros_like(d), (input,), (axis,))
    z = d - xp.max(d, axis=axis, keepdims=True)
    return record(LogSoftmaxBackward0, z - xp.log(xp.sum(xp.exp(z), axis=axis, keepdims=True)),
                  (input,), (axis,))


def _logical_reduce(np_name: str):
    def fn(input, dim=None, keepdim: bool = False):
        d = input._data
        xp = array_namespace(d)
        if dim is None:
            out = getattr(xp, np_name)(d)
        else:
            axes = dims_arg(dim, d.ndim)
            out = getattr(xp, np_name)(d, axis=axes, keepdims=keepdim)
        t = Tensor.__new__(Tensor)
        t._data = out if d.dtype.kind != "u" else out.astype(d.dtype)  # torch keeps uint8
        return t
    fn.__name__ = np_name
    fn.__doc__ = f"Whether {np_name} elements (along ``dim``) are nonzero; a bool tensor."
    return fn


all = _logical_reduce("all")  # noqa: A001 (torch's names)
any = _logical_reduce("any")  # noqa: A001
Tensor.all = all
Tensor.any = any
