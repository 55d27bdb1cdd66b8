"""Grad-mode switches (no_grad, enable_grad, set_grad_enabled, inference_mode), per thread.

>>> import nbautograd as torch
>>> x = torch.tensor(1., requires_grad=True)
>>> with torch.no_grad():
...     (x * 2).requires_grad
False
"""
from __future__ import annotations

import functools
import threading


class _State(threading.local):
    # threading.local re-runs __init__ in each new thread: every thread starts with grad enabled
    def __init__(self) -> None:
        self.enabled = True
        self.inference = False
        self.anomaly = False
        self.anomaly_check_nan = True


STATE = _State()


def is_grad_enabled() -> bool:
    """True when operations are being recorded for autograd in this thread."""
    return STATE.enabled


def is_inference_mode_enabled() -> bool:
    return STATE.inference


class _Mode:
    """Base of the grad-mode context managers; each also works as a decorator."""

    def __call__(self, fn):
        if isinstance(fn, type):
            raise TypeError("grad-mode decorators apply to functions, not classes")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)

        return wrapper

    def clone(self):
        return self.__class__()

    def __exit__(self, *exc) -> None:
        STATE.enabled, STATE.inference = self._prev


class no_grad(_Mode):
    """Context manager / decorator that stops recording operations.

    >>> import nbautograd as torch
    >>> with torch.no_grad():
    ...     torch.is_grad_enabled()
    False
    """

    def __init__(self, orig_func=None) -> None:
        self._orig = orig_func

    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if callable(orig_func):  # bare @torch.no_grad without parentheses is not torch API,
            self.__init__()      # but torch.no_grad()(fn) is; both work here
            return self(orig_func)
        return self

    def __enter__(self) -> None:
        self._prev = (STATE.enabled, STATE.inference)
        STATE.enabled = False


class enable_grad(_Mode):
    """Context manager / decorator that turns recording back on inside ``no_grad``."""

    def __enter__(self) -> None:
        self._prev = (STATE.enabled, STATE.inference)
        STATE.enabled = True


class set_grad_enabled(_Mode):
    """Set grad mode on or off; usable as a function, a context manager or a decorator.

    >>> import nbautograd as torch
    >>> _ = torch.set_grad_enabled(False); torch.is_grad_enabled()
    False
    >>> _ = torch.set_grad_enabled(True)
    """

    def __init__(self, mode: bool) -> None:
        self._prev = (STATE.enabled, STATE.inference)
        self.mode = bool(mode)
        STATE.enabled = self.mode  # takes effect immediately, as torch's does

    def clone(self):
        return set_grad_enabled(self.mode)

    def __call__(self, fn):
        STATE.enabled = self._prev[0]  # as a decorator it must not switch the mode now
        return super().__call__(fn)

    def __enter__(self) -> None:
        pass


class inference_mode(_Mode):
    """Like no_grad; tensors made inside are inference tensors that autograd refuses to save."""

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode):  # bare @torch.inference_mode
            self.__init__(True)
            return self(mode)
        return self

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)

    def clone(self):
        return inference_mode(self.mode)

    def __enter__(self) -> None:
        self._prev = (STATE.enabled, STATE.inference)
        if self.mode:
            STATE.enabled, STATE.inference = False, True
