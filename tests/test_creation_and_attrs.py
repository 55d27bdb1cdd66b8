"""Tensor creation, dtypes, type promotion, attributes and printing vs torch."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from oracle import (  # noqa: E402
    TObs,
    assert_same_obs,
    assert_values_close,
    capture_error,
    is_tensor,
    observe,
    same_behaviour,
    to_np,
)

# ---------------------------------------------------------------------------
# deterministic factories: dtype, shape and values compared with torch

DETERMINISTIC = [
    ("tensor_int_list", lambda m: m.tensor([1, 2, 3])),
    ("tensor_float_list", lambda m: m.tensor([1.0, 2.0])),
    ("tensor_mixed_list", lambda m: m.tensor([1, 2.5])),
    ("tensor_bool_list", lambda m: m.tensor([True, False])),
    ("tensor_nested", lambda m: m.tensor([[1.0, 2.0], [3.0, 4.0]])),
    ("tensor_tuple", lambda m: m.tensor((1.0, 2.0))),
    ("tensor_scalar_int", lambda m: m.tensor(3)),
    ("tensor_scalar_float", lambda m: m.tensor(3.5)),
    ("tensor_scalar_bool", lambda m: m.tensor(True)),
    ("tensor_empty", lambda m: m.tensor([])),
    ("tensor_dtype_kw", lambda m: m.tensor([1, 2], dtype=m.float64)),
    ("tensor_float_to_int", lambda m: m.tensor([1.7, -2.7], dtype=m.int64)),
    ("tensor_np_f64", lambda m: m.tensor(np.array([1.0, 2.0]))),
    ("tensor_np_f32", lambda m: m.tensor(np.array([1.0, 2.0], dtype=np.float32))),
    ("tensor_np_i32", lambda m: m.tensor(np.array([1, 2], dtype=np.int32))),
    ("tensor_np_bool", lambda m: m.tensor(np.array([True, False]))),
    ("tensor_np_f64_scalar", lambda m: m.tensor(np.float64(2.5))),
    ("tensor_np_0d", lambda m: m.tensor(np.array(4.0, dtype=np.float32))),
    ("tensor_np_dtype_override", lambda m: m.tensor(np.array([1.0, 2.0]), dtype=m.float32)),
    ("tensor_half", lambda m: m.tensor([1.0, 2.0], dtype=m.half)),
    ("as_tensor_list", lambda m: m.as_tensor([1, 2])),
    ("as_tensor_np", lambda m: m.as_tensor(np.arange(3.0))),
    ("as_tensor_dtype", lambda m: m.as_tensor(np.arange(3), dtype=m.float32)),
    ("from_numpy_f32", lambda m: m.from_numpy(np.arange(4, dtype=np.float32).reshape(2, 2))),
    ("from_numpy_i64", lambda m: m.from_numpy(np.arange(3))),
    ("zeros_varargs", lambda m: m.zeros(2, 3)),
    ("zeros_tuple", lambda m: m.zeros((2, 3))),
    ("zeros_list", lambda m: m.zeros([2, 3])),
    ("zeros_0d", lambda m: m.zeros(())),
    ("zeros_dtype", lambda m: m.zeros(2, dtype=m.int64)),
    ("ones", lambda m: m.ones(3, 2)),
    ("ones_dtype", lambda m: m.ones(2, dtype=m.float64)),
    ("ones_bool", lambda m: m.ones(2, dtype=m.bool)),
    ("full_int", lambda m: m.full((2, 3), 7)),
    ("full_float", lambda m: m.full((2,), 7.5)),
    ("full_bool", lambda m: m.full((2,), True)),
    ("full_dtype", lambda m: m.full((2,), 7, dtype=m.float32)),
    ("full_list_shape", lambda m: m.full([1, 2], -1.0)),
    ("eye", lambda m: m.eye(3)),
    ("eye_rect", lambda m: m.eye(2, 3)),
    ("eye_dtype", lambda m: m.eye(2, dtype=m.int64)),
    ("arange_int", lambda m: m.arange(5)),
    ("arange_start_end", lambda m: m.arange(1, 4)),
    ("arange_step", lambda m: m.arange(0, 10, 3)),
    ("arange_float_step", lambda m: m.arange(0, 1, 0.1)),
    ("arange_float", lambda m: m.arange(1.0, 4.0)),
    ("arange_float_end", lambda m: m.arange(2.5)),
    ("arange_neg", lambda m: m.arange(-1, 1, 0.5)),
    ("arange_dtype", lambda m: m.arange(5, dtype=m.float64)),
    ("linspace", lambda m: m.linspace(0, 1, 5)),
    ("linspace_one", lambda m: m.linspace(2, 3, 1)),
    ("linspace_steps_kw", lambda m: m.linspace(-1, 1, steps=4)),
    ("linspace_dtype", lambda m: m.linspace(0, 1, 3, dtype=m.float64)),
    ("zeros_like_int", lambda m: m.zeros_like(m.tensor([[1, 2]]))),
    ("zeros_like_dtype", lambda m: m.zeros_like(m.tensor([1, 2]), dtype=m.float32)),
    ("ones_like_float", lambda m: m.ones_like(m.tensor([1.5, 2.5], dtype=m.float64))),
    ("full_like", lambda m: m.full_like(m.tensor([1.0, 2.0]), 7)),
    ("full_like_int_truncates", lambda m: m.full_like(m.tensor([1, 2]), 2.7)),
]


@pytest.mark.parametrize("code", [pytest.param(c, id=i) for i, c in DETERMINISTIC])
def test_deterministic_factory(nb, code):
    def run(m):
        t = code(m)
        return t, t.requires_grad, t.is_leaf, t.grad_fn is None, str(t.device)

    same_behaviour(nb, run)


def test_factory_requires_grad(nb):
    def run(m):
        ts = [m.zeros(2, requires_grad=True), m.ones(2, 2, requires_grad=True), m.tensor([1.0], requires_grad=True),
              m.full((2,), 1.5, requires_grad=True), m.eye(2, requires_grad=True), m.arange(3.0, requires_grad=True),
              m.linspace(0, 1, 3, requires_grad=True), m.rand(2, requires_grad=True),
              m.randn(2, requires_grad=True), m.empty(2, requires_grad=True),
              m.zeros_like(m.ones(2), requires_grad=True)]
        return [(t.requires_grad, t.is_leaf, t.grad_fn is None, str(t.dtype)) for t in ts]

    same_behaviour(nb, run)


# ---------------------------------------------------------------------------
# random factories and empty: shape and dtype compared with torch, values checked for range

SHAPE_ONLY = [
    ("rand_varargs", lambda m: m.rand(2, 3)),
    ("rand_tuple", lambda m: m.rand((2, 3))),
    ("rand_dtype", lambda m: m.rand(3, dtype=m.float64)),
    ("randn_varargs", lambda m: m.randn(2, 3)),
    ("randn_tuple", lambda m: m.randn((4,))),
    ("randn_dtype", lambda m: m.randn(4, dtype=m.float64)),
    ("randint", lambda m: m.randint(0, 10, (5,))),
    ("randint_high_only", lambda m: m.randint(5, (3,))),
    ("randint_2d", lambda m: m.randint(3, 7, (2, 2))),
    ("randint_dtype", lambda m: m.randint(0, 3, (2,), dtype=m.int32)),
    ("rand_like", lambda m: m.rand_like(m.ones(2, 3, dtype=m.float64))),
    ("randn_like", lambda m: m.randn_like(m.ones(3))),
    ("empty_varargs", lambda m: m.empty(2, 3)),
    ("empty_tuple", lambda m: m.empty((2,))),
    ("empty_dtype", lambda m: m.empty(3, dtype=m.int64)),
    ("empty_like", lambda m: m.empty_like(m.ones(2, 2, dtype=m.float64))),
    ("empty_0d", lambda m: m.empty(())),
]


@pytest.mark.parametrize("code", [pytest.param(c, id=i) for i, c in SHAPE_ONLY])
def test_shape_only_factory(nb, code):
    def run(m):
        t = code(m)
        return str(t.dtype), tuple(t.shape), t.requires_grad, t.is_leaf

    same_behaviour(nb, run)


def test_random_value_ranges(nb):
    r = to_np(nb.rand(10_000))
    assert r.dtype == np.float32 and r.min() >= 0.0 and r.max() < 1.0
    assert abs(r.mean() - 0.5) < 0.02 and abs(r.std() - np.sqrt(1 / 12)) < 0.02
    n = to_np(nb.randn(10_000, dtype=nb.float64))
    assert n.dtype == np.float64
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1.0) < 0.05
    i = to_np(nb.randint(0, 10, (2000,)))
    assert i.dtype == np.int64 and i.min() >= 0 and i.max() < 10
    assert set(np.unique(i).tolist()) == set(range(10))
    j = to_np(nb.randint(3, 5, (500,)))
    assert set(np.unique(j).tolist()) == {3, 4}
    like = to_np(nb.rand_like(nb.zeros(1000, dtype=nb.float64)))
    assert like.dtype == np.float64 and like.min() >= 0.0 and like.max() < 1.0 and like.std() > 0.1


def test_manual_seed_reproducible(nb):
    nb.manual_seed(0)
    a = [to_np(nb.rand(5)), to_np(nb.randn(2, 3)), to_np(nb.randint(0, 100, (6,)))]
    c = to_np(nb.rand(5))
    nb.manual_seed(0)
    b = [to_np(nb.rand(5)), to_np(nb.randn(2, 3)), to_np(nb.randint(0, 100, (6,)))]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c), "consecutive draws must differ"
    nb.manual_seed(1)
    d = to_np(nb.rand(5))
    assert not np.array_equal(a[0], d), "different seeds must give different streams"


# ---------------------------------------------------------------------------
# numpy interop and memory sharing


def test_from_numpy_shares_memory(nb):
    a = np.arange(3.0)
    t = nb.from_numpy(a)
    assert str(t.dtype) == "torch.float64"
    a[0] = 10.0
    assert t[0].item() == 10.0
    t.add_(1)
    np.testing.assert_array_equal(a, [11.0, 2.0, 3.0])


def test_numpy_method_shares_memory(nb):
    t = nb.ones(3)
    a = t.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == (3,)
    a[0] = 5.0
    assert t.tolist() == [5.0, 1.0, 1.0]
    t.mul_(2)
    np.testing.assert_array_equal(a, [10.0, 2.0, 2.0])


def test_as_tensor_shares_but_tensor_copies(nb):
    def run(m):
        a = np.zeros(3)
        shared = m.as_tensor(a)
        copied = m.tensor(a)
        converted = m.as_tensor(a, dtype=m.float32)
        a[0] = 5.0
        return shared, copied, converted

    exp = same_behaviour(nb, run)
    assert exp[0].values.tolist() == [5.0, 0.0, 0.0] and exp[1].values.tolist() == [0.0, 0.0, 0.0]


def test_numpy_dtypes_and_0d(nb):
    def run(m):
        out = []
        for t in (m.tensor(3.5), m.tensor([1, 2]), m.tensor([True]), m.tensor([1.0], dtype=m.float64),
                  m.tensor([1], dtype=m.int32), m.zeros(2, 0)):
            a = t.numpy()
            out.append((str(a.dtype), a.shape, type(a).__name__))
        return out

    same_behaviour(nb, run)


# ---------------------------------------------------------------------------
# dtypes


def test_dtype_aliases(nb):
    pairs = [("float", "float32"), ("double", "float64"), ("long", "int64"), ("int", "int32"), ("half", "float16")]
    for alias, canonical in pairs:
        a, c = getattr(nb, alias), getattr(nb, canonical)
        assert a == c and a is c, f"{alias} must be {canonical}"
        assert str(a) == str(getattr(torch, alias)) == f"torch.{canonical}"
        assert repr(a) == repr(getattr(torch, alias))
    for name in ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"):
        assert str(getattr(nb, name)) == str(getattr(torch, name))
    assert nb.float32 != nb.float64


def test_default_dtypes(nb):
    def run(m):
        return [str(t.dtype) for t in (m.tensor([1.0]), m.tensor([1]), m.tensor([True]), m.tensor(1.0),
                                        m.tensor(1), m.zeros(1), m.ones(1), m.arange(3), m.arange(3.0),
                                        m.tensor([1, 2]) / 2, m.tensor([1, 2]) * 1.5, m.tensor([True]) + 1)]

    exp = same_behaviour(nb, run)
    assert exp[:3] == ["torch.float32", "torch.int64", "torch.bool"]
    for t, d in [(nb.tensor([1.0]), nb.float32), (nb.tensor([1]), nb.int64), (nb.tensor([False]), nb.bool)]:
        assert t.dtype == d and t.dtype is d


PROMO_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
PY_SCALARS = [("int", 2), ("float", 2.5), ("bool", True)]


def _operand(m, dtype, kind):
    d = getattr(m, dtype)
    if kind == "0d":
        return m.tensor(True if dtype == "bool" else 3, dtype=d)
    return m.tensor([True, True] if dtype == "bool" else [1, 2], dtype=d)


def _apply(op, a, b):
    if op == "+":
        return a + b
    if op == "*":
        return a * b
    return a / b


def _promotion_observations(m, op, left_dtype, left_kind):
    left = _operand(m, left_dtype, left_kind)
    results = {}
    others = [(f"{d}-{k}", _operand(m, d, k)) for d in PROMO_DTYPES for k in ("0d", "nd")]
    others += [(f"py{name}", v) for name, v in PY_SCALARS]
    for label, other in others:
        for side, (a, b) in (("right", (left, other)), ("left", (other, left))):
            if side == "left" and is_tensor(m, other):
                continue  # tensor-tensor is symmetric enough; scalar-first exercises __r*__
            try:
                r = _apply(op, a, b)
            except Exception as e:  # noqa: BLE001
                results[(label, side)] = ("error", type(e).__name__)
            else:
                results[(label, side)] = (str(r.dtype), tuple(r.shape), to_np(r))
    return results


@pytest.mark.parametrize("left_kind", ["0d", "nd"])
@pytest.mark.parametrize("left_dtype", PROMO_DTYPES)
@pytest.mark.parametrize("op", ["+", "*", "/"])
def test_type_promotion(nb, op, left_dtype, left_kind):
    expected = _promotion_observations(torch, op, left_dtype, left_kind)
    actual = _promotion_observations(nb, op, left_dtype, left_kind)
    mismatches = []
    for key, exp in expected.items():
        got = actual.get(key)
        if got is None or got[:2] != exp[:2]:
            mismatches.append(f"{left_dtype}-{left_kind} {op} {key}: engine {got and got[:2]} != torch {exp[:2]}")
            continue
        if exp[0] != "error":
            try:
                assert_values_close(got[2], exp[2], dtype="float16", what=str(key))
            except AssertionError as e:
                mismatches.append(f"{key}: values differ: {e}")
    assert not mismatches, "\n".join(mismatches)


# ---------------------------------------------------------------------------
# attributes and conversions


def test_shape_size_dim_numel_device(nb):
    def run(m):
        x = m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        s = m.tensor(7.0)
        return {
            "shape": tuple(x.shape), "shape_is_tuple": isinstance(x.shape, tuple), "shape_eq": x.shape == (2, 3),
            "shape0": x.shape[0], "shape_neg": x.shape[-1], "shape_len": len(x.shape), "repr_shape": repr(x.shape),
            "str_shape": str(x.shape), "size": tuple(x.size()), "size_eq_shape": x.size() == x.shape,
            "size1": x.size(1), "size_neg": x.size(-1), "size_kw": x.size(dim=0), "dim": x.dim(), "ndim": x.ndim,
            "numel": x.numel(), "device": str(x.device), "dtype": str(x.dtype), "0d_shape": tuple(s.shape),
            "0d_dim": s.dim(), "0d_numel": s.numel(), "0d_repr_shape": repr(s.shape), "unpack": list(x.shape),
            "grad": x.grad is None, "grad_fn": x.grad_fn is None, "requires_grad": x.requires_grad,
            "is_leaf": x.is_leaf,
        }

    exp = same_behaviour(nb, run)
    assert exp["repr_shape"] == "torch.Size([2, 3])" and exp["device"] == "cpu"


def test_item_tolist_and_python_conversions(nb):
    def run(m):
        x = m.tensor([[1.5, 2.0], [3.0, 4.0]])
        return [
            m.tensor(2.5).item(), m.tensor(3).item(), m.tensor(True).item(), m.tensor([[7.0]]).item(), x[1, 0].item(),
            x.tolist(), m.tensor([1, 2]).tolist(), m.tensor([True, False]).tolist(), m.tensor(2.5).tolist(),
            m.tensor(5).tolist(), m.tensor([]).tolist(), float(m.tensor(2.5)), int(m.tensor(3.9)), int(m.tensor([7])),
            float(m.tensor([4])), bool(m.tensor(0.0)), bool(m.tensor([1])), bool(m.tensor([0.0])),
            bool(m.tensor(True)), m.tensor(1.0, dtype=m.float64).item(), m.tensor([0.1]).item(),
        ]

    same_behaviour(nb, run, rtol=0)


def test_dtype_conversions(nb):
    def run(m):
        x = m.tensor([-1.7, 0.0, 2.7])
        i = m.tensor([1, 0, 3])
        return [x.float(), x.double(), x.long(), x.int(), x.to(m.float64), x.to(dtype=m.int64), x.to(m.bool),
                i.float(), i.double(), i / 2, i.to(m.float32) / 2, x.half(), x.bool(), (x.double() is x),
                (x.float() is x), (x.to(m.float32) is x)]

    same_behaviour(nb, run)


def test_clone_contiguous_T(nb):
    def run(m):
        x = m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        c = x.clone()
        c[0, 0] = 100.0
        t = x.T
        return x, c, t, x.t(), t.contiguous(), x.contiguous(), x.T.T, tuple(x.T.shape)

    same_behaviour(nb, run)


def test_len_and_iteration(nb):
    def run(m):
        x = m.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        rows = list(x)
        elems = [e for e in m.tensor([1, 2, 3])]
        return (len(x), len(m.tensor([1.0])), len(m.zeros(0, 2)), [r.tolist() for r in rows],
                [is_tensor(m, r) and r.dim() == 1 for r in rows], [(is_tensor(m, e), e.dim(), e.item()) for e in elems],
                sum(r.sum().item() for r in x))

    same_behaviour(nb, run)


COMPARISONS = ["x == y", "x != y", "x < y", "x <= y", "x > y", "x >= y", "x == 2", "x != 2", "x < 2.5", "x <= 2",
               "x > 1", "x >= 3", "2 < x", "x == x", "(x > 1) & (x < 3)", "(x > 2) | (x < 1.5)", "~(x > 1)",
               "(x > 1).sum()", "(x > 1).float().mean()", "M > 0", "M == M.t().t()", "x[x > 1]"]


@pytest.mark.parametrize("expr", COMPARISONS)
def test_comparison_results_and_printing(nb, expr):
    def run(m):
        env = dict(m=m, x=m.tensor([1.0, 2.0, 3.0]), y=m.tensor([3.0, 2.0, 1.0]),
                   M=m.tensor([[1.0, -2.0], [0.0, 4.0]]))
        r = eval(expr, {}, env)  # noqa: S307 - fixed test expressions
        return r, repr(r), str(r), r.requires_grad

    same_behaviour(nb, run)


def test_comparison_with_requires_grad_input(nb):
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        r = x > 1.5
        return r, r.requires_grad, r.grad_fn is None, r.is_leaf, repr(r)

    same_behaviour(nb, run)


def test_hash_by_identity(nb):
    x = nb.tensor([1.0, 2.0])
    y = nb.tensor([1.0, 2.0])
    d = {x: "x", y: "y"}
    assert len(d) == 2 and d[x] == "x" and d[y] == "y"
    assert hash(x) == hash(x)
    s = {x, y, x}
    assert len(s) == 2 and x in s
    z = x  # same object
    assert d[z] == "x"
    with pytest.raises(KeyError):
        d[nb.tensor([1.0, 2.0])]


def test_is_leaf_attribute(nb):
    def run(m):
        a = m.tensor([1.0], requires_grad=True)
        b = m.tensor([1.0])
        return [a.is_leaf, b.is_leaf, (a * 2).is_leaf, (b * 2).is_leaf, a.detach().is_leaf, a.clone().is_leaf]

    assert same_behaviour(nb, run) == [True, True, False, True, True, False]


def test_data_attribute(nb):
    def run(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        d = x.data
        return d, d.requires_grad, str(d.dtype), is_tensor(m, d), x.requires_grad

    same_behaviour(nb, run)


# ---------------------------------------------------------------------------
# printing

REPRS = [
    "m.tensor([1., 2., 3.])", "m.tensor([1, 2, 3])", "m.tensor([0.1, 0.2])", "m.tensor(2.5, dtype=m.float64)",
    "m.tensor([[1., 2.], [3., 4.]])", "m.tensor([1., 2., 3.], requires_grad=True)",
    "m.tensor([1., 2.], dtype=m.float64, requires_grad=True)", "m.tensor(5)", "m.tensor(3.14159)",
    "m.tensor([-1.5, 2.0])", "m.tensor([True, False])", "m.tensor(True)", "m.zeros(2, 3)",
    "m.arange(6).reshape(2, 3)", "m.ones(2, dtype=m.int32)", "m.eye(2)", "m.tensor([])", "m.linspace(0, 1, 5)",
    "m.tensor([1e-5, 1.0])", "m.tensor([123456.0, 1.0])", "m.tensor([1.5, float('nan'), float('inf')])",
    "m.tensor([[1, -20], [300, 4]])", "m.zeros(2, 2, 2)", "m.tensor([0.5, 1.25], dtype=m.float16)",
    "m.tensor([-0.0, 1.0])", "m.tensor(-2)", "m.tensor([1.0, 2.0]).double()", "m.zeros(0, 3)",
]


@pytest.mark.parametrize("expr", REPRS)
def test_repr_and_str(nb, expr):
    def run(m):
        t = eval(expr, {}, {"m": m})  # noqa: S307 - fixed test expressions
        return repr(t), str(t)

    same_behaviour(nb, run)


def test_observe_helper_sanity():
    """The oracle's own comparison must detect differences (guards against tautologies)."""
    a = observe(torch, [torch.tensor([1.0, 2.0]), 1, "x"])
    b = observe(torch, [torch.tensor([1.0, 2.5]), 1, "x"])
    with pytest.raises(AssertionError):
        assert_same_obs(a, b)
    c = observe(torch, [torch.tensor([1.0, 2.0], dtype=torch.float64), 1, "x"])
    with pytest.raises(AssertionError):
        assert_same_obs(a, c)
    with pytest.raises(AssertionError):
        assert_same_obs([1.0], [1])
    with pytest.raises(AssertionError):
        assert_same_obs([True], [1])
    assert isinstance(a[0], TObs)
    assert capture_error(lambda: 1 / 0).__class__ is ZeroDivisionError
