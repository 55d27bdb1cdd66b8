"""On a real GPU (CuPy): the differential suite against PyTorch, printing, moves and views.

Every test here is marked ``gpu`` and skipped unless ``nbautograd.cuda.is_available()``
(CuPy installed and a CUDA GPU visible): on a machine without one they all skip, and
``tests/test_backend_seam.py`` covers the same code paths through a strict fake GPU.

Run them alone with ``pytest -m gpu tests/test_cuda.py``. Where the installed PyTorch has
CUDA too, the printed forms and error texts are compared with torch's CUDA tensors directly;
otherwise with torch's CPU results (values) and torch's own printing code (suffixes).
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nbautograd as nb  # noqa: E402

HAS_GPU = nb.cuda.is_available()
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not HAS_GPU, reason="no CUDA GPU through CuPy here")]

if HAS_GPU:  # the helpers import the fake-GPU suite's cases and checkers
    import cupy  # noqa: E402

    import test_backend_seam as seam  # noqa: E402
    from oracle import A, materialize  # noqa: E402
    from test_ops_vs_torch import (BINARY, FIXED, REDUCE_DIM, REDUCE_FULL,  # noqa: E402
                                   SMOOTH_REDUCE, UNARY, _params)
else:  # collection still needs names for the parametrizations
    FIXED = UNARY = BINARY = REDUCE_DIM = REDUCE_FULL = SMOOTH_REDUCE = []

    def _params(cases):
        return []

TORCH_CUDA = torch.cuda.is_available()
GPU = nb.device("cuda", 0)
# float32 on a GPU: reductions and GEMMs add in other orders than NumPy and torch's CPU code
TOL = {"float32": dict(rtol=1e-4, atol=1e-4), "float64": {}}


@pytest.fixture
def on_cuda():
    """Factories (``tensor`` included) create tensors on the GPU; GPU tensors hold CuPy
    arrays (checked by the shared checker)."""
    seam.ARRAY_TYPE[0] = cupy.ndarray
    nb.set_default_device("cuda")
    try:
        yield GPU
    finally:
        nb.set_default_device(None)
        seam.ARRAY_TYPE[0] = seam.sb.StrictArray


# --- the differential suite on CuPy ---------------------------------------------------------
@pytest.mark.parametrize("case,dtype", _params(FIXED))
def test_fixed_case_cuda(on_cuda, case, dtype):
    arrays, rg = materialize(case.specs, dtype, seed=len(case.id))
    seam.check_on_gpu(case.fn, arrays, rg, check_name=case.check_name, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", UNARY, ids=repr)
def test_unary_cuda(on_cuda, case, dtype):
    for k, shape in enumerate([(), (2, 3), (64, 33)]):
        arrays, _ = materialize([A(shape, case.lo, case.hi, nonzero_min=case.nonzero_min)],
                                dtype, seed=k)
        seam.check_on_gpu(case.fn, arrays, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", BINARY, ids=repr)
def test_binary_cuda(on_cuda, case, dtype):
    for k, (sa, sb_) in enumerate(seam.BINARY_SHAPES):
        specs = [A(sa, case.a[0], case.a[1], nonzero_min=case.a[2]),
                 A(sb_, case.b[0], case.b[1], nonzero_min=case.b[2])]
        arrays, _ = materialize(specs, dtype, seed=k)
        seam.check_on_gpu(case.fn, arrays, **TOL[dtype])


@pytest.mark.parametrize("case", REDUCE_DIM, ids=repr)
def test_reduction_dim_cuda(on_cuda, case):
    for k, dim in enumerate([0, -1, 1] + ([(0, 2)] if case.tuple_dims else [])):
        for keepdim in (False, True):
            x = seam._reduce_input(case, (2, 3, 4), "float64", k)
            seam.check_on_gpu(lambda m, t: case.fn(m, t, dim, keepdim), [x])


@pytest.mark.parametrize("case", REDUCE_FULL, ids=repr)
def test_reduction_full_cuda(on_cuda, case):
    (x,), _ = materialize([A((3, 4))], "float64", seed=1)
    if case.id.startswith(("std", "var")):
        x = np.round(x / 0.25) * 0.25
    seam.check_on_gpu(case.fn, [x])


@pytest.mark.parametrize("case", (FIXED and [c for c in FIXED if c.smooth]) + SMOOTH_REDUCE,
                         ids=repr)
def test_second_order_cuda(on_cuda, case):
    arrays, rg = materialize(case.specs, "float64", seed=11)
    seam.check_second_order_on_gpu(case.fn, arrays, rg)


def test_extra_ops_cuda(on_cuda):
    for case in seam.EXTRA:
        arrays, rg = materialize(case.specs, "float32", seed=7)
        seam.check_on_gpu(case.fn, arrays, rg, check_name=case.check_name, **TOL["float32"])


def test_large_elementwise_and_mlp_step_cuda(on_cuda):
    """The two benchmark shapes (benchmarks/gpu.py) give torch's numbers."""
    rng = np.random.default_rng(0)
    x, y = (rng.uniform(-1, 1, 1_000_000).astype(np.float32) for _ in range(2))
    seam.check_on_gpu(lambda m, a, b: (m.sin(a) * m.exp(b) + a ** 2).sum(), [x, y],
                      rtol=1e-4, atol=1e-3)
    X = rng.normal(size=(1024, 784)).astype(np.float32)
    W1 = (rng.uniform(-1, 1, (784, 256)) / 28).astype(np.float32)
    W2 = (rng.uniform(-1, 1, (256, 10)) / 16).astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 1024)]
    seam.check_on_gpu(
        lambda m, X, W1, W2, Y: -(Y * m.log_softmax(m.tanh(X @ W1) @ W2, dim=-1)).sum(1).mean(),
        [X, W1, W2, Y], [False, True, True, False], **TOL["float32"])


