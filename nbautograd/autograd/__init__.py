"""torch.autograd: ``backward``, ``grad``, custom ``Function``, grad modes, ``functional``.

>>> import nbautograd as torch
>>> x = torch.tensor([1., 2.], requires_grad=True)
>>> torch.autograd.grad((x ** 2).sum(), x)
(tensor([2., 4.]),)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import _events
from .._backend import array_namespace
from .._engine import run_backward
from .._grad_mode import (enable_grad, inference_mode, is_grad_enabled, no_grad,  # noqa: F401
                          set_grad_enabled)
from .._node import AccumulateGrad, accumulate_node
from .. import _tensor as _tensor_module
from .._tensor import Tensor, _owned, wrap
from . import functional  # noqa: F401
from .anomaly_mode import detect_anomaly, set_detect_anomaly  # noqa: F401
from .function import Function, FunctionCtx, once_differentiable  # noqa: F401
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401

Variable = Tensor


def _as_tuple(x) -> tuple:
    if isinstance(x, Tensor):
        return (x,)
    if x is None:
        return ()
    return tuple(x)


def _make_grads(outputs: tuple, grads: tuple, create_graph: bool, batched: bool = False):
    """The initial gradients: given ones checked against their outputs, or implicit ones."""
    __tracebackhide__ = True
    out = []
    for i, (t, g) in enumerate(zip(outputs, grads)):
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if t._data.dtype.kind != "f":
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs "
                                   f"but got {t.dtype}")
            d = t._data
            if isinstance(d, np.generic):
                xp_one = d.dtype.type(1)  # np.ones_like costs ~7 us on a 0-d value
            else:
                xp_one = array_namespace(d).ones(d.shape, d.dtype)
            g = wrap(xp_one) if create_graph else xp_one
        else:
            if not isinstance(g, Tensor):
                raise TypeError(f"gradients can be either Tensors or None, but got "
                                f"{type(g).__name__}")
            gshape = g._data.shape[1:] if batched else g._data.shape
            if gshape != t._data.shape or (batched and g._data.ndim == 0):
                from .._tensor import Size  # noqa: PLC0415
                if batched:
                    raise RuntimeError(
                        "If `is_grads_batched=True`, we interpret the first dimension of each "
                        "grad_output as the batch dimension. The sizes of the remaining "
                        f"dimensions are expected to match the shape of corresponding output, "
                        f"but a mismatch was detected: grad_output[{i}] has a shape of "
                        # torch 2.13 reports the shape with two leading dims removed
                        f"{Size(g._data.shape[2:])} and output[{i}] has a shape of "
                        f"{Size(t._data.shape)}. If you only want some tensors in `grad_output` "
                        "to be considered batched, consider using vmap.")
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                                   f"{Size(g._data.shape)} and output[{i}] has a shape of "
                                   f"{Size(t._data.shape)}.")
            if g._data.dtype.kind != t._data.dtype.kind and not (
                    g._data.dtype.kind in "fc" and t._data.dtype.kind in "fc"):
                raise RuntimeError(f"For complex Tensors, both grad_output and output are "
                                   f"required to have the same dtype. Mismatch in dtype: "
                                   f"grad_output[{i}] has a dtype of {g.dtype} and output[{i}] "
                                   f"has a dtype of {t.dtype}.")
            if g._data.dtype != t._data.dtype:
                g = g.to(t.dtype)
            if type(g._data) is not type(t._data) and g.device != t.device:
                if g._data.ndim:  # torch's engine (validate_outputs) moves only 0-d gradients
                    raise RuntimeError(f"invalid gradient at index {i} - expected device "
                                       f"{t.device} but got {g.device}")
                g = g.to(t.device)
            if not create_graph:
                g = g._data
        out.append(g)
    return tuple(out)


def _check_requires_grad(outputs: tuple) -> None:
    __tracebackhide__ = True
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward() expects Tensors, got {type(t).__name__}")
        if not t._rg:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have "
                               "a grad_fn")


def _reports_errors(fn):
    """Errors raised by the API's own checks reach the event listeners too (the views show
    them), not only those raised inside the backward pass."""
    import functools  # noqa: PLC0415

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        __tracebackhide__ = True  # IPython shows the user's line, not the engine's frames
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            if _events.LISTENERS and not getattr(e, "_nbautograd_reported", False):
                _events.emit(_events.EngineError(e, None))
            raise
    return wrapper


@_reports_errors
def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False,
             grad_variables=None, inputs=None) -> None:
    """Accumulate the gradients of ``tensors`` into the leaves' ``.grad``.

    >>> import nbautograd as torch
    >>> x = torch.tensor(2., requires_grad=True)
    >>> torch.autograd.backward(x * x); x.grad
    tensor(4.)
    """
    __tracebackhide__ = True
    outputs = _as_tuple(tensors)
    if not outputs:
        raise RuntimeError("backward() expects at least one tensor")
    grads = _as_tuple(grad_tensors if grad_tensors is not None else grad_variables)
    if not grads:
        grads = (None,) * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(grads)} gradients")
    _check_requires_grad(outputs)
    grads = _make_grads(outputs, grads, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    if create_graph and not _WARNED_CYCLE:
        _warn_reference_cycle()
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
        captured = _run_capture(outputs, grads, inputs, retain_graph, create_graph)
        for t in inputs:
            g = captured.get(_node_of(t))
            if g is None:
                continue
            if t.grad_fn is None:
                from .._engine import _accumulate  # noqa: PLC0415
                _accumulate(t, g, create_graph, set(), False)
            else:
                gt = g if isinstance(g, Tensor) else wrap(_owned(g))
                t._grad = gt if t._grad is None else t._grad + gt
        return
    run_backward(outputs, grads, retain_graph, create_graph)


_WARNED_CYCLE = []  # torch warns once per process (TORCH_WARN_ONCE)


def _warn_reference_cycle() -> None:
    import sys  # noqa: PLC0415
    import warnings  # noqa: PLC0415
    _WARNED_CYCLE.append(True)
    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("nbautograd"):
        level, frame = level + 1, frame.f_back  # point at the user's line
    warnings.warn(
        "Using backward() with create_graph=True will create a reference cycle between the "
        "parameter and its gradient which can cause a memory leak. We recommend using "
        "autograd.grad when creating the graph to avoid this. If you have to use this function, "
        "make sure to reset the .grad fields of your parameters to None after use to break the "
        "cycle and avoid the leak. (Triggered internally at "
        "/__w/pytorch/pytorch/torch/csrc/autograd/engine.cpp:1307.)", UserWarning, stacklevel=level)


def _node_of(t: Tensor):
    return t.grad_fn if t.grad_fn is not None else accumulate_node(t)


def _run_capture(outputs, grads, inputs, retain_graph, create_graph, batch: int = 0):
    __tracebackhide__ = True
    for t in inputs:
        if not isinstance(t, Tensor):
            raise TypeError("inputs must be Tensors")
        if not t._rg:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    targets = {_node_of(t): None for t in inputs}
    return run_backward(outputs, grads, retain_graph, create_graph, capture=targets,
                        accumulate=False, batch=batch)


@_reports_errors
def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused=None, is_grads_batched: bool = False,
         materialize_grads: bool = False):
    """The gradients of ``outputs`` with respect to ``inputs`` (nothing is written to .grad).

    >>> import nbautograd as torch
    >>> x = torch.tensor(3., requires_grad=True)
    >>> torch.autograd.grad(x ** 2, x)
    (tensor(6.),)
    """
    __tracebackhide__ = True
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    outs = _as_tuple(outputs)
    ins = _as_tuple(inputs)
    if not ins:
        raise RuntimeError("grad requires non-empty inputs.")
    gouts = _as_tuple(grad_outputs) if grad_outputs is not None else (None,) * len(outs)
    if len(gouts) != len(outs):
        raise RuntimeError(f"grad_outputs should be a sequence of length {len(outs)} ({len(gouts)} "
                           "given)")
    _check_requires_grad(outs)
    if retain_graph is None:
        retain_graph = create_graph
    batch = 0
    if is_grads_batched:
        if any(g is None for g in gouts):
            raise RuntimeError("is_grads_batched=True requires grad_outputs for every output")
        if create_graph:
            return _looped_batched_grad(outs, ins, gouts, retain_graph, allow_unused,
                                        materialize_grads)
        grads = _make_grads(outs, gouts, False, batched=True)
        batch = grads[0].shape[0]
        if any(g.shape[0] != batch for g in grads):
            raise RuntimeError("every grad_output must have the same batch size")
    else:
        grads = _make_grads(outs, gouts, create_graph)
    captured = _run_capture(outs, grads, ins, retain_graph, create_graph, batch)
    return _collect(captured, ins, batch, allow_unused, materialize_grads)


def _collect(captured: dict, ins: tuple, batch: int, allow_unused: bool,
             materialize_grads: bool) -> tuple:
    """``grad``'s result: per input the gradient captured at its node, as a tensor."""
    result = []
    for i, t in enumerate(ins):
        g = captured.get(_node_of(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have "
                                   "been used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
            shape = ((batch,) if batch else ()) + t._data.shape
            result.append(wrap(array_namespace(t._data).zeros(shape, t._data.dtype))
                          if materialize_grads else None)
            continue
        if isinstance(g, Tensor):
            result.append(g)
        else:
            result.append(wrap(_owned(g) if g.dtype == t._data.dtype
                               else g.astype(t._data.dtype)))
    return tuple(result)


def _looped_batched_grad(outs, ins, gouts, retain_graph, allow_unused, materialize):
    """is_grads_batched with create_graph: one differentiable pass per batch entry, stacked."""
    from .._factories import zeros  # noqa: PLC0415
    from ..ops.joins import stack  # noqa: PLC0415
    rows = [grad(outs, ins, tuple(g[k] for g in gouts), retain_graph=True, create_graph=True,
                 allow_unused=True) for k in range(gouts[0].shape[0])]
    result = []
    for j, t in enumerate(ins):
        if rows[0][j] is None:
            if not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {j} appears to not have "
                                   "been used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
            result.append(zeros(len(rows), *t.shape, dtype=t.dtype) if materialize else None)
        else:
            result.append(stack([r[j] for r in rows]))
    return tuple(result)


_tensor_module._autograd_backward = backward  # Tensor.backward calls it without an import

__all__ = ["backward", "grad", "Function", "Variable", "functional", "no_grad", "enable_grad",
           "set_grad_enabled", "inference_mode", "detect_anomaly", "set_detect_anomaly",
           "gradcheck", "gradgradcheck", "AccumulateGrad", "Sequence"]
