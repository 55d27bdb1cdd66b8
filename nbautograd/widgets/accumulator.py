"""``GradAccumulator``: the four things that change a leaf's ``.grad`` — ``backward()``,
``backward(retain_graph=True)``, ``grad.zero_()`` and ``grad = None`` — as buttons, with the
ledger of each leaf's ``.grad`` after every click, a chart of it, and the graph (freed saved
values greyed out). PyTorch's error text appears in the widget when a backward runs through a
freed graph; nothing is raised and nothing is printed.

>>> import nbautograd as torch
>>> from nbautograd.widgets import GradAccumulator
>>> x = torch.tensor(2., requires_grad=True)
>>> y = torch.sin(x) + torch.cos(x)
>>> acc = GradAccumulator(y, {"x": x})
>>> acc.retain_button.click(); acc.retain_button.click()
>>> acc.values("x")
['-1.3254', '-2.6509']
>>> acc.backward_button.click(); acc.backward_button.click()
>>> acc.error.split(".")[0]
'RuntimeError: Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed)'
>>> acc
GradAccumulator(leaves=['x'], steps=4, error=True)
"""
from __future__ import annotations

from typing import Any, Mapping

import ipywidgets as W
import numpy as np

from ._chart import line_chart
from ._common import (FONT, MONO, error_html, esc, explain, fmt, is_tensor, name_of,
                      note_html, scalar, snapshot, tensor_names)
from ._svg import boxed


_NO_GRAD = ("There is no gradient yet: .grad is None until a backward() writes it, so there "
            "is nothing to zero.")


