"""The seven benchmark workloads, W1-W7.

Each workload is written twice:

* ``tape(T, d)`` -- ordinary PyTorch-style user code against a module ``T``,
  which is either ``torch`` or ``nbautograd``; the same lines run on both.
* ``numpy(d)`` -- the hand-written NumPy forward+backward of
  ``numpy_reference``; fed float64 data it is the correctness reference.

Both return a zero-argument ``run()`` doing one timed iteration.  Leaves,
constants and one-hot vectors are created once, outside ``run()``.  The first
result of ``run()`` goes through ``extract()``, which turns it into a dict of
NumPy arrays to compare against the reference.

The torch API the tape code uses: ``T.tensor(ndarray, requires_grad=True)``,
``T.sin/exp/tanh``, ``T.log_softmax(z, dim=-1)``, ``T.no_grad()``,
``T.autograd.grad(y, x, create_graph=True)``, the operators ``* + ** @`` and
unary ``-``, ``p -= ...`` under no_grad, ``.sum()``, ``.sum(dim=1)``,
``.mean()``, ``.backward()``, ``.backward(gradient, retain_graph=True)``,
``.grad`` (set to None to clear) and ``.detach().numpy()``.
"""

import numpy as np

import numpy_reference as ref

F32 = np.float32


def to_numpy(t):
    """A NumPy copy of a tensor (torch-style ``.detach().numpy()``) or array."""
    if hasattr(t, "detach"):
        t = t.detach()
    if hasattr(t, "numpy"):
        t = t.numpy()
    return np.array(t, copy=True)


def chain(T, x, w, cycles):
    """h <- h + sin(h*w)**2, repeated: 4 ops (mul, sin, pow, add) per cycle."""
    h = x
    for _ in range(cycles):
        t = h * w
        t = T.sin(t)
        t = t**2
        h = h + t
    return h


class Workload:
    """One benchmark case: data, a tape version, a NumPy version, a check."""

    id = ""  # 'W1', or 'W5 n=64'
    family = ""  # 'W1' ... 'W7' (what --workloads selects)
    title = ""
    per = None  # (count, unit): also report the time per unit
    tol = 1e-4  # max|err| / max|ref| for every checked array
    seed = 0
    keys = ()  # names of the arrays run() returns, for the default extract()

    def data(self, rng):
        """Input arrays, float32."""
        raise NotImplementedError

    def tape(self, T, d):
        raise NotImplementedError

    def numpy(self, d):
        raise NotImplementedError

    def extract(self, result):
        """One result of run() as a dict of NumPy arrays."""
        return {k: to_numpy(v) for k, v in zip(self.keys, result)}


class ScalarChain(Workload):
    id = family = "W1"
    title = "scalar chain: 0-d float32, 100 ops (25x mul, sin, pow, add), fwd+bwd"
    per = (100, "op")
    seed = 1
    cycles = 25
    keys = ("value", "dx", "dw")

    def data(self, rng):
        return {"x": np.array(0.3, F32), "w": np.array(0.7, F32)}

    def tape(self, T, d):
        x = T.tensor(d["x"], requires_grad=True)
        w = T.tensor(d["w"], requires_grad=True)
        cycles = self.cycles

        def run():
            x.grad = None
            w.grad = None
            h = chain(T, x, w, cycles)
            h.backward()
            return h, x.grad, w.grad

        return run

    def numpy(self, d):
        x, w, cycles = d["x"], d["w"], self.cycles
        return lambda: ref.chain(x, w, cycles)


