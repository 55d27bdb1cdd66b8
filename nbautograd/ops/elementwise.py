"""Elementwise ops: arithmetic with broadcasting and torch's type promotion, and unary math.

Each op is one ``Node`` subclass: its ``forward`` and its ``vjp`` side by side. Gradients are
returned at the broadcast shape; the engine sums them back to each input's shape.

>>> import nbautograd as torch
>>> x = torch.tensor([1., 2.], requires_grad=True)
>>> (x * 3 + 1).sum().backward(); x.grad
tensor([3., 3.])
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _dtypes, _events
from .._backend import NUMPY, array_namespace
from .._grad_mode import STATE
from .._backend import _NUMPY_TYPES, is_host as _is_host, quiet_enter, quiet_exit
from .._node import OUT, Node, op, record, record1, record2
from .._tensor import Tensor
from ._common import as_tensor_arg, broadcast_error, float_data, same_device, tensor_method

_number = (int, float, bool, complex)


def quiet(fn):
    """Run a forward that can meet 0/0, log(0) or a negative root without numpy's
    RuntimeWarnings: torch returns inf/nan silently."""
    def forward(*args):
        token = quiet_enter()
        try:
            return fn(*args)
        finally:
            quiet_exit(token)
    forward.__name__ = fn.__name__
    return forward


# --- binary ops: tensor (op) tensor ----------------------------------------------------------
@op
class AddBackward0(Node):
    arg_names = ("self", "other")
    save = ((), ())
    param_names = ("alpha",)

    def forward(a, b):
        return a + b

    def vjp(self, xp, g, a, b, out):
        alpha = self._params[0] if self._params else 1
        return g, (g if alpha == 1 else g * alpha)


@op
class SubBackward0(Node):
    arg_names = ("self", "other")
    save = ((), ())
    param_names = ("alpha",)

    def forward(a, b):
        return a - b

    def vjp(self, xp, g, a, b, out):
        alpha = self._params[0] if self._params else 1
        return g, (-g if alpha == 1 else g * -alpha)


@op
class MulBackward0(Node):
    arg_names = ("self", "other")
    save = ((1,), (0,))

    def forward(a, b):
        return a * b

    def vjp(self, xp, g, a, b, out):
        n = self._next
        return (g * b if n[0] is not None else None), (g * a if n[1] is not None else None)


@op
class DivBackward0(Node):
    arg_names = ("self", "other")
    save = ((1,), (0, 1))

    @quiet
    def forward(a, b):
        return a / b

    def vjp(self, xp, g, a, b, out):
        n = self._next
        ga = g / b if n[0] is not None else None
        gb = -g * ((a / b) / b) if n[1] is not None else None
        return ga, gb


@op
class PowBackward1(Node):
    """tensor ** tensor"""
    arg_names = ("self", "exponent")
    save = ((0, 1), (0, 1, OUT))

    @quiet
    def forward(a, b):
        return a ** b

    def vjp(self, xp, g, a, b, out):
        n = self._next
        ga = gb = None
        if n[0] is not None:
            ga = xp.where(b == 0, xp.zeros_like(g * a), g * (b * a ** (b - 1)))
        if n[1] is not None:
            zero_base = (a == 0) & (b >= 0)
            gb = g * xp.where(zero_base, xp.zeros_like(out), out * xp.log(a))
        return ga, gb


@op
class MaximumBackward0(Node):
    arg_names = ("self", "other")
    save = ((0, 1), (0, 1))

    def forward(a, b):
        return array_namespace(a).maximum(a, b)

    def vjp(self, xp, g, a, b, out):
        half = g / 2
        ga = xp.where(a == b, half, xp.where(a > b, g, xp.zeros_like(g)))
        gb = xp.where(a == b, half, xp.where(b > a, g, xp.zeros_like(g)))
        return ga, gb


@op
class MinimumBackward0(Node):
    arg_names = ("self", "other")
    save = ((0, 1), (0, 1))

    def forward(a, b):
        return array_namespace(a).minimum(a, b)

    def vjp(self, xp, g, a, b, out):
        half = g / 2
        ga = xp.where(a == b, half, xp.where(a < b, g, xp.zeros_like(g)))
        gb = xp.where(a == b, half, xp.where(b < a, g, xp.zeros_like(g)))
        return ga, gb


# --- binary ops: tensor (op) Python scalar -----------------------------------------------------
def _scalar_op(name: str, forward, vjp, arg_names=("self",), save=((),)):
    cls = type(name, (Node,), {"arg_names": arg_names, "save": save, "forward": forward,
                               "vjp": vjp, "param_names": ("other",)})
    return op(cls)


AddScalar = _scalar_op("AddBackward0", lambda a, s: a + s, lambda self, xp, g, a, out: (g,))
SubScalar = _scalar_op("SubBackward0", lambda a, s: a - s, lambda self, xp, g, a, out: (g,))
RsubScalar = _scalar_op("RsubBackward1", lambda a, s: s - a, lambda self, xp, g, a, out: (-g,))
MulScalar = _scalar_op("MulBackward0", lambda a, s: a * s,
                       lambda self, xp, g, a, out: (g * self._params[0],))
DivScalar = _scalar_op("DivBackward0", quiet(lambda a, s: a / s),
                       lambda self, xp, g, a, out: (g / self._params[0],))


def _pow_scalar_vjp(self, xp, g, a, out):
    e = self._params[0]
    if e == 0:
        return (xp.zeros_like(g * a),)
    if e == 2 and not xp.is_tensor_ns:
        # a + a == 2a exactly, and array + array is much cheaper than array * scalar in numpy;
        # torch's formula (below) is kept for create_graph, where its graph shape shows
        return (xp.mul_fresh(a + a, g),)
    return (g * (e * a ** (e - 1)),)


PowScalar = _scalar_op("PowBackward0", quiet(lambda a, s: a ** s), _pow_scalar_vjp,
                       save=((0,),))
PowScalar.param_names = ("exponent",)


def _rpow_vjp(self, xp, g, a, out):
    base = self._params[0]
    if base == 0:  # d/da 0**a: 0 where a >= 0 (torch's convention), else -inf
        return (xp.where(a >= 0, xp.zeros_like(g), g * out * -math.inf),)
    return (g * (out * math.log(base)),)


RpowScalar = _scalar_op("PowBackward2", quiet(lambda a, s: s ** a), _rpow_vjp, arg_names=("exponent",),
                        save=((OUT,),))


# --- dispatch with torch's promotion -----------------------------------------------------------
def _py_scalar(b):
    if isinstance(b, np.generic):
        return b.item()
    return b


def _binary(cls, scalar_cls, a, b, reverse: bool = False, int_to_float: bool = False):
    """``a (op) b`` with ``a`` a Tensor and ``b`` a Tensor or a number."""
    if isinstance(b, Tensor):
        ad, bd = a._data, b._data
        if type(ad) is not type(bd) and (type(ad) not in _NUMPY_TYPES
                                         or type(bd) not in _NUMPY_TYPES):
            a, b = same_device(a, b)  # a CPU 0-d operand joins the GPU; else torch's error
            ad, bd = a._data, b._data
        if ad.dtype is bd.dtype and ad.shape == bd.shape and (
                not int_to_float or ad.dtype.kind in "fc"):
            # hot path: nothing to promote, broadcast or reduce
            if reverse:
                return record2(cls, cls.forward(bd, ad), b, a)
            return record2(cls, cls.forward(ad, bd), a, b)
        reduce = None
        if ad.dtype is not bd.dtype or int_to_float and ad.dtype.kind not in "fc":
            rt = _dtypes.result_type(a, b)
            if int_to_float and not (rt.is_floating_point or rt.is_complex):
                rt = _dtypes.get_default_dtype()
            # the rules see the original arrays (as torch's saved tensors are the originals);
            # each input's gradient is cast back to its own dtype by the engine
            reduce = [(None, ad.dtype), (None, bd.dtype)]
            ad, bd = ad.astype(rt.np, copy=False), bd.astype(rt.np, copy=False)
        if reverse:
            ad, bd = bd, ad
            a, b = b, a
            if reduce is not None:
                reduce.reverse()
        try:
            out = cls.forward(ad, bd)
        except ValueError:
            raise broadcast_error(ad.shape, bd.shape) from None
        if ad.shape != out.shape or bd.shape != out.shape or reduce is not None:
            reduce = reduce or [None, None]
            reduce = tuple(_merge(r, x.shape, out.shape) for r, x in zip(reduce, (ad, bd)))
            if reduce == (None, None):
                reduce = None
        return record(cls, out, (a, b), (), reduce)
    if type(b) not in _number:
        b = _py_scalar(b)
        if not isinstance(b, numbers.Number):
            if isinstance(b, (list, tuple, np.ndarray)):
                return _binary(cls, scalar_cls, a, as_tensor_arg(b), reverse, int_to_float)
            return NotImplemented
    ad = a._data
    kind = ad.dtype.kind
    reduce = None
    if kind not in "fc" or type(b) is complex or int_to_float:
        rt = _dtypes.result_type(a, b)
        if int_to_float and not (rt.is_floating_point or rt.is_complex):
            rt = _dtypes.get_default_dtype()
        if rt.np != ad.dtype:
            ad = ad.astype(rt.np)
            reduce = ((None, a._data.dtype),)
    out = scalar_cls.forward(ad, b)
    if reduce is None:
        return record1(scalar_cls, out, a, (b,))
    return record(scalar_cls, out, (a,), (b,), reduce)


def _merge(r, shape, out_shape):
    dtype = r[1] if r is not None else None
    if shape == out_shape and dtype is None:
        return None
    return (shape if shape != out_shape else None, dtype)


def _fast_binary(cls, scalar_cls, slow):
    """The public function for a binary op: tensors of one dtype and shape go straight to the
    recording fast path; everything else (scalars, promotion, broadcasting) to ``slow``."""
    fwd, fwd_scalar = cls.forward, scalar_cls.forward

    def fn(input, other, **kw):
        if type(input) is Tensor and not kw:
            ad = input._data
            if type(other) is Tensor:
                bd = other._data
                if ad.dtype is bd.dtype and ad.shape == bd.shape and ad.dtype.kind in "fc":
                    try:
                        out = fwd(ad, bd)
                    except TypeError:  # arrays on two devices: the slow path sorts it out
                        return slow(input, other, **kw)
                    return record2(cls, out, input, other)
            elif (type(other) is float or type(other) is int) and ad.dtype.kind == "f":
                # a float tensor and a Python number: numpy keeps the tensor's dtype, as torch
                return record1(scalar_cls, fwd_scalar(ad, other), input, (other,))
        return slow(input, other, **kw)
    fn.__name__, fn.__doc__, fn.__wrapped__ = slow.__name__, slow.__doc__, slow
    return fn


@tensor_method("add", "__add__")
def add(input, other, *, alpha=1, out=None):
    """``input + alpha * other`` with broadcasting (AddBackward0)."""
    if not isinstance(input, Tensor):
        return as_tensor_arg(input).add(other, alpha=alpha)
    if alpha != 1:
        if isinstance(other, Tensor):
            res = _binary(AddBackward0, AddScalar, input, other * alpha)
            return res
        other = other * alpha
    return _binary(AddBackward0, AddScalar, input, other)


@tensor_method("sub", "__sub__", "subtract")
def sub(input, other, *, alpha=1):
    """``input - alpha * other`` (SubBackward0)."""
    if not isinstance(input, Tensor):
        return as_tensor_arg(input).sub(other, alpha=alpha)
    if input._data.dtype.kind == "b" and isinstance(other, Tensor) and other._data.dtype.kind == "b":
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if alpha != 1:
        other = other * alpha
    return _binary(SubBackward0, SubScalar, input, other)


@tensor_method("mul", "__mul__", "multiply")
def mul(input, other):
    """Elementwise product (MulBackward0)."""
    if not isinstance(input, Tensor):
        return as_tensor_arg(input).mul(other)
    return _binary(MulBackward0, MulScalar, input, other)


@tensor_method("div", "__truediv__", "divide", "true_divide")
def div(input, other, *, rounding_mode=None):
    """True division (DivBackward0); integer inputs give a floating result, as in torch."""
    if not isinstance(input, Tensor):
        return as_tensor_arg(input).div(other, rounding_mode=rounding_mode)
    if rounding_mode is not None:
        res = _binary(DivBackward0, DivScalar, input, other)
        xp = array_namespace(res._data)
        fn = xp.floor if rounding_mode == "floor" else xp.trunc
        from .. import no_grad  # noqa: PLC0415
        with no_grad():
            q = Tensor.__new__(Tensor)
            q._data = fn(res._data)
        if input._data.dtype.kind in "iub" and (not isinstance(other, Tensor)
                                                or other._data.dtype.kind in "iub"):
            q._data = q._data.astype(_dtypes.result_type(input, other).np)
        return q
    return _binary(DivBackward0, DivScalar, input, other, int_to_float=True)


@tensor_method("pow", "__pow__")
def pow(input, exponent):  # noqa: A001 (torch's name)
    """``input ** exponent`` (PowBackward0 for a number exponent, PowBackward1 for a tensor)."""
    if (type(exponent) is int or type(exponent) is float) and type(input) is Tensor \
            and input._data.dtype.kind == "f":
        return record1(PowScalar, PowScalar.forward(input._data, exponent), input, (exponent,))
    if not isinstance(input, Tensor):
        return _rpow(as_tensor_arg(exponent), input)
    if isinstance(exponent, Tensor) or type(exponent) not in _number:
        e = _py_scalar(exponent)
        if isinstance(e, numbers.Number):
            exponent = e
        else:
            return _binary(PowBackward1, None, input, as_tensor_arg(exponent))
    return _binary(PowBackward1, PowScalar, input, exponent)


def _rpow(t: Tensor, base):
    base = _py_scalar(base)
    if isinstance(base, Tensor):
        return pow(base, t)
    return _binary(None, RpowScalar, t, base)


add = _fast_binary(AddBackward0, AddScalar, add)
sub = _fast_binary(SubBackward0, SubScalar, sub)
mul = _fast_binary(MulBackward0, MulScalar, mul)
div = _fast_binary(DivBackward0, DivScalar, div)
for _names, _fn in ((("add", "__add__"), add), (("sub", "__sub__", "subtract"), sub),
                    (("mul", "__mul__", "multiply"), mul),
                    (("div", "__truediv__", "divide", "true_divide"), div)):
    for _n in _names:
        setattr(Tensor, _n, _fn)
Tensor.__radd__, Tensor.__rmul__ = add, mul  # both commute

Tensor.__rpow__ = _rpow


def _rsub(self, other, alpha=1):
    if isinstance(other, Tensor):
        return sub(other, self, alpha=alpha)
    if alpha != 1:
        return _binary(None, RsubScalar, self * alpha, other)
    return _binary(None, RsubScalar, self, other)


def _rtruediv(self, other):
    # torch: ``other / self`` is ``self.reciprocal() * other`` (its grad_fn is MulBackward0)
    if isinstance(other, Tensor):
        return div(other, self)
    return mul(self.reciprocal(), other)


MulScalar.saves_wrapped_scalar = DivScalar.saves_wrapped_scalar = True
for _cls in (AddScalar, SubScalar, MulScalar, DivScalar):
    _cls._wrapped_scalar_input = True
op(MulScalar)
op(DivScalar)
for _cls in (MulBackward0, DivBackward0, PowBackward1, MulScalar, DivScalar, PowScalar,
             RsubScalar, RpowScalar):
    _cls._fresh_grads = True

Tensor.__rsub__ = _rsub
Tensor.rsub = _rsub
Tensor.__rtruediv__ = _rtruediv
Tensor.__array_ufunc__ = None  # numpy scalars on the left defer to our reflected operators


@tensor_method()
def maximum(input, other):
    """Elementwise maximum; ties split the gradient evenly, as in torch."""
    return _binary(MaximumBackward0, None, input, as_tensor_arg(other))


@tensor_method()
def minimum(input, other):
    """Elementwise minimum; ties split the gradient evenly, as in torch."""
    return _binary(MinimumBackward0, None, input, as_tensor_arg(other))


@op
class WhereBackward0(Node):
    arg_names = ("self", "other")
    save = ((), ())
    param_names = ("condition",)

    def vjp(self, xp, g, a, b, out):
        cond = self._params[0]
        z = xp.zeros_like(g)
        return xp.where(cond, g, z), xp.where(cond, z, g)


def where(condition, input=None, other=None):
    """``input`` where ``condition`` holds, else ``other`` (WhereBackward0)."""
    if input is None and other is None:
        from .indexing import nonzero  # noqa: PLC0415
        return nonzero(condition, as_tuple=True)
    a = input if isinstance(input, Tensor) else None
    b = other if isinstance(other, Tensor) else None
    if a is None and b is None:
        a = as_tensor_arg(input)
    rt = _dtypes.result_type(input, other)
    if a is None:
        a = as_tensor_arg(input, b).to(rt)
    if b is None:
        b = as_tensor_arg(other, a).to(rt)
    cond_t = condition if isinstance(condition, Tensor) else None
    if len({type(t._data) for t in (cond_t, a, b) if t is not None}) > 1:
        if cond_t is not None:
            cond_t, a, b = same_device(cond_t, a, b)
        else:
            a, b = same_device(a, b)
    ad, bd = a._data, b._data
    reduce = None
    if ad.dtype != rt.np or bd.dtype != rt.np:
        reduce = ((None, ad.dtype) if ad.dtype != rt.np else None,
                  (None, bd.dtype) if bd.dtype != rt.np else None)
        ad, bd = ad.astype(rt.np), bd.astype(rt.np)
    xp = array_namespace(ad)
    c = cond_t._data if cond_t is not None else (
        np.asarray(condition) if xp is NUMPY else xp.asarray(condition))
    try:
        out = xp.where(c, ad, bd)
    except ValueError:
        from ._common import broadcast_error_many  # noqa: PLC0415
        raise broadcast_error_many([tuple(c.shape), ad.shape, bd.shape]) from None
    if ad.shape != out.shape or bd.shape != out.shape:
        reduce = tuple(_merge(r, x.shape, out.shape)
                       for r, x in zip(reduce or (None, None), (ad, bd)))
    return record(WhereBackward0, out, (a, b), (c,), reduce)


def _tensor_where(self, condition, other):
    return where(condition, self, other)


Tensor.where = _tensor_where


# --- unary ops -------------------------------------------------------------------------------
def unary(*names: str, float_only: bool = True):
    """Declare a unary op from its Node class: the public function runs ``cls.forward``."""
    def deco(cls):
        cls = op(cls)
        cls._fresh_grads = True
        fwd = cls.forward

        def fn(input):
            try:
                d = input._data
            except AttributeError:
                raise TypeError(f"{names[0]}(): argument 'input' (position 1) must be Tensor, "
                                f"not {type(input).__name__}") from None
            if float_only and d.dtype.kind not in "fc":
                d = float_data(input)
            xp = NUMPY if type(d) in _NUMPY_TYPES else array_namespace(d)
            return record1(cls, fwd(xp, d), input)

        fn.__name__ = names[0]
        fn.__doc__ = f"Elementwise {names[0]} ({cls.__name__})."
        for n in names:
            setattr(Tensor, n, fn)
        inplace = names[0] + "_"
        saves_self = 0 in cls._save_all

        def fn_(self):
            return self._inplace(fn, saves_self)

        setattr(Tensor, inplace, fn_)
        cls.function = fn
        return cls
    return deco


@unary("neg", "__neg__", "negative", float_only=False)
class NegBackward0(Node):
    save = ((),)

    def forward(xp, x):
        if x.dtype.kind == "b":
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        return -x

    def vjp(self, xp, g, x, out):
        return (-g,)


@unary("abs", "__abs__", "absolute", float_only=False)
class AbsBackward0(Node):
    save = ((0,),)

    def forward(xp, x):
        return xp.abs(x)

    def vjp(self, xp, g, x, out):
        return (xp.mul_fresh(xp.sign(x), g),)


@unary("exp")
class ExpBackward0(Node):
    save = ((OUT,),)

    def forward(xp, x):
        return xp.exp(x)

    def vjp(self, xp, g, x, out):
        return (g * out,)


@unary("exp2")
class Exp2Backward0(Node):
    save = ((OUT,),)

    def forward(xp, x):
        return xp.exp2(x)

    def vjp(self, xp, g, x, out):
        return (g * out * math.log(2.0),)


@unary("expm1")
class Expm1Backward0(Node):
    save = ((OUT,),)

    def forward(xp, x):
        return xp.expm1(x)

    def vjp(self, xp, g, x, out):
        return (g * (out + 1),)


@unary("log")
class LogBackward0(Node):
    save = ((0,),)

    @quiet
    def forward(xp, x):
        return xp.log(x)

    def vjp(self, xp, g, x, out):
        return (g / x,)


@unary("log2")
class Log2Backward0(Node):
    save = ((0,),)

    @quiet
    def forward(xp, x):
        return xp.log2(x)

    def vjp(self, xp, g, x, out):
        return (g / (x * math.log(2.0)),)


@unary("log10")
class Log10Backward0(Node):
    save = ((0,),)

    @quiet
    def forward(xp, x):
        return xp.log10(x)

    def vjp(self, xp, g, x, out):
        return (g / (x * math.log(10.0)),)


@unary("log1p")
class Log1PBackward0(Node):
    save = ((0,),)

    @quiet
    def forward(xp, x):
        return xp.log1p(x)

    def vjp(self, xp, g, x, out):
        return (g / (x + 1),)


@unary("sqrt")
class SqrtBackward0(Node):
    save = ((OUT,),)

    @quiet
    def forward(xp, x):
        return xp.sqrt(x)

    def vjp(self, xp, g, x, out):
        return (g / (2 * out),)


@unary("rsqrt")
class RsqrtBackward0(Node):
    save = ((OUT,),)

    @quiet
    def forward(xp, x):
        return 1 / xp.sqrt(x)

    def vjp(self, xp, g, x, out):
        return (-0.5 * g * out ** 3,)


@unary("sin")
class SinBackward0(Node):
    save = ((0,),)

    def forward(xp, x):
        return xp.sin(x)

    def vjp(self, xp, g, x, out):
        return (xp.mul_fresh(xp.cos(x), g),)


@unary("cos")
class CosBackward0(Node):
    save = ((0,),)

    def forward(xp, x):
        return xp.cos(x)

    def vjp(self, xp, g, x, out):
        return (xp.mul_fresh(-xp.sin(x), g),)


@unary("tan")
class TanBackward0(Node):
    save = ((OUT,),)

    def forward(xp, x):
        return xp.tan(x)

    def vjp(self, xp, g, x, out):
        return (xp.mul_fresh(1 + out * out, g),)


@unary("sinh")
class SinhBackward0(Node):
    save = ((0,),)

    def forward(xp, x):
        return xp.sinh(x)

    def vjp(self, xp, g, x, out):
        return (xp.mul_fresh(xp.cosh(x), g),)


@unary("cosh")
class CoshBackward0(Node):
    save = ((0,),)

    def forward(xp, x):
        return xp.cosh(x)

    def vjp(self, xp, g, x, out):
        return (xp.mul_fresh(xp.sinh(x), g),)


@unary("tanh")
class TanhBackward0(Node):
    save = ((OUT,),)

    def forward(xp, x):
        return xp.tanh(x)

    def vjp(self, xp, g, x, out):
        return (xp.mul_fresh(1 - out * out, g),)


@unary("asin", "arcsin")
class AsinBackward0(Node):
    save = ((0,),)

    @quiet
    def forward(xp, x):
        return xp.arcsin(x)

    def vjp(self, xp, g, x, out):
        return (g / xp.sqrt(1 - x * x),)


@unary("acos", "arccos")
class AcosBackward0(Node):
    save = ((0,),)

    @quiet
    def forward(xp, x):
        return xp.arccos(x)

    def vjp(self, xp, g, x, out):
        return (-g / xp.sqrt(1 - x * x),)


@unary("atan", "arctan")
class AtanBackward0(Node):
    save = ((0,),)

    def forward(xp, x):
        return xp.arctan(x)

    def vjp(self, xp, g, x, out):
        return (g / (1 + x * x),)


@unary("sigmoid")
class SigmoidBackward0(Node):
    save = ((OUT,),)

    def forward(xp, x):
        # split by sign so that exp never overflows
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)

    def vjp(self, xp, g, x, out):
        return (xp.mul_fresh(out * (1 - out), g),)


@unary("relu", float_only=False)
class ReluBackward0(Node):
    save = ((OUT,),)

    def forward(xp, x):
        return xp.maximum(x, xp.zeros((), x.dtype))

    def vjp(self, xp, g, x, out):
        return (g * (out > 0),)


@unary("reciprocal")
class ReciprocalBackward0(Node):
    save = ((OUT,),)

    @quiet
    def forward(xp, x):
        return 1 / x

    def vjp(self, xp, g, x, out):
        return (-g * (out * out),)


@unary("square", float_only=False)
class _SquareBackward(Node):
    save = ((0,),)

    def forward(xp, x):
        return x * x

    def vjp(self, xp, g, x, out):
        return (g * (2 * x),)


_SquareBackward.__name__ = "PowBackward0"  # torch implements square() as pow(x, 2)


def _zero_grad_unary(name: str, fn):
    @op
    class _Z(Node):
        save = ((),)

        def forward(xp, x):
            return fn(xp, x)

        def vjp(self, xp, g, x, out):
            return (xp.zeros_like(g),)
    _Z.__name__ = _Z.__qualname__ = name
    return _Z


for _n, _f in (("floor", lambda xp, x: xp.floor(x)), ("ceil", lambda xp, x: xp.ceil(x)),
               ("round", lambda xp, x: xp.round(x)), ("trunc", lambda xp, x: xp.trunc(x)),
               ("sign", lambda xp, x: xp.sign(x)), ("frac", lambda xp, x: x - xp.trunc(x))):
    unary(_n, float_only=False)(_zero_grad_unary(_n.capitalize() + "Backward0", _f))


@op
class ClampBackward1(Node):
    save = ((0,),)
    param_names = ("min", "max")

    def vjp(self, xp, g, x, out):
        lo, hi = self._params
        if lo is not None and hi is not None:
            keep = (x >= lo) & (x <= hi)
        else:
            keep = x >= lo if lo is not None else x <= hi
        return (g * keep,)


@tensor_method("clamp", "clip")
def clamp(input, min=None, max=None):  # noqa: A002 (torch's names)
    """Limit values to ``[min, max]``; the gradient is zero where clamped (ClampBackward1)."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, as_tensor_arg(min, input))
        if max is not None:
            out = minimum(out, as_tensor_arg(max, input))
        return out
    d = input._data
    if d.dtype.kind not in "fc" and (isinstance(min, float) or isinstance(max, float)):
        d = d.astype(_dtypes.get_default_dtype().np)
    xp = array_namespace(d)
    out = d
    if min is not None:
        out = xp.maximum(out, xp.asarray(min, dtype=d.dtype))
    if max is not None:
        out = xp.minimum(out, xp.asarray(max, dtype=d.dtype))
    if not isinstance(out, np.generic) and out.ndim == 0 and isinstance(d, np.generic):
        out = out[()]
    return record(ClampBackward1, out, (input,), (min, max))


