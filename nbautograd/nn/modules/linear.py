"""``Linear`` (``y = x W^T + b``) and ``Identity``.

>>> import nbautograd as torch
>>> from nbautograd import nn
>>> _ = torch.manual_seed(0)
>>> layer = nn.Linear(4, 2)
>>> layer, tuple(layer.weight.shape), layer(torch.ones(3, 4)).shape
(Linear(in_features=4, out_features=2, bias=True), (2, 4), torch.Size([3, 2]))
"""
from __future__ import annotations

import math
from typing import Any

from ..._factories import empty
from ..._tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["Identity", "Linear"]


class Identity(Module):
    """Returns its input unchanged (a placeholder layer); ignores constructor arguments.

    >>> import nbautograd as torch
    >>> torch.nn.Identity(54, unused="x")(torch.tensor([1.]))
    tensor([1.])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """``y = x @ weight.T + bias`` with ``weight`` of shape ``(out_features, in_features)``.

    Initialized as torch does: ``kaiming_uniform_(weight, a=sqrt(5))`` and
    ``bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features))``, drawn from nbautograd's generator
    (seed it with ``torch.manual_seed``; the values differ from torch's generator).

    >>> import nbautograd as torch
    >>> lin = torch.nn.Linear(3, 1, bias=False)
    >>> lin.bias is None, lin(torch.zeros(2, 3)).shape
    (True, torch.Size([2, 1]))
    """

    in_features: int
    out_features: int
    weight: Tensor

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(empty((out_features, in_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights as at construction."""
        # a=sqrt(5) makes kaiming_uniform_ the same as U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
