"""Plain-data engine events for the views to subscribe to, and the raw tape of recorders.

Two channels, so that recording a cell stays cheap:

* events: dataclasses passed to ``LISTENERS``. The per-op and per-node ones (``OpRecorded``,
  ``NodeExecuted``, ``SavedFreed``) are made only while some subscriber asked for them
  (``OP_LISTENERS``); the rare ones (backward started/finished, ``.grad`` changes, errors) go
  to every subscriber;
* tapes: a recorder (``nbautograd.recording``) registers a list in ``TAPES`` and the engine
  appends one plain tuple per op, per executed node and per freed node: no object, no call
  into the recorder, no summary taken. The arrays are held, not copied: ``before_write``
  lets the recorders summarise an array just before an in-place write changes it, and past
  ``BUDGET`` bytes held the recorders summarise what they hold.

With no subscriber and no tape, an event costs one truthiness test.

>>> from nbautograd import _events
>>> seen = []
>>> with _events.subscribed(seen.append):
...     pass
"""
from __future__ import annotations

import contextlib
import os
from sys import _getframe
from dataclasses import dataclass, field
from typing import Any, Callable

LISTENERS: list[Callable[[Any], None]] = []
OP_LISTENERS: list[Callable[[Any], None]] = []  # the subset that wants per-op/per-node events
TAPES: list = []          # the active recorders (``nbautograd.recording.Recording``)
LOGS: list = []           # their ``_log`` lists, in the same order

# Kinds of tape entries (the first item of each tuple):
#   (OP, node, output array, code object, instruction offset)
#   (EXEC, node, gradient of the output, gradients sent to the inputs)
#   (FREED, node, saved arrays, saved tensors, their versions)  -- just before release
OP, EXEC, FREED = 0, 1, 2
BUDGET = 256 << 20        # bytes of arrays the tapes may hold before summarising them
HELD = [0]


@dataclass(frozen=True)
class OpRecorded:
    """A differentiable op ran with recording on; ``node`` is the new grad_fn."""
    node: Any
    output: Any  # weak reference to the output tensor (the engine keeps no tensor alive)
    inputs: tuple = ()  # weak references to the input tensors, in argument order


@dataclass(frozen=True)
class BackwardStarted:
    roots: tuple
    retain_graph: bool
    create_graph: bool
    gradients: tuple = ()


@dataclass(frozen=True)
class NodeExecuted:
    """One backward step: ``node`` received ``grad_out`` and sent ``grads_in`` to its edges."""
    node: Any
    grad_out: Any
    grads_in: tuple


@dataclass(frozen=True)
class GradAccumulated:
    """A leaf's ``.grad`` changed during backward (``before`` is None on the first write)."""
    tensor: Any
    before: Any
    after: Any


@dataclass(frozen=True)
class SavedFreed:
    node: Any


@dataclass(frozen=True)
class BackwardFinished:
    roots: tuple


@dataclass(frozen=True)
class EngineError:
    error: BaseException
    node: Any = None


@dataclass(frozen=True)
class GradChanged:
    """Outside backward: a leaf's ``.grad`` was assigned (``how`` "set"/"none"), or a tensor was
    reset in place (``zero_()``: "zero", ``fill_(v)``: "fill"); listeners match ``tensor``
    against the ``.grad`` of the leaves they follow."""
    tensor: Any
    how: str
    after: Any = field(default=None)


def emit(event: Any) -> None:
    for fn in tuple(LISTENERS):
        fn(event)


@contextlib.contextmanager
def subscribed(fn: Callable[[Any], None], per_op: bool = True):
    """Call ``fn(event)`` for every engine event inside the ``with`` block (with
    ``per_op=False``, only the rare ones: no ``OpRecorded``/``NodeExecuted``/``SavedFreed``)."""
    from ._node import refresh_slow_flag  # noqa: PLC0415 (_node imports this module)
    LISTENERS.append(fn)
    if per_op:
        OP_LISTENERS.append(fn)
    refresh_slow_flag()
    try:
        yield fn
    finally:
        LISTENERS.remove(fn)
        if per_op:
            OP_LISTENERS.remove(fn)
        refresh_slow_flag()


# --- tapes -----------------------------------------------------------------------------------
def attach(recorder) -> None:
    """Start appending tape entries to ``recorder._log`` (and its rare events to it)."""
    from ._node import refresh_slow_flag  # noqa: PLC0415
    TAPES.append(recorder)
    LOGS.append(recorder._log)
    LISTENERS.append(recorder)
    _retape()
    refresh_slow_flag()


def detach(recorder) -> None:
    from ._node import refresh_slow_flag  # noqa: PLC0415
    if recorder in TAPES:
        del LOGS[TAPES.index(recorder)]
        TAPES.remove(recorder)
    if recorder in LISTENERS:
        LISTENERS.remove(recorder)
    if not TAPES:
        HELD[0] = 0
    _retape()
    refresh_slow_flag()


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_OURS: dict = {}   # filename -> True for nbautograd's own files (and contextlib's)


def _is_ours(filename: str) -> bool:
    ours = _OURS.get(filename)
    if ours is None:
        ours = _OURS[filename] = (os.path.abspath(filename).startswith(_PACKAGE_DIR)
                                  or "contextlib" in filename)
    return ours


def tape_op(node, t, inputs=None, depth: int = 3) -> None:
    """Append an op to the tapes, with the user's code position that made it: the innermost
    frame outside nbautograd, kept as (code, instruction offset); its line and expression
    are looked up only when displayed.

    Called straight from ``_node.record*`` (which stands it in for ``_slow_hooks`` while
    only recorders listen): frame 1 is ``record*``, frame 2 the op, always ours, so the walk
    starts at ``depth`` 3. Starting there also spares making frame objects for the engine's
    own frames, which is most of the cost.
    """
    f = _getframe(depth)
    ours = _OURS
    while f is not None:
        name = f.f_code.co_filename
        o = ours.get(name)
        if o is None:
            o = _is_ours(name)
        if not o:
            break
        f = f.f_back
    out = t._data
    tape((OP, node, out, None, 0) if f is None else (OP, node, out, f.f_code, f.f_lasti))
    # an op's output, then its backward's gradients: about three arrays of this size held
    HELD[0] += 3 * out.nbytes
    if HELD[0] > BUDGET:
        over_budget()


def tape_freed(node) -> None:
    """Append what ``node`` saved, just before backward releases it (for a custom Function:
    the marker "custom", its ``saved_tensors`` and their versions)."""
    if node._custom:
        tape((FREED, node, "custom", getattr(node, "_saved_values", None),
              getattr(node, "_saved_versions", None)))
    else:
        tape((FREED, node, node._saved, node._saved_t, node._ver))


def _tape_all(entry) -> None:
    for log in LOGS:
        log.append(entry)


# ``tape(entry)`` appends to every active recorder's log: with one recorder (the usual case)
# it is that list's own ``append``, one call per op.
tape = _tape_all


def _retape() -> None:
    global tape
    tape = LOGS[0].append if len(LOGS) == 1 else _tape_all


def before_write(arr) -> None:
    """An in-place write into ``arr`` is about to happen: recorders holding ``arr`` (or a view
    of the same memory) summarise it first."""
    for rec in TAPES:
        rec._before_write(arr)


def over_budget() -> None:
    """The tapes hold ``BUDGET`` bytes: every recorder summarises what it holds."""
    for rec in TAPES:
        rec._compact()
    HELD[0] = 0