def _clamp_(self, min=None, max=None):  # noqa: A002
    return self._inplace(lambda s: clamp(s, min, max), saves_self=True)


Tensor.clamp_ = _clamp_
Tensor.clip_ = _clamp_
Tensor.clamp_min = lambda self, min: clamp(self, min=min)  # noqa: A002
Tensor.clamp_max = lambda self, max: clamp(self, max=max)  # noqa: A002


# --- in-place arithmetic ---------------------------------------------------------------------
def _inplace_binary(fn, saves_self_fn, ufunc=None):
    def method(self, other, **kw):
        if ufunc is not None and not kw and _direct_inplace(self, other, ufunc):
            return self
        saves = saves_self_fn(self, other)
        return self._inplace(lambda s: fn(s, other, **kw), saves_self=saves)
    return method


def _direct_inplace(self, other, ufunc) -> bool:
    """Apply ``self (op)= other`` straight into self's memory when autograd has nothing to
    record (e.g. an SGD step under no_grad) and no dtype rule can object. False: not handled."""
    d = self._data
    if type(d) is not np.ndarray:
        if _is_host(d) or d.dtype.kind not in "fc":
            return False
        ufunc = getattr(array_namespace(d), ufunc.__name__)  # a GPU array: the same ufunc there
    elif d.dtype.kind not in "fc":
        return False
    if isinstance(other, Tensor):
        if STATE.enabled and (self._rg or other._rg):
            return False
        o = other._data
        if type(o) is not type(d) and (type(o) is np.ndarray or not _is_host(o)):
            return False  # another device: the general path raises torch's error
        if o.dtype.kind == "c" or (o.shape != d.shape and
                                   np.broadcast_shapes(o.shape, d.shape) != d.shape):
            return False
    elif type(other) in (int, float, bool):
        if STATE.enabled and self._rg:
            return False
        o = other
    else:
        return False
    if _events.TAPES:  # a recorder may hold this memory: it summarises it first
        _events.before_write(d)
    ufunc(d, o, out=d, casting="same_kind")
    self._bump_version()
    return True


