"""Graph SVG for a widget: Graphviz's SVG made embeddable in an ``HTML`` widget, and the marks
a player puts on it — one node highlighted, nodes and edges not reached yet dimmed.

Graphviz writes each node as ``<g id="nodeK" class="node"><title>n3</title>...`` and each edge
as ``<g id="edgeK" class="edge"><title>n0->n1</title>...``; the titles are the snapshot ids
of ``nbautograd.viz`` (``n0, n1, ...`` in tape order), which is what the marks key on.

>>> svg = ('<svg><g id="node1" class="node"><title>n0</title><path fill="#fff" stroke="#111"/>'
...        '</g></svg>')
>>> 'stroke="#f97316"' in mark(svg, current="n0")
True
"""
from __future__ import annotations

import re
from typing import Iterable

HIGHLIGHT = "#f97316"      # the current node: orange, thick
FLOW = "#dc2626"           # the edges the current backward step sends gradients along
DIM = "0.22"

_GROUP = re.compile(r'<g id="[^"]*" class="(node|edge)">\s*<title>(.*?)</title>(.*?)</g>', re.S)
_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?(<!--.*?-->\s*)*", re.S)


def embeddable(svg: str) -> str:
    """The SVG without its XML prolog, doctype and leading comments (for innerHTML)."""
    return _PROLOG.sub("", svg, count=1)


def boxed(svg: str, max_height: str = "480px", cls: str = "nbag-graph-svg") -> str:
    """The SVG in a scrolling box (big graphs scroll instead of stretching the page)."""
    return (f'<div class="{cls}" style="overflow:auto;max-height:{max_height};'
            f'max-width:100%">{embeddable(svg)}</div>')


def _edge_ends(title: str) -> tuple[str, str]:
    t = title.replace("&#45;", "-").replace("&gt;", ">")
    a, _, b = t.partition("->")
    return a.strip(), b.strip().split(":")[0]


def _stroke(body: str, color: str, width: str) -> str:
    """``body`` with the first shape's outline recoloured and thickened."""
    def repl(m):
        tag = m.group(0)
        tag = re.sub(r'stroke="[^"]*"', f'stroke="{color}"', tag, count=1)
        tag = re.sub(r'\sstroke-width="[^"]*"', "", tag)
        return tag.replace(f'stroke="{color}"', f'stroke="{color}" stroke-width="{width}"', 1)
    return re.sub(r"<(path|polygon|ellipse)\b[^>]*>", repl, body, count=1)


def mark(svg: str, current: str | None = None, dim_nodes: Iterable[str] = (),
         dim_edges_into: Iterable[str] = (), flow_from: str | None = None) -> str:
    """Mark a Graphviz SVG by snapshot ids: ``current`` highlighted, ``dim_nodes`` faded,
    edges into ``dim_edges_into`` faded (their gradient not sent yet), and the edges that
    ``flow_from`` (a backward node) sends gradients along drawn in red."""
    dim_nodes, dim_into = set(dim_nodes), set(dim_edges_into)

    def repl(m):
        kind, title, body = m.group(1), m.group(2), m.group(3)
        head = m.group(0)[: m.start(3) - m.start(0)]
        if kind == "node":
            if title == current:
                body = _stroke(body, HIGHLIGHT, "3.5")
            elif title in dim_nodes:
                head = head.replace('class="node"', f'class="node" opacity="{DIM}"', 1)
        else:
            src, dst = _edge_ends(title)
            if flow_from is not None and dst == flow_from:
                body = re.sub(r'stroke="[^"]*"', f'stroke="{FLOW}"', body)
                body = re.sub(r'(<path\b[^>]*?)(/?>)', r'\1 stroke-width="2.5"\2', body, count=1)
            elif dst in dim_into or dst in dim_nodes or src in dim_nodes:
                head = head.replace('class="edge"', f'class="edge" opacity="{DIM}"', 1)
        return head + body + "</g>"

    return _GROUP.sub(repl, svg)


def node_titles(svg: str) -> list[str]:
    """The snapshot ids of the nodes drawn in ``svg``, in document order."""
    return [m.group(2) for m in _GROUP.finditer(svg) if m.group(1) == "node"]
