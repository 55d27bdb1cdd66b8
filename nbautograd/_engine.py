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
from numpy import ndarray

from . import _events
from ._grad_mode import STATE
from ._backend import array_namespace, batched, quiet_enter, quiet_exit
from ._diagonal import DiagonalBatch
from ._events import EXEC
from ._node import ERR_BACKWARD_TWICE, INPLACE_EPOCH, AccumulateGrad, accumulate_node
from ._tensor import Tensor, wrap


def _root_node(t):
    return t.grad_fn if t.grad_fn is not None else accumulate_node(t)


def run_backward(roots, grads, retain_graph: bool, create_graph: bool,
                 capture=None, accumulate: bool = True, batch: int = 0):
    """Propagate ``grads`` (one per root tensor) through the graph.

    With ``accumulate`` the leaves' ``.grad`` are updated (``Tensor.backward``); with
    ``capture`` (a dict node -> None) only the gradients arriving at those nodes are
    collected and returned (``autograd.grad``), and nothing else is written. With ``batch``
    every gradient has a leading dim of that size: ``batch`` cotangents flow through one pass.
    """
    __tracebackhide__ = True
    listening = bool(_events.LISTENERS)     # rare events: backward started, errors, .grad
    per_node = bool(_events.OP_LISTENERS)   # NodeExecuted / SavedFreed events
    taping = bool(_events.TAPES)            # recorders: one raw tape entry per node
    if listening:
        _events.emit(_events.BackwardStarted(tuple(roots), retain_graph, create_graph, tuple(
            g.dense() if type(g) is DiagonalBatch else g for g in grads)))
    heap: list = []
    buf: dict = {}    # node -> the gradient of its output, summed over its consumers
    own: dict = {}    # node -> True when buf's array for it is ours alone (safe to add into)
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
    targets = capture if capture is not None else ()
    foreign = {id(g) for g in grads} if accumulate else None
    if create_graph:
        xp = _tensor_namespace()
    else:
        xp = array_namespace(grads[0])
        if batch:
            xp = batched(xp, batch)
    free = not retain_graph
    special = per_node or STATE.anomaly  # per-node extras (events, NaN checks) only if needed
    plain = not (special or taping)  # a DiagonalBatch may reach a rule declared to keep it
    prev_mode = STATE.enabled
    STATE.enabled = create_graph  # backward ops are recorded only to build a higher-order graph
    node = None
    hop = False  # True once a gradient crossed devices: each node then takes g's namespace
    quiet = quiet_enter()  # torch computes inf/nan silently; so do we
    try:
        while heap:
            node = pop(heap)[1]
            g = buf.pop(node)
            if own:
                own.pop(node, None)
            slow = node._slow
            if batch and type(g) is DiagonalBatch and not (
                    plain and node._diagonal_ok and not slow):
                g = g.dense()  # hooks, recorders and other rules see the batch as an array
            if slow:
                if node._pre_hooks:
                    g = _run_pre_hooks(node._pre_hooks, g)
                hop = hop or node._device_hop
            if hop and not create_graph:
                xp = _namespace_of(g, batch)
            if type(node) is AccumulateGrad:
                if node in targets:
                    captured[node] = g.dense() if type(g) is DiagonalBatch else g
                elif accumulate:
                    leaf = node.variable
                    if leaf is not None:
                        _accumulate(leaf, g, create_graph, foreign, listening, taping)
                continue
            if node in targets:
                captured[node] = g.dense() if type(g) is DiagonalBatch else g
            if slow and node._custom:
                grads_in = (node.apply_vjp(g, create_graph) if not batch
                            else _custom_batched(node, g, batch))
            else:
                saved = node._saved
                if saved is None:
                    raise RuntimeError(ERR_BACKWARD_TWICE)
                if node._epoch != INPLACE_EPOCH[0] and node._saved_t:
                    node._check_versions()
                if create_graph:
                    st = node._saved_t
                    if st:  # the saved inputs as tensors, and the output re-attached to node
                        out = saved[-1]
                        args = st[:-1] + ((None if out is None else wrap(out, node)),)
                    else:
                        args = saved
                    grads_in = node.vjp(xp, g, *args)
                else:
                    grads_in = node.vjp(xp, g, *saved)
            if special or slow and node._post_hooks:
                grads_in = _after_node(node, g, grads_in, per_node)
            if taping:  # the recorders' tape (their byte budget counts these at tape_op)
                _events.tape((EXEC, node, g, grads_in))
            red = node._reduce
            if red is not None:  # broadcast inputs: sum back to their shapes, cast their dtypes
                grads_in = [gi if r is None or gi is None else _reduce_to(xp, gi, r)
                            for gi, r in zip(grads_in, red)]
            fresh = node._fresh_grads
            for edge, gi in zip(node._next, grads_in):
                if edge is None or gi is None:
                    continue
                old = buf.get(edge)
                if old is None:
                    buf[edge] = gi
                    push(heap, (-edge._seq, edge))
                    if fresh and not taping:  # a recorder holds gi: never add into it
                        own[edge] = True  # nothing else refers to gi: later sums may reuse it
                elif own.get(edge) and type(old) is ndarray and old.size >= 4096 \
                        and old.shape == gi.shape and type(gi) is ndarray:
                    np.add(old, gi, out=old, casting="unsafe")  # big: save an allocation
                else:
                    buf[edge] = old + gi
                    own[edge] = True
            if free and node._frees:
                if taping:
                    _events.tape_freed(node)
                if node._custom:
                    node.release()  # custom Functions free their ctx.saved_tensors
                else:
                    node._saved = node._saved_t = None
                    node._freed = True
                if per_node:
                    _events.emit(_events.SavedFreed(node))
    except BaseException as err:
        if listening:
            _events.emit(_events.EngineError(err, node))
            try:
                err._nbautograd_reported = True  # the API wrapper must not report it again
            except AttributeError:
                pass
        if STATE.anomaly and node is not None:
            from .autograd.anomaly_mode import report_failure  # noqa: PLC0415
            report_failure(node)
        raise
    finally:
        STATE.enabled = prev_mode
        quiet_exit(quiet)
    if listening:
        _events.emit(_events.BackwardFinished(tuple(roots)))
    return captured


