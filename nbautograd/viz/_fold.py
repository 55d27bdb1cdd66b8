"""Make big graphs readable: fold repeated chains, focus on one tensor, leave out the rest.

All three work on plain snapshots and return new ones:

* ``focus(snap, tid)`` keeps only the nodes on paths between a tensor and the roots;
* ``fold(snap)`` finds runs where the same block of ops repeats along the tape (a loop) with
  the same wiring, and replaces each run by one ``FoldInfo`` block with its count;
* ``trim(snap, max_nodes)`` keeps the nodes nearest the roots and puts the rest behind one
  "more nodes" block.

``shrink`` applies fold, then trim, only while the picture is larger than ``max_nodes``.

>>> from nbautograd.viz._model import GraphSnapshot
>>> shrink(GraphSnapshot(), max_nodes=10) == GraphSnapshot()
True
"""
from __future__ import annotations

from ._model import EdgeInfo, FoldInfo, GraphSnapshot, replace

MIN_REPEATS = 3      # a pattern must repeat this often to be folded
MAX_PERIOD = 16      # longest repeated block looked for (ops per loop iteration)


def drawn_count(snap: GraphSnapshot, show_saved: bool = False) -> int:
    """How many boxes the picture has: nodes (a leaf shares its AccumulateGrad's box),
    folded blocks, constants, standalone tensors, and saved tensors when shown."""
    n = len(snap.nodes) + len(snap.folds)
    n += sum(1 for t in snap.tensors if t.node is None)
    if show_saved:
        n += sum(len(b.saved) for b in snap.nodes)
    return n


def shrink(snap: GraphSnapshot, max_nodes: int | None, show_saved: bool = False
           ) -> GraphSnapshot:
    """Fold, then trim, as far as needed to stay within ``max_nodes`` boxes."""
    if max_nodes is None or drawn_count(snap, show_saved) <= max_nodes:
        return snap
    snap = fold(snap)
    if drawn_count(snap, show_saved) > max_nodes:
        snap = trim(snap, max_nodes, show_saved)
    return snap


# --- focus ---------------------------------------------------------------------------------
def focus(snap: GraphSnapshot, tid: str) -> GraphSnapshot:
    """Only the paths between tensor ``tid`` and the roots."""
    t = snap.tensor(tid)
    consumers: dict[str, list[str]] = {}
    for e in snap.edges:
        consumers.setdefault(e.input, []).append(e.consumer)
    start = t.node if t.node is not None else t.id
    keep = {start}
    stack = [start]
    while stack:   # everything downstream of the focus (towards the roots)
        k = stack.pop()
        for c in consumers.get(k, ()):
            if c not in keep:
                keep.add(c)
                stack.append(c)
    nodes = tuple(n for n in snap.nodes if n.id in keep)
    tensors = tuple(x for x in snap.tensors if (x.node in keep) or x.id in keep)
    edges = tuple(e for e in snap.edges if e.input in keep and e.consumer in keep)
    kept_t = {x.id for x in tensors}
    roots = tuple(r for r in snap.roots if r in kept_t)
    line = (f"focus on {t.label}: {len(nodes)} of {len(snap.nodes)} backward nodes "
            f"lie on paths to the roots")
    return replace(snap, nodes=nodes, tensors=tensors, edges=edges, roots=roots,
                   elided=snap.elided + (line,),
                   failed=snap.failed if snap.failed in keep else None)


# --- fold ----------------------------------------------------------------------------------
def _signature(i: int, start: int, period: int, ops: list, pos: dict, ins: dict) -> tuple:
    """What node ``ops[i]`` is and how it is wired, relative to its block (which begins at
    ``start``): inputs in this or the previous block by distance, anything else by kind."""
    node = ops[i]
    refs = []
    for slot, src, kind in ins.get(node.id, ()):
        if kind == "constant":
            refs.append((slot, "const"))
        elif src in pos:
            j = pos[src]
            refs.append((slot, "rel", i - j) if j >= start - period else (slot, "ext"))
        else:
            refs.append((slot, "leaf"))
    return (node.name, tuple(refs))


