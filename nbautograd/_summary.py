"""Short, deterministic text summaries of arrays, and the frozen description of a tensor that
is gone: what the views show as a value or a gradient, and what a recording keeps of it.

Numbers use four significant digits (``%.4g``), so the same data gives the same text on every
machine. Small arrays are written out in full, longer vectors keep their ends, and larger
arrays are described by min, mean and max. Plain NumPy only: the engine-side recorder uses
these without importing any view library.

>>> import numpy as np

from ._backend import to_host
from ._device import device_of
from ._dtypes import FROM_NP
>>> summarize(np.array([1.0, 2.5, -3.0]))
'[1, 2.5, -3]'
>>> summarize(np.arange(10.0))
'[0, 1, 2, …, 8, 9]'
>>> summarize(np.ones((3, 4)))
'min 1 · mean 1 · max 1'
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._backend import to_host
from ._device import device_of
from ._dtypes import FROM_NP

FULL = 6          # arrays with at most this many elements are written out
ENDS = (3, 2)     # longer vectors: this many leading and trailing elements


def fmt_number(v) -> str:
    """One number in four significant digits (``True``/``False`` for booleans)."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (complex, np.complexfloating)):
        return f"{v.real:.4g}{v.imag:+.4g}j"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    f = float(v)
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    s = f"{f:.4g}"
    return "0" if s == "-0" else s


def _nested(a: np.ndarray) -> str:
    if a.ndim == 0:
        return fmt_number(a.item())
    return "[" + ", ".join(_nested(x) for x in a) + "]"


class Digest:
    """What ``summarize`` needs of an array, taken now (a copy of a few numbers, or three
    statistics) and turned into text only when asked: recordings take one per event and
    most are never displayed, so the string formatting is deferred.

    >>> Digest(np.arange(10.0)).text()
    '[0, 1, 2, …, 8, 9]'
    """

    __slots__ = ("kind", "data")

    def __init__(self, a) -> None:
        a = np.asarray(a)
        if a.size == 0:
            self.kind, self.data = "empty", None
        elif a.size <= FULL:
            self.kind, self.data = "full", a.copy()
        elif a.ndim == 1:
            head, tail = ENDS
            self.kind, self.data = "ends", (a[:head].copy(), a[-tail:].copy())
        elif a.dtype.kind == "b":
            self.kind, self.data = "bool", (int(a.sum()), a.size)
        else:
            if a.dtype.kind == "c":
                a = np.abs(a)
            with np.errstate(all="ignore"):
                self.kind = "stats"
                self.data = (a.min(), a.astype(np.float64).mean(), a.max())

    def text(self) -> str:
        kind, d = self.kind, self.data
        if kind == "empty":
            return "[]"
        if kind == "full":
            return _nested(d)
        if kind == "ends":
            return "[" + ", ".join([fmt_number(x) for x in d[0]] + ["…"]
                                   + [fmt_number(x) for x in d[1]]) + "]"
        if kind == "bool":
            return f"{d[0]} of {d[1]} True"
        lo, mean, hi = d
        return f"min {fmt_number(lo)} · mean {fmt_number(mean)} · max {fmt_number(hi)}"


def summarize(a) -> str | None:
    """A one-line summary of array-like ``a`` (None stays None)."""
    return None if a is None else Digest(a).text()


def as_text(summary) -> str | None:
    """A summary as text, whether it was taken as text or as a ``Digest``."""
    return summary.text() if isinstance(summary, Digest) else summary


@dataclass(frozen=True)
class FrozenTensor:
    """A tensor's description taken while it was alive (the tensor itself may be gone);
    ``value`` is a summary text or a ``Digest``."""
    shape: tuple | None
    dtype: str | None
    device: str | None
    value: object


def freeze(arr) -> FrozenTensor:
    """The ``FrozenTensor`` of a host or device array (or NumPy scalar), taken now.

    >>> freeze(np.arange(3.0)).value.text()
    '[0, 1, 2]'
    """
    dt = FROM_NP.get(np.dtype(arr.dtype))
    return FrozenTensor(tuple(arr.shape), None if dt is None else dt._name,
                        str(device_of(arr)), Digest(to_host(arr)))
