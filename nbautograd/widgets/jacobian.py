"""``JacobianExplorer``: the Jacobian of ``func`` at ``x``, one row per backward pass. Choose an
output element; the widget shows its one-hot cotangent ``v``, runs
``autograd.grad(y, x, v, retain_graph=True)`` — which returns the row ``vᵀJ`` — and fills that
row of the heatmap. "fill all rows" does the rest; each row is checked against
``autograd.functional.jacobian(func, x, vectorize=True)`` (all rows in one batched pass).

Once every row is computed the graph is let go: the widget keeps numpy copies only.

>>> import nbautograd as torch
>>> from nbautograd.widgets import JacobianExplorer
>>> je = JacobianExplorer(lambda x: x ** 2, torch.tensor([1., 2., 3.]))
>>> je.computed, je.backward_passes
(1, 1)
>>> je.selector.value = 2
>>> je.rows[2].tolist(), je.computed
([0.0, 0.0, 6.0], 2)
>>> je.fill_button.click(); je
JacobianExplorer(shape=(3, 3), computed=3, matches=True)
"""
from __future__ import annotations

from typing import Any, Callable

import ipywidgets as W
import numpy as np

from ._common import FONT, MONO, error_html, esc, explain, fmt_number, note_html, snapshot


class JacobianExplorer(W.VBox):
    """Row-by-row Jacobian of ``func`` (one tensor in, one tensor out) at ``x``.
    ``names``: labels of the output and the input in the table (default ``("y", "x")``)."""

    def __init__(self, func: Callable, x: Any, names: tuple = ("y", "x"), **kwargs) -> None:
        from .. import autograd  # noqa: PLC0415
        self.func = func
        self.out_name, self.in_name = names
        self._x = x.detach().clone().requires_grad_(True)
        self._y = func(self._x)
        self._dtype = snapshot(self._y).dtype
        self.out_shape = tuple(self._y.shape)
        self.in_shape = tuple(x.shape)
        self.m, self.n = int(self._y.numel()), int(x.numel())
        self.reference = snapshot(autograd.functional.jacobian(
            func, x.detach(), vectorize=True)).reshape(self.m, self.n).astype(float)
        self.rows: list = [None] * self.m
        self.backward_passes = 0
        self.error: str | None = None
        self.selector = W.IntSlider(value=0, min=0, max=max(self.m - 1, 0),
                                    description=f"{self.out_name} index",
                                    disabled=self.m < 2, continuous_update=False,
                                    style={"description_width": "initial"})
        self.selector.add_class("nbag-jacobian-selector")
        self.fill_button = W.Button(description="fill all rows", icon="table")
        self.fill_button.add_class("nbag-fill-rows")
        self.onehot = W.HTML()
        self.onehot.add_class("nbag-onehot")
        self.heatmap = W.HTML()
        self.heatmap.add_class("nbag-jacobian")
        self.check = W.HTML()
        self.check.add_class("nbag-jacobian-check")
        super().__init__(children=[W.HBox([self.selector, self.fill_button]), self.onehot,
                                   self.heatmap, self.check], **kwargs)
        self.add_class("nbag-jacobian-explorer")
        self.selector.observe(self._on_select, names="value")
        self.fill_button.on_click(lambda _: self.fill_all())
        self._select(0)

    # --- computing rows -------------------------------------------------------------------
    def _onehot(self, i: int) -> np.ndarray:
        v = np.zeros(self.m, dtype=self._dtype)
        v[i] = 1
        return v

    def row(self, i: int) -> np.ndarray:
        """Row ``i`` of the Jacobian, by one backward pass with the one-hot ``v = e_i``."""
        if self.rows[i] is None:
            from .. import autograd  # noqa: PLC0415
            from .._tensor import wrap  # noqa: PLC0415
            v = wrap(self._onehot(i).reshape(self.out_shape))
            (g,) = autograd.grad(self._y, self._x, v, retain_graph=True, allow_unused=True)
            self.backward_passes += 1
            self.rows[i] = (np.zeros(self.n) if g is None
                            else snapshot(g).reshape(-1).astype(float))
            if self.computed == self.m:
                self._x = self._y = None        # done: keep numpy copies only
        return self.rows[i]

    @property
    def computed(self) -> int:
        return sum(r is not None for r in self.rows)

    def fill_all(self) -> None:
        """Compute every row still missing (one backward pass each)."""
        try:
            for i in range(self.m):
                if self.rows[i] is None:
                    self.row(i)
            self.error = None
        except Exception as e:  # noqa: BLE001 - shown, not raised
            self.error = f"{type(e).__name__}: {e}"
        self._render(self.selector.value)

    def _on_select(self, change) -> None:
        self._select(change["new"])

    def _select(self, i: int) -> None:
        try:
            self.row(i)
            self.error = None
        except Exception as e:  # noqa: BLE001
            self.error = f"{type(e).__name__}: {e}"
        self._render(i)

    # --- display --------------------------------------------------------------------------
    def _label(self, i: int, shape: tuple, name: str) -> str:
        if len(shape) <= 1:
            return f"{name}[{i}]"
        return f"{name}[{', '.join(str(int(k)) for k in np.unravel_index(i, shape))}]"

    def matches(self) -> bool:
        return all(r is None or np.allclose(r, self.reference[i], rtol=1e-5, atol=1e-6)
                   for i, r in enumerate(self.rows))

    def _render(self, i: int) -> None:
        from .. import viz  # noqa: PLC0415
        y, x = self.out_name, self.in_name
        cells = "".join(
            f'<td style="border:1px solid #d1d5db;padding:2px 8px;{MONO};'
            + ("background:#fde68a;font-weight:bold" if k == i else "color:#9ca3af")
            + f'">{1 if k == i else 0}</td>' for k in range(self.m))
        row = self.rows[i]
        self.onehot.value = (
            f'<div style="{FONT};margin:4px 0">one-hot cotangent for '
            f'<b>{esc(self._label(i, self.out_shape, y))}</b>: '
            f'<table style="display:inline-table;border-collapse:collapse;vertical-align:middle">'
            f'<tr><td style="padding:0 6px">v =</td>{cells}</tr></table><br>'
            f'<code>torch.autograd.grad({esc(y)}, {esc(x)}, v, retain_graph=True)</code> '
            f'returns vᵀJ, row {i} of the Jacobian: '
            f'<code class="nbag-row">{esc("[" + ", ".join(fmt_number(v) for v in row) + "]") if row is not None else "?"}'
            f'</code></div>')
        labels = [self._label(k, self.out_shape, y) for k in range(self.m)]
        cols = [self._label(k, self.in_shape, x) for k in range(self.n)]
        title = (f"∂{y}/∂{x}: {self.computed} of {self.m} rows computed "
                 f"({self.backward_passes} backward passes)")
        self.heatmap.value = viz.jacobian_html(self.rows, n_cols=self.n, current=i,
                                               row_labels=labels, col_labels=cols, title=title)
        if self.error:
            self.check.value = error_html(self.error.split(":")[0],
                                          self.error.partition(": ")[2], explain(self.error))
            return
        ok = self.matches()
        what = (f"all {self.m} rows" if self.computed == self.m
                else f"the {self.computed} rows computed so far")
        mark = ('<span style="color:#16a34a">✓</span>' if ok
                else '<span style="color:#dc2626">✗</span>')
        self.check.value = note_html(
            f"{mark} {what} {'match' if ok else 'DIFFER from'} "
            f"<code>torch.autograd.functional.jacobian(func, {esc(x)}, vectorize=True)</code>"
            " (every row in one batched backward pass)", "nbag-check-text")

    def close(self) -> None:
        self._x = self._y = None
        for w in (self.selector, self.fill_button, self.onehot, self.heatmap, self.check,
                  *self.children):
            w.close()
        super().close()

    def __repr__(self) -> str:
        return (f"JacobianExplorer(shape=({self.m}, {self.n}), computed={self.computed}, "
                f"matches={self.matches()})")
