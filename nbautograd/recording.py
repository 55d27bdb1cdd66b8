"""Recording what autograd did in a block of code, as plain data: the ops (with the source line
that created each), every backward call, how each leaf's ``.grad`` evolved, the Jacobian rows
that one-hot backward calls produced, and the errors. The ``%%autograd`` magic and the widgets
display a ``Recording``; nothing here imports IPython, ipywidgets or graphviz.

>>> import nbautograd as torch
>>> from nbautograd.recording import record
>>> x = torch.tensor(2.0, requires_grad=True)
>>> with record() as rec:
...     y = torch.sin(x) + torch.cos(x)
...     y.backward(retain_graph=True)
...     y.backward()
>>> [round(float(v), 4) for v in rec.ledger_for(x).values]
[-1.3254, -2.6509]
"""
from __future__ import annotations

import contextlib
import itertools
import linecache
import os
import sys
import weakref
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from . import _events
from ._backend import to_host

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


@dataclass
class OpRecord:
    """One recorded op: its node, its place on the tape, and the user's line that made it."""
    seq: int
    name: str
    node: Any                       # weak reference to the grad_fn node
    output: Any                     # weak reference to the output tensor
    shape: tuple
    filename: str = ""
    lineno: int = 0
    source: str = ""                # the source text of that line, stripped
    expression: str = ""            # the sub-expression that made it (e.g. "x**2"), if known


@dataclass
class BackwardCall:
    """One call of backward()/autograd.grad: its roots, its gradient and options."""
    index: int
    roots: list                     # weak references to the root tensors
    root_names: list                # grad_fn names of the roots
    gradients: list                 # numpy copies of the gradients (None for implicit ones)
    retain_graph: bool
    create_graph: bool
    error: Optional[str] = None


@dataclass
class LedgerEntry:
    """A change of one leaf's ``.grad``: by a backward call, ``zero_()``, ``= None`` or a set."""
    how: str                        # "backward", "zero", "none", "set"
    call: Optional[int]             # index of the backward call, for "backward"
    before: Optional[np.ndarray]
    after: Optional[np.ndarray]

    @property
    def added(self) -> Optional[np.ndarray]:
        """What this change added to ``.grad`` (for a backward call)."""
        if self.after is None:
            return None
        return self.after - (0 if self.before is None else self.before)


@dataclass
class Ledger:
    """The history of one leaf's ``.grad`` during the recording."""
    leaf: Any                       # weak reference to the leaf tensor
    shape: tuple
    entries: list = field(default_factory=list)

    @property
    def values(self) -> list:
        """``.grad`` after each backward call (numpy copies)."""
        return [e.after for e in self.entries if e.how == "backward"]


@dataclass
class JacobianRow:
    """A backward call whose gradient was one-hot: row ``index`` of the Jacobian."""
    call: int
    index: tuple                    # position of the 1 in the output
    rows: dict                      # leaf id -> the row (numpy), as it landed in .grad


@dataclass
class ErrorRecord:
    """An error the engine raised during the recording, with a plain explanation."""
    type: str
    message: str
    node_name: Optional[str]
    node: Any                       # weak reference to the failing node, if any
    explanation: str


