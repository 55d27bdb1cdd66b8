"""Snapshot -> a deterministic text listing, one line per tensor and node, in tape order.

It reads like a program: ``mul = MulBackward0(x, w)`` with the shapes, values, gradients and
states of the picture. Used in terminals, in tests and notebooks (stable output), and as the
last rendering fallback when no Graphviz can run.

>>> import nbautograd as torch
>>> from nbautograd.viz._snapshot import snapshot
>>> x = torch.tensor(3., requires_grad=True)
>>> print(to_text(snapshot([x * x], {"x": x})))
graph: 2 backward nodes, 2 tensors
x = leaf  () float32  data=3
mul = MulBackward0(x, x)  () float32  data=9  saved: self, other  [output]
"""
from __future__ import annotations

from ._model import GraphSnapshot
from ._values import fmt_shape


def _num(i: str) -> int:
    return int(i[1:]) if i[1:].isdigit() else 1 << 60


def to_text(snap: GraphSnapshot, *, show_values: bool = True, show_grads: bool = True,
            show_saved: bool = False) -> str:
    """The listing of ``snap`` (see the module docstring)."""
    tens = {t.id: t for t in snap.tensors}
    roots = set(snap.roots)
    ref: dict[str, str] = {}
    for n in snap.nodes:
        t = tens.get(n.tensor) if n.tensor else None
        ref[n.id] = t.label if t is not None else n.op
    for t in snap.tensors:
        if t.node is None:
            ref[t.id] = t.label
    for f in snap.folds:
        ref[f.id] = f.id if f.pattern else "…"
    args: dict[str, list] = {}
    grads: dict[str, list] = {}
    for e in snap.edges:
        args.setdefault(e.consumer, []).append((e.slot, e.input, e.count))
        if show_grads and e.grad is not None and e.count == 1:
            grads.setdefault(e.consumer, []).append((e.slot, e.input, e.grad))

    def tensor_bits(t) -> list[str]:
        if t is None:
            return []
        bits = []
        if t.shape is not None or t.dtype:
            bits.append(" ".join(x for x in (fmt_shape(t.shape) if t.shape is not None
                                             else "?", t.dtype) if x)
                        + (f" {t.device}" if t.device and t.device != "cpu" else ""))
        if show_values and t.value is not None:
            bits.append(f"data={t.value}")
        if show_grads and t.grad is not None:
            bits.append(f"grad={t.grad}")
        if t.version:
            bits.append(f"version={t.version}")
        if t.hooks:
            bits.append(f"hooks={t.hooks}")
        return bits

    entries: list[tuple] = []
    for n in snap.nodes:
        t = tens.get(n.tensor) if n.tensor else None
        k = _num(n.id)
        if n.is_leaf_node:
            bits = ["leaf"] + tensor_bits(t)
        else:
            ins = ", ".join(ref.get(i, i) + (f" ×{c}" if c > 1 else "")
                            for _, i, c in sorted(args.get(n.id, ()), key=lambda a: a[0]))
            bits = [f"{n.name}({ins})"] + tensor_bits(t)
            if n.saved:
                if show_saved:
                    bits.append("saved: " + ", ".join(
                        s.name + ("" if s.shape is None else " " + fmt_shape(s.shape))
                        for s in n.saved) + (" [freed]" if n.freed else ""))
                else:
                    bits.append(("freed: " if n.freed else "saved: ")
                                + ", ".join(s.name for s in n.saved))
            bits.extend(f"{s.name} saved v{s.saved_version}, now v{s.version}"
                        for s in n.saved if s.stale)
            if show_saved and n.params:
                bits.append(" ".join(f"{a}={b}" for a, b in n.params))
            if n.hooks:
                bits.append(f"hooks={n.hooks}")
        if t is not None and t.id in roots:
            bits.append("[output]")
        if n.failed:
            bits.append("✗ backward raised here")
        lines = [f"{ref[n.id]} = " + "  ".join(bits)]
        if n.id in grads:
            lines.append("    grads: " + ", ".join(
                f"{ref.get(i, i)} ← {g}" for _, i, g in sorted(grads[n.id])))
        entries.append((k, 1, lines))
    for t in snap.tensors:
        if t.node is not None:
            continue
        users = [e.consumer for e in snap.edges if e.input == t.id]
        k = min((_num(u) for u in users), default=1 << 61)
        what = "constant" if t.kind == "constant" else "leaf"
        extra = ["[output]"] if t.id in roots else []
        entries.append((k, 0, [f"{t.label} = " + "  ".join([what] + tensor_bits(t) + extra)]))
    for f in snap.folds:
        k = min((_num(m) for m in f.members), default=1 << 61)
        if f.pattern:
            line = (f"{f.id} = {f.count} × [{' → '.join(f.pattern)}]  "
                    f"({len(f.members)} backward nodes folded)")
        else:
            line = f"… = {len(f.members)} more nodes not shown"
        entries.append((k, 1, [line]))
    entries.sort(key=lambda e: (e[0], e[1]))
    n_nodes = len(snap.nodes) + sum(len(f.members) for f in snap.folds)
    head = f"graph: {n_nodes} backward nodes, {len(snap.tensors)} tensors"
    if snap.grads != "none":
        head += f" (gradients {snap.grads})"
    out = [head]
    for _, _, lines in entries:
        out.extend(lines)
    if snap.error:
        out.append(f"! backward raised {snap.error}")
    out.extend(f"# {line}" for line in snap.elided)
    return "\n".join(out)
