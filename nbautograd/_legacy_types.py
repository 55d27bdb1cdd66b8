"""torch's legacy typed constructors: ``FloatTensor([1, 2])``, ``LongTensor(2, 3)``, and
``isinstance(t, torch.FloatTensor)`` (true for a float32 tensor).

>>> import nbautograd as torch
>>> torch.DoubleTensor([1, 2]), isinstance(torch.ones(2), torch.FloatTensor)
(tensor([1., 2.], dtype=torch.float64), True)
"""
from __future__ import annotations

import numpy as np

from . import _dtypes
from ._tensor import Tensor


class _TypedTensorMeta(type):
    """Calls build a Tensor of one dtype; isinstance checks compare the dtype."""

    def __call__(cls, *args):
        from ._factories import _finish, tensor  # noqa: PLC0415
        if not args:
            return _finish(np.zeros((0,), cls.dtype.np))
        if all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return _finish(np.empty(args, cls.dtype.np))  # sizes: uninitialized, as torch
        if len(args) == 1:
            data = args[0]
            if isinstance(data, Tensor):
                return data.to(cls.dtype)
            return tensor(np.asarray(data).astype(cls.dtype.np) if cls.dtype.is_floating_point
                          or np.asarray(data).dtype.kind != "f"
                          else np.trunc(np.asarray(data)).astype(cls.dtype.np))
        raise TypeError(f"{cls.__name__}(): expected data or sizes")

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype

    def __repr__(cls) -> str:
        return f"<class 'torch.{cls.__name__}'>"


def _typed(name: str, dtype: _dtypes.dtype):
    return _TypedTensorMeta(name, (), {"dtype": dtype, "__doc__": f"A {dtype} tensor."})


FloatTensor = _typed("FloatTensor", _dtypes.float32)
DoubleTensor = _typed("DoubleTensor", _dtypes.float64)
HalfTensor = _typed("HalfTensor", _dtypes.float16)
LongTensor = _typed("LongTensor", _dtypes.int64)
IntTensor = _typed("IntTensor", _dtypes.int32)
ShortTensor = _typed("ShortTensor", _dtypes.int16)
CharTensor = _typed("CharTensor", _dtypes.int8)
ByteTensor = _typed("ByteTensor", _dtypes.uint8)
BoolTensor = _typed("BoolTensor", _dtypes.bool_)
