"""The backend seam, without a GPU: the op suite on a strict fake GPU, compared with torch.

``strict_backend`` stands in for CuPy: its arrays live on "cuda:0" and refuse every implicit
conversion to NumPy with CuPy's ``TypeError`` (and, stricter than CuPy, refuse NumPy's
ufuncs/functions and host index arrays too). The fixtures point ``nbautograd.cuda`` at it
through the public test hook ``cuda._use_backend``; tensors get there through the public API
(``tensor(..., device=)`` under ``set_default_device("cuda")``, ``.to("cuda")``, ``.cuda()``)
and come back with ``.cpu()``. A stray ``np.<fn>(data)`` in an op's forward or backward rule
fails here.

The cases are the ones of ``test_ops_vs_torch`` (imported, not copied): every fixed case,
every unary / binary / reduction case on a few shapes, forward and backward (and, for the
smooth ones, a Hessian-vector product through ``create_graph``), against PyTorch on the CPU.
Then devices as torch has them: printing (``device='cuda:0'``), errors for mixed devices,
``.numpy()``, moves and their gradients, factories, the ``torch.cuda`` functions.
"""
import re
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nbautograd as nb  # noqa: E402
from nbautograd import cuda as nb_cuda  # noqa: E402

import strict_backend as sb  # noqa: E402
from conftest import engine_name  # noqa: E402
from oracle import (A, assert_values_close, cotangent_like, dtype_name,  # noqa: E402
                    flatten_outputs, grad_fn_name, make_inputs, materialize)
from test_ops_vs_torch import (BINARY, FIXED, REDUCE_DIM, REDUCE_FULL, REPR_EXPRS,  # noqa: E402
                               SMOOTH_REDUCE, UNARY, C, _eval, _params)

pytestmark = pytest.mark.skipif(engine_name() != "nbautograd",
                                reason="the backend seam is nbautograd's own")

GPU = nb.device("cuda", 0)
# the array type GPU tensors must hold: the strict stand-in here; test_cuda sets CuPy's
ARRAY_TYPE = [sb.StrictArray]


@pytest.fixture
def gpu():
    """``nbautograd.cuda`` backed by the strict fake GPU."""
    with sb.installed():
        yield GPU


@pytest.fixture
def on_gpu(gpu):
    """...and factories (``tensor`` included) create tensors there, as torch's
    ``set_default_device("cuda")`` does."""
    nb.set_default_device("cuda")
    try:
        yield gpu
    finally:
        nb.set_default_device(None)


def host(t):
    """A NumPy copy of a (GPU) tensor, through the public API."""
    return np.array(t.detach().cpu().numpy(), copy=True)


def _on_gpu(t, what):
    assert t.device == GPU, f"{what}: on {t.device}, expected cuda:0"
    assert t.is_cuda and type(t._data) is ARRAY_TYPE[0], what


def _same(a, b, what, rtol=None, atol=None, check_name=True):
    """GPU tensor ``a`` (nbautograd) against CPU tensor ``b`` (torch)."""
    _on_gpu(a, what)
    assert dtype_name(a) == dtype_name(b), f"{what}: dtype {a.dtype} != torch {b.dtype}"
    assert tuple(a.shape) == tuple(b.shape), f"{what}: shape {tuple(a.shape)} != {tuple(b.shape)}"
    assert_values_close(host(a), b.detach().numpy(), dtype=dtype_name(b).replace("torch.", ""),
                        rtol=rtol, atol=atol, what=what)
    assert a.requires_grad == b.requires_grad, f"{what}: requires_grad differs"
    if check_name:
        assert grad_fn_name(a) == grad_fn_name(b), \
            f"{what}: grad_fn {grad_fn_name(a)} != torch {grad_fn_name(b)}"


def check_on_gpu(fn, arrays, rg=None, *, check_name=True, seed=1234, rtol=None, atol=None):
    """``fn(m, *inputs)``: nbautograd on the fake GPU against torch on the CPU -- outputs,
    grad_fn names, then the inputs' gradients for random cotangents (made on the GPU too)."""
    if rg is None:
        rg = [isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays]
    t_in = make_inputs(torch, arrays, rg)
    t_outs = flatten_outputs(torch, fn(torch, *t_in))
    n_in = make_inputs(nb, arrays, rg)  # the default device is cuda: leaves on the GPU
    for i, x in enumerate(n_in):
        if isinstance(x, nb.Tensor):
            _on_gpu(x, f"input {i}")
    n_outs = flatten_outputs(nb, fn(nb, *n_in))
    assert len(n_outs) == len(t_outs)
    for i, (a, b) in enumerate(zip(n_outs, t_outs)):
        _same(a, b, f"output {i}", rtol, atol, check_name)
    idx = [i for i, o in enumerate(t_outs) if o.requires_grad]
    if not idx:
        return
    rng = np.random.default_rng(seed)
    cots = [cotangent_like(t_outs[i], rng) for i in idx]
    torch.autograd.backward([t_outs[i] for i in idx], [torch.tensor(c) for c in cots])
    nb.autograd.backward([n_outs[i] for i in idx], [nb.tensor(c) for c in cots])
    for i, (a, b) in enumerate(zip(n_in, t_in)):
        if not isinstance(b, torch.Tensor):
            continue
        if b.grad is None:
            assert a.grad is None, f"input {i}: torch .grad is None, engine gave {a.grad!r}"
            continue
        assert a.grad is not None, f"input {i}: engine .grad is None"
        _same(a.grad, b.grad, f"grad of input {i}", rtol, atol, check_name=False)


