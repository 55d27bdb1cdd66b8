"""``GraphWidget``: the graph in an ``HTML`` widget that redraws itself, about ten times a second
at most, while the engine records ops, runs a backward pass or accumulates a gradient.

Given tensors, it draws the graph behind them (with the gradients that flowed in the latest
backward pass); given a recording (``viz.record()`` or ``nbautograd.recording.record()``),
everything recorded; given nothing, it records from its creation on. ``stop()`` ends the live
updates and keeps only the last picture (plain data: no tensor stays referenced);
``close()`` also removes the widget.

>>> import nbautograd as torch
>>> from nbautograd.widgets import GraphWidget
>>> x = torch.tensor(2., requires_grad=True)
>>> y = x * x
>>> w = GraphWidget(y, names={"x": x, "y": y})
>>> y.backward(); w.flush()
>>> "<svg" in w.html.value, "grad 4" in w.view.dot
(True, True)
>>> w.close(); w
GraphWidget(live=False, roots=['y'], backward_nodes=2, tensors=2, edges=2)
"""
from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import ipywidgets as W

from .. import _events
from ._common import error_html, esc, is_tensor, note_html, tensor_names
from ._svg import boxed

_BACKWARD = (_events.BackwardStarted, _events.NodeExecuted, _events.GradAccumulated,
             _events.SavedFreed, _events.BackwardFinished, _events.EngineError,
             _events.GradChanged)
_TRIGGERS = _BACKWARD + (_events.OpRecorded,)


