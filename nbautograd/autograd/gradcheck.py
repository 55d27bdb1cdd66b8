"""Finite-difference checks of analytical gradients (float64 inputs recommended).

>>> import nbautograd as torch
>>> x = torch.tensor([0.3, 0.7], dtype=torch.float64, requires_grad=True)
>>> torch.autograd.gradcheck(torch.sin, (x,))
True
"""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor, wrap


class GradcheckError(RuntimeError):
    """Raised by gradcheck when the analytical and numerical Jacobians differ."""


def _jacobians(func, inputs, eps):
    from . import grad  # noqa: PLC0415
    from .._grad_mode import no_grad  # noqa: PLC0415
    outs = func(*inputs)
    outs = (outs,) if isinstance(outs, Tensor) else tuple(outs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    numerical, analytical = {}, {}
    for oi, out in enumerate(outs):
        n_out = out.numel()
        for ii in diff:
            x = inputs[ii]
            num = np.zeros((x.numel(), n_out))
            flat = x._data.reshape(-1) if isinstance(x._data, np.ndarray) else None
            for k in range(x.numel()):
                with no_grad():
                    orig = x._data.reshape(-1)[k] if flat is not None else x._data
                    vals = []
                    for sign in (1, -1):
                        if flat is not None:
                            flat[k] = orig + sign * eps
                        else:
                            x._data = type(orig)(orig + sign * eps)
                        o = func(*inputs)
                        o = (o,) if isinstance(o, Tensor) else tuple(o)
                        vals.append(np.asarray(o[oi]._data, dtype=np.float64).reshape(-1))
                    if flat is not None:
                        flat[k] = orig
                    else:
                        x._data = orig
                num[k] = (vals[0] - vals[1]) / (2 * eps)
            ana = np.zeros((x.numel(), n_out))
            for j in range(n_out if out.requires_grad else 0):
                e = np.zeros(n_out, dtype=out._data.dtype)
                e[j] = 1
                g = grad(out, x, wrap(e.reshape(out._data.shape)), retain_graph=True,
                         allow_unused=True)[0]
                if g is not None:
                    ana[:, j] = np.asarray(g._data, dtype=np.float64).reshape(-1)
            numerical[(oi, ii)], analytical[(oi, ii)] = num, ana
    return numerical, analytical


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, **_ignored) -> bool:
    """Compare ``func``'s gradients with central finite differences."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    numerical, analytical = _jacobians(func, inputs, eps)
    for (oi, ii), num in numerical.items():
        ana = analytical[(oi, ii)]
        if not np.allclose(ana, num, rtol=rtol, atol=atol):
            if raise_exception:
                raise GradcheckError(f"Jacobian mismatch for output {oi} with respect to input "
                                     f"{ii},\nnumerical:{wrap(num)!r}\nanalytical:{wrap(ana)!r}\n")
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, **_ignored) -> bool:
    """gradcheck applied to the gradient of ``func`` (second derivatives)."""
    from . import grad  # noqa: PLC0415
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    outs = func(*inputs)
    outs = (outs,) if isinstance(outs, Tensor) else tuple(outs)
    if grad_outputs is None:
        # random cotangents that are themselves differentiated, as in torch: the first-order
        # gradients are linear in them, so even a linear op has a second derivative to check
        rng = np.random.default_rng(0)
        grad_outputs = [wrap(rng.standard_normal(o._data.shape).astype(o._data.dtype))
                        for o in outs if o.requires_grad]
        for g in grad_outputs:
            g.requires_grad_(True)
    gos = tuple(grad_outputs)
    n_in = len(inputs)

    def first_grads(*args):
        from .._grad_mode import enable_grad  # noqa: PLC0415
        with enable_grad():  # the numerical pass evaluates under no_grad
            return _first_grads(*args)

    def _first_grads(*args):
        xs, go = args[:n_in], args[n_in:]
        o = func(*xs)
        o = (o,) if isinstance(o, Tensor) else tuple(o)
        o = tuple(t for t in o if t.requires_grad)
        dx = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        gs = grad(o, dx, go, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grads, inputs + gos, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
