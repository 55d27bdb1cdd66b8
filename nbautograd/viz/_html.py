"""HTML views built from plain data: a gradient ledger and a Jacobian heatmap.

Both are pure functions of numbers and strings (shared by the graph views, the magics and the
widgets), with inline styles only and fixed number formatting, so the same data gives the
same HTML byte for byte.

>>> import numpy as np
>>> entries = [LedgerEntry("backward #1", np.array([2.0]), np.array([2.0])),
...            LedgerEntry("backward #2", np.array([4.0]), np.array([2.0]))]
>>> "<svg" in ledger_html(entries, "x")
True
>>> html = jacobian_html([np.array([1.0, 0.0]), None])
>>> html.count("<tr"), "pending" in html
(3, True)
"""
from __future__ import annotations

import html as _html
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._values import fmt_number, scalar_trace, summarize

_TABLE = ("border-collapse:collapse;font-family:Helvetica,Arial,sans-serif;font-size:12px;"
          "margin:4px 0")
_TH = "border:1px solid #d1d5db;padding:2px 8px;background:#f3f4f6;text-align:left"
_TD = "border:1px solid #d1d5db;padding:2px 8px;font-family:Menlo,Consolas,monospace"


@dataclass(frozen=True)
class LedgerEntry:
    """One step of a leaf's ``.grad`` history: after a backward call, or a reset."""
    label: str                      # "backward #2", "grad.zero_()", "grad = None"
    grad: np.ndarray | None         # ``.grad`` after this step (None: no gradient)
    added: np.ndarray | None = None  # what this step added into ``.grad`` (None for resets)


_HOW = {"zero": "grad.zero_()", "fill": "grad.fill_()", "none": "grad = None", "set": "grad set"}


def as_ledger_entries(entries) -> list[LedgerEntry]:
    """Ledger entries from this module's ``LedgerEntry`` or from ``nbautograd.recording``'s
    (``how``/``call``/``before``/``after``), or from its ``Ledger`` object."""
    entries = getattr(entries, "entries", entries)
    out = []
    for e in entries:
        if isinstance(e, LedgerEntry):
            out.append(e)
            continue
        how = getattr(e, "how", "backward")
        if how == "backward":
            call = getattr(e, "call", None)
            out.append(LedgerEntry("backward" if call is None else f"backward #{call + 1}",
                                   e.after, e.added))
        else:
            out.append(LedgerEntry(_HOW.get(how, how), e.after, None))
    return out


def _signed(text: str) -> str:
    """An increment with its sign: "+2", "-1.325" (never "+-1.325")."""
    return text if text.startswith("-") else "+" + text


def sparkline_svg(values: Sequence[float], width: int = 120, height: int = 24) -> str:
    """A tiny inline SVG line chart of ``values`` (the last point marked).

    >>> sparkline_svg([1, 2, 3]).startswith("<svg")
    True
    """
    vals = [float(v) for v in values]
    if not vals:
        return ""
    finite = [v for v in vals if np.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
    pad = 3.0
    span_x = (width - 2 * pad) / max(len(vals) - 1, 1)
    pts = []
    for i, v in enumerate(vals):
        v = v if np.isfinite(v) else lo
        frac = 0.5 if hi == lo else (v - lo) / (hi - lo)
        pts.append((pad + i * span_x if len(vals) > 1 else width / 2,
                    height - pad - frac * (height - 2 * pad)))
    poly = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    lx, ly = pts[-1]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" style="vertical-align:middle">'
            f'<polyline points="{poly}" fill="none" stroke="#2563eb" stroke-width="1.5"/>'
            f'<circle cx="{lx:.1f}" cy="{ly:.1f}" r="2.5" fill="#b91c1c"/></svg>')


def ledger_html(entries, name: str = "x") -> str:
    """A table of ``name.grad`` after each step, what each step added, and a sparkline of
    its value (its L2 norm for several elements) over the steps. ``entries``: LedgerEntry
    items, or a ``nbautograd.recording`` Ledger (or its entries).

    >>> import numpy as np
    >>> "x.grad" in ledger_html([LedgerEntry("backward #1", np.array(1.0), np.array(1.0))])
    True
    """
    esc = _html.escape
    entries = as_ledger_entries(entries)
    rows = [f'<tr><th style="{_TH}">#</th><th style="{_TH}">step</th>'
            f'<th style="{_TH}">{esc(name)}.grad</th><th style="{_TH}">added</th></tr>']
    for i, e in enumerate(entries, 1):
        grad = "None" if e.grad is None else summarize(e.grad)
        added = "" if e.added is None else _signed(summarize(e.added))
        style = _TD if e.added is not None else _TD + ";color:#6b7280;font-style:italic"
        rows.append(f'<tr><td style="{_TD}">{i}</td><td style="{style}">{esc(e.label)}</td>'
                    f'<td style="{_TD}">{esc(grad)}</td><td style="{_TD}">{esc(added)}</td></tr>')
    trace = [0.0 if e.grad is None else scalar_trace(e.grad) for e in entries]
    what = "value" if all(e.grad is None or np.asarray(e.grad).size == 1 for e in entries) \
        else "norm"
    caption = (f'<caption style="caption-side:bottom;text-align:left;color:#4b5563;'
               f'padding-top:4px">{esc(name)}.grad {what} over {len(entries)} steps '
               f'{sparkline_svg(trace)}</caption>')
    return (f'<table class="nbautograd-ledger" style="{_TABLE}">{caption}'
            + "".join(rows) + "</table>")


