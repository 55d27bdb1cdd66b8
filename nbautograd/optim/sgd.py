"""Stochastic gradient descent with momentum, dampening, Nesterov, weight decay, maximize.

The update is torch's single-tensor implementation, written on the parameters' arrays:

    g = grad (+ weight_decay * p);  buf = momentum * buf + (1 - dampening) * g
    g = g + momentum * buf (nesterov) or buf;  p -= lr * g

>>> import nbautograd as torch
>>> w = torch.nn.Parameter(torch.tensor([1.0]))
>>> opt = torch.optim.SGD([w], lr=0.1, momentum=0.9)
>>> for _ in range(2):
...     opt.zero_grad(); (w ** 2).sum().backward(); opt.step()
>>> w
Parameter containing:
tensor([0.4600], requires_grad=True)
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from .optimizer import Optimizer, _arr, _fma, _scalar_of, _state_tensor, _to_scalar

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    >>> import nbautograd as torch
    >>> torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1).defaults["momentum"]
    0
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        if hasattr(lr, "numel") and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given."""
        loss = self._start_step(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            momentum, dampening = group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = _arr(p)
                t = _scalar_of(d)  # scalars rounded to the parameter's dtype, as in torch
                g = p.grad._data
                if group["maximize"]:
                    g = -g
                if weight_decay != 0:
                    g = _fma(d, t(weight_decay), g)
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = _state_tensor(g.copy())
                    else:
                        b = _arr(buf)
                        b *= t(momentum)
                        b[...] = _fma(g, t(1 - dampening), b)
                        buf._bump_version()
                    g = _fma(buf._data, t(momentum), g) if nesterov else buf._data
                d[...] = _fma(g, t(-lr), d)
                p._bump_version()
        return loss