class GraphWidget(W.VBox):
    """A live graph view (see the module docstring). ``names`` (a mapping such as
    ``locals()``, or a callable returning one) labels tensors and is re-read at each redraw;
    the drawing options are those of ``viz.draw``; ``interval`` is the shortest time between
    two redraws, in seconds."""

    def __init__(self, *roots: Any, live: bool = True, names: Mapping | Callable | None = None,
                 interval: float = 0.1, show_values: bool = True, show_grads: bool = True,
                 show_saved: bool = False, rankdir: str = "BT", max_nodes: int = 200,
                 max_height: str = "480px", clock: Callable[[], float] = time.monotonic,
                 **kwargs) -> None:
        from .. import viz  # noqa: PLC0415
        self.html = W.HTML(layout=W.Layout(width="100%"))
        self.html.add_class("nbag-graph")
        self.status = W.HTML()
        self.status.add_class("nbag-graph-status")
        super().__init__(children=[self.html, self.status], **kwargs)
        self.add_class("nbag-graph-widget")
        self._roots = list(roots)
        self._own = None
        if not self._roots:                    # record from now on
            self._own = viz.record()
            self._own.__enter__()
            self._roots = [self._own]
        self._tensors = any(is_tensor(r) for r in self._roots)
        self._names = names
        self.options = dict(show_values=show_values, show_grads=show_grads,
                            show_saved=show_saved, rankdir=rankdir, max_nodes=max_nodes)
        self.interval = float(interval)
        self.max_height = max_height
        self._clock = clock
        self._next_ok = float("-inf")
        self._dirty = False
        self._rendering = False
        self._backward = None     # viz Recording of the latest backward (tensor roots)
        self._sub = None
        self._shell = None
        self.view = None          # the last viz.GraphView (plain data)
        self.renders = 0
        self.live = False
        self.error: str | None = None
        self.render()
        if live:
            self._start()
        else:
            self._release()

    # --- live updates ---------------------------------------------------------------------
    def _start(self) -> None:
        self._sub = _events.subscribed(self._on_event)
        self._sub.__enter__()
        self.live = True
        try:
            from IPython import get_ipython  # noqa: PLC0415
            self._shell = get_ipython()
        except ImportError:  # pragma: no cover - IPython comes with ipywidgets
            self._shell = None
        if self._shell is not None:
            self._shell.events.register("post_run_cell", self._after_cell)
        self._show_status()

    def _on_event(self, ev) -> None:
        if self._rendering or not isinstance(ev, _TRIGGERS):
            return
        try:
            if self._tensors and isinstance(ev, _BACKWARD):
                if isinstance(ev, _events.BackwardStarted):
                    from .. import viz  # noqa: PLC0415
                    self._backward = viz.Recording()
                if self._backward is not None:
                    self._backward(ev)
            self._dirty = True
            if self._clock() >= self._next_ok:
                self.render()
        except Exception as e:  # noqa: BLE001 - never break the user's computation
            self.error = f"{type(e).__name__}: {e}"

    def _after_cell(self, *args) -> None:
        self.flush()

    def flush(self) -> None:
        """Redraw now if something changed since the last redraw."""
        if self._dirty:
            self.render()

    def render(self) -> None:
        """Draw the graph now and put it in the widget."""
        from .. import viz  # noqa: PLC0415
        if self._rendering or not self._roots:
            return
        self._rendering = True
        start = self._clock()
        try:
            rec = self._backward if self._backward is not None and self._tensors else None
            view = viz.draw(*self._roots, names=tensor_names(self._names), recording=rec,
                            **self.options)
            if not view.snapshot.nodes and not view.snapshot.tensors:
                self.html.value = note_html("<i>no ops recorded yet</i>")
            else:
                self.html.value = boxed(view.svg(), self.max_height)
            self.view = view
            self.error = None
        except Exception as e:  # noqa: BLE001 - shown in the widget, not raised
            self.error = f"{type(e).__name__}: {e}"
            self.html.value = error_html(type(e).__name__, str(e))
        finally:
            self._rendering = False
            self._dirty = False
            self.renders += 1
            took = self._clock() - start
            # a slow drawing (a big graph) must not slow a loop down: wait longer after it
            self._next_ok = self._clock() + max(self.interval, 4 * took)
        self._show_status()

    def _show_status(self) -> None:
        if self.view is None:
            text = ""
        else:
            s = self.view.snapshot
            n = len(s.nodes) + sum(len(f.members) for f in s.folds)
            text = f"{n} backward nodes" + (" · gradients as they flowed"
                                           if s.grads == "recorded" else "")
        state = ('<span style="color:#16a34a">● live</span>' if self.live
                 else '<span style="color:#6b7280">■ stopped</span>')
        self.status.value = note_html(f"{state} · {esc(text)}", "nbag-status")

    # --- the end --------------------------------------------------------------------------
    def stop(self) -> None:
        """End the live updates: draw once more, then keep the picture and drop every
        reference to tensors, nodes and recordings."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            sub.__exit__(None, None, None)
        if self._shell is not None:
            try:
                self._shell.events.unregister("post_run_cell", self._after_cell)
            except ValueError:
                pass
            self._shell = None
        if self.live:
            self.live = False
            self.render()
        self._release()

    def _release(self) -> None:
        if self._own is not None:
            own, self._own = self._own, None
            own.__exit__(None, None, None)
        self._roots, self._names, self._backward = [], None, None
        self.live = False
        self._show_status()

    def close(self) -> None:
        """Stop and remove the widget (and its parts) from the front end."""
        self.stop()
        for w in (self.html, self.status):
            w.close()
        super().close()

    def __repr__(self) -> str:
        inner = repr(self.view)[len("GraphView("):-1] if self.view is not None else "empty"
        return f"GraphWidget(live={self.live}, {inner})"


class LiveCellGraph:
    """``%%autograd --live`` with a GraphWidget: the same ``start(rec)``, ``stop()`` and
    ``finish(report)`` as the magic's display-handle helper. The widget follows the cell's
    recording while it runs; at the end the report takes its place."""

    def __init__(self, shell, opts: dict) -> None:
        self.shell, self.opts = shell, opts
        self.widget: GraphWidget | None = None
        self.handle = None

    def start(self, rec) -> None:
        from IPython.display import display  # noqa: PLC0415
        self.widget = GraphWidget(rec, live=True, names=lambda: self.shell.user_ns,
                                  show_values=self.opts.get("values", True),
                                  rankdir=self.opts.get("rankdir", "BT"),
                                  max_nodes=self.opts.get("max_nodes", 200))
        self.handle = display(self.widget, display_id=True)

    def stop(self) -> None:
        if self.widget is not None:
            self.widget.stop()

    def finish(self, report) -> None:
        if self.handle is not None:
            self.handle.update(report)
        if self.widget is not None:
            self.widget.close()
