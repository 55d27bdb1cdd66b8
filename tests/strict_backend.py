"""A strict stand-in for CuPy: a fake GPU ("cuda:0") whose arrays refuse NumPy.

``StrictArray`` wraps a NumPy array and behaves like ``cupy.ndarray`` where the engine can
tell: operators, ``shape/dtype/ndim/size/T/flags/base``, the array methods, indexing,
``.get()`` (a NumPy copy), ``.device.id == 0``; and, like CuPy, any implicit conversion to
NumPy fails with CuPy's ``TypeError``. It is stricter than CuPy in three places, so that a
stray ``np.<fn>(data)`` in a forward or a backward rule fails here even where CuPy would have
quietly dispatched it (through ``__array_ufunc__``/``__array_function__``) or copied host data
to the device on every use:

* ``np.<ufunc>(device_array)`` and ``np.<function>(device_array)`` raise (CuPy dispatches);
* a NumPy index array inside a key raises (CuPy copies it to the device each time);
* a NumPy ``ndarray`` operand raises, as in CuPy (NumPy scalars are fine, as in CuPy).

``MODULE`` is the matching array module, built the way the engine builds CuPy's namespace:
every public NumPy function wrapped to unwrap ``StrictArray`` arguments and re-wrap array
results (0-d results stay 0-d arrays, as CuPy's do), plus the parts of CuPy's API the engine
uses outside array math (``asarray`` from host data, ``random``, ``cuda.Device``,
``cuda.runtime.getDeviceCount``, ``cuda.Stream.null.synchronize``).

Install it with ``nbautograd.cuda._use_backend(MODULE)`` (see ``installed()``).
"""
from __future__ import annotations

import contextlib
import types

import numpy as np

MESSAGE = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
           "construct a NumPy array explicitly.")


def _refuse(*_args, **_kwargs):
    raise TypeError(MESSAGE)


class _Device:
    """CuPy's ``cupy.cuda.Device``: the one fake GPU, usable as a context manager."""

    def __init__(self, device=None) -> None:
        if device not in (None, 0):
            raise RuntimeError(f"strict backend: no GPU {device} (there is only 0)")
        self.id = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def use(self) -> None:
        return None

    def synchronize(self) -> None:
        return None

    def __eq__(self, other) -> bool:
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self) -> int:
        return hash(("strict-device", self.id))

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


_DEVICE = _Device()


class _Flags:
    """CuPy's flags: only these three (no ``writeable``)."""

    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, a: np.ndarray) -> None:
        self.c_contiguous = bool(a.flags.c_contiguous)
        self.f_contiguous = bool(a.flags.f_contiguous)
        self.owndata = a.base is None


class _Quiet:
    """CuPy computes inf/nan without floating-point warnings: so does the stand-in."""

    def __init__(self) -> None:
        self._tokens = []

    def __enter__(self):
        from nbautograd._backend import quiet_enter
        self._tokens.append(quiet_enter())

    def __exit__(self, *exc):
        from nbautograd._backend import quiet_exit
        quiet_exit(self._tokens.pop())


_QUIET = _Quiet()


# --- unwrapping and wrapping --------------------------------------------------------------
def _operand(x):
    """An operator's other operand, as CuPy accepts it: device arrays, Python and NumPy
    scalars. NumPy arrays raise (an implicit host-to-device copy); anything else defers."""
    t = type(x)
    if t is StrictArray:
        return x._a
    if t in (int, float, bool, complex) or isinstance(x, np.generic):
        return x
    if isinstance(x, np.ndarray):
        raise TypeError(f"Unsupported type {type(x)}")
    return NotImplemented


def _unwrap(x, host_ok: bool = False):
    """Arguments of a namespace function: StrictArray -> its array, recursively in lists and
    tuples; a NumPy ndarray raises unless the function takes host data (``asarray``)."""
    t = type(x)
    if t is StrictArray:
        return x._a
    if t is list or t is tuple:
        return t(_unwrap(v, host_ok) for v in x)
    if isinstance(x, np.ndarray) and not host_ok:
        raise TypeError(f"strict backend: a NumPy array ({x.shape}, {x.dtype}) was passed to a "
                        "device function; move it to the device first (xp.asarray)")
    return x


def _key(key):
    """An indexing key: device arrays unwrapped, lists allowed (CuPy converts them), NumPy
    index arrays refused (they belong on the device)."""
    if type(key) is tuple:
        return tuple(_key(k) for k in key)
    if type(key) is StrictArray:
        return key._a
    if isinstance(key, np.ndarray):
        raise TypeError("strict backend: a NumPy index array in a device key (CuPy would copy "
                        "it to the GPU on every use; convert it once with xp.asarray)")
    return key


