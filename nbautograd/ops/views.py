"""Shape ops and views: reshape/view, squeeze/unsqueeze, permute/transpose, expand, repeat,
clone/contiguous, dtype conversion; and how an in-place write through a view re-routes the
base's history (CopySlices).

A view shares memory and the version counter with its base and remembers how it was taken
(``_view_chain``), so the same steps can be replayed on gradient arrays or on tensors.

>>> import nbautograd as torch
>>> x = torch.arange(6.).requires_grad_()
>>> x.view(2, 3).t()
tensor([[0., 3.],
        [1., 4.],
        [2., 5.]], grad_fn=<TBackward0>)
"""
from __future__ import annotations

import numpy as np

from .. import _dtypes
from .._backend import array_namespace, is_host as _is_host
from .._node import Node, op, record
from .._tensor import Tensor, _shareable
from ._common import tensor_method, wrap_dim


def make_view(src: Tensor, out: Tensor, step: tuple) -> Tensor:
    """Mark ``out`` as a view of ``src`` taken by ``step`` (kind, argument)."""
    base = src._base if src._base is not None else src
    if base._vc is None:
        base._vc = [0]
    out._vc = base._vc
    out._base = base
    out._view_chain = src._view_chain + (step,)
    return out


def replay(obj, chain: tuple):
    """Apply recorded view steps to an array or a Tensor."""
    is_t = isinstance(obj, Tensor)
    for kind, arg in chain:
        if kind == "index":
            obj = obj[arg]
        elif kind == "reshape":
            obj = obj.reshape(arg)
        elif kind == "permute":
            obj = obj.permute(*arg) if is_t else obj.transpose(arg)
        elif kind == "expand":
            obj = obj.expand(*arg) if is_t else array_namespace(obj).broadcast_to(obj, arg)
        elif kind == "alias":
            pass
    return obj


# --- reshape / view --------------------------------------------------------------------------
def _infer_shape(shape, numel: int) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '[{', '.join(map(str, shape))}]' is invalid for input of "
                               f"size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '[{', '.join(map(str, shape))}]' is invalid for input of "
                           f"size {numel}")
    return shape


@op
class ViewBackward0(Node):
    save = ((),)
    param_names = ("self_sym_sizes",)
    _diagonal_ok = True  # reshaping a vectorized Jacobian's batch keeps its structure

    def vjp(self, xp, g, x, out):
        return (xp.g_reshape(g, self._params[0]),)


class UnsafeViewBackward0(ViewBackward0):
    pass


op(UnsafeViewBackward0)


@tensor_method()
def view(self, *shape):
    """A tensor with the same data and a new shape (ViewBackward0); never copies."""
    if len(shape) == 1 and isinstance(shape[0], _dtypes.dtype):
        raise NotImplementedError("view(dtype) is not supported")
    d = _shareable(self)
    new = _infer_shape(shape, d.size)
    try:
        out = d.view()
        out.shape = new  # raises if the memory layout cannot be viewed this way
    except (AttributeError, ValueError):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.") from None
    return make_view(self, record(ViewBackward0, out, (self,), (d.shape,)), ("reshape", new))


@tensor_method()
def reshape(self, *shape):
    """A tensor with a new shape: a view when the layout allows it, else a copy."""
    d = _shareable(self)
    new = _infer_shape(shape, d.size)
    if d.flags.c_contiguous or _shares_memory(r := d.reshape(new), d):
        out = d.reshape(new)
        return make_view(self, record(ViewBackward0, out, (self,), (d.shape,)), ("reshape", new))
    return record(UnsafeViewBackward0, r, (self,), (d.shape,))


def _shares_memory(a, b) -> bool:
    if type(b) is np.ndarray:
        return np.may_share_memory(a, b)
    return array_namespace(b).may_share_memory(a, b)


Tensor.view_as = lambda self, other: view(self, *other.shape)
Tensor.reshape_as = lambda self, other: reshape(self, *other.shape)


@tensor_method()
def flatten(self, start_dim: int = 0, end_dim: int = -1):
    """Merge dims ``start_dim..end_dim`` into one."""
    n = self._data.ndim
    if n == 0:
        return reshape(self, 1)
    s, e = wrap_dim(start_dim, n), wrap_dim(end_dim, n)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return self
    shp = self._data.shape
    return reshape(self, *shp[:s], -1, *shp[e + 1:])


@tensor_method()
def unflatten(self, dim: int, sizes):
    d = wrap_dim(dim, self._data.ndim)
    shp = self._data.shape
    return view(self, *shp[:d], *sizes, *shp[d + 1:])


