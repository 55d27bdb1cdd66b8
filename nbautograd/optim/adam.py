"""Adam and AdamW (decoupled weight decay), with amsgrad and maximize.

torch's single-tensor update, on the parameters' arrays (``t`` counts steps):

    m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
    p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

>>> import nbautograd as torch
>>> w = torch.nn.Parameter(torch.tensor([1.0]))
>>> opt = torch.optim.Adam([w], lr=0.1)
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

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (``decoupled_weight_decay=True`` gives AdamW).

    >>> import nbautograd as torch
    >>> torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))]).defaults["betas"]
    (0.9, 0.999)
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        if hasattr(lr, "numel") and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        betas = tuple(map(_to_scalar, betas))
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            group.setdefault("decoupled_weight_decay", False)
            group.setdefault("fused", None)

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given."""
        loss = self._start_step(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps = _to_scalar(group["lr"]), group["eps"]
            weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
            decoupled = group["decoupled_weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = _arr(p)
                t = _scalar_of(d)  # scalars rounded to the parameter's dtype
                xp = array_namespace(d)
                state = self.state[p]
                if len(state) == 0:
                    # step lives on the CPU as a float32 scalar tensor, as torch keeps it
                    state["step"] = _state_tensor(np.zeros((), np.float32))
                    state["exp_avg"] = _state_tensor(xp.zeros_like(d))
                    state["exp_avg_sq"] = _state_tensor(xp.zeros_like(d))
                    if amsgrad:
                        state["max_exp_avg_sq"] = _state_tensor(xp.zeros_like(d))
                g = p.grad._data
                if group["maximize"]:
                    g = -g
                step_t = state["step"]
                _arr(step_t)[...] += 1
                step_t._bump_version()
                if weight_decay != 0:
                    if decoupled:
                        d *= t(1 - lr * weight_decay)
                        p._bump_version()
                    else:
                        g = _fma(d, t(weight_decay), g)
                m, v = _arr(state["exp_avg"]), _arr(state["exp_avg_sq"])
                _lerp_(m, g, 1 - beta1)
                v *= t(beta2)
                v[...] = _fma(t(1 - beta2) * g, g, v)
                state["exp_avg"]._bump_version()
                state["exp_avg_sq"]._bump_version()
                step = float(step_t._data)
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2 ** 0.5
                if amsgrad:
                    vmax = _arr(state["max_exp_avg_sq"])
                    xp.maximum(vmax, v, out=vmax)
                    state["max_exp_avg_sq"]._bump_version()
                    denom = xp.sqrt(vmax) / t(bias_correction2_sqrt) + t(eps)
                else:
                    denom = xp.sqrt(v) / t(bias_correction2_sqrt) + t(eps)
                d += (t(-step_size) * m) / denom
                p._bump_version()
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (``p *= 1 - lr * weight_decay`` each step), as
    ``torch.optim.AdamW``; ``weight_decay`` defaults to 1e-2.

    >>> import nbautograd as torch
    >>> torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))]).defaults["weight_decay"]
    0.01
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
