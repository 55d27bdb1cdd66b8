"""Moving arrays between devices (NumPy <-> CuPy)."""
from __future__ import annotations

import numpy as np

from ._device import device


def move(data, dev):
    """``data`` on device ``dev``: the same array when it is already there, else a copy.
    0-d values brought to the CPU become NumPy scalars, as every 0-d CPU value is."""
    dev = device(dev)
    if dev.type == "cpu":
        if isinstance(data, (np.ndarray, np.generic)):
            return data
        out = data.get()
        return out[()] if out.ndim == 0 else out
    if dev.type != "cuda":
        raise RuntimeError(f"nbautograd has no '{dev.type}' device: only 'cpu' and 'cuda'")
    from . import cuda  # noqa: PLC0415
    return cuda._to_device(data, dev)


def same_place(data, like):
    """``data`` moved (without autograd) to the device holding array ``like``."""
    if isinstance(like, (np.ndarray, np.generic)):
        return move(data, "cpu")
    from ._device import device_of  # noqa: PLC0415
    return move(data, device_of(like))
