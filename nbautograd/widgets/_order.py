"""Which drawn box is which engine node: the snapshot ids ``n0, n1, ...`` of ``nbautograd.viz``
are given in tape order (ops by sequence number, a leaf's AccumulateGrad just before its first
consumer). The same walk and order over the same start nodes gives the same ids; the result
is checked against the drawn names, and where they disagree ops are matched by name and
occurrence instead (a box left unmatched is simply not highlighted).

>>> import nbautograd as torch
>>> from nbautograd import viz
>>> x = torch.tensor(2., requires_grad=True)
>>> y = torch.sin(x) * x
>>> ids = snapshot_ids([y.grad_fn], viz.draw(y).snapshot)
>>> sorted(ids.values())
['n0', 'n1', 'n2']
"""
from __future__ import annotations

from typing import Iterable


def _seq(n):
    return None if n.name().endswith("AccumulateGrad") else n._seq


def tape_order(starts: Iterable) -> list:
    """The nodes reachable from ``starts``, in the order the graph views number them."""
    nodes: dict[int, object] = {}
    stack = list(reversed([n for n in starts if n is not None]))
    while stack:
        n = stack.pop()
        if id(n) in nodes:
            continue
        nodes[id(n)] = n
        for m in reversed(tuple(getattr(n, "_next", ()))):
            if m is not None and id(m) not in nodes:
                stack.append(m)
    first_use: dict[int, tuple] = {}
    for k, n in nodes.items():
        s = _seq(n)
        if s is None:
            continue
        for slot, m in enumerate(getattr(n, "_next", ())):
            if m is not None and _seq(m) is None:
                cand = (s, slot)
                if id(m) not in first_use or cand < first_use[id(m)]:
                    first_use[id(m)] = cand
    keyed = []
    for i, (k, n) in enumerate(nodes.items()):
        s = _seq(n)
        if s is not None:
            keyed.append(((s, 1, 0, i), n))
        else:
            c = first_use.get(k)
            keyed.append((((c[0], 0, c[1], i) if c else (-1, 0, 0, i)), n))
    keyed.sort(key=lambda kv: kv[0])
    return [n for _, n in keyed]


def snapshot_ids(starts: Iterable, snap) -> dict[int, str]:
    """``{id(engine node): snapshot node id}`` for the nodes of ``snap`` (a GraphSnapshot)."""
    order = tape_order(starts)
    drawn = list(snap.nodes)
    if [n.name() for n in order] == [b.name for b in drawn]:
        return {id(n): b.id for n, b in zip(order, drawn)}
    # different node sets (folding, a partial recording): match ops by name and occurrence
    out, pools = {}, {}
    for b in drawn:
        if not b.name.endswith("AccumulateGrad"):
            pools.setdefault(b.name, []).append(b.id)
    for n in order:
        pool = pools.get(n.name())
        if pool:
            out[id(n)] = pool.pop(0)
    return out
