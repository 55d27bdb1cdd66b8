"""Recording what autograd did in a block of code, as plain data: the ops (with the source line
that created each), every backward call, the gradients that flowed along each edge, how each
leaf's ``.grad`` evolved, the Jacobian rows that one-hot backward calls produced, and the
errors. The ``%%autograd`` magic, the graph views and the widgets all read a ``Recording``;
nothing here imports IPython, ipywidgets or graphviz.

Recording must cost little per op (a notebook cell may run thousands), so the engine appends
one plain tuple per op and per backward step to the recording's tape (``_events.tape_*``):
the arrays are held, not summarised, and the user's line is kept as (code, instruction).
Everything is worked out when asked for, usually only for what a report displays. Held arrays
are summarised before an in-place write changes them, and once the tapes hold
``_events.BUDGET`` bytes. ``release()`` drops the recording's hold on the graph.

>>> import nbautograd as torch
>>> from nbautograd.recording import record
>>> x = torch.tensor(2.0, requires_grad=True)
>>> with record() as rec:
...     y = torch.sin(x) + torch.cos(x)
...     y.backward(retain_graph=True)
...     y.backward()
>>> [round(float(v), 4) for v in rec.ledger_for(x).values]
[-1.3254, -2.6509]
>>> [op.expression for op in rec.ops]
['torch.sin(x)', 'torch.cos(x)', 'torch.sin(x) + torch.cos(x)']
"""
from __future__ import annotations

import itertools
import linecache
import weakref
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from . import _events
from ._backend import _sum_to, to_host
from ._events import EXEC, FREED, OP
from ._summary import Digest, FrozenTensor, freeze
from ._tensor import Tensor


