"""The ``%%autograd`` report: what a recorded cell did to the graph, the gradients and the
Jacobian, as plain data (numpy copies, no live tensors) that displays as HTML.

>>> import nbautograd as torch
>>> from nbautograd.recording import record
>>> from nbautograd.notebook import build_report
>>> x = torch.tensor(2.0, requires_grad=True)
>>> with record() as rec:
...     y = torch.sin(x) + torch.cos(x)
...     y.backward(retain_graph=True)
...     y.backward()
>>> report = build_report(rec, {"x": x, "y": y})
>>> [round(float(v), 4) for v in report.ledger["x"]]
[-1.3254, -2.6509]
"""
from __future__ import annotations

import html as _html
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import numpy as np

from .._tensor import Tensor
from ..recording import Recording


@dataclass
class JacobianView:
    """Rows of a Jacobian assembled from one-hot backward calls (or computed for --jacobian)."""
    output: str                       # label of the output tensor
    input: str                        # label of the leaf the rows belong to
    rows: list                        # per output element: its row (numpy) or None (pending)
    cotangents: list                  # per row: the one-hot vector used (numpy) or None
    calls: list                       # per row: index of the backward call that made it, or None
    full: Optional[np.ndarray] = None  # the full Jacobian, when it could be computed
    check: str = ""                   # "matches the full Jacobian" / why it could not be checked

    def html(self) -> str:
        from ..viz import jacobian_html  # noqa: PLC0415
        labels = [f"{self.output}[{i}]" + ("" if c is None else f" ← backward #{c + 1}")
                  for i, c in enumerate(self.calls)]
        n = self.full.shape[1] if self.full is not None else None
        cols = [f"{self.input}[{j}]" for j in range(n)] if n else None
        title = f"d{self.output}/d{self.input}: {sum(r is not None for r in self.rows)} of " \
                f"{len(self.rows)} rows computed" + (f"; {self.check}" if self.check else "")
        return jacobian_html(self.rows, n_cols=n, row_labels=labels, col_labels=cols,
                             title=title)


@dataclass
class ExplainedError:
    type: str
    message: str
    explanation: str
    node: Optional[str] = None


@dataclass
class AutogradReport:
    """The result of ``%%autograd``: ``.graph``, ``.ledger``, ``.jacobian``, ``.errors``,
    ``.events`` (the ``Recording``), and an HTML display."""
    graph: Any = None                           # viz.GraphView, or None (--no-graph)
    ledger: dict = field(default_factory=dict)  # leaf name -> [.grad after each backward]
    ledger_views: dict = field(default_factory=dict)  # leaf name -> viz.GradLedger
    jacobian: Optional[JacobianView] = None
    errors: list = field(default_factory=list)
    events: Optional[Recording] = None
    text_graph: bool = False
    show_ledger: bool = True

    def __repr__(self) -> str:
        parts = [f"ops={len(self.events.ops) if self.events else 0}",
                 f"backward_calls={len(self.events.backward_calls) if self.events else 0}"]
        if self.ledger:
            parts.append(f"ledger={sorted(self.ledger)}")
        if self.jacobian is not None:
            done = sum(r is not None for r in self.jacobian.rows)
            parts.append(f"jacobian_rows={done}/{len(self.jacobian.rows)}")
        if self.errors:
            parts.append(f"errors={len(self.errors)}")
        return f"AutogradReport({', '.join(parts)})"

    # --- display ---------------------------------------------------------------------------
    def html(self) -> str:
        esc = _html.escape
        out = ['<div class="nbautograd-report" style="font-family:Helvetica,Arial,sans-serif">']
        for err in self.errors:
            out.append('<div class="nbautograd-error" style="border-left:4px solid #dc2626;'
                       'background:#fef2f2;padding:6px 10px;margin:4px 0">'
                       f'<b>{esc(err.type)}</b>: <code>{esc(err.message)}</code>'
                       + (f'<br>{esc(err.explanation)}' if err.explanation else "")
                       + (f'<br><small>failed in <b>{esc(err.node)}</b> (highlighted on the '
                          'graph)</small>' if err.node else "") + "</div>")
        if self.graph is not None:
            out.append(_section("Graph"))
            if self.text_graph:
                out.append(f"<pre>{esc(self.graph.text())}</pre>")
            else:
                out.append(f'<div class="nbautograd-graph">{self.graph.svg()}</div>')
        if self.show_ledger and self.ledger_views:
            out.append(_section("Gradient accumulation"))
            out.extend(v.html() for _, v in sorted(self.ledger_views.items()))
        if self.jacobian is not None:
            out.append(_section("Jacobian rows"))
            out.append(self.jacobian.html())
        out.append("</div>")
        return "".join(out)

    def text(self) -> str:
        """A plain-text rendering (terminals, tests)."""
        lines = [repr(self)]
        for err in self.errors:
            lines += [f"{err.type}: {err.message}"] + ([err.explanation] if err.explanation else [])
        if self.graph is not None:
            lines.append(self.graph.text())
        for name in sorted(self.ledger):
            vals = ", ".join(_fmt(v) for v in self.ledger[name])
            lines.append(f"{name}.grad after each backward: {vals}")
        if self.jacobian is not None:
            for i, (r, c) in enumerate(zip(self.jacobian.rows, self.jacobian.calls)):
                lines.append(f"row {i}: " + ("(pending)" if r is None else _fmt(r))
                             + ("" if c is None else f"  <- backward #{c + 1}"))
            if self.jacobian.check:
                lines.append(self.jacobian.check)
        return "\n".join(lines)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {"text/plain": repr(self), "text/html": self.html()}