class GradAccumulator(W.VBox):
    """Buttons that run ``output.backward(...)`` and reset the ``.grad`` of ``leaves`` (a
    tensor, a list, or ``{name: tensor}``), with a ledger and a chart of every leaf's
    ``.grad``. ``names`` (e.g. ``locals()``) labels the graph and list-given leaves;
    ``gradient`` is passed to ``backward`` (for non-scalar outputs). ``release()`` ends the
    session: the buttons are disabled and only numpy copies are kept."""

    def __init__(self, output: Any, leaves: Any, names: Mapping | None = None,
                 gradient: Any = None, show_graph: bool = True, max_height: str = "360px",
                 **kwargs) -> None:
        names = tensor_names(names)
        if is_tensor(leaves):
            leaves = [leaves]
        if isinstance(leaves, Mapping):
            pairs = list(leaves.items())
        else:
            pairs = [(name_of(t, names, f"x{i}" if len(leaves) > 1 else "x"), t)
                     for i, t in enumerate(leaves)]
        self.names = [k for k, _ in pairs]
        self._leaves = [t for _, t in pairs]
        self._output = output
        self._gradient = gradient
        self._graph_names = {**names, **dict(pairs)}
        if not any(v is output for v in self._graph_names.values()):
            self._graph_names["y"] = output
        self.history: list[tuple[str, dict]] = []     # (label, {leaf name: .grad copy})
        self.error: str | None = None
        self.show_graph = show_graph
        self.max_height = max_height
        self.backward_button = W.Button(description="backward()", button_style="primary",
                                        tooltip="output.backward()")
        self.retain_button = W.Button(description="backward(retain_graph=True)",
                                      button_style="info", layout=W.Layout(width="auto"),
                                      tooltip="output.backward(retain_graph=True)")
        self.zero_button = W.Button(description="grad.zero_()", tooltip="leaf.grad.zero_()")
        self.none_button = W.Button(description="grad = None", tooltip="leaf.grad = None")
        for b, cls in ((self.backward_button, "nbag-backward"),
                       (self.retain_button, "nbag-backward-retain"),
                       (self.zero_button, "nbag-zero"), (self.none_button, "nbag-none")):
            b.add_class(cls)
        self.status = W.HTML()
        self.status.add_class("nbag-acc-status")
        self.values_html = W.HTML()
        self.values_html.add_class("nbag-acc-values")
        self.ledger = W.HTML()
        self.ledger.add_class("nbag-ledger")
        self.chart = W.HTML()
        self.chart.add_class("nbag-chart")
        self.graph = W.HTML()
        self.graph.add_class("nbag-graph")
        buttons = W.HBox([self.backward_button, self.retain_button, self.zero_button,
                          self.none_button])
        body = W.HBox([W.VBox([self.values_html, self.ledger, self.chart]), self.graph])
        super().__init__(children=[buttons, self.status, body], **kwargs)
        self.add_class("nbag-grad-accumulator")
        self.backward_button.on_click(lambda _: self._run(self._backward, False))
        self.retain_button.on_click(lambda _: self._run(self._backward, True))
        self.zero_button.on_click(lambda _: self._run(self._zero))
        self.none_button.on_click(lambda _: self._run(self._none))
        self._draw_graph()
        self._refresh("ready: click backward() to run the backward pass")

    # --- actions --------------------------------------------------------------------------
    def _run(self, action, *args) -> None:
        """Run a button's action; an error is shown in the widget, never raised."""
        if self._output is None:
            self._refresh("released: the widget keeps its record but can no longer run")
            return
        try:
            msg = action(*args)
            self.error = None
        except Exception as e:  # noqa: BLE001 - the widget shows what PyTorch would raise
            self.error = f"{type(e).__name__}: {e}"
            why = explain(str(e)) or (_NO_GRAD if "zero_" in str(e) else "")
            self.status.value = error_html(type(e).__name__, str(e), why)
            self._record(f"{self._call(*args) if action == self._backward else 'error'}: "
                         f"{type(e).__name__}", error=True)
            self._draw_graph()
            self._render_tables()
            return
        self._draw_graph()
        self._refresh(msg)

    def _call(self, retain: bool = False) -> str:
        return "backward(retain_graph=True)" if retain else "backward()"

    def _backward(self, retain: bool) -> str:
        self._output.backward(self._gradient, retain_graph=retain or None)
        self._record(f"backward #{self._count('backward') + 1}" + (" (retain)" if retain else ""))
        vals = ", ".join(f"{n}.grad = {fmt(g)}" for n, g in self.history[-1][1].items())
        return f"<code>{self._call(retain)}</code> added the gradients: {esc(vals)}" + (
            "" if retain else " · the graph's saved values are now freed")

    def _zero(self) -> str:
        missing = [n for n, t in zip(self.names, self._leaves) if t.grad is None]
        if len(missing) == len(self._leaves):
            raise AttributeError("'NoneType' object has no attribute 'zero_'")
        for t in self._leaves:
            if t.grad is not None:
                t.grad.zero_()
        self._record("grad.zero_()")
        return "<code>grad.zero_()</code>: the gradients are zero, the next backward adds to 0"

    def _none(self) -> str:
        for t in self._leaves:
            t.grad = None
        self._record("grad = None")
        return "<code>grad = None</code>: the next backward writes a fresh gradient"

    def _count(self, prefix: str) -> int:
        return sum(1 for label, _ in self.history if label.startswith(prefix))

    def _record(self, label: str, error: bool = False) -> None:
        grads = {n: None if t.grad is None else snapshot(t.grad)
                 for n, t in zip(self.names, self._leaves)}
        self.history.append((("✗ " if error else "") + label, grads))

    # --- display --------------------------------------------------------------------------
    def values(self, name: str) -> list[str]:
        """``name.grad`` after each successful backward click, as the widget writes it."""
        return [fmt(g[name]) for label, g in self.history
                if label.startswith("backward") and g.get(name) is not None]

    def _refresh(self, message: str) -> None:
        self.status.value = note_html(message)
        self._render_tables()

    def _render_tables(self) -> None:
        from .. import viz  # noqa: PLC0415
        lines = []
        for n in self.names:
            vals = self.values(n)
            lines.append(f'<div class="nbag-acc-value" data-leaf="{esc(n)}"><b>{esc(n)}.grad'
                         f'</b> after each backward: <span class="nbag-acc-list" '
                         f'style="{MONO}">{esc(", ".join(vals)) if vals else "—"}</span></div>')
        self.values_html.value = f'<div style="{FONT}">{"".join(lines)}</div>'
        tables = []
        for n in self.names:
            entries, before = [], None
            for label, g in self.history:
                now = g.get(n)
                added = None
                if label.startswith("backward") and now is not None:
                    added = now - (0 if before is None else before)
                entries.append(viz.LedgerEntry(label, now, added))
                before = now
            tables.append(viz.ledger_html(entries, n))
        self.ledger.value = "".join(tables) if self.history else ""
        series = {n: [None if g.get(n) is None else scalar(g[n]) for _, g in self.history]
                  for n in self.names}
        many = any(g.get(n) is not None and np.size(g[n]) > 1
                   for _, g in self.history for n in self.names)
        self.chart.value = line_chart(series, [lab for lab, _ in self.history],
                                      title=".grad norm after each step" if many
                                      else ".grad after each step")

    def _draw_graph(self) -> None:
        if not self.show_graph or self._output is None:
            return
        from .. import viz  # noqa: PLC0415
        try:
            view = viz.draw(self._output, names=self._graph_names)
            self.graph.value = boxed(view.svg(), self.max_height)
        except Exception as e:  # noqa: BLE001
            self.graph.value = error_html(type(e).__name__, str(e))

    # --- the end --------------------------------------------------------------------------
    def release(self) -> None:
        """Stop: disable the buttons and drop the tensors (the ledger and chart stay)."""
        self._output = self._gradient = None
        self._leaves, self._graph_names = [], {}
        for b in (self.backward_button, self.retain_button, self.zero_button, self.none_button):
            b.disabled = True

    def close(self) -> None:
        self.release()
        for w in (self.backward_button, self.retain_button, self.zero_button,
                  self.none_button, self.status, self.values_html, self.ledger, self.chart,
                  self.graph, *self.children):
            w.close()
        super().close()

    def __repr__(self) -> str:
        return (f"GradAccumulator(leaves={self.names}, steps={len(self.history)}, "
                f"error={self.error is not None})")