def _needs_other(self, other):
    return isinstance(other, Tensor) and other._rg


Tensor.add_ = Tensor.__iadd__ = _inplace_binary(add, lambda s, o: False, np.add)
Tensor.sub_ = Tensor.__isub__ = _inplace_binary(sub, lambda s, o: False, np.subtract)
Tensor.mul_ = Tensor.__imul__ = _inplace_binary(mul, _needs_other, np.multiply)
Tensor.div_ = Tensor.__itruediv__ = _inplace_binary(div, _needs_other, np.true_divide)
Tensor.pow_ = Tensor.__ipow__ = _inplace_binary(pow, lambda s, o: True)


# --- comparisons and logic (never differentiable) --------------------------------------------
def _compare(np_fn, name):
    def fn(self, other):
        if not isinstance(self, Tensor):
            self = as_tensor_arg(self)
        if isinstance(other, Tensor):
            if type(self._data) is not type(other._data) and (
                    type(self._data) not in _NUMPY_TYPES or type(other._data) not in _NUMPY_TYPES):
                self, other = same_device(self, other)
            od = other._data
            rt = _dtypes.result_type(self, other).np
            a, b = self._data.astype(rt, copy=False), od.astype(rt, copy=False)
        else:
            other = _py_scalar(other)
            if not isinstance(other, numbers.Number):
                if isinstance(other, (list, tuple, np.ndarray)):
                    return fn(self, as_tensor_arg(other))
                return NotImplemented
            a, b = self._data, other
        try:
            out = np_fn(a, b) if type(a) in _NUMPY_TYPES else \
                getattr(array_namespace(a), np_fn.__name__)(a, b)
        except ValueError:
            raise broadcast_error(tuple(getattr(a, "shape", ())),
                                  tuple(getattr(b, "shape", ()))) from None
        t = Tensor.__new__(Tensor)
        t._data = out
        return t
    fn.__name__ = name
    return fn


