"""Anomaly detection: remember where each node was created; name the failing node.

>>> import nbautograd as torch
>>> with torch.autograd.detect_anomaly():  # doctest: +SKIP
...     pass
"""
from __future__ import annotations

import os
import sys
import traceback
import warnings

from .._grad_mode import STATE
from .._node import refresh_slow_flag

_ENABLE_WARNING = ("Anomaly Detection has been enabled. This mode will increase the runtime and "
                   "should only be enabled for debugging.")


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def remember_forward(node) -> None:
    """Keep the user's stack at the moment ``node`` was recorded (our own frames left out, as
    torch's stack holds no frames of its C++ kernels)."""
    stack = [f for f in traceback.extract_stack()
             if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR + os.sep)]
    node._fwd_stack = "".join(traceback.format_list(stack))


def report_failure(node) -> None:
    """Warn with the forward traceback of the node whose backward failed."""
    stack = node._fwd_stack or ""
    warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the "
                  f"error:\n{stack} (Triggered internally at /__w/pytorch/pytorch/torch/csrc/"
                  "autograd/python_anomaly_mode.cpp:122.)", UserWarning, stacklevel=3)


def check_nan(node, grads) -> None:
    if not STATE.anomaly_check_nan:
        return
    import numpy as np  # noqa: PLC0415
    for i, g in enumerate(grads):
        if g is None:
            continue
        d = g._data if hasattr(g, "_data") else g
        from .._backend import to_host  # noqa: PLC0415
        if np.isnan(np.asarray(to_host(d))).any():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                               "output.")


class detect_anomaly:
    """Context manager that enables anomaly detection (forward tracebacks, NaN checks)."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        warnings.warn(_ENABLE_WARNING, UserWarning, stacklevel=2)

    def __enter__(self) -> None:
        self.prev = (STATE.anomaly, STATE.anomaly_check_nan)
        STATE.anomaly, STATE.anomaly_check_nan = True, self.check_nan
        refresh_slow_flag()

    def __exit__(self, *exc) -> None:
        STATE.anomaly, STATE.anomaly_check_nan = self.prev
        refresh_slow_flag()


class set_detect_anomaly:
    """Turn anomaly detection on or off (also usable as a context manager)."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = (STATE.anomaly, STATE.anomaly_check_nan)
        STATE.anomaly, STATE.anomaly_check_nan = bool(mode), check_nan
        refresh_slow_flag()

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        STATE.anomaly, STATE.anomaly_check_nan = self.prev
        refresh_slow_flag()


def is_anomaly_enabled() -> bool:
    return STATE.anomaly


_ = sys
