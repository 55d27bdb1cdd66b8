"""Per-op differential tests: values, dtypes, shapes, grad_fn names and gradients vs torch."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from oracle import (  # noqa: E402
    FLOAT_DTYPES,
    HYP,
    A,
    Fixed,
    check_finite_differences,
    check_op,
    check_second_order,
    float_arrays,
    grad_fn_name,
    materialize,
)


class C:
    """A fixed test case: ``fn(m, *inputs)`` with inputs built from ``specs``."""

    def __init__(self, id, fn, specs, *, check_name=True, smooth=False, fd=False, dtypes=FLOAT_DTYPES, rg=None):
        self.id, self.fn, self.specs = id, fn, specs
        self.check_name, self.smooth, self.fd, self.dtypes, self.rg = check_name, smooth, fd, dtypes, rg

    def __repr__(self):
        return self.id


def _params(cases, dtypes=None):
    out = []
    for c in cases:
        for d in dtypes or c.dtypes:
            out.append(pytest.param(c, d, id=f"{c.id}-{d}"))
    return out


# ===========================================================================
# Elementwise unary ops (hypothesis)
# ===========================================================================


class U:
    def __init__(self, id, fn, lo=-5.0, hi=5.0, nonzero_min=None, smooth=True):
        self.id, self.fn, self.lo, self.hi, self.nonzero_min, self.smooth = id, fn, lo, hi, nonzero_min, smooth

    def __repr__(self):
        return self.id


UNARY = [
    U("neg", lambda m, x: -x, smooth=False),
    U("neg_method", lambda m, x: x.neg(), smooth=False),
    U("abs_builtin", lambda m, x: abs(x), smooth=False),
    U("abs_method", lambda m, x: x.abs(), smooth=False),
    U("abs_fn", lambda m, x: m.abs(x), smooth=False),
    U("exp", lambda m, x: x.exp()),
    U("exp_fn", lambda m, x: m.exp(x)),
    U("log", lambda m, x: x.log(), 0.1, 10.0),
    U("log_fn", lambda m, x: m.log(x), 0.1, 10.0),
    U("sqrt", lambda m, x: x.sqrt(), 0.1, 10.0),
    U("sqrt_fn", lambda m, x: m.sqrt(x), 0.1, 10.0),
    U("sin", lambda m, x: x.sin()),
    U("sin_fn", lambda m, x: m.sin(x)),
    U("cos", lambda m, x: x.cos()),
    U("cos_fn", lambda m, x: m.cos(x)),
    U("tan", lambda m, x: x.tan(), -1.3, 1.3),
    U("tan_fn", lambda m, x: m.tan(x), -1.3, 1.3),
    U("tanh", lambda m, x: x.tanh()),
    U("tanh_fn", lambda m, x: m.tanh(x)),
    U("sigmoid", lambda m, x: x.sigmoid()),
    U("sigmoid_fn", lambda m, x: m.sigmoid(x)),
    U("relu", lambda m, x: x.relu(), smooth=False),
    U("relu_fn", lambda m, x: m.relu(x), smooth=False),
    U("clamp_min0", lambda m, x: x.clamp(min=0), smooth=False),
    U("clamp_min", lambda m, x: x.clamp(min=-0.5), smooth=False),
    U("clamp_max", lambda m, x: x.clamp(max=0.5), smooth=False),
    U("clamp_both", lambda m, x: x.clamp(-0.5, 0.5), smooth=False),
    U("clamp_fn", lambda m, x: m.clamp(x, min=-1.0, max=1.0), smooth=False),
    U("pow2", lambda m, x: x ** 2),
    U("pow3", lambda m, x: x ** 3),
    U("pow0", lambda m, x: x ** 0, smooth=False),
    U("pow1", lambda m, x: x ** 1),
    U("pow_half", lambda m, x: x ** 0.5, 0.1, 10.0),
    U("pow_2_5", lambda m, x: x ** 2.5, 0.1, 4.0),
    U("pow_neg1", lambda m, x: x ** -1, -4.0, 4.0, nonzero_min=0.5),
    U("pow_fn", lambda m, x: m.pow(x, 2)),
    U("pow_method", lambda m, x: x.pow(3)),
    U("rpow", lambda m, x: 2 ** x),
    U("rpow_float", lambda m, x: 0.5 ** x),
    U("add_scalar", lambda m, x: x + 2, smooth=False),
    U("radd_scalar", lambda m, x: 2 + x, smooth=False),
    U("add_float", lambda m, x: x + 2.5, smooth=False),
    U("sub_scalar", lambda m, x: x - 2, smooth=False),
    U("rsub_scalar", lambda m, x: 2 - x, smooth=False),
    U("rsub_float", lambda m, x: 1.5 - x, smooth=False),
    U("mul_scalar", lambda m, x: x * 3, smooth=False),
    U("rmul_scalar", lambda m, x: 3 * x, smooth=False),
    U("mul_float", lambda m, x: x * -0.25, smooth=False),
    U("div_scalar", lambda m, x: x / 4, smooth=False),
    U("rdiv_scalar", lambda m, x: 4 / x, -4.0, 4.0, nonzero_min=0.5),
    U("rdiv_float", lambda m, x: 1.5 / x, -4.0, 4.0, nonzero_min=0.5),
    U("composite", lambda m, x: (x * x + 1).log() * x.sigmoid() - x.tanh() / 2),
]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("case", UNARY, ids=repr)
@HYP
@given(data=st.data())
def test_unary(nb, case, dtype, data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4), label="shape")
    x = data.draw(float_arrays(dtype, shape, case.lo, case.hi, nonzero_min=case.nonzero_min), label="x")
    check_op(nb, case.fn, [x])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("case", [u for u in UNARY if u.smooth], ids=repr)
def test_unary_second_order(nb, case, dtype):
    spec = A((3, 4), case.lo, case.hi, nonzero_min=case.nonzero_min)
    arrays, rg = materialize([spec], dtype, seed=3)
    tol = {} if dtype == "float64" else dict(rtol=1e-4, atol=1e-4)
    check_second_order(nb, case.fn, arrays, rg, **tol)


# ===========================================================================
# Elementwise binary ops with broadcasting (hypothesis)
# ===========================================================================


class B:
    def __init__(self, id, fn, a=(-3.0, 3.0, None), b=(-3.0, 3.0, None), smooth=True):
        self.id, self.fn, self.a, self.b, self.smooth = id, fn, a, b, smooth

    def __repr__(self):
        return self.id


NZ = (-3.0, 3.0, 0.5)
POS = (0.5, 3.0, None)

BINARY = [
    B("add", lambda m, x, y: x + y, smooth=False),
    B("add_fn", lambda m, x, y: m.add(x, y), smooth=False),
    B("add_method", lambda m, x, y: x.add(y), smooth=False),
    B("sub", lambda m, x, y: x - y, smooth=False),
    B("sub_fn", lambda m, x, y: m.sub(x, y), smooth=False),
    B("mul", lambda m, x, y: x * y),
    B("mul_fn", lambda m, x, y: m.mul(x, y)),
    B("div", lambda m, x, y: x / y, b=NZ),
    B("div_fn", lambda m, x, y: m.div(x, y), b=NZ),
    B("pow", lambda m, x, y: x ** y, a=POS, b=(-2.0, 2.0, None)),
    B("pow_fn", lambda m, x, y: m.pow(x, y), a=POS, b=(-2.0, 2.0, None)),
    B("maximum", lambda m, x, y: m.maximum(x, y), smooth=False),
    B("minimum", lambda m, x, y: m.minimum(x, y), smooth=False),
    B("where", lambda m, x, y: m.where(x > 0, x, y), smooth=False),
    B("where_gt", lambda m, x, y: m.where(x > y, x * 2, y), smooth=False),
    B("where_scalar", lambda m, x, y: m.where(y < 0, x, 0.0) + y, smooth=False),
    B("combo", lambda m, x, y: (x * y).exp() / (1 + y * y) - x.sin() * y, a=(-1.5, 1.5, None), b=(-1.5, 1.5, None)),
]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("case", BINARY, ids=repr)
@HYP
@given(data=st.data())
def test_binary_broadcast(nb, case, dtype, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
                       label="shapes")
    sa, sb = shapes.input_shapes
    x = data.draw(float_arrays(dtype, sa, case.a[0], case.a[1], nonzero_min=case.a[2]), label="x")
    y = data.draw(float_arrays(dtype, sb, case.b[0], case.b[1], nonzero_min=case.b[2]), label="y")
    check_op(nb, case.fn, [x, y])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("case", [b for b in BINARY if b.smooth], ids=repr)
def test_binary_second_order(nb, case, dtype):
    def spec(r, shape):
        return A(shape, r[0], r[1], nonzero_min=r[2])

    arrays, rg = materialize([spec(case.a, (2, 3)), spec(case.b, (3,))], dtype, seed=5)
    tol = {} if dtype == "float64" else dict(rtol=1e-4, atol=1e-4)
    check_second_order(nb, case.fn, arrays, rg, **tol)


# ===========================================================================
# Reductions (hypothesis)
# ===========================================================================


class R:
    def __init__(self, id, fn, lo=-3.0, hi=3.0, *, tuple_dims=False, unique=False, min_side=1, nonzero_min=None,
                 max_tuple=3, grid=None):
        self.id, self.fn, self.lo, self.hi, self.max_tuple, self.grid = id, fn, lo, hi, max_tuple, grid
        self.tuple_dims, self.unique, self.min_side, self.nonzero_min = tuple_dims, unique, min_side, nonzero_min

    def __repr__(self):
        return self.id


REDUCE_DIM = [
    R("sum", lambda m, x, d, k: x.sum(d, keepdim=k), tuple_dims=True),
    R("sum_fn", lambda m, x, d, k: m.sum(x, dim=d, keepdim=k), tuple_dims=True),
    R("mean", lambda m, x, d, k: x.mean(d, keepdim=k), tuple_dims=True),
    R("mean_fn", lambda m, x, d, k: m.mean(x, dim=d, keepdim=k), tuple_dims=True),
    R("prod", lambda m, x, d, k: x.prod(d, keepdim=k)),
    R("prod_fn", lambda m, x, d, k: m.prod(x, d, keepdim=k)),
    R("amax", lambda m, x, d, k: x.amax(d, keepdim=k), tuple_dims=True),
    R("amax_fn", lambda m, x, d, k: m.amax(x, dim=d, keepdim=k), tuple_dims=True),
    R("max_dim", lambda m, x, d, k: x.max(d, keepdim=k), unique=True),
    R("max_dim_fn", lambda m, x, d, k: m.max(x, dim=d, keepdim=k), unique=True),
    R("min_dim", lambda m, x, d, k: x.min(dim=d, keepdim=k), unique=True),
    R("max_values", lambda m, x, d, k: x.max(d, keepdim=k).values * 2, unique=True),
    R("min_indices", lambda m, x, d, k: x.min(d, keepdim=k).indices, unique=True),
    # torch.norm's default p ("fro") only accepts 1 or 2 dims
    R("norm", lambda m, x, d, k: x.norm(dim=d, keepdim=k), tuple_dims=True, max_tuple=2),
    R("norm_p1", lambda m, x, d, k: x.norm(p=1, dim=d, keepdim=k), tuple_dims=True),
    R("norm_fn", lambda m, x, d, k: m.norm(x, dim=d, keepdim=k)),
    R("std", lambda m, x, d, k: x.std(d, keepdim=k), tuple_dims=True, min_side=2, grid=0.25),
    R("std_unbiased_false", lambda m, x, d, k: x.std(d, unbiased=False, keepdim=k), min_side=2, grid=0.25),
    R("std_correction0", lambda m, x, d, k: x.std(dim=d, correction=0, keepdim=k), min_side=2, grid=0.25),
    R("std_fn", lambda m, x, d, k: m.std(x, dim=d, keepdim=k), min_side=2, grid=0.25),
    R("var", lambda m, x, d, k: x.var(d, keepdim=k), tuple_dims=True, min_side=2, grid=0.25),
    R("var_unbiased_false", lambda m, x, d, k: x.var(d, unbiased=False, keepdim=k), min_side=2, grid=0.25),
    R("var_correction0", lambda m, x, d, k: x.var(dim=d, correction=0, keepdim=k), min_side=2, grid=0.25),
    R("var_fn", lambda m, x, d, k: m.var(x, dim=d, keepdim=k), min_side=2, grid=0.25),
    R("logsumexp", lambda m, x, d, k: x.logsumexp(d, keepdim=k), tuple_dims=True),
    R("logsumexp_fn", lambda m, x, d, k: m.logsumexp(x, d, keepdim=k)),
    R("cumsum", lambda m, x, d, k: x.cumsum(d)),
    R("cumsum_fn", lambda m, x, d, k: m.cumsum(x, dim=d)),
    R("softmax", lambda m, x, d, k: x.softmax(d)),
    R("softmax_fn", lambda m, x, d, k: m.softmax(x, dim=d)),
    R("log_softmax", lambda m, x, d, k: x.log_softmax(d)),
    R("log_softmax_fn", lambda m, x, d, k: m.log_softmax(x, dim=d)),
]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("case", REDUCE_DIM, ids=repr)
@HYP
@given(data=st.data())
def test_reduction_dim(nb, case, dtype, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=case.min_side, max_side=4), label="shape")
    nd = len(shape)
    if case.tuple_dims and data.draw(st.booleans(), label="use tuple"):
        dims = data.draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=min(nd, case.max_tuple),
                                     unique=True), label="dims")
        dim = tuple(d - nd if data.draw(st.booleans()) else d for d in dims)
    else:
        dim = data.draw(st.integers(-nd, nd - 1), label="dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    x = data.draw(float_arrays(dtype, shape, case.lo, case.hi, unique=case.unique, grid=case.grid), label="x")
    check_op(nb, lambda m, t: case.fn(m, t, dim, keepdim), [x])


REDUCE_FULL = [
    C("sum", lambda m, x: x.sum(), []),
    C("sum_fn", lambda m, x: m.sum(x), []),
    C("mean", lambda m, x: x.mean(), []),
    C("mean_fn", lambda m, x: m.mean(x), []),
    C("prod", lambda m, x: x.prod(), []),
    C("prod_fn", lambda m, x: m.prod(x), []),
    C("max", lambda m, x: x.max(), []),
    C("max_fn", lambda m, x: m.max(x), []),
    C("min", lambda m, x: x.min(), []),
    C("min_fn", lambda m, x: m.min(x), []),
    C("amax", lambda m, x: x.amax(), []),
    C("norm", lambda m, x: x.norm(), []),
    C("norm_p1", lambda m, x: x.norm(p=1), []),
    C("norm_p2", lambda m, x: x.norm(2), []),
    C("norm_fn", lambda m, x: m.norm(x), []),
    C("std", lambda m, x: x.std(), []),
    C("std_unbiased_false", lambda m, x: x.std(unbiased=False), []),
    C("var", lambda m, x: x.var(), []),
    C("var_correction0", lambda m, x: x.var(correction=0), []),
]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("case", REDUCE_FULL, ids=repr)
@HYP
@given(data=st.data())
def test_reduction_full(nb, case, dtype, data):
    std_var = case.id.startswith(("std", "var"))
    min_side = 2 if std_var else 1
    min_dims = 1 if std_var else 0
    shape = data.draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=min_side, max_side=4), label="shape")
    # std/var: values on a 0.25 grid, so near-ties (ill-conditioned gradients) cannot occur
    x = data.draw(float_arrays(dtype, shape, grid=0.25 if std_var else None), label="x")
    check_op(nb, case.fn, [x])


# ===========================================================================
# Fixed-shape cases: matmul, shape ops, indexing, joins, setitem, specials
# ===========================================================================

MATMUL = [
    C("matmul_1d_1d", lambda m, a, b: a @ b, [A((3,)), A((3,))], smooth=True, fd=True),
    C("matmul_2d_1d", lambda m, a, b: a @ b, [A((2, 3)), A((3,))], smooth=True),
    C("matmul_1d_2d", lambda m, a, b: a @ b, [A((3,)), A((3, 4))], check_name=False, smooth=True),
    C("matmul_2d_2d", lambda m, a, b: a @ b, [A((2, 3)), A((3, 4))], smooth=True, fd=True),
    C("matmul_method", lambda m, a, b: a.matmul(b), [A((2, 3)), A((3, 4))]),
    C("matmul_fn", lambda m, a, b: m.matmul(a, b), [A((2, 3)), A((3, 4))]),
    C("matmul_3d_3d", lambda m, a, b: a @ b, [A((2, 3, 4)), A((2, 4, 5))], check_name=False, smooth=True, fd=True),
    C("matmul_3d_2d", lambda m, a, b: a @ b, [A((2, 3, 4)), A((4, 5))], check_name=False),
    C("matmul_2d_3d", lambda m, a, b: a @ b, [A((3, 4)), A((2, 4, 5))], check_name=False),
    C("matmul_bcast_4d", lambda m, a, b: a @ b, [A((2, 1, 3, 4)), A((5, 4, 2))], check_name=False, fd=True),
    C("matmul_3d_1d", lambda m, a, b: a @ b, [A((2, 3, 4)), A((4,))], check_name=False),
    C("matmul_1d_3d", lambda m, a, b: a @ b, [A((4,)), A((2, 4, 5))], check_name=False),
    C("matmul_const_rhs", lambda m, a, b: a @ b, [A((2, 3)), A((3, 2), requires_grad=False)]),
    C("mm", lambda m, a, b: a.mm(b), [A((2, 3)), A((3, 4))], smooth=True),
    C("mm_fn", lambda m, a, b: m.mm(a, b), [A((2, 3)), A((3, 4))]),
    C("mv", lambda m, a, b: a.mv(b), [A((2, 3)), A((3,))], smooth=True),
    C("mv_fn", lambda m, a, b: m.mv(a, b), [A((2, 3)), A((3,))]),
    C("dot", lambda m, a, b: a.dot(b), [A((4,)), A((4,))], smooth=True),
    C("dot_fn", lambda m, a, b: m.dot(a, b), [A((4,)), A((4,))]),
    C("dot_self", lambda m, a: a.dot(a), [A((4,))], smooth=True),
    C("bmm", lambda m, a, b: a.bmm(b), [A((2, 3, 4)), A((2, 4, 5))], smooth=True),
    C("bmm_fn", lambda m, a, b: m.bmm(a, b), [A((2, 3, 4)), A((2, 4, 5))]),
    C("mlp", lambda m, x, w1, w2: ((x @ w1).relu() @ w2).tanh().sum(), [A((4, 3)), A((3, 5)), A((5, 2))], fd=True),
]

X3 = A((2, 3, 4))
SHAPE = [
    C("reshape", lambda m, x: x.reshape(4, 6), [X3]),
    C("reshape_minus1", lambda m, x: x.reshape(-1), [X3]),
    C("reshape_tuple", lambda m, x: x.reshape((6, -1)), [X3]),
    C("reshape_mid_minus1", lambda m, x: x.reshape(2, -1, 2), [X3]),
    C("reshape_fn", lambda m, x: m.reshape(x, (4, 6)), [X3]),
    C("reshape_noncontig", lambda m, x: x.transpose(0, 1).reshape(-1), [X3], check_name=False, fd=True),
    C("view", lambda m, x: x.view(6, 4), [X3]),
    C("view_minus1", lambda m, x: x.view(-1), [X3]),
    C("view_tuple", lambda m, x: x.view((3, 8)), [X3]),
    C("flatten", lambda m, x: x.flatten(), [X3]),
    C("flatten_start", lambda m, x: x.flatten(1), [X3]),
    C("flatten_range", lambda m, x: x.flatten(0, 1), [X3]),
    C("flatten_fn", lambda m, x: m.flatten(x), [X3]),
    C("squeeze_all", lambda m, x: x.squeeze(), [A((2, 1, 3, 1))]),
    C("squeeze_dim", lambda m, x: x.squeeze(1), [A((2, 1, 3, 1))]),
    C("squeeze_neg", lambda m, x: x.squeeze(-1), [A((2, 1, 3, 1))]),
    C("squeeze_noop", lambda m, x: x.squeeze(0), [A((2, 1, 3, 1))]),
    C("squeeze_fn", lambda m, x: m.squeeze(x), [A((2, 1, 3, 1))]),
    C("unsqueeze0", lambda m, x: x.unsqueeze(0), [X3]),
    C("unsqueeze_neg", lambda m, x: x.unsqueeze(-1), [X3]),
    C("unsqueeze_mid", lambda m, x: x.unsqueeze(2), [X3]),
    C("unsqueeze_fn", lambda m, x: m.unsqueeze(x, 1), [X3]),
    C("permute", lambda m, x: x.permute(2, 0, 1), [X3], fd=True),
    C("permute_tuple", lambda m, x: x.permute((1, 0, 2)), [X3]),
    C("permute_fn", lambda m, x: m.permute(x, (2, 0, 1)), [X3]),
    C("transpose", lambda m, x: x.transpose(0, 2), [X3]),
    C("transpose_neg", lambda m, x: x.transpose(-1, -2), [X3]),
    C("transpose_fn", lambda m, x: m.transpose(x, 0, 1), [X3]),
    C("t", lambda m, x: x.t(), [A((3, 4))]),
    C("t_1d", lambda m, x: x.t(), [A((3,))]),
    C("t_fn", lambda m, x: m.t(x), [A((3, 4))]),
    C("T", lambda m, x: x.T, [A((3, 4))]),
    C("expand", lambda m, x: x.expand(3, 2, 4), [A((1, 2, 4))]),
    C("expand_minus1", lambda m, x: x.expand(-1, 4), [A((3, 1))]),
    C("expand_new_dims", lambda m, x: x.expand(2, 3, 4), [A((3, 1))], fd=True),
    C("expand_tuple", lambda m, x: x.expand((2, 3)), [A((3,))]),
    C("repeat", lambda m, x: x.repeat(2, 1, 3), [X3], fd=True),
    C("repeat_1d", lambda m, x: x.repeat(2), [A((3,))]),
    C("repeat_new_dims", lambda m, x: x.repeat(2, 3), [A((3,))]),
    C("repeat_more_dims", lambda m, x: x.repeat(1, 1, 1, 2), [X3]),
    C("clone", lambda m, x: x.clone(), [X3]),
    C("contiguous_after_t", lambda m, x: x.transpose(0, 1).contiguous(), [X3]),
    C("contiguous", lambda m, x: x.contiguous() * 1, [X3]),
    C("to_float64", lambda m, x: x.to(m.float64), [X3]),
    C("to_dtype_kw", lambda m, x: x.to(dtype=m.float32), [X3]),
    C("double", lambda m, x: x.double(), [X3]),
    C("float", lambda m, x: x.float(), [X3]),
    C("detach", lambda m, x: x.detach(), [X3]),
    C("chain_views", lambda m, x: x.permute(2, 0, 1).reshape(4, 6).t()[1:, ::2].unsqueeze(0), [X3],
      check_name=False),
]

X = A((4, 5, 6))
INDEX = [
    C("int", lambda m, x: x[1], [X]),
    C("neg_int", lambda m, x: x[-1], [X]),
    C("two_ints", lambda m, x: x[0, 1], [X]),
    C("three_ints", lambda m, x: x[0, 1, 2], [X]),
    C("chained", lambda m, x: x[1][2], [X]),
    C("slice", lambda m, x: x[1:], [X]),
    C("slice_full", lambda m, x: x[:], [X]),
    C("slice_step", lambda m, x: x[:, ::2], [X], fd=True),
    C("slice_step3", lambda m, x: x[::3], [X]),
    C("slice_mixed", lambda m, x: x[1:3, ::2, -2:], [X]),
    C("slice_int_step", lambda m, x: x[-1, :, 1:5:2], [X]),
    C("slice_out_of_range", lambda m, x: x[2:100], [X]),
    C("none", lambda m, x: x[None], [X]),
    C("none_mid", lambda m, x: x[:, None], [X]),
    C("none_ellipsis_int", lambda m, x: x[None, ..., 0], [X]),
    C("none_slice_ellipsis_none", lambda m, x: x[None, 1:, ..., None], [X]),
    C("ellipsis_int", lambda m, x: x[..., 1], [X]),
    C("ellipsis", lambda m, x: x[...], [X], check_name=False),
    C("int_ellipsis_int", lambda m, x: x[0, ..., 1], [X]),
    C("bool_mask_full", lambda m, x, k: x[k], [X, Fixed(np.random.default_rng(0).random((4, 5, 6)) > 0.5)], fd=True),
    C("bool_mask_cmp", lambda m, x: x[x > 0], [X]),
    C("bool_mask_dim0", lambda m, x, k: x[k], [X, Fixed([True, False, True, True])]),
    C("bool_mask_dim1", lambda m, x, k: x[:, k], [X, Fixed([True, False, False, True, True])]),
    C("list", lambda m, x: x[[0, 2]], [X]),
    C("list_dupes", lambda m, x: x[[0, 0, 3]], [X], fd=True),
    C("list_neg", lambda m, x: x[[-1, -2]], [X]),
    C("int_tensor", lambda m, x: x[m.tensor([0, 2])], [X]),
    C("int_tensor_2d", lambda m, x: x[m.tensor([[0, 1], [2, 3]])], [X]),
    C("int_tensor_0d", lambda m, x: x[m.tensor(2)], [X]),
    C("pairwise_lists", lambda m, x: x[[0, 1], [1, 2]], [X]),
    C("adv_separated", lambda m, x: x[[0, 1], :, [2, 3]], [X]),
    C("adv_adjacent", lambda m, x: x[:, [0, 1], [2, 3]], [X]),
    C("slice_then_list", lambda m, x: x[1:, [0, 2]], [X]),
    C("int_then_list", lambda m, x: x[1, [0, 2]], [X]),
    C("ellipsis_list", lambda m, x: x[..., [0, -1]], [X]),
    C("list_bcast_tensor", lambda m, x: x[m.tensor([[0], [3]]), m.tensor([1, 2, 4])], [X]),
]

JOIN = [
    C("cat0", lambda m, a, b: m.cat([a, b]), [A((2, 3)), A((4, 3))], fd=True),
    C("cat1", lambda m, a, b, c: m.cat([a, b, c], dim=1), [A((2, 1)), A((2, 3)), A((2, 2))]),
    C("cat_neg", lambda m, a, b: m.cat((a, b), -1), [A((2, 3, 1)), A((2, 3, 2))]),
    C("cat_const", lambda m, a, b: m.cat([a, b]), [A((2, 3)), A((1, 3), requires_grad=False)]),
    C("cat_single", lambda m, a: m.cat([a]), [A((2, 3))]),
    C("stack0", lambda m, a, b: m.stack([a, b]), [A((2, 3)), A((2, 3))], fd=True),
    C("stack1", lambda m, a, b, c: m.stack([a, b, c], dim=1), [A((2, 3)), A((2, 3)), A((2, 3))]),
    C("stack_neg", lambda m, a, b: m.stack((a, b), -1), [A((2, 3)), A((2, 3))]),
    C("stack_0d", lambda m, a, b: m.stack([a, b]), [A(()), A(())]),
    C("split_int", lambda m, x: x.split(2), [A((5, 3))]),
    C("split_list", lambda m, x: x.split([1, 2], dim=1), [A((5, 3))]),
    C("split_neg_dim", lambda m, x: x.split(2, dim=-1), [A((2, 5))]),
    C("split_fn", lambda m, x: m.split(x, 2), [A((5, 3))]),
    C("split_one_used", lambda m, x: x.split(2)[1] * 3, [A((5, 3))], fd=True),
    C("chunk", lambda m, x: x.chunk(3), [A((5, 3))]),
    C("chunk_dim", lambda m, x: x.chunk(2, dim=1), [A((2, 4))]),
    C("chunk_fn", lambda m, x: m.chunk(x, 2), [A((4, 3))]),
    C("chunk_one_used", lambda m, x: x.chunk(2)[0].exp(), [A((4, 3))]),
]


def _setitem(idx_fn):
    def fn(m, x, v, *extra):
        y = x.clone()
        y[idx_fn(m, *extra)] = v
        return y

    return fn


SETITEM = [
    C("row", _setitem(lambda m: 0), [A((4, 3)), A((3,))], fd=True),
    C("rows_slice", _setitem(lambda m: slice(1, 3)), [A((4, 3)), A((2, 3))]),
    C("column", _setitem(lambda m: (slice(None), 1)), [A((4, 3)), A((4,))]),
    C("element", _setitem(lambda m: (1, 2)), [A((4, 3)), A(())]),
    C("row_bcast_0d", _setitem(lambda m: 1), [A((4, 3)), A(())]),
    C("step_bcast", _setitem(lambda m: slice(None, None, 2)), [A((4, 3)), A((3,))]),
    C("ellipsis_last", _setitem(lambda m: (Ellipsis, -1)), [A((4, 3)), A((4,))]),
    C("list", _setitem(lambda m: [0, 2]), [A((4, 3)), A((3,))], fd=True),
    C("int_tensor", _setitem(lambda m: m.tensor([3, 1])), [A((4, 3)), A((2, 3))]),
    C("bool_mask", lambda m, x, v, k: _setitem(lambda mm, kk: kk)(m, x, v, k),
      [A((4, 3)), A(()), Fixed([[True, False, True], [False, False, True], [True, True, False], [False, False, False]])]),
    C("scalar_value", lambda m, x: _set_scalar(m, x), [A((4, 3))]),
    C("into_const", _setitem(lambda m: 2), [A((4, 3), requires_grad=False), A((3,))]),
    C("twice", lambda m, x, v, w: _set_twice(m, x, v, w), [A((4, 3)), A((3,)), A((4,))]),
]


def _set_scalar(m, x):
    y = x * 2
    y[0, 1] = 5.0
    y[y > 1] = 0.0
    return y


def _set_twice(m, x, v, w):
    y = x.sin()  # sin saves its input, not its output, so overwriting y is allowed
    y[1] = v
    y[:, 0] = w
    return y * y


SPECIAL = [
    C("max_full_ties", lambda m, x: x.max(), [Fixed([[1.0, 3.0, 3.0], [2.0, 3.0, 0.0]])]),
    C("min_full_ties", lambda m, x: x.min(), [Fixed([[1.0, 0.0, 0.0]])]),
    C("amax_ties", lambda m, x: x.amax(1), [Fixed([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])]),
    C("amax_full_ties", lambda m, x: x.amax(), [Fixed([[1.0, 3.0, 3.0], [2.0, 3.0, 0.0]])]),
    C("max_dim_ties", lambda m, x: x.max(1), [Fixed([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])]),
    C("min_dim_ties", lambda m, x: x.min(0), [Fixed([[1.0, 3.0], [1.0, 2.0]])]),
    C("maximum_ties", lambda m, x, y: m.maximum(x, y), [Fixed([1.0, 2.0, 3.0]), Fixed([1.0, 0.0, 3.0])]),
    C("minimum_ties", lambda m, x, y: m.minimum(x, y), [Fixed([1.0, 2.0, 3.0]), Fixed([1.0, 0.0, 3.0])]),
    C("clamp_bounds", lambda m, x: x.clamp(0, 1), [Fixed([-1.0, 0.0, 0.5, 1.0, 2.0])]),
    C("clamp_min_bound", lambda m, x: x.clamp(min=0), [Fixed([-1.0, 0.0, 1.0])]),
    C("clamp_max_bound", lambda m, x: x.clamp(max=1), [Fixed([0.0, 1.0, 2.0])]),
    C("relu_zero", lambda m, x: x.relu(), [Fixed([-1.0, 0.0, 1.0])]),
    C("abs_zero", lambda m, x: x.abs(), [Fixed([-1.0, 0.0, 1.0])]),
    C("pow0_zero", lambda m, x: x ** 0, [Fixed([0.0, 1.0, -2.0])]),
    C("pow2_zero", lambda m, x: x ** 2, [Fixed([0.0, 1.0, -2.0])]),
    C("sqrt_zero", lambda m, x: x.sqrt(), [Fixed([0.0, 4.0])]),
    C("prod_zeros_full", lambda m, x: x.prod(), [Fixed([[1.0, 0.0, 3.0], [2.0, 2.0, 2.0]])]),
    C("prod_two_zeros_full", lambda m, x: x.prod(), [Fixed([[1.0, 0.0, 3.0], [0.0, 2.0, 2.0]])]),
    C("prod_zeros_dim", lambda m, x: x.prod(1), [Fixed([[1.0, 0.0, 3.0], [0.0, 0.0, 2.0], [1.0, 2.0, 3.0]])]),
    C("norm_zero", lambda m, x: x.norm(), [Fixed([0.0, 0.0, 0.0])]),
    C("norm_zero_row", lambda m, x: x.norm(dim=1), [Fixed([[0.0, 0.0], [3.0, 4.0]])]),
    C("std_constant_row", lambda m, x: x.std(1), [Fixed([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])]),
    C("where_equal", lambda m, x, y: m.where(x >= y, x, y), [Fixed([1.0, 2.0, 3.0]), Fixed([1.0, 5.0, 0.0])]),
    C("mixed_dtype_mul", lambda m, x, y: x * y, [A((2, 3), dtype="float32"), A((3,), dtype="float64")]),
    C("mixed_dtype_add", lambda m, x, y: x + y, [A((2, 3), dtype="float64"), A((3,), dtype="float32")]),
    C("mixed_dtype_div", lambda m, x, y: y / x, [A((2, 3), 0.5, 2.0, dtype="float32"), A((3,), dtype="float64")]),
    C("mixed_0d_f64", lambda m, x: x * m.tensor(2.5, dtype=m.float64), [A((2, 3))]),
    C("mixed_int_tensor", lambda m, x: x * m.tensor([1, 2, 3]), [A((2, 3))]),
    C("mixed_int_0d", lambda m, x: x + m.tensor(2), [A((2, 3))]),
    C("same_input_twice", lambda m, x: x * x + x, [A((3,))]),
    C("reuse_intermediate", lambda m, x: (lambda h: h * h.exp() + h)(x.sin()), [A((3, 2))]),
    C("no_grad_input", lambda m, x, y: x * y, [A((3,)), A((3,), requires_grad=False)]),
    C("to_same_dtype", lambda m, x: x.to(x.dtype), [A((3,))]),
    C("zero_d_ops", lambda m, x, y: (x * y + x.exp()) / y, [A(()), A((), 0.5, 2.0)]),
]

def _prefixed(prefix, cases):
    for c in cases:
        c.id = f"{prefix}_{c.id}"
    return cases


FIXED = MATMUL + SHAPE + _prefixed("index", INDEX) + JOIN + _prefixed("setitem", SETITEM) + SPECIAL
_ids = [c.id for c in FIXED]
assert len(_ids) == len(set(_ids)), "duplicate case ids"


@pytest.mark.parametrize("case,dtype", _params(FIXED))
def test_fixed_case(nb, case, dtype):
    arrays, rg = materialize(case.specs, dtype, seed=len(case.id))
    check_op(nb, case.fn, arrays, rg, check_name=case.check_name)


@pytest.mark.parametrize("case,dtype", _params([c for c in FIXED if c.smooth]))
def test_fixed_second_order(nb, case, dtype):
    arrays, rg = materialize(case.specs, dtype, seed=11)
    tol = {} if dtype == "float64" else dict(rtol=1e-4, atol=1e-4)
    check_second_order(nb, case.fn, arrays, rg, **tol)


SMOOTH_REDUCE = [
    C("softmax", lambda m, x: x.softmax(1), [A((3, 4))]),
    C("log_softmax", lambda m, x: x.log_softmax(0), [A((3, 4))]),
    C("logsumexp", lambda m, x: x.logsumexp(1), [A((3, 4))]),
    C("norm", lambda m, x: x.norm(), [A((3, 4), nonzero_min=0.2)]),
    C("norm_dim", lambda m, x: x.norm(dim=1), [A((3, 4), nonzero_min=0.2)]),
    C("std", lambda m, x: x.std(), [A((3, 4), unique=True)]),
    C("var_dim", lambda m, x: x.var(0), [A((3, 4), unique=True)]),
    C("prod", lambda m, x: x.prod(1), [A((3, 4), 0.5, 1.5)]),
    C("mean", lambda m, x: x.mean(0), [A((3, 4))]),
    C("cumsum", lambda m, x: x.cumsum(1), [A((3, 4))]),
    C("sum_sq", lambda m, x: (x * x).sum(1), [A((3, 4))]),
]


@pytest.mark.parametrize("case,dtype", _params(SMOOTH_REDUCE))
def test_reduction_second_order(nb, case, dtype):
    arrays, rg = materialize(case.specs, dtype, seed=13)
    tol = {} if dtype == "float64" else dict(rtol=1e-4, atol=1e-4)
    check_second_order(nb, case.fn, arrays, rg, **tol)


FD_CASES = (
    [c for c in FIXED if c.fd]
    + SMOOTH_REDUCE[:8]
    + [
        C("exp", lambda m, x: x.exp(), [A((2, 3))]),
        C("log", lambda m, x: x.log(), [A((2, 3), 0.2, 3.0)]),
        C("sin_cos", lambda m, x: x.sin() * x.cos(), [A((2, 3))]),
        C("tanh_sigmoid", lambda m, x: x.tanh() + x.sigmoid(), [A((2, 3))]),
        C("pow_tt", lambda m, x, y: x ** y, [A((2, 3), 0.5, 2.0), A((3,))]),
        C("div_bcast", lambda m, x, y: x / y, [A((2, 3)), A((3,), 0.5, 2.0)]),
        C("where", lambda m, x, y: m.where(x > 0, x * y, y.exp()), [A((2, 3), nonzero_min=0.1), A((3,))]),
        C("max_dim", lambda m, x: x.max(1).values, [A((3, 4), unique=True)]),
        C("sqrt_tan", lambda m, x: x.sqrt() + x.tan(), [A((2, 3), 0.2, 1.2)]),
    ]
)


@pytest.mark.parametrize("case", FD_CASES, ids=repr)
def test_finite_differences(nb, case):
    arrays, rg = materialize(case.specs, "float64", seed=17)
    check_finite_differences(nb, case.fn, arrays, rg)


# ===========================================================================
# grad_fn names and the printed form of results
# ===========================================================================

# Expressions evaluated with m (the module), x, y (1-d, float32, requires_grad),
# M (2x3), B (2x3x4), v (3,) -- names asked from torch and compared.
NAME_EXPRS = [
    "x ** 2", "x ** y", "2 ** x", "x.pow(2)", "x * y", "x * 2", "2 * x", "x + y", "x + 1", "1 + x",
    "x - y", "x - 1", "2 - x", "x / y", "x / 2", "2 / x", "-x", "abs(x)", "x.exp()", "x.log()",
    "x.sqrt()", "x.sin()", "x.cos()", "x.tan()", "x.tanh()", "x.sigmoid()", "x.relu()", "m.relu(x)",
    "x.clamp(min=0)", "x.clamp(max=1)", "x.clamp(0, 1)", "m.maximum(x, y)", "m.minimum(x, y)",
    "m.where(x > 1, x, y)", "x.sum()", "M.sum(0)", "M.sum((0, 1))", "x.mean()", "M.mean(1)",
    "x.prod()", "M.prod(1)", "x.max()", "x.min()", "M.max(1)[0]", "M.max(1).values", "M.min(0).values",
    "M.amax(1)", "x.norm()", "M.norm(dim=1)", "x.std()", "M.var(1)", "x.cumsum(0)", "x.softmax(0)",
    "x.log_softmax(0)", "M.logsumexp(1)", "x @ y", "x.dot(y)", "M @ v", "M.mv(v)", "M @ M.t()",
    "M.mm(M.t())", "v @ M.t()", "B @ B.transpose(1, 2)", "B @ v.repeat(2)[:4]", "B.bmm(B.transpose(1, 2))",
    "M.reshape(6)", "M.reshape(3, 2)", "M.view(-1)", "M.flatten()", "M.t().reshape(-1)", "M.unsqueeze(0)",
    "M.unsqueeze(0).squeeze()", "M.unsqueeze(1).squeeze(1)", "M.permute(1, 0)", "M.transpose(0, 1)",
    "M.t()", "M.T", "x.expand(2, 3)", "x.repeat(2)", "x[0]", "x[1:]", "x[::2]", "x[None]", "M[0, 1]",
    "M[:, 1]", "M[..., 0]", "x[...]", "x[x > 1]", "x[[0, 2]]", "x[m.tensor([0, 2])]", "M[[0, 1], [1, 2]]",
    "m.cat([x, y])", "m.stack([x, y])", "x.split(2)[0]", "x.split([1, 2])[1]", "x.chunk(2)[1]",
    "M.unbind(0)[1]", "x.clone()", "x.double()", "x.to(m.float64)",
    "M.t().contiguous()", "x.sum() * 2", "(x * y).sum()", "x.max(0)[0]",
]


def _name_env(m):
    rg = dict(requires_grad=True)
    return dict(
        m=m,
        x=m.tensor([1.0, 2.0, 3.0], **rg),
        y=m.tensor([4.0, 5.0, 6.0], **rg),
        M=m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], **rg),
        B=m.tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 10, **rg),
        v=m.tensor([0.5, -1.0, 2.0], **rg),
    )


def _eval(m, expr):
    return eval(expr, {}, _name_env(m))  # noqa: S307 - test-only, fixed expressions


@pytest.mark.parametrize("expr", NAME_EXPRS)
def test_grad_fn_name(nb, expr):
    t = _eval(torch, expr)
    n = _eval(nb, expr)
    assert t.grad_fn is not None, "oracle problem: no grad_fn in torch"
    assert n.grad_fn is not None, f"engine result of {expr!r} has no grad_fn"
    assert type(n.grad_fn).__name__ == type(t.grad_fn).__name__
    assert n.grad_fn.name() == t.grad_fn.name()
    assert n.requires_grad and not n.is_leaf


# repr() of results with "tutorial" values; grad_fn=<...> is part of the printed form.
REPR_EXPRS = [
    "x", "x ** 2", "x * y", "x + 1", "2 - x", "x / 2", "-x", "x.sum()", "x.mean()", "M.sum(0)", "M.mean(1)",
    "x.exp()", "x.sin()", "x.sigmoid()", "x.relu()", "x.log()", "x @ y", "M @ v", "M @ M.t()", "x[0]",
    "x[1:]", "M.t()", "M.reshape(3, 2)", "m.cat([x, y])", "m.stack([x, y])", "x.max()", "M.max(1).values",
    "x.clone()", "x.double()", "x.detach()", "x.std()", "x.softmax(0)", "(x * 2).sum() / 3",
]


@pytest.mark.parametrize("expr", REPR_EXPRS)
def test_repr_of_result(nb, expr):
    assert repr(_eval(nb, expr)) == repr(_eval(torch, expr))


def test_max_dim_returns_values_and_indices(nb):
    def run(m):
        x = m.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
        r = x.max(dim=1)
        values, indices = r
        r2 = x.min(1, keepdim=True)
        return [
            r.values.tolist(), r.indices.tolist(), values.tolist(), indices.tolist(), r[0].tolist(), r[1].tolist(),
            str(r.indices.dtype), r.indices.requires_grad, grad_fn_name(r.values),
            r2.values.tolist(), r2.indices.tolist(), tuple(r2.indices.shape), len(r),
        ]

    expected = run(torch)
    assert run(nb) == expected
    assert expected[1] == [1, 0]


def test_split_chunk_sizes(nb):
    def sizes(m):
        x = m.ones(7, 4)
        return [
            [tuple(t.shape) for t in x.split(3)],
            [tuple(t.shape) for t in x.split([2, 5])],
            [tuple(t.shape) for t in x.split(3, dim=1)],
            [tuple(t.shape) for t in x.chunk(3)],
            [tuple(t.shape) for t in x.chunk(4, dim=1)],
            [tuple(t.shape) for t in m.split(x, 7)],
            type(x.split(3)).__name__,
        ]

    expected = sizes(torch)
    assert sizes(nb) == expected
    assert expected[0] == [(3, 4), (3, 4), (1, 4)]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_setitem_version_and_leafness(nb, dtype):
    def run(m):
        x = m.zeros(3, 2, dtype=getattr(m, dtype))
        v = m.ones(2, dtype=getattr(m, dtype), requires_grad=True)
        x[1] = v
        out = [x.requires_grad, x.is_leaf, grad_fn_name(x), x._version, x.tolist()]
        (x * 3).sum().backward()
        out.append(v.grad.tolist())
        return out

    assert run(nb) == run(torch)