def _wrap(r):
    if isinstance(r, np.ndarray):
        return StrictArray(r)
    if isinstance(r, np.generic):
        return StrictArray(np.asarray(r))  # CuPy returns 0-d arrays, never NumPy scalars
    if type(r) is tuple or type(r) is list:
        return type(r)(_wrap(v) for v in r)
    return r


def _call(fn, args, kwargs, host_ok=False):
    out = kwargs.get("out")
    args = _unwrap(args, host_ok)
    kwargs = {k: _unwrap(v, host_ok) for k, v in kwargs.items()}
    if isinstance(out, tuple) and len(out) == 1:
        out = out[0]
    with _QUIET:
        r = fn(*args, **kwargs)
    if type(out) is StrictArray:
        return out  # the same device array that was written
    return _wrap(r)


# --- the array ------------------------------------------------------------------------------
class StrictArray:
    """A NumPy array pretending to live on a GPU: no implicit way back to NumPy."""

    __slots__ = ("_a",)
    __array_priority__ = 100
    __hash__ = None

    def __init__(self, a) -> None:
        if type(a) is StrictArray:
            a = a._a
        self._a = np.asarray(a)

    # NumPy must not see through it: exactly CuPy's error for every implicit conversion
    __array__ = _refuse

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise TypeError(MESSAGE)

    def __array_function__(self, func, types_, args, kwargs):
        raise TypeError(MESSAGE)

    # --- attributes ------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._a.shape

    @shape.setter
    def shape(self, value) -> None:
        self._a.shape = value  # AttributeError when no view is possible, as NumPy and CuPy

    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: _Flags(self._a))
    device = property(lambda self: _DEVICE)

    @property
    def base(self):
        return None if self._a.base is None else StrictArray(self._a.base)

    @property
    def T(self):
        return StrictArray(self._a.T)

    # --- host transfers (explicit only) --------------------------------------------------
    def get(self, stream=None, order="C", out=None) -> np.ndarray:
        return np.array(self._a, copy=True, order=order)

    def item(self):
        if self._a.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return self._a.item()

    def tolist(self):
        return self._a.tolist()

    def __int__(self) -> int:
        return int(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __complex__(self) -> complex:
        return complex(self._a)

    def __bool__(self) -> bool:
        return bool(self._a)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (StrictArray(self._a[i]) for i in range(self._a.shape[0]))

    def __repr__(self) -> str:
        return f"strict({self._a!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(self._a, spec)

    # --- indexing ----------------------------------------------------------------------------
    def __getitem__(self, key):
        return _wrap(self._a[_key(key)])

    def __setitem__(self, key, value) -> None:
        v = _operand(value)
        if v is NotImplemented:
            raise TypeError(f"Unsupported type {type(value)}")
        self._a[_key(key)] = v

    # --- methods -------------------------------------------------------------------------
    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        kw = {} if casting is None else {"casting": casting}
        return StrictArray(self._a.astype(dtype, order=order, copy=copy, **kw)) \
            if copy or np.dtype(dtype) != self._a.dtype else self

    def view(self, dtype=None):
        return StrictArray(self._a.view() if dtype is None else self._a.view(dtype))

    def __copy__(self):
        return StrictArray(self._a.copy())

    def __deepcopy__(self, memo):
        return StrictArray(self._a.copy())

    def __reduce__(self):
        return (StrictArray, (self._a.copy(),))


def _method(name: str):
    def method(self, *args, **kwargs):
        return _call(getattr(self._a, name), args, kwargs)
    method.__name__ = name
    return method


for _name in ("reshape", "transpose", "swapaxes", "copy", "sum", "mean", "prod", "max", "min",
              "argmax", "argmin", "cumsum", "cumprod", "all", "any", "ravel", "flatten",
              "squeeze", "take", "repeat", "clip", "fill", "dot", "nonzero", "std", "var",
              "round", "conj", "diagonal", "trace", "sort", "argsort", "put", "choose",
              "compress", "searchsorted"):
    setattr(StrictArray, _name, _method(_name))


def _binop(name: str):
    def op(self, other):
        o = _operand(other)
        if o is NotImplemented:
            return NotImplemented
        with _QUIET:
            return _wrap(getattr(self._a, name)(o))
    op.__name__ = name
    return op


def _inplace(name: str):
    def op(self, other):
        o = _operand(other)
        if o is NotImplemented:
            return NotImplemented
        with _QUIET:
            getattr(self._a, name)(o)
        return self
    op.__name__ = name
    return op


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lshift", "rshift", "divmod"):
    setattr(StrictArray, f"__{_name}__", _binop(f"__{_name}__"))
    setattr(StrictArray, f"__r{_name}__", _binop(f"__r{_name}__"))
    if _name != "divmod":
        setattr(StrictArray, f"__i{_name}__", _inplace(f"__i{_name}__"))
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(StrictArray, f"__{_name}__", _binop(f"__{_name}__"))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(StrictArray, f"__{_name}__",
            (lambda n: lambda self: _wrap(getattr(self._a, n)()))(f"__{_name}__"))


# --- the module ------------------------------------------------------------------------------
class _Ufunc:
    """A NumPy ufunc over device arrays (with CuPy's ``at`` for scatter-add)."""

    def __init__(self, uf: np.ufunc) -> None:
        self._uf = uf
        self.__name__ = uf.__name__
        self.nin, self.nout = uf.nin, uf.nout

    def __call__(self, *args, **kwargs):
        return _call(self._uf, args, kwargs)

    def at(self, a, indices, b=None) -> None:
        if type(a) is not StrictArray:
            raise TypeError(f"Unsupported type {type(a)}")
        if b is None:
            self._uf.at(a._a, _key(indices))
        else:
            self._uf.at(a._a, _key(indices), _unwrap(b))

    def reduce(self, *args, **kwargs):
        return _call(self._uf.reduce, args, kwargs)

    def accumulate(self, *args, **kwargs):
        return _call(self._uf.accumulate, args, kwargs)

    def outer(self, *args, **kwargs):
        return _call(self._uf.outer, args, kwargs)

    def __repr__(self) -> str:
        return f"<strict ufunc '{self.__name__}'>"


def _function(fn, host_ok: bool = False):
    def wrapped(*args, **kwargs):
        return _call(fn, args, kwargs, host_ok)
    wrapped.__name__ = getattr(fn, "__name__", "function")
    wrapped.__doc__ = getattr(fn, "__doc__", None)
    return wrapped


def _asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    """Device data from anything, host data included (CuPy's explicit host-to-device copy)."""
    if type(a) is StrictArray:
        if dtype is None or np.dtype(dtype) == a.dtype:
            return a
        return a.astype(dtype)
    return StrictArray(np.array(_unwrap(a, host_ok=True), dtype=dtype, order=order or "K",
                                copy=True))


def _array(a, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    if type(a) is StrictArray:
        return StrictArray(np.array(a._a, dtype=dtype, copy=True, order=order, ndmin=ndmin))
    return StrictArray(np.array(_unwrap(a, host_ok=True), dtype=dtype, copy=True, order=order,
                                ndmin=ndmin))


class _Random:
    """``cupy.random``'s legacy API over its own generator (seeded by ``seed``)."""

    def __init__(self) -> None:
        self._rs = np.random.RandomState(0)

    def seed(self, seed=None) -> None:
        self._rs = np.random.RandomState(None if seed is None else int(seed) % (2 ** 32))

    def random(self, size=None, dtype=float):
        return StrictArray(self._rs.random_sample(size).astype(dtype))

    def standard_normal(self, size=None, dtype=float):
        return StrictArray(self._rs.standard_normal(size).astype(dtype))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=float):
        return StrictArray(self._rs.uniform(low, high, size).astype(dtype))

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=float):
        return StrictArray(self._rs.normal(loc, scale, size).astype(dtype))

    def randint(self, low, high=None, size=None, dtype="l"):
        return StrictArray(self._rs.randint(low, high, size).astype(dtype))

    def permutation(self, a):
        return StrictArray(self._rs.permutation(a))


