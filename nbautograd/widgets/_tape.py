"""What the tape player plays, as plain data: the forward ops in tape order, then the backward
steps of one recorded backward pass, each with the box to highlight and what to say.

``plan(root)`` records one pass with ``autograd.grad(root, leaves, retain_graph=True)`` (so no
``.grad`` changes) while listening to the engine's ``NodeExecuted`` events: each gives the
gradient that arrived at a node and the gradients it sent on. ``plan(report)`` plays an
``%%autograd`` report: its recorded graph, re-run when it is still alive and not freed,
else with the gradient summaries recorded when the cell ran.

>>> import nbautograd as torch
>>> x = torch.tensor(2., requires_grad=True)
>>> y = torch.sin(x) + torch.cos(x)
>>> p = plan(y, names={"x": x, "y": y})
>>> [s.kind for s in p.steps]
['forward', 'forward', 'forward', 'backward', 'backward', 'backward', 'leaf']
>>> p.steps[-1].chain.text()
'x.grad: x ← -0.9093 (from cos) + -0.4161 (from sin) = -1.3254'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import numpy as np

from .. import _events
from ._chain import ChainInput, ChainStep, chain_step, host
from ._common import FONT, MONO, esc, fmt, tensor_names
from ._order import snapshot_ids, tape_order


@dataclass(frozen=True)
class LeafStep:
    """A leaf collects what its consumers sent: the sum is its gradient."""
    leaf: str
    parts: tuple            # (from label, array)
    total: np.ndarray | None

    def text(self) -> str:
        terms = " + ".join(f"{fmt(a)} (from {src})" for src, a in self.parts)
        return f"{self.leaf}.grad: {self.leaf} ← {terms} = {fmt(self.total)}"

    def html(self) -> str:
        td = f"border:1px solid #d1d5db;padding:3px 8px;{MONO}"
        terms = "".join(f'<tr><td style="{td}">from {esc(src)}</td><td style="{td}">'
                        f'{esc(fmt(a))}</td></tr>' for src, a in self.parts)
        return (f'<table class="nbag-chain" style="border-collapse:collapse;{FONT};'
                f'margin:4px 0">{terms}<tr><td style="{td}"><b>sum</b></td>'
                f'<td class="nbag-sent" style="{td};color:#b91c1c"><b>{esc(fmt(self.total))}'
                f'</b></td></tr></table><div style="{FONT};color:#6b7280">AccumulateGrad adds '
                f'this into {esc(self.leaf)}.grad (the player ran its pass with autograd.grad, '
                f'so {esc(self.leaf)}.grad itself is untouched).</div>')


@dataclass(frozen=True)
class Step:
    kind: str                       # "forward", "backward" or "leaf"
    node: Optional[str]             # snapshot id of the box to highlight
    title: str
    body: str = ""                  # HTML
    chain: Any = None               # ChainStep / LeafStep for backward steps


@dataclass
class Plan:
    steps: list
    forward_svg: str
    backward_svg: str
    op_ids: list                    # snapshot ids of the op boxes, in tape order
    notes: list = field(default_factory=list)
    root: str = "y"


def _label_of(snap, nid: str) -> str:
    b = snap.node(nid)
    t = getattr(b, "tensor", None)
    return snap.tensor(t).label if t else nid


def _forward_steps(snap, sources: Mapping[str, str]) -> tuple[list, list]:
    op_ids = [b.id for b in snap.nodes if not b.is_leaf_node]
    steps = []
    for k, nid in enumerate(op_ids):
        b = snap.node(nid)
        out = snap.tensor(b.tensor) if b.tensor else None
        ins = [(_label_of(snap, e.input) if e.kind == "grad" else snap.tensor(e.input).label)
               for e in sorted((e for e in snap.edges if e.consumer == nid),
                               key=lambda e: e.slot)]
        label = out.label if out else b.op
        value = (f" = {out.value}" if out is not None and out.value else "")
        src = sources.get(nid)
        saved = ", ".join(s.name for s in b.saved) or "nothing"
        body = (f'<div style="{FONT}">The op runs and records its backward node on the tape: '
                f'<code>{esc(label)} = {esc(b.op)}({esc(", ".join(ins))})</code>'
                f'{esc(value)}'
                + (f'<br>from the line <code>{esc(src)}</code>' if src else "")
                + f'<br><code>{esc(label)}.grad_fn</code> = <b>{esc(b.name)}</b>, saving '
                f'{esc(saved)} for the backward pass.</div>')
        steps.append(Step("forward", nid, f"forward {k + 1} of {len(op_ids)}: {label} = "
                          f"{b.op}({', '.join(ins)})", body))
    return steps, op_ids


def _leaves(root_nodes) -> list:
    out, seen = [], set()
    for n in tape_order(root_nodes):
        if n.name().endswith("AccumulateGrad") and n.variable is not None \
                and id(n) not in seen:
            seen.add(id(n))
            out.append(n.variable)
    return out


def _record_pass(root, leaves):
    """Run one backward pass from ``root`` to ``leaves`` without touching .grad, recording
    what every node received and sent (numpy copies taken as it happens)."""
    from .. import autograd, viz  # noqa: PLC0415
    executed = []

    def listen(ev):
        if type(ev) is _events.NodeExecuted:
            executed.append((ev.node, host(ev.grad_out), tuple(host(g) for g in ev.grads_in)))

    gout = None
    if root.numel() != 1:
        from .._factories import ones_like  # noqa: PLC0415
        gout = ones_like(root)
    with _events.subscribed(listen), viz.record() as vrec:
        grads = autograd.grad(root, leaves, gout, retain_graph=True, allow_unused=True)
    return executed, [host(g) for g in grads], vrec


def plan(source, names: Mapping | None = None, rankdir: str = "BT",
         max_nodes: int = 200) -> Plan:
    """The steps of ``source``: a tensor, an ``%%autograd`` report or a session Recording."""
    from .. import viz  # noqa: PLC0415
    if hasattr(source, "events") and hasattr(source, "graph"):   # an AutogradReport
        return _plan_report(source, rankdir, max_nodes)
    from ..recording import Recording  # noqa: PLC0415
    if isinstance(source, Recording):
        return _plan_recording(source, None, rankdir, max_nodes)
    root = source
    names = tensor_names(names)
    if root.grad_fn is None:
        raise ValueError("TapePlayer needs a tensor computed from tensors that require grad "
                         "(it has no grad_fn, so there is no tape to play)")
    fwd = viz.draw(root, names=names, show_grads=False, rankdir=rankdir, max_nodes=max_nodes)
    rname = next((k for k, v in names.items() if v is root), None) or \
        fwd.snapshot.tensor(fwd.snapshot.roots[0]).label
    steps, op_ids = _forward_steps(fwd.snapshot, {})
    p = Plan(steps, fwd.svg(), fwd.svg(), op_ids, root=rname)
    vrec = _add_backward(p, root, [root.grad_fn], fwd.snapshot)
    if vrec is not None:
        p.backward_svg = viz.draw(root, names=names, recording=vrec, rankdir=rankdir,
                                  max_nodes=max_nodes).svg()
    return p


def _add_backward(p: Plan, root, starts, snap):
    """Record a pass from ``root`` and append its steps to ``p``; returns the viz recording
    of the pass (None if it cannot run: the graph was freed)."""
    leaves = _leaves([root.grad_fn])
    try:
        executed, grads, vrec = _record_pass(root, leaves)
    except RuntimeError as e:
        p.notes.append("no backward steps: an earlier backward() freed this graph "
                       f"({str(e).split('.')[0]}); make the player before calling backward(), "
                       "or call backward(retain_graph=True)")
        return None
    ids = snapshot_ids(starts, snap)

    def label(node) -> str:
        nid = ids.get(id(node))
        return _label_of(snap, nid) if nid else node.name()

    arrived: dict[int, list] = {}
    total = len(executed) + sum(g is not None for g in grads)
    for node, gout, gins in executed:
        labels = [None if m is None else label(m) for m in node._next]
        out = label(node)
        step = chain_step(node, gout, gins, labels, out, p.root)
        for k, m in enumerate(node._next):
            if m is not None and k < len(gins) and gins[k] is not None:
                arrived.setdefault(id(m), []).append((out, _sent_for(step, k, node)))
        n = len(p.steps) - len(p.op_ids) + 1
        p.steps.append(Step("backward", ids.get(id(node)),
                            f"backward {n} of {total}: {node.name()} (at {out})",
                            _backward_intro(out, p.root) + step.html(), step))
    by_leaf = {id(t): g for t, g in zip(leaves, grads)}
    for leaf in sorted((t for t in leaves if by_leaf[id(t)] is not None),
                       key=lambda t: -t._acc._seq):
        acc = leaf._acc
        name = label(acc)
        ls = LeafStep(name, tuple(arrived.get(id(acc), ())), by_leaf[id(leaf)])
        n = len(p.steps) - len(p.op_ids) + 1
        p.steps.append(Step("leaf", ids.get(id(acc)), f"backward {n} of {total}: "
                            f"AccumulateGrad (at {name})", ls.html(), ls))
    return vrec


def _sent_for(step: ChainStep, slot: int, node) -> Optional[np.ndarray]:
    """The gradient ``step`` sent through input ``slot`` (parts skip unlabelled slots)."""
    k = sum(1 for j, m in enumerate(node._next[:slot]) if m is not None)
    return step.inputs[k].sent if k < len(step.inputs) else None


def _backward_intro(out: str, root: str) -> str:
    return (f'<div style="{FONT}">The gradient of {esc(root)} with respect to '
            f'<b>{esc(out)}</b> has arrived (upstream). The node multiplies it by its local '
            f'derivative and sends the product to each input:</div>')


def _plan_report(report, rankdir: str, max_nodes: int) -> Plan:
    rec = report.events
    graph = report.graph
    if graph is None:
        return _plan_recording(rec, None, rankdir, max_nodes)
    return _plan_recording(rec, graph, graph.rankdir, max_nodes)


def _plan_recording(rec, graph, rankdir: str, max_nodes: int) -> Plan:
    from .. import viz  # noqa: PLC0415
    if graph is None:
        graph = viz.draw(rec, rankdir=rankdir, max_nodes=max_nodes, show_grads=False)
    snap = graph.snapshot
    fwd = viz.GraphView(snap, show_values=graph.options["show_values"], show_grads=False,
                        rankdir=graph.rankdir)
    # the line of code behind each op box (ops and boxes are both in tape order)
    sources, pool = {}, {}
    for op in rec.ops:
        pool.setdefault(op.name, []).append(op.expression or op.source)
    for b in snap.nodes:
        if not b.is_leaf_node and pool.get(b.name):
            sources[b.id] = pool[b.name].pop(0)
    steps, op_ids = _forward_steps(snap, sources)
    root_label = snap.tensor(snap.roots[-1]).label if snap.roots else "y"
    p = Plan(steps, fwd.svg(), graph.svg(), op_ids, root=root_label)
    root = _live_root(rec)
    if root is not None:
        starts = [op.node() for op in rec.ops if op.node() is not None]
        if _add_backward(p, root, starts, snap) is not None:
            return p
        p.notes.clear()
    _recorded_backward(p, snap)
    return p


def _live_root(rec):
    for call in reversed(rec.backward_calls):
        for r in call.roots:
            t = r()
            if t is not None and t.grad_fn is not None:
                return t
    for op in reversed(rec.ops):
        t = op.output()
        if t is not None and t.grad_fn is not None:
            return t
    return None


def _recorded_backward(p: Plan, snap) -> None:
    """Backward steps from the gradient summaries recorded when the cell ran (no numbers to
    multiply: the graph was freed or is gone)."""
    bsteps = [b for b in reversed(snap.nodes) if not b.is_leaf_node and b.grad_out]
    if not bsteps:
        p.notes.append("no backward pass was recorded")
        return
    p.notes.append("the graph was freed after the cell's backward(): the steps show the "
                   "gradients recorded then; the local derivatives need retain_graph=True")
    for k, b in enumerate(bsteps):
        parts = tuple(ChainInput(_label_of(snap, e.input), None, None, (), e.grad)
                      for e in sorted((e for e in snap.edges if e.consumer == b.id
                                       and e.kind == "grad"), key=lambda e: e.slot))
        out = _label_of(snap, b.id)
        step = ChainStep(b.name, out, p.root, None, parts, upstream_text=b.grad_out)
        p.steps.append(Step("backward", b.id, f"backward {k + 1} of {len(bsteps)}: {b.name} "
                            f"(at {out})", _backward_intro(out, p.root) + step.html(), step))