def _hvp(m, fn, arrays, rg, seed, to_host):
    ins = make_inputs(m, arrays, rg)
    diff = [x for x in ins if isinstance(x, m.Tensor) and x.requires_grad]
    out = flatten_outputs(m, fn(m, *ins))[0]
    rng = np.random.default_rng(seed)
    g = m.tensor(cotangent_like(out, rng))
    grads = m.autograd.grad(out, diff, grad_outputs=g, create_graph=True, allow_unused=True)
    vs = [m.tensor(cotangent_like(x, rng)) for x in diff]
    first = [None if gi is None else to_host(gi) for gi in grads]
    s = None
    for gi, vi in zip(grads, vs):
        if gi is not None:
            term = (gi * vi).sum()
            s = term if s is None else s + term
    if s is None or not s.requires_grad:
        return first, [np.zeros(tuple(x.shape)) for x in diff]
    hv = m.autograd.grad(s, diff, allow_unused=True)
    return first, [np.zeros(tuple(x.shape)) if h is None else to_host(h) for h, x in zip(hv, diff)]


def check_second_order_on_gpu(fn, arrays, rg=None, *, seed=99, rtol=None, atol=None):
    """Hessian-vector products through ``create_graph=True`` (the rules run on Tensors that
    live on the GPU) against torch."""
    if rg is None:
        rg = [isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays]
    t_first, t_second = _hvp(torch, fn, arrays, rg, seed, lambda t: t.detach().numpy())

    def gpu_host(t):
        _on_gpu(t, "gradient")
        return host(t)
    n_first, n_second = _hvp(nb, fn, arrays, rg, seed, gpu_host)
    for i, (a, b) in enumerate(zip(n_first, t_first)):
        assert (a is None) == (b is None), f"first-order grad {i}: None-ness differs"
        if b is not None:
            assert_values_close(a, b, dtype=str(b.dtype), rtol=rtol, atol=atol,
                                what=f"first-order grad {i}")
    for i, (a, b) in enumerate(zip(n_second, t_second)):
        assert_values_close(a, b.astype(a.dtype), dtype=str(a.dtype), rtol=rtol, atol=atol,
                            what=f"second-order grad {i}")


# =============================================================================================
# the op suite on the fake GPU
# =============================================================================================
@pytest.mark.parametrize("case,dtype", _params(FIXED))
def test_fixed_case_on_gpu(on_gpu, case, dtype):
    arrays, rg = materialize(case.specs, dtype, seed=len(case.id))
    check_on_gpu(case.fn, arrays, rg, check_name=case.check_name)


