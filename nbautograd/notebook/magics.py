"""IPython magics: ``%%autograd`` traces a cell and shows its graph, its gradient accumulation
and its Jacobian rows; ``%autograd_graph EXPR`` draws the graph behind an expression.

Thin by design: arguments are parsed here, the work is ``recording.record`` and
``notebook.report.build_report``.
"""
from __future__ import annotations

import time

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from traitlets import Bool, CaselessStrEnum, Int

from ..recording import record
from .report import build_report, tensor_names

_RANKDIRS = ["BT", "TB", "LR", "RL"]


@magics_class
class AutogradMagics(Magics):
    """The nbautograd magics. Defaults are configurable, e.g.
    ``%config AutogradMagics.rankdir = "LR"``."""

    graph = Bool(True, help="Draw the graph of the cell.").tag(config=True)
    values = Bool(True, help="Show tensor values on the graph.").tag(config=True)
    ledger = Bool(None, allow_none=True,
                  help="Show the gradient ledger (default: when backward ran more than once)."
                  ).tag(config=True)
    rankdir = CaselessStrEnum(_RANKDIRS, default_value="BT",
                              help="Graph direction: BT, TB, LR or RL.").tag(config=True)
    max_nodes = Int(200, help="Fold the graph beyond this many boxes.").tag(config=True)
    text = Bool(False, help="Text rendering of the graph instead of SVG.").tag(config=True)

    @magic_arguments()
    @argument("--no-graph", action="store_true", help="Do not draw the graph.")
    @argument("--no-values", action="store_true", help="Hide tensor values on the graph.")
    @argument("--ledger", action="store_true", default=None,
              help="Always show the gradient ledger.")
    @argument("--no-ledger", action="store_true", help="Never show the gradient ledger.")
    @argument("--jacobian", action="store_true",
              help="Assemble the Jacobian of the cell's output row by row.")
    @argument("--live", action="store_true", help="Update the graph while the cell runs.")
    @argument("--rankdir", type=str.upper, choices=_RANKDIRS, default=None,
              help="Graph direction.")
    @argument("--max-nodes", type=int, default=None, metavar="N",
              help="Fold the graph beyond N boxes.")
    @argument("--text", action="store_true", help="Text rendering instead of SVG.")
    @argument("-o", "--output", default=None, metavar="NAME",
              help="Store the report in this variable.")
    @cell_magic
    def autograd(self, line: str, cell: str):
        """Run the cell while recording what autograd does, then show a report: the graph of
        the tensors it touched (named after the cell's variables), the gradient ledger of each
        leaf when backward ran more than once, the Jacobian assembled from one-hot backward
        calls, and any engine error explained in place.

        Example::

            %%autograd --ledger
            y = torch.sin(x) + torch.cos(x)
            for _ in range(3):
                y.backward(retain_graph=True)
        """
        args = parse_argstring(self.autograd, line)
        opts = self._options(args)
        live = _live_graph(self.shell, opts) if args.live else None
        with record() as rec:
            if live is not None:
                live.start(rec)
            try:
                result = self.shell.run_cell(cell)
            finally:
                if live is not None:
                    live.stop()
        err = result.error_in_exec
        if err is not None:
            rec.note_exception(err)
        try:
            report = build_report(rec, self.shell.user_ns, **opts)
        finally:
            rec.release()           # the report is plain data: let the cell's graph go
        if args.output:
            self.shell.user_ns[args.output] = report
        if live is not None:
            live.finish(report)
            return None
        return report

    @magic_arguments()
    @argument("expression", nargs="+", help="A Python expression giving a tensor.")
    @argument("--no-values", action="store_true", help="Hide tensor values.")
    @argument("--rankdir", type=str.upper, choices=_RANKDIRS, default=None)
    @argument("--max-nodes", type=int, default=None, metavar="N")
    @argument("--text", action="store_true", help="Text rendering instead of SVG.")
    @line_magic
    def autograd_graph(self, line: str):
        """Draw the graph behind a tensor expression, e.g. ``%autograd_graph loss``."""
        args = parse_argstring(self.autograd_graph, line)
        opts = self._options(args)
        expr = " ".join(args.expression)
        try:
            value = eval(expr, self.shell.user_ns)  # noqa: S307 - the user's own expression
        except Exception as e:
            raise UsageError(f"%autograd_graph: cannot evaluate {expr!r}: "
                             f"{type(e).__name__}: {e}") from None
        from .. import viz  # noqa: PLC0415
        try:
            view = viz.draw(value, names=tensor_names(self.shell.user_ns),
                            show_values=opts["values"], rankdir=opts["rankdir"],
                            max_nodes=opts["max_nodes"])
        except TypeError as e:
            raise UsageError(f"%autograd_graph: {expr!r} is not a tensor ({e})") from None
        if opts["text"]:
            print(view.text())
            return None
        return view

    def _options(self, args) -> dict:
        max_nodes = getattr(args, "max_nodes", None)
        if max_nodes is not None and max_nodes < 1:
            raise UsageError(f"--max-nodes must be a positive integer, got {max_nodes}")
        ledger = self.ledger
        if getattr(args, "ledger", None):
            ledger = True
        if getattr(args, "no_ledger", False):
            if getattr(args, "ledger", None):
                raise UsageError("--ledger and --no-ledger cannot be used together")
            ledger = False
        return dict(graph=self.graph and not getattr(args, "no_graph", False),
                    values=self.values and not args.no_values,
                    ledger=ledger, jacobian=getattr(args, "jacobian", False),
                    rankdir=args.rankdir or self.rankdir.upper(),
                    max_nodes=max_nodes or self.max_nodes, text=self.text or args.text)


