"""autograd.functional and batched gradients against PyTorch: vjp, jvp, jacobian (looped and
vectorized), hessian, vhp, hvp with tuple inputs/outputs; ``is_grads_batched`` (one backward
pass for a batch of cotangents) equal to the looped result for every op case; gradgradcheck
over the smooth ops."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import nbautograd as nb  # noqa: E402
from oracle import A, flatten_outputs, make_inputs, materialize, to_np  # noqa: E402
from test_ops_vs_torch import BINARY, FIXED, SMOOTH_REDUCE, UNARY  # noqa: E402

F64 = "float64"


def _cases():
    out = [pytest.param(c.fn, c.specs, id=c.id) for c in FIXED]
    out += [pytest.param(u.fn, [A((3, 4), u.lo, u.hi, nonzero_min=u.nonzero_min)], id=u.id)
            for u in UNARY]
    out += [pytest.param(b.fn, [A((2, 3), b.a[0], b.a[1], nonzero_min=b.a[2]),
                                A((3,), b.b[0], b.b[1], nonzero_min=b.b[2])], id=b.id)
            for b in BINARY]
    return out


@pytest.mark.parametrize("fn,specs", _cases())
def test_batched_cotangents_equal_looped(fn, specs):
    arrays, rg = materialize(specs, F64, seed=5)
    ins = make_inputs(nb, arrays, rg)
    out = flatten_outputs(nb, fn(nb, *ins))[0]
    diff = [x for x, r in zip(ins, rg) if r]
    if not diff or not out.requires_grad:
        pytest.skip("nothing differentiable")
    rng = np.random.default_rng(0)
    cot = rng.standard_normal((3,) + tuple(out.shape))
    batched = nb.autograd.grad(out, diff, nb.tensor(cot), retain_graph=True, allow_unused=True,
                               is_grads_batched=True)
    for k in range(3):
        looped = nb.autograd.grad(out, diff, nb.tensor(cot[k]), retain_graph=True,
                                  allow_unused=True)
        for b, lp in zip(batched, looped):
            assert (b is None) == (lp is None)
            if b is not None:
                np.testing.assert_allclose(to_np(b)[k], to_np(lp), rtol=1e-12, atol=1e-12)


def test_batched_grad_matches_torch_and_mismatched_shape_error():
    def run(m):
        x = m.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=m.float64, requires_grad=True)
        y = (x.sin() * x).sum(1).exp()
        (g,) = m.autograd.grad(y, x, m.eye(2, dtype=m.float64), is_grads_batched=True)
        try:
            m.autograd.grad(y, x, m.ones(2, 3, dtype=m.float64), is_grads_batched=True)
        except RuntimeError as e:
            return to_np(g), str(e)
    (gt, et), (gn, en) = run(torch), run(nb)
    np.testing.assert_allclose(gn, gt, rtol=1e-12)
    assert en == et


def _tuple_fn(m):
    def f(x, y):
        return (x * y.sum()).tanh(), (x ** 2).sum() * y
    return f


def _inputs(m, rg=True):
    return (m.tensor([0.3, -0.7, 1.1], dtype=m.float64, requires_grad=rg),
            m.tensor([[0.5, 2.0], [-1.0, 0.25]], dtype=m.float64, requires_grad=rg))


def _flat(obj):
    if isinstance(obj, (tuple, list)):
        return [v for o in obj for v in _flat(o)]
    return [to_np(obj)]


@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("create_graph", [False, True])
def test_jacobian_tuple_inputs_and_outputs(vectorize, create_graph):
    def run(m):
        jac = m.autograd.functional.jacobian(_tuple_fn(m), _inputs(m), create_graph=create_graph,
                                             vectorize=vectorize)
        shapes = [[tuple(j.shape) for j in row] for row in jac]
        return jac, shapes, jac[0][0].requires_grad
    (jt, st, rt), (jn, sn, rn) = run(torch), run(nb)
    assert sn == st and rn == rt
    for a, b in zip(_flat(jn), _flat(jt)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("vectorize", [False, True])
def test_hessian_tuple_inputs(vectorize):
    def run(m):
        f = lambda x, y: (x.sin() * (y ** 2).sum()).sum()  # noqa: E731
        return m.autograd.functional.hessian(f, _inputs(m), vectorize=vectorize)
    for a, b in zip(_flat(run(nb)), _flat(run(torch))):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["vjp", "jvp"])
@pytest.mark.parametrize("create_graph", [False, True])
def test_vjp_jvp_tuples(name, create_graph):
    def run(m):
        ins = _inputs(m)
        f = _tuple_fn(m)
        outs = f(*ins)
        v = tuple(m.ones_like(o) for o in (outs if name == "vjp" else ins))
        out, res = getattr(m.autograd.functional, name)(f, ins, v, create_graph=create_graph)
        return out, res
    for a, b in zip(_flat(run(nb)), _flat(run(torch))):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_hvp_vhp(name):
    def run(m):
        f = lambda x, y: (x.exp() * y.sum() + (x ** 3).sum()).sum()  # noqa: E731
        ins = _inputs(m)
        v = (m.tensor([1.0, 2.0, 3.0], dtype=m.float64), m.ones(2, 2, dtype=m.float64))
        return getattr(m.autograd.functional, name)(f, ins, v)
    for a, b in zip(_flat(run(nb)), _flat(run(torch))):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("code", [
    lambda m: m.autograd.functional.vjp(lambda x: x * 2, m.ones(3)),
    lambda m: m.autograd.functional.jvp(lambda x: x * 2, m.ones(3)),
    lambda m: m.autograd.functional.vjp(lambda x: x * 2, m.ones(3), m.ones(4)),
    lambda m: m.autograd.functional.vjp(lambda x, y: x * y, (m.ones(3), m.ones(3)), m.ones(3)),
    lambda m: m.autograd.functional.jacobian(lambda x: x * 2, [1.0]),
    lambda m: m.autograd.functional.jacobian(lambda x: m.ones(2), m.ones(3), strict=True),
    lambda m: m.autograd.functional.jacobian(lambda x: x * 2, m.ones(3), strict=True,
                                             vectorize=True),
    lambda m: m.autograd.functional.hessian(lambda x: x * 2, m.ones(3)),
    lambda m: m.autograd.functional.hvp(lambda x: (x * 2).sum(), m.ones(3), m.ones(3),
                                        strict=True),
    lambda m: m.autograd.functional.jacobian(lambda x: x, m.ones(2), strategy="sideways"),
], ids=["vjp_v_none", "jvp_v_none", "vjp_v_size", "vjp_tuple_len", "jacobian_list",
        "jacobian_strict_independent", "jacobian_strict_vectorize", "hessian_nonscalar",
        "hvp_strict_linear", "bad_strategy"])
def test_functional_errors_match_torch(code):
    def run(m):
        try:
            code(m)
        except Exception as e:  # noqa: BLE001 - comparing whatever torch raises
            return type(e).__name__, str(e).replace("torch.Tensor", "T").replace(
                "nbautograd._tensor.Tensor", "T")
        return None
    assert run(nb) == run(torch)


def test_jacobian_rows_yield_one_hot_and_rows():
    x = nb.tensor([1.0, 2.0, 3.0])
    rows = list(nb.autograd.functional.jacobian_rows(lambda t: t ** 2, x))
    assert [r[0] for r in rows] == [(0,), (1,), (2,)]
    assert [r[1].tolist() for r in rows] == np.eye(3).tolist()
    full = nb.autograd.functional.jacobian(lambda t: t ** 2, x)
    np.testing.assert_allclose(np.stack([to_np(r[2][0]) for r in rows]), to_np(full))
    assert x.grad is None


def _specs(case):
    if hasattr(case, "specs"):
        return case.specs
    if hasattr(case, "b"):  # binary: broadcasting shapes
        return [A((2, 3), case.a[0], case.a[1], nonzero_min=case.a[2]),
                A((3,), case.b[0], case.b[1], nonzero_min=case.b[2])]
    return [A((2, 3), case.lo, case.hi, nonzero_min=case.nonzero_min)]


SMOOTH = ([c for c in FIXED if c.smooth] + list(SMOOTH_REDUCE) + [u for u in UNARY if u.smooth]
          + [b for b in BINARY if b.smooth])


@pytest.mark.parametrize("case", SMOOTH, ids=lambda c: c.id)
def test_gradgradcheck_smooth_ops(case):
    specs = _specs(case)
    arrays, rg = materialize(specs, F64, seed=3)
    ins = make_inputs(nb, arrays, rg)

    def f(*xs):
        return flatten_outputs(nb, case.fn(nb, *xs))[0]
    assert nb.autograd.gradcheck(f, tuple(ins))
    assert nb.autograd.gradgradcheck(f, tuple(ins))
