"""Indexing: ``x[key]`` (ints, slices, None, Ellipsis, bool masks, integer tensors/lists),
``x[key] = v`` (differentiable, in place), and index_select / gather / masked_fill / narrow.

Basic indexing returns a view (as in torch); its backward scatters the gradient into zeros
of the input's shape.

>>> import nbautograd as torch
>>> x = torch.tensor([1., 2., 3.], requires_grad=True)
>>> x[1:]
tensor([2., 3.], grad_fn=<SliceBackward0>)
"""
from __future__ import annotations

import numpy as np

from .. import _dtypes
from .._backend import NUMPY, array_namespace, is_host, to_host
from .._node import Node, op, record
from .._tensor import Tensor, _shareable
from ._common import tensor_method, wrap_dim
from .views import make_view


def _scatter(xp, shape, key, g, accumulate: bool):
    return xp.g_scatter(shape, key, g, accumulate)


class _IndexBackward(Node):
    save = ((),)
    param_names = ("indices",)

    def vjp(self, xp, g, x, out):
        key, shape, accumulate = self._params
        return (_scatter(xp, shape, key, g, accumulate),)


def _index_op(name):
    cls = type(name, (_IndexBackward,), {})
    return op(cls)


SelectBackward0 = _index_op("SelectBackward0")
SliceBackward0 = _index_op("SliceBackward0")
UnsqueezeIndex = _index_op("UnsqueezeBackward0")
AliasBackward0 = _index_op("AliasBackward0")
IndexBackward0 = _index_op("IndexBackward0")
SplitBackward0 = _index_op("SplitBackward0")
SplitWithSizesBackward0 = _index_op("SplitWithSizesBackward0")
UnbindBackward0 = _index_op("UnbindBackward0")


def _convert_key(key):
    """A NumPy key for ``key``; also whether it uses advanced indexing and int arrays."""
    if not isinstance(key, tuple):
        key = (key,)
    out, advanced, int_arrays = [], False, False
    for k in key:
        if isinstance(k, Tensor):
            a = k._data
            if a.ndim == 0 and a.dtype.kind in "iu":
                out.append(int(a))  # a 0-d integer tensor indexes like an int (a select)
                continue
            a = to_host(a)  # keys are checked on the host (CUDA torch synchronizes too)
            if a.dtype.kind == "b":
                advanced = True
                out.append(np.asarray(a))
            elif a.dtype.kind in "iu":
                advanced = int_arrays = True
                out.append(np.asarray(a, dtype=np.int64))
            else:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        elif isinstance(k, (list, np.ndarray)):
            a = np.asarray(k)
            if a.dtype.kind == "b":
                advanced = True
            elif a.dtype.kind in "iu":
                advanced = int_arrays = True
            elif a.size == 0:
                a = a.astype(np.int64)
                advanced = int_arrays = True
            else:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            out.append(a)
        elif isinstance(k, (bool, np.bool_)):
            advanced = True
            out.append(np.asarray(k))
        elif isinstance(k, slice):
            if k.step is not None and k.step <= 0:
                raise ValueError("step must be greater than zero")
            out.append(k)
        elif k is None or k is Ellipsis or isinstance(k, (int, np.integer)):
            out.append(k)
        else:
            try:
                out.append(k.__index__())
            except AttributeError:
                raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                                 "byte Variables are valid indices (got "
                                 f"{type(k).__name__})") from None
    return tuple(out), advanced, int_arrays


def _device_key(key: tuple, d) -> tuple:
    """``key`` for indexing array ``d``: on a GPU, its index arrays copied there once."""
    if is_host(d):
        return key
    xp = array_namespace(d)
    return tuple(xp.asarray(k) if isinstance(k, np.ndarray) else k for k in key)


def _node_for_basic(key, ndim) -> type:
    """torch names the node after the last view op it applied (full slices are skipped)."""
    if len(key) == 1 and isinstance(key[0], slice):
        return SliceBackward0
    last = AliasBackward0
    for k in key:
        if k is None:
            last = UnsqueezeIndex
        elif isinstance(k, slice):
            if k != slice(None):
                last = SliceBackward0
        elif k is not Ellipsis:
            last = SelectBackward0
    return last


def _check_bounds(key, shape):
    dim = 0
    n_consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
    for k in key:
        if k is Ellipsis:
            dim += len(shape) - n_consumed
            continue
        if k is None:
            continue
        if dim >= len(shape):
            raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            if not -shape[dim] <= k < shape[dim]:
                raise IndexError(f"index {k} is out of bounds for dimension {dim} with size "
                                 f"{shape[dim]}")
        elif isinstance(k, np.ndarray) and k.dtype.kind in "iu" and k.size:
            bad = k[(k >= shape[dim]) | (k < -shape[dim])]
            if bad.size:
                raise IndexError(f"index {int(bad.flat[0])} is out of bounds for dimension {dim} "
                                 f"with size {shape[dim]}")
        elif isinstance(k, np.ndarray) and k.dtype.kind == "b":
            if k.shape != shape[dim:dim + k.ndim]:
                raise IndexError(f"The shape of the mask {list(k.shape)} at index {dim} does not "
                                 f"match the shape of the indexed tensor {list(shape)} at index "
                                 f"{dim}")
            dim += k.ndim
            continue
        dim += 1


