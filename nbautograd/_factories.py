"""Creating tensors: tensor/as_tensor/from_numpy, zeros/ones/full/empty/eye, arange/linspace,
rand/randn/randint, the ``*_like`` forms, and the random seed.

>>> import nbautograd as torch
>>> torch.tensor([1, 2]).dtype, torch.tensor([1., 2.]).dtype, torch.zeros(2, 3).shape
(torch.int64, torch.float32, torch.Size([2, 3]))
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from . import _dtypes
from ._device import device as Device
from ._tensor import Tensor

# torch's default CPU generator starts from this seed, so a fresh session is reproducible
DEFAULT_SEED = 67280421310721
_RNG = [np.random.Generator(np.random.PCG64(DEFAULT_SEED))]
_SEED = [DEFAULT_SEED]


def manual_seed(seed: int):
    """Seed the random number generator (for rand, randn, randint, nn init, ...)."""
    seed = int(seed)
    _SEED[0] = seed
    _RNG[0] = np.random.Generator(np.random.PCG64(seed & (2 ** 64 - 1)))
    from . import cuda  # noqa: PLC0415  (never imports CuPy: the seed waits for it)
    cuda.manual_seed_all(seed)
    return _RNG[0]


seed = manual_seed


def initial_seed() -> int:
    return _SEED[0]


def default_generator():
    return _RNG[0]


def _finish(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if dtype is not None:
        dt = _dtypes.as_dtype(dtype).np
        if data.dtype != dt:
            data = data.astype(dt)
    if device is not None:
        from ._device_move import move  # noqa: PLC0415
        if Device(device).type != "cpu" or not isinstance(data, (np.ndarray, np.generic)):
            data = move(data, device)
    elif _DEFAULT_DEVICE[0] is not None and _DEFAULT_DEVICE[0].type != "cpu":
        from ._device_move import move  # noqa: PLC0415
        data = move(data, _DEFAULT_DEVICE[0])
    if isinstance(data, np.ndarray) and data.ndim == 0:
        data = data[()]  # 0-d values are kept as NumPy scalars: much cheaper arithmetic
    t = Tensor.__new__(Tensor)
    t._data = data
    if requires_grad:
        t._set_requires_grad(True, attribute="factory")
    return t


_DEFAULT_DEVICE = [None]


def _gpu(device):
    """The CUDA device a factory call targets (its ``device=`` or the default), else None."""
    dev = Device(device) if device is not None else _DEFAULT_DEVICE[0]
    return dev if dev is not None and dev.type == "cuda" else None


def _random(device, generator, kind, shape, np_dtype, *args):
    """Random values for a factory: CuPy's generator for a CUDA tensor (unless a CPU
    ``generator`` is given), else the CPU generator; None means "make them on the CPU"."""
    dev = _gpu(device) if generator is None else None
    if dev is None:
        return None
    from . import cuda  # noqa: PLC0415
    return cuda._random(dev, kind, shape, np_dtype, *args)


def set_default_device(device) -> None:
    """Make factory functions create tensors on ``device`` by default."""
    _DEFAULT_DEVICE[0] = None if device is None else Device(device)


def get_default_device():
    return _DEFAULT_DEVICE[0] or Device("cpu")


def _infer(data):
    """A NumPy array from Python data, with torch's dtype rules for Python numbers."""
    if isinstance(data, Tensor):
        return data._data, None
    if isinstance(data, np.ndarray):
        return data, None
    if isinstance(data, np.generic):
        return np.asarray(data), None
    if isinstance(data, str) or data is None:
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    if isinstance(data, (list, tuple)):
        data = _flatten_tensors(data)
        _check_ragged(data, 0)
    try:
        arr = np.array(data)
    except (ValueError, TypeError) as e:
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'") from e
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError("new(): invalid data type 'str'")
    kind = arr.dtype.kind
    if kind == "f":
        return arr, _dtypes.get_default_dtype()
    if kind == "c":
        return arr, _dtypes.get_default_dtype().to_complex()
    if kind in "iu":
        return arr, _dtypes.int64
    return arr, None