OPTIMIZERS = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
]


@pytest.mark.parametrize("opt_name,kw", OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_mlp_training_steps_cuda(opt_name, kw):
    """An MLP of ``nn.Linear`` layers, ``cross_entropy`` (class weights, ignore_index) and an
    optimizer, every step on the GPU: torch's losses and parameters (torch on its GPU where it
    has CUDA, else on the CPU)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 20)).astype(np.float32)
    y = rng.integers(0, 5, 64)
    class_w = rng.uniform(0.5, 2.0, 5).astype(np.float32)
    init = [(rng.uniform(-1, 1, shape) / 4).astype(np.float32)
            for shape in ((32, 20), (32,), (5, 32), (5,))]

    def run(m, dev):
        model = m.nn.Sequential(m.nn.Linear(20, 32), m.nn.Tanh(), m.nn.Linear(32, 5))
        with m.no_grad():
            for p, a in zip(model.parameters(), init):
                p.copy_(m.tensor(a))
        model = model.to(dev)
        Xt, yt, w = m.tensor(X, device=dev), m.tensor(y, device=dev), m.tensor(class_w, device=dev)
        opt = getattr(m.optim, opt_name)(model.parameters(), **kw)
        losses = []
        for _ in range(5):
            opt.zero_grad()
            loss = m.nn.functional.cross_entropy(model(Xt), yt, weight=w, ignore_index=4)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return model, opt, losses

    model, opt, losses = run(nb, "cuda")
    for p in model.parameters():
        assert isinstance(p._data, cupy.ndarray) and p.dtype is nb.float32 and p.device == GPU
        for k, v in opt.state[p].items():
            if k != "step":  # the moments and buffers live on the GPU too
                assert isinstance(v._data, cupy.ndarray) and v.dtype is nb.float32, k
    t_model, _, t_losses = run(torch, "cuda" if TORCH_CUDA else "cpu")
    np.testing.assert_allclose(losses, t_losses, **TOL["float32"])
    for a, b in zip(model.parameters(), t_model.parameters()):
        np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy(),
                                   **TOL["float32"])


def test_dropout_cuda(on_cuda):
    """The mask is drawn on the GPU; the gradient is the mask times 1 / (1 - p)."""
    x = nb.ones(4000, requires_grad=True)
    out = nb.nn.functional.dropout(x, 0.3)
    assert isinstance(out._data, cupy.ndarray) and out.dtype is nb.float32
    vals = out.detach().cpu().numpy()
    kept = vals != 0
    assert abs(kept.mean() - 0.7) < 0.05
    np.testing.assert_allclose(vals[kept], 1 / 0.7, rtol=1e-6)
    out.backward(nb.full((4000,), 2.0))
    assert isinstance(x.grad._data, cupy.ndarray)
    np.testing.assert_array_equal(x.grad.cpu().numpy(), 2 * vals)


# --- devices, moves, printing ------------------------------------------------------------
def test_tensors_live_in_cupy(on_cuda):
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    assert isinstance(x._data, cupy.ndarray) and x.is_cuda and x.device == GPU
    assert nb.cuda.device_count() >= 1 and nb.cuda.current_device() == 0
    assert isinstance(nb.cuda.get_device_name(0), str)
    nb.cuda.synchronize()
    y = (x * 2).sum()
    y.backward()
    assert isinstance(x.grad._data, cupy.ndarray) and x.grad.tolist() == [2.0, 2.0]


def test_repr_cuda(on_cuda):
    x = nb.tensor([0.5, 1.0], requires_grad=True)
    assert repr(x * 2) == "tensor([1., 2.], device='cuda:0', grad_fn=<MulBackward0>)"
    for expr in seam.REPR_EXPRS:
        assert repr(seam._eval(nb, expr)) == seam.torch_cuda_repr(seam._eval(torch, expr)), expr


@pytest.mark.skipif(not TORCH_CUDA, reason="the installed PyTorch has no CUDA")
def test_printing_and_errors_match_torch_cuda():
    def both(code):
        out = []
        for m in (torch, nb):
            try:
                out.append(("ok", code(m)))
            except Exception as e:  # noqa: BLE001
                out.append(("raised", type(e).__name__, str(e).split("\n")[0]))
        return out
    codes = [
        lambda m: repr(m.tensor([0.5, 1.0], device="cuda", requires_grad=True) * 2),
        lambda m: repr(m.arange(12., device="cuda").reshape(3, 4).double()),
        lambda m: repr(m.zeros(0, 2, device="cuda")),
        lambda m: m.ones(2, device="cuda") + m.ones(2),
        lambda m: m.ones(2) * m.ones(2, device="cuda"),
        lambda m: m.ones(2, 3, device="cuda") @ m.ones(3, 2),
        lambda m: m.ones(2, 3) @ m.ones(3, 2, device="cuda"),
        lambda m: m.ones(2, 3, device="cuda") @ m.ones(3),
        lambda m: m.ones(3, device="cuda").dot(m.ones(3)),
        lambda m: m.cat([m.ones(2, device="cuda"), m.ones(2)]),
        lambda m: m.stack([m.ones(2, device="cuda"), m.ones(2)]),
        lambda m: m.ones(2, 3, 4, device="cuda").bmm(m.ones(2, 4, 1)),
        lambda m: m.ones(2, device="cuda").numpy(),
        lambda m: repr(m.ones(2, device="cuda") * m.tensor(3.0)),
        lambda m: (m.ones(2, device="cuda", requires_grad=True) * 2).backward(m.ones(2)),
        lambda m: m.ones(2, device="cuda").type(),
        lambda m: m.ones(2, 3, device="cuda").expand(3),
        lambda m: m.nn.functional.nll_loss(m.zeros(2, 3, device="cuda"), m.tensor([0, 1])),
        lambda m: m.nn.functional.cross_entropy(m.zeros(2, 3, device="cuda"),
                                                m.tensor([0, 1], device="cuda"),
                                                weight=m.ones(3)),
    ]
    for code in codes:
        t, n = both(code)
        assert n == t


def test_moves_and_gradients_cuda():
    x = nb.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x.cuda()
    assert isinstance(y._data, cupy.ndarray) and y.grad_fn.name() == "ToCopyBackward0"
    (y * y).sum().cpu().backward()
    assert x.grad.device == nb.device("cpu") and x.grad.tolist() == [2.0, -4.0, 6.0]
    assert y.cpu().device.type == "cpu" and y.to("cuda") is y
    s = nb.tensor(2.0, requires_grad=True)
    (y.detach() * s).sum().backward()  # a 0-d CPU tensor joins the GPU; its grad comes back
    assert s.grad.device.type == "cpu" and s.grad.item() == 2.0


def test_random_on_cuda():
    nb.manual_seed(3)
    a = nb.rand(4, device="cuda")
    nb.cuda.manual_seed_all(3)
    b = nb.rand(4, device="cuda")
    assert isinstance(a._data, cupy.ndarray) and a.tolist() == b.tolist()
    for t in (nb.randn(2, 3, device="cuda"), nb.randint(0, 9, (5,), device="cuda"),
              nb.randperm(6, device="cuda"), nb.empty(3, device="cuda").uniform_(),
              nb.randn(2, device="cuda", dtype=nb.float16)):
        assert isinstance(t._data, cupy.ndarray)


def test_multi_gpu_moves():
    if nb.cuda.device_count() < 2:
        pytest.skip("one GPU")
    x = nb.ones(2, device="cuda:1")
    assert x.device == nb.device("cuda", 1) and x._data.device.id == 1
    assert repr(x) == "tensor([1., 1.], device='cuda:1')"
    assert x.to("cuda:0").device == GPU


def test_viz_draw_cuda_tensor(on_cuda):
    from nbautograd import viz
    w = nb.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    view = viz.draw(loss, names={"w": w, "loss": loss})
    text = view.text()
    assert "w = leaf  (2,) float32 cuda:0  data=[1, 2]  grad=[2, 4]" in text
    assert "grads: w ← [1, 2], w ← [1, 2]" in text
    assert "digraph" in view.dot
    assert "<svg" in view.svg()
