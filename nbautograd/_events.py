"""Plain-data engine events for the views to subscribe to.

The engine calls ``emit`` only when ``LISTENERS`` is non-empty, so with no subscriber an
event costs one truthiness test.

>>> from nbautograd import _events
>>> seen = []
>>> with _events.subscribed(seen.append):
...     pass
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable

LISTENERS: list[Callable[[Any], None]] = []


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
def subscribed(fn: Callable[[Any], None]):
    """Call ``fn(event)`` for every engine event inside the ``with`` block."""
    from ._node import refresh_slow_flag  # noqa: PLC0415 (_node imports this module)
    LISTENERS.append(fn)
    refresh_slow_flag()
    try:
        yield fn
    finally:
        LISTENERS.remove(fn)
        refresh_slow_flag()