def _flatten_tensors(data):
    # torch.tensor([t1, t2]) accepts one-element tensors and numpy scalars inside lists
    out = []
    for x in data:
        if isinstance(x, Tensor):
            out.append(x._data.tolist() if x._data.ndim else x.item())
        elif isinstance(x, (list, tuple)):
            out.append(_flatten_tensors(x))
        else:
            out.append(x)
    return out


def _check_ragged(data, dim):
    if not data or not isinstance(data, list):
        return
    first = data[0]
    if isinstance(first, list):
        n = len(first)
        for x in data:
            if not isinstance(x, list) or len(x) != n:
                got = len(x) if isinstance(x, list) else type(x).__name__
                raise ValueError(f"expected sequence of length {n} at dim {dim + 1} (got {got})")
            _check_ragged(x, dim + 1)


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested lists, an array, a tensor).

    >>> import nbautograd as torch
    >>> torch.tensor(5.0, requires_grad=True)
    tensor(5., requires_grad=True)
    """
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.detach().clone() or sourceTensor.detach().clone()"
                      ".requires_grad_(True), rather than torch.tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
    arr, inferred = _infer(data)
    arr = np.array(arr, copy=True) if isinstance(arr, np.ndarray) else arr.copy()
    return _finish(arr, dtype if dtype is not None else inferred, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with ``data`` when it already is a suitable array."""
    if isinstance(data, Tensor) and (dtype is None or _dtypes.as_dtype(dtype) is data.dtype) \
            and device is None:
        return data
    if isinstance(data, np.ndarray) and dtype is None and device is None:
        return from_numpy(data)
    arr, inferred = _infer(data)
    return _finish(arr, dtype if dtype is not None else inferred, device)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dtypes.from_numpy_dtype(ndarray.dtype)
    t = Tensor.__new__(Tensor)
    t._data = ndarray
    return t


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            if isinstance(s, Tensor) and s.numel() == 1:
                continue
            raise TypeError(f"zeros(): argument 'size' (position 1) must be tuple of ints, but "
                            f"found element of type {type(s).__name__} at pos 0")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"[{', '.join(map(str, size))}]")
    return tuple(int(s) for s in size)


def _float_dtype(dtype):
    return _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.get_default_dtype()


