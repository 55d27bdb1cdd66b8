"""The Tensor: an array plus the autograd fields PyTorch users know.

Ops live in ``ops/`` and attach themselves as methods; this module holds the attributes,
conversions, and the autograd entry points (``backward``, ``detach``, hooks, in-place writes).

>>> import nbautograd as torch
>>> x = torch.tensor(5.0, requires_grad=True)
>>> y = x ** 2
>>> y
tensor(25., grad_fn=<PowBackward0>)
>>> y.backward(); x.grad
tensor(10.)
"""
from __future__ import annotations

import weakref
import warnings

import numpy as np

from . import _dtypes, _events
from ._backend import array_namespace, to_host
from ._device import device_of
from ._grad_mode import STATE
from . import _node
from ._node import INPLACE_EPOCH, RemovableHandle, accumulate_node

NON_LEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad field "
    "to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you "
    "access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead. See "
    "github.com/pytorch/pytorch/pull/30531 for more information. (Triggered internally at "
    "/pytorch/build/aten/src/ATen/core/TensorBody.h:489.)"
)


class Tensor:
    """A multi-dimensional array that can record the operations applied to it."""

    # Instance attributes are set only when they differ from these class defaults: creating a
    # tensor on the hot path writes one attribute (``_data``), or three when it records.
    grad_fn = None
    _rg = False           # requires_grad
    _grad = None
    _vc = None            # version counter: [version], shared by views; None means version 0
    _base = None          # for a view: the tensor whose memory it shares
    _view_chain = ()      # for a view: how to take it from _base (replayable on arrays/tensors)
    _retains_grad = False
    _hooks = None         # hooks of a leaf (non-leaf hooks live on the grad_fn)
    _acc = None           # the leaf's AccumulateGrad node (it refers back to the leaf weakly)
    _inference = False
    _post_acc_hooks = None
    __array_priority__ = 1000  # numpy scalars defer to our reflected operators

    def __init__(self, *args, **kwargs) -> None:
        # torch.Tensor(data) / torch.Tensor(2, 3): the legacy constructor, default float dtype
        if not args and not kwargs:
            if "_data" not in self.__dict__:
                self._data = np.zeros((0,), _dtypes.get_default_dtype().np)
            return
        if len(args) == 1 and not isinstance(args[0], int):
            from ._factories import tensor  # noqa: PLC0415
            self._data = tensor(args[0], dtype=_dtypes.get_default_dtype())._data
        elif all(isinstance(a, int) for a in args):
            self._data = np.empty(args, _dtypes.get_default_dtype().np)
        else:
            raise TypeError("Tensor(): expected data or sizes")

    # --- basic attributes -------------------------------------------------------------------
    @property
    def dtype(self) -> _dtypes.dtype:
        return _dtypes.FROM_NP[self._data.dtype]

    @property
    def shape(self) -> "Size":
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        """The shape as a ``torch.Size``, or the length of one dimension."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.dtype.itemsize

    @property
    def device(self):
        return device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return self.device.type == "cpu"

    def get_device(self) -> int:
        """The GPU index of a CUDA tensor; -1 for a CPU tensor."""
        d = self.device
        return -1 if d.type == "cpu" else d.index

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_complex(self) -> bool:
        return self._data.dtype.kind == "c"

    @property
    def layout(self) -> str:
        return "torch.strided"

    @property
    def _version(self) -> int:
        if self._inference:
            raise RuntimeError("Inference tensors do not track version counter.")
        return 0 if self._vc is None else self._vc[0]

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def is_inference(self) -> bool:
        return self._inference

    # --- requires_grad and .grad ------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self._set_requires_grad(bool(value), attribute=True)

    def _set_requires_grad(self, value: bool, attribute: bool = False) -> None:
        if self.grad_fn is not None:
            msg = "you can only change requires_grad flags of leaf variables."
            if not value:
                msg += (" If you want to use a computed variable in a subgraph that doesn't "
                        "require differentiation use var_no_grad = var.detach().")
            raise RuntimeError(msg)
        if value and self._data.dtype.kind not in "fc":
            # torch 2.13 words it three ways: the factory, the attribute and the method
            if attribute == "factory":
                msg = "Only Tensors of floating point and complex dtype can require gradients"
            elif attribute:
                msg = "only Tensors of floating point and complex dtype can require gradients"
            else:
                msg = "only Tensors of floating point dtype can require gradients"
            err = RuntimeError(msg)
            if _events.LISTENERS:
                _events.emit(_events.EngineError(err, None))
            raise err
        if value and self._inference and not STATE.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                               "InferenceMode is not allowed.")
        self._rg = value

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place (leaves only) and return self."""
        self._set_requires_grad(bool(requires_grad))
        return self

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad and self._grad is None:
            warnings.warn(NON_LEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad "
                                f"of type {type(value).__name__}")
            if value.dtype is not self.dtype:
                raise RuntimeError(
                    "attempting to assign a gradient with dtype '" + _c10_name(value.dtype)
                    + "' to a tensor with dtype '" + _c10_name(self.dtype)
                    + "'. Please ensure that the gradient and the tensor have the same dtype")
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"attempting to assign a gradient of size '{list(value.shape)}' to a tensor "
                    f"of size '{list(self.shape)}'. Please ensure that the gradient and the "
                    "tensor are the same size")
        self._grad = value
        if _events.LISTENERS:
            _events.emit(_events.GradChanged(self, "set" if value is not None else "none"))

    @grad.deleter
    def grad(self) -> None:
        self.grad = None

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        """Keep ``.grad`` of this non-leaf tensor after backward."""
        if not self._rg:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        self.grad_fn._own_pre_hooks().append(_RetainGrad(self))

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a
        replacement. Returns a handle whose ``remove()`` unregisters it."""
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            hooks = self.grad_fn._own_pre_hooks()
            # tensor hooks run before retain_grad's capture, as in torch
            retain = [h for h in hooks if isinstance(h, _RetainGrad)]
            hooks.append(hook)
            for h in retain:
                hooks.remove(h)
                hooks.append(h)
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
            hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after a leaf's ``.grad`` was accumulated."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._post_acc_hooks is None:
            self._post_acc_hooks = []
        self._post_acc_hooks.append(hook)
        return RemovableHandle(self._post_acc_hooks, hook)

    # --- autograd entry points --------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (scaled by ``gradient``)."""
        __tracebackhide__ = True  # IPython shows the user's line, not the engine's frames
        _autograd_backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> "Tensor":
        """A tensor sharing this one's memory and version counter, cut from the graph."""
        t = _alias(self)
        return t

    def detach_(self) -> "Tensor":
        """Cut this tensor from the graph in place; it becomes a leaf."""
        if self._base is not None and self._base._rg and STATE.enabled:
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set as True, gradients are views of DDP buckets, and hence detach_() cannot be called on these gradients. To fix this error, please refer to the Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.")
        self.grad_fn = None
        self._rg = False
        return self

    @property
    def data(self) -> "Tensor":
        t = Tensor.__new__(Tensor)
        t._data = _shareable(self)
        return t  # torch's .data shares memory but not the version counter

    @data.setter
    def data(self, value: "Tensor") -> None:
        if not isinstance(value, Tensor):
            raise TypeError("data must be a Tensor")
        self._data = value._data

    # --- conversions ------------------------------------------------------------------------
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return to_host(self._data).reshape(()).item() if self._data.ndim else \
            to_host(self._data).item()

    def tolist(self):
        """Nested Python lists of Python numbers (a number for a 0-d tensor)."""
        return np.asarray(to_host(self._data)).tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The NumPy array sharing this tensor's memory (CPU tensors without grad)."""
        if not force and not isinstance(self._data, (np.ndarray, np.generic)):
            # torch checks the device first (tensor_numpy.cpp)
            raise TypeError(
                f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to "
                "copy the tensor to host memory first.")
        if self._rg and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead.")
        if not isinstance(self._data, (np.ndarray, np.generic)):
            return np.asarray(to_host(self._data))  # force=True: a host copy
        return _shareable(self)

    def __array__(self, dtype=None, copy=None):
        if not isinstance(self._data, (np.ndarray, np.generic)):
            self.numpy()  # torch's __array__ is numpy(): a CUDA tensor raises its TypeError
        if self._rg:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead.")
        a = np.asarray(to_host(self._data))
        return a.astype(dtype) if dtype is not None else a

    def __len__(self) -> int:
        if not self._data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if not self._data.ndim:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __float__(self) -> float:
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return float(self.item())

    def __int__(self) -> int:
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec) if spec else self.__repr__()

    def __repr__(self, *, tensor_contents=None) -> str:
        from ._repr import tensor_repr  # noqa: PLC0415
        return tensor_repr(self)

    __str__ = __repr__

    def __hash__(self) -> int:
        return id(self)

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.  If you were "
                               "attempting to deepcopy a module, this may be because of a "
                               "torch.nn.utils.weight_norm usage, see "
                               "https://github.com/pytorch/pytorch/pull/103001")
        t = type(self).__new__(type(self))
        t.__dict__.update({k: v for k, v in self.__dict__.items()
                           if k in ("_rg", "_inference")})
        t._data = self._data.copy()
        if self._grad is not None:
            t._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = t
        return t

    def __reduce_ex__(self, protocol):
        return (_rebuild, (to_host(self._data).copy(), self._rg))

    # --- in-place machinery -----------------------------------------------------------------
    def _bump_version(self) -> None:
        vc = self._vc
        if vc is None:
            self._vc = [1]
        else:
            vc[0] += 1
        INPLACE_EPOCH[0] += 1

    def _check_inplace(self) -> None:
        if not STATE.enabled:
            return
        if self.grad_fn is None and self._rg:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation.")
        base = self._base
        if base is not None and base.grad_fn is None and base._rg:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")

    def _inplace(self, compute, saves_self: bool = False) -> "Tensor":
        """Run ``compute(src)`` (an out-of-place op on a tensor with this tensor's value) and
        write the result into this tensor's memory, taking over its history."""
        self._check_inplace()
        src = self
        if saves_self and STATE.enabled and self._rg:
            # the op saves its input for backward: keep the value from before the write
            src = Tensor.__new__(Tensor)
            src._data = self._data.copy()
            src.grad_fn, src._rg = self.grad_fn, self._rg
        res = compute(src)
        self._write(res)
        return self

    def _write(self, res: "Tensor") -> None:
        data, new = self._data, res._data
        if new.dtype != data.dtype:
            if _dtypes.promote_types(self.dtype, res.dtype) is not self.dtype:
                raise RuntimeError(f"result type {_dtypes._LEGACY[res.dtype._name]} can't be cast "
                                   f"to the desired output type {_dtypes._LEGACY[self.dtype._name]}")
        if new.shape != data.shape:
            raise RuntimeError(
                f"output with shape [{', '.join(map(str, data.shape))}] doesn't match the "
                f"broadcast shape [{', '.join(map(str, new.shape))}]")
        if isinstance(data, np.generic):
            self._data = new.astype(data.dtype) if new.dtype != data.dtype else new
        else:
            if _events.TAPES:  # a recorder may hold this memory: it summarises it first
                _events.before_write(data)
            array_namespace(data).copyto(data, new, casting="unsafe")
        self._bump_version()
        if res.grad_fn is not None:
            if self._base is not None:
                from .ops.views import rebase_view  # noqa: PLC0415
                rebase_view(self, res)
            else:
                self.grad_fn = res.grad_fn
                self._rg = True
                _adopt_saved_output(self, res)


