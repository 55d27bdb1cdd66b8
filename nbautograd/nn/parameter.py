"""torch.nn.Parameter: the Tensor subclass a Module registers as a learnable weight.

A Parameter is a leaf that requires grad (unless told otherwise). Assigning one to a Module
attribute registers it, so ``module.parameters()`` finds it. Ops on a Parameter return plain
Tensors, as in torch.

>>> import nbautograd as torch
>>> p = torch.nn.Parameter(torch.tensor([[1., 2.], [3., 4.]]))
>>> p
Parameter containing:
tensor([[1., 2.],
        [3., 4.]], requires_grad=True)
>>> type(p * 2).__name__, p.is_leaf
('Tensor', True)
"""
from __future__ import annotations

import numpy as np

from .._backend import to_host
from .._repr import tensor_repr
from .._tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A Tensor that is a module parameter: a leaf with ``requires_grad=True`` by default.

    It shares memory (and the version counter) with ``data``, as ``torch.nn.Parameter`` does.

    >>> import nbautograd as torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> w.requires_grad, w.is_leaf
    (True, True)
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> "Parameter":
        if data is None:
            from .._factories import empty  # noqa: PLC0415
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"_make_subclass(): argument 'data' (position 2) must be Tensor, "
                            f"not {type(data).__name__}")
        t = Tensor.__new__(cls)
        d = data._data
        if isinstance(d, np.generic):
            # a 0-d tensor may hold an immutable NumPy scalar: give both a shared 0-d array
            d = data._data = np.array(d)
        t._data = d
        # torch builds a Parameter from data.detach(): same memory, same version counter
        if data._vc is None:
            data._vc = [0]
        t._vc = data._vc
        if data._inference:
            t._inference = True
        if requires_grad:
            t._set_requires_grad(True, attribute="factory")
        return t

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass  # everything happens in __new__ (Tensor.__init__ is the legacy constructor)

    def __repr__(self, *, tensor_contents=None) -> str:
        return "Parameter containing:\n" + tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        # torch formats only plain 0-d Tensors with a spec; a Parameter falls back to object's
        if spec:
            raise TypeError("unsupported format string passed to Parameter.__format__")
        return str(self)

    def __deepcopy__(self, memo: dict) -> "Parameter":
        if id(self) in memo:
            return memo[id(self)]
        # as torch: a fresh Parameter over a copy of the data; .grad is not copied
        src = Tensor.__new__(Tensor)
        src._data = self._data.copy()
        result = type(self)(src, self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (np.asarray(to_host(self._data)).copy(), self._rg))


def _rebuild_parameter(array, requires_grad: bool) -> Parameter:
    """Unpickle a Parameter (``pickle`` and ``copy`` call this)."""
    src = Tensor.__new__(Tensor)
    src._data = array
    return Parameter(src, requires_grad)
