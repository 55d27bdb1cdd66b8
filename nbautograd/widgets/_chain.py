"""The chain rule of one backward step, in numbers: the gradient that arrived at a node
(upstream), the node's local derivative with respect to each input, and their product, the
gradient the node sends to that input. Plain data (numpy copies) and HTML; no widgets.

The local derivative is the node's Jacobian, measured by running its backward rule on one-hot
gradients while its saved values are still there (the player records its pass with
``retain_graph=True``). Elementwise ops show it as a vector (``g ⊙ local``), others as a matrix
(``gᵀ · J``).

>>> import numpy as np
>>> part = ChainInput("x", np.array([[-0.4161]]), np.array(-0.4161), ())
>>> step = ChainStep("SinBackward0", "sin", "y", np.array(1.0), (part,))
>>> step.text()
'SinBackward0: x ← 1.0000 × -0.4161 = -0.4161'
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._backend import to_host
from ._common import FONT, MONO, esc, fmt, fmt_number

MAX_LOCAL = 64       # outputs with more elements: no local Jacobian (one rule call per element)
MAX_MATRIX = 36      # Jacobians shown as a matrix up to this many entries


@dataclass(frozen=True)
class ChainInput:
    """One input of a backward node: its label, the local Jacobian ``d out / d input`` as an
    ``(out elements, input elements)`` matrix (None if not measured) and the gradient sent."""
    label: str
    local: np.ndarray | None
    sent: np.ndarray | None
    shape: tuple = ()
    sent_text: str | None = None      # a recorded summary, when no numbers are at hand

    @property
    def elementwise(self) -> bool:
        j = self.local
        return (j is not None and j.shape[0] == j.shape[1] and j.shape[0] > 1
                and np.count_nonzero(j - np.diag(np.diag(j))) == 0)


@dataclass(frozen=True)
class ChainStep:
    """One backward node: ``upstream`` arrived at output ``output`` of ``node`` (torch's
    name) and ``inputs`` say what it sent on; ``root`` names what is being differentiated."""
    node: str
    output: str
    root: str
    upstream: np.ndarray | None
    inputs: tuple = ()
    upstream_text: str | None = None
    notes: tuple = field(default=())

    def _up(self) -> str:
        return fmt(self.upstream) if self.upstream is not None else (self.upstream_text or "?")

    def local_text(self, part: ChainInput) -> str:
        j = part.local
        if j is None:
            return "?"
        if j.size == 1:
            return fmt_number(j.reshape(-1)[0])
        if part.elementwise:
            return fmt(np.diag(j)) + " (elementwise)"
        if j.size <= MAX_MATRIX:
            return "[" + ", ".join(fmt(r) if r.size > 1 else "[" + fmt(r) + "]"
                                   for r in j) + "]"
        return f"J ({j.shape[0]}×{j.shape[1]})"

    def operator(self, part: ChainInput) -> str:
        j = part.local
        if j is None or j.size == 1:
            return "×"
        return "⊙" if part.elementwise else "ᵀ·"

    def text(self) -> str:
        """One line per input: ``x ← upstream × local = sent``."""
        rows = []
        for p in self.inputs:
            sent = fmt(p.sent) if p.sent is not None else (p.sent_text or "?")
            if p.local is None:
                rows.append(f"{p.label} ← {sent} (upstream {self._up()})")
            else:
                rows.append(f"{p.label} ← {self._up()} {self.operator(p)} "
                            f"{self.local_text(p)} = {sent}")
        return f"{self.node}: " + "; ".join(rows)

    def html(self) -> str:
        th = "border:1px solid #d1d5db;padding:3px 8px;background:#f3f4f6;text-align:left"
        td = f"border:1px solid #d1d5db;padding:3px 8px;{MONO}"
        op = f"padding:3px 6px;{MONO};color:#6b7280;text-align:center"
        d = f"∂{self.root}/∂{self.output}"
        head = (f'<tr><th style="{th}">to input</th><th style="{th}">upstream gradient '
                f'{esc(d)}</th><th></th><th style="{th}">local derivative</th><th></th>'
                f'<th style="{th}">gradient sent</th></tr>')
        rows = [head]
        for p in self.inputs:
            sent = fmt(p.sent) if p.sent is not None else (p.sent_text or "?")
            local = self.local_text(p) if p.local is not None else "(not measured)"
            rows.append(
                f'<tr><td style="{td}"><b>{esc(p.label)}</b></td><td style="{td}">'
                f'{esc(self._up())}</td><td style="{op}">{esc(self.operator(p))}</td>'
                f'<td style="{td}" title="∂{esc(self.output)}/∂{esc(p.label)}">{esc(local)}'
                f'<div style="font-size:10px;color:#6b7280">∂{esc(self.output)}/∂'
                f'{esc(p.label)}</div></td><td style="{op}">=</td>'
                f'<td class="nbag-sent" style="{td};color:#b91c1c"><b>{esc(sent)}</b>'
                f'<div style="font-size:10px;color:#6b7280">∂{esc(self.root)}/∂'
                f'{esc(p.label)} (this path)</div></td></tr>')
        notes = "".join(f'<div style="color:#6b7280;margin-top:2px">{esc(n)}</div>'
                        for n in self.notes)
        return (f'<table class="nbag-chain" style="border-collapse:collapse;{FONT};'
                f'margin:4px 0">{"".join(rows)}</table>{notes}')


def reduce_to(node, slot: int, g: np.ndarray) -> np.ndarray:
    """A gradient as the engine hands it on: summed back to the input's (broadcast) shape."""
    red = getattr(node, "_reduce", None)
    if red is None or slot >= len(red) or red[slot] is None:
        return g
    shape, dtype = red[slot]
    if shape is not None and tuple(g.shape) != tuple(shape):
        lead = g.ndim - len(shape)
        g = g.sum(axis=tuple(range(lead))) if lead > 0 else g
        axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
    return g.astype(dtype) if dtype is not None else g


