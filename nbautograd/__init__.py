"""nbautograd: PyTorch's autograd, on NumPy, made to be seen.

Code written for PyTorch autograd runs with ``import nbautograd as torch`` and prints what
PyTorch prints.

>>> import nbautograd as torch
>>> x = torch.tensor(5.0, requires_grad=True)
>>> y = x ** 2
>>> y.backward()
>>> y, x.grad
(tensor(25., grad_fn=<PowBackward0>), tensor(10.))
"""
from __future__ import annotations

import warnings as _warnings

from . import _dtypes
from ._device import device
from ._dtypes import (bool_ as bool, cdouble, cfloat, complex64, complex128, double, dtype,  # noqa: A004
                      float16, float32, float64, get_default_dtype, half, int8, int16, int32,
                      int64, long, promote_types, set_default_dtype, short, uint8)
from ._dtypes import float_ as float  # noqa: A004
from ._dtypes import int_ as int  # noqa: A004
from ._factories import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                         get_default_device, initial_seed, linspace, logspace, manual_seed,
                         normal, ones, ones_like, rand, rand_like, randint, randint_like, randn,
                         randn_like, randperm, seed, set_default_device, tensor, zeros,
                         zeros_like)
from ._grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                         is_inference_mode_enabled, no_grad, set_grad_enabled)
from ._printing import get_printoptions, printoptions, set_printoptions
from ._tensor import Size, Tensor
from . import ops as _ops  # noqa: F401  (attaches the op methods to Tensor)
from .ops.elementwise import add, clamp, div, maximum, minimum, mul, pow, sub, where
from .ops.joins import cat, chunk, concat, concatenate, split, stack, unbind
from .ops.indexing import nonzero
from .ops.linalg import matmul, outer
from .ops.linalg import bmm_function as bmm, dot_function as dot, mm_function as mm
from .ops.linalg import mv_function as mv
from .ops.views import broadcast_to
from . import accelerator, autograd, cuda, nn, optim  # noqa: E402
from .autograd.anomaly_mode import is_anomaly_enabled  # noqa: E402
from ._dtypes import result_type as _result_type

from ._legacy_types import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor,  # noqa: E402
                            HalfTensor, IntTensor, LongTensor, ShortTensor)

# torch computes inf and nan silently; NumPy warns ("invalid value encountered in multiply").
# Only the floating-point warnings NumPy raises inside this package's own code are dropped:
# the user's NumPy code still warns.
_warnings.filterwarnings(
    "ignore", message=r"(invalid value|divide by zero|overflow|underflow) encountered in",
    category=RuntimeWarning, module=r"nbautograd(\.|$)")
clip = clamp
divide, multiply, subtract = div, mul, sub


def result_type(tensor1, tensor2) -> dtype:
    """The dtype torch's promotion gives ``tensor1 (op) tensor2``."""
    return _result_type(tensor1, tensor2)


def is_tensor(obj) -> "builtins.bool":
    """True if ``obj`` is a Tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(t: Tensor) -> "builtins.bool":
    return t.is_floating_point()


def numel(t: Tensor) -> "builtins.int":
    return t.numel()


def _method_alias(name: str):
    def fn(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                            f"{type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"``torch.{name}(input, ...)``: the same as ``input.{name}(...)``."
    return fn


for _name in ("neg", "negative", "abs", "absolute", "exp", "exp2", "expm1", "log", "log2",
              "log10", "log1p", "sqrt", "rsqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh",
              "asin", "acos", "atan", "arcsin", "arccos", "arctan", "sigmoid", "relu",
              "reciprocal", "square", "floor", "ceil", "round", "trunc", "sign", "frac",
              "sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "norm",
              "std", "var", "cumsum", "logsumexp", "softmax", "log_softmax", "reshape", "flatten",
              "squeeze", "unsqueeze", "permute", "transpose", "swapaxes", "t", "clone",
              "index_select", "gather", "masked_fill", "narrow", "select", "flip", "eq", "ne",
              "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not", "logical_xor",
              "remainder", "fmod", "floor_divide", "masked_select", "detach", "numel",
              "true_divide", "unflatten", "repeat_interleave", "all", "any"):
    _unary_fn = getattr(getattr(Tensor, _name, None), "__name__", None)
    if _name in globals():
        continue
    if _unary_fn is not None and getattr(Tensor, _name).__qualname__.startswith("unary."):
        globals()[_name] = getattr(Tensor, _name)  # unary ops check their argument themselves
    elif hasattr(Tensor, _name):
        globals()[_name] = _method_alias(_name)

import builtins  # noqa: E402

__version__ = "0.1.0"


def load_ipython_extension(ipython) -> None:
    """``%load_ext nbautograd``: register the ``%%autograd`` magics (IPython imported here)."""
    from .notebook.magics import load_ipython_extension as load  # noqa: PLC0415
    load(ipython)


def unload_ipython_extension(ipython) -> None:
    from .notebook.magics import unload_ipython_extension as unload  # noqa: PLC0415
    unload(ipython)


def __getattr__(name: str):
    # the notebook layers import graphviz/IPython/ipywidgets: load them only when asked for
    if name in ("viz", "widgets", "notebook", "recording"):
        import importlib  # noqa: PLC0415
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'nbautograd' has no attribute '{name}'")