def getitem(self, key):
    """``self[key]`` with torch's semantics and node names."""
    nkey, advanced, int_arrays = _convert_key(key)
    d = self._data
    _check_bounds(nkey, d.shape)
    if advanced:
        dkey = _device_key(nkey, d)
        out = d[dkey]
        return record(IndexBackward0, out, (self,), (dkey, d.shape, int_arrays))
    d = _shareable(self)
    vkey = nkey if Ellipsis in nkey else nkey + (Ellipsis,)  # a 0-d result stays a view
    out = d[vkey]
    cls = _node_for_basic(nkey, d.ndim)
    return make_view(self, record(cls, out, (self,), (vkey, d.shape, False)), ("index", vkey))


Tensor.__getitem__ = getitem


@op
class IndexPutBackward0(Node):
    arg_names = ("self", "values")
    save = ((), ())
    param_names = ("indices",)

    def vjp(self, xp, g, x, v, out):
        key, vshape = self._params
        return xp.g_zero_region(g, key), xp.sum_to(xp.g_index(g, key), vshape)


def setitem(self, key, value):
    """``self[key] = value``: an in-place write that autograd follows."""
    from ._common import as_tensor_arg  # noqa: PLC0415
    v = value if isinstance(value, Tensor) else as_tensor_arg(value, self)
    nkey, advanced, _ = _convert_key(key)
    _check_bounds(nkey, self._data.shape)
    if type(v._data) is not type(self._data) and not (is_host(v._data) and is_host(self._data)):
        from ._common import to_device_of  # noqa: PLC0415
        v = to_device_of(v, self.device)  # torch copies the value to the tensor's device
    if not advanced:
        view = getitem(self, key)
        if v._data.shape != view._data.shape:
            v = v.expand(*view._data.shape)  # torch's setitem expands the value first
        view.copy_(v)
        return

    def index_put(s):
        vd = v._data
        if vd.dtype != s._data.dtype:
            vd = vd.astype(s._data.dtype)
        out = s._data.copy()
        dkey = _device_key(nkey, out)
        try:
            out[dkey] = vd
        except ValueError:
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(v.shape)} cannot be "
                               f"broadcast to indexing result of shape "
                               f"{list(out[dkey].shape)}") from None
        return record(IndexPutBackward0, out, (s, v), (dkey, vd.shape),
                      (None, (None, v._data.dtype)) if v._data.dtype != s._data.dtype else None)
    self._inplace(index_put)


Tensor.__setitem__ = setitem


@op
class CopyBackwards(Node):
    arg_names = ("self", "src")
    save = ((), ())

    def name(self) -> str:
        return "torch::autograd::CopyBackwards"  # a hand-written C++ node in torch

    def vjp(self, xp, g, x, src, out):
        shape, dtype = self._params
        gs = xp.sum_to(g, shape)
        return xp.zeros_like(g), gs


def _copy(s: Tensor, src: Tensor):
    sd = s._data
    out = np.broadcast_to(src._data, sd.shape) if isinstance(sd, (np.ndarray, np.generic)) \
        else array_namespace(sd).broadcast_to(src._data, sd.shape)
    out = out.astype(sd.dtype, copy=True)
    if isinstance(sd, np.generic):
        out = out[()]
    red = (None, (src._data.shape if src._data.shape != sd.shape else None,
                  src._data.dtype if src._data.dtype != sd.dtype else None))
    return record(CopyBackwards, out, (s, src), (src._data.shape, src._data.dtype),
                  red if red[1] != (None, None) else None)


def copy_(self, src, non_blocking: bool = False):
    """Copy ``src``'s values into this tensor (broadcasting, casting); gradient flows to src."""
    from ._common import as_tensor_arg  # noqa: PLC0415
    src = src if isinstance(src, Tensor) else as_tensor_arg(src)
    try:
        np.broadcast_shapes(tuple(src._data.shape), tuple(self._data.shape))
    except ValueError:
        from ._common import broadcast_error  # noqa: PLC0415
        raise broadcast_error(tuple(self._data.shape), tuple(src._data.shape)) from None
    if type(src._data) is not type(self._data) and not (is_host(src._data)
                                                        and is_host(self._data)):
        from ._common import to_device_of  # noqa: PLC0415
        src = to_device_of(src, self.device)  # copy_ crosses devices; the gradient comes back
    return self._inplace(lambda s: _copy(s, src))


Tensor.copy_ = copy_


@op
class ZeroBackward0(Node):
    save = ((),)

    def vjp(self, xp, g, x, out):
        return (xp.zeros_like(g),)


class FillBackward0(ZeroBackward0):
    pass


op(FillBackward0)


def zero_(self):
    """Set every element to zero, in place."""
    return fill_(self, 0, _cls=ZeroBackward0, _how="zero")