@dataclass
class OpRecord:
    """One recorded op: its node, its place on the tape, and the user's line that made it."""
    seq: int
    name: str
    node: Any                       # weak reference to the grad_fn node
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
    """Everything the engine reported between entry and exit of ``with record():`` (or of
    ``with rec:`` for a Recording made directly)."""

    def __init__(self) -> None:
        self._log: list = []                      # tape entries, appended by the engine
        self._synced = 0                          # entries folded into the indexes below
        self._indexed = 0                         # entries indexed by memory (before_write)
        self._by_memory: dict[int, list] = {}     # id(base array) -> log positions holding it
        self._op_pos: list[int] = []              # log positions of the ops, in tape order
        self._exec_pos: dict[int, int] = {}       # id(node) -> log position of its last step
        self._freed_pos: dict[int, int] = {}      # id(node) -> log position of its release
        self._nodes: dict[int, Any] = {}          # id(node) -> node (alive until release())
        self._ops: list[OpRecord] = []
        self.backward_calls: list[BackwardCall] = []
        self.ledgers: dict[int, Ledger] = {}      # id(leaf) -> ledger
        self.errors: list[ErrorRecord] = []
        self._grad_owner: dict[int, int] = {}     # id(.grad tensor) -> id(leaf)
        self._current: Optional[BackwardCall] = None
        self._text: dict = {}                     # (id(code), offset) -> (file, line, text, expr)
        self._released = False
        self._attached = False

    # --- switching on and off -----------------------------------------------------------------
    def __enter__(self) -> "Recording":
        _events.attach(self)
        self._attached = True
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        _events.detach(self)
        self._attached = False
        if exc is not None and isinstance(exc, Exception):
            self.note_exception(exc)

    def release(self) -> None:
        """Let go of the graph: the ops keep their plain data (lines, shapes) but the nodes,
        tensors and arrays the recording held are dropped (drawing it afterwards shows
        nothing). Reports call this once they are built."""
        _ = self.ops
        self._log.clear()
        self._by_memory = {}
        self._op_pos, self._exec_pos, self._freed_pos = [], {}, {}
        self._nodes = {}
        self._synced = self._indexed = 0
        self._released = True

    # --- queries -------------------------------------------------------------------------------
    @property
    def ops(self) -> list[OpRecord]:
        """The recorded ops in tape order, each with the user's line that made it."""
        self._sync()
        log = self._log
        for pos in self._op_pos[len(self._ops):]:
            _, node, out, code, offset = log[pos]
            filename, lineno, source, expr = self._site(code, offset)
            self._ops.append(OpRecord(node._seq, node.name(), weakref.ref(node),
                                      tuple(out.shape or ()), filename, lineno, source, expr))
        return self._ops

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

    def op_nodes(self) -> list:
        """The recorded op nodes in tape order (alive until ``release()``)."""
        self._sync()
        log = self._log
        return [log[pos][1] for pos in self._op_pos]

    def failed_nodes(self) -> list:
        """The nodes the engine's errors were raised at."""
        return [n for n in (e.node() for e in self.errors if e.node is not None)
                if n is not None]

    def outputs(self) -> dict:
        """``{id(node): FrozenTensor}``: each op's output as it was when the op ran (shape,
        dtype, device and a summary of the value)."""
        self._sync()
        out = {}
        for pos in self._op_pos:
            _, node, value, _, _ = self._log[pos]
            out[id(node)] = value if isinstance(value, FrozenTensor) else freeze(value)
        return out

    def flows(self) -> tuple[dict, dict]:
        """``(grads_in, grad_out)``: what each backward step sent along each edge,
        ``{(id(node), slot): Digest}``, and what arrived at it, ``{id(node): Digest}`` (the
        last backward call that ran the node wins)."""
        self._sync()
        grads_in, grad_out = {}, {}
        for key, pos in self._exec_pos.items():
            _, node, g, gis = self._log[pos]
            grad_out[key] = _digest(g)
            for slot, gi in enumerate(gis):
                if gi is not None:
                    grads_in[(key, slot)] = gi if isinstance(gi, Digest) else \
                        Digest(_reduced(node, slot, _host(gi)))
        return grads_in, grad_out

    def saved_at_release(self) -> dict:
        """``{id(node): (node, saved arrays, saved tensors, versions)}`` as each node was just
        before backward freed it (arrays may be stand-ins with ``shape``/``dtype`` only,
        tensors weak references)."""
        self._sync()
        return {k: self._log[pos][1:] for k, pos in self._freed_pos.items()}

    def __repr__(self) -> str:
        return (f"Recording(ops={len(self.ops)}, backward_calls={len(self.backward_calls)}, "
                f"leaves={len(self.ledgers)}, errors={len(self.errors)})")

    # --- the tape ------------------------------------------------------------------------------
    def _sync(self) -> None:
        log = self._log
        for pos in range(self._synced, len(log)):
            e = log[pos]
            kind, node = e[0], e[1]
            self._nodes[id(node)] = node
            if kind == OP:
                self._op_pos.append(pos)
            elif kind == EXEC:
                self._exec_pos[id(node)] = pos
            elif kind == FREED:
                self._freed_pos[id(node)] = pos
        self._synced = len(log)

    def _site(self, code, offset: int) -> tuple:
        if code is None:
            return "", 0, "", ""
        key = (id(code), offset)
        got = self._text.get(key)
        if got is None:
            got = self._text[key] = _site_text(code, offset)
        return got

    def _before_write(self, arr) -> None:
        """Summarise the held entries sharing ``arr``'s memory (an in-place write is next)."""
        log, index = self._log, self._by_memory
        for pos in range(self._indexed, len(log)):
            for a in _held_arrays(log[pos]):
                index.setdefault(id(_base(a)), []).append(pos)
        self._indexed = len(log)
        for pos in index.pop(id(_base(arr)), ()):
            log[pos] = _summarised(log[pos])

    def _compact(self) -> None:
        """Summarise every held array (the tapes hold too many bytes)."""
        log = self._log
        for pos in range(len(log)):
            log[pos] = _summarised(log[pos])
        self._by_memory = {}
        self._indexed = len(log)

    # --- rare events (delivered as objects) ----------------------------------------------------
    def __call__(self, ev) -> None:
        """Take one engine event. Attached (``with rec:``), the per-op events are ignored: the
        engine writes those to the tape directly."""
        handler = _HANDLERS.get(type(ev))
        if handler is not None:
            handler(self, ev)
        elif not self._attached and type(ev) in (_events.OpRecorded, _events.NodeExecuted):
            self._feed(ev)

    def _feed(self, ev) -> None:
        """An op or backward step handed over as an event (not through the tape): summarised
        now, since the engine may reuse its arrays; the ops carry no source line."""
        if isinstance(ev, _events.OpRecorded):
            t = ev.output() if callable(ev.output) else ev.output
            value = freeze(t._data) if t is not None else FrozenTensor(None, None, None, None)
            self._log.append((OP, ev.node, value, None, 0))
        else:
            self._log.append(_summarised((EXEC, ev.node, ev.grad_out, tuple(ev.grads_in))))

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
        if node is not None:
            self._nodes[id(node)] = node   # the failing node stays drawable
        self.errors.append(ErrorRecord(type(err).__name__, str(err),
                                       node.name() if node is not None else None,
                                       weakref.ref(node) if node is not None else None,
                                       explain(str(err))))

    def note_exception(self, err: BaseException) -> None:
        """Record an error raised outside the backward pass (e.g. at requires_grad)."""
        self._add_error(err, None)

    def _ledger(self, leaf) -> Ledger:
        key = id(leaf)
        got = self.ledgers.get(key)
        if got is None or got.leaf() is not leaf:
            got = self.ledgers[key] = Ledger(weakref.ref(leaf), tuple(leaf.shape))
        return got

    @classmethod
    def from_events(cls, events) -> "Recording":
        """A Recording built afterwards from events collected with
        ``_events.subscribed(list.append)`` (summaries are then taken now, not at the time,
        and the ops carry no source line)."""
        rec = cls()
        for e in events:
            rec(e)
        return rec