# --- squeeze / unsqueeze ---------------------------------------------------------------------
@op
class SqueezeBackward0(Node):
    save = ((),)
    param_names = ("self_sym_sizes",)

    def vjp(self, xp, g, x, out):
        return (xp.g_reshape(g, self._params[0]),)


class SqueezeBackward1(SqueezeBackward0):
    pass


class SqueezeBackward2(SqueezeBackward0):
    pass


class SqueezeBackward4(SqueezeBackward0):
    pass


for _c in (SqueezeBackward1, SqueezeBackward2, SqueezeBackward4):
    op(_c)


@tensor_method()
def squeeze(self, dim=None):
    """Drop dims of size 1 (all, or those in ``dim``)."""
    d = _shareable(self)
    if dim is None:
        new = tuple(s for s in d.shape if s != 1)
        cls = SqueezeBackward0
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        dims = {wrap_dim(x, d.ndim) for x in dims}
        new = tuple(s for i, s in enumerate(d.shape) if not (i in dims and s == 1))
        cls = SqueezeBackward2 if isinstance(dim, (tuple, list)) else SqueezeBackward1
    out = d.reshape(new)
    return make_view(self, record(cls, out, (self,), (d.shape,)), ("reshape", new))


@op
class UnsqueezeBackward0(Node):
    save = ((),)
    param_names = ("dim",)

    def vjp(self, xp, g, x, out):
        return (xp.g_squeeze(g, self._params[0]),)


@tensor_method()
def unsqueeze(self, dim: int):
    """Insert a dim of size 1 at ``dim``."""
    d = _shareable(self)
    axis = wrap_dim(dim, d.ndim + 1)
    out = np.expand_dims(d, axis) if isinstance(d, np.ndarray) else \
        array_namespace(d).expand_dims(d, axis)
    return make_view(self, record(UnsqueezeBackward0, out, (self,), (axis,)),
                     ("reshape", out.shape))


# --- permutations ----------------------------------------------------------------------------
@op
class PermuteBackward0(Node):
    save = ((),)
    param_names = ("dims",)

    def vjp(self, xp, g, x, out):
        axes = self._params[0]
        return (xp.g_transpose(g, tuple(sorted(range(len(axes)), key=axes.__getitem__))),)


class TransposeBackward0(PermuteBackward0):
    pass


class TBackward0(PermuteBackward0):
    pass


op(TransposeBackward0)
op(TBackward0)


def _permuted(self, axes, cls):
    d = _shareable(self)
    out = d.transpose(axes)
    return make_view(self, record(cls, out, (self,), (axes,)), ("permute", axes))


