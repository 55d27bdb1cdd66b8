"""The ``Optimizer`` base class: parameter groups, per-parameter state, ``zero_grad``,
``state_dict``/``load_state_dict`` and step hooks, as in ``torch.optim.Optimizer``.

Updates are written straight into the parameters' arrays (under no grad, like torch's
in-place ``add_``/``addcdiv_``) and each write bumps the parameter's version counter, so a graph
that saved a parameter before ``step()`` refuses to backpropagate afterwards, as in torch.

>>> import nbautograd as torch
>>> w = torch.nn.Parameter(torch.tensor([1.0]))
>>> opt = torch.optim.SGD([w], lr=0.1)
>>> (w * 3).sum().backward()
>>> opt.step(); w
Parameter containing:
tensor([0.7000], requires_grad=True)
"""
from __future__ import annotations

import functools
import warnings
from collections import OrderedDict, defaultdict
from copy import deepcopy
from itertools import chain
from typing import Any, Callable, Iterable

import numpy as np

from .. import _events
from .._grad_mode import enable_grad
from .._tensor import Tensor
from ..nn.modules.module import RemovableHandle, typename

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyper-parameter that every parameter group must give."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _to_scalar(x):
    """A hyper-parameter as a Python number (a one-element tensor is read out)."""
    return x.item() if isinstance(x, Tensor) else x


def _arr(t: Tensor):
    """``t``'s array, writable in place (a 0-d tensor may hold an immutable NumPy scalar)."""
    d = t._data
    if isinstance(d, np.generic):
        d = t._data = np.array(d)
    return d


def _state_tensor(data) -> Tensor:
    """A Tensor around a freshly made array (optimizer state such as ``exp_avg``)."""
    t = Tensor.__new__(Tensor)
    t._data = data
    return t


def _scalar_of(d) -> Callable:
    """``t(x)``: hyper-parameter ``x`` rounded to array ``d``'s dtype (torch rounds scalars to
    the parameter's dtype), handed back as a Python number. Python numbers mix with the arrays
    of any namespace -- NumPy's or a GPU library's -- on either side of an operator, and keep
    the array's dtype; a NumPy scalar on the left of a GPU array would hand the product to
    NumPy."""
    cast = d.dtype.type
    return lambda x: cast(x).item()


def _py(x):
    """A NumPy scalar as the Python number of the same value; arrays as they are."""
    return x.item() if isinstance(x, np.generic) else x


def _fma(a, b, c):
    """``a * b + c`` rounded once, like the fused multiply-add torch's CPU kernels use for
    ``add(alpha=)``, ``addcmul`` and ``lerp``. For float32/float16 the float64 product is exact,
    so one rounding of the float64 sum gives the fused result; float64 keeps two roundings.
    Scalars are Python numbers (exact doubles), so the arithmetic stays in the arrays'
    namespace and the result keeps their dtype."""
    dt = next(x.dtype for x in (c, a, b) if hasattr(x, "dtype"))
    a, b, c = _py(a), _py(b), _py(c)
    if dt.itemsize >= 8:
        r = a * b + c
    else:
        f64 = np.float64
        a64 = a.astype(f64) if hasattr(a, "astype") else a
        b64 = b.astype(f64) if hasattr(b, "astype") else b
        c64 = c.astype(f64) if hasattr(c, "astype") else c
        r = a64 * b64 + c64
    # all three scalars (a 0-d parameter's): a Python result, rounded to the dtype as NumPy
    return r.astype(dt, copy=False) if hasattr(r, "astype") else dt.type(r)


def _lerp_(a, b, weight) -> None:
    """``a.lerp_(b, weight)`` in ``a``'s precision, with torch's two formulas (the one chosen by
    ``|weight| < 0.5`` keeps the result exact at both ends), fused as torch fuses them."""
    t = a.dtype.type
    w = t(weight)
    if abs(w) < 0.5:
        a[...] = _fma(w.item(), b - a, a)
    else:
        a[...] = _fma((w - t(1)).item(), b - a, b)


