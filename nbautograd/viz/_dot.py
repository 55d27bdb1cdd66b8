"""Snapshot -> DOT source, built with the ``graphviz`` package (a pure string, golden-testable).

The visual language (see ``docs/legend.svg``):

* leaf tensors: blue boxes with their value and accumulated ``.grad``;
* backward nodes: grey boxes named as PyTorch names them, merged with the tensor they
  produce (its name, shape, value); outputs (the roots) are green;
* constants (requires_grad=False): dashed, dimmed boxes;
* edges run in data-flow direction (inputs at the bottom with the default ``rankdir="BT"``)
  and carry the gradient that flowed back along them, in red;
* a node whose saved tensors were freed by a backward is dashed and greyed, with a
  ``freed:`` line; with ``show_saved=True`` each saved tensor is its own orange box (grey
  once freed);
* a tensor modified in place shows its version and an amber border; a saved tensor modified
  after it was saved (``saved v0, now v1``) gets a red border; the node where backward
  raised is filled red;
* folded loops are violet 3-D boxes with a count; a dashed box stands for nodes left out.

Graphviz here runs without an XML parser, so labels are records and plain text, never
HTML-like labels.

>>> from nbautograd.viz._model import GraphSnapshot
>>> to_dot(GraphSnapshot()).splitlines()[0]
'digraph nbautograd {'
"""
from __future__ import annotations

import graphviz

from ._model import BackwardInfo, GraphSnapshot, TensorInfo
from ._values import fmt_shape

FONT = "Helvetica,Arial,sans-serif"
INK, GREY, FAINT = "#111827", "#6b7280", "#9ca3af"
COLORS = {
    "leaf": ("#dbeafe", "#1d4ed8"),
    "output": ("#dcfce7", "#15803d"),
    "intermediate": ("#f3f4f6", "#4b5563"),
    "freed": ("#f9fafb", FAINT),
    "failed": ("#fee2e2", "#dc2626"),
    "constant": ("#ffffff", "#d1d5db"),
    "fold": ("#ede9fe", "#6d28d9"),
    "saved": ("#ffedd5", "#ea580c"),
}
VERSION_BORDER, STALE_BORDER, GRAD_INK = "#d97706", "#dc2626", "#b91c1c"


def esc_record(s: str) -> str:
    """Text for one field of a record label: DOT's record metacharacters escaped."""
    s = str(s).replace("\\", "\\\\").replace("\n", " ")
    for ch in '{}|<>"':
        s = s.replace(ch, "\\" + ch)
    return s


def esc_text(s: str) -> str:
    """Text for a plain label: backslashes and quotes escaped, newlines as DOT's ``\\n``."""
    return str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _record(fields: list[str], vertical: bool) -> str:
    # records stack fields across the rank direction: braces flip them for TB/BT layouts
    body = "|".join(fields)
    return graphviz.nohtml("{" + body + "}" if vertical else body)


def _meta(t: TensorInfo | None) -> str | None:
    if t is None or (t.shape is None and t.dtype is None):
        return None
    parts = [fmt_shape(t.shape) if t.shape is not None else "?"]
    if t.dtype:
        parts.append(t.dtype)
    if t.device and t.device != "cpu":
        parts.append(t.device)
    return " ".join(parts)


def _tensor_rows(t: TensorInfo | None, show_values: bool, show_grads: bool) -> list[str]:
    if t is None:
        return []
    rows = []
    meta = _meta(t)
    if meta:
        rows.append(meta)
    if show_values and t.value is not None:
        rows.append("data " + t.value)
    if show_grads and t.grad is not None:
        rows.append("grad " + t.grad)
    if t.version:
        rows.append(f"version {t.version}")
    if t.hooks:
        rows.append(f"hooks {t.hooks}")
    return rows


def _node_rows(n: BackwardInfo, show_saved: bool) -> list[str]:
    rows = []
    if n.saved and not show_saved:
        names = ", ".join(s.name for s in n.saved)
        rows.append(("freed: " if n.freed else "saved: ") + names)
    for s in n.saved:
        if s.stale:
            rows.append(f"{s.name}: saved v{s.saved_version}, now v{s.version}")
    if show_saved and n.params:
        rows.extend(f"{k}={v}" for k, v in n.params)
    if n.hooks:
        rows.append(f"hooks {n.hooks}")
    if n.failed:
        rows.append("✗ backward raised here")
    return rows


def _style(kind: str, *, freed=False, failed=False, stale=False, version=False,
           root=False) -> dict:
    fill, border = COLORS["failed" if failed else "freed" if freed else kind]
    style = "rounded,filled" + (",dashed" if freed or kind == "constant" else "")
    attrs = dict(style=style, fillcolor=fill, color=border)
    if failed:
        attrs["penwidth"] = "2.5"
    elif stale:
        attrs.update(color=STALE_BORDER, penwidth="2")
    elif version:
        attrs.update(color=VERSION_BORDER, penwidth="2")
    elif root:
        attrs.update(color=COLORS["output"][1], penwidth="2")
    if freed and not failed:
        attrs["fontcolor"] = GREY
    if kind == "constant":
        attrs["fontcolor"] = FAINT
    return attrs