_TENSOR_NS: list = []
_BATCHED: dict = {}


def _namespace_of(g, batch: int):
    """The namespace for gradient ``g`` (after a device move, gradients of one backward pass
    live on different devices)."""
    xp = array_namespace(g)
    if batch:
        key = (id(xp), batch)
        b = _BATCHED.get(key)
        if b is None:
            b = _BATCHED[key] = batched(xp, batch)
        return b
    return xp


def _tensor_namespace():
    """The Tensor namespace for create_graph (imported once: _tensor_ns imports the ops)."""
    if not _TENSOR_NS:
        from ._tensor_ns import TENSOR_NS  # noqa: PLC0415
        _TENSOR_NS.append(TENSOR_NS)
    return _TENSOR_NS[0]


def _after_node(node, g, grads_in, per_node: bool):
    """The rarely used parts of a backward step: NaN check, node hooks, events."""
    if STATE.anomaly:
        from .autograd.anomaly_mode import check_nan  # noqa: PLC0415
        check_nan(node, grads_in)
    if node._post_hooks:
        for h in node._post_hooks:
            r = h(tuple(grads_in), (g,))
            if r is not None:
                grads_in = r
    if per_node:
        _events.emit(_events.NodeExecuted(node, g, tuple(grads_in)))
    return grads_in


def _run_pre_hooks(hooks, g):
    from ._tensor_ns import as_tensor_grad, unwrap_like  # noqa: PLC0415
    for h in list(hooks):
        gt = as_tensor_grad(g)
        r = h(gt)
        if r is not None:
            g = unwrap_like(r, g)
    return g


def _reduce_to(xp, gi, spec):
    """Sum a broadcast gradient back to its input's shape and cast it to the input's dtype."""
    shape, np_dtype = spec
    if xp.is_tensor_ns:
        if shape is not None and tuple(gi.shape) != shape:
            gi = xp.sum_to(gi, shape)
        if np_dtype is not None and gi._data.dtype != np_dtype:
            from ._dtypes import FROM_NP  # noqa: PLC0415
            gi = gi.to(FROM_NP[np_dtype])
        return gi
    if shape is not None:
        gi = xp.sum_to(gi, shape)
    if np_dtype is not None and gi.dtype != np_dtype:
        gi = gi.astype(np_dtype)
    return gi


def _custom_batched(node, g, batch: int):
    """A custom Function's backward knows nothing of batches: run it once per cotangent."""
    rows = [node.apply_vjp(g[i], False) for i in range(batch)]
    return tuple(None if rows[0][k] is None else
                 array_namespace(rows[0][k]).stack([r[k] for r in rows])
                 for k in range(len(rows[0])))


def _accumulate(leaf, g, create_graph: bool, foreign: set, listening: bool,
                taping: bool = False) -> None:
    """AccumulateGrad: add ``g`` into ``leaf.grad`` (in place unless building a graph)."""
    if leaf._hooks:
        g = _run_pre_hooks(leaf._hooks, g)
    old = leaf._grad
    before = None if old is None or not listening else old._data.copy()
    if isinstance(g, Tensor):  # create_graph: .grad becomes part of a graph
        if old is None:
            # torch clones a differentiable gradient into fresh memory: .grad is CopyBackwards
            leaf._grad = (wrap(array_namespace(g._data).empty_like(g._data)).copy_(g)
                          if g.grad_fn is not None else wrap(_own(g._data, foreign, True)))
        else:
            leaf._grad = old + g
    elif old is None:
        g = _own(g, foreign, taping)  # a recorder holds g: .grad must not be the same array
        foreign.add(id(g))  # the same array may flow to another leaf (e.g. through an add)
        leaf._grad = wrap(g)
    elif create_graph:
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
    if type(a) is not ndarray:  # a device array: CuPy's flags know no "writeable"
        if always or id(a) in foreign or a.base is not None or not a.flags.c_contiguous:
            return a.copy()
        return a
    if always or id(a) in foreign or a.base is not None or not a.flags.writeable \
            or not a.flags.c_contiguous:
        return a.copy()
    return a
