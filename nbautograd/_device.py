"""torch.device: where a tensor's memory lives (``cpu`` or ``cuda:N``).

>>> import nbautograd as torch
>>> torch.device("cpu"), str(torch.device("cuda", 0))
(device(type='cpu'), 'cuda:0')
"""
from __future__ import annotations

import numpy as np


class device:
    """A device type with an optional index, compared equal to its string form."""

    __slots__ = ("type", "index")

    def __init__(self, type, index: int | None = None) -> None:  # noqa: A002 (torch's name)
        if isinstance(type, device):
            type, index = type.type, type.index
        elif isinstance(type, int):
            type, index = "cuda", type
        elif ":" in type:
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        if type not in ("cpu", "cuda", "meta"):
            raise RuntimeError(
                "Expected one of cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, "
                "fpga, maia, xla, lazy, vulkan, mps, meta, hpu, mtia, privateuseone device type "
                f"at start of device string: {type}")
        self.type, self.index = type, index

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        # torch 2.13: a device never equals a string (torch.device("cpu") == "cpu" is False)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")
_CUDA = {}  # index -> device("cuda", index): Tensor.device is asked often


def device_of(data) -> device:
    """The device of an array: CPU for NumPy, ``cuda:N`` for CuPy (or a registered stand-in)."""
    if isinstance(data, (np.ndarray, np.generic)):
        return CPU
    idx = data.device.id
    d = _CUDA.get(idx)
    if d is None:
        d = _CUDA[idx] = device("cuda", idx)
    return d


def mixed_devices_error(devices) -> RuntimeError:
    """torch's text (TensorIterator) for an elementwise op whose operands live on two devices:
    the common device is the first non-CPU one, then the first device that differs from it."""
    devices = list(devices)
    common = next((d for d in devices if d.type != "cpu"), devices[0])
    other = next(d for d in devices if d != common)
    return RuntimeError("Expected all tensors to be on the same device, but found at least two "
                        f"devices, {common} and {other}!")


def argument_device_error(arg: str, dev: device, common: device, method: str) -> RuntimeError:
    """torch's text when a kernel's generated wrapper finds an argument on another device
    (``c10::impl::common_device_check_failure``)."""
    return RuntimeError(f"Expected all tensors to be on the same device, but got {arg} is on "
                        f"{dev}, different from other tensors on {common} (when checking "
                        f"argument in method {method})")