def host(a) -> np.ndarray | None:
    if a is None:
        return None
    data = a._data if hasattr(a, "_data") else a
    return np.array(to_host(data), copy=True)


def local_jacobians(node, grad_out: np.ndarray) -> list | None:
    """Per input of ``node``: its local Jacobian ``(out elements, input elements)``, measured
    by one call of the backward rule per output element (None when too big or impossible)."""
    shape = np.shape(grad_out)
    m = int(np.prod(shape)) if shape else 1
    if m > MAX_LOCAL or getattr(node, "_saved", None) is None:
        return None
    dtype = np.asarray(grad_out).dtype
    cols: list = []
    try:
        for i in range(m):
            e = np.zeros(m, dtype=dtype)
            e[i] = 1
            gs = node.apply_vjp(e.reshape(shape), False)
            if not cols:
                cols = [[] for _ in gs]
            for k, g in enumerate(gs):
                cols[k].append(None if g is None else reduce_to(node, k, host(g)).reshape(-1))
    except Exception:  # noqa: BLE001 - a rule that cannot run on its own: no local derivative
        return None
    return [None if any(r is None for r in rows) else np.stack(rows).astype(float)
            for rows in cols]


def chain_step(node, grad_out, grads_in, labels: list, output: str, root: str) -> ChainStep:
    """The ChainStep of a recorded backward step (``labels``: one per input slot)."""
    up = host(grad_out)
    jac = local_jacobians(node, up)
    parts, notes = [], []
    for k, g in enumerate(grads_in):
        if k >= len(labels) or labels[k] is None:
            continue
        sent = None if g is None else reduce_to(node, k, host(g))
        local = jac[k] if jac is not None and k < len(jac) else None
        if local is not None and sent is not None:
            product = np.asarray(up, dtype=float).reshape(-1) @ local
            if not np.allclose(product, np.asarray(sent, dtype=float).reshape(-1),
                               rtol=1e-4, atol=1e-6):
                notes.append(f"a hook changed the gradient sent to {labels[k]}")
        parts.append(ChainInput(labels[k], local, sent, tuple(np.shape(sent))))
    return ChainStep(node.name(), output, root, up, tuple(parts), notes=tuple(notes))