def fill_(self, value, _cls=FillBackward0, _how="fill"):
    """Set every element to ``value``, in place."""
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value._data.ndim} dimensions.")
        return copy_(self, value)

    def fill(s):
        sd = s._data
        xp = array_namespace(sd)
        out = xp.full(sd.shape, value, dtype=sd.dtype)
        return record(_cls, out[()] if isinstance(sd, np.generic) else out, (s,))
    res = self._inplace(fill)
    from .. import _events  # noqa: PLC0415
    if _events.LISTENERS:
        _events.emit(_events.GradChanged(self, _how, value))
    return res


Tensor.zero_ = zero_
Tensor.fill_ = fill_


# --- selection helpers -----------------------------------------------------------------------
@tensor_method()
def select(self, dim: int, index: int):
    d = wrap_dim(dim, self._data.ndim)
    return getitem(self, (slice(None),) * d + (index,))


@tensor_method()
def narrow(self, dim: int, start: int, length: int):
    d = wrap_dim(dim, self._data.ndim)
    if start < 0:
        start += self._data.shape[d]
    return getitem(self, (slice(None),) * d + (slice(start, start + length),))


@op
class IndexSelectBackward0(Node):
    save = ((),)
    param_names = ("dim", "index")

    def vjp(self, xp, g, x, out):
        axis, idx, shape = self._params
        key = (slice(None),) * axis + (idx,)
        return (_scatter(xp, shape, key, g, True),)


@tensor_method()
def index_select(self, dim: int, index: Tensor):
    axis = wrap_dim(dim, self._data.ndim)
    d = self._data
    idx = np.asarray(to_host(index._data), dtype=np.int64).reshape(-1)
    xp = array_namespace(d)
    if xp is not NUMPY:
        idx = xp.asarray(idx)
    out = xp.take(d, idx, axis=axis)
    return record(IndexSelectBackward0, out, (self,), (axis, idx, d.shape))


@op
class GatherBackward0(Node):
    save = ((),)
    param_names = ("dim", "index")

    def vjp(self, xp, g, x, out):
        axis, idx, shape = self._params
        key = _gather_key(idx, axis)
        return (_scatter(xp, shape, key, g, True),)


def _gather_key(idx, axis):
    if is_host(idx):
        grids = list(np.indices(idx.shape, sparse=True))
    else:
        xp, nd = array_namespace(idx), idx.ndim
        grids = [xp.arange(n).reshape((1,) * i + (n,) + (1,) * (nd - i - 1))
                 for i, n in enumerate(idx.shape)]
    grids[axis] = idx
    return tuple(grids)


@tensor_method()
def gather(self, dim: int, index: Tensor):
    axis = wrap_dim(dim, self._data.ndim)
    idx = np.asarray(to_host(index._data), dtype=np.int64)
    if not is_host(self._data):
        idx = array_namespace(self._data).asarray(idx)
    out = self._data[_gather_key(idx, axis)]
    return record(GatherBackward0, out, (self,), (axis, idx, self._data.shape))


@op
class MaskedFillBackward0(Node):
    save = ((),)
    param_names = ("mask",)

    def vjp(self, xp, g, x, out):
        return (xp.where(self._params[0], xp.zeros_like(g), g),)


@tensor_method()
def masked_fill(self, mask: Tensor, value):
    m = mask._data
    v = value.item() if isinstance(value, Tensor) else value
    d = self._data
    if type(m) is not type(d) and not (is_host(m) and is_host(d)):
        if m.ndim or not is_host(m):
            raise RuntimeError(f"expected self and mask to be on the same device, but got mask "
                               f"on {mask.device} and self on {self.device}")
        from .._device_move import same_place  # noqa: PLC0415
        m = same_place(m, d)
    xp = array_namespace(d)
    if xp is NUMPY:
        out = np.where(m, np.asarray(v, dtype=d.dtype), d)
    else:
        out = xp.where(m, xp.asarray(v, dtype=d.dtype), d)
    return record(MaskedFillBackward0, out, (self,), (m,),
                  ((None, None),) if out.shape == d.shape else ((d.shape, None),))


Tensor.masked_fill_ = lambda self, mask, value: self._inplace(
    lambda s: masked_fill(s, mask, value))


def nonzero(input, *, as_tuple: bool = False):
    d = input._data
    xp = NUMPY if is_host(d) else array_namespace(d)
    idx = np.nonzero(np.asarray(d)) if xp is NUMPY else xp.nonzero(d)
    if as_tuple:
        out = []
        for a in idx:
            t = Tensor.__new__(Tensor)
            t._data = a.astype(np.int64)
            out.append(t)
        return tuple(out)
    t = Tensor.__new__(Tensor)
    t._data = xp.stack(idx, axis=1).astype(np.int64) if idx else xp.zeros((1, 0), np.int64)
    return t


Tensor.nonzero = nonzero


@tensor_method()
def masked_select(self, mask):
    return getitem(self, mask.expand_as(self) if mask.shape != self.shape else mask)


_ = _dtypes