for _name, _fn, _aliases in (("eq", np.equal, ("__eq__",)), ("ne", np.not_equal, ("__ne__", "not_equal")),
                            ("lt", np.less, ("__lt__", "less")), ("le", np.less_equal, ("__le__", "less_equal")),
                            ("gt", np.greater, ("__gt__", "greater")),
                            ("ge", np.greater_equal, ("__ge__", "greater_equal")),
                            ("logical_and", np.logical_and, ()), ("logical_or", np.logical_or, ()),
                            ("logical_xor", np.logical_xor, ()),
                            ("bitwise_and", np.bitwise_and, ("__and__", "__rand__")),
                            ("bitwise_or", np.bitwise_or, ("__or__", "__ror__")),
                            ("bitwise_xor", np.bitwise_xor, ("__xor__", "__rxor__")),
                            ("remainder", np.remainder, ("__mod__", "fmod")),
                            ("floor_divide", np.floor_divide, ("__floordiv__",))):
    _f = _compare(_fn, _name)
    for _alias in (_name,) + _aliases:
        setattr(Tensor, _alias, _f)


def _logical_not(self):
    t = Tensor.__new__(Tensor)
    d = self._data
    t._data = np.logical_not(d) if type(d) in _NUMPY_TYPES else \
        array_namespace(d).logical_not(d)
    return t


def _invert(self):
    t = Tensor.__new__(Tensor)
    t._data = ~self._data
    return t


Tensor.logical_not = _logical_not
Tensor.__invert__ = _invert
Tensor.bitwise_not = _invert

__all__ = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "where", "clamp"]

# Every rule here maps a gradient entry by entry, so a vectorized Jacobian's DiagonalBatch keeps
# its structure through it (or, for a rule that needs the array, turns into it on its own).
for _cls in list(globals().values()):
    if isinstance(_cls, type) and issubclass(_cls, Node) and _cls.__module__ == __name__:
        _cls._diagonal_ok = True
