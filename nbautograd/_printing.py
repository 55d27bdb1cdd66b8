"""PyTorch-identical tensor ``repr`` on top of NumPy.

This module reproduces the output of ``torch/_tensor_str.py`` (PyTorch 2.x)
for dense, strided tensors, without importing torch.  The goal is that
``repr(x)`` of an ``nbautograd`` tensor is character-for-character what
``repr`` of the equivalent ``torch.Tensor`` would print, including:

* the choice between integer mode (``1.``), fixed point (``1.5000``) and
  scientific notation (``1.0000e+20``), driven by the non-zero finite values;
* the column width shared by all elements, ``nan``/``inf`` handling and the
  ``-0.`` spelling of negative zero;
* summarisation past ``threshold`` elements with ``edgeitems`` items kept at
  each end of every dimension (``' ...'`` in rows, ``'...'`` between slices);
* wrapping of rows at ``linewidth`` and of the trailing keyword suffixes
  (``device=``, ``dtype=``, ``grad_fn=``/``requires_grad=``);
* ``set_printoptions`` / ``get_printoptions`` / ``printoptions`` with the
  same semantics (and quirks) as the torch functions of the same names.

The tensor itself is described by a host ``numpy.ndarray`` plus a few facts
only the caller knows (torch's dtype name, whether torch would omit that
dtype, the device and autograd suffixes); see :func:`format_tensor`.

Performance note: like torch we summarise *before* formatting, so printing a
huge tensor only formats the ``~(2*edgeitems)**ndim`` elements that are shown.
Column widths are computed from a handful of extreme values with NumPy rather
than by formatting every element (the printed width of a number is monotonic
in its magnitude within each sign, so the extremes determine the maximum).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Any, Iterator

import numpy as np

__all__ = ["format_tensor", "get_printoptions", "printoptions", "set_printoptions"]


@dataclasses.dataclass
class _PrinterOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


# Module-global, mutable, exactly like torch's PRINT_OPTS.
PRINT_OPTS = _PrinterOptions()

_PROFILES: dict[str, dict[str, Any]] = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Set options for printing tensors (same semantics as ``torch.set_printoptions``).

    ``profile`` ("default", "short" or "full") is applied first and the other
    arguments override it.  As in torch, ``sci_mode`` is *always* assigned, so
    any call that omits it resets it to ``None`` (automatic choice).

    Example::

        >>> import numpy as np
        >>> set_printoptions(precision=2)
        >>> format_tensor(np.array([1.12345], dtype=np.float32),
        ...               dtype_name="torch.float32", is_default_dtype=True)
        'tensor([1.12])'
        >>> set_printoptions(profile="default")
    """
    if profile is not None:
        # Unknown profile names are silently ignored, as in torch.
        for key, value in _PROFILES.get(profile, {}).items():
            setattr(PRINT_OPTS, key, value)
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """Return the current print options as a dict accepted by :func:`set_printoptions`.

    Example::

        >>> get_printoptions()
        {'precision': 4, 'threshold': 1000, 'edgeitems': 3, 'linewidth': 80, 'sci_mode': None}
    """
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs: Any) -> Iterator[None]:
    """Context manager that temporarily applies :func:`set_printoptions` arguments.

    Example::

        >>> import numpy as np
        >>> with printoptions(threshold=5):
        ...     format_tensor(np.arange(10), dtype_name="torch.int64", is_default_dtype=True)
        'tensor([0, 1, 2,  ..., 7, 8, 9])'
    """
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """Column formatter for one real-valued array (torch's ``_Formatter``).

    It decides int/sci mode and the common width from the (already
    summarised) values, then pads every element to that width.
    """

    __slots__ = ("floating", "int_mode", "sci_mode", "max_width", "_spec")

    def __init__(self, values: np.ndarray, opts: _PrinterOptions) -> None:
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        self._spec = ""
        if not self.floating:
            self._init_integral(values)
        else:
            self._init_floating(values, opts)

    def _init_integral(self, values: np.ndarray) -> None:
        if values.size == 0:
            return
        if values.dtype.kind == "b":
            # str(True) == "True", str(False) == "False".
            self.max_width = 4 if values.all() else 5
            return
        # len(str(n)) grows with |n| within each sign, so the two extremes
        # decide the width.
        lo, hi = int(values.min()), int(values.max())
        self.max_width = max(1, len(str(lo)), len(str(hi)))

    def _init_floating(self, values: np.ndarray, opts: _PrinterOptions) -> None:
        precision = opts.precision
        # float16/float32 -> float64 is exact; torch likewise does its
        # bookkeeping in double and formats Python floats (doubles).
        flat = values.reshape(-1).astype(np.float64, copy=False)
        nonzero_finite = flat[np.isfinite(flat) & (flat != 0)]
        if nonzero_finite.size == 0:
            # Only zeros / nan / inf: torch keeps int_mode=True, sci_mode=False
            # and width 1, ignoring a forced sci_mode.
            return
        absolute = np.abs(nonzero_finite)
        abs_min = float(absolute.min())
        abs_max = float(absolute.max())
        self.int_mode = bool(np.all(nonzero_finite == np.ceil(nonzero_finite)))
        if opts.sci_mode is None:
            # Python float division yields inf on overflow (e.g. 1e300/1e-320),
            # matching torch's double tensor division.
            self.sci_mode = abs_max / abs_min > 1000.0 or abs_max > 1.0e8 or abs_min < 1.0e-4
        else:
            self.sci_mode = bool(opts.sci_mode)

        if self.sci_mode:
            spec, extra = f".{precision}e", 0
        elif self.int_mode:
            # "+1" reserves room for the trailing "." appended to finite values.
            spec, extra = ".0f", 1
        else:
            spec, extra = f".{precision}f", 0

        # The printed length is non-decreasing in |x| for a fixed sign (integer
        # digits and exponent digits only grow with the correctly rounded
        # magnitude; the exponent's digit count is largest at the magnitude
        # extremes), so the widest string comes from the smallest or largest
        # value of each sign.
        candidates = []
        positive = nonzero_finite[nonzero_finite > 0]
        negative = nonzero_finite[nonzero_finite < 0]
        for part in (positive, negative):
            if part.size:
                candidates.append(float(part.min()))
                candidates.append(float(part.max()))
        width = max(len(format(v, spec)) for v in candidates) + extra
        self.max_width = max(self.max_width, width)

        if self.sci_mode:
            self._spec = f"{self.max_width}.{precision}e"
        elif not self.int_mode:
            self._spec = f".{precision}f"

    def width(self) -> int:
        return self.max_width

    def format_all(self, values: list) -> list[str]:
        """Format a flat list of Python scalars, padded to the common width."""
        w = self.max_width
        if not self.floating:
            return [str(v).rjust(w) for v in values]
        if self.sci_mode or not self.int_mode:
            spec = self._spec
            return [format(v, spec).rjust(w) for v in values]
        # int_mode: "3." for finite values, plain "nan"/"inf"/"-inf" otherwise.
        out = []
        for v in values:
            s = format(v, ".0f")
            if math.isfinite(v):
                s += "."
            out.append(s.rjust(w))
        return out