class Recording:
    """Everything the engine reported between ``record()``'s entry and exit."""

    def __init__(self) -> None:
        self.ops: list[OpRecord] = []
        self.backward_calls: list[BackwardCall] = []
        self.ledgers: dict[int, Ledger] = {}      # id(leaf) -> ledger
        self.errors: list[ErrorRecord] = []
        self._grad_owner: dict[int, int] = {}     # id(.grad tensor) -> id(leaf)
        self._current: Optional[BackwardCall] = None
        self._pending: dict[int, Optional[np.ndarray]] = {}

    # --- queries -------------------------------------------------------------------------------
    def ledger_for(self, leaf) -> Ledger:
        """The ledger of ``leaf`` (KeyError if its .grad never changed while recording)."""
        return self.ledgers[id(leaf)]

    def jacobian_rows(self) -> list[JacobianRow]:
        """The backward calls made with one-hot gradients on one output (the tutorial's
        row-by-row Jacobian), each with the row it produced for every leaf."""
        rows = []
        for call in self.backward_calls:
            if call.error or len(call.gradients) != 1 or call.gradients[0] is None:
                continue
            g = call.gradients[0]
            if g.size < 2 or np.count_nonzero(g) != 1 or g[g != 0][0] != 1:
                continue
            index = tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(g)[0]), g.shape))
            per_leaf = {}
            for key, ledger in self.ledgers.items():
                for e in ledger.entries:
                    if e.how == "backward" and e.call == call.index:
                        per_leaf[key] = e.added
            rows.append(JacobianRow(call.index, index, per_leaf))
        return rows

    def line_of(self, node) -> Optional[OpRecord]:
        """The op record of a node (None if it was not recorded here)."""
        for op in self.ops:
            if op.node() is node:
                return op
        return None

    def __repr__(self) -> str:
        return (f"Recording(ops={len(self.ops)}, backward_calls={len(self.backward_calls)}, "
                f"leaves={len(self.ledgers)}, errors={len(self.errors)})")

    # --- event handling ------------------------------------------------------------------------
    def __call__(self, ev) -> None:
        handler = _HANDLERS.get(type(ev))
        if handler is not None:
            handler(self, ev)

    def _on_op(self, ev: _events.OpRecorded) -> None:
        node = ev.node
        out = ev.output()
        filename, lineno, source, expr = _user_frame()
        self.ops.append(OpRecord(node._seq, node.name(), weakref.ref(node), ev.output,
                                 tuple(out.shape) if out is not None else (), filename, lineno,
                                 source, expr))

    def _on_backward_started(self, ev: _events.BackwardStarted) -> None:
        grads = [None if g is None else _snapshot(g) for g in ev.gradients]
        call = BackwardCall(len(self.backward_calls), [weakref.ref(t) for t in ev.roots],
                            [(t.grad_fn.name() if t.grad_fn is not None else "leaf")
                             for t in ev.roots], grads, ev.retain_graph, ev.create_graph)
        if all(_is_implicit_one(g, t) for g, t in zip(grads, ev.roots)):
            call.gradients = [None] * len(grads)
        self.backward_calls.append(call)
        self._current = call

    def _on_accumulated(self, ev: _events.GradAccumulated) -> None:
        leaf = ev.tensor
        ledger = self._ledger(leaf)
        call = self._current.index if self._current is not None else None
        ledger.entries.append(LedgerEntry("backward", call, _copy(ev.before), _copy(ev.after)))
        if leaf._grad is not None:
            self._grad_owner[id(leaf._grad)] = id(leaf)

    def _on_grad_changed(self, ev: _events.GradChanged) -> None:
        t = ev.tensor
        if ev.how in ("none", "set"):  # assignment to a leaf's .grad
            if t.grad_fn is not None:
                return
            ledger = self._ledger(t)
            before = ledger.entries[-1].after if ledger.entries else None
            after = None if ev.how == "none" else _snapshot(t._grad._data)
            ledger.entries.append(LedgerEntry(ev.how, None, before, after))
            if t._grad is not None:
                self._grad_owner[id(t._grad)] = id(t)
        elif id(t) in self._grad_owner:     # zero_()/fill_() on a leaf's .grad
            ledger = self.ledgers[self._grad_owner[id(t)]]
            before = ledger.entries[-1].after if ledger.entries else None
            ledger.entries.append(LedgerEntry(ev.how, None, before, _snapshot(t._data)))

    def _on_finished(self, ev: _events.BackwardFinished) -> None:
        self._current = None

    def _on_error(self, ev: _events.EngineError) -> None:
        err, node = ev.error, ev.node
        if self._current is not None:
            self._current.error = str(err)
            self._current = None
        self._add_error(err, node)

    def _add_error(self, err: BaseException, node=None) -> None:
        if any(e.message == str(err) and e.type == type(err).__name__ for e in self.errors):
            return
        self.errors.append(ErrorRecord(type(err).__name__, str(err),
                                       node.name() if node is not None else None,
                                       weakref.ref(node) if node is not None else None,
                                       explain(str(err))))

    def note_exception(self, err: BaseException) -> None:
        """Record an error raised outside the backward pass (e.g. at requires_grad)."""
        self._add_error(err, None)

    def _ledger(self, leaf) -> Ledger:
        key = id(leaf)
        if key not in self.ledgers:
            self.ledgers[key] = Ledger(weakref.ref(leaf), tuple(leaf.shape))
        return self.ledgers[key]


_HANDLERS = {
    _events.OpRecorded: Recording._on_op,
    _events.BackwardStarted: Recording._on_backward_started,
    _events.GradAccumulated: Recording._on_accumulated,
    _events.GradChanged: Recording._on_grad_changed,
    _events.BackwardFinished: Recording._on_finished,
    _events.EngineError: Recording._on_error,
}


