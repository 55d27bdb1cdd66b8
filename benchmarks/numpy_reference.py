"""Hand-written NumPy forward and backward passes for the seven workloads.

This is the "numpy" engine of the benchmark: the same math as each workload
with the backward pass written out by hand -- no tape, no graph objects, no
per-op bookkeeping.  It is the floor an engine built on NumPy can approach, so
every other engine's time is also reported as a multiple of it.

Every function works in the dtype of its inputs: fed float32 it is the timed
baseline, fed float64 it is the correctness reference for all engines.
"""

import numpy as np


# --------------------------------------------------------------- W1, W2, W7
# The chain: h <- h + sin(h * w) ** 2, four ops (mul, sin, pow, add) per cycle.
def chain_forward(x, w, cycles):
    """Forward pass of the chain; returns h and the values the backward needs."""
    saved = []
    h = x
    for _ in range(cycles):
        u = h * w
        s = np.sin(u)
        saved.append((h, u, s))
        h = h + s**2
    return h, saved


def chain_backward(gh, w, saved):
    """Backward pass of the chain from d(out)/dh = gh; returns (dx, dw)."""
    gw = np.zeros_like(w)
    for h, u, s in reversed(saved):
        gu = gh * 2 * s * np.cos(u)  # d sin(u)**2 / du = 2 sin(u) cos(u)
        gw = gw + gu * h
        gh = gh + gu * w
    return gh, gw


def chain(x, w, cycles, reduce_sum=False):
    """W1 (0-d) / W2 (vector, then sum): value, dx, dw."""
    h, saved = chain_forward(x, w, cycles)
    out = np.sum(h) if reduce_sum else h
    gx, gw = chain_backward(np.ones_like(h), w, saved)
    return out, gx, gw


def repeated_backward(x, w, cycles, k):
    """W7: one forward, k backward passes accumulated into (dx, dw)."""
    h, saved = chain_forward(x, w, cycles)
    one = np.ones_like(h)
    ax, aw = np.zeros_like(x), np.zeros_like(w)
    for _ in range(k):
        gx, gw = chain_backward(one, w, saved)
        ax = ax + gx
        aw = aw + gw
    return h, ax, aw


# ----------------------------------------------------------------------- W3
def elementwise(x, y):
    """W3: f = sum(sin(x) * exp(y) + x**2); returns f, df/dx, df/dy."""
    e = np.exp(y)
    p = np.sin(x) * e
    f = np.sum(p + x**2)
    gx = np.cos(x)
    gx *= e
    gx += 2 * x
    return f, gx, p  # df/dy = sin(x) * exp(y) = p


# ----------------------------------------------------------------------- W4
def mlp_step(params, X, Y, lr):
    """W4: tanh MLP, mean softmax cross-entropy over one-hot Y, SGD in place.

    Returns (loss, grads, params) with params updated in place.
    """
    W1, b1, W2, b2 = params
    z1 = X @ W1
    z1 += b1
    h = np.tanh(z1)
    z = h @ W2
    z += b2
    zs = z - z.max(axis=1, keepdims=True)
    ez = np.exp(zs)
    se = ez.sum(axis=1, keepdims=True)
    logp = zs - np.log(se)
    loss = -np.mean(np.sum(Y * logp, axis=1))
    dz = ez / se  # softmax
    dz -= Y
    dz *= 1.0 / X.shape[0]
    dW2 = h.T @ dz
    db2 = dz.sum(axis=0)
    dz1 = dz @ W2.T
    dz1 *= 1 - h * h
    dW1 = X.T @ dz1
    db1 = dz1.sum(axis=0)
    grads = (dW1, db1, dW2, db2)
    for p, g in zip(params, grads):
        p -= lr * g
    return loss, grads, params


# ----------------------------------------------------------------------- W5
def jacobian_rows(A, x, onehots):
    """W5: rows of the Jacobian of tanh(A @ x) * x, one hand-written VJP per row.

    VJP with v:  v * t + A.T @ (v * x * (1 - t**2)),  t = tanh(A @ x).
    """
    t = np.tanh(A @ x)
    c = x * (1 - t * t)
    At = A.T
    return [v * t + At @ (v * c) for v in onehots]


def jacobian_closed_form(A, x):
    """W5 vectorized: the whole Jacobian at once, diag(t) + (x * (1 - t**2))[:, None] * A."""
    t = np.tanh(A @ x)
    J = (x * (1 - t * t))[:, None] * A
    J[np.diag_indices_from(J)] += t
    return J


# ----------------------------------------------------------------------- W6
def derivatives4(x):
    """W6: the first four derivatives of x**2 + x**3 + x**5 + sin(x), closed form."""
    s, c = np.sin(x), np.cos(x)
    x2 = x * x
    d1 = 2 * x + 3 * x2 + 5 * x2 * x2 + c
    d2 = 2 + 6 * x + 20 * x2 * x - s
    d3 = 6 + 60 * x2 - c
    d4 = 120 * x + s
    return d1, d2, d3, d4
