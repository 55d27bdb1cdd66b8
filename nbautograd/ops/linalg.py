"""Matrix products: matmul/@ (dot, mv, mm, batched), mm, mv, dot, bmm, outer.

One VJP serves every case: 1-d operands are promoted to matrices, the batch dims broadcast,
and the engine sums the gradient back to each operand's shape.

>>> import nbautograd as torch
>>> A = torch.ones(2, 3, requires_grad=True)
>>> (A @ torch.ones(3)).sum().backward(); A.grad
tensor([[1., 1., 1.],
        [1., 1., 1.]])
"""
from __future__ import annotations

from .. import _dtypes
from .._backend import array_namespace
from .._node import Node, op, record
from .._tensor import Tensor
from ._common import broadcast_error, tensor_method


class _MatmulBackward(Node):
    arg_names = ("self", "mat2")
    save = ((1,), (0,))
    _diagonal_ok = True  # a vectorized Jacobian's batch @ matrix keeps its closed form

    def vjp(self, xp, g, a, b, out):
        n = self._next
        a_shape, b_shape = self._params
        a1, b1 = len(a_shape) == 1, len(b_shape) == 1
        if a1 and b1:  # dot product: g is 0-d (one value per batch row when batched)
            g = xp.expand_dims(g, -1)
            return (g * b if n[0] is not None else None), (g * a if n[1] is not None else None)
        if b1 and len(a_shape) == 2:
            # matrix @ vector: written so that a batch of cotangents (B, n) makes one GEMM
            ga = xp.expand_dims(g, -1) * b if n[0] is not None else None
            gb = xp.matmul(g, a) if n[1] is not None else None
            return ga, gb
        if a1:
            g = xp.expand_dims(g, -2)
        if b1:
            g = xp.expand_dims(g, -1)
        ga = gb = None
        if n[0] is not None:
            b2 = xp.expand_dims(b, -1) if b1 else b
            ga = xp.matmul(g, xp.swapaxes(b2, -1, -2))
            ga = xp.sum_to(ga, ((1,) if a1 else ()) + tuple(a_shape))
            if a1:
                ga = xp.g_reshape(ga, a_shape)
        if n[1] is not None:
            a2 = xp.expand_dims(a, -2) if a1 else a
            gb = xp.matmul(xp.swapaxes(a2, -1, -2), g)
            gb = xp.sum_to(gb, tuple(b_shape) + ((1,) if b1 else ()))
            if b1:
                gb = xp.g_reshape(gb, b_shape)
        return ga, gb


def _matmul_op(name, arg_names=("self", "mat2")):
    return op(type(name, (_MatmulBackward,), {"arg_names": arg_names, "_fresh_grads": True}))


DotBackward0 = _matmul_op("DotBackward0", ("self", "tensor"))
MvBackward0 = _matmul_op("MvBackward0", ("self", "vec"))
MmBackward0 = _matmul_op("MmBackward0")
BmmBackward0 = _matmul_op("BmmBackward0")
SqueezeBackward4 = _matmul_op("SqueezeBackward4")
UnsafeViewMatmul = _matmul_op("UnsafeViewBackward0")


def _dims(s) -> str:
    return "x".join(map(str, s))


def _check_args(fname: str, argname: str, other, position: int = 1) -> None:
    if not isinstance(other, Tensor):
        raise TypeError(f"{fname}(): argument '{argname}' (position {position}) must be Tensor, "
                        f"not {type(other).__name__}")


def _devices(a: Tensor, b: Tensor, method: str, names=("self", "mat2"), common_from=0) -> None:
    """torch's error for a matrix product whose operands are on two devices: the kernel's
    wrapper takes the device of one argument (``common_from``) and names the other."""
    if type(a._data) is type(b._data):
        return
    da, db = a.device, b.device
    if da == db:
        return
    from .._device import argument_device_error  # noqa: PLC0415
    if common_from == 0:
        raise argument_device_error(names[1], db, da, method)
    raise argument_device_error(names[0], da, db, method)


def _promoted(a: Tensor, b: Tensor):
    ad, bd = a._data, b._data
    if ad.dtype is bd.dtype:
        return ad, bd, None
    raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                       f"{_c10(a.dtype)} != {_c10(b.dtype)}")


def _c10(d):
    from .._tensor import _c10_name  # noqa: PLC0415
    return _c10_name(d)