def _section(title: str) -> str:
    return (f'<div style="font-weight:bold;margin:8px 0 2px 0;color:#374151">'
            f'{_html.escape(title)}</div>')


def _fmt(a) -> str:
    a = np.asarray(a)
    if a.size == 1:
        return f"{float(a.reshape(-1)[0]):.4f}"
    return "[" + ", ".join(f"{float(v):.4f}" for v in a.reshape(-1)) + "]"


# --- building ------------------------------------------------------------------------------------
def tensor_names(namespace: Mapping[str, Any]) -> dict:
    """``{name: tensor}`` for the tensors bound in a namespace (private names skipped)."""
    return {k: v for k, v in namespace.items() if isinstance(v, Tensor) and not k.startswith("_")}


def _label(t, names_by_id: dict, rec: Recording) -> str:
    if id(t) in names_by_id:
        return names_by_id[id(t)]
    for op in rec.ops:
        if op.node() is t.grad_fn and op.expression:
            return op.expression
    return "output"


def build_report(rec: Recording, namespace: Mapping[str, Any], *, graph: bool = True,
                 values: bool = True, ledger: Optional[bool] = None, jacobian: bool = False,
                 rankdir: str = "BT", max_nodes: int = 200,
                 text: bool = False) -> AutogradReport:
    """Build the report of a recorded block, naming tensors from ``namespace``."""
    names = tensor_names(namespace)
    names_by_id = {id(v): k for k, v in names.items()}
    report = AutogradReport(events=rec, text_graph=text)
    report.errors = [ExplainedError(e.type, e.message, e.explanation, e.node_name)
                     for e in rec.errors]
    # ledgers: one per leaf whose .grad changed, named from the namespace
    for key, led in rec.ledgers.items():
        leaf = led.leaf()
        name = names_by_id.get(id(leaf)) if leaf is not None else None
        name = name or f"leaf{len(report.ledger)}"
        report.ledger[name] = [np.array(v, copy=True) for v in led.values]
        report.ledger_views[name] = _ledger_view(name, led)
    n_backward = len(rec.backward_calls)
    report.show_ledger = ledger if ledger is not None else n_backward > 1
    report.jacobian = _jacobian(rec, names_by_id, jacobian, list(names.values()))
    if graph:
        report.graph = _graph(rec, names, values, rankdir, max_nodes)
    return report


def _ledger_view(name: str, led) -> Any:
    from ..viz._recording import ledger_view  # noqa: PLC0415 (graphviz only when displayed)
    return ledger_view(name, led)


def _graph(rec, names, values, rankdir, max_nodes):
    from .. import viz  # noqa: PLC0415
    ops = rec.ops
    node_labels = {}                     # unnamed intermediates: the source text that made them
    for op in ops:
        node = op.node()
        if node is not None and op.expression:
            node_labels[id(node)] = op.expression
    if ops:       # the recording itself: its ops, the gradients that flowed, the error
        args, recording = [rec], None
    else:         # only backward ran here: the graphs behind its roots, annotated
        args = [t for call in rec.backward_calls for t in (r() for r in call.roots)
                if t is not None]
        recording = rec
        if not args:
            return None
    try:
        return viz.draw(*args, names=names, show_values=values, rankdir=rankdir,
                        max_nodes=max_nodes, node_labels=node_labels, recording=recording)
    except TypeError:
        return None