def _live_graph(shell, opts: dict):
    """--live: the live graph widget; without ipywidgets, a display updated in place."""
    try:
        from ..widgets import LiveCellGraph  # noqa: PLC0415 (ipywidgets only for --live)
    except ImportError:
        return _LiveGraph(shell, opts)
    return LiveCellGraph(shell, opts)


class _LiveGraph:
    """--live without ipywidgets: one display updated in place (about ten times a second)."""

    def __init__(self, shell, opts: dict) -> None:
        self.shell, self.opts = shell, opts
        self.handle = None
        self.last = 0.0
        self.rec = None

    def start(self, rec) -> None:
        from .. import _events  # noqa: PLC0415
        self.rec = rec
        self.handle = display(_Placeholder(), display_id=True)
        self._sub = _events.subscribed(self._on_event)
        self._sub.__enter__()

    def _on_event(self, ev) -> None:
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        self._refresh()

    def _refresh(self) -> None:
        from .. import viz  # noqa: PLC0415
        try:
            view = viz.draw(self.rec, names=tensor_names(self.shell.user_ns),
                            show_values=self.opts["values"], rankdir=self.opts["rankdir"],
                            max_nodes=self.opts["max_nodes"])
        except (TypeError, ValueError):
            return
        self.handle.update(view)

    def stop(self) -> None:
        self._sub.__exit__(None, None, None)

    def finish(self, report) -> None:
        self.handle.update(report)


class _Placeholder:
    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {"text/plain": "(recording...)", "text/html": "<i>recording...</i>"}


def load_ipython_extension(ipython) -> None:
    """``%load_ext nbautograd``: register the magics (and make %config see them)."""
    magics = AutogradMagics(shell=ipython, parent=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)


def unload_ipython_extension(ipython) -> None:
    """``%unload_ext nbautograd``: remove the magics."""
    mm = ipython.magics_manager
    for kind in ("cell", "line"):
        for name in ("autograd", "autograd_graph"):
            mm.magics[kind].pop(name, None)
    ipython.configurables[:] = [c for c in ipython.configurables
                                if not isinstance(c, AutogradMagics)]
