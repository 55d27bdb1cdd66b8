"""torch.nn.functional: activations, ``linear``, ``dropout`` and the losses, on the engine.

Values and gradients match torch; the ops torch fuses record torch's node names
(``AddmmBackward0``, ``NllLossBackward0``, ``MseLossBackward0``, ...), see ``nn/_nodes.py``.

>>> import nbautograd as torch
>>> import nbautograd.nn.functional as F
>>> F.mse_loss(torch.tensor([1., 2.]), torch.tensor([1., 4.]))
tensor(2.)
>>> logits = torch.tensor([[2., 0., -1.]], requires_grad=True)
>>> F.cross_entropy(logits, torch.tensor([0]))
tensor(0.1698, grad_fn=<NllLossBackward0>)
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import _dtypes
from .._backend import array_namespace, is_host
from .._node import record
from .._tensor import Tensor
from . import _nodes

__all__ = ["relu", "relu_", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear",
           "dropout", "mse_loss", "l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss"]


# --- activations -------------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)`` elementwise.

    >>> import nbautograd as torch
    >>> torch.nn.functional.relu(torch.tensor([-1., 2.]))
    tensor([0., 2.])
    """
    return input.relu_() if inplace else input.relu()


def relu_(input: Tensor) -> Tensor:
    """In-place :func:`relu`.

    >>> import nbautograd as torch
    >>> torch.nn.functional.relu_(torch.tensor([-1., 2.]))
    tensor([0., 2.])
    """
    return input.relu_()


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x if x > 0 else negative_slope * x`` (LeakyReluBackward0).

    >>> import nbautograd as torch
    >>> torch.nn.functional.leaky_relu(torch.tensor([-1., 2.]), 0.1)
    tensor([-0.1000,  2.0000])
    """
    if inplace:
        return input._inplace(lambda s: _leaky(s, negative_slope, _nodes.LeakyReluBackward1))
    return _leaky(input, negative_slope, _nodes.LeakyReluBackward0)


def _leaky(input: Tensor, negative_slope: float, node_cls) -> Tensor:
    d = input._data
    xp = array_namespace(d)
    out = xp.where(d > 0, d, d * d.dtype.type(negative_slope)).astype(d.dtype, copy=False)
    return record(node_cls, out, (input,), (negative_slope,))


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))`` elementwise.

    >>> import nbautograd as torch
    >>> torch.nn.functional.sigmoid(torch.tensor([0.]))
    tensor([0.5000])
    """
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent elementwise.

    >>> import nbautograd as torch
    >>> torch.nn.functional.tanh(torch.tensor([0.]))
    tensor([0.])
    """
    return input.tanh()


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  "include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """``exp(x) / exp(x).sum(dim)``: probabilities along ``dim``.

    >>> import nbautograd as torch
    >>> torch.nn.functional.softmax(torch.tensor([0., 0.]), dim=0)
    tensor([0.5000, 0.5000])
    """
    if dim is None:
        dim = _softmax_dim("softmax", input.dim(), _stacklevel)
    return input.softmax(dim) if dtype is None else input.softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """``x - logsumexp(x, dim)``: log-probabilities along ``dim``.

    >>> import nbautograd as torch
    >>> torch.nn.functional.log_softmax(torch.tensor([0., 0.]), dim=0)
    tensor([-0.6931, -0.6931])
    """
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim(), _stacklevel)
    return input.log_softmax(dim) if dtype is None else input.log_softmax(dim, dtype=dtype)


# --- linear and dropout ------------------------------------------------------------------------
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``, recorded as torch records it (``AddmmBackward0`` for a
    2-d input with a bias; ``MmBackward0``/``UnsafeViewBackward0``/``ViewBackward0`` otherwise).

    >>> import nbautograd as torch
    >>> torch.nn.functional.linear(torch.ones(1, 2), torch.ones(3, 2), torch.zeros(3))
    tensor([[2., 2., 2.]])
    """
    if bias is None:
        return input.matmul(weight.t())
    if input.dim() == 2:
        return _addmm(bias, input, weight.t())
    if input.dim() == 0 or weight.dim() != 2:
        return input.matmul(weight.t()) + bias
    # torch flattens the batch dims, runs addmm, and views the result back (ViewBackward0)
    lead = tuple(input.shape[:-1])
    out = _addmm(bias, input.reshape(-1, input.shape[-1]), weight.t())
    return out.reshape(*lead, out.shape[-1])


