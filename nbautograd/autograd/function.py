"""Custom differentiable operations: subclass ``Function`` with static ``forward``/``backward``.

>>> import nbautograd as torch
>>> class Square(torch.autograd.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x ** 2
...     @staticmethod
...     def backward(ctx, g):
...         (x,) = ctx.saved_tensors
...         return 2 * x * g
>>> x = torch.tensor(3., requires_grad=True)
>>> y = Square.apply(x); y.backward(); y.grad_fn.name(), x.grad
('SquareBackward', tensor(6.))
"""
from __future__ import annotations

import functools

import numpy as np

from .. import _events
from .._grad_mode import STATE, no_grad
from .._node import _SEQ, _SLOW, ERR_BACKWARD_TWICE, INPLACE_EPOCH, Node, accumulate_node
from .._tensor import Tensor, wrap


class FunctionCtx:
    """The ``ctx`` object: what ``forward`` leaves for ``backward``."""

    materialize_grads = True

    def save_for_backward(self, *tensors) -> None:
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{i} is of type {type(t).__name__}")
        self.to_save = tensors

    def mark_dirty(self, *tensors) -> None:
        self.dirty_tensors = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        self.non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value

    @property
    def saved_tensors(self) -> tuple:
        saved = getattr(self, "_saved_values", None)
        if saved is None:
            if getattr(self, "_freed", False):
                raise RuntimeError(ERR_BACKWARD_TWICE)
            return ()
        for t, v in zip(saved, self._saved_versions):
            if t is not None and t._version != v:
                from .._node import modified_message  # noqa: PLC0415
                raise RuntimeError(modified_message(t._data, t.grad_fn, t._version, v))
        return saved


class _PerOutput:
    """Gradients of a multi-output node, by output index (what its slots deliver)."""

    __array_ufunc__ = None  # numpy defers to our reflected add

    def __init__(self, grads: dict) -> None:
        self.grads = grads

    def __add__(self, other: "_PerOutput") -> "_PerOutput":
        merged = dict(self.grads)
        for k, g in other.grads.items():
            merged[k] = g if k not in merged else merged[k] + g
        return _PerOutput(merged)

    __radd__ = __add__


class BackwardCFunction(FunctionCtx, Node):
    """The grad_fn of a custom Function: it is also the ``ctx`` its methods received."""

    _save_all = ("ctx",)  # always released after a backward without retain_graph
    _frees = True
    _saved_t = ()
    _custom = True
    _slow = True
    _had_saved = False
    _n_outputs = 1

    def apply_vjp(self, g, create_graph: bool):
        if getattr(self, "_freed", False) and self._had_saved:
            raise RuntimeError(ERR_BACKWARD_TWICE)
        grads_out = self._output_grads(g, create_graph)
        fn = self._forward_cls
        once = getattr(fn.backward, "_once_differentiable", False)
        prev = STATE.enabled
        STATE.enabled = create_graph and not once
        try:
            grads = fn.backward(self, *grads_out)
        finally:
            STATE.enabled = prev
        if not isinstance(grads, tuple):
            grads = (grads,)
        return self._check_grads(grads, create_graph)

    def _output_grads(self, g, create_graph: bool) -> tuple:
        """One gradient per output: given ones, and zeros (or None) for unused outputs."""
        per = g.grads if isinstance(g, _PerOutput) else {0: g}
        out = []
        for k, (shape, dtype) in enumerate(self._output_meta):
            gk = per.get(k)
            if gk is None:
                out.append(wrap(np.zeros(shape, dtype)) if self.materialize_grads else None)
            else:
                out.append(gk if isinstance(gk, Tensor) else wrap(gk))
        return tuple(out)

    def _check_grads(self, grads: tuple, create_graph: bool) -> tuple:
        n_in = len(self._next_all)
        if len(grads) != n_in:
            extra = grads[n_in:]
            if len(grads) < n_in or any(x is not None for x in extra):
                raise RuntimeError(f"function {type(self).__name__} returned an incorrect number "
                                   f"of gradients (expected {n_in}, got {len(grads)})")
            grads = grads[:n_in]
        out = []
        for i, (gi, shape) in enumerate(zip(grads, self._input_shapes)):
            if gi is not None and not self._input_is_tensor[i]:
                raise RuntimeError(f"function {type(self).__name__} returned a gradient different "
                                f"than None at position {i + 1}, but the corresponding forward "
                                "input was not a Variable")
            if gi is None or self._next_all[i] is None:
                out.append(None)
                continue
            if tuple(gi.shape) != shape:
                try:
                    ok = len(gi.shape) >= len(shape) and \
                        np.broadcast_shapes(tuple(gi.shape), shape) == tuple(gi.shape)
                except ValueError:
                    ok = False
                if not ok:
                    raise RuntimeError(
                        f"Function {type(self).__name__} returned an invalid gradient at index "
                        f"{i} - got [{', '.join(map(str, gi.shape))}] but expected shape "
                        f"compatible with [{', '.join(map(str, shape))}]")
                from .._tensor_ns import TENSOR_NS  # noqa: PLC0415
                gi = TENSOR_NS.sum_to(gi, shape)
            out.append(gi if create_graph else gi._data)
        return tuple(out)

    def release(self) -> None:
        if getattr(self, "to_save", None) is not None or getattr(self, "_saved_values", None):
            self._had_saved = True
        self._saved_values = None
        self._freed = True

    @property
    def needs_input_grad(self) -> tuple:
        return tuple(e is not None for e in self._next_all)

    def saved_tensors_info(self) -> list:
        """``[(name, shape, freed)]`` for what ``ctx.save_for_backward`` kept."""
        freed = getattr(self, "_saved_values", None) is None and getattr(self, "_freed", False)
        shapes = getattr(self, "_saved_shapes", ())
        return [(f"saved_tensors[{i}]", shape, freed) for i, shape in enumerate(shapes)]


