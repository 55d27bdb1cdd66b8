"""Short, deterministic text summaries of arrays: what a node shows as its value or gradient.

Numbers use four significant digits (``%.4g``), so the same data gives the same text on every
machine. Small arrays are written out in full, longer vectors keep their ends, and larger
arrays are described by min, mean and max.

>>> import numpy as np
>>> summarize(np.array([1.0, 2.5, -3.0]))
'[1, 2.5, -3]'
>>> summarize(np.arange(10.0))
'[0, 1, 2, …, 8, 9]'
>>> summarize(np.ones((3, 4)))
'min 1 · mean 1 · max 1'
"""
from __future__ import annotations

import math

import numpy as np

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


def scalar_trace(a) -> float:
    """One number standing for an array in a sparkline: its value, or its L2 norm."""
    a = np.asarray(a)
    if a.size == 1:
        v = a.reshape(()).item()
        return float(abs(v)) if isinstance(v, complex) else float(v)
    return float(np.sqrt(np.sum(np.abs(a.astype(np.complex128 if a.dtype.kind == "c"
                                                 else np.float64)) ** 2)))


def fmt_shape(shape) -> str:
    """``(2, 3)`` as ``"(2, 3)"`` and a 0-d shape as ``"()"``."""
    if shape is None:
        return "?"
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def dtype_name(dtype) -> str | None:
    """``torch.float32`` / ``nbautograd.float32`` / numpy dtype -> ``"float32"``."""
    if dtype is None:
        return None
    s = str(dtype)
    return s.split(".", 1)[1] if s.startswith("torch.") else s