def _addmm(bias: Tensor, mat1: Tensor, mat2: Tensor) -> Tensor:
    a, b, c = mat1._data, mat2._data, bias._data
    if a.dtype != b.dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                           f"{_legacy(mat1.dtype)} and {_legacy(mat2.dtype)}")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} "
                           f"and {b.shape[0]}x{b.shape[1]})")
    out_shape = (a.shape[0], b.shape[1])
    if c.shape != out_shape:
        _check_expand(bias, out_shape)
    if c.dtype != a.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                           f"{_legacy(bias.dtype)} and {_legacy(mat2.dtype)}")
    xp = array_namespace(a)
    out = xp.matmul(a, b)
    out = out + c
    reduce = None
    if c.shape != out_shape:
        reduce = ((c.shape, None), None, None)
    return record(_nodes.AddmmBackward0, out, (bias, mat1, mat2), (1, 1), reduce)


def _check_expand(t: Tensor, target: tuple) -> None:
    """Raise torch's ``expand`` error if ``t`` cannot be broadcast to ``target``."""
    shape = tuple(t.shape)
    if len(shape) > len(target):
        sizes, dims = ", ".join(map(str, shape)), ", ".join(map(str, target))
        raise RuntimeError(
            f"expand({t.type()}{{[{sizes}]}}, size=[{dims}]): "
            f"the number of sizes provided ({len(target)}) must be greater or equal to the "
            f"number of dimensions in the tensor ({len(shape)})")
    padded = (1,) * (len(target) - len(shape)) + shape
    for i in range(len(target) - 1, -1, -1):
        if padded[i] != target[i] and padded[i] != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({target[i]}) must match the existing size "
                f"({padded[i]}) at non-singleton dimension {i}.  Target sizes: "
                f"[{', '.join(map(str, target))}].  Tensor sizes: [{', '.join(map(str, shape))}]")


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` (training
    only; the mask comes from nbautograd's generator -- the input's GPU's generator for a CUDA
    tensor, made there -- so ``manual_seed`` makes it repeatable).

    >>> import nbautograd as torch
    >>> torch.nn.functional.dropout(torch.ones(3), p=0.5, training=False)
    tensor([1., 1., 1.])
    """
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    d = input._data
    xp = array_namespace(d)
    if p == 1.0:
        noise = xp.zeros(d.shape, dtype=d.dtype)
    else:
        keep = _uniform_like(d) >= p
        # the scale rounded to the input's dtype, then a Python number: the division stays in
        # the input's namespace and dtype (a NumPy scalar on the left would reach NumPy)
        noise = keep.astype(d.dtype) / d.dtype.type(1.0 - p).item()
    mask = Tensor.__new__(Tensor)
    mask._data = noise
    return input.mul_(mask) if inplace else input * mask


def _uniform_like(d):
    """Uniform [0, 1) draws shaped like array ``d``, made where ``d`` lives: the CPU
    generator (float64) for NumPy data, the GPU's own generator for a device array (float32
    for inputs of 32 bits or fewer, as torch's CUDA dropout draws them)."""
    if is_host(d):
        from .._factories import _RNG  # noqa: PLC0415
        return _RNG[0].random(d.shape)
    from .. import cuda  # noqa: PLC0415
    from .._device import device_of  # noqa: PLC0415
    dt = np.float32 if d.dtype.kind == "f" and d.dtype.itemsize <= 4 else np.float64
    return cuda._random(device_of(d), "random", tuple(d.shape), dt)


# --- losses ------------------------------------------------------------------------------------
def _legacy(dt) -> str:
    return _dtypes._LEGACY[dt._name]


def _get_reduction(reduction: str, size_average=None, reduce=None) -> str:
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        ret = "mean" if size_average and reduce else ("sum" if reduce else "none")
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{ret}' instead.", stacklevel=3)
        return ret
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' "
                      "instead.", stacklevel=3)
        return "mean"
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce_array(loss, reduction: str, dtype):
    if reduction == "none":
        return loss.astype(dtype, copy=False)
    xp = array_namespace(loss)
    # accumulate in double, as torch's CPU kernels do, then round once
    total = xp.sum(loss, dtype=np.float64)
    if reduction == "mean":
        total = total / loss.size if loss.size else np.float64("nan")
    return xp.asarray(total).astype(dtype)[()]


def _size_warning(input: Tensor, target: Tensor) -> None:
    warnings.warn(f"Using a target size ({target.size()}) that is different to the input size "
                  f"({input.size()}). This will likely lead to incorrect results due to "
                  "broadcasting. Please ensure they have the same size.", stacklevel=3)


def _broadcast_reduce(x: Tensor, out_shape: tuple, out_np):
    """The ``reduce`` spec that brings a gradient back to ``x``'s shape and dtype."""
    shape = x._data.shape if x._data.shape != out_shape else None
    dtype = x._data.dtype if x._data.dtype != out_np else None
    return None if shape is None and dtype is None else (shape, dtype)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error ``((input - target) ** 2).mean()`` (MseLossBackward0).

    >>> import nbautograd as torch
    >>> torch.nn.functional.mse_loss(torch.tensor([0., 2.]), torch.tensor([1., 1.]))
    tensor(1.)
    """
    if target.size() != input.size():
        _size_warning(input, target)
    reduction = _get_reduction(reduction, size_average, reduce)
    if weight is not None:
        if weight.size() != input.size():
            raise ValueError("Weights and input must have the same size.")
        return _weighted((input - target).pow(2) * weight, weight, reduction)
    a, b = input._data, target._data
    rt = _dtypes.result_type(input, target)
    if not rt.is_floating_point:
        rt = _dtypes.get_default_dtype()
    try:
        out_shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        from ..ops._common import broadcast_error  # noqa: PLC0415
        raise broadcast_error(a.shape, b.shape) from None
    with np.errstate(all="ignore"):  # torch computes inf/nan silently
        diff = a.astype(rt.np, copy=False) - b.astype(rt.np, copy=False)
        out = _reduce_array(diff * diff, reduction, rt.np)
    reduce = (_broadcast_reduce(input, out_shape, rt.np),
              _broadcast_reduce(target, out_shape, rt.np))
    if reduce == (None, None):
        reduce = None
    numel = int(np.prod(out_shape))
    return record(_nodes.MseLossBackward0, out, (input, target),
                  (reduction, numel, len(out_shape)), reduce)


def _weighted(loss: Tensor, weight: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / weight.sum()


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ``(input - target).abs().mean()``.

    >>> import nbautograd as torch
    >>> torch.nn.functional.l1_loss(torch.tensor([0., 2.]), torch.tensor([1., 1.]))
    tensor(1.)
    """
    if target.size() != input.size():
        _size_warning(input, target)
    reduction = _get_reduction(reduction, size_average, reduce)
    if weight is not None:
        if weight.size() != input.size():
            raise ValueError("Weights and input must have the same size.")
        return _weighted((input - target).abs() * weight, weight, reduction)
    loss = (input - target).abs()
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Binary cross entropy between probabilities ``input`` and ``target`` (log clamped at
    -100, as torch does).

    >>> import nbautograd as torch
    >>> torch.nn.functional.binary_cross_entropy(torch.tensor([0.5]), torch.tensor([1.]))
    tensor(0.6931)
    """
    reduction = _get_reduction(reduction, size_average, reduce)
    if target.size() != input.size():
        raise ValueError(f"Using a target size ({target.size()}) that is different to the input "
                         f"size ({input.size()}) is deprecated. Please ensure they have the "
                         "same size.")
    x, t = input._data, target._data
    if t.dtype != x.dtype:
        raise RuntimeError(f"Found dtype {_legacy(target.dtype)} but expected "
                           f"{_legacy(input.dtype)}")
    xp = array_namespace(x)
    w = None
    if weight is not None:
        shape = np.broadcast_shapes(t.shape, weight._data.shape)
        w = xp.broadcast_to(weight._data.astype(x.dtype, copy=False), shape)
    if x.size and not bool(xp.all((x >= 0) & (x <= 1))):
        raise RuntimeError("all elements of input should be between 0 and 1")
    with np.errstate(all="ignore"):
        log_x = xp.maximum(xp.log(x), x.dtype.type(-100))
        log_1mx = xp.maximum(xp.log1p(-x), x.dtype.type(-100))
        loss = (t - 1) * log_1mx - t * log_x
        if w is not None:
            loss = loss * w
        out = _reduce_array(loss, reduction, x.dtype)
    shape = tuple(loss.shape)
    reduce = (_broadcast_reduce(input, shape, x.dtype), _broadcast_reduce(target, shape, x.dtype))
    if reduce == (None, None):
        reduce = None
    return record(_nodes.BinaryCrossEntropyBackward0, out, (input, target),
                  (w, reduction, loss.size), reduce)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid then binary cross entropy, computed stably from logits.

    >>> import nbautograd as torch
    >>> F = torch.nn.functional
    >>> F.binary_cross_entropy_with_logits(torch.tensor([0.]), torch.tensor([1.]))
    tensor(0.6931)
    """
    reduction = _get_reduction(reduction, size_average, reduce)
    if not (target.size() == input.size()):
        raise ValueError(f"Target size ({target.size()}) must be the same as input size "
                         f"({input.size()})")
    x, t = input._data, target._data
    rt = _dtypes.result_type(input, target)
    if not (rt.is_floating_point or rt.is_complex):
        rt = _dtypes.get_default_dtype()
    if t.dtype.kind not in "fc":
        # torch computes ``(1 - target).mul_(input)`` in place on the integer target
        raise RuntimeError(f"result type {_legacy(_dtypes.FROM_NP[np.dtype(rt.np)])} can't be "
                           f"cast to the desired output type {_legacy(target.dtype)}")
    xs, ts = x.astype(rt.np, copy=False), t.astype(rt.np, copy=False)
    xp = array_namespace(xs)
    pw = w = None
    with np.errstate(all="ignore"):
        log_sig = xp.minimum(xs, 0) - xp.log1p(xp.exp(-xp.abs(xs)))
        if pos_weight is not None:
            pw = pos_weight._data.astype(rt.np, copy=False)
            log_sig = log_sig * ((pw - 1) * ts + 1)
        loss = (1 - ts) * xs - log_sig
        if weight is not None:
            w = weight._data.astype(rt.np, copy=False)
            loss = loss * w
        out = _reduce_array(loss, reduction, rt.np)
    shape = tuple(loss.shape)
    reduce = (_broadcast_reduce(input, shape, rt.np), _broadcast_reduce(target, shape, rt.np))
    if reduce == (None, None):
        reduce = None
    return record(_nodes.BinaryCrossEntropyWithLogitsBackward0, out, (input, target),
                  (w, pw, reduction, loss.size), reduce)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices ``target`` under log-probabilities ``input``
    (class dim 1, or 0 for an unbatched 1-d input).

    >>> import nbautograd as torch
    >>> torch.nn.functional.nll_loss(torch.tensor([[-1., -2.]]), torch.tensor([1]))
    tensor(2.)
    """
    reduction = _get_reduction(reduction, size_average, reduce)
    return _nll_loss_nd(input, target, weight, reduction, ignore_index)


def _nll_loss_nd(input: Tensor, target: Tensor, weight, reduction: str,
                 ignore_index: int) -> Tensor:
    """torch's ``nll_loss_nd``: checks, then the 1-d/2-d kernel (NllLossBackward0) or the
    spatial one (NllLoss2DBackward0; 3-d and 5-d+ inputs are viewed as 4-d and back)."""
    x, t = input._data, target._data
    if x.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {x.ndim})")
    if x.ndim != 1 and (t.ndim == 0 or x.shape[0] != t.shape[0]):
        tb = t.shape[0] if t.ndim else 0
        raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target batch_size "
                         f"({tb}).")
    if x.ndim <= 2:
        if t.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if x.ndim == 1 and t.ndim == 1 and t.shape[0] != 1:
            raise RuntimeError(f"For 1D input, 1D target must have size 1, but got target size: "
                               f"{t.shape[0]}")
        return _nll_kernel(input, target, weight, reduction, ignore_index,
                           _nodes.NllLossBackward0)
    if x.ndim == 4:
        if t.ndim != 3:
            raise RuntimeError("only batches of spatial targets supported (3D tensors) but got "
                               f"targets of dimension: {t.ndim}")
        if x.shape[0] != t.shape[0] or x.shape[2:] != t.shape[1:]:
            raise RuntimeError(f"size mismatch (got input: {list(x.shape)} , target: "
                               f"{list(t.shape)}")
        return _nll_kernel(input, target, weight, reduction, ignore_index,
                           _nodes.NllLoss2DBackward0)
    out_size = [x.shape[0]] + list(x.shape[2:])
    if list(t.shape[1:]) != list(x.shape[2:]):
        raise RuntimeError(f"Expected target size {out_size}, got {list(t.shape)}")
    n, c = x.shape[0], x.shape[1]
    out = _nll_kernel(input.reshape(n, c, 1, -1), target.reshape(n, 1, -1), weight, reduction,
                      ignore_index, _nodes.NllLoss2DBackward0)
    return out.reshape(*out_size) if reduction == "none" else out


def _nll_kernel(input: Tensor, target: Tensor, weight, reduction: str, ignore_index: int,
                node_cls) -> Tensor:
    x, t = input._data, target._data
    if t.dtype not in (np.int64, np.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{_legacy(target.dtype)}")
    class_dim = 0 if x.ndim == 1 else 1
    n_classes = x.shape[class_dim]
    if weight is not None and not (weight.dim() == 1 and weight.numel() == n_classes):
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} "
                           "classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    if not (is_host(x) and is_host(t) and (weight is None or is_host(weight._data))):
        _nll_devices(input, target, weight, node_cls)
    # every step in the input's namespace: NumPy on the CPU, the GPU's library on a GPU
    xp = array_namespace(x)
    w = None if weight is None else weight._data.astype(np.float64)
    # work on (N, d1, ..., C) with targets (N, d1, ...); an unbatched input is a batch of one
    xl = xp.moveaxis(x[None, :] if x.ndim == 1 else x, 1, -1)
    tl = xp.reshape(t, (1,)) if x.ndim == 1 else t
    tl = tl.astype(np.int64)
    valid = tl != ignore_index
    bad = valid & ((tl < 0) | (tl >= n_classes))
    if bad.any():
        raise IndexError(f"Target {int(tl[bad][0])} is out of bounds.")
    safe_t = xp.where(valid, tl, 0)
    with np.errstate(all="ignore"):  # -inf log-probs and all-ignored batches give inf/nan
        picked = xp.take_along_axis(xl, safe_t[..., None], axis=-1)[..., 0].astype(np.float64)
        wt = (w[safe_t] if w is not None else xp.ones(safe_t.shape)) * valid
        losses = xp.where(valid, -wt * picked, 0.0)
        if reduction == "none":
            out = losses.astype(x.dtype)
            if x.ndim == 1:
                out = out.reshape(())
            scale = -wt
        elif reduction == "mean":
            # accumulated in double, as torch's kernel does, then divided by the weight total
            total_weight = wt.sum()
            out = xp.asarray(losses.sum() / total_weight).astype(x.dtype)[()]
            scale = -wt / total_weight
        else:
            out = xp.asarray(losses.sum()).astype(x.dtype)[()]
            scale = -wt
        # d loss / d input: -weight[target] (/ total weight) at each target position, 0
        # elsewhere (a one-hot select: nan/inf scales stay at the target, as in torch)
        hot = xp.arange(n_classes) == safe_t[..., None]
        coef_l = xp.where(hot, xp.where(valid, scale, 0.0)[..., None], 0.0)
    coef = xp.moveaxis(coef_l, -1, 1)
    if x.ndim == 1:
        coef = coef[0]
    if reduction == "none" and x.ndim == 1:
        reduction = "scalar"  # the 0-d output of an unbatched input: g needs no class dim
    return record(node_cls, out, (input,),
                  (coef.astype(x.dtype), class_dim, reduction, ignore_index))


def _nll_devices(input: Tensor, target: Tensor, weight, node_cls) -> None:
    """torch's error when the target or the class weights live on another device than the
    input (the kernel's generated wrapper checks ``target`` then ``weight``)."""
    from .._device import argument_device_error  # noqa: PLC0415
    common = input.device
    args = [("target", target)] + ([] if weight is None else [("weight", weight)])
    kind = "CUDA" if any(a.device.type == "cuda" for _, a in args) or common.type == "cuda" \
        else "CPU"
    name = "nll_loss2d_forward" if node_cls is _nodes.NllLoss2DBackward0 else "nll_loss_forward"
    for arg, a in args:
        if a.device != common:
            raise argument_device_error(arg, a.device, common, f"wrapper_{kind}_{name}")


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between logits ``input`` and class indices (or class probabilities of the
    input's shape) ``target``: ``nll_loss(log_softmax(input, 1), target)``.

    >>> import nbautograd as torch
    >>> torch.nn.functional.cross_entropy(torch.tensor([[0., 0.]]), torch.tensor([1]))
    tensor(0.6931)
    """
    reduction = _get_reduction(reduction, size_average, reduce)
    class_dim = 0 if input.dim() == 1 else 1
    if tuple(input.shape) == tuple(target.shape):
        if not target.is_floating_point():
            raise RuntimeError("Expected floating point type for target with class "
                               f"probabilities, got {_legacy(target.dtype)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        return _cross_entropy_prob(input, target, weight, reduction, label_smoothing, class_dim)
    if label_smoothing > 0.0:
        if label_smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                               f"{label_smoothing}")
        return _cross_entropy_smoothed(input, target, weight, reduction, ignore_index,
                                       label_smoothing, class_dim)
    return _nll_loss_nd(input.log_softmax(class_dim), target, weight, reduction, ignore_index)


def _class_weight(weight: Tensor, ndim: int, class_dim: int) -> Tensor:
    """``weight`` viewed to broadcast along the class dim of an ``ndim``-d input."""
    if ndim <= 1:
        return weight
    shape = [1] * ndim
    shape[class_dim] = weight.shape[0]
    return weight.view(*shape)


def _cross_entropy_prob(input, target, weight, reduction, label_smoothing, class_dim):
    n_classes = input.shape[class_dim]
    if weight is not None and not (weight.dim() == 1 and weight.numel() == n_classes):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all "
                           f"{n_classes} classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    logp = input.log_softmax(class_dim)
    if label_smoothing > 0.0:
        if label_smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                               f"{label_smoothing}")
        target = target * (1 - label_smoothing) + (label_smoothing / n_classes)
    prod = logp * target
    if weight is not None:
        prod = prod * _class_weight(weight, input.dim(), class_dim)
    if reduction == "none":
        return -prod.sum(class_dim)
    if reduction == "sum":
        return -prod.sum()
    neg = -prod.sum()
    if input.numel() == 0:
        return neg.fill_(float("nan"))
    return _div_scalar(neg, input.numel() // n_classes)


def _div_scalar(t: Tensor, other) -> Tensor:
    """``t / other`` for a Python number, recorded as torch's DivBackward1."""
    d = t._data
    out = (d / d.dtype.type(other)).astype(d.dtype)
    return record(_nodes.DivBackward1, out, (t,), (other,))


def _cross_entropy_smoothed(input, target, weight, reduction, ignore_index, label_smoothing,
                            class_dim):
    logp = input.log_softmax(class_dim)
    nll = _nll_loss_nd(logp, target, weight, reduction, ignore_index)
    n_classes = logp.shape[class_dim]
    ignore_mask = target == ignore_index
    if weight is not None:
        smooth = -(logp * _class_weight(weight, logp.dim(), class_dim)).sum(class_dim)
    else:
        smooth = -logp.sum(class_dim)
    smooth = smooth.masked_fill(ignore_mask, 0.0)
    if reduction == "mean":
        if weight is not None:
            kept = target.masked_select(~ignore_mask).flatten()
            ret = smooth.sum() / weight.gather(0, kept).sum()
        else:
            ret = smooth.sum() / (~ignore_mask).sum()
    elif reduction == "sum":
        ret = smooth.sum()
    else:
        ret = smooth
    return (1 - label_smoothing) * nll + ret * (label_smoothing / n_classes)