def _heat(v: float, vmax: float) -> str:
    """Diverging colour: red for positive, blue for negative, white for zero."""
    if not np.isfinite(v):
        return "#fde68a"
    a = int(round(min(abs(v) / vmax, 1.0) * 160)) if vmax > 0 else 0
    lo = 255 - a
    return f"#ff{lo:02x}{lo:02x}" if v > 0 else f"#{lo:02x}{lo:02x}ff" if v < 0 else "#ffffff"


def jacobian_html(rows: Sequence, n_cols: int | None = None, current: int | None = None,
                  row_labels: Sequence[str] | None = None,
                  col_labels: Sequence[str] | None = None, title: str | None = None) -> str:
    """A Jacobian as a heatmap table: row ``i`` holds ``d y[i] / d x``; rows not computed yet
    (None) are drawn empty; ``current`` marks the row being computed.

    >>> import numpy as np
    >>> "▶" in jacobian_html([np.array([1.0, 2.0]), None], current=0)
    True
    """
    esc = _html.escape
    arrs = [None if r is None else np.asarray(r, dtype=float).reshape(-1) for r in rows]
    if n_cols is None:
        n_cols = max((a.size for a in arrs if a is not None), default=0)
    done = [a for a in arrs if a is not None and a.size]
    vmax = max((float(np.max(np.abs(a[np.isfinite(a)]))) if np.isfinite(a).any() else 0.0
                for a in done), default=0.0)
    row_labels = list(row_labels) if row_labels is not None else [f"y[{i}]"
                                                                 for i in range(len(arrs))]
    col_labels = list(col_labels) if col_labels is not None else [f"x[{j}]"
                                                                 for j in range(n_cols)]
    head = "".join(f'<th style="{_TH}">{esc(c)}</th>' for c in col_labels)
    out = [f'<tr><th style="{_TH}"></th>{head}</tr>']
    for i, a in enumerate(arrs):
        mark = i == current
        edge = ";border-top:2px solid #2563eb;border-bottom:2px solid #2563eb" if mark else ""
        lab = ("▶ " if mark else "") + row_labels[i]
        lab_style = _TH + (";font-weight:bold" if mark else "") + \
            (";color:#9ca3af" if a is None else "")
        cells = []
        for j in range(n_cols):
            if a is None or j >= a.size:
                cells.append(f'<td class="pending" style="{_TD};background:#f9fafb{edge}"></td>')
            else:
                cells.append(f'<td style="{_TD};text-align:right;background:'
                             f'{_heat(float(a[j]), vmax)}{edge}">{esc(fmt_number(a[j]))}</td>')
        out.append(f'<tr><th style="{lab_style}">{esc(lab)}</th>{"".join(cells)}</tr>')
    filled = sum(a is not None for a in arrs)
    cap = title if title is not None else f"Jacobian: {filled} of {len(arrs)} rows computed"
    caption = (f'<caption style="caption-side:bottom;text-align:left;color:#4b5563;'
               f'padding-top:4px">{esc(cap)}</caption>')
    return (f'<table class="nbautograd-jacobian" style="{_TABLE}">{caption}'
            + "".join(out) + "</table>")


@dataclass(frozen=True)
class GradLedger:
    """A leaf's ``.grad`` history as plain data; displays as the ledger table."""
    name: str
    entries: tuple[LedgerEntry, ...] = ()

    def html(self) -> str:
        return ledger_html(self.entries, self.name)

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return f"GradLedger({self.name!r}, steps={len(self.entries)})"


@dataclass(frozen=True)
class JacobianTable:
    """Rows of a Jacobian (None: not computed yet) as plain data; displays as a heatmap."""
    rows: tuple
    current: int | None = None
    row_labels: tuple | None = None
    col_labels: tuple | None = None

    def html(self) -> str:
        return jacobian_html(self.rows, current=self.current, row_labels=self.row_labels,
                             col_labels=self.col_labels)

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        done = sum(r is not None for r in self.rows)
        return f"JacobianTable(rows={len(self.rows)}, computed={done})"