def fold(snap: GraphSnapshot) -> GraphSnapshot:
    """Replace each run of a block of ops repeated ``MIN_REPEATS`` or more times along the
    tape (same op names, same wiring) by a FoldInfo. Blocks holding a named tensor, a root or
    the failing node stay visible."""
    ops = [n for n in snap.nodes if not n.is_leaf_node]
    if len(ops) < MIN_REPEATS:
        return snap
    pos = {n.id: i for i, n in enumerate(ops)}
    ins: dict[str, list] = {}
    for e in snap.edges:
        ins.setdefault(e.consumer, []).append((e.slot, e.input, e.kind))
    for v in ins.values():
        v.sort(key=lambda r: (r[0], r[2], r[1]))
    tens = {t.id: t for t in snap.tensors}
    roots = set(snap.roots)
    pinned = [n.failed or (n.tensor is not None and (tens[n.tensor].name is not None
                                                    or n.tensor in roots)) for n in ops]
    names = [n.name for n in ops]
    runs = []   # (start, period, count)
    i, m = 0, len(ops)
    while i < m:
        best = None
        for p in range(1, min(MAX_PERIOD, (m - i) // MIN_REPEATS) + 1):
            if any(pinned[i:i + p]):
                break
            # cheap test first: do the op names repeat at all?
            if names[i:i + p] != names[i + p:i + 2 * p] or \
                    names[i:i + p] != names[i + 2 * p:i + 3 * p]:
                continue
            sig0 = [_signature(i + j, i, p, ops, pos, ins) for j in range(p)]
            r = 1
            while i + (r + 1) * p <= m and not any(pinned[i + r * p:i + (r + 1) * p]):
                b = i + r * p
                if [_signature(b + j, b, p, ops, pos, ins) for j in range(p)] != sig0:
                    break
                r += 1
            if r >= MIN_REPEATS and (best is None or r * p > best[0] * best[1]):
                best = (p, r)
            if best is not None and p > best[0] and best[0] * best[1] >= m - i:
                break
        if best is None:
            i += 1
            continue
        p, r = best
        runs.append((i, p, r))
        i += p * r
    if not runs:
        return snap
    return _apply_folds(snap, ops, runs)


def _apply_folds(snap: GraphSnapshot, ops: list, runs: list) -> GraphSnapshot:
    owner: dict[str, str] = {}
    folds, lines = [], []
    for k, (start, p, r) in enumerate(runs):
        fid = f"f{k}"
        members = tuple(n.id for n in ops[start:start + p * r])
        for mid in members:
            owner[mid] = fid
        hidden = tuple(n.tensor for n in ops[start:start + p * r] if n.tensor is not None)
        pattern = tuple(n.name for n in ops[start:start + p])
        folds.append(FoldInfo(fid, r, pattern, members, hidden))
        lines.append(f"folded {len(members)} backward nodes into {fid}: {r} × "
                     f"[{' → '.join(pattern)}]")
    hidden_t = {t for f in folds for t in f.tensors}
    # constants used only inside folds disappear with them
    const_users: dict[str, set] = {}
    for e in snap.edges:
        if e.kind == "constant":
            const_users.setdefault(e.input, set()).add(owner.get(e.consumer, e.consumer))
    for c, users in const_users.items():
        if all(u in {f.id for f in folds} for u in users):
            hidden_t.add(c)
    merged: dict[tuple, EdgeInfo] = {}
    for e in snap.edges:
        a = owner.get(e.input, e.input)
        b = owner.get(e.consumer, e.consumer)
        if a == b or a in hidden_t:
            continue
        # parallel edges into or out of a fold merge into one (with a count); others stay
        key = (a, b, e.kind) if (a != e.input or b != e.consumer) else (a, b, e.kind, e.slot)
        old = merged.get(key)
        if old is None:
            merged[key] = replace(e, input=a, consumer=b)
        else:
            merged[key] = replace(old, grad=None, count=old.count + e.count,
                                  slot=min(old.slot, e.slot))
    return replace(snap,
                   nodes=tuple(n for n in snap.nodes if n.id not in owner),
                   tensors=tuple(t for t in snap.tensors if t.id not in hidden_t),
                   edges=tuple(merged.values()), folds=snap.folds + tuple(folds),
                   elided=snap.elided + tuple(lines))


# --- trim ----------------------------------------------------------------------------------
def trim(snap: GraphSnapshot, max_nodes: int, show_saved: bool = False) -> GraphSnapshot:
    """Keep the boxes nearest the roots (breadth first); the rest go behind one block."""
    inputs: dict[str, list[str]] = {}
    for e in snap.edges:
        inputs.setdefault(e.consumer, []).append(e.input)
    tens = {t.id: t for t in snap.tensors}
    cost = {n.id: 1 + (len(n.saved) if show_saved else 0) for n in snap.nodes}
    cost.update((f.id, 1) for f in snap.folds)
    starts = [tens[r].node or r for r in snap.roots]
    budget = max(max_nodes - 1, 1)   # one box is the "more nodes" block
    keep, order, used = set(), list(dict.fromkeys(starts)), 0
    queued = set(order)
    qi = 0
    while qi < len(order):
        k = order[qi]
        qi += 1
        c = cost.get(k, 1)
        if used + c > budget and keep:
            continue
        keep.add(k)
        used += c
        for src in inputs.get(k, ()):
            if src not in queued:
                queued.add(src)
                order.append(src)
    all_ids = [n.id for n in snap.nodes] + [f.id for f in snap.folds] + \
        [t.id for t in snap.tensors if t.node is None]
    dropped = [k for k in all_ids if k not in keep]
    if not dropped:
        return snap
    dropped_set = set(dropped)
    dropped_nodes = [n.id for n in snap.nodes if n.id in dropped_set]
    dropped_nodes += [m for f in snap.folds if f.id in dropped_set for m in f.members]
    dropped_nodes = tuple(sorted(dropped_nodes, key=lambda i: int(i[1:])))
    more = FoldInfo("more", 0, (), dropped_nodes,
                    tuple(t.id for t in snap.tensors
                          if t.node in dropped_set or t.id in dropped_set))
    merged: dict[tuple, EdgeInfo] = {}
    for e in snap.edges:
        a = "more" if e.input in dropped_set else e.input
        b = "more" if e.consumer in dropped_set else e.consumer
        if b == "more":
            continue
        key = (a, b, e.kind) if a == "more" else (a, b, e.kind, e.slot)
        old = merged.get(key)
        merged[key] = replace(e, input=a) if old is None else replace(
            old, grad=None, count=old.count + e.count)
    hidden_t = set(more.tensors)
    line = (f"{len(dropped)} more boxes not shown (max_nodes={max_nodes}); "
            f"use focus= or a larger max_nodes")
    return replace(snap,
                   nodes=tuple(n for n in snap.nodes if n.id not in dropped_set),
                   folds=tuple(f for f in snap.folds if f.id not in dropped_set) + (more,),
                   tensors=tuple(t for t in snap.tensors if t.id not in hidden_t),
                   edges=tuple(merged.values()), elided=snap.elided + (line,),
                   hidden=len(dropped_nodes),
                   failed=snap.failed if snap.failed not in dropped_set else None)