def _wrap_step(step: Callable) -> Callable:
    """Run an optimizer's ``step`` between its pre- and post-hooks."""
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        for hook in list(self._optimizer_step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(f"{step} must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {result}.")
        out = step(self, *args, **kwargs)
        for hook in list(self._optimizer_step_post_hooks.values()):
            hook(self, args, kwargs)
        return out
    wrapper._hooked = True
    return wrapper


class Optimizer:
    """Base class of optimizers: holds ``param_groups`` (dicts with ``'params'`` and the
    hyper-parameters) and ``state`` (per parameter); subclasses implement ``step``.

    >>> import nbautograd as torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = torch.optim.SGD([{"params": [w], "lr": 0.5}], lr=0.1)
    >>> opt.param_groups[0]["lr"], opt.defaults["lr"]
    (0.5, 0.1)
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_hooked", False):
            cls.step = _wrap_step(step)

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_step_post_hooks: OrderedDict = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + typename(params))
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "_optimizer_step_pre_hooks" not in self.__dict__:
            self._optimizer_step_pre_hooks = OrderedDict()
        if "_optimizer_step_post_hooks" not in self.__dict__:
            self._optimizer_step_post_hooks = OrderedDict()
        self.defaults.setdefault("differentiable", False)

    def __repr__(self) -> str:
        format_string = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            format_string += "\n"
            format_string += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    format_string += f"    {key}: {group[key]}\n"
        return format_string + ")"

    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(optimizer, args, kwargs)`` before each ``step``."""
        handle = RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(optimizer, args, kwargs)`` after each ``step``."""
        handle = RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[handle.id] = hook
        return handle

    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``:
        parameters are replaced by their position, in group order.

        >>> import nbautograd as torch
        >>> w = torch.nn.Parameter(torch.zeros(1))
        >>> torch.optim.SGD([w], lr=0.1).state_dict()["param_groups"][0]["params"]
        [0]
        """
        param_mappings: dict[int, int] = {}
        start_index = 0

        def pack_group(group: dict[str, Any]) -> dict[str, Any]:
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            param_mappings.update({id(p): i for i, p in enumerate(group["params"], start_index)
                                   if id(p) not in param_mappings})
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(param_mappings[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        return {"state": packed_state, "param_groups": param_groups}

    @staticmethod
    def _process_value_according_to_param_policy(param: Tensor, value: Tensor, param_id: int,
                                                 param_groups: list, key=None) -> Tensor:
        if key == "step":
            return value  # the step counter keeps its own dtype
        if param.is_floating_point():
            return value.to(dtype=param.dtype, device=param.device)
        return value.to(device=param.device)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a ``state_dict()`` (hyper-parameters and per-parameter state), matching
        parameters by position; state tensors are cast to their parameter's dtype."""
        state_dict = state_dict.copy()
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        param_lens = (len(g["params"]) for g in groups)
        saved_lens = (len(g["params"]) for g in saved_groups)
        if any(p_len != s_len for p_len, s_len in zip(param_lens, saved_lens)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def _cast(param, value, param_id=None, param_groups=None, key=None):
            if isinstance(value, Tensor):
                return Optimizer._process_value_according_to_param_policy(
                    param, value, param_id, param_groups, key)
            if isinstance(value, dict):
                return {k: _cast(param, v, param_id=param_id, param_groups=param_groups, key=k)
                        for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(_cast(param, v, param_id=param_id, param_groups=param_groups)
                                   for v in value)
            return value

        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast(param, v, param_id=k,
                                     param_groups=state_dict["param_groups"])
            else:
                state[k] = v

        def update_group(group: dict[str, Any], new_group: dict[str, Any]) -> dict[str, Any]:
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters: to None (the default) or zeros.

        >>> import nbautograd as torch
        >>> w = torch.nn.Parameter(torch.ones(1))
        >>> opt = torch.optim.SGD([w])
        >>> (2 * w).sum().backward(); opt.zero_grad(); w.grad is None
        True
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        if p.grad.grad_fn is not None:
                            p.grad.detach_()
                        else:
                            p.grad.requires_grad_(False)
                        p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None):
        """Update the parameters once (subclasses implement it)."""
        raise NotImplementedError

    def _start_step(self, closure: Callable[[], Any] | None):
        """Run the closure (its loss is step()'s result), and tell recorders that the
        parameters' memory is about to be written in place (they summarise what they hold of
        it, e.g. a recorded ``w.T`` view)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        if _events.TAPES:
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        _events.before_write(p._data)
        return loss

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (missing ones take the
        optimizer's defaults).

        >>> import nbautograd as torch
        >>> a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
        >>> opt = torch.optim.SGD([a], lr=0.1)
        >>> opt.add_param_group({"params": [b], "lr": 0.01})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)
        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):  # (name, parameter) pairs from named_parameters()
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) == len(tensors):
                param_group["param_names"] = names
            else:
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + typename(param))
            if not self.defaults.get("differentiable", None) and not (
                    param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        params = param_group["params"]
        if len(params) != len(set(params)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        param_set: set = set()
        for group in self.param_groups:
            param_set.update(set(group["params"]))
            if ("param_names" in param_group) != ("param_names" in group):
                txt = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {txt} to the optimizer")
        if not param_set.isdisjoint(set(param_group["params"])):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)
