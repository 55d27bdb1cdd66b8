"""Torch dtypes over NumPy dtypes, and PyTorch's type-promotion rules.

>>> import nbautograd as torch
>>> torch.tensor([1, 2]).dtype, (torch.tensor([1, 2]) / 2).dtype
(torch.int64, torch.float32)
"""
from __future__ import annotations

import numpy as np


class dtype:
    """A tensor element type, printed as torch prints it (``torch.float32``)."""

    __slots__ = ("_name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize")

    def __init__(self, name: str, np_dtype) -> None:
        self._name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.is_complex = self.np.kind == "c"
        self.is_signed = self.np.kind in "ifc"
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        return "torch." + self._name

    __str__ = __repr__

    def __reduce__(self):
        return (_by_name, (self._name,))

    def to_complex(self) -> "dtype":
        return complex128 if self is float64 else complex64

    def to_real(self) -> "dtype":
        return float64 if self is complex128 else float32 if self is complex64 else self


float16 = dtype("float16", np.float16)
float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
complex64 = dtype("complex64", np.complex64)
complex128 = dtype("complex128", np.complex128)
uint8 = dtype("uint8", np.uint8)
int8 = dtype("int8", np.int8)
int16 = dtype("int16", np.int16)
int32 = dtype("int32", np.int32)
int64 = dtype("int64", np.int64)
bool_ = dtype("bool", np.bool_)
# torch's aliases
half, float_, double, cfloat, cdouble = float16, float32, float64, complex64, complex128
short, int_, long = int16, int32, int64

ALL = (float16, float32, float64, complex64, complex128, uint8, int8, int16, int32, int64, bool_)
_NAMES = {d._name: d for d in ALL}
# numpy dtype -> torch dtype; builtin numpy dtypes are singletons, so lookups are cheap
FROM_NP: dict = {d.np: d for d in ALL}


def _by_name(name: str) -> dtype:
    return _NAMES[name]


def from_numpy_dtype(np_dtype) -> dtype:
    try:
        return FROM_NP[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{np.dtype(np_dtype).name}. The only supported "
            "types are: float64, float32, float16, complex64, complex128, int64, int32, int16, "
            "int8, uint8, and bool."
        ) from None


_default = [float32]


def get_default_dtype() -> dtype:
    """The dtype of floating tensors made from Python floats (float32 unless changed)."""
    return _default[0]


def set_default_dtype(d: dtype) -> None:
    """Set the default floating dtype (float32 or float64, as in torch)."""
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _default[0] = d


def as_dtype(d) -> dtype:
    """Accept a torch dtype, a numpy dtype or a Python type, as torch's ``dtype=`` does."""
    if isinstance(d, dtype):
        return d
    if d is float:
        return float64
    if d is int:
        return int64
    if d is bool:
        return bool_
    if d is complex:
        return complex128
    return from_numpy_dtype(d)


def _category(d: dtype) -> int:
    # bool < integer < floating < complex: promotion across categories follows this order
    return 3 if d.is_complex else 2 if d.is_floating_point else 0 if d is bool_ else 1


def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the smallest dtype both ``a`` and ``b`` convert to."""
    if a is b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        hi, lo = (a, b) if ca > cb else (b, a)
        if hi.is_complex and lo.is_floating_point:
            return complex128 if float64 in (lo, hi.to_real()) else complex64
        return hi  # int + float16 stays float16 in torch (numpy would say float64)
    return FROM_NP[np.promote_types(a.np, b.np)]


def _combine(higher, lower):
    # c10's combine_categories: a wrapped/0-d operand only matters if it is of a higher category
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.is_complex:
        return higher
    if lower.is_complex:
        return higher.to_complex() if higher.is_floating_point else lower
    if higher.is_floating_point:
        return higher
    if higher is bool_ or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def scalar_dtype(v) -> dtype:
    """The dtype a Python scalar takes when wrapped (bool, int64, default float, complex)."""
    if isinstance(v, bool):
        return bool_
    if isinstance(v, int):
        return int64
    if isinstance(v, float):
        return _default[0]
    if isinstance(v, complex):
        return _default[0].to_complex()
    raise TypeError(f"unsupported scalar type {type(v).__name__}")


def result_type(*operands) -> dtype:
    """torch.result_type over tensors (anything with ``.dtype``/``.ndim``) and Python scalars."""
    dim = zero = wrapped = None
    for o in operands:
        d = getattr(o, "dtype", None)
        if d is None:
            s = scalar_dtype(o)
            wrapped = s if wrapped is None else promote_types(wrapped, s)
        elif o.ndim:
            dim = d if dim is None else promote_types(dim, d)
        else:
            zero = d if zero is None else promote_types(zero, d)
    return _combine(dim, _combine(zero, wrapped))


_LEGACY = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
           "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
           "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def legacy_type_name(array) -> str:
    """torch's legacy type string of an array's dtype, e.g. ``torch.FloatTensor``."""
    where = "" if isinstance(array, (np.ndarray, np.generic)) else "cuda."
    return f"torch.{where}{_LEGACY[FROM_NP[array.dtype]._name]}Tensor"