def to_dot(snap: GraphSnapshot, *, show_values: bool = True, show_grads: bool = True,
           show_saved: bool = False, rankdir: str = "BT") -> str:
    """The DOT source of ``snap``, in the visual language described above."""
    vertical = rankdir in ("TB", "BT")
    g = graphviz.Digraph(
        "nbautograd",
        graph_attr=dict(rankdir=rankdir, fontname=FONT, fontsize="10", nodesep="0.25",
                        ranksep="0.35", bgcolor="white"),
        node_attr=dict(shape="record", fontname=FONT, fontsize="11", fontcolor=INK,
                       height="0.3"),
        edge_attr=dict(fontname=FONT, fontsize="9", color=GREY, arrowsize="0.6"))
    tens = {t.id: t for t in snap.tensors}
    roots = set(snap.roots)
    for n in snap.nodes:
        t = tens.get(n.tensor) if n.tensor else None
        if n.is_leaf_node:
            title = t.label if t is not None else "leaf (gone)"
            fields = [title] + _tensor_rows(t, show_values, show_grads)
            attrs = _style("leaf", version=bool(t and t.version), root=bool(t and t.id in roots))
        else:
            named = t is not None and (t.name is not None or t.id in roots)
            fields = ([t.label] if named else []) + [n.name]
            fields += _tensor_rows(t, show_values, show_grads) + _node_rows(n, show_saved)
            kind = "output" if t is not None and t.id in roots else "intermediate"
            attrs = _style(kind, freed=n.freed, failed=n.failed,
                           stale=any(s.stale for s in n.saved), version=bool(t and t.version))
        g.node(n.id, _record([esc_record(f) for f in fields], vertical), **attrs)
        if show_saved and not n.is_leaf_node:
            _saved_boxes(g, n, vertical)
    for t in snap.tensors:
        if t.node is not None:
            continue
        fields = [t.label] + _tensor_rows(t, show_values, show_grads)
        kind = "constant" if t.kind == "constant" else "leaf"
        g.node(t.id, _record([esc_record(f) for f in fields], vertical),
               **_style(kind, version=bool(t.version), root=t.id in roots))
    for f in snap.folds:
        if f.pattern:
            shown = " → ".join(f.pattern) if len(f.pattern) <= 3 else \
                " → ".join(f.pattern[:3]) + f" → … ({len(f.pattern)} ops)"
            label = f"{f.count} × [{shown}]\n{len(f.members)} backward nodes folded"
            fill, border = COLORS["fold"]
            g.node(f.id, graphviz.nohtml(esc_text(label)), shape="box3d", style="filled",
                   fillcolor=fill, color=border)
        else:
            g.node(f.id, graphviz.nohtml(esc_text(f"⋯ {len(f.members)} more nodes")),
                   shape="box", style="rounded,dashed", color=FAINT, fontcolor=GREY)
    for e in snap.edges:
        attrs = {}
        if e.kind == "constant":
            attrs.update(style="dashed", color=FAINT)
        if e.count > 1:
            attrs["label"] = graphviz.nohtml(f" ×{e.count}")
            attrs["fontcolor"] = GREY
        elif show_grads and e.grad is not None:
            attrs["label"] = graphviz.nohtml(" " + esc_text(e.grad))
            attrs["fontcolor"] = GRAD_INK
        g.edge(e.input, e.consumer, **attrs)
    lines = []
    if snap.error:
        msg = snap.error if len(snap.error) <= 160 else snap.error[:159] + "…"
        lines.append("backward raised " + msg)
    lines.extend(snap.elided)
    if lines:
        g.attr(label=graphviz.nohtml("\\l".join(esc_text(x) for x in lines) + "\\l"),
               labelloc="b" if rankdir != "TB" else "t", labeljust="l",
               fontcolor=COLORS["failed"][1] if snap.error else GREY)
    return g.source


def _saved_boxes(g: "graphviz.Digraph", n: BackwardInfo, vertical: bool) -> None:
    """One small box per saved tensor, joined to its node by a dotted line."""
    for k, s in enumerate(n.saved):
        sid = f"{n.id}_s{k}"
        rows = [s.name]
        if s.freed:
            rows.append("freed")
        else:
            meta = " ".join(x for x in (fmt_shape(s.shape) if s.shape is not None else None,
                                        s.dtype) if x)
            if meta:
                rows.append(meta)
            if s.stale:
                rows.append(f"saved v{s.saved_version}, now v{s.version}")
        fill, border = COLORS["freed" if s.freed else "saved"]
        attrs = dict(style="rounded,filled" + (",dashed" if s.freed else ""), fillcolor=fill,
                     color=STALE_BORDER if s.stale else border, fontsize="9")
        if s.freed:
            attrs["fontcolor"] = FAINT
        g.node(sid, _record([esc_record(r) for r in rows], vertical), **attrs)
        g.edge(sid, n.id, style="dotted", arrowhead="none",
               color=FAINT if s.freed else COLORS["saved"][1])
