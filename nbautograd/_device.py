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


def device_of(data) -> device:
    """The device of an array: CPU for NumPy, ``cuda:N`` for CuPy."""
    if isinstance(data, (np.ndarray, np.generic)):
        return CPU
    return device("cuda", data.device.id)
