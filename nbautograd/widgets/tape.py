"""``TapePlayer``: play, step or scrub through the tape — the forward ops in the order they
were recorded, then the steps of one backward pass — with the current box highlighted on the
graph and, for a backward step, the chain rule in numbers (upstream gradient × local
derivative = gradient sent to each input).

Everything is worked out when the player is made (``_tape.plan``): afterwards it holds numpy
copies and SVG text only, so it keeps no graph alive.

>>> import nbautograd as torch
>>> from nbautograd.widgets import TapePlayer
>>> x = torch.tensor(2., requires_grad=True)
>>> y = torch.sin(x) + torch.cos(x)
>>> p = TapePlayer(y, names={"x": x, "y": y})
>>> p
TapePlayer(steps=7, forward=3, backward=4, step=1)
>>> p.slider.value = 5
>>> p.current.chain.text()
'CosBackward0: x ← 1.0000 × -0.9093 = -0.9093'
"""
from __future__ import annotations

from typing import Any, Mapping

import ipywidgets as W

from ._common import FONT, esc, note_html
from ._svg import boxed, mark
from ._tape import plan


class TapePlayer(W.VBox):
    """Steps through ``root_or_report``: a tensor (with ``names=locals()`` for labels), an
    ``%%autograd`` report (``-o NAME``) or an ``nbautograd.recording.Recording``.
    ``interval``: milliseconds per step when playing."""

    def __init__(self, root_or_report: Any, names: Mapping | None = None, interval: int = 1000,
                 rankdir: str = "BT", max_nodes: int = 200, max_height: str = "420px",
                 **kwargs) -> None:
        self.plan = plan(root_or_report, names=names, rankdir=rankdir, max_nodes=max_nodes)
        n = max(len(self.plan.steps), 1)
        self.play = W.Play(value=1, min=1, max=n, step=1, interval=interval,
                           description="play", show_repeat=False)
        self.slider = W.IntSlider(value=1, min=1, max=n, description="step",
                                  continuous_update=True)
        self.slider.add_class("nbag-tape-slider")
        self._link = W.link((self.play, "value"), (self.slider, "value"))
        self.back = W.Button(description="◀", tooltip="one step back",
                             layout=W.Layout(width="40px"))
        self.forward = W.Button(description="▶", tooltip="one step forward",
                                layout=W.Layout(width="40px"))
        self.back.add_class("nbag-step-back")
        self.forward.add_class("nbag-step-next")
        self.title = W.HTML()
        self.title.add_class("nbag-step-title")
        self.graph = W.HTML()
        self.graph.add_class("nbag-graph")
        self.info = W.HTML()
        self.info.add_class("nbag-step")
        notes = "".join(f"<div>{esc(t)}</div>" for t in self.plan.notes)
        self.notes = W.HTML(note_html(notes, "nbag-notes") if notes else "")
        self.max_height = max_height
        self._svgs: dict[int, str] = {}
        super().__init__(children=[W.HBox([self.play, self.back, self.slider, self.forward]),
                                   self.title, self.graph, self.info, self.notes], **kwargs)
        self.add_class("nbag-tape-player")
        self.back.on_click(lambda _: self._step(-1))
        self.forward.on_click(lambda _: self._step(+1))
        self.slider.observe(self._on_value, names="value")
        self._show(1)

    @property
    def n_forward(self) -> int:
        return len(self.plan.op_ids)

    @property
    def current(self):
        """The step shown now (kind, node, title, body and, for backward, the chain rule)."""
        return self.plan.steps[self.slider.value - 1]

    def _step(self, delta: int) -> None:
        self.slider.value = min(max(self.slider.value + delta, 1), self.slider.max)

    def _on_value(self, change) -> None:
        self._show(change["new"])

    def svg(self, i: int) -> str:
        """The graph SVG of step index ``i`` (from 0), marked: the current box highlighted; in the forward
        steps the ops not run yet faded; in the backward steps the edges no gradient has been
        sent along yet faded and the current step's outgoing gradients in red."""
        if i in self._svgs:
            return self._svgs[i]
        p, step = self.plan, self.plan.steps[i]
        if step.kind == "forward":
            later = p.op_ids[i + 1:]
            svg = mark(p.forward_svg, current=step.node, dim_nodes=later)
        else:
            done = {s.node for s in p.steps[self.n_forward:i + 1] if s.node}
            waiting = [nid for nid in p.op_ids if nid not in done]
            svg = mark(p.backward_svg, current=step.node, dim_edges_into=waiting,
                       flow_from=step.node if step.kind == "backward" else None)
        self._svgs[i] = svg
        return svg

    def _show(self, value: int) -> None:
        if not self.plan.steps:
            self.title.value = note_html("<i>nothing to play</i>")
            return
        i = value - 1
        step = self.plan.steps[i]
        color = "#1d4ed8" if step.kind == "forward" else "#b91c1c"
        phase = "forward pass" if step.kind == "forward" else "backward pass"
        self.title.value = (f'<div style="{FONT};margin:4px 0"><span style="color:{color};'
                            f'font-weight:bold">{phase}</span> · step {i + 1} of '
                            f'{len(self.plan.steps)} · {esc(step.title)}</div>')
        self.graph.value = boxed(self.svg(i), self.max_height)
        self.info.value = step.body

    def close(self) -> None:
        if self._link is not None:
            link, self._link = self._link, None
            link.unlink()
        for w in (self.play, self.slider, self.back, self.forward, self.title, self.graph,
                  self.info, self.notes, *self.children):
            w.close()
        super().close()

    def __repr__(self) -> str:
        n = len(self.plan.steps)
        return (f"TapePlayer(steps={n}, forward={self.n_forward}, "
                f"backward={n - self.n_forward}, step={self.slider.value})")