_node.Tensor = Tensor  # the recording fast paths build Tensors without importing this module


def _autograd_backward(*args, **kwargs):
    """``autograd.backward``, bound here once that package is imported (it imports this module;
    an import inside ``Tensor.backward`` would cost microseconds on every call)."""
    from .autograd import backward  # noqa: PLC0415
    return backward(*args, **kwargs)


class Size(tuple):
    """torch.Size: a tuple of dimension lengths that prints as ``torch.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, key):
        r = tuple.__getitem__(self, key)
        return Size(r) if isinstance(key, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))


class _RetainGrad:
    """The hook retain_grad() installs: stores the gradient on the tensor (held weakly)."""

    def __init__(self, t: Tensor) -> None:
        self.ref = weakref.ref(t)

    def __call__(self, g: "Tensor"):
        t = self.ref()
        if t is not None:
            if t._grad is None:
                t._grad = g if g.grad_fn is not None else wrap(_owned(g._data))
            else:
                t._grad = t._grad + g if g.grad_fn is not None else wrap(t._grad._data + g._data)
        return None


def _adopt_saved_output(t: "Tensor", res: "Tensor") -> None:
    """An in-place op whose node saved its output (relu_, exp_, ...): the output now lives in
    ``t``, so later in-place changes of ``t`` must invalidate it (as torch's version check does)."""
    node = res.grad_fn
    st = node._saved_t
    if st and st[-1] is not None and st[-1] is res._vc:
        node._saved_t = st[:-1] + (t._vc,)
        ver = list(node._ver) if node._ver is not None else [0] * len(st)
        ver[-1] = t._vc[0]
        node._ver = tuple(ver)


def _owned(a):
    if isinstance(a, np.generic):
        return a
    if isinstance(a, np.ndarray):
        return a.copy() if a.base is not None or not a.flags.writeable else a
    return a.copy() if a.base is not None else a  # a device array (no "writeable" flag)


def wrap(data, grad_fn=None) -> Tensor:
    """A Tensor around an existing array (no copy); with ``grad_fn``, a non-leaf."""
    t = Tensor.__new__(Tensor)
    t._data = data
    if grad_fn is not None:
        t.grad_fn = grad_fn
        t._rg = True
    return t


def _shareable(t: Tensor):
    """``t``'s data as an array that can be shared (numpy scalars are immutable copies)."""
    d = t._data
    if isinstance(d, np.generic):
        d = t._data = np.array(d)
    return d


def _alias(t: Tensor) -> Tensor:
    """A detached view of ``t``: same memory, same version counter."""
    a = Tensor.__new__(Tensor)
    a._data = _shareable(t)
    if t._vc is None:
        t._vc = [0]
    a._vc = t._vc
    if t._inference:
        a._inference = True
    return a


def _wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def _c10_name(d: _dtypes.dtype) -> str:
    return {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
            "int32": "int", "bool": "bool"}.get(d._name, d._name)


def _rebuild(arr, rg):
    t = wrap(arr)
    t._rg = rg
    return t