def _make_module() -> types.SimpleNamespace:
    mod = types.SimpleNamespace()
    for name in dir(np):
        if name.startswith("_"):
            continue
        obj = getattr(np, name)
        if isinstance(obj, np.ufunc):
            setattr(mod, name, _Ufunc(obj))
        elif isinstance(obj, (type, types.ModuleType)) or not callable(obj):
            setattr(mod, name, obj)  # dtypes and scalar types, constants, submodules as they are
        else:
            setattr(mod, name, _function(obj))
    mod.__name__ = "strict_backend"
    mod.ndarray = StrictArray
    mod.asarray = mod.asanyarray = _asarray
    mod.array = _array
    mod.random = _Random()
    stream = types.SimpleNamespace(synchronize=lambda: None)
    mod.cuda = types.SimpleNamespace(
        Device=_Device,
        runtime=types.SimpleNamespace(
            getDeviceCount=lambda: 1,
            getDeviceProperties=lambda i: {"name": b"strict fake GPU"}),
        Stream=types.SimpleNamespace(null=stream),
    )
    return mod


MODULE = _make_module()


@contextlib.contextmanager
def installed():
    """``nbautograd.cuda`` backed by the strict fake GPU for the duration of the block."""
    from nbautograd import cuda
    prev = cuda._use_backend(MODULE)
    try:
        yield MODULE
    finally:
        cuda._restore_backend(prev)
