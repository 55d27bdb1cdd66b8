"""Small helpers the widgets share: numpy snapshots of tensors, fixed number formatting, tensor
names from a namespace, and the HTML boxes (status line, error) the widgets show.

Numbers here use four decimals (``-1.3254``), the precision the tutorials quote; the graph
and ledger views use four significant digits.

>>> import numpy as np
>>> fmt(np.array(-1.32544)), fmt(np.array([1.0, 2.0]))
('-1.3254', '[1.0000, 2.0000]')
"""
from __future__ import annotations

import html as _html
from typing import Any, Callable, Mapping

import numpy as np

from .._backend import to_host

FONT = "font-family:Helvetica,Arial,sans-serif;font-size:13px"
MONO = "font-family:Menlo,Consolas,monospace"
MAX_LISTED = 8     # arrays with more elements are summarised by their ends


def esc(s: Any) -> str:
    return _html.escape(str(s))


def snapshot(a) -> np.ndarray | None:
    """A numpy copy of a tensor, an array or a number (None stays None)."""
    if a is None:
        return None
    data = a._data if hasattr(a, "_data") else a
    return np.array(to_host(data), copy=True)


def fmt_number(v: float) -> str:
    f = float(v)
    if np.isnan(f):
        return "nan"
    if np.isinf(f):
        return "inf" if f > 0 else "-inf"
    s = f"{f:.4f}"
    return s[1:] if s == "-0.0000" else s


def fmt(a) -> str:
    """An array or number in four decimals: ``-1.3254``, ``[1.0000, 2.0000]``; long arrays
    keep their ends; ``None`` prints as ``None``."""
    if a is None:
        return "None"
    a = np.asarray(a)
    if a.size == 1:
        return fmt_number(a.reshape(-1)[0])
    flat = a.reshape(-1)
    if flat.size <= MAX_LISTED:
        return "[" + ", ".join(fmt_number(v) for v in flat) + "]"
    return ("[" + ", ".join(fmt_number(v) for v in flat[:3]) + ", …, "
            + ", ".join(fmt_number(v) for v in flat[-2:]) + f"] ({a.size} values)")


def scalar(a) -> float:
    """The value of a one-element array, else its L2 norm (what a chart plots)."""
    a = np.asarray(a, dtype=float)
    return float(a.reshape(-1)[0]) if a.size == 1 else float(np.linalg.norm(a))


def is_tensor(obj) -> bool:
    """An nbautograd (or PyTorch) tensor, by duck typing: ``grad_fn`` and ``requires_grad``."""
    return hasattr(obj, "grad_fn") and hasattr(obj, "requires_grad") and hasattr(obj, "shape")


def tensor_names(names: Mapping | Callable[[], Mapping] | None) -> dict:
    """``{name: tensor}`` from a namespace (or a callable returning one), private names and
    non-tensors left out. Read at each render, so ``names=locals()`` follows the notebook."""
    if names is None:
        return {}
    if callable(names) and not isinstance(names, Mapping):
        names = names()
    return {k: v for k, v in dict(names).items()
            if isinstance(k, str) and not k.startswith("_") and is_tensor(v)}


def name_of(t, names: Mapping, default: str) -> str:
    """The name ``t`` is bound to in ``names`` (by identity), else ``default``."""
    for k, v in names.items():
        if v is t:
            return k
    return default


def error_html(etype: str, message: str, explanation: str = "") -> str:
    """PyTorch's error text in a red box, with a plain explanation under it."""
    return ('<div class="nbag-error" style="border-left:4px solid #dc2626;background:#fef2f2;'
            f'padding:6px 10px;margin:4px 0;{FONT}"><b>{esc(etype)}</b>: '
            f'<code style="white-space:pre-wrap">{esc(message)}</code>'
            + (f'<div style="margin-top:4px;color:#374151">{esc(explanation)}</div>'
               if explanation else "") + "</div>")


def note_html(text: str, cls: str = "nbag-status") -> str:
    return f'<div class="{cls}" style="{FONT};color:#374151;margin:2px 0">{text}</div>'


def explain(message: str) -> str:
    """One plain sentence on an engine error (from ``nbautograd.recording``)."""
    from ..recording import explain as _explain  # noqa: PLC0415
    return _explain(message)
