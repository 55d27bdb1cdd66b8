"""torch.autograd.functional: Jacobians, built row by row from vector-Jacobian products.

>>> import nbautograd as torch
>>> torch.autograd.functional.jacobian(lambda x: x ** 2, torch.tensor([1., 2.]))
tensor([[2., 0.],
        [0., 4.]])
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .._tensor import Tensor, wrap


def _tuple(x):
    return (x, False) if isinstance(x, tuple) else ((x,), True)


def _fresh_inputs(inputs, create_graph):
    out = []
    for x in inputs:
        if not isinstance(x, Tensor):
            raise TypeError(f"The inputs given to jacobian must be either a Tensor or a tuple of "
                            f"Tensors but the value at index {inputs.index(x)} has type "
                            f"{type(x).__name__}.")
        if create_graph and x.requires_grad:
            out.append(x.view_as(x))
        else:
            out.append(x.detach().requires_grad_(True))
    return tuple(out)


def jacobian_rows(func, inputs) -> Iterator[tuple]:
    """Yield ``(index, cotangent, rows)`` per output element: the one-hot cotangent and the
    Jacobian row(s) it produced (one per input), by one backward pass each.

    >>> import nbautograd as torch
    >>> [r[2][0].tolist() for r in jacobian_rows(lambda x: x * 3, torch.tensor([1., 2.]))]
    [[3.0, 0.0], [0.0, 3.0]]
    """
    from . import grad  # noqa: PLC0415
    ins, single = _tuple(inputs)
    ins = _fresh_inputs(ins, False)
    out = func(*ins)
    if not isinstance(out, Tensor):
        raise TypeError("jacobian_rows expects func to return a single Tensor")
    n = out.numel()
    for i in range(n):
        e = np.zeros(n, dtype=out._data.dtype)
        e[i] = 1
        v = wrap(e.reshape(out._data.shape))
        idx = tuple(int(k) for k in np.unravel_index(i, out._data.shape)) if out.ndim else ()
        if not out.requires_grad:
            rows = tuple(wrap(np.zeros_like(x._data)) for x in ins)
        else:
            gs = grad(out, ins, v, retain_graph=True, allow_unused=True)
            rows = tuple(wrap(np.zeros_like(x._data)) if g is None else g
                         for g, x in zip(gs, ins))
        yield idx, v, rows


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: shape ``out.shape + input.shape`` (nested tuples
    for several inputs/outputs), computed with one backward pass per output element."""
    from . import grad  # noqa: PLC0415
    from .._grad_mode import enable_grad  # noqa: PLC0415
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: '
                         'If your function has a single output use forward-mode, else use '
                         'reverse-mode.')
    ins, single_in = _tuple(inputs)
    with enable_grad():
        ins = _fresh_inputs(ins, create_graph)
        outs = func(*ins)
        outs, single_out = _tuple(outs)
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                raise TypeError(f"The outputs of the user-provided function given to jacobian "
                                f"must be either a Tensor or a tuple of Tensors but the value at "
                                f"index {i} has type {type(o).__name__}.")
        result = []
        for oi, out in enumerate(outs):
            n = out.numel()
            rows = [[] for _ in ins]
            for k in range(n):
                if out.requires_grad:
                    e = np.zeros(n, dtype=out._data.dtype)
                    e[k] = 1
                    gs = grad(out, ins, wrap(e.reshape(out._data.shape)), retain_graph=True,
                              create_graph=create_graph, allow_unused=True)
                else:
                    gs = (None,) * len(ins)
                for j, (g, x) in enumerate(zip(gs, ins)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {oi} of the user-provided function is "
                                               f"independent of input {j}. This is not allowed "
                                               "in strict mode.")
                        g = wrap(np.zeros_like(x._data))
                    rows[j].append(g)
            per_input = []
            for j, x in enumerate(ins):
                from .. import stack  # noqa: PLC0415
                if rows[j]:
                    jac = stack(rows[j]) if create_graph else wrap(
                        np.stack([np.asarray(r._data) for r in rows[j]]))
                else:
                    jac = wrap(np.zeros((0,) + tuple(x.shape), dtype=x._data.dtype))
                per_input.append(jac.reshape(tuple(out.shape) + tuple(x.shape)))
            result.append(per_input)
    if not create_graph:
        result = [[j.detach() for j in r] for r in result]
    if single_out and single_in:
        return result[0][0]
    if single_out:
        return tuple(result[0])
    if single_in:
        return tuple(r[0] for r in result)
    return tuple(tuple(r) for r in result)


def batched_grad(outs, ins, gouts, retain_graph, create_graph, allow_unused):
    """``autograd.grad(..., is_grads_batched=True)``: one VJP per leading index."""
    from . import grad  # noqa: PLC0415
    from .. import stack  # noqa: PLC0415
    b = gouts[0].shape[0]
    rows = []
    for k in range(b):
        rows.append(grad(outs, ins, tuple(g[k] for g in gouts), retain_graph=True,
                         create_graph=create_graph, allow_unused=allow_unused))
    return tuple(None if rows[0][j] is None else stack([r[j] for r in rows])
                 for j in range(len(ins)))
