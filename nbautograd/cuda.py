"""torch.cuda: GPU availability and device moves, backed by CuPy (imported lazily).

>>> import nbautograd as torch
>>> isinstance(torch.cuda.is_available(), bool)
True
"""
from __future__ import annotations

_STATE: dict = {}


def _cupy():
    """CuPy when it imports and sees a GPU; None otherwise (the reason is kept)."""
    if "cupy" not in _STATE:
        try:
            import cupy  # noqa: PLC0415
            n = cupy.cuda.runtime.getDeviceCount()
            _STATE["cupy"] = cupy if n > 0 else None
            _STATE["why"] = "no CUDA GPU is visible to CuPy" if n == 0 else ""
        except ImportError:
            _STATE["cupy"] = None
            _STATE["why"] = ("CuPy is not installed (pip install 'nbautograd[cuda]' on a machine "
                             "with an NVIDIA GPU)")
        except Exception as e:  # noqa: BLE001 - any driver/runtime failure means "no GPU"
            _STATE["cupy"] = None
            _STATE["why"] = f"CuPy could not reach a GPU ({type(e).__name__}: {e})"
    return _STATE["cupy"]


def is_available() -> bool:
    """True when CUDA tensors can be made (CuPy installed and a GPU visible)."""
    return _cupy() is not None


def device_count() -> int:
    cp = _cupy()
    return 0 if cp is None else cp.cuda.runtime.getDeviceCount()


def current_device() -> int:
    cp = _require()
    return cp.cuda.Device().id


def synchronize(device=None) -> None:
    cp = _require()
    cp.cuda.Stream.null.synchronize()


def manual_seed(seed: int) -> None:
    cp = _cupy()
    if cp is not None:
        cp.random.seed(seed)


manual_seed_all = manual_seed


def _require():
    cp = _cupy()
    if cp is None:
        # torch's type and text, then why: a user should know what to install or check
        raise AssertionError(f"Torch not compiled with CUDA enabled (nbautograd: {_STATE['why']})")
    return cp


def _to_device(data, dev):
    cp = _require()
    idx = dev.index or 0
    if idx >= cp.cuda.runtime.getDeviceCount():
        raise RuntimeError("CUDA error: invalid device ordinal")
    with cp.cuda.Device(idx):
        return cp.asarray(data)
