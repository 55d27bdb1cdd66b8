"""Backward nodes for the fused ops of ``nn.functional``, named as torch names them.

``F.linear`` records ``AddmmBackward0``, ``F.nll_loss``/``F.cross_entropy`` record
``NllLossBackward0``, ``F.mse_loss`` records ``MseLossBackward0``, and so on: a beginner who
prints ``model(x)`` or ``loss`` sees the same ``grad_fn`` as in PyTorch.

Each VJP is written against the ``xp`` namespace the engine hands it (NumPy, the Tensor
namespace for ``create_graph=True``, or its batched form for ``is_grads_batched``), so double
backward and batched gradients work. Gradient-shaped arrays only meet the ``xp.g_*`` helpers
or broadcasting against saved arrays from the right, which keeps a batch dim in front intact.

>>> import nbautograd as torch
>>> import nbautograd.nn.functional as F
>>> x = torch.tensor([[1., 2.]], requires_grad=True)
>>> F.linear(x, torch.ones(3, 2), torch.zeros(3))
tensor([[3., 3., 3.]], grad_fn=<AddmmBackward0>)
"""
from __future__ import annotations

from .._backend import array_namespace
from .._node import OUT, Node, op
from .._tensor import wrap

__all__ = ["AddmmBackward0", "NllLossBackward0", "NllLoss2DBackward0", "MseLossBackward0",
           "BinaryCrossEntropyBackward0", "BinaryCrossEntropyWithLogitsBackward0",
           "LeakyReluBackward0", "LeakyReluBackward1", "DivBackward1"]


def _const(xp, a):
    """A constant array as the namespace wants it (a Tensor when building a graph)."""
    return wrap(a) if getattr(xp, "is_tensor_ns", False) else a


def _scalar_g(xp, g, ndim: int):
    """The gradient of a full reduction, shaped to broadcast over an ``ndim``-d input
    (``(1,)*ndim``, or ``(B,)+(1,)*ndim`` in a batched pass)."""
    return xp.g_reshape(g, (1,) * ndim)


@op
class AddmmBackward0(Node):
    """``bias + mat1 @ mat2``: what ``F.linear`` records for a 2-d input with a bias."""
    arg_names = ("self", "mat1", "mat2")
    save = ((), (2,), (1,))
    param_names = ("beta", "alpha")

    def vjp(self, xp, g, bias, mat1, mat2, out):
        n = self._next
        g_bias = g if n[0] is not None else None  # the engine sums it back to bias's shape
        g1 = xp.matmul(g, xp.swapaxes(mat2, -1, -2)) if n[1] is not None else None
        g2 = xp.matmul(xp.swapaxes(mat1, -1, -2), g) if n[2] is not None else None
        return g_bias, g1, g2


@op
class NllLossBackward0(Node):
    """Negative log-likelihood. The gradient is linear in ``g``: a constant ``coef`` array
    (``-weight[target] / total_weight`` at each target, 0 elsewhere) times the gradient."""
    arg_names = ("self",)
    save = ((),)
    saves_wrapped_scalar = True  # torch saves target/weight: its saved state is freed too
    param_names = ("coef", "class_dim", "reduction", "ignore_index")

    def vjp(self, xp, g, x, out):
        coef, class_dim, reduction = self._params[:3]
        if reduction == "none":
            g = xp.g_expand_dims(g, class_dim)
        else:
            g = _scalar_g(xp, g, coef.ndim)
        return (g * _const(xp, coef),)


@op
class NllLoss2DBackward0(NllLossBackward0):
    """The spatial form (input ``(N, C, H, W)``); torch names it apart."""


@op
class MseLossBackward0(Node):
    """Mean squared error: d/dinput = 2 (input - target) g (/ numel for 'mean')."""
    arg_names = ("self", "target")
    save = ((0, 1), (0, 1))
    param_names = ("reduction",)

    def vjp(self, xp, g, a, b, out):
        reduction, numel, ndim = self._params
        diff = a - b
        if reduction == "none":
            d = (diff * 2.0) * g
        else:
            scale = 2.0 / numel if reduction == "mean" else 2.0
            d = _scalar_g(xp, g, ndim) * (diff * scale)
        n = self._next
        return (d if n[0] is not None else None), (-d if n[1] is not None else None)


