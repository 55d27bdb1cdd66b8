"""Record engine events while a block runs: the ops, the gradients that flowed, the errors.

``record()`` subscribes to the engine's plain-data events (``nbautograd._events``) and keeps
what the views need, summarised *when the event happens*: the engine may later reuse a
gradient buffer in place, and an intermediate tensor may die before it is drawn.

A Recording keeps the recorded nodes alive (so a graph can be drawn from the recording
alone) until it is dropped; the GraphViews drawn from it keep plain data only.

>>> import nbautograd as torch
>>> from nbautograd import viz
>>> x = torch.tensor(3., requires_grad=True)
>>> with viz.record() as rec:
...     y = x * x
...     y.backward()
>>> rec
Recording(ops=1, backward_calls=1, errors=0)
>>> [e.label for e in rec.ledger(x).entries]
['backward #1']
"""
from __future__ import annotations

import weakref
from dataclasses import replace
from typing import Any, Iterable

import numpy as np

from .. import _events
from .._backend import to_host
from ._html import GradLedger, LedgerEntry
from ._nb import NB, FrozenTensor
from ._values import Digest, as_text


def _host(a):
    from .._tensor import Tensor  # noqa: PLC0415
    if isinstance(a, Tensor):
        a = a._data
    return None if a is None else np.asarray(to_host(a))


def _reduced(node, slot: int, g):
    """The gradient as the engine hands it on: summed back to the input's shape."""
    red = getattr(node, "_reduce", None)
    if red is None or slot >= len(red) or red[slot] is None or g is None:
        return g
    shape, dtype = red[slot]
    if shape is not None and tuple(g.shape) != tuple(shape):
        from .._backend import _sum_to  # noqa: PLC0415
        g = _sum_to(np, g, tuple(shape))
    if dtype is not None:
        g = g.astype(dtype)
    return g


class Recording:
    """Plain-data record of the engine events seen inside ``with record():``."""

    def __init__(self) -> None:
        self._ops: list = []                 # recorded nodes, in tape order (kept alive)
        self._outputs: dict[int, tuple] = {}  # id(node) -> (weakref to output, FrozenTensor)
        self._grads_in: dict[tuple, str] = {}  # (id(node), slot) -> summary of what flowed
        self._grad_out: dict[int, str] = {}  # id(node) -> summary of what arrived
        self._alive: dict[int, Any] = {}     # id(node) -> node: keeps ids unique
        self._ledgers: dict[int, tuple] = {}  # id(leaf) -> (weakref leaf, [LedgerEntry])
        self.backward_calls = 0
        self.errors: list[tuple[str, Any]] = []  # (message, node or None)
        self._saved: dict[int, list] = {}  # id(node) -> [(RawSaved without tensor, weakref)]
        self._sub = None

    # --- the subscription ---------------------------------------------------------------------
    def __enter__(self) -> "Recording":
        self._sub = _events.subscribed(self)
        self._sub.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            sub.__exit__(None, None, None)

    @classmethod
    def from_events(cls, events: Iterable) -> "Recording":
        """A Recording built afterwards from events collected with
        ``_events.subscribed(list.append)`` (summaries are then taken now, not at the time)."""
        rec = cls()
        for e in events:
            rec(e)
        return rec

    def __call__(self, e) -> None:
        handler = _HANDLERS.get(type(e))
        if handler is not None:
            handler(self, e)

    # --- event handlers -----------------------------------------------------------------------
    def _on_op(self, e) -> None:
        node = e.node
        self._ops.append(node)
        self._alive[id(node)] = node
        # what the node saved, for after backward frees it (names, shapes, which constants);
        # tensors weakly: a recording must not keep a training loop's activations alive
        self._saved[id(node)] = [(replace(s, tensor=None),
                                  None if s.tensor is None else weakref.ref(s.tensor))
                                 for s in NB.saved(node)]
        t = e.output() if callable(e.output) else e.output
        if t is not None:
            frozen = FrozenTensor(tuple(t._data.shape), t.dtype._name, str(t.device),
                                  Digest(to_host(t._data)))
            self._outputs[id(node)] = (weakref.ref(t), frozen)

    def _on_started(self, e) -> None:
        self.backward_calls += 1

    def _on_executed(self, e) -> None:
        node = e.node
        self._alive[id(node)] = node
        self._grad_out[id(node)] = Digest(_host(e.grad_out))
        for slot, g in enumerate(e.grads_in):
            if g is not None:
                self._grads_in[(id(node), slot)] = Digest(_reduced(node, slot, _host(g)))

    def _on_accumulated(self, e) -> None:
        after = _host(e.after)
        before = None if e.before is None else _host(e.before)
        added = after if before is None else after - before
        self._entries(e.tensor).append(
            LedgerEntry(f"backward #{self.backward_calls}", np.array(after, copy=True),
                        np.array(added, copy=True)))

    def _on_grad_changed(self, e) -> None:
        if e.how in ("set", "none"):
            leaf = e.tensor
            if id(leaf) not in self._ledgers and e.how == "none":
                return
            g = leaf._grad
            label = "grad = None" if e.how == "none" else "grad set"
            self._entries(leaf).append(LedgerEntry(label, None if g is None else
                                                   np.array(_host(g), copy=True), None))
            return
        for ref, entries in self._ledgers.values():   # zero_()/fill_() on some leaf's .grad
            leaf = ref()
            if leaf is not None and leaf._grad is e.tensor:
                label = "grad.zero_()" if e.how == "zero" else "grad.fill_()"
                entries.append(LedgerEntry(label, np.array(_host(e.tensor), copy=True), None))

    def _on_error(self, e) -> None:
        if e.node is not None:
            self._alive[id(e.node)] = e.node
        self.errors.append((f"{type(e.error).__name__}: {e.error}", e.node))

    def _entries(self, leaf) -> list:
        got = self._ledgers.get(id(leaf))
        if got is None or got[0]() is not leaf:
            got = self._ledgers[id(leaf)] = (weakref.ref(leaf), [])
        return got[1]

    # --- what the views read ------------------------------------------------------------------
    def ledger(self, leaf, name: str | None = None) -> GradLedger:
        """The ``.grad`` history of ``leaf`` during the recording (one entry per backward
        call that reached it, and per reset)."""
        got = self._ledgers.get(id(leaf))
        entries = tuple(got[1]) if got is not None and got[0]() is leaf else ()
        return GradLedger(name or "leaf", entries)

    def annotations(self) -> dict:
        """Keyword arguments for ``_snapshot.snapshot``: gradients, outputs and the error."""
        outputs = {}
        for k, (ref, frozen) in self._outputs.items():
            t = ref()
            # an in-place op may since have moved the tensor onto a newer node
            outputs[k] = t if t is not None and t.grad_fn is self._alive.get(k) else frozen
        out = dict(edge_grads={k: as_text(v) for k, v in self._grads_in.items()},
                   grad_out={k: as_text(v) for k, v in self._grad_out.items()},
                   outputs=outputs, grads="recorded" if self._grads_in else "none",
                   recorded_saved=self.saved_info())
        if self.errors:
            msg, node = self.errors[-1]
            out["error"] = msg
            out["failed_node"] = node
        return out

    def saved_info(self) -> dict:
        """``{id(node): [RawSaved]}`` as the nodes were when recorded (tensors still alive)."""
        return {k: [replace(s, tensor=None if ref is None else ref()) for s, ref in v]
                for k, v in self._saved.items()}

    def graph_nodes(self) -> list:
        """The recorded op nodes (tape order) and the node that failed, if any."""
        extra = [n for _, n in self.errors if n is not None]
        return list(self._ops) + extra

    def tips(self) -> list:
        """The recorded op nodes nothing recorded consumed: the outputs of the recording."""
        used = set()
        for n in self._ops:
            for m in getattr(n, "_next", ()):
                if m is not None:
                    used.add(id(m))
        return [n for n in self._ops if id(n) not in used]

    def __repr__(self) -> str:
        return (f"Recording(ops={len(self._ops)}, backward_calls={self.backward_calls}, "
                f"errors={len(self.errors)})")


