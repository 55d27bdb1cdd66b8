"""torch.cuda: GPU availability and device moves, backed by CuPy (imported lazily).

CuPy is imported the first time a CUDA tensor (or a question about the GPU) comes up, never at
``import nbautograd``. Without CuPy or without a GPU, ``is_available()`` is False and asking
for a CUDA tensor raises torch's ``AssertionError`` with the reason appended.

>>> import nbautograd as torch
>>> isinstance(torch.cuda.is_available(), bool)
True
"""
from __future__ import annotations

import numpy as np

# "cupy": the CuPy module (or a stand-in with its API) once loaded, None if unavailable;
# "why": the reason when unavailable; "seed": a manual seed waiting for CuPy to load
_STATE: dict = {}


def _cupy():
    """CuPy when it imports and sees a GPU; None otherwise (the reason is kept)."""
    if "cupy" not in _STATE:
        try:
            import cupy  # noqa: PLC0415
            n = cupy.cuda.runtime.getDeviceCount()
            if n > 0:
                _install(cupy)
            else:
                _STATE["cupy"] = None
                _STATE["why"] = "no CUDA GPU is visible to CuPy"
        except ImportError:
            _STATE["cupy"] = None
            _STATE["why"] = ("CuPy is not installed (pip install 'nbautograd[cuda]' on a machine "
                             "with an NVIDIA GPU)")
        except Exception as e:  # noqa: BLE001 - any driver/runtime failure means "no GPU"
            _STATE["cupy"] = None
            _STATE["why"] = f"CuPy could not reach a GPU ({type(e).__name__}: {e})"
    return _STATE["cupy"]


def _install(module) -> None:
    """Make ``module`` (CuPy, or a stand-in with CuPy's API) the CUDA backend."""
    from ._backend import cupy_namespace, make_namespace, register_namespace  # noqa: PLC0415
    if getattr(module, "__name__", "") == "cupy":
        cupy_namespace()  # registers cupy.ndarray
    else:
        register_namespace(module.ndarray, make_namespace(module, module.__name__))
    _STATE["cupy"] = module
    _STATE["why"] = ""
    seed = _STATE.pop("seed", None)
    if seed is not None:
        manual_seed_all(seed)


def _use_backend(module=None, why: str | None = None) -> dict:
    """Test hook: use ``module`` (a stand-in with CuPy's API: ``ndarray``, ``asarray``,
    ``random``, ``cuda.runtime.getDeviceCount()``, ``cuda.Device``, ``cuda.Stream``) as the
    CUDA backend; with ``module=None`` and a ``why``, behave as a machine without a GPU; with
    neither, forget the backend (the next use imports CuPy again). Returns the previous state,
    for ``_restore_backend``."""
    prev = dict(_STATE)
    _STATE.clear()
    if module is not None:
        _install(module)
    elif why is not None:
        _STATE["cupy"], _STATE["why"] = None, why
    return prev


def _restore_backend(prev: dict) -> None:
    """Undo ``_use_backend``."""
    from ._backend import register_namespace  # noqa: PLC0415
    cur = _STATE.get("cupy")
    if cur is not None and getattr(cur, "__name__", "") != "cupy" and \
            cur is not prev.get("cupy"):
        register_namespace(cur.ndarray, None)
    _STATE.clear()
    _STATE.update(prev)


def is_available() -> bool:
    """True when CUDA tensors can be made (CuPy installed and a GPU visible)."""
    return _cupy() is not None


def is_initialized() -> bool:
    return _STATE.get("cupy") is not None


def device_count() -> int:
    cp = _cupy()
    return 0 if cp is None else cp.cuda.runtime.getDeviceCount()


def current_device() -> int:
    cp = _require()
    return cp.cuda.Device().id


def set_device(device) -> None:
    """Make ``device`` (an index, ``"cuda:N"`` or a ``torch.device``) the current GPU."""
    cp = _require()
    idx = _index(device)
    if idx is not None and idx >= 0:
        cp.cuda.Device(idx).use()


def get_device_name(device=None) -> str:
    cp = _require()
    idx = _index(device)
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id if idx is None else idx)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize(device=None) -> None:
    """Wait for all queued GPU work (on ``device``, default the current one) to finish."""
    cp = _require()
    idx = _index(device)
    if idx is None:
        cp.cuda.Stream.null.synchronize()
        return
    with cp.cuda.Device(idx):
        cp.cuda.Stream.null.synchronize()


def manual_seed(seed: int) -> None:
    """Seed the random numbers of CUDA tensors (every GPU, as CuPy has one generator per
    device). Before CuPy is loaded the seed waits for it: seeding never imports CuPy."""
    manual_seed_all(seed)


def manual_seed_all(seed: int) -> None:
    seed = int(seed) & (2 ** 64 - 1)
    cp = _STATE.get("cupy")
    if cp is None:
        if "cupy" not in _STATE or _STATE.get("why") == "":
            _STATE["seed"] = seed
        return
    for i in range(cp.cuda.runtime.getDeviceCount()):
        with cp.cuda.Device(i):
            cp.random.seed(seed)


def _index(device):
    if device is None:
        return None
    if isinstance(device, int):
        return device
    from ._device import device as Device  # noqa: PLC0415
    return Device(device).index


def _require():
    cp = _cupy()
    if cp is None:
        # torch's type and text, then why: a user should know what to install or check
        raise AssertionError(f"Torch not compiled with CUDA enabled (nbautograd: {_STATE['why']})")
    return cp


def _target(cp, dev) -> int:
    idx = cp.cuda.Device().id if dev.index is None else dev.index
    if idx >= cp.cuda.runtime.getDeviceCount():
        raise RuntimeError("CUDA error: invalid device ordinal")
    return idx


def _to_device(data, dev):
    """``data`` (NumPy, or a device array) on GPU ``dev``: the same array if it is there."""
    cp = _require()
    idx = _target(cp, dev)
    if not isinstance(data, (np.ndarray, np.generic)):
        if data.device.id == idx:
            return data
        with cp.cuda.Device(idx):
            return data.copy()  # device to device
    with cp.cuda.Device(idx):
        return cp.asarray(data)


_RANDOM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _random(dev, kind: str, shape: tuple, np_dtype, *args):
    """Random values made on GPU ``dev`` by CuPy's generator: ``kind`` is ``random``,
    ``standard_normal``, ``uniform`` (low, high), ``normal`` (mean, std), ``randint``
    (low, high) or ``permutation``."""
    cp = _require()
    idx = _target(cp, dev)
    np_dtype = np.dtype(np_dtype)
    with cp.cuda.Device(idx):
        rnd = cp.random
        if kind == "permutation":
            return rnd.permutation(shape[0]).astype(np_dtype)
        if kind == "randint":
            return rnd.randint(args[0], args[1], shape, dtype=np.int64).astype(np_dtype, copy=False)
        dt = np_dtype if np_dtype in _RANDOM_DTYPES else np.dtype(np.float64)
        if kind == "random":
            out = rnd.random(shape, dtype=dt)
        elif kind == "standard_normal":
            out = rnd.standard_normal(shape, dtype=dt)
        elif kind == "uniform":
            out = rnd.uniform(args[0], args[1], shape, dtype=dt)
        elif kind == "normal":
            out = rnd.normal(args[0], args[1], shape, dtype=dt)
        else:  # pragma: no cover - internal misuse
            raise ValueError(kind)
        return out if out.dtype == np_dtype else out.astype(np_dtype)
