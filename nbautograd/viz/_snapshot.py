"""Walk a live graph (iteratively, never recursively) into a plain-data ``GraphSnapshot``.

The walk starts from root tensors (their ``grad_fn``, or a leaf's AccumulateGrad) and/or from
recorded nodes, follows ``next_functions`` with an explicit stack, and then orders what it
found by tape position. Tensors come from every place the graph or the caller reveals them:
the roots, ``names``, ``retain_grad`` hooks, saved inputs, a recording's outputs, and the
leaves behind AccumulateGrad nodes. An op whose output tensor is unknown still gets a
TensorInfo, labelled by its op, with whatever the node knows (a saved result, a shape).

>>> import nbautograd as torch
>>> from nbautograd.viz._snapshot import snapshot
>>> x = torch.tensor([1., 2.], requires_grad=True)
>>> y = (x * x).sum()
>>> s = snapshot([y], names={"x": x, "y": y})
>>> [(n.id, n.name) for n in s.nodes]
[('n0', 'torch::autograd::AccumulateGrad'), ('n1', 'MulBackward0'), ('n2', 'SumBackward0')]
>>> [(t.id, t.label, t.kind) for t in s.tensors]
[('t0', 'x', 'leaf'), ('t1', 'mul', 'intermediate'), ('t2', 'y', 'output')]
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, Mapping

from ._model import BackwardInfo, EdgeInfo, GraphSnapshot, SavedInfo, TensorInfo
from ._naming import name_table, op_label, unique_labels


def adapter_for(obj):
    """The adapter (nbautograd or torch) that can read tensor ``obj``."""
    from ._nb import NB  # noqa: PLC0415
    if NB.is_tensor(obj):
        return NB
    from ._naming import is_torch_tensor  # noqa: PLC0415
    if is_torch_tensor(obj):
        from ._torch import TORCH  # noqa: PLC0415
        return TORCH
    raise TypeError(f"draw() expects tensors (nbautograd or torch) or a Recording, "
                    f"got {type(obj).__name__}")


def snapshot(roots: Iterable, names: Mapping[str, Any] | None = None, *, adapter=None,
             start_nodes: Iterable = (), outputs: Mapping[int, Any] | None = None,
             edge_grads: Mapping | None = None, grad_out: Mapping | None = None,
             grads: str = "none", error: BaseException | str | None = None,
             failed_node=None, source: str | None = None, extra_tensors: Iterable = (),
             tensor_ids: dict | None = None, root_nodes: Iterable = (),
             recorded_saved: Mapping | None = None,
             node_labels: Mapping[int, str] | None = None) -> GraphSnapshot:
    """Build the snapshot of the graph behind ``roots`` (and ``start_nodes``).

    ``outputs`` maps ``id(node)`` to a tensor known to be that node's output (a recording's);
    ``edge_grads`` maps ``(id(node), slot)`` and ``grad_out`` maps ``id(node)`` to gradient
    summaries; ``error``/``failed_node`` mark where a backward raised (the node is found from
    the error text when not given). ``extra_tensors`` are drawn if they belong to the graph;
    ``tensor_ids``, if given, is filled with ``{id(tensor object): tensor id}``.
    ``root_nodes`` are nodes whose outputs count as roots (a recording's tips);
    ``recorded_saved`` (``{id(node): [RawSaved]}``) tells what freed nodes had saved.
    ``node_labels`` (``{id(node): label}``) labels unnamed outputs, e.g. with the source text
    that made them (``x**2``), instead of the op name.
    """
    roots = list(roots)
    if adapter is None:
        adapter = adapter_for(roots[0]) if roots else _nb_adapter()
    name_of, keep_named = name_table(names)
    edge_grads = edge_grads or {}
    grad_out = grad_out or {}

    # --- 1. walk: every node reachable from the starting points, with an explicit stack ---
    extra_root_nodes = list(root_nodes)
    starts, root_nodes = [], []
    for t in roots:
        n = adapter.grad_fn(t) or adapter.leaf_node(t)
        root_nodes.append(n)
        if n is not None:
            starts.append(n)
    starts.extend(extra_root_nodes)
    starts.extend(start_nodes)
    root_set = {id(n) for n in root_nodes + extra_root_nodes if n is not None}
    nodes: dict[int, Any] = {}
    ins: dict[int, tuple] = {}
    stack = list(reversed(starts))
    while stack:
        n = stack.pop()
        if id(n) in nodes:
            continue
        nodes[id(n)] = n
        nxt = adapter.inputs(n)
        ins[id(n)] = nxt
        for m in reversed(nxt):
            if m is not None and id(m) not in nodes:
                stack.append(m)

    # --- 2. order by tape position; a leaf's node goes just before its first consumer ---
    order = _tape_order(nodes, ins, adapter)
    nid = {id(n): f"n{i}" for i, n in enumerate(order)}

    # --- 3. find the tensors: output of each node, leaves, constants ---
    out_of: dict[int, Any] = {}     # id(node) -> tensor (output of an op, or a leaf)
    is_root: dict[int, int] = {}    # id(tensor) -> position in roots
    for i, t in enumerate(roots):
        is_root.setdefault(id(t), i)

    def offer(t) -> None:
        g = adapter.grad_fn(t)
        if g is not None:
            if id(g) in nodes and id(g) not in out_of:
                out_of[id(g)] = t
        elif adapter.requires_grad(t):
            acc = adapter.leaf_node(t)
            if acc is not None and id(acc) in nodes and id(acc) not in out_of:
                out_of[id(acc)] = t

    for t in roots:
        offer(t)
    for t in keep_named:
        offer(t)
    extra_tensors = list(extra_tensors)
    for t in extra_tensors:
        offer(t)
    saved_raw = {k: adapter.saved(n) for k, n in nodes.items()}
    for k, entries in (recorded_saved or {}).items():
        if k in nodes and not adapter.is_leaf_node(nodes[k]) and adapter.freed(nodes[k]):
            saved_raw[k] = [replace(s, freed=True, version=None) for s in entries]
    for n in order:
        for t in adapter.retained(n):
            offer(t)
    for k, t in (outputs or {}).items():
        if k in nodes and k not in out_of and t is not None:
            out_of[k] = t
    for n in order:
        for s in saved_raw[id(n)]:
            if s.tensor is not None and adapter.requires_grad(s.tensor):
                offer(s.tensor)
    for n in order:
        if adapter.is_leaf_node(n) and id(n) not in out_of:
            v = adapter.variable(n)
            if v is not None:
                out_of[id(n)] = v

    # --- 4. TensorInfo in node order; unnamed tensors are labelled by their op ---
    consumers_of: dict[int, list] = {}
    for n in order:
        for slot, m in enumerate(ins[id(n)]):
            if m is not None:
                consumers_of.setdefault(id(m), []).append((n, slot))
    pending: list[dict] = []        # TensorInfo fields, ids and labels assigned below
    tensor_key: dict[int, int] = {}  # id(tensor object) -> index in pending
    constants: list[tuple] = []     # (pending index, consumer node, slot)
    node_tensor: dict[int, int] = {}
    for n in order:
        k = id(n)
        if not adapter.is_leaf_node(n):
            for s in saved_raw[k]:
                t = s.tensor
                if t is None or adapter.requires_grad(t):
                    continue
                if id(t) not in tensor_key:
                    tensor_key[id(t)] = len(pending)
                    pending.append(dict(kind="constant", obj=t, node=None, op="const",
                                        name=name_of.get(id(t))))
                constants.append((tensor_key[id(t)], n, s.slot if s.slot is not None else 0))
        t = out_of.get(k)
        if adapter.is_leaf_node(n):
            kind, op = "leaf", "leaf"
        else:
            kind = "output" if k in root_set else "intermediate"
            op = (node_labels or {}).get(id(n)) or op_label(adapter.name(n))
        if t is not None and id(t) in tensor_key:
            node_tensor[k] = tensor_key[id(t)]
            continue
        node_tensor[k] = len(pending)
        if t is not None:
            tensor_key[id(t)] = len(pending)
        pending.append(dict(kind=kind, obj=t, node=n, op=op,
                            name=None if t is None else name_of.get(id(t))))
    for i, (t, n) in enumerate(zip(roots, root_nodes)):
        if n is None and id(t) not in tensor_key:   # a leaf with no node: drawn on its own
            tensor_key[id(t)] = len(pending)
            rg = adapter.requires_grad(t)
            pending.append(dict(kind="leaf" if rg else "constant", obj=t, node=None,
                                op="leaf" if rg else "const", name=name_of.get(id(t))))

    named = {p["name"] for p in pending if p["name"]}
    labels = unique_labels([p["name"] or p["op"] for p in pending],
                           reserved=named) if pending else []
    # named tensors keep their names; unique_labels only renames the op labels
    labels = [p["name"] or lab for p, lab in zip(pending, labels)]
    tid = [f"t{i}" for i in range(len(pending))]
    tensors = []
    for i, p in enumerate(pending):
        info = dict(shape=None, dtype=None, device=None, value=None, grad=None,
                    requires_grad=p["kind"] != "constant", retains_grad=False, version=0,
                    hooks=0)
        n, t = p["node"], p["obj"]
        if t is not None:
            info.update(adapter.describe(t))
        elif n is not None and not adapter.is_leaf_node(n):
            info.update(_output_meta(adapter, n, consumers_of))
        tensors.append(TensorInfo(id=tid[i], kind=p["kind"], label=labels[i], name=p["name"],
                                  node=None if n is None else nid[id(n)], **info))

    # --- 5. backward nodes, edges ---
    failed_id = None
    message = None
    if error is not None:
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        if failed_node is None:
            failed_node = adapter.failing_node(list(reversed(order)), str(error))
    if failed_node is not None and id(failed_node) in nid:
        failed_id = nid[id(failed_node)]
    own = {k: tid[i] for k, i in node_tensor.items()}
    infos = []
    for n in order:
        k = id(n)
        saved = []
        for s in saved_raw[k]:
            link = None
            if s.slot is None and s.name == "result":
                link = own.get(k)
            elif s.tensor is not None and id(s.tensor) in tensor_key:
                link = tid[tensor_key[id(s.tensor)]]
            saved.append(SavedInfo(s.name, s.shape, s.dtype, s.freed, s.saved_version,
                                   s.version, link))
        name = adapter.name(n)
        infos.append(BackwardInfo(
            id=nid[k], name=name, op=op_label(name), saved=tuple(saved),
            params=tuple(adapter.params(n)) if not adapter.is_leaf_node(n) else (),
            freed=adapter.freed(n) if not adapter.is_leaf_node(n) else False,
            hooks=adapter.hooks(n) if not adapter.is_leaf_node(n) else 0,
            tensor=own.get(k), grad_out=grad_out.get(k), failed=nid[k] == failed_id))
    edges = []
    const_by_consumer: dict[int, list] = {}
    for pi, n, slot in constants:
        const_by_consumer.setdefault(id(n), []).append((slot, tid[pi]))
    for n in order:
        k = id(n)
        for slot, t_id in sorted(set(const_by_consumer.get(k, ()))):
            edges.append(EdgeInfo(t_id, nid[k], slot, None, "constant"))
        for slot, m in enumerate(ins[k]):
            if m is not None:
                edges.append(EdgeInfo(nid[id(m)], nid[k], slot, edge_grads.get((k, slot))))
    if tensor_ids is not None:
        tensor_ids.update((k, tid[i]) for k, i in tensor_key.items())
    root_ids = [tid[tensor_key[id(t)]] for t in roots if id(t) in tensor_key]
    root_ids += [own[id(n)] for n in extra_root_nodes if id(n) in own]
    root_ids = tuple(dict.fromkeys(root_ids))
    return GraphSnapshot(tensors=tuple(tensors), nodes=tuple(infos), edges=tuple(edges),
                         roots=root_ids, error=message, failed=failed_id,
                         source=source or adapter.source, grads=grads)


def _nb_adapter():
    from ._nb import NB  # noqa: PLC0415
    return NB


def _tape_order(nodes: dict, ins: dict, adapter) -> list:
    """Nodes sorted by tape position: ops by sequence number, each AccumulateGrad (which
    has none) right before its first consumer, ties by discovery."""
    first_use: dict[int, tuple] = {}
    seqs = {k: adapter.seq(n) for k, n in nodes.items()}
    for k, n in nodes.items():
        s = seqs[k]
        if s is None:
            continue
        for slot, m in enumerate(ins[k]):
            if m is not None and seqs[id(m)] is None:
                cand = (s, slot)
                if id(m) not in first_use or cand < first_use[id(m)]:
                    first_use[id(m)] = cand
    keyed = []
    for i, (k, n) in enumerate(nodes.items()):
        s = seqs[k]
        if s is not None:
            keyed.append(((s, 1, 0, i), n))
        else:
            c = first_use.get(k)
            keyed.append((((c[0], 0, c[1], i) if c else (-1, 0, 0, i)), n))
    keyed.sort(key=lambda kv: kv[0])
    return [n for _, n in keyed]


def _output_meta(adapter, n, consumers_of: dict) -> dict:
    """Shape/dtype/value of an op's output when no tensor object is at hand."""
    meta = dict(adapter.output_meta(n))
    if "shape" not in meta:
        for c, slot in consumers_of.get(id(n), ()):
            m = adapter.input_meta(c, slot)
            if "shape" in m:
                for key, v in m.items():
                    meta.setdefault(key, v)
                break
    return meta
