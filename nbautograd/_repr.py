"""Tensor repr: torch's suffixes (device, dtype, grad_fn / requires_grad) over ``_printing``."""
from __future__ import annotations

from . import _dtypes
from ._backend import to_host
from ._printing import format_tensor


def tensor_repr(t, prefix: str = "tensor(") -> str:
    """``repr(t)`` exactly as torch prints it."""
    d = t.dtype
    default = _dtypes.get_default_dtype()
    is_default = d is default or d is _dtypes.int64 or d is _dtypes.bool_ or \
        (d.is_complex and d is default.to_complex())
    dev = t.device
    device_suffix = f"device='{dev}'" if dev.type != "cpu" else None
    if t.grad_fn is not None:
        grad_suffix = f"grad_fn=<{type(t.grad_fn).__name__}>"
    elif t._rg:
        grad_suffix = "requires_grad=True"
    else:
        grad_suffix = None
    return format_tensor(to_host(t._data), dtype_name=str(d), is_default_dtype=is_default,
                         device_suffix=device_suffix, grad_suffix=grad_suffix, prefix=prefix)