def _format_complex(real: list[str], imag: list[str]) -> list[str]:
    out = []
    for r, i in zip(real, imag):
        i = (i + "j").lstrip()
        # A sign already present ("-", or "+" never in practice) is reused.
        out.append(r + i if i[0] in "+-" else r + "+" + i)
    return out


def _summarize(arr: np.ndarray, edgeitems: int) -> tuple[np.ndarray, list[bool]]:
    """Keep ``edgeitems`` entries at both ends of every long axis.

    torch's recursive ``get_summarized_data`` cuts each axis independently, so
    a per-axis ``take`` selects exactly the same elements.
    """
    cut = []
    for axis, n in enumerate(arr.shape):
        if n > 2 * edgeitems:
            keep = np.concatenate((np.arange(edgeitems), np.arange(n - edgeitems, n)))
            arr = np.take(arr, keep, axis=axis)
            cut.append(True)
        else:
            cut.append(False)
    return arr, cut


def _tensor_body(arr: np.ndarray, indent: int, opts: _PrinterOptions) -> str:
    """The bracketed contents of a non-empty tensor (torch's ``_tensor_str``)."""
    summarize = arr.size > opts.threshold
    edgeitems = opts.edgeitems
    ndim = arr.ndim

    if summarize and not edgeitems and ndim >= 1:
        # torch prints a lone ellipsis for every dimensionality here.
        return "[...]"

    if summarize:
        shown, cut = _summarize(arr, edgeitems)
    else:
        shown, cut = arr, [False] * ndim

    is_complex = shown.dtype.kind == "c"
    if is_complex:
        real_fmt = _Formatter(shown.real, opts)
        imag_fmt = _Formatter(shown.imag, opts)
        flat = shown.reshape(-1)
        strs = _format_complex(
            real_fmt.format_all(flat.real.tolist()), imag_fmt.format_all(flat.imag.tolist())
        )
        # Width of one element: real part, imaginary part, "j", plus ", ".
        element_length = real_fmt.width() + imag_fmt.width() + 1 + 2
    else:
        fmt = _Formatter(shown, opts)
        strs = fmt.format_all(shown.reshape(-1).tolist())
        element_length = fmt.width() + 2

    if ndim == 0:
        return strs[0]

    shape = shown.shape
    linewidth = opts.linewidth
    strides = [math.prod(shape[axis + 1 :]) for axis in range(ndim)]

    def render(axis: int, start: int, ind: int) -> str:
        n = shape[axis]
        if axis == ndim - 1:
            items = strs[start : start + n]
            if cut[axis]:
                items = items[:edgeitems] + [" ..."] + items[edgeitems:]
            per_line = max(1, math.floor((linewidth - ind) / element_length))
            lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
            return "[" + (",\n" + " " * (ind + 1)).join(lines) + "]"
        stride = strides[axis]
        slices = [render(axis + 1, start + i * stride, ind + 1) for i in range(n)]
        if cut[axis]:
            slices.insert(edgeitems, "...")
        # Blank lines between slices grow with the remaining rank.
        sep = "," + "\n" * (ndim - axis - 1) + " " * (ind + 1)
        return "[" + sep.join(slices) + "]"

    return render(0, 0, indent)