@tensor_method()
def permute(self, *dims):
    """Reorder the dims (PermuteBackward0)."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    n = self._data.ndim
    if len(dims) != n:
        raise RuntimeError("permute(sparse_coo): number of dimensions in the tensor input does "
                           "not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {n} is not equal to len(dims) = {len(dims)}")
    axes = tuple(wrap_dim(x, n) for x in dims)
    if len(set(axes)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return _permuted(self, axes, PermuteBackward0)


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(self, dim0: int, dim1: int):
    """Swap two dims (TransposeBackward0)."""
    n = self._data.ndim
    axes = list(range(n))
    a, b = wrap_dim(dim0, n), wrap_dim(dim1, n)
    axes[a], axes[b] = axes[b], axes[a]
    return _permuted(self, tuple(axes), TransposeBackward0)


@tensor_method()
def t(self):
    """Transpose a tensor of at most 2 dims (TBackward0)."""
    n = self._data.ndim
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D")
    return _permuted(self, tuple(range(n))[::-1], TBackward0)


Tensor.T = property(lambda self: _permuted(self, tuple(range(self._data.ndim))[::-1],
                                           PermuteBackward0))
Tensor.mT = property(lambda self: transpose(self, -2, -1))


# --- expand / repeat -------------------------------------------------------------------------
@op
class ExpandBackward0(Node):
    save = ((),)
    param_names = ("self_sym_sizes",)

    def vjp(self, xp, g, x, out):
        return (xp.sum_to(g, self._params[0]),)


@tensor_method()
def expand(self, *sizes):
    """Broadcast to a larger shape without copying (-1 keeps a dim)."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    d = _shareable(self)
    if len(sizes) < d.ndim:
        raise RuntimeError(f"expand(torch.{self.type_name()}{{[{', '.join(map(str, d.shape))}]}}, "
                           f"size=[{', '.join(map(str, sizes))}]): the number of sizes provided "
                           f"({len(sizes)}) must be greater or equal to the number of dimensions "
                           f"in the tensor ({d.ndim})")
    lead = len(sizes) - d.ndim
    new = tuple(d.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    for i in range(d.ndim):
        if d.shape[i] != 1 and d.shape[i] != new[i + lead]:
            raise RuntimeError(
                f"The expanded size of the tensor ({new[i + lead]}) must match the existing size "
                f"({d.shape[i]}) at non-singleton dimension {i + lead}.  Target sizes: "
                f"[{', '.join(map(str, sizes))}].  Tensor sizes: [{', '.join(map(str, d.shape))}]")
    out = array_namespace(d).broadcast_to(d, new)
    return make_view(self, record(ExpandBackward0, out, (self,), (d.shape,)), ("expand", new))


Tensor.expand_as = lambda self, other: expand(self, *other.shape)


def broadcast_to(input, shape):
    return expand(input, *shape)


@op
class RepeatBackward0(Node):
    save = ((),)
    param_names = ("repeats",)

    def vjp(self, xp, g, x, out):
        reps, shape = self._params
        lead = len(reps) - len(shape)
        full = (1,) * lead + tuple(shape)
        # view the gradient as (rep0, size0, rep1, size1, ...) and sum the rep axes
        split = []
        for r, s in zip(reps, full):
            split += [r, s]
        gs = xp.g_reshape(g, tuple(split))
        gs = xp.g_sum(gs, axis=tuple(range(0, 2 * len(reps), 2)))
        return (xp.g_reshape(gs, tuple(shape)),)


@tensor_method()
def repeat(self, *sizes):
    """Tile the tensor ``sizes`` times along each dim (RepeatBackward0)."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    d = self._data
    if len(sizes) < d.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    out = array_namespace(d).tile(d, sizes)
    return record(RepeatBackward0, out, (self,), (tuple(sizes), d.shape))


# --- copies and conversions ------------------------------------------------------------------
@op
class CloneBackward0(Node):
    save = ((),)
    _diagonal_ok = True

    def vjp(self, xp, g, x, out):
        return (g,)


@tensor_method()
def clone(self, *, memory_format=None):
    """A copy that stays connected to the graph (CloneBackward0)."""
    d = self._data
    return record(CloneBackward0, d.copy(), (self,))


@tensor_method()
def contiguous(self, memory_format=None):
    d = self._data
    if isinstance(d, np.generic) or d.flags.c_contiguous:
        return self
    return record(CloneBackward0, array_namespace(d).ascontiguousarray(d), (self,))


Tensor.is_contiguous = lambda self, memory_format=None: bool(
    isinstance(self._data, np.generic) or self._data.flags.c_contiguous)


@op
class ToCopyBackward0(Node):
    """The gradient goes back to the input's dtype and, after a device move, its device."""
    save = ((),)

    def vjp(self, xp, g, x, out):
        np_dtype = self._params[0]
        dev = self._params[1] if len(self._params) > 1 else None
        if getattr(xp, "is_tensor_ns", False):
            g = g.to(_dtypes.FROM_NP[np_dtype])
            return (g if dev is None else g.to(dev),)
        if dev is not None:
            from .._device_move import move  # noqa: PLC0415
            g = move(g, dev)
        return (g.astype(np_dtype) if g.dtype != np_dtype else g,)


def convert(self, dtype: _dtypes.dtype | None = None, device=None, copy: bool = False):
    """``self`` with another dtype and/or device (ToCopyBackward0); self if nothing changes."""
    d = self._data
    out = d
    if device is not None:
        from .._device_move import move  # noqa: PLC0415
        out = move(out, device)
    if dtype is not None and dtype.np != out.dtype:
        out = out.astype(dtype.np)
    if out is d and not copy:
        return self
    if out is d:
        out = d.copy()
    hop = type(out) is not type(d) and not (_is_host(out) and _is_host(d))
    if hop:
        from .._device import device_of  # noqa: PLC0415
        t = record(ToCopyBackward0, out, (self,), (d.dtype, device_of(d)))
        if t.grad_fn is not None:
            t.grad_fn._slow = t.grad_fn._device_hop = True  # the engine follows the move
    else:
        t = record(ToCopyBackward0, out, (self,), (d.dtype,))
    if not (dtype is None or dtype.is_floating_point or dtype.is_complex):
        t.grad_fn, t._rg = None, False  # integer results never require grad
    return t


@tensor_method()
def to(self, *args, **kwargs):
    """Convert dtype and/or device: ``to(dtype)``, ``to(device)``, ``to(other)``, keywords."""
    from .._device import device as Device  # noqa: PLC0415
    dtype, dev = kwargs.pop("dtype", None), kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    for a in args:
        if isinstance(a, _dtypes.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype, dev = a.dtype, a.device
        elif isinstance(a, (str, Device)):
            dev = a
        elif a is None:
            continue
        elif isinstance(a, bool):
            continue
        elif isinstance(a, int):
            dev = Device(a)  # a GPU index, as in torch
        else:
            dtype = _dtypes.as_dtype(a)
    if dtype is not None:
        dtype = _dtypes.as_dtype(dtype)
    return convert(self, dtype, dev, copy)


for _name, _dt in (("float", _dtypes.float32), ("double", _dtypes.float64),
                   ("half", _dtypes.float16), ("long", _dtypes.int64), ("int", _dtypes.int32),
                   ("short", _dtypes.int16), ("bool", _dtypes.bool_), ("byte", _dtypes.uint8),
                   ("char", _dtypes.int8)):
    setattr(Tensor, _name, (lambda dt: lambda self, memory_format=None: convert(self, dt))(_dt))

Tensor.type_as = lambda self, other: convert(self, other.dtype)
Tensor.cpu = lambda self, memory_format=None: convert(self, None, "cpu")
Tensor.cuda = lambda self, device=None, non_blocking=False: convert(
    self, None, "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int)
                                               else device))


def _type(self, dtype=None, non_blocking=False):
    if dtype is None:
        return "torch." + self.type_name()
    if isinstance(dtype, str):
        name = dtype.split(".")[-1].replace("Tensor", "")
        inv = {v: k for k, v in _dtypes._LEGACY.items()}
        return convert(self, _dtypes._by_name(inv[name]))
    return convert(self, _dtypes.as_dtype(dtype))


Tensor.type = _type
Tensor.type_name = lambda self: ("" if _is_host(self._data) else "cuda.") + \
    _dtypes._LEGACY[self.dtype._name] + "Tensor"


# --- in-place writes through views -----------------------------------------------------------
@op
class CopySlices(Node):
    """The base's history after an in-place write to one of its views: outside the view the
    gradient passes to the old base; inside it goes to the op that wrote there."""
    arg_names = ("self", "src")
    save = ((), ())

    def name(self) -> str:
        return "torch::autograd::CopySlices"

    def vjp(self, xp, g, base, src, out):
        chain, shape = self._params
        if getattr(xp, "is_tensor_ns", False):
            mask = xp.ones_like(g)  # a constant: writing into it records nothing
            replay(mask, chain)[...] = 0
            return g * mask, replay(g, chain)
        if xp.batch:
            from .._backend import _batched_chain  # noqa: PLC0415
            chain = _batched_chain(chain, xp.batch)
        gb = g.copy()
        replay(gb, chain)[...] = 0
        gs = replay(g, chain)
        return gb, xp.array(gs)


class _ViewOfWritten(Node):
    """The view's own history after the write: the view re-taken from the rebased base."""
    save = ((),)

    def vjp(self, xp, g, base, out):
        chain, shape = self._params
        return (xp.g_replay_into(shape, chain, g),)


_ViewOfWritten.__name__ = "AsStridedBackward0"
op(_ViewOfWritten)


def rebase_view(view: Tensor, res: Tensor) -> None:
    """After ``view`` was written in place with result ``res``, give the base a CopySlices
    history and the view a history that goes through it."""
    base = view._base
    tmp = record(CopySlices, base._data, (base, res), (view._view_chain, base._data.shape))
    if tmp.grad_fn is not None:
        base.grad_fn, base._rg = tmp.grad_fn, True
        vt = record(_ViewOfWritten, view._data, (base,), (view._view_chain, base._data.shape))
        view.grad_fn, view._rg = vt.grad_fn, True


@op
class FlipBackward0(Node):
    save = ((),)
    param_names = ("dims",)

    def vjp(self, xp, g, x, out):
        return (xp.g_flip(g, self._params[0]),)


@tensor_method()
def flip(self, *dims):
    """Reverse the order of elements along ``dims`` (FlipBackward0)."""
    dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    axes = tuple(wrap_dim(d, self._data.ndim) for d in dims)
    return record(FlipBackward0, array_namespace(self._data).flip(self._data, axes).copy(),
                  (self,), (axes,))