@contextlib.contextmanager
def record():
    """Record the engine's events inside the ``with`` block into a ``Recording``.

    Recording stops when the block exits, whatever the exit (KeyboardInterrupt included).
    """
    rec = Recording()
    with _events.subscribed(rec):
        try:
            yield rec
        except Exception as e:
            rec.note_exception(e)
            raise


def _snapshot(a) -> np.ndarray:
    data = a._data if hasattr(a, "_data") else a
    return np.array(to_host(data), copy=True)


def _copy(a):
    return None if a is None else np.array(to_host(a), copy=True)


def _is_implicit_one(g, t) -> bool:
    return g is not None and g.size == 1 and t.numel() == 1 and float(g.reshape(-1)[0]) == 1.0


# Per-op caches (recording must stay cheap): whether a file is the engine's, and the source
# text of each (code object, instruction) — a loop body runs the same instruction many times.
_OURS: dict = {}
_TEXT: dict = {}


def _is_ours(filename: str) -> bool:
    ours = _OURS.get(filename)
    if ours is None:
        ours = _OURS[filename] = (os.path.abspath(filename).startswith(_PACKAGE_DIR + os.sep)
                                  or "contextlib" in filename)
    return ours


def _user_frame() -> tuple:
    """The innermost frame outside nbautograd: the user's file, line, line text and the exact
    sub-expression being evaluated (from the instruction's column span, Python >= 3.11)."""
    f = sys._getframe(2)
    while f is not None:
        code = f.f_code
        if not _is_ours(code.co_filename):
            key = (code, f.f_lasti)
            text = _TEXT.get(key)
            if text is None:
                line = linecache.getline(code.co_filename, f.f_lineno, f.f_globals).strip()
                text = _TEXT[key] = (line, _expression(f, code.co_filename))
            return code.co_filename, f.f_lineno, text[0], text[1]
        f = f.f_back
    return "", 0, "", ""


def _expression(frame, filename: str) -> str:
    positions = getattr(frame.f_code, "co_positions", None)
    if positions is None:  # Python 3.10: no column information
        return ""
    try:
        start, end, col, end_col = next(itertools.islice(positions(), frame.f_lasti // 2, None))
    except (StopIteration, ValueError):
        return ""
    if None in (start, end, col, end_col) or start != end:
        return ""
    line = linecache.getline(filename, start, frame.f_globals)
    return line.encode()[col:end_col].decode(errors="replace").strip()


# --- errors explained --------------------------------------------------------------------------
_EXPLANATIONS = (
    ("Trying to backward through the graph a second time",
     "The first backward() freed the values this graph had saved (shown greyed out), so it "
     "cannot run again; pass retain_graph=True to the earlier backward() to keep them."),
    ("grad can be implicitly created only for scalar outputs",
     "backward() on a tensor with more than one element needs a `gradient` of the same shape: "
     "it computes the vector-Jacobian product gradient^T J, and there is no implicit vector."),
    ("does not require grad and does not have a grad_fn",
     "This tensor was computed only from tensors that do not require grad (or under no_grad), "
     "so there is no graph behind it to backpropagate through."),
    ("has been modified by an inplace operation",
     "A value saved for the backward pass was changed in place afterwards, so its gradient "
     "would be wrong; use an out-of-place op (y = y + 1) or clone() before changing it."),
    ("of floating point",
     "Gradients exist only for floating-point (or complex) tensors; create it with a float "
     "dtype, e.g. torch.tensor([1., 2.]) or dtype=torch.float32."),
    ("leaf Variable that requires grad",
     "Changing a leaf that requires grad in place would corrupt the graph that uses it; make "
     "such updates under torch.no_grad(), as optimizers do."),
    ("appears to not have been used in the graph",
     "The output does not depend on this input, so its gradient is undefined; pass "
     "allow_unused=True to get None for it."),
    ("Mismatch in shape",
     "The `gradient` passed to backward() must have exactly the shape of the tensor it is "
     "called on: one weight per output element."),
    ("can't retain_grad on Tensor that has requires_grad=False",
     "retain_grad() keeps the gradient of an intermediate tensor; this one is not part of any "
     "graph."),
)


def explain(message: str) -> str:
    """One plain sentence on why the engine raised ``message`` (empty if unknown)."""
    for needle, text in _EXPLANATIONS:
        if needle in message:
            return text
    return ""
