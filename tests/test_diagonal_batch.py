"""jacobian(vectorize=True) keeps the identity's structure (``DiagonalBatch``) through the rules
that allow it. The result must be the dense batched pass's, bit for bit (signed zeros, nan and
inf included), for every op case, and torch's within rounding."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
import nbautograd as nb  # noqa: E402
from nbautograd._diagonal import DiagonalBatch  # noqa: E402
from oracle import flatten_outputs, make_inputs, materialize, to_np  # noqa: E402
from test_functional import _cases  # noqa: E402


def _same_bits(a, b):
    """Equal values, nan where nan, and the same sign on zeros."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    assert np.array_equal(a, b, equal_nan=True), (a, b)
    assert np.array_equal(np.signbit(a), np.signbit(b)), (a, b)


def _dense_jacobian(out, inputs):
    """The Jacobian by a dense identity batch (the path DiagonalBatch must reproduce)."""
    eye = nb.eye(out.numel(), dtype=out.dtype)
    rows = nb.autograd.grad(out.reshape(-1), inputs, eye, retain_graph=True, allow_unused=True,
                            is_grads_batched=True)
    return [None if r is None else to_np(r).reshape(tuple(out.shape) + tuple(i.shape))
            for r, i in zip(rows, inputs)]


def _structured_jacobian(fn, inputs):
    jac = nb.autograd.functional.jacobian(fn, tuple(inputs), vectorize=True)
    return [to_np(j) for j in jac]


@pytest.mark.parametrize("fn,specs", _cases())
def test_every_op_case_equals_the_dense_batch(fn, specs):
    arrays, rg = materialize(specs, "float64", seed=3)
    ins = make_inputs(nb, arrays, rg)
    diff = [x for x, r in zip(ins, rg) if r]
    out = flatten_outputs(nb, fn(nb, *ins))[0]
    if not diff or not out.requires_grad:
        pytest.skip("nothing differentiable")

    def f(*xs):
        it = iter(xs)
        args = [next(it) if r else x for x, r in zip(ins, rg)]
        return flatten_outputs(nb, fn(nb, *args))[0]

    dense = _dense_jacobian(out, diff)
    structured = _structured_jacobian(f, [x.detach() for x in diff])
    for d, s in zip(dense, structured):
        if d is None:
            assert not s.any()
        else:
            _same_bits(s, d)


SPECIAL = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan, 1e-300])

FUNCS = {
    "mul_neg_const": lambda m, x, c: x * -2,
    "mul_tensor": lambda m, x, c: x * c,
    "div_tensor": lambda m, x, c: x / c,
    "rdiv": lambda m, x, c: c / x,
    "chain": lambda m, x, c: m.tanh(x * c) * x - m.sin(x) / 3,
    "sub_rsub": lambda m, x, c: 1 - x - c * x,
    "pow_exp": lambda m, x, c: (x ** 2).exp() + x.abs(),
    "where_clamp": lambda m, x, c: m.where(x > 0, x * c, -x).clamp(-1, 1),
    "reshape_view": lambda m, x, c: (x * c).reshape(2, 4).t().reshape(-1) * x,
    "broadcast_param": lambda m, x, c: x.reshape(2, 4) * c.reshape(2, 4)[:1],
    "matvec": lambda m, x, c: m.tanh(c.reshape(8, 1) * m.ones(8, 8, dtype=x.dtype) @ x) * x,
}


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_special_values_bit_for_bit_and_as_torch(name, dtype):
    fn = FUNCS[name]
    x0 = np.linspace(-1.5, 2.0, 8).astype(dtype)
    c0 = SPECIAL.astype(dtype)
    x = nb.tensor(x0, requires_grad=True)
    c = nb.tensor(c0)
    dense = _dense_jacobian(fn(nb, x, c), [x])[0]
    structured = _structured_jacobian(lambda x: fn(nb, x, c), [x.detach()])[0]
    _same_bits(structured, dense)
    expected = torch.autograd.functional.jacobian(
        lambda x: fn(torch, x, torch.tensor(c0)), torch.tensor(x0), vectorize=True).numpy()
    np.testing.assert_allclose(structured, expected, rtol=2e-6 if dtype == "float32" else 1e-12,
                               atol=0, equal_nan=True)