# ops the differential lists above do not reach
EXTRA = [
    C("index_select", lambda m, x: x.index_select(1, m.tensor([2, 0, 2])), [A((3, 4))]),
    C("gather", lambda m, x: x.gather(1, m.tensor([[0, 3], [1, 1], [2, 0]])), [A((3, 4))]),
    C("masked_fill", lambda m, x: x.masked_fill(x > 0, -1.0), [A((3, 4))]),
    C("masked_fill_", lambda m, x: (x * 1).masked_fill_(x < 0, 2.0), [A((3, 4))]),
    C("masked_select", lambda m, x: x.masked_select(x > 0), [A((3, 4))], check_name=False),
    C("nonzero", lambda m, x: (x > 0).nonzero(), [A((3, 4))]),
    C("nonzero_tuple", lambda m, x: m.where(x > 0), [A((3, 4))]),
    C("narrow", lambda m, x: x.narrow(1, 1, 2), [A((3, 4))]),
    C("select", lambda m, x: x.select(0, -1), [A((3, 4))]),
    C("flip", lambda m, x: x.flip(0, 1), [A((3, 4))]),
    C("unbind", lambda m, x: x.unbind(1), [A((3, 4))]),
    C("argmax", lambda m, x: (x.argmax(), x.argmax(1), x.argmin(0, keepdim=True)),
      [A((3, 4), unique=True)]),
    C("div_floor", lambda m, x, y: x.div(y, rounding_mode="floor").detach(),
      [A((3, 4)), A((4,), 0.5, 2)]),
    C("div_trunc", lambda m, x: x.div(0.7, rounding_mode="trunc").detach(), [A((3, 4))]),
    C("logical", lambda m, x: (~(x > 0)).logical_and(x < 1).logical_or(x.logical_not()),
      [A((3, 4))]),
    C("remainder", lambda m, x: ((x % 0.5).detach(), (x // 0.5).detach()), [A((3, 4))]),
    C("clamp_tensors", lambda m, x, lo: x.clamp(min=lo, max=lo + 1), [A((3, 4)), A((4,))],
      check_name=False),
    C("where_python_cond", lambda m, x, y: m.where(m.tensor([True, False, True, False]), x, y),
      [A((3, 4)), A((4,))]),
    C("fill_zero", lambda m, x: (x * 1).fill_(2.0) + (x * 1).zero_(), [A((3, 4))]),
    C("view_write", lambda m, x, v: _write_view(m, x, v), [A((3, 4)), A((2,))]),
    C("int_ops", lambda m, x: ((x * 10).long() % 3, (x > 0).sum(), (x * 3).int().float()),
      [A((3, 4))]),
    C("prod_zero", lambda m, x: (x * (x > 0)).prod(1), [A((3, 4))]),
    C("sum_int", lambda m, x: m.tensor([[1, 2], [3, 4]]).sum(0) * x.sum(), [A((2,))]),
    C("mean_empty", lambda m, x: m.zeros(0).mean() + x.mean(), [A((2,))]),
    C("softmax_0d", lambda m, x: x.sum().softmax(0) + x.sum().log_softmax(0), [A((2,))]),
    C("max_0d_dim", lambda m, x: x.sum().max(0).values, [A((3,))]),
    C("clone_T_contig", lambda m, x: x.T.contiguous().clone().reshape(-1), [A((3, 4))]),
]


def _write_view(m, x, v):
    y = x * 2
    y[1:, 2] = v  # through a view: CopySlices, then the view's AsStridedBackward0
    z = y.t()
    z[0] = z[0] * 3
    return y


@pytest.mark.parametrize("case", EXTRA, ids=repr)
def test_extra_ops_on_gpu(on_gpu, case):
    arrays, rg = materialize(case.specs, "float32", seed=7)
    check_on_gpu(case.fn, arrays, rg, check_name=case.check_name)


UNARY_SHAPES = [(), (3,), (2, 3)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", UNARY, ids=repr)
def test_unary_on_gpu(on_gpu, case, dtype):
    for k, shape in enumerate(UNARY_SHAPES):
        arrays, _ = materialize([A(shape, case.lo, case.hi, nonzero_min=case.nonzero_min)],
                                dtype, seed=k)
        check_on_gpu(case.fn, arrays)


BINARY_SHAPES = [((2, 3), (2, 3)), ((2, 3), (3,)), ((), (2, 1)), ((3, 1), (1, 4)),
                 ((2, 1, 3), ())]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", BINARY, ids=repr)
def test_binary_on_gpu(on_gpu, case, dtype):
    for k, (sa, sb_) in enumerate(BINARY_SHAPES):
        specs = [A(sa, case.a[0], case.a[1], nonzero_min=case.a[2]),
                 A(sb_, case.b[0], case.b[1], nonzero_min=case.b[2])]
        arrays, _ = materialize(specs, dtype, seed=k)
        check_on_gpu(case.fn, arrays)


def _reduce_input(case, shape, dtype, seed):
    (x,), _ = materialize([A(shape, case.lo, case.hi, unique=case.unique,
                             nonzero_min=case.nonzero_min)], dtype, seed=seed)
    if case.grid:
        x = (np.round(x / case.grid) * case.grid).astype(dtype)
    return x


@pytest.mark.parametrize("case", REDUCE_DIM, ids=repr)
def test_reduction_dim_on_gpu(on_gpu, case):
    dims = [0, -1, 1] + ([(0, 2)] if case.tuple_dims else [])
    for k, dim in enumerate(dims):
        for keepdim in (False, True):
            x = _reduce_input(case, (2, 3, 4), "float32", k)
            check_on_gpu(lambda m, t: case.fn(m, t, dim, keepdim), [x])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", REDUCE_FULL, ids=repr)
def test_reduction_full_on_gpu(on_gpu, case, dtype):
    std_var = case.id.startswith(("std", "var"))
    for k, shape in enumerate([(3, 4), (2,)] + ([] if std_var else [()])):
        (x,), _ = materialize([A(shape)], dtype, seed=k)
        if std_var:
            x = (np.round(x / 0.25) * 0.25).astype(dtype)
        check_on_gpu(case.fn, [x])


SECOND_ORDER = ([c for c in FIXED if c.smooth] + SMOOTH_REDUCE)


@pytest.mark.parametrize("case", SECOND_ORDER, ids=repr)
def test_second_order_on_gpu(on_gpu, case):
    arrays, rg = materialize(case.specs, "float64", seed=11)
    check_second_order_on_gpu(case.fn, arrays, rg)


@pytest.mark.parametrize("case", [u for u in UNARY if u.smooth], ids=repr)
def test_unary_second_order_on_gpu(on_gpu, case):
    arrays, rg = materialize([A((3, 4), case.lo, case.hi, nonzero_min=case.nonzero_min)],
                             "float64", seed=3)
    check_second_order_on_gpu(case.fn, arrays, rg)


@pytest.mark.parametrize("case", [b for b in BINARY if b.smooth], ids=repr)
def test_binary_second_order_on_gpu(on_gpu, case):
    specs = [A((2, 3), case.a[0], case.a[1], nonzero_min=case.a[2]),
             A((3,), case.b[0], case.b[1], nonzero_min=case.b[2])]
    arrays, rg = materialize(specs, "float64", seed=5)
    check_second_order_on_gpu(case.fn, arrays, rg)


def test_batched_grads_on_gpu(on_gpu):
    def run(m):
        x = m.tensor([[1.0, -2.0, 3.0], [0.5, 0.25, -1.0]], requires_grad=True)
        y = (x.exp() * x.sum(0)).tanh()
        eye = m.eye(6).reshape(6, 2, 3)
        (jac,) = m.autograd.grad(y, x, eye, is_grads_batched=True)
        return jac
    got = run(nb)
    _on_gpu(got, "jacobian")
    assert_values_close(host(got), run(torch).numpy(), dtype="float32")


# =============================================================================================
# the strict stand-in really is strict
# =============================================================================================
def test_strict_array_refuses_numpy(gpu):
    x = nb.tensor([1.0, -2.0], device="cuda")
    d = x._data
    for conv in (np.asarray, np.array, np.exp, np.sum, lambda a: np.concatenate([a, a]),
                 lambda a: np.float32(2) * a, lambda a: np.ones(2) + a):
        with pytest.raises(TypeError, match=re.escape(sb.MESSAGE) + "|Unsupported type"):
            conv(d)
    with pytest.raises(TypeError, match="Unsupported type"):
        d + np.ones(2)
    with pytest.raises(TypeError, match="NumPy index array"):
        d[np.array([0])]
    assert isinstance(d.get(), np.ndarray) and d.device.id == 0
    assert type(d.sum()) is sb.StrictArray and d.sum().ndim == 0  # 0-d arrays, as CuPy


# =============================================================================================
# printing: the display boundary converts, and prints torch's CUDA suffix
# =============================================================================================
def torch_cuda_repr(t) -> str:
    """What torch prints for ``t`` were it on cuda:0 -- torch's own printing code, told that
    the device is not the default one and that its name is ``cuda:0`` (line wrapping
    included)."""
    from torch import _tensor_str as ts
    add, default = ts._add_suffixes, torch._C._get_default_device

    def add_suffixes(tensor_str, suffixes, indent, force_newline):
        suffixes = ["device='cuda:0'" if s == "device='cpu'" else s for s in suffixes]
        return add(tensor_str, suffixes, indent, force_newline)
    ts._add_suffixes, torch._C._get_default_device = add_suffixes, lambda: "cuda"
    try:
        return repr(t)
    finally:
        ts._add_suffixes, torch._C._get_default_device = add, default


def test_repr_anchor(on_gpu):
    x = nb.tensor([0.5, 1.0], requires_grad=True)
    assert repr(x * 2) == "tensor([1., 2.], device='cuda:0', grad_fn=<MulBackward0>)"
    assert repr(x) == "tensor([0.5000, 1.0000], device='cuda:0', requires_grad=True)"
    y = nb.tensor(5.0, requires_grad=True) ** 2
    assert repr(y) == "tensor(25., device='cuda:0', grad_fn=<PowBackward0>)"
    y.backward()
    assert str(y) == repr(y)
    assert repr(nb.tensor([1, 2])) == "tensor([1, 2], device='cuda:0')"
    assert repr(nb.tensor([1., 2.], dtype=nb.float64)) == \
        "tensor([1., 2.], device='cuda:0', dtype=torch.float64)"
    assert repr(nb.zeros(0, 3)) == "tensor([], device='cuda:0', size=(0, 3))"
    for code in (lambda m: m.tensor([1.0, 2.0], dtype=m.float64) * 2,
                 lambda m: m.arange(30.).reshape(3, 10).requires_grad_() * 1e5,
                 lambda m: m.zeros(0, dtype=m.int64), lambda m: m.tensor([True, False])):
        assert repr(code(nb)) == torch_cuda_repr(code(torch))
    assert f"{nb.tensor(2.5):.2f}" == "2.50"


@pytest.mark.parametrize("expr", REPR_EXPRS)
def test_repr_of_result_on_gpu(on_gpu, expr):
    assert repr(_eval(nb, expr)) == torch_cuda_repr(_eval(torch, expr))


def test_gradients_print_on_gpu(on_gpu):
    x = nb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x ** 2).sum().backward()
    assert repr(x.grad) == "tensor([2., 4., 6.], device='cuda:0')"
    big = nb.arange(2000.).reshape(40, 50)
    assert repr(big) == torch_cuda_repr(torch.arange(2000.).reshape(40, 50))


def test_explicit_transfers_work(on_gpu):
    x = nb.tensor([[1.5, -2.0], [3.0, 4.0]])
    assert x.tolist() == [[1.5, -2.0], [3.0, 4.0]]
    assert x[0, 0].item() == 1.5 and float(x[1, 1]) == 4.0 and int(x[1, 0]) == 3
    assert bool(x[0, 0] > 0)
    assert x.cpu().numpy().tolist() == [[1.5, -2.0], [3.0, 4.0]]
    assert x.numpy(force=True).tolist() == [[1.5, -2.0], [3.0, 4.0]]


def test_numpy_of_gpu_tensor_raises_torch_error(on_gpu):
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    msg = ("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the "
           "tensor to host memory first.")
    for code in (lambda: x.numpy(), lambda: x.detach().numpy(), lambda: np.asarray(x.detach())):
        with pytest.raises(TypeError) as e:
            code()
        assert str(e.value) == msg
    assert host(x).tolist() == [1.0, 2.0]


def test_viz_draw_gpu_tensor(on_gpu):
    from nbautograd import viz
    w = nb.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    view = viz.draw(loss, names={"w": w, "loss": loss})
    text = view.text()
    assert "w = leaf  (2,) float32 cuda:0  data=[1, 2]  grad=[2, 4]" in text
    assert "loss = SumBackward0(mul)  () float32 cuda:0  data=5" in text
    assert "grads: w ← [1, 2], w ← [1, 2]" in text  # gradients recomputed on the GPU
    assert "digraph" in view.dot


# =============================================================================================
# devices as torch has them
# =============================================================================================
MIXED = "Expected all tensors to be on the same device, but found at least two devices, "


@pytest.mark.parametrize("code", [
    lambda g, c: g + c, lambda g, c: c + g, lambda g, c: g * c, lambda g, c: c / g,
    lambda g, c: g - c, lambda g, c: nb.maximum(g, c), lambda g, c: g ** c,
    lambda g, c: g == c, lambda g, c: g < c, lambda g, c: nb.where(g > 0, g, c),
], ids=["add", "radd", "mul", "div", "sub", "maximum", "pow", "eq", "lt", "where"])
def test_mixed_devices_elementwise(gpu, code):
    g = nb.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    c = nb.tensor([3.0, 4.0])
    with pytest.raises(RuntimeError) as e:
        code(g, c)
    assert str(e.value) == MIXED + "cuda:0 and cpu!"


def test_mixed_devices_other_ops(gpu):
    g = nb.ones(2, 3, device="cuda")
    c = nb.ones(3, 2)
    with pytest.raises(RuntimeError) as e:
        g @ c
    assert str(e.value) == ("Expected all tensors to be on the same device, but got mat2 is on "
                            "cpu, different from other tensors on cuda:0 (when checking argument "
                            "in method wrapper_CUDA_mm)")
    with pytest.raises(RuntimeError) as e:
        nb.cat([g, c.t()])
    assert str(e.value) == ("Expected all tensors to be on the same device, but got tensors is "
                            "on cpu, different from other tensors on cuda:0 (when checking "
                            "argument in method wrapper_CUDA_cat)")
    with pytest.raises(RuntimeError, match="same device"):
        nb.stack([g, c.t()])
    with pytest.raises(RuntimeError, match="same device"):
        g.masked_fill(nb.ones(2, 3, dtype=nb.bool), 0.0)


def test_cpu_scalar_tensor_joins_the_gpu(gpu):
    """A 0-d CPU tensor may meet GPU tensors (as in torch); its gradient comes back to it."""
    g = nb.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    s = nb.tensor(3.0, requires_grad=True)
    y = g * s + nb.tensor(1.0)
    assert y.device == GPU and y.tolist() == [4.0, 7.0]
    y.sum().backward()
    assert g.grad.device == GPU and g.grad.tolist() == [3.0, 3.0]
    assert s.grad.device == nb.device("cpu") and s.grad.item() == 3.0
    assert repr(s.grad) == "tensor(3.)"


def test_moves_and_their_gradients(gpu):
    x = nb.tensor([1.0, -2.0, 3.0], requires_grad=True)
    for move in (lambda t: t.cuda(), lambda t: t.cuda(0), lambda t: t.to("cuda"),
                 lambda t: t.to("cuda:0"), lambda t: t.to(nb.device("cuda")), lambda t: t.to(0),
                 lambda t: t.to(device="cuda"), lambda t: t.to("cuda", non_blocking=True)):
        y = move(x)
        assert y.device == GPU and y.is_cuda and not y.is_cpu and y.get_device() == 0
        assert y.grad_fn.name() == "ToCopyBackward0"
    y = x.to("cuda", nb.float64)
    assert y.dtype is nb.float64 and y.device == GPU
    y = x.cuda()
    assert y.to("cuda") is y and y.cuda() is y and x.cpu() is x and x.get_device() == -1
    back = (y * y).cpu()
    assert back.device == nb.device("cpu") and back.grad_fn.name() == "ToCopyBackward0"
    (back.sum() + (y.exp() * 0).sum().cpu()).backward()
    assert x.grad.device == nb.device("cpu") and x.grad.tolist() == [2.0, -4.0, 6.0]
    other = nb.ones(1, device="cuda", dtype=nb.float64)
    z = x.detach().to(other)
    assert z.device == GPU and z.dtype is nb.float64
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        x.to("cuda:1")


def test_cpu_ops_before_and_after_a_move(gpu):
    """One backward pass through CPU -> GPU -> CPU: each rule runs on its own device."""
    def run(m, dev):
        x = m.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
        h = (x.sin() * 2).to(dev)
        h = (h @ h.t()).logsumexp(1)
        out = (h.to("cpu") * m.tensor([1.0, -3.0])).sum()
        out.backward()
        return x.grad
    g = run(nb, "cuda")
    assert g.device == nb.device("cpu")
    assert_values_close(g.numpy(), run(torch, "cpu").numpy(), dtype="float32")


def test_gradient_device_check(gpu):
    y = nb.tensor([1.0, 2.0], device="cuda", requires_grad=True) * 2
    with pytest.raises(RuntimeError) as e:
        y.backward(nb.ones(2))
    assert str(e.value) == "invalid gradient at index 0 - expected device cuda:0 but got cpu"
    z = nb.tensor(2.0, device="cuda", requires_grad=True)
    (z * 3).backward(nb.tensor(1.0))  # a 0-d gradient is moved, as torch's engine does
    assert z.grad.device == GPU and z.grad.item() == 3.0


def test_inplace_on_gpu(on_gpu):
    p = nb.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    with nb.no_grad():
        p -= 0.5 * p.grad
    assert p.device == GPU and p.tolist() == [0.0, 0.0] and p._version == 1
    p.grad.zero_()
    assert p.grad.tolist() == [0.0, 0.0]
    q = nb.zeros(3)
    q.add_(1).mul_(nb.tensor([1.0, 2.0, 3.0]))
    q[0] = 5.0
    q[nb.tensor([1, 2])] = nb.tensor(7.0)
    assert q.tolist() == [5.0, 7.0, 7.0] and q.device == GPU
    q.copy_(nb.tensor([1.0, 2.0, 3.0], device="cpu"))  # copy_ crosses devices, as in torch
    assert q.tolist() == [1.0, 2.0, 3.0] and q.device == GPU
    a = nb.tensor([1.0, 2.0], requires_grad=True)
    b = a.sin()
    b.mul_(2)
    c = a.exp()
    c.add_(1)
    with pytest.raises(RuntimeError, match=re.escape("[torch.cuda.FloatTensor [2]]")):
        d = a.sin()
        e = d * d
        d.add_(1)
        e.sum().backward()


def test_factories_on_gpu(gpu):
    cases = [
        lambda m, d: m.zeros(2, 3, device=d), lambda m, d: m.ones(2, device=d, dtype=m.float64),
        lambda m, d: m.full((2,), 7, device=d), lambda m, d: m.eye(3, device=d),
        lambda m, d: m.arange(5, device=d), lambda m, d: m.arange(0., 1., 0.25, device=d),
        lambda m, d: m.linspace(0, 1, 5, device=d), lambda m, d: m.empty(2, device=d).shape,
        lambda m, d: m.tensor([[1, 2]], device=d),
        lambda m, d: m.zeros_like(m.ones(2, device=d)),
        lambda m, d: m.ones(2, device=d).new_zeros(3), lambda m, d: m.full_like(
            m.ones(2, device=d), 3.5),
        lambda m, d: m.as_tensor([1.0, 2.0], device=d),
    ]
    for i, code in enumerate(cases):
        got, want = code(nb, "cuda"), code(torch, "cpu")
        if isinstance(want, torch.Tensor):
            _on_gpu(got, f"factory {i}")
            assert dtype_name(got) == dtype_name(want) and host(got).tolist() == want.tolist()
        else:
            assert tuple(got) == tuple(want)
    t = nb.ones(2, device="cuda", requires_grad=True)
    assert t.is_leaf and t.requires_grad and t.device == GPU
    with pytest.warns(UserWarning, match="To copy construct from a tensor"):
        assert nb.tensor(t).device == GPU  # a copy of a GPU tensor stays there


def test_random_factories_use_the_gpu_generator(gpu):
    nb.cuda.manual_seed_all(5)
    a = nb.rand(3, device="cuda")
    rs = np.random.RandomState(5)  # the strict backend's generator: CuPy's stands in its place
    assert np.array_equal(host(a), rs.random_sample(3).astype(np.float32))
    nb.manual_seed(5)  # torch.manual_seed seeds the GPUs too
    b = nb.rand(3, device="cuda")
    assert np.array_equal(host(a), host(b))
    for t in (nb.randn(2, 3, device="cuda"), nb.randint(0, 5, (4,), device="cuda"),
              nb.randperm(4, device="cuda"), nb.rand_like(a), nb.randn(2, device="cuda",
                                                                       dtype=nb.float16)):
        _on_gpu(t, "random")
    assert nb.randint(0, 5, (4,), device="cuda").dtype is nb.int64
    assert sorted(nb.randperm(4, device="cuda").tolist()) == [0, 1, 2, 3]
    w = nb.empty(3, 2, device="cuda")
    w.uniform_(-1, 1)
    w.normal_(0, 1)
    assert w.device == GPU


def test_default_device_cuda(gpu):
    nb.set_default_device("cuda")
    try:
        assert nb.get_default_device() == GPU or str(nb.get_default_device()) == "cuda"
        for t in (nb.ones(2), nb.tensor([1.0]), nb.arange(3), nb.randn(2), nb.zeros(2, 2)):
            _on_gpu(t, "default device")
        assert nb.ones(2, device="cpu").device == nb.device("cpu")
    finally:
        nb.set_default_device(None)
    assert nb.ones(2).device == nb.device("cpu")


def test_cuda_module_functions(gpu):
    assert nb.cuda.is_available() and nb.cuda.is_initialized()
    assert nb.cuda.device_count() == 1 and nb.cuda.current_device() == 0
    nb.cuda.synchronize()
    nb.cuda.synchronize(0)
    nb.cuda.set_device(0)
    nb.cuda.manual_seed(1)
    nb.cuda.manual_seed_all(1)
    assert isinstance(nb.cuda.get_device_name(0), str)


def test_no_gpu_reports_why():
    prev = nb_cuda._use_backend(None, why="no CUDA GPU is visible to CuPy")
    try:
        assert not nb.cuda.is_available() and nb.cuda.device_count() == 0
        with pytest.raises(AssertionError) as e:
            nb.ones(2, device="cuda")
        assert str(e.value) == ("Torch not compiled with CUDA enabled (nbautograd: no CUDA GPU "
                                "is visible to CuPy)")
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            nb.tensor([1.0]).cuda()
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            nb.cuda.current_device()
        nb.manual_seed(0)  # seeding never needs a GPU
    finally:
        nb_cuda._restore_backend(prev)


def test_cupy_is_imported_only_for_cuda_tensors():
    code = ("import sys, nbautograd as torch\n"
            "x = torch.randn(3, requires_grad=True); (x * 2).sum().backward(); repr(x.grad)\n"
            "torch.manual_seed(0); torch.device('cuda'); print(x.device, x.is_cuda)\n"
            "assert 'cupy' not in sys.modules, 'cupy imported'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "cpu False"


@pytest.mark.parametrize("vectorize", [False, True])
def test_functional_on_gpu(on_gpu, vectorize):
    def run(m):
        from importlib import import_module
        F = import_module(m.__name__ + ".autograd.functional")
        x = m.tensor([0.5, -1.0, 2.0])
        jac = F.jacobian(lambda t: t.sin() * t.sum(), x, vectorize=vectorize)
        hes = F.hessian(lambda t: (t ** 3).sum() * t[0], x, vectorize=vectorize)
        _, vjp = F.vjp(lambda t: t.exp() * 2, x, m.ones(3))
        return jac, hes, vjp
    for a, b in zip(run(nb), run(torch)):
        _same(a, b, "functional", check_name=False)


def test_custom_function_and_anomaly_on_gpu(on_gpu):
    class Square(nb.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 2 * a * g
    y = nb.tensor([1.0, 2.0], requires_grad=True)
    Square.apply(y).sum().backward()
    assert y.grad.device == GPU and y.grad.tolist() == [2.0, 4.0]
    import warnings
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with nb.autograd.detect_anomaly():
            z = nb.tensor([0.0, 1.0], requires_grad=True)
            with pytest.raises(RuntimeError, match="returned nan values"):
                (z.log() * 0).sum().backward()
    assert any("Anomaly Detection has been enabled" in str(w.message) for w in seen)
    assert any("Error detected in LogBackward0" in str(w.message) for w in seen)


def test_recording_on_gpu(on_gpu):
    """The notebook layers' recording reads GPU tensors only through the display boundary."""
    from nbautograd import recording
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    with recording.record() as rec:
        (x * x).sum().backward()
        (x * 3).sum().backward()
    assert "backward_calls=2" in repr(rec)
    assert x.grad.device == GPU and x.grad.tolist() == [5.0, 7.0]


# =============================================================================================
# nn and optim on the fake GPU: the same computation on the CPU (NumPy) is the reference
# =============================================================================================
def _leaves(out):
    """The tensors of a (nested) result, in order; None entries kept."""
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _leaves(o)]
    return [out]


def cpu_vs_gpu(fn, rtol=1e-6, atol=0.0):
    """``fn(device)`` on the CPU and on the fake GPU: every tensor it returns must live on the
    device it was given (GPU ones in the strict array type), with the CPU run's dtype, shape,
    grad_fn name and values (to ``rtol``). Returns the GPU run's tensors."""
    want, got = _leaves(fn("cpu")), _leaves(fn("cuda"))
    assert len(want) == len(got)
    for i, (a, b) in enumerate(zip(got, want)):
        if b is None:
            assert a is None, f"result {i}: None on the CPU, {a!r} on the GPU"
            continue
        if not isinstance(b, nb.Tensor):
            assert a == b, f"result {i}: {a!r} on the GPU, {b!r} on the CPU"
            continue
        _on_gpu(a, f"result {i}")
        assert b.device == nb.device("cpu")
        assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape), f"result {i}"
        assert grad_fn_name(a) == grad_fn_name(b), f"result {i}: grad_fn"
        np.testing.assert_allclose(host(a), b.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"result {i}")
    return got


def _cotangent(out, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(tuple(out.shape)).astype(np.dtype(str(out.dtype)[6:]))


# (id, loss, input shape, keyword arguments; weight=True: a class-weight tensor on the device;
# targets="ignored": every target is ignore_index; probs=True: class-probability targets)
NLL_CASES = [
    ("nll_mean", "nll", (5, 4), {}),
    ("nll_sum_weight", "nll", (5, 4), dict(weight=True, reduction="sum")),
    ("nll_none_ignore", "nll", (5, 4), dict(ignore_index=1, reduction="none")),
    ("nll_mean_weight_ignore", "nll", (6, 4), dict(weight=True, ignore_index=2)),
    ("nll_all_ignored", "nll", (3, 4), dict(targets="ignored")),
    ("nll_unbatched", "nll", (4,), {}),
    ("nll_unbatched_none", "nll", (4,), dict(reduction="none", weight=True)),
    ("nll_spatial", "nll", (2, 4, 3, 2), dict(weight=True)),
    ("nll_spatial_none", "nll", (2, 4, 3, 2), dict(reduction="none", ignore_index=0)),
    ("nll_3d_sum", "nll", (2, 4, 5), dict(reduction="sum", weight=True)),
    ("ce_mean", "ce", (5, 4), {}),
    ("ce_weight_ignore_sum", "ce", (6, 4), dict(weight=True, ignore_index=3, reduction="sum")),
    ("ce_none", "ce", (5, 4), dict(reduction="none")),
    ("ce_weight_mean", "ce", (5, 4), dict(weight=True)),
    ("ce_smoothing", "ce", (6, 4), dict(label_smoothing=0.1, weight=True, ignore_index=0)),
    ("ce_probs", "ce", (5, 4), dict(probs=True, weight=True)),
    ("ce_spatial_none", "ce", (2, 4, 3), dict(weight=True, reduction="none")),
    ("ce_unbatched", "ce", (4,), dict(ignore_index=2)),
    ("ce_all_ignored", "ce", (3, 4), dict(targets="ignored", reduction="sum")),
]


def _nll_run(kind, shape, kw, dtype, dev):
    kw = dict(kw)
    rng = np.random.default_rng(len(shape) * 7 + shape[0])
    x = nb.tensor(rng.standard_normal(shape).astype(dtype), device=dev, requires_grad=True)
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    t_shape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    if kw.pop("probs", False):
        target = nb.tensor(rng.dirichlet(np.ones(n_classes), t_shape[0]).astype(dtype),
                           device=dev)
    elif kw.pop("targets", None) == "ignored":
        target = nb.full(t_shape, kw.get("ignore_index", -100), dtype=nb.int64, device=dev)
    else:
        t = rng.integers(0, n_classes, t_shape)
        if "ignore_index" in kw and t.ndim:
            t.reshape(-1)[::3] = kw["ignore_index"]  # some targets ignored, not all
        target = nb.tensor(t, device=dev)
    if kw.pop("weight", False):
        kw["weight"] = nb.tensor(rng.uniform(0.5, 2.0, n_classes).astype(dtype), device=dev)
    F = nb.nn.functional
    loss = (F.nll_loss if kind == "nll" else F.cross_entropy)(x, target, **kw)
    loss.backward(nb.tensor(_cotangent(loss), device=dev), create_graph=kind == "ce")
    out = [loss, x.grad.detach()]
    if kind == "ce":  # a Hessian-vector product: the rules run again on the GPU tensors
        v = nb.tensor(_cotangent(x, seed=1), device=dev)
        (hv,) = nb.autograd.grad((x.grad * v).sum(), x)
        out.append(hv)
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", NLL_CASES, ids=[c[0] for c in NLL_CASES])
def test_nll_and_cross_entropy_on_gpu(gpu, case, dtype):
    _, kind, shape, kw = case
    cpu_vs_gpu(lambda dev: _nll_run(kind, shape, kw, dtype, dev))


def test_nll_loss_devices_must_match(gpu):
    F = nb.nn.functional
    x = nb.zeros(2, 3, device="cuda", requires_grad=True)
    with pytest.raises(RuntimeError) as e:
        F.nll_loss(x, nb.tensor([0, 1]))
    assert str(e.value) == ("Expected all tensors to be on the same device, but got target is "
                            "on cpu, different from other tensors on cuda:0 (when checking "
                            "argument in method wrapper_CUDA_nll_loss_forward)")
    with pytest.raises(RuntimeError, match="but got weight is on cpu"):
        F.cross_entropy(x, nb.tensor([0, 1], device="cuda"), weight=nb.ones(3))
    with pytest.raises(RuntimeError, match="wrapper_CUDA_nll_loss2d_forward"):
        F.nll_loss(nb.zeros(1, 3, 2, 2, device="cuda"), nb.zeros(1, 2, 2, dtype=nb.int64))
    with pytest.raises(IndexError, match="Target 3 is out of bounds."):
        F.nll_loss(x, nb.tensor([0, 3], device="cuda"))


def test_other_losses_on_gpu(gpu):
    def run(dev):
        rng = np.random.default_rng(3)
        p = nb.tensor(rng.uniform(0.05, 0.95, (4, 3)).astype(np.float32), device=dev,
                      requires_grad=True)
        y = nb.tensor(rng.uniform(0, 1, (4, 3)).astype(np.float32), device=dev)
        w = nb.tensor(rng.uniform(0.5, 2, (3,)).astype(np.float32), device=dev)
        nn = nb.nn
        losses = [nn.BCELoss()(p, y), nn.BCELoss(weight=w, reduction="sum")(p, y),
                  nn.BCEWithLogitsLoss(weight=w, pos_weight=w)(p, y), nn.MSELoss()(p, y),
                  nn.L1Loss(reduction="sum")(p, y)]
        total = sum(loss * (k + 1) for k, loss in enumerate(losses))
        (g,) = nb.autograd.grad(total, p, create_graph=True)
        (gg,) = nb.autograd.grad(g.sum(), p)
        return losses + [g, gg]
    cpu_vs_gpu(run)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_dropout_on_gpu(gpu, dtype):
    p = 0.3
    nb.manual_seed(7)
    before = nb.rand(5)  # the CPU generator's next draws
    nb.manual_seed(7)  # seeds the GPU too
    x = nb.tensor(np.arange(1, 25, dtype=dtype).reshape(4, 6), device="cuda",
                  requires_grad=True)
    out = nb.nn.functional.dropout(x, p)
    _on_gpu(out, "dropout")
    assert out.dtype == x.dtype and out.grad_fn is not None
    # the mask was drawn on the GPU, by its generator (the strict one: a seeded RandomState)
    draw_dtype = np.float64 if dtype == "float64" else np.float32
    keep = np.random.RandomState(7).random_sample((4, 6)).astype(draw_dtype) >= p
    assert np.array_equal(host(out) != 0, keep)
    scale = np.dtype(dtype).type(1.0 - p)
    mask = keep.astype(dtype) / scale
    np.testing.assert_array_equal(host(out), host(x) * mask)
    cot = _cotangent(out)
    out.backward(nb.tensor(cot, device="cuda"))
    _on_gpu(x.grad, "dropout grad")
    np.testing.assert_array_equal(host(x.grad), cot * mask)  # grad is mask * scale
    assert nb.rand(5).tolist() == before.tolist()  # the CPU generator was not used


def test_dropout_variants_on_gpu(gpu):
    x = nb.ones(3, 4, device="cuda", requires_grad=True)
    drop = nb.nn.Dropout(0.5)
    y = drop(x)
    _on_gpu(y, "Dropout()")
    assert set(host(y).ravel().tolist()) <= {0.0, 2.0}
    assert drop.eval()(x) is x
    z = nb.nn.functional.dropout(x, 1.0)
    _on_gpu(z, "p=1")
    assert host(z).tolist() == [[0.0] * 4] * 3
    z.sum().backward()
    assert host(x.grad).tolist() == [[0.0] * 4] * 3
    h = x * 1
    h2 = nb.nn.functional.dropout(h, 0.25, inplace=True)
    assert h2 is h and h._version == 1
    _on_gpu(h, "inplace")
    assert set(host(h).ravel().tolist()) <= {0.0, np.float32(1 / 0.75).item()}


def test_init_draws_on_gpu(gpu):
    nb.manual_seed(4)
    before = nb.rand(5)
    nb.manual_seed(4)
    w = nb.empty(50, 20, device="cuda")
    nb.nn.init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5)
    _on_gpu(w, "trunc_normal_")
    vals = host(w)
    assert vals.min() >= -0.5 and vals.max() <= 0.5 and np.unique(vals).size > 900
    assert nb.rand(5).tolist() == before.tolist()  # drawn by the GPU's generator
    for init in (nb.nn.init.kaiming_uniform_, nb.nn.init.xavier_normal_,
                 nb.nn.init.normal_, nb.nn.init.zeros_):
        _on_gpu(init(nb.empty(3, 4, device="cuda")), init.__name__)


OPTIMIZERS = [
    ("sgd_momentum_nesterov_wd", "SGD",
     dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd_dampening_maximize", "SGD", dict(lr=0.05, momentum=0.5, dampening=0.1,
                                          maximize=True)),
    ("adam", "Adam", dict(lr=0.01)),
    ("adam_amsgrad_wd", "Adam", dict(lr=0.01, weight_decay=0.05, amsgrad=True)),
    ("adamw", "AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("rmsprop", "RMSprop", dict(lr=0.01)),
    ("rmsprop_centered_momentum_wd", "RMSprop",
     dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)),
]


def _train(opt_name, kw, dtype, dev, steps=6):
    """A tiny MLP trained for ``steps`` steps on ``dev``: the losses, the parameters and the
    optimizer state after the last step."""
    nb.manual_seed(0)
    model = nb.nn.Sequential(nb.nn.Linear(4, 8), nb.nn.Tanh(), nb.nn.Linear(8, 3))
    model = model.to(dtype=getattr(nb, dtype)).to(dev)
    rng = np.random.default_rng(1)
    X = nb.tensor(rng.standard_normal((10, 4)).astype(dtype), device=dev)
    y = nb.tensor(rng.integers(0, 3, 10), device=dev)
    opt = getattr(nb.optim, opt_name)(model.parameters(), **kw)
    losses = []
    for k in range(steps):
        opt.zero_grad(set_to_none=k % 2 == 0)
        loss = nb.nn.functional.cross_entropy(model(X), y, ignore_index=2)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    params = [p.detach() for p in model.parameters()]
    for p in params:
        assert p.dtype is getattr(nb, dtype)
    # the state tensors (momentum buffers, moments; not Adam's CPU step count) on ``dev`` too
    state = [v for p in model.parameters() for k, v in sorted(opt.state[p].items())
             if k != "step"]
    assert len(state) >= len(params)
    return losses, params, state


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", OPTIMIZERS, ids=[c[0] for c in OPTIMIZERS])
def test_optimizer_steps_on_gpu(gpu, case, dtype):
    _, name, kw = case
    cpu_vs_gpu(lambda dev: _train(name, kw, dtype, dev))
