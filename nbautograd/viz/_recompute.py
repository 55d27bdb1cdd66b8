"""Edge gradients without a recording: re-run the backward rules on the saved values.

Only when it can be exact and harmless: every root has one element (a backward seeded with
1, as ``y.backward()`` is), a backward already ran (some leaf has a ``.grad``), no node was
freed, and no node runs user code (custom Functions, hooks). Nothing is written anywhere:
the rules are pure functions of the gradient and the saved arrays. All or nothing, so a
picture never mixes known and missing gradients.

>>> import nbautograd as torch
>>> x = torch.tensor(3., requires_grad=True)
>>> y = x * x
>>> y.backward(retain_graph=True)
>>> edges, _ = recompute([y])
>>> sorted(edges.values())
['3', '3']
"""
from __future__ import annotations

import numpy as np

from .._backend import array_namespace, to_host
from .._node import AccumulateGrad
from .._tensor import _RetainGrad
from ..recording import _reduced
from ._values import summarize


def _plain(n) -> bool:
    if getattr(n, "_custom", False) or n._post_hooks:
        return False
    return all(isinstance(h, _RetainGrad) for h in (n._pre_hooks or ()))


def recompute(roots: list) -> tuple[dict, dict] | None:
    """``(edge_grads, grad_out)`` keyed like the snapshot's annotations, or None."""
    seeds, nodes, stack, any_grad = {}, {}, [], False
    for t in roots:
        if t.grad_fn is None or t._data.size != 1:
            return None
        n = t.grad_fn
        xp = array_namespace(t._data)
        seeds[id(n)] = seeds.get(id(n), 0) + xp.ones_like(t._data)
        stack.append(n)
    while stack:  # collect the graph (and check it) before computing anything
        n = stack.pop()
        if id(n) in nodes:
            continue
        nodes[id(n)] = n
        if isinstance(n, AccumulateGrad):
            leaf = n.variable
            any_grad = any_grad or (leaf is not None and leaf._grad is not None)
            continue
        if n._freed or n._saved is None or not _plain(n):
            return None
        stack.extend(m for m in n._next if m is not None)
    if not any_grad:
        return None
    buf = dict(seeds)
    edge_grads, grad_out = {}, {}
    quiet = np.errstate(all="ignore")
    with quiet:
        for n in sorted((n for n in nodes.values() if not isinstance(n, AccumulateGrad)),
                        key=lambda n: -n._seq):
            g = buf.pop(id(n), None)
            if g is None:
                continue
            grad_out[id(n)] = summarize(to_host(g))
            grads_in = n.vjp(array_namespace(g), g, *n._saved)
            for slot, (m, gi) in enumerate(zip(n._next, grads_in)):
                if m is None or gi is None:
                    continue
                gi = _reduced(n, slot, gi) if isinstance(gi, np.ndarray) else gi
                edge_grads[(id(n), slot)] = summarize(to_host(gi))
                buf[id(m)] = gi if id(m) not in buf else buf[id(m)] + gi
    return edge_grads, grad_out