class SmallTensorChain(ScalarChain):
    id = family = "W2"
    title = "small tensors: float32[16], the same 100-op chain, then sum, fwd+bwd"
    per = (101, "op")
    seed = 2

    def data(self, rng):
        return {"x": rng.uniform(0.1, 0.9, 16).astype(F32),
                "w": rng.uniform(0.3, 1.0, 16).astype(F32)}

    def tape(self, T, d):
        x = T.tensor(d["x"], requires_grad=True)
        w = T.tensor(d["w"], requires_grad=True)
        cycles = self.cycles

        def run():
            x.grad = None
            w.grad = None
            out = chain(T, x, w, cycles).sum()
            out.backward()
            return out, x.grad, w.grad

        return run

    def numpy(self, d):
        x, w, cycles = d["x"], d["w"], self.cycles
        return lambda: ref.chain(x, w, cycles, reduce_sum=True)


class LargeElementwise(Workload):
    id = family = "W3"
    title = "large elementwise: float32[1e6], f = sum(sin(x)*exp(y) + x**2), fwd+bwd"
    seed = 3
    n = 1_000_000
    keys = ("value", "dx", "dy")

    def data(self, rng):
        return {"x": rng.uniform(-1, 1, self.n).astype(F32),
                "y": rng.uniform(-1, 1, self.n).astype(F32)}

    def tape(self, T, d):
        x = T.tensor(d["x"], requires_grad=True)
        y = T.tensor(d["y"], requires_grad=True)

        def run():
            x.grad = None
            y.grad = None
            f = (T.sin(x) * T.exp(y) + x**2).sum()
            f.backward()
            return f, x.grad, y.grad

        return run

    def numpy(self, d):
        x, y = d["x"], d["y"]
        return lambda: ref.elementwise(x, y)


class MLPStep(Workload):
    id = family = "W4"
    title = ("MLP step: batch 64, 784-256-10, tanh, log_softmax cross-entropy (mean), "
             "fwd+bwd+SGD (lr 0.05)")
    seed = 4
    lr = 0.05
    names = ("W1", "b1", "W2", "b2")

    def data(self, rng):
        B, I, H, O = 64, 784, 256, 10
        return {
            "X": rng.normal(size=(B, I)).astype(F32),
            "Y": np.eye(O, dtype=F32)[rng.integers(0, O, B)],
            "params": [
                (rng.uniform(-1, 1, (I, H)) / np.sqrt(I)).astype(F32),
                rng.uniform(-0.1, 0.1, H).astype(F32),
                (rng.uniform(-1, 1, (H, O)) / np.sqrt(H)).astype(F32),
                rng.uniform(-0.1, 0.1, O).astype(F32),
            ],
        }

    def tape(self, T, d):
        X, Y = T.tensor(d["X"]), T.tensor(d["Y"])
        params = [T.tensor(p, requires_grad=True) for p in d["params"]]
        W1, b1, W2, b2 = params
        lr = self.lr

        def run():
            h = T.tanh(X @ W1 + b1)
            z = h @ W2 + b2
            loss = -(Y * T.log_softmax(z, dim=-1)).sum(dim=1).mean()
            loss.backward()
            grads = [p.grad for p in params]
            with T.no_grad():
                for p in params:
                    p -= lr * p.grad
            for p in params:
                p.grad = None
            return loss, grads, params

        return run

    def numpy(self, d):
        X, Y, params, lr = d["X"], d["Y"], d["params"], self.lr
        return lambda: ref.mlp_step(params, X, Y, lr)

    def extract(self, result):
        loss, grads, params = result
        out = {"loss": to_numpy(loss)}
        for name, g, p in zip(self.names, grads, params):
            out["d" + name] = to_numpy(g)
            out[name + " after step"] = to_numpy(p)
        return out


