"""RMSprop, with the centered and momentum variants.

torch's single-tensor update, on the parameters' arrays:

    v = alpha * v + (1 - alpha) * g * g;  avg = sqrt(v - mean_g**2 if centered else v) + eps
    buf = momentum * buf + g / avg;  p -= lr * buf   (or p -= lr * g / avg without momentum)

>>> import nbautograd as torch
>>> w = torch.nn.Parameter(torch.tensor([1.0]))
>>> opt = torch.optim.RMSprop([w], lr=0.01)
>>> (w ** 2).sum().backward(); opt.step(); w
Parameter containing:
tensor([0.9000], requires_grad=True)
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from .._backend import array_namespace
from .optimizer import (Optimizer, _arr, _fma, _lerp_, _scalar_of, _state_tensor,
                        _to_scalar)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``.

    >>> import nbautograd as torch
    >>> torch.optim.RMSprop([torch.nn.Parameter(torch.zeros(1))]).defaults["alpha"]
    0.99
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        if hasattr(lr, "numel") and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay,
                    "capturable": capturable, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("momentum", 0)
            group.setdefault("centered", False)
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given."""
        loss = self._start_step(closure)
        for group in self.param_groups:
            lr, alpha, eps = _to_scalar(group["lr"]), group["alpha"], group["eps"]
            weight_decay, momentum = group["weight_decay"], group["momentum"]
            centered = group["centered"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = _arr(p)
                t = _scalar_of(d)  # scalars rounded to the parameter's dtype
                xp = array_namespace(d)
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _state_tensor(np.zeros((), np.float32))
                    state["square_avg"] = _state_tensor(xp.zeros_like(d))
                    if momentum > 0:
                        state["momentum_buffer"] = _state_tensor(xp.zeros_like(d))
                    if centered:
                        state["grad_avg"] = _state_tensor(xp.zeros_like(d))
                g = p.grad._data
                if group["maximize"]:
                    g = -g
                _arr(state["step"])[...] += 1
                state["step"]._bump_version()
                if weight_decay != 0:
                    g = _fma(d, t(weight_decay), g)
                v = _arr(state["square_avg"])
                v *= t(alpha)
                v[...] = _fma(t(1 - alpha) * g, g, v)
                state["square_avg"]._bump_version()
                if centered:
                    ga = _arr(state["grad_avg"])
                    _lerp_(ga, g, 1 - alpha)
                    state["grad_avg"]._bump_version()
                    avg = xp.sqrt(_fma(-ga, ga, v))
                else:
                    avg = xp.sqrt(v)
                avg += t(eps)
                if momentum > 0:
                    buf = _arr(state["momentum_buffer"])
                    buf *= t(momentum)
                    buf += g / avg
                    state["momentum_buffer"]._bump_version()
                    d[...] = _fma(buf, t(-lr), d)
                else:
                    d += (t(-lr) * g) / avg
                p._bump_version()
        return loss