@op
class BinaryCrossEntropyBackward0(Node):
    """Binary cross entropy on probabilities, with torch's 1e-12 floor in the denominator."""
    arg_names = ("self", "target")
    save = ((0, 1), (0,))
    param_names = ("weight", "reduction")

    def vjp(self, xp, g, x, t, out):
        weight, reduction, numel = self._params
        if reduction == "none":
            gg = g
        else:
            gg = _scalar_g(xp, g, x.ndim)
            if reduction == "mean":
                gg = gg * (1.0 / numel)
        n = self._next
        gx = gt = None
        if n[0] is not None:
            denom = xp.maximum((1 - x) * x, _const(xp, _eps_like(x)))
            coef = (x - t) / denom
            gx = gg * (coef if weight is None else coef * _const(xp, weight))
        if n[1] is not None:
            coef = xp.log(1 - x) - xp.log(x)  # -logit(x), as torch's target gradient
            gt = gg * (coef if weight is None else coef * _const(xp, weight))
        return gx, gt


def _eps_like(x):
    """torch's 1e-12 as a 0-d array of ``x``'s dtype, made by ``x``'s own array library (a
    NumPy array would not mix with a GPU array)."""
    d = x._data if hasattr(x, "_data") else x
    return array_namespace(d).asarray(1e-12, dtype=d.dtype)


@op
class BinaryCrossEntropyWithLogitsBackward0(Node):
    """Sigmoid + binary cross entropy in one numerically stable op."""
    arg_names = ("self", "target")
    save = ((0, 1), (0,))
    param_names = ("weight", "pos_weight", "reduction")

    def vjp(self, xp, g, x, t, out):
        weight, pos_weight, reduction, numel = self._params
        if reduction == "none":
            gg = g
        else:
            gg = _scalar_g(xp, g, x.ndim)
            if reduction == "mean":
                gg = gg * (1.0 / numel)
        n = self._next
        gx = gt = None
        if n[0] is not None:
            if pos_weight is None:
                coef = _sigmoid(xp, x) - t
            else:
                tp = t * _const(xp, pos_weight)
                coef = (tp + 1 - t) * _sigmoid(xp, x) - tp
            gx = gg * (coef if weight is None else coef * _const(xp, weight))
        if n[1] is not None:
            if pos_weight is None:
                coef = -x
            else:
                coef = _log_sigmoid(xp, -x) - _log_sigmoid(xp, x) * _const(xp, pos_weight)
            gt = gg * (coef if weight is None else coef * _const(xp, weight))
        return gx, gt


def _sigmoid(xp, x):
    """``1 / (1 + exp(-x))`` without overflow, in any namespace (NumPy has no sigmoid)."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _log_sigmoid(xp, x):
    """``log(sigmoid(x))`` without overflow: ``min(x, 0) - log1p(exp(-|x|))``."""
    return xp.minimum(x, x * 0) - xp.log1p(xp.exp(-xp.abs(x)))


@op
class LeakyReluBackward0(Node):
    """``x if x > 0 else negative_slope * x``."""
    arg_names = ("self",)
    save = ((0,),)
    param_names = ("negative_slope",)

    def vjp(self, xp, g, x, out):
        slope = self._params[0]
        return (xp.where(x > 0, g, g * slope),)


@op
class LeakyReluBackward1(Node):
    """In-place ``leaky_relu_``: torch saves the result (its sign is the input's sign)."""
    arg_names = ("self",)
    save = ((OUT,),)
    param_names = ("negative_slope",)

    def vjp(self, xp, g, x, out):
        slope = self._params[0]
        if slope < 0:  # the saved result no longer tells the input's sign
            raise RuntimeError(
                "In-place leakyReLu backward calculation is triggered with a negative slope "
                "which is not supported. This is caused by calling in-place forward function "
                "with a negative slope, please call out-of-place version instead. File an issue "
                "at https://github.com/pytorch/pytorch if you do require supporting in-place "
                "leakRelu backward calculation with negative slope")
        return (xp.where(out > 0, g, g * slope),)


@op
class DivBackward1(Node):
    """Division by a Python number (torch's ``div(Tensor, Scalar)``)."""
    arg_names = ("self",)
    save = ((),)
    param_names = ("other",)

    def vjp(self, xp, g, x, out):
        return (g / self._params[0],)
