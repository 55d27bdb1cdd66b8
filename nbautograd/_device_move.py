"""Moving arrays between devices (NumPy <-> CuPy)."""
from __future__ import annotations

from ._device import device


def move(data, dev):
    """``data`` on device ``dev`` (a copy when the device changes)."""
    dev = device(dev)
    from ._backend import to_host  # noqa: PLC0415
    if dev.type == "cpu":
        return to_host(data)
    from . import cuda  # noqa: PLC0415
    return cuda._to_device(data, dev)