@tensor_method("matmul", "__matmul__")
def matmul(input, other):
    """Matrix product with torch's rules for 1-d and batched operands."""
    if not isinstance(other, Tensor):
        raise TypeError(f"matmul(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    a, b, _ = _promoted(input, other)
    na, nb = a.ndim, b.ndim
    if type(a) is not type(b):  # the kernel matmul dispatches to decides torch's wording
        if nb == 1 and na >= 2:
            _devices(input, other, "wrapper_CUDA_addmv_", ("mat", "vec"), common_from=1)
        elif nb == 1:
            _devices(input, other, "wrapper_CUDA__dot", ("self", "tensor"))
        elif na == 1 or (na >= 3 and nb == 2) or (na == 2 and nb == 2):
            _devices(input, other, "wrapper_CUDA_mm")
        else:
            _devices(input, other, "wrapper_CUDA_bmm")
    if na == 0 or nb == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{na}D and {nb}D")
    if na == 1 and nb == 1:
        return dot(input, other)
    if na == 2 and nb == 1:
        return mv(input, other)
    if na == 2 and nb == 2:
        return mm(input, other)
    if na == 1 and nb == 2:
        if a.shape[0] != b.shape[0]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied (1x{a.shape[0]} and "
                               f"{_dims(b.shape)})")
        return record(SqueezeBackward4, array_namespace(a).matmul(a, b), (input, other),
                      (a.shape, b.shape))
    ka = a.shape[-1]
    kb = b.shape[-2] if nb > 1 else b.shape[0]
    if ka != kb:
        if na >= 3 and nb >= 3 and a.shape[:-2] == b.shape[:-2]:
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{a.shape[0]}, {ka}] but got: [{b.shape[0]}, {kb}].")
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({_dims((-1, ka) if na > 2 else a.shape)} and {_dims(b.shape[-2:])})")
    try:
        out = array_namespace(a).matmul(a, b)
    except ValueError:
        raise broadcast_error(a.shape[:-2], b.shape[:-2] if nb > 1 else ()) from None
    return record(UnsafeViewMatmul, out, (input, other), (a.shape, b.shape))


Tensor.__rmatmul__ = lambda self, other: matmul(other, self)


@tensor_method()
def mm(input, mat2, *, _position: int = 1):
    """2-d matrix product (MmBackward0)."""
    _check_args("mm", "mat2", mat2, _position)
    _devices(input, mat2, "wrapper_CUDA_mm")
    a, b, _ = _promoted(input, mat2)
    if a.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if b.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_dims(a.shape)} and "
                           f"{_dims(b.shape)})")
    return record(MmBackward0, array_namespace(a).matmul(a, b), (input, mat2), (a.shape, b.shape))


@tensor_method()
def mv(input, vec, *, _position: int = 1):
    """Matrix-vector product (MvBackward0)."""
    _check_args("mv", "vec", vec, _position)
    _devices(input, vec, "wrapper_CUDA_addmv_", ("mat", "vec"), common_from=1)
    a, b, _ = _promoted(input, vec)
    if a.ndim != 2 or b.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {a.ndim}, {a.ndim}, {b.ndim}")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({a.shape[0]}), mat ({_dims(a.shape)}), "
                           f"vec ({b.shape[0]})")
    return record(MvBackward0, array_namespace(a).matmul(a, b), (input, vec), (a.shape, b.shape))


@tensor_method()
def dot(input, tensor, *, _position: int = 1):
    """Inner product of two 1-d tensors (DotBackward0)."""
    _check_args("dot", "tensor", tensor, _position)
    _devices(input, tensor, "wrapper_CUDA__dot", ("self", "tensor"))
    a, b, _ = _promoted(input, tensor)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                           f"[{b.shape[0]}] to have the same number of elements, but got "
                           f"{a.shape[0]} and {b.shape[0]} elements respectively")
    return record(DotBackward0, array_namespace(a).dot(a, b), (input, tensor), (a.shape, b.shape))


@tensor_method()
def bmm(input, mat2, *, _position: int = 1):
    """Batched matrix product of two 3-d tensors (BmmBackward0)."""
    _check_args("bmm", "mat2", mat2, _position)
    _devices(input, mat2, "wrapper_CUDA_bmm")
    a, b, _ = _promoted(input, mat2)
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if b.shape[0] != a.shape[0] or b.shape[1] != a.shape[2]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].")
    return record(BmmBackward0, array_namespace(a).matmul(a, b), (input, mat2),
                  (a.shape, b.shape))


@tensor_method()
def outer(input, vec2):
    """Outer product of two vectors (torch computes it as a broadcast multiply)."""
    return input.unsqueeze(1) * vec2


Tensor.ger = outer
_ = _dtypes


def _as_function(method, argname):
    def fn(input, other):
        _check_args(method.__name__, "input", input, 1)
        return method(input, other, _position=2)
    fn.__name__, fn.__doc__ = method.__name__, method.__doc__
    return fn


mm_function = _as_function(mm, "mat2")
mv_function = _as_function(mv, "vec")
dot_function = _as_function(dot, "tensor")
bmm_function = _as_function(bmm, "mat2")