class _OutputSlot(Node):
    """Where gradients of output ``k`` of a multi-output Function arrive; it hands them to the
    Function's node, packed by output index. Named like that node, as torch prints it."""

    _custom = True
    _slow = True
    _saved = ()
    _save_all = ()
    _frees = False

    def apply_vjp(self, g, create_graph: bool):
        return (_PerOutput({self._output_nr: g}),)

    @property
    def saved_tensors(self):
        return self._next[0].saved_tensors


class FunctionMeta(type):
    """Gives every Function subclass its backward node class, ``<Name>Backward``."""

    def __init__(cls, name, bases, attrs):
        cls._backward_cls = type(name + "Backward", (BackwardCFunction,), {"_forward_cls": cls})
        cls._slot_cls = type(name + "Backward", (_OutputSlot,), {})
        super().__init__(name, bases, attrs)


class Function(metaclass=FunctionMeta):
    """Base class for custom autograd operations (``forward``/``backward`` static methods)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your "
                                  "custom autograd.Function to use it with backward mode AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        node = cls._backward_cls.__new__(cls._backward_cls)
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        recording = STATE.enabled and any(a._rg for a in tensor_args)
        node._next_all = tuple(
            (a.grad_fn or accumulate_node(a)) if isinstance(a, Tensor) and a._rg and recording
            else None for a in args)
        node._input_shapes = tuple(tuple(a.shape) if isinstance(a, Tensor) else () for a in args)
        node._input_is_tensor = tuple(isinstance(a, Tensor) for a in args)
        with no_grad():
            out = cls.forward(node, *args, **kwargs)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        saved = getattr(node, "to_save", None)
        if saved is not None:
            node._saved_values = tuple(saved)
            node._saved_versions = tuple(t._version if t is not None else 0 for t in saved)
            node._saved_shapes = tuple(None if t is None else tuple(t.shape) for t in saved)
        if not recording:
            return out
        dirty = {id(t) for t in getattr(node, "dirty_tensors", ())}
        for a in tensor_args:
            if id(a) in dirty and a.grad_fn is None and a._rg:
                raise RuntimeError("a leaf Variable that requires grad has been used in an "
                                   "in-place operation.")
        node._next = node._next_all
        node._seq = next(_SEQ)
        node._epoch = INPLACE_EPOCH[0]
        node._saved = ()
        node._output_meta = tuple((tuple(o.shape), o._data.dtype) if isinstance(o, Tensor)
                                  else ((), np.float32) for o in outs)
        non_diff = {id(t) for t in getattr(node, "non_differentiable", ())}
        diff_positions = [k for k, o in enumerate(outs)
                          if isinstance(o, Tensor) and id(o) not in non_diff]
        multi = len(outs) > 1
        result = []
        for k, o in enumerate(outs):
            if k not in diff_positions:
                result.append(o)
                continue
            if id(o) in dirty:
                o._bump_version()  # torch counts the Function's in-place write once more
            elif any(o is a for a in tensor_args) or o.grad_fn is not None or o._rg:
                o = wrap(o._data)  # returning an input unchanged still gives a new tensor
            o._rg = True
            if multi:
                slot = cls._slot_cls.__new__(cls._slot_cls)
                slot._next = (node,)
                slot._output_nr = k
                slot._seq = node._seq + (k + 1) / (len(outs) + 1)  # between node and consumers
                o.grad_fn = slot
            else:
                o.grad_fn = node
            result.append(o)
        node._n_outputs = len(outs)
        if _SLOW[0]:
            _announce(node, result, tensor_args)
        return result[0] if single else tuple(result)


def _announce(node, result, inputs) -> None:
    """Anomaly mode, recorders and event listeners see a custom Function like any other op."""
    import weakref  # noqa: PLC0415
    if STATE.anomaly:
        from .anomaly_mode import remember_forward  # noqa: PLC0415
        remember_forward(node)
    for o in result:
        if isinstance(o, Tensor) and o.grad_fn is not None:
            if _events.TAPES:
                _events.tape_op(o.grad_fn, o)
            if _events.OP_LISTENERS:
                _events.emit(_events.OpRecorded(o.grad_fn, weakref.ref(o),
                                                tuple(weakref.ref(x) for x in inputs)))


def once_differentiable(fn):
    """Mark a ``backward`` that cannot itself be differentiated (it runs under no_grad)."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)
    wrapper._once_differentiable = True
    return wrapper