def zeros(*size, dtype=None, device=None, requires_grad: bool = False, out=None) -> Tensor:
    """A tensor of zeros (default dtype float32)."""
    dt = _float_dtype(dtype)
    return _finish(np.zeros(_size(size), dt.np), None, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False, out=None) -> Tensor:
    """A tensor of ones (default dtype float32)."""
    dt = _float_dtype(dtype)
    return _finish(np.ones(_size(size), dt.np), None, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False, **_) -> Tensor:
    """An uninitialized tensor (its values are arbitrary)."""
    dt = _float_dtype(dtype)
    return _finish(np.empty(_size(size), dt.np), None, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value`` (dtype inferred from it, as in torch)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dt = _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.scalar_dtype(fill_value)
    return _finish(np.full(_size((size,) if isinstance(size, int) else (tuple(size),)),
                           fill_value, dt.np), None, device, requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix (n x m)."""
    return _finish(np.eye(n, n if m is None else m, dtype=_float_dtype(dtype).np), None, device,
                   requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 for integer arguments."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        dtype = _dtypes.int64 if all(isinstance(v, int) for v in vals) \
            else _dtypes.get_default_dtype()
    dt = _dtypes.as_dtype(dtype)
    start, end, step = vals
    n = max(int(np.ceil((end - start) / step)), 0)
    data = (start + np.arange(n, dtype=np.float64) * step) if dt.is_floating_point \
        else np.arange(start, end, step)
    return _finish(data.astype(dt.np), None, device, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    dt = _float_dtype(dtype)
    return _finish(np.linspace(start, end, steps).astype(dt.np), None, device, requires_grad)


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    dt = _float_dtype(dtype)
    return _finish((base ** np.linspace(start, end, steps)).astype(dt.np), None, device,
                   requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform random values in [0, 1)."""
    dt = _float_dtype(dtype)
    shape = _size(size)
    data = _random(device, generator, "random", shape, dt.np)
    if data is None:
        data = (generator or _RNG[0]).random(shape).astype(dt.np)
    return _finish(data, None, device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal random values."""
    dt = _float_dtype(dtype)
    shape = _size(size)
    data = _random(device, generator, "standard_normal", shape, dt.np)
    if data is None:
        data = (generator or _RNG[0]).standard_normal(shape).astype(dt.np)
    return _finish(data, None, device, requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """Random integers in [low, high) (int64 by default)."""
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    rng = generator or _RNG[0]
    dt = _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.int64
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    data = _random(device, generator, "randint", tuple(size), dt.np, low, high)
    if data is None:
        data = rng.integers(low, high, tuple(size)).astype(dt.np)
    return _finish(data, None, device, requires_grad)


def randperm(n: int, *, generator=None, dtype=None, device=None) -> Tensor:
    rng = generator or _RNG[0]
    dt = _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.int64
    data = _random(device, generator, "permutation", (n,), dt.np)
    if data is None:
        data = rng.permutation(n).astype(dt.np)
    return _finish(data, None, device)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None):
    rng = generator or _RNG[0]
    from ._backend import to_host  # noqa: PLC0415
    m = to_host(mean._data) if isinstance(mean, Tensor) else mean
    s = to_host(std._data) if isinstance(std, Tensor) else std
    shape = tuple(size) if size is not None else np.broadcast_shapes(np.shape(m), np.shape(s))
    dt = _float_dtype(dtype)
    data = None
    if isinstance(m, numbers.Real) and isinstance(s, numbers.Real):
        data = _random(device, generator, "normal", tuple(shape), dt.np, m, s)
    if data is None:
        data = rng.normal(m, s, shape).astype(dt.np)
    return _finish(data, None, device)


def _like(fn):
    def like(input, *args, dtype=None, device=None, requires_grad: bool = False, **kw):
        dt = dtype if dtype is not None else input.dtype
        dev = device if device is not None else input.device
        return fn(*args, *input.shape, dtype=dt, device=dev, requires_grad=requires_grad, **kw) \
            if fn not in (full,) else fn(input.shape, *args, dtype=dt, device=dev,
                                         requires_grad=requires_grad)
    like.__name__ = fn.__name__ + "_like"
    like.__doc__ = f"``{fn.__name__}`` with the shape, dtype and device of ``input``."
    return like


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)
full_like = _like(full)
rand_like = _like(rand)
randn_like = _like(randn)


def randint_like(input, low, high=None, *, dtype=None, device=None, requires_grad=False):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype,
                   device=device or input.device, requires_grad=requires_grad)


# In-place random fills used by nn.init and tutorials
def _fill_random(self, generator, kind, *args):
    d = self._data
    vals = None
    if generator is None and not isinstance(d, (np.ndarray, np.generic)):
        from . import cuda  # noqa: PLC0415  (a CUDA tensor draws from CuPy's generator)
        from ._device import device_of  # noqa: PLC0415
        vals = cuda._random(device_of(d), kind, tuple(d.shape), d.dtype, *args)
    if vals is None:
        rng = generator or _RNG[0]
        vals = np.asarray(getattr(rng, kind)(*args, d.shape).astype(d.dtype))
    src = Tensor.__new__(Tensor)
    src._data = vals
    from . import no_grad  # noqa: PLC0415
    with no_grad():
        self.copy_(src)
    return self


def _uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None):
    return _fill_random(self, generator, "uniform", a, b)


def _normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None):
    return _fill_random(self, generator, "normal", mean, std)


Tensor.uniform_ = _uniform_
Tensor.normal_ = _normal_
Tensor.new_zeros = lambda self, *size, dtype=None, device=None, requires_grad=False: zeros(
    *size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)
Tensor.new_ones = lambda self, *size, dtype=None, device=None, requires_grad=False: ones(
    *size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)
Tensor.new_tensor = lambda self, data, dtype=None, device=None, requires_grad=False: tensor(
    data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)
Tensor.new_full = lambda self, size, fill_value, dtype=None, device=None, requires_grad=False: \
    full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
         requires_grad=requires_grad)
Tensor.new_empty = lambda self, *size, dtype=None, device=None, requires_grad=False: empty(
    *size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)
