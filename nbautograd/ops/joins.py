"""Joining and splitting: cat, stack, split, chunk, unbind.

>>> import nbautograd as torch
>>> a = torch.ones(2, requires_grad=True)
>>> torch.cat([a, a * 2])
tensor([1., 1., 2., 2.], grad_fn=<CatBackward0>)
"""
from __future__ import annotations

import numpy as np

from .. import _dtypes
from .._backend import array_namespace
from .._node import Node, op, record
from .._tensor import Tensor
from ._common import tensor_method, wrap_dim
from .indexing import SplitBackward0, SplitWithSizesBackward0, UnbindBackward0, getitem


def _check_list(tensors, fname: str):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{fname}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        "not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"torch.{fname}(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    return tensors


class _JoinBackward(Node):
    save = ()

    def vjp(self, xp, g, *saved):
        axis, sizes, stacked = self._params
        grads, start = [], 0
        for s in sizes:
            key = (slice(None),) * axis + ((start,) if stacked else (slice(start, start + s),))
            grads.append(xp.g_index(g, key))
            start += 1 if stacked else s
        return tuple(grads)


CatBackward0 = op(type("CatBackward0", (_JoinBackward,), {}))
StackBackward0 = op(type("StackBackward0", (_JoinBackward,), {}))


def _common_dtype(tensors):
    return _dtypes.result_type(*tensors)


def _same_device(tensors) -> None:
    """torch's error when cat/stack get tensors on two devices (the first one's is common)."""
    first = type(tensors[0]._data)
    if all(type(t._data) is first for t in tensors):
        return
    common = tensors[0].device
    for t in tensors[1:]:
        if t.device != common:
            from .._device import argument_device_error  # noqa: PLC0415
            raise argument_device_error("tensors", t.device, common, "wrapper_CUDA_cat")


def cat(tensors, dim: int = 0):
    """Concatenate along an existing dim (CatBackward0)."""
    tensors = _check_list(tensors, "cat")
    _same_device(tensors)
    ref = next((t for t in tensors if t._data.ndim != 1 or t._data.shape[0] != 0), tensors[0])
    nd = ref._data.ndim
    if nd == 0:
        raise RuntimeError(f"zero-dimensional tensor (at position {tensors.index(ref)}) cannot be "
                           "concatenated")
    axis = wrap_dim(dim, nd)
    # torch skips legacy empty 1-d tensors in cat; everything else must agree in rank
    skipped = [t._data.ndim == 1 and t._data.shape[0] == 0 and t is not ref for t in tensors]
    parts = [t for t, skip in zip(tensors, skipped) if not skip]
    for i, t in enumerate(tensors):
        if not skipped[i] and t._data.ndim != nd:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {nd} and "
                               f"{t._data.ndim}")
        if not skipped[i]:
            for k in range(nd):
                if k != axis and t._data.shape[k] != ref._data.shape[k]:
                    raise RuntimeError(f"Sizes of tensors must match except in dimension {axis}. "
                                       f"Expected size {ref._data.shape[k]} but got size "
                                       f"{t._data.shape[k]} for tensor number {i} in the list.")
    dt = _common_dtype(tensors).np
    arrays = [t._data.astype(dt, copy=False) for t in parts]
    out = array_namespace(arrays[0]).concatenate(arrays, axis=axis)
    sizes = tuple(t._data.shape[axis] for t in parts)
    red = tuple((None, t._data.dtype) if t._data.dtype != dt else None for t in parts)
    return record(CatBackward0, out, tuple(parts), (axis, sizes, False),
                  red if any(r is not None for r in red) else None)


concat = concatenate = cat


def stack(tensors, dim: int = 0):
    """Stack equally-shaped tensors along a new dim (StackBackward0)."""
    if not isinstance(tensors, Tensor) and len(tensors) == 0:
        raise RuntimeError("stack expects a non-empty TensorList")
    tensors = _check_list(tensors, "stack")
    _same_device(tensors)
    shape = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(t._data.shape)} at entry {i}")
    axis = wrap_dim(dim, len(shape) + 1)
    dt = _common_dtype(tensors).np
    arrays = [t._data.astype(dt, copy=False) for t in tensors]
    out = array_namespace(arrays[0]).stack(arrays, axis=axis)
    red = tuple((None, t._data.dtype) if t._data.dtype != dt else None for t in tensors)
    return record(StackBackward0, out, tuple(tensors), (axis, (1,) * len(tensors), True),
                  red if any(r is not None for r in red) else None)


def _piece(t: Tensor, axis: int, start: int, stop: int, cls):
    res = getitem(t, (slice(None),) * axis + (slice(start, stop),))
    if res.grad_fn is not None:
        res.grad_fn.__class__ = cls  # torch names each piece after the split that made it
    return res


@tensor_method()
def split(tensor, split_size_or_sections, dim: int = 0):
    """Split into pieces of a given size, or of the given list of sizes."""
    axis = wrap_dim(dim, tensor._data.ndim)
    n = tensor._data.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        bounds = [(s, min(s + step, n)) for s in range(0, n, step)] or [(0, 0)]
        cls = SplitBackward0
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {axis}), but got "
                               f"split_sizes={sizes}")
        starts = np.cumsum([0] + sizes[:-1])
        bounds = [(int(s), int(s) + k) for s, k in zip(starts, sizes)]
        cls = SplitWithSizesBackward0
    pieces = tuple(_piece(tensor, axis, a, b, cls) for a, b in bounds)
    for nr, p in enumerate(pieces):
        if p.grad_fn is not None:
            p.grad_fn._output_nr = nr
    return pieces


@tensor_method()
def chunk(input, chunks: int, dim: int = 0):
    """Split into ``chunks`` pieces of (nearly) equal size."""
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    n = input._data.shape[wrap_dim(dim, input._data.ndim)]
    step = -(-n // chunks) if n else 1
    return split(input, step, dim)


@tensor_method()
def unbind(input, dim: int = 0):
    """The slices along ``dim``, as a tuple (UnbindBackward0)."""
    axis = wrap_dim(dim, input._data.ndim)
    out = []
    for i in range(input._data.shape[axis]):
        r = getitem(input, (slice(None),) * axis + (i,))
        if r.grad_fn is not None:
            r.grad_fn.__class__ = UnbindBackward0
            r.grad_fn._output_nr = i
        out.append(r)
    return tuple(out)