def _add_suffixes(text: str, suffixes: list[str], indent: int, linewidth: int) -> str:
    parts = [text]
    # torch's estimate (deliberately reproduced): characters after the last
    # newline plus 2, or len + 2 when there is no newline.
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def format_tensor(
    array: np.ndarray | np.generic,
    *,
    dtype_name: str,
    is_default_dtype: bool,
    device_suffix: str | None = None,
    grad_suffix: str | None = None,
    prefix: str = "tensor(",
) -> str:
    """Return exactly what ``repr`` of the equivalent ``torch.Tensor`` prints.

    ``array`` holds the values on the host (a NumPy scalar is a 0-d tensor).
    ``dtype_name`` is torch's spelling (``"torch.int32"``); ``is_default_dtype``
    says whether torch omits ``dtype=`` for a non-empty tensor (default float
    dtype, its complex counterpart, int64, bool).  For *empty* tensors torch
    only omits the dtype when it is the default float dtype, which is taken to
    be the case when ``is_default_dtype`` is true and ``array`` is real
    floating point.  ``device_suffix`` (e.g. ``"device='cuda:0'"``) and
    ``grad_suffix`` (e.g. ``"grad_fn=<MulBackward0>"``) are appended verbatim.
    Continuation lines are indented by the length of the last line of
    ``prefix``, so ``"Parameter containing:\\ntensor("`` lays out like torch.

    Example::

        >>> import numpy as np
        >>> format_tensor(np.array([[1.0, 2.5], [-0.0, np.nan]]),
        ...               dtype_name="torch.float64", is_default_dtype=False,
        ...               grad_suffix="requires_grad=True")
        'tensor([[1.0000, 2.5000],\\n        [-0.0000,    nan]], dtype=torch.float64, requires_grad=True)'
    """
    arr = np.asarray(array)
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"cannot format array of dtype {arr.dtype}")
    opts = PRINT_OPTS
    indent = len(prefix) - (prefix.rfind("\n") + 1)

    suffixes = []
    if device_suffix:
        suffixes.append(device_suffix)
    if arr.size == 0:
        # Like NumPy, torch spells out the shape unless it is (0,) ...
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(int(n) for n in arr.shape)}")
        # ... and, with no elements to hint at it, the dtype unless it is the
        # default float dtype (so even int64/bool are shown).
        if not (is_default_dtype and arr.dtype.kind == "f"):
            suffixes.append("dtype=" + dtype_name)
        body = "[]"
    else:
        if not opts.edgeitems:
            suffixes.append(f"size={tuple(int(n) for n in arr.shape)}")
        if not is_default_dtype:
            suffixes.append("dtype=" + dtype_name)
        body = _tensor_body(arr, indent, opts)
    if grad_suffix:
        suffixes.append(grad_suffix)
    return _add_suffixes(prefix + body, suffixes, indent, opts.linewidth)