@pytest.mark.parametrize("fill", [0.0, np.inf, np.nan])
def test_matrix_vector_product_keeps_blas_results(fill):
    # a matrix with inf/nan must give the GEMM's nan (0 * inf) entries: the closed form is off
    rng = np.random.default_rng(1)
    A = rng.standard_normal((5, 6))
    A[2, 3] = fill
    At = nb.tensor(A)
    x = nb.tensor(rng.standard_normal(6), requires_grad=True)
    f = lambda x: nb.tanh(At @ x) * 2  # noqa: E731
    dense = _dense_jacobian(f(x), [x])[0]
    _same_bits(_structured_jacobian(f, [x.detach()])[0], dense)


def test_hooks_and_recorders_see_arrays():
    seen = []
    x = nb.tensor([1.0, -2.0, 3.0])

    def f(x):
        y = x * 2
        y.register_hook(lambda g: seen.append((type(g).__name__, tuple(g.shape))))
        return y.sin()
    jac = nb.autograd.functional.jacobian(f, x, vectorize=True)
    assert seen == [("Tensor", (3, 3))]
    np.testing.assert_allclose(to_np(jac), np.diag(2 * np.cos(2 * to_np(x))), rtol=1e-6)
    from nbautograd.recording import Recording
    with Recording() as rec:
        jac2 = nb.autograd.functional.jacobian(lambda x: (x * 2).sin(), x, vectorize=True)
    _same_bits(to_np(jac2), to_np(jac))
    assert rec.ops  # the pass was taped; its gradients are arrays the recorder can hold


def test_hessian_vectorized_as_torch():
    def run(m):
        x = m.tensor([0.3, -1.2, 2.0], dtype=m.float64)
        A = m.tensor([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0], [0.0, 1.0, 1.0]], dtype=m.float64)
        return m.autograd.functional.hessian(lambda x: (m.tanh(A @ x) * x).sum(), x,
                                             vectorize=True)
    np.testing.assert_allclose(to_np(run(nb)), run(torch).numpy(), rtol=1e-12, atol=1e-14)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["mul", "div", "add", "neg", "tanh", "exp", "abs", "sq"]),
                min_size=1, max_size=6),
       st.lists(st.sampled_from([0.0, -0.0, 0.5, -3.0, np.inf, np.nan, 1e30]), min_size=4,
                max_size=4))
def test_generated_elementwise_chains(ops, consts):
    c = nb.tensor(np.array(consts, dtype="float32"))

    def f(x):
        y = x
        for o in ops:
            y = {"mul": lambda y: y * c, "div": lambda y: y / c, "add": lambda y: y + c * x,
                 "neg": lambda y: -y, "tanh": nb.tanh, "exp": nb.exp, "abs": nb.abs,
                 "sq": lambda y: y * y}[o](y)
        return y
    x = nb.tensor(np.array([0.25, -1.0, 0.0, 2.0], dtype="float32"), requires_grad=True)
    dense = _dense_jacobian(f(x), [x])[0]
    _same_bits(_structured_jacobian(f, [x.detach()])[0], dense)


def test_diagonal_batch_as_an_array():
    g = DiagonalBatch.identity((2, 2), np.dtype("float64")) * np.array([1.0, -2.0])
    dense = np.asarray(g)
    _same_bits(dense, np.eye(4).reshape(4, 2, 2) * np.array([1.0, -2.0]))
    _same_bits(np.asarray(-g + 1), -dense + 1)
    _same_bits(g.sum(axis=0), dense.sum(axis=0))  # other methods act on the dense batch
    _same_bits(g[1], dense[1])
    _same_bits(np.asarray(g.reshape(4, 4)), dense.reshape(4, 4))
    assert type(g.reshape(4, 4)) is DiagonalBatch and type(g * dense) is np.ndarray
    _same_bits(g * dense, dense * dense)
    _same_bits(np.exp(g), np.exp(dense))
    out = np.empty_like(dense)
    np.multiply(g, 2, out=out)
    _same_bits(out, dense * 2)


def test_structure_survives_elementwise_rules_and_matrix_vector_products(monkeypatch):
    # the closed-form path: no dense n x n batch is ever made for tanh(A @ x) * x
    def no_dense(self):
        raise AssertionError("the identity batch was materialized")
    rng = np.random.default_rng(2)
    A = nb.tensor(rng.standard_normal((6, 6)))
    x = nb.tensor(rng.standard_normal(6))
    expected = to_np(nb.autograd.functional.jacobian(lambda x: nb.tanh(A @ x) * x, x))
    monkeypatch.setattr(DiagonalBatch, "dense", no_dense)
    jac = nb.autograd.functional.jacobian(lambda x: nb.tanh(A @ x) * x - x / 2, x,
                                          vectorize=True)
    np.testing.assert_allclose(to_np(jac), expected - np.eye(6) / 2, rtol=1e-12, atol=1e-15)