class JacobianRows(Workload):
    family = "W5"
    seed = 5

    def __init__(self, n):
        self.n = n
        self.id = f"W5 n={n}"
        self.title = (f"Jacobian rows of tanh(A@x)*x, n={n}: one forward, n backward "
                      "passes with one-hot gradients, retain_graph")
        self.per = (n, "row")

    def data(self, rng):
        n = self.n
        return {"A": (rng.normal(size=(n, n)) / np.sqrt(n)).astype(F32),
                "x": rng.uniform(-1, 1, n).astype(F32),
                "eye": list(np.eye(n, dtype=F32))}

    def tape(self, T, d):
        A = T.tensor(d["A"])
        x = T.tensor(d["x"], requires_grad=True)
        eye = [T.tensor(e) for e in d["eye"]]

        def run():
            x.grad = None
            y = T.tanh(A @ x) * x
            rows = []
            for e in eye:
                y.backward(e, retain_graph=True)
                rows.append(x.grad)
                x.grad = None
            return rows

        return run

    def numpy(self, d):
        A, x, eye = d["A"], d["x"], d["eye"]
        return lambda: ref.jacobian_rows(A, x, eye)

    def extract(self, result):
        return {"J": np.stack([to_numpy(r) for r in result])}


class VectorizedJacobian(Workload):
    family = "W5v"
    seed = 5

    def __init__(self, n):
        self.n = n
        self.id = f"W5 n={n} vectorized"
        self.title = (f"vectorized Jacobian of tanh(A@x)*x, n={n}: "
                      "autograd.functional.jacobian(vectorize=True); numpy: the closed form")
        self.per = (n, "row")

    def data(self, rng):
        n = self.n
        return {"A": (rng.normal(size=(n, n)) / np.sqrt(n)).astype(F32),
                "x": rng.uniform(-1, 1, n).astype(F32)}

    def tape(self, T, d):
        A = T.tensor(d["A"])
        x = T.tensor(d["x"])
        jacobian = T.autograd.functional.jacobian

        def f(x):
            return T.tanh(A @ x) * x

        return lambda: jacobian(f, x, vectorize=True)

    def numpy(self, d):
        A, x = d["A"], d["x"]
        return lambda: ref.jacobian_closed_form(A, x)

    def extract(self, result):
        return {"J": to_numpy(result)}


class FourDerivatives(Workload):
    id = family = "W6"
    title = ("higher order: d1..d4 of x**2+x**3+x**5+sin(x) at x=0.7 (0-d), "
             "repeated autograd.grad(create_graph=True)")
    per = (4, "derivative")
    seed = 6
    keys = ("d1", "d2", "d3", "d4")

    def data(self, rng):
        return {"x": np.array(0.7, F32)}

    def tape(self, T, d):
        x = T.tensor(d["x"], requires_grad=True)
        grad = T.autograd.grad

        def run():
            g = x**2 + x**3 + x**5 + T.sin(x)
            ds = []
            for _ in range(4):
                (g,) = grad(g, x, create_graph=True)
                ds.append(g)
            return ds

        return run

    def numpy(self, d):
        x = d["x"]
        return lambda: ref.derivatives4(x)


class RepeatedBackward(Workload):
    id = family = "W7"
    title = "repeated backward: 20-op 0-d chain, one forward, 1,000x backward(retain_graph=True)"
    per = (1000, "backward")
    tol = 1e-3  # 1,000 float32 accumulations
    seed = 7
    cycles = 5
    k = 1000
    keys = ("value", "dx", "dw")

    def data(self, rng):
        return {"x": np.array(0.3, F32), "w": np.array(0.7, F32)}

    def tape(self, T, d):
        x = T.tensor(d["x"], requires_grad=True)
        w = T.tensor(d["w"], requires_grad=True)
        cycles, k = self.cycles, self.k

        def run():
            x.grad = None
            w.grad = None
            h = chain(T, x, w, cycles)
            for _ in range(k):
                h.backward(retain_graph=True)
            return h, x.grad, w.grad

        return run

    def numpy(self, d):
        x, w, cycles, k = d["x"], d["w"], self.cycles, self.k
        return lambda: ref.repeated_backward(x, w, cycles, k)


def all_workloads():
    """W1..W7 in order (W5 twice: n=64 and n=512)."""
    return [ScalarChain(), SmallTensorChain(), LargeElementwise(), MLPStep(),
            JacobianRows(64), JacobianRows(512), VectorizedJacobian(512), FourDerivatives(),
            RepeatedBackward()]
