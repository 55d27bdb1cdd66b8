"""``python -m nbautograd``: a short tour of the engine, printed exactly as PyTorch prints it."""
from __future__ import annotations

import nbautograd as torch


def tour() -> list[str]:
    """The lines of the tour (each an expression and what it evaluates to)."""
    lines = []
    x = torch.tensor(5.0, requires_grad=True)
    y = x ** 2
    lines += [f">>> x = torch.tensor(5.0, requires_grad=True)", repr(x)]
    lines += [">>> y = x ** 2", repr(y)]
    y.backward()
    lines += [">>> y.backward(); x.grad", repr(x.grad)]
    v = torch.tensor([5.0, 4.0, 3.0], requires_grad=True)
    f = v ** 2
    lines += [">>> v = torch.tensor([5., 4., 3.], requires_grad=True); f = v ** 2", repr(f)]
    try:
        f.backward()
    except RuntimeError as e:
        lines += [">>> f.backward()", f"RuntimeError: {e}"]
    f.backward(torch.ones(3))
    lines += [">>> f.backward(torch.ones(3)); v.grad", repr(v.grad)]
    z = torch.tensor(2.0, requires_grad=True)
    (g,) = torch.autograd.grad(z ** 3, z, create_graph=True)
    (h,) = torch.autograd.grad(g, z)
    lines += [">>> torch.autograd.grad(z ** 3, z, create_graph=True)  # z = 2", repr((g,))]
    lines += [">>> torch.autograd.grad(g, z)", repr((h,))]
    return lines


if __name__ == "__main__":
    print("\n".join(tour()))
