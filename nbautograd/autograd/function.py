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

from .._grad_mode import STATE, no_grad
from .._node import ERR_BACKWARD_TWICE, Node, accumulate_node, _SEQ, INPLACE_EPOCH
from .._tensor import Tensor, wrap


class FunctionCtx:
    """The ``ctx`` object: what ``forward`` leaves for ``backward``."""

    def save_for_backward(self, *tensors) -> None:
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{tensors.index(t)} is of type {type(t).__name__}")
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
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [{t.type()} [{', '.join(map(str, t.shape))}]] is at "
                    f"version {t._version}; expected version {v} instead. Hint: enable anomaly "
                    "detection to find the operation that failed to compute its gradient, with "
                    "torch.autograd.set_detect_anomaly(True).")
        return saved


class BackwardCFunction(FunctionCtx, Node):
    """The grad_fn of a custom Function: it is also the ``ctx`` its methods received."""

    _save_all = ("ctx",)  # always released after a backward without retain_graph
    _frees = True
    _saved_t = ()
    _custom = True
    _slow = True

    def apply_vjp(self, g, create_graph: bool):
        if getattr(self, "_freed", False) and self._had_saved:
            raise RuntimeError(ERR_BACKWARD_TWICE)
        gt = g if isinstance(g, Tensor) else wrap(g)
        fn = self._forward_cls
        if getattr(fn.backward, "_once_differentiable", False) or not create_graph:
            prev = STATE.enabled
            STATE.enabled = create_graph and not getattr(fn.backward, "_once_differentiable",
                                                         False)
            try:
                grads = fn.backward(self, gt)
            finally:
                STATE.enabled = prev
        else:
            grads = fn.backward(self, gt)
        if not isinstance(grads, tuple):
            grads = (grads,)
        n_in = len(self._next_all)
        if len(grads) != n_in:
            extra = grads[n_in:]
            if len(grads) < n_in or any(x is not None for x in extra):
                raise RuntimeError(f"function {type(self).__name__} returned an incorrect number "
                                   f"of gradients (expected {n_in}, got {len(grads)})")
            grads = grads[:n_in]
        out = []
        for i, (gi, shape) in enumerate(zip(grads, self._input_shapes)):
            if gi is None or self._next_all[i] is None:
                out.append(None)
                continue
            if not isinstance(gi, Tensor):
                raise TypeError(f"function {type(self).__name__} returned a gradient different "
                                f"than None at position {i + 1}, but the corresponding forward "
                                "input was not a Variable")
            if tuple(gi.shape) != shape:
                try:
                    import numpy as np  # noqa: PLC0415
                    np.broadcast_shapes(tuple(gi.shape), shape)
                    if len(gi.shape) < len(shape):
                        raise ValueError
                except ValueError:
                    raise RuntimeError(
                        f"Function {type(self).__name__} returned an invalid gradient at index "
                        f"{i} - got [{', '.join(map(str, gi.shape))}] but expected shape "
                        f"compatible with [{', '.join(map(str, shape))}]") from None
                from .._backend import array_namespace  # noqa: PLC0415
                gi = gi if create_graph else wrap(array_namespace(gi._data).sum_to(gi._data, shape))
                if create_graph:
                    from .._tensor_ns import TENSOR_NS  # noqa: PLC0415
                    gi = TENSOR_NS.sum_to(gi, shape)
            out.append(gi if create_graph else gi._data)
        return tuple(out[i] for i in self._edge_positions)

    def release(self) -> None:
        if getattr(self, "to_save", None) is not None or getattr(self, "_saved_values", None):
            self._had_saved = True
        self._saved_values = None
        self._freed = True

    _had_saved = False

    @property
    def needs_input_grad(self) -> tuple:
        return tuple(e is not None for e in self._next_all)


class FunctionMeta(type):
    """Gives every Function subclass its backward node class, ``<Name>Backward``."""

    def __init__(cls, name, bases, attrs):
        backward_cls = type(name + "Backward", (BackwardCFunction,), {"_forward_cls": cls})
        cls._backward_cls = backward_cls
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
        with no_grad():
            out = cls.forward(node, *args, **kwargs)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        saved = getattr(node, "to_save", None)
        if saved is not None:
            node._saved_values = tuple(saved)
            node._saved_versions = tuple(t._version if t is not None else 0 for t in saved)
        if not recording:
            return out
        if len([o for o in outs if isinstance(o, Tensor)]) > 1:
            raise NotImplementedError("custom Functions with several differentiable outputs are "
                                      "not supported yet")
        node._edge_positions = tuple(range(len(args)))
        node._next = node._next_all
        node._seq = next(_SEQ)
        node._epoch = INPLACE_EPOCH[0]
        node._saved = ()
        non_diff = {id(t) for t in getattr(node, "non_differentiable", ())}
        dirty = {id(t) for t in getattr(node, "dirty_tensors", ())}
        result = []
        for o in outs:
            if not isinstance(o, Tensor) or id(o) in non_diff:
                result.append(o)
                continue
            if id(o) in dirty:
                o.grad_fn, o._rg = node, True
                o._bump_version() if False else None
                result.append(o)
                continue
            if any(o is a for a in tensor_args) or o.grad_fn is not None or o._rg:
                o = wrap(o._data)  # a view of the input keeps its own identity out of the graph
            o.grad_fn, o._rg = node, True
            result.append(o)
        return result[0] if single else tuple(result)


def once_differentiable(fn):
    """Mark a ``backward`` that cannot itself be differentiated (it runs under no_grad)."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)
    wrapper._once_differentiable = True
    return wrapper
