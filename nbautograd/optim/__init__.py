"""torch.optim: ``Optimizer`` and ``SGD``, ``Adam``, ``AdamW``, ``RMSprop``.

The usual loop runs unchanged:

>>> import nbautograd as torch
>>> w = torch.nn.Parameter(torch.tensor([2.0]))
>>> opt = torch.optim.SGD([w], lr=0.25)
>>> for _ in range(3):
...     opt.zero_grad()
...     loss = (w ** 2).sum()
...     loss.backward()
...     opt.step()
>>> w
Parameter containing:
tensor([0.2500], requires_grad=True)
"""
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop"]