class SessionRecordingSource:
    """Lets ``draw`` read a ``nbautograd.recording.Recording`` (the one the ``%%autograd``
    magic and the widgets keep) like a viz Recording: its ops, outputs and errors. That
    recording does not keep the gradients that flowed, so its edges carry none."""

    def __init__(self, rec) -> None:
        self.rec = rec

    @staticmethod
    def accepts(obj) -> bool:
        try:
            from ..recording import Recording as SessionRecording  # noqa: PLC0415
        except ImportError:   # pragma: no cover - an nbautograd without that module
            return False
        return isinstance(obj, SessionRecording)

    def _ops(self) -> list:
        out = []
        for op in self.rec.ops:
            node = op.node()
            if node is not None:
                out.append((op, node))
        return out

    def annotations(self) -> dict:
        outputs = {}
        for op, node in self._ops():
            t = op.output() if callable(op.output) else None
            outputs[id(node)] = t if t is not None and t.grad_fn is node else \
                FrozenTensor(tuple(op.shape), None, None, None)
        out = dict(edge_grads={}, grad_out={}, outputs=outputs, grads="none", recorded_saved={})
        if self.rec.errors:
            err = self.rec.errors[-1]
            out["error"] = f"{err.type}: {err.message}"
            out["failed_node"] = err.node() if err.node is not None else None
        return out

    def graph_nodes(self) -> list:
        return [node for _, node in self._ops()]

    def tips(self) -> list:
        nodes = self.graph_nodes()
        used = {id(m) for n in nodes for m in getattr(n, "_next", ()) if m is not None}
        return [n for n in nodes if id(n) not in used]


_HANDLERS = {
    _events.OpRecorded: Recording._on_op,
    _events.BackwardStarted: Recording._on_started,
    _events.NodeExecuted: Recording._on_executed,
    _events.GradAccumulated: Recording._on_accumulated,
    _events.GradChanged: Recording._on_grad_changed,
    _events.EngineError: Recording._on_error,
}


def record() -> Recording:
    """Record the engine's events inside a ``with`` block; draw with ``draw(rec)`` or
    ``draw(y, recording=rec)``.

    >>> import nbautograd as torch
    >>> from nbautograd import viz
    >>> x = torch.tensor(2., requires_grad=True)
    >>> with viz.record() as rec:
    ...     (x * 3).backward()
    >>> viz.draw(rec).snapshot.grads
    'recorded'
    """
    return Recording()
