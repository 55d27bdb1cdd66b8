"""torch.accelerator: the device-agnostic way newer tutorials pick a device.

>>> import nbautograd as torch
>>> device = torch.accelerator.current_accelerator().type \\
...     if torch.accelerator.is_available() else "cpu"
"""
from __future__ import annotations

from . import cuda
from ._device import device


def is_available() -> bool:
    """True when an accelerator (a CUDA GPU through CuPy) can be used."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False):
    """``device(type='cuda')`` when a GPU can be used, else None (as torch on a CPU build)."""
    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()
