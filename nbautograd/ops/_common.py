"""Helpers shared by the op modules: method registration, operand coercion, error texts."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _dtypes
from .._tensor import Tensor


def tensor_method(*names: str):
    """Attach the decorated function to Tensor under ``names`` (default: its own name)."""
    def deco(fn):
        for n in names or (fn.__name__,):
            setattr(Tensor, n, fn)
        return fn
    return deco


def as_tensor_arg(x, like: Tensor | None = None) -> Tensor:
    """A Tensor for an op argument; Python/NumPy scalars become 0-d tensors."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, (numbers.Number, list, tuple, np.ndarray)):
        from .._factories import tensor  # noqa: PLC0415
        if like is not None and isinstance(x, numbers.Number):
            d = _dtypes.result_type(like, x)
            return tensor(x, dtype=d)
        return tensor(x)
    raise TypeError(f"expected Tensor as element 0 in argument 0, but got {type(x).__name__}")


def check_tensor(x, fname: str, argname: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument '{argname}' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")
    return x


def broadcast_error(a_shape: tuple, b_shape: tuple) -> RuntimeError:
    """torch's text for shapes that do not broadcast."""
    na, nb = len(a_shape), len(b_shape)
    n = max(na, nb)
    for i in range(1, n + 1):
        sa = a_shape[-i] if i <= na else 1
        sb = b_shape[-i] if i <= nb else 1
        if sa != sb and sa != 1 and sb != 1:
            return RuntimeError(f"The size of tensor a ({sa}) must match the size of tensor b "
                                f"({sb}) at non-singleton dimension {n - i}")
    return RuntimeError(f"shapes {a_shape} and {b_shape} cannot be broadcast")


def broadcast_error_many(shapes) -> RuntimeError:
    """torch's text for the first operand (left to right) that fails to broadcast."""
    acc = tuple(shapes[0])
    for s in shapes[1:]:
        try:
            acc = np.broadcast_shapes(acc, tuple(s))
        except ValueError:
            return broadcast_error(acc, tuple(s))
    return RuntimeError(f"shapes {shapes} cannot be broadcast")


def wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def dims_arg(dim, ndim: int) -> tuple:
    """Normalize ``dim`` (int, tuple, list or None) to a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        return tuple(sorted({wrap_dim(d, ndim) for d in dim}))
    return (wrap_dim(dim, ndim),)


def float_data(t: Tensor):
    """``t``'s data, cast to the default float dtype when it is integral (torch's rule for
    float-only math such as ``exp`` and ``mean`` on an integer tensor)."""
    d = t._data
    if d.dtype.kind in "fc":
        return d
    return d.astype(_dtypes.get_default_dtype().np)


def same_device(*tensors) -> tuple:
    """``tensors`` on one device, as an elementwise (TensorIterator) op in torch takes them: a
    0-d CPU tensor joins the GPU of the others (a gradient it needs comes back to the CPU);
    any other mix raises torch's error."""
    from .._device import mixed_devices_error  # noqa: PLC0415
    devs = [t.device for t in tensors]
    common = next((d for d in devs if d.type != "cpu"), devs[0])
    out = []
    for t, d in zip(tensors, devs):
        if d == common:
            out.append(t)
        elif d.type == "cpu" and t._data.ndim == 0:
            out.append(to_device_of(t, common))
        else:
            raise mixed_devices_error([common, d])
    return tuple(out)


def to_device_of(t: Tensor, dev) -> Tensor:
    """``t`` on device ``dev``: through ``.to`` (ToCopyBackward0) when a gradient must flow
    back, else a plain copy outside the graph."""
    if t.device == dev:
        return t
    if t._rg:
        return t.to(dev)
    from .._device_move import move  # noqa: PLC0415
    out = Tensor.__new__(Tensor)
    out._data = move(t._data, dev)
    return out
