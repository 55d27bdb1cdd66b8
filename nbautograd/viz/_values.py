"""Text helpers of the views: shapes, dtype names, sparkline values; the array summaries
themselves live in ``nbautograd._summary`` (the engine-side recorder takes them too).

>>> fmt_shape((2, 3)), summarize(np.arange(10.0))
('(2, 3)', '[0, 1, 2, …, 8, 9]')
"""
from __future__ import annotations

import numpy as np

from .._summary import as_text, fmt_number, summarize  # noqa: F401 (the views import them here)


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
