"""torch.nn: modules, parameters, losses, ``functional`` and ``init``.

>>> import nbautograd as torch
>>> from nbautograd import nn
>>> _ = torch.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
>>> loss = nn.CrossEntropyLoss()(model(torch.randn(8, 4)), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]))
>>> loss.grad_fn
<NllLossBackward0 object at 0x...>
>>> loss.backward()
>>> model[0].weight.grad.shape
torch.Size([16, 4])
"""
from . import functional, init  # noqa: F401
from .modules import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Flatten, Identity,
                      L1Loss, LeakyReLU, Linear, LogSoftmax, Module, ModuleDict, ModuleList,
                      MSELoss, NLLLoss, ReLU, Sequential, Sigmoid, Softmax, Tanh)
from .parameter import Parameter

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear",
           "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Flatten",
           "Dropout", "L1Loss", "MSELoss", "BCELoss", "BCEWithLogitsLoss", "NLLLoss",
           "CrossEntropyLoss", "functional", "init"]