_HANDLERS = {
    _events.BackwardStarted: Recording._on_backward_started,
    _events.GradAccumulated: Recording._on_accumulated,
    _events.GradChanged: Recording._on_grad_changed,
    _events.BackwardFinished: Recording._on_finished,
    _events.EngineError: Recording._on_error,
}


def record() -> Recording:
    """A ``Recording`` of the engine inside a ``with`` block: ``with record() as rec: ...``.

    Recording stops when the block exits, whatever the exit (KeyboardInterrupt included); an
    exception escaping the block is noted among ``rec.errors``.
    """
    return Recording()


# --- held arrays and their summaries ------------------------------------------------------------
def _host(a):
    if isinstance(a, Tensor):
        a = a._data
    return None if a is None else np.asarray(to_host(a))


def _digest(a):
    return a if isinstance(a, Digest) or a is None else Digest(_host(a))


def _reduced(node, slot: int, g):
    """The gradient as the engine hands it on: summed back to the input's shape and cast."""
    red = getattr(node, "_reduce", None)
    if red is None or slot >= len(red) or red[slot] is None or g is None:
        return g
    shape, dtype = red[slot]
    if shape is not None and tuple(g.shape) != tuple(shape):
        g = _sum_to(np, g, tuple(shape))
    if dtype is not None:
        g = g.astype(dtype)
    return g


def _base(a):
    while getattr(a, "base", None) is not None:
        a = a.base
    return a


def _held_arrays(e) -> list:
    kind = e[0]
    if kind == OP:
        v = e[2]
        return [] if isinstance(v, (FrozenTensor, np.generic)) else [v]
    if kind == EXEC:
        out = [a for a in (e[2],) + tuple(e[3]) if a is not None and not isinstance(a, Digest)]
        return [a._data if isinstance(a, Tensor) else a for a in out]
    return []


class _Meta:
    """Stands in for a saved array once released: its shape and dtype only."""
    __slots__ = ("shape", "dtype")

    def __init__(self, a) -> None:
        self.shape, self.dtype = tuple(a.shape), a.dtype


def _summarised(e):
    """The same tape entry with its arrays replaced by summaries (tensors held weakly)."""
    kind = e[0]
    if kind == OP:
        v = e[2]
        return e if isinstance(v, FrozenTensor) else e[:2] + (freeze(v),) + e[3:]
    if kind == EXEC:
        node = e[1]
        return (EXEC, node, _digest(e[2]),
                tuple(None if gi is None else gi if isinstance(gi, Digest)
                      else Digest(_reduced(node, slot, _host(gi)))
                      for slot, gi in enumerate(e[3])))
    if kind == FREED:
        saved, saved_t = e[2], e[3]
        if isinstance(saved, str):      # a custom Function's saved_tensors: hold them weakly
            return e if saved_t is None else (FREED, e[1], saved, tuple(
                None if t is None or isinstance(t, weakref.ref) else weakref.ref(t)
                for t in saved_t), e[4])
        if saved is not None and any(a is not None and not isinstance(a, _Meta) for a in saved):
            saved = tuple(None if a is None or isinstance(a, _Meta) else _Meta(a)
                          for a in saved)
            saved_t = tuple(weakref.ref(t) if hasattr(t, "_data") else t
                            for t in (saved_t or ()))
        return (FREED, e[1], saved, saved_t, e[4])
    return e


def _snapshot(a) -> np.ndarray:
    data = a._data if hasattr(a, "_data") else a
    return np.array(to_host(data), copy=True)


def _copy(a):
    return None if a is None else np.array(to_host(a), copy=True)


def _is_implicit_one(g, t) -> bool:
    return g is not None and g.size == 1 and t.numel() == 1 and float(g.reshape(-1)[0]) == 1.0


def _site_text(code, offset: int) -> tuple:
    """(file, line number, line text, the exact sub-expression) of an instruction, from the
    code object's column positions (Python >= 3.11)."""
    filename = code.co_filename
    try:
        start, end, col, end_col = next(itertools.islice(code.co_positions(), offset // 2,
                                                         None))
    except (StopIteration, ValueError, AttributeError):
        return filename, 0, "", ""
    if start is None:
        return filename, 0, "", ""
    line = linecache.getline(filename, start)
    expr = ""
    if None not in (end, col, end_col) and start == end:
        expr = line.encode()[col:end_col].decode(errors="replace").strip()
    return filename, start, line.strip(), expr


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
