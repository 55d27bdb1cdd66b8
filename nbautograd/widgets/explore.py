"""``explore(func, x=2.0, ...)``: interact-style sliders for the inputs of ``func``; each move
rebuilds the graph from fresh leaves, runs ``backward()`` and redraws it with the new values
and gradients.

>>> from nbautograd.widgets import explore
>>> import nbautograd as torch
>>> ex = explore(lambda x: torch.sin(x) + torch.cos(x), x=2.0)
>>> ex.value, ex.grads["x"]
('0.4932', '-1.3254')
>>> ex.sliders["x"].value = 0.0
>>> ex.value, ex.grads["x"]
('1.0000', '1.0000')
>>> ex
Explorer(inputs=['x'], x=0.0, out=1.0000)
"""
from __future__ import annotations

from typing import Any, Callable

import ipywidgets as W

from ._common import FONT, MONO, error_html, esc, explain, fmt, note_html
from ._svg import boxed


def _slider(name: str, spec: Any) -> W.FloatSlider:
    """A FloatSlider from a value (range as ``interact`` picks it), ``(min, max)``,
    ``(min, max, step)`` or a FloatSlider."""
    if isinstance(spec, W.FloatSlider):
        spec.description = spec.description or name
        return spec
    if isinstance(spec, tuple):
        lo, hi = float(spec[0]), float(spec[1])
        step = float(spec[2]) if len(spec) > 2 else (hi - lo) / 100
        value = (lo + hi) / 2
    else:
        value = float(spec)
        lo, hi = (-value, 3 * value) if value > 0 else (3 * value, -value) if value < 0 \
            else (-1.0, 1.0)
        step = (hi - lo) / 100
    return W.FloatSlider(value=value, min=lo, max=hi, step=step, description=name,
                         continuous_update=True, readout_format=".2f")


class Explorer(W.VBox):
    """Sliders for ``func``'s inputs, its graph, its value and its gradients (see
    ``explore``). Holds ``func`` and the numbers shown; no tensor outlives an update."""

    def __init__(self, func: Callable, inputs: dict, out_name: str | None = None,
                 max_height: str = "720px", **kwargs) -> None:
        if not inputs:
            raise TypeError("explore() needs at least one input, e.g. explore(f, x=2.0)")
        self.func = func
        name = getattr(func, "__name__", "out")
        self.out_name = out_name or ("out" if name == "<lambda>" else name)
        self.sliders = {k: _slider(k, v) for k, v in inputs.items()}
        for s in self.sliders.values():
            s.add_class("nbag-explore-slider")
        self.summary = W.HTML()
        self.summary.add_class("nbag-explore-summary")
        self.graph = W.HTML()
        self.graph.add_class("nbag-graph")
        self.max_height = max_height
        self.value: str | None = None
        self.grads: dict[str, str] = {}
        self.error: str | None = None
        self.updates = 0
        self._left = W.VBox([*self.sliders.values(), self.summary],
                            layout=W.Layout(min_width="320px", margin="0 16px 0 0"))
        self._row = W.HBox([self._left, self.graph])
        super().__init__(children=[self._row], **kwargs)
        self.add_class("nbag-explorer")
        for s in self.sliders.values():
            s.observe(self._on_change, names="value")
        self.update()

    def _on_change(self, change) -> None:
        self.update()

    def update(self) -> None:
        """Rebuild the graph at the sliders' values, backpropagate, redraw."""
        import nbautograd as torch  # noqa: PLC0415
        from .. import viz  # noqa: PLC0415
        leaves = {k: torch.tensor(float(s.value), requires_grad=True)
                  for k, s in self.sliders.items()}
        self.updates += 1
        try:
            with viz.record() as rec:
                out = self.func(**leaves)
                if not hasattr(out, "grad_fn"):
                    raise TypeError(f"explore: func must return a tensor, got "
                                    f"{type(out).__name__}")
                if out.requires_grad:   # retained: the picture shows saved values, not freed
                    out.backward(torch.ones_like(out) if out.numel() != 1 else None,
                                 retain_graph=True)
            names = {**leaves, self.out_name: out}
            view = viz.draw(out, names=names, recording=rec)
            self.value = fmt(out.detach().numpy())
            self.grads = {k: fmt(None if t.grad is None else t.grad.numpy())
                          for k, t in leaves.items()}
            self.error = None
            self.graph.value = boxed(view.svg(), self.max_height)
            args = ", ".join(f"{k}={s.value:.2f}" for k, s in self.sliders.items())
            grads = "".join(f'<br>∂{esc(self.out_name)}/∂{esc(k)} = <b class="nbag-grad" '
                            f'data-input="{esc(k)}">{esc(g)}</b>' for k, g in self.grads.items())
            self.summary.value = (f'<div style="{FONT}"><span style="{MONO}">'
                                  f'{esc(self.out_name)}({esc(args)}) = '
                                  f'<b class="nbag-value">{esc(self.value)}</b>{grads}'
                                  f'</span></div>')
        except Exception as e:  # noqa: BLE001 - shown in the widget, not raised
            self.error = f"{type(e).__name__}: {e}"
            self.summary.value = error_html(type(e).__name__, str(e), explain(str(e)))
            self.graph.value = note_html("<i>no graph</i>")

    def close(self) -> None:
        for w in (*self.sliders.values(), self.summary, self.graph, self._left, self._row):
            w.close()
        super().close()

    def __repr__(self) -> str:
        vals = ", ".join(f"{k}={s.value!r}" for k, s in self.sliders.items())
        return f"Explorer(inputs={list(self.sliders)}, {vals}, {self.out_name}={self.value})"


def explore(func: Callable, out_name: str | None = None, **inputs: Any) -> Explorer:
    """Sliders for ``func``'s keyword inputs (``x=2.0``: a slider around 2; ``x=(-3, 3)``: a
    range; or a FloatSlider); the graph of ``func(**inputs)`` with its values and
    gradients follows them."""
    return Explorer(func, inputs, out_name=out_name)
