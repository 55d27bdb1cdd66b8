"""The backward pass: iterative, in reverse tape order, no recursion.

``run_backward`` pushes cotangents from the roots through the graph. Nodes are taken from a
heap keyed by their tape sequence number, highest first: every consumer of a node was
recorded after it, so by the time a node is popped all of its gradient has arrived.

>>> import nbautograd as torch
>>> x = torch.tensor(3., requires_grad=True)
>>> y = x
>>> for _ in range(100000):
...     y = y * 1.0
>>> y.backward(); x.grad
tensor(1.)
"""
from __future__ import annotations

import heapq

import numpy as np

from . import _events
from ._grad_mode import STATE
from ._node import AccumulateGrad, accumulate_node


def _root_node(t):
    return t.grad_fn if t.grad_fn is not None else accumulate_node(t)


def run_backward(roots, grads, retain_graph: bool, create_graph: bool,
                 capture=None, accumulate: bool = True):
    """Propagate ``grads`` (one per root tensor) through the graph.

    With ``accumulate`` the leaves' ``.grad`` are updated (``Tensor.backward``); with
    ``capture`` (a dict node -> None) only the gradients arriving at those nodes are
    collected and returned (``autograd.grad``), and nothing else is written.
    """
    listening = bool(_events.LISTENERS)
    if listening:
        _events.emit(_events.BackwardStarted(tuple(roots), retain_graph, create_graph,
                                             tuple(grads)))
    heap: list = []
    buf: dict = {}
    for t, g in zip(roots, grads):
        node = _root_node(t)
        if node in buf:
            buf[node] = buf[node] + g
        else:
            buf[node] = g
            heap.append((-node._seq, node))
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    captured = {} if capture is not None else None
    foreign = {id(g) for g in grads}
    prev_mode = STATE.enabled
    STATE.enabled = create_graph  # backward ops are recorded only to build a higher-order graph
    node = None
    try:
        while heap:
            node = pop(heap)[1]
            g = buf.pop(node)
            hooks = node._pre_hooks
            if hooks:
                g = _run_pre_hooks(hooks, g)
            if capture is not None and node in capture:
                captured[node] = g
                if type(node) is AccumulateGrad:
                    continue
            if type(node) is AccumulateGrad:
                if accumulate:
                    _accumulate(node.variable, g, create_graph, foreign, listening)
                continue
            grads_in = node.apply_vjp(g, create_graph)
            if STATE.anomaly:
                from .autograd.anomaly_mode import check_nan  # noqa: PLC0415
                check_nan(node, grads_in)
            if node._post_hooks:
                for h in node._post_hooks:
                    r = h(tuple(grads_in), (g,))
                    if r is not None:
                        grads_in = r
            if listening:
                _events.emit(_events.NodeExecuted(node, g, tuple(grads_in)))
            red = node._reduce
            for i, (edge, gi) in enumerate(zip(node._next, grads_in)):
                if edge is None or gi is None:
                    continue
                if red is not None and red[i] is not None:
                    gi = _reduce_to(gi, red[i])
                if edge in buf:
                    buf[edge] = buf[edge] + gi
                else:
                    buf[edge] = gi
                    push(heap, (-edge._seq, edge))
            if not retain_graph:
                node.release()
    except BaseException as err:
        if listening:
            _events.emit(_events.EngineError(err, node))
        if STATE.anomaly and node is not None:
            from .autograd.anomaly_mode import report_failure  # noqa: PLC0415
            report_failure(node)
        raise
    finally:
        STATE.enabled = prev_mode
    if listening:
        _events.emit(_events.BackwardFinished(tuple(roots)))
    return captured


def _run_pre_hooks(hooks, g):
    from ._tensor_ns import as_tensor_grad, unwrap_like  # noqa: PLC0415
    for h in list(hooks):
        gt = as_tensor_grad(g)
        r = h(gt)
        if r is not None:
            g = unwrap_like(r, g)
    return g


def _reduce_to(gi, spec):
    shape, np_dtype = spec
    from ._tensor import Tensor  # noqa: PLC0415
    if isinstance(gi, Tensor):
        from ._tensor_ns import TENSOR_NS  # noqa: PLC0415
        if shape is not None and tuple(gi.shape) != shape:
            gi = TENSOR_NS.sum_to(gi, shape)
        if np_dtype is not None and gi._data.dtype != np_dtype:
            gi = gi.to(np_dtype)
        return gi
    if shape is not None and gi.shape != shape:
        from ._backend import array_namespace  # noqa: PLC0415
        gi = array_namespace(gi).sum_to(gi, shape)
    if np_dtype is not None and gi.dtype != np_dtype:
        gi = gi.astype(np_dtype)
    return gi


def _accumulate(leaf, g, create_graph: bool, foreign: set, listening: bool) -> None:
    """AccumulateGrad: add ``g`` into ``leaf.grad`` (in place unless building a graph)."""
    from ._tensor import Tensor, wrap  # noqa: PLC0415
    if leaf._hooks:
        g = _run_pre_hooks(leaf._hooks, g)
    old = leaf._grad
    before = None if old is None or not listening else old._data.copy()
    if isinstance(g, Tensor):  # create_graph: .grad becomes part of a graph
        if old is None:
            leaf._grad = g if g.grad_fn is not None else wrap(_own(g._data, foreign, True))
        else:
            leaf._grad = old + g
    elif old is None:
        g = _own(g, foreign, False)
        foreign.add(id(g))  # the same array may flow to another leaf (e.g. through an add)
        leaf._grad = wrap(g)
    elif create_graph or old.grad_fn is not None:
        leaf._grad = old + wrap(g)
    else:
        od = old._data
        if isinstance(od, np.ndarray) and od.flags.writeable:
            od += g
        else:
            old._data = od + g
        old._bump_version()
    if leaf._post_acc_hooks:
        for h in list(leaf._post_acc_hooks):
            h(leaf)
    if listening:
        _events.emit(_events.GradAccumulated(leaf, before, leaf._grad._data.copy()))


def _own(a, foreign: set, always: bool):
    # .grad must own its memory: later in-place updates (+=, zero_()) must not reach an array
    # the user passed in, a saved tensor, or a broadcast view.
    if isinstance(a, np.generic):
        return a
    if always or id(a) in foreign or a.base is not None or not a.flags.writeable \
            or not a.flags.c_contiguous:
        return a.copy()
    return a