def _jacobian(rec: Recording, names_by_id: dict, force: bool,
              tensors: list) -> Optional[JacobianView]:
    rows = rec.jacobian_rows()
    if rows:
        call = rec.backward_calls[rows[0].call]
        root = call.roots[0]()
        leaf_key = next(iter(rows[0].rows), None)
        if leaf_key is None:
            return None
        leaf = rec.ledgers[leaf_key].leaf()
        n_out = int(np.prod(rec.backward_calls[rows[0].call].gradients[0].shape))
        view = JacobianView(
            output=_label(root, names_by_id, rec) if root is not None else "y",
            input=names_by_id.get(id(leaf), "x") if leaf is not None else "x",
            rows=[None] * n_out, cotangents=[None] * n_out, calls=[None] * n_out)
        shape = rec.backward_calls[rows[0].call].gradients[0].shape
        for r in rows:
            if leaf_key not in r.rows or r.rows[leaf_key] is None:
                continue
            i = int(np.ravel_multi_index(r.index, shape)) if shape else 0
            view.rows[i] = np.asarray(r.rows[leaf_key]).reshape(-1)
            view.cotangents[i] = rec.backward_calls[r.call].gradients[0]
            view.calls[i] = r.call
        _check_full(view, root, leaf)
        return view
    if force:
        return _computed_jacobian(rec, names_by_id, tensors)
    return None


def _full_jacobian(root, leaf) -> np.ndarray:
    from ..autograd import grad  # noqa: PLC0415
    from .._factories import eye  # noqa: PLC0415
    n = root.numel()
    basis = eye(n, dtype=root.dtype).reshape(n, *root.shape)
    (j,) = grad(root, leaf, basis, retain_graph=True, is_grads_batched=True, allow_unused=True)
    if j is None:
        return np.zeros((n, leaf.numel()))
    return np.asarray(j.detach().cpu().numpy(), dtype=float).reshape(n, -1)


def _check_full(view: JacobianView, root, leaf) -> None:
    if root is None or leaf is None:
        view.check = "not checked: the tensors are gone"
        return
    try:
        view.full = _full_jacobian(root, leaf)
    except RuntimeError as e:
        view.check = f"not checked against the full Jacobian ({str(e).split('.')[0]})"
        return
    ok = all(r is None or np.allclose(r, view.full[i], rtol=1e-5, atol=1e-6)
             for i, r in enumerate(view.rows))
    view.check = "matches the full Jacobian" if ok else "DIFFERS from the full Jacobian"


def _computed_jacobian(rec: Recording, names_by_id: dict,
                       tensors: list) -> Optional[JacobianView]:
    """--jacobian without one-hot calls: the rows of the cell's last output with respect to
    each leaf, computed now with autograd.grad (no .grad is touched)."""
    from ..autograd import grad  # noqa: PLC0415
    # the cell's last output that is still reachable: a variable or a backward call's root
    seq = {id(n): n._seq for n in (op.node() for op in rec.ops) if n is not None}
    reachable = list(tensors) + [t for call in rec.backward_calls for t in
                                 (r() for r in call.roots) if t is not None]
    outs = [t for t in reachable if t.grad_fn is not None and id(t.grad_fn) in seq]
    if not outs:
        return None
    root = max(outs, key=lambda t: seq[id(t.grad_fn)])
    leaves = _leaves_of(root)
    if not leaves:
        return None
    leaf = leaves[0]
    n = root.numel()
    view = JacobianView(_label(root, names_by_id, rec), names_by_id.get(id(leaf), "x"),
                        [None] * n, [None] * n, [None] * n)
    try:
        for i in range(n):
            e = np.zeros(n, dtype=root._data.dtype)
            e[i] = 1
            from .._tensor import wrap  # noqa: PLC0415
            (g,) = grad(root, leaf, wrap(e.reshape(root._data.shape)), retain_graph=True,
                        allow_unused=True)
            view.rows[i] = np.zeros(leaf.numel()) if g is None else \
                np.asarray(g.detach().cpu().numpy(), dtype=float).reshape(-1)
            view.cotangents[i] = e
    except RuntimeError as err:
        view.check = f"could not compute all rows ({str(err).split('.')[0]})"
        return view
    _check_full(view, root, leaf)
    return view


def _leaves_of(root) -> list:
    """The leaves requiring grad behind ``root``, in a stable order (iterative walk)."""
    out, seen, stack = [], set(), [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        var = getattr(node, "variable", None)
        if var is not None:
            out.append(var)
        stack.extend(e for e in getattr(node, "_next", ()) if e is not None)
    return sorted(out, key=lambda t: t._acc._seq if t._acc is not None else 0, reverse=True)
