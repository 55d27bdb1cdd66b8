"""nn against PyTorch: Parameter, Module (registration, traversal, repr, state_dict, modes,
conversion, hooks), containers, layers, losses (values, gradients, grad_fn names, error texts),
init, and the doctests of ``nbautograd.nn``.

Where a check needs the same weights in both libraries, nbautograd's are copied into torch.
"""
import copy
import doctest
import importlib
import pickle
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import nbautograd as nb  # noqa: E402
import nbautograd.nn  # noqa: E402,F401
import nbautograd.optim  # noqa: E402,F401

TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}
DTYPES = ("float32", "float64")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Small tensors: torch's thread pool only adds start-up and contention time here."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def np_of(t):
    return t.detach().numpy()


def both(arr, requires_grad=False):
    """The same values as an nbautograd and a torch tensor."""
    arr = np.asarray(arr)
    a = nb.tensor(arr.copy(), requires_grad=requires_grad)
    b = torch.tensor(arr.copy(), requires_grad=requires_grad)
    return a, b


def copy_weights(nb_module, torch_module):
    """Load nbautograd's weights into the torch module (same names)."""
    sd = {k: torch.from_numpy(v.numpy().copy()) for k, v in nb_module.state_dict().items()}
    torch_module.load_state_dict(sd)


def assert_close(a, b, dtype="float64"):
    np.testing.assert_allclose(np_of(a), np_of(b), **TOL[dtype])


def error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    return None


def same_error(fn_nb, fn_torch):
    e1, e2 = error_of(fn_nb), error_of(fn_torch)
    assert e2 is not None, "torch raised nothing"
    assert e1 == e2


# --- Parameter ---------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda m: m.nn.Parameter(m.tensor([[1., 2.], [3., 4.]])),
    lambda m: m.nn.Parameter(m.tensor(3.)),
    lambda m: m.nn.Parameter(m.tensor([1., 2.]), requires_grad=False),
    lambda m: m.nn.Parameter(m.tensor([1.5, -2.], dtype=m.float64)),
    lambda m: m.nn.Parameter(m.tensor([1, 2]), requires_grad=False),
    lambda m: m.nn.Parameter(),
    lambda m: m.nn.Parameter(m.arange(60, dtype=m.float32).reshape(2, 30) / 7),
    lambda m: m.nn.Parameter(m.arange(24, dtype=m.float32).reshape(2, 3, 4) - 11.5),
])
def test_parameter_repr_matches_torch(make):
    assert repr(make(nb)) == repr(make(torch))
    assert str(make(nb)) == str(make(torch))


def test_parameter_is_a_leaf_and_ops_return_plain_tensors():
    for m in (nb, torch):
        p = m.nn.Parameter(m.tensor([1., 2.]))
        assert p.is_leaf and p.requires_grad and p.grad_fn is None
        assert isinstance(p, m.Tensor)
        assert type(p * 2) is m.Tensor and type(p.detach()) is m.Tensor
        assert type(p.clone()) is m.Tensor and type(p.data) is m.Tensor
        q = copy.deepcopy(p)
        assert type(q) is m.nn.Parameter and q.requires_grad
        assert not np.shares_memory(np_of(q), np_of(p))
        x = m.tensor([1., 2.], requires_grad=True)
        from_nonleaf = m.nn.Parameter(x * 2)
        assert from_nonleaf.is_leaf and from_nonleaf.grad_fn is None
    same_error(lambda: nb.nn.Parameter(nb.tensor([1, 2])),
               lambda: torch.nn.Parameter(torch.tensor([1, 2])))
    same_error(lambda: f"{nb.nn.Parameter(nb.tensor(1.)):.2f}",
               lambda: f"{torch.nn.Parameter(torch.tensor(1.)):.2f}")


def test_parameter_shares_memory_and_pickles():
    base = nb.tensor([1., 2.])
    p = nb.nn.Parameter(base)
    with nb.no_grad():
        p.mul_(2)
    assert base.tolist() == [2., 4.] and base._version == p._version == 1
    q = pickle.loads(pickle.dumps(p))
    assert type(q) is nb.nn.Parameter and q.requires_grad and q.tolist() == [2., 4.]


# --- Module ------------------------------------------------------------------------------------
def make_net(m):
    class Block(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = m.nn.Linear(3, 2)
            self.act = m.nn.Tanh()
            self.register_buffer("running", m.zeros(2))
            self.register_buffer("scratch", m.ones(1), persistent=False)

        def forward(self, x):
            return self.act(self.lin(x)) + self.running

    class Net(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = m.nn.Parameter(m.ones(1))
            self.block = Block()
            self.head = m.nn.Sequential(m.nn.Linear(2, 4), m.nn.ReLU(), m.nn.Linear(4, 1))
            self.shared = self.head[0]  # the same module twice: listed once
            self.plain = m.zeros(1)     # a plain tensor attribute is not registered

        def forward(self, x):
            return self.head(self.block(x)) * self.scale

        def extra_repr(self):
            return "custom=1"

    return Net()


def test_module_registration_and_traversal_match_torch():
    a, b = make_net(nb), make_net(torch)
    assert [n for n, _ in a.named_parameters()] == [n for n, _ in b.named_parameters()]
    assert [n for n, _ in a.named_buffers()] == [n for n, _ in b.named_buffers()]
    assert [n for n, _ in a.named_children()] == [n for n, _ in b.named_children()]
    assert [n for n, _ in a.named_modules()] == [n for n, _ in b.named_modules()]
    assert [type(c).__name__ for c in a.children()] == [type(c).__name__ for c in b.children()]
    assert [type(c).__name__ for c in a.modules()] == [type(c).__name__ for c in b.modules()]
    assert [n for n, _ in a.named_parameters(recurse=False)] == ["scale"]
    assert len(list(a.parameters())) == len(list(b.parameters())) == 7
    assert list(a.state_dict()) == list(b.state_dict())
    assert dict(a.state_dict()._metadata) == dict(b.state_dict()._metadata)
    assert repr(a) == repr(b)
    public = lambda names: sorted(n for n in names if not n.startswith("_"))  # noqa: E731
    assert public(set(dir(a)) - set(dir(nb.nn.Module))) == \
        public(set(dir(b)) - set(dir(torch.nn.Module)))
    assert a.get_submodule("head.0") is a.shared
    assert a.get_parameter("block.lin.bias") is a.block.lin.bias


def test_state_dict_is_detached_and_load_roundtrips():
    a = make_net(nb)
    sd = a.state_dict()
    assert all(type(v) is nb.Tensor and not v.requires_grad for v in sd.values())
    assert np.shares_memory(sd["scale"].numpy(), a.scale.detach().numpy())
    b = make_net(nb)
    assert repr(b.load_state_dict(sd)) == "<All keys matched successfully>"
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(v.numpy(), w.numpy())
    keep = a.state_dict(keep_vars=True)
    assert keep["scale"] is a.scale


@pytest.mark.parametrize("case", ["missing", "unexpected", "both", "size", "type", "nested"])
def test_load_state_dict_errors_match_torch(case):
    def run(m):
        lin = m.nn.Sequential(m.nn.Linear(2, 3)) if case == "nested" else m.nn.Linear(2, 3)
        sd = {"weight": m.zeros(3, 2), "bias": m.zeros(3)}
        if case == "missing":
            del sd["bias"]
        elif case == "unexpected":
            sd["foo"], sd["x.y"] = m.zeros(1), m.zeros(1)
        elif case == "both":
            del sd["weight"]
            sd["extra"] = m.zeros(1)
        elif case == "size":
            sd["weight"] = m.zeros(3, 3)
        elif case == "type":
            sd["weight"] = 3
        else:
            sd = {"0.weight": m.zeros(3, 2), "1.bias": m.zeros(1)}
        return lambda: lin.load_state_dict(sd)
    same_error(run(nb), run(torch))


def test_load_state_dict_non_strict_and_assign():
    for m in (nb, torch):
        lin = m.nn.Linear(2, 3)
        res = lin.load_state_dict({"weight": m.ones(3, 2), "zzz": m.ones(1)}, strict=False)
        assert res.missing_keys == ["bias"] and res.unexpected_keys == ["zzz"]
        assert lin.weight.sum().item() == 6 and isinstance(lin.weight, m.nn.Parameter)
    r_nb = nb.nn.Linear(2, 3).load_state_dict({"weight": nb.ones(3, 2)}, strict=False)
    r_t = torch.nn.Linear(2, 3).load_state_dict({"weight": torch.ones(3, 2)}, strict=False)
    assert repr(r_nb) == repr(r_t)
    lin = nb.nn.Linear(2, 3)
    new_w = nb.full((3, 2), 2.0)
    lin.load_state_dict({"weight": new_w, "bias": nb.zeros(3)}, assign=True)
    assert isinstance(lin.weight, nb.nn.Parameter) and lin.weight.requires_grad
    assert lin.weight.sum().item() == 12


def test_setattr_getattr_errors_match_torch():
    def assign_tensor_to_param(m):
        lin = m.nn.Linear(2, 3)
        return lambda: setattr(lin, "weight", m.zeros(3, 2))

    def assign_int_to_module(m):
        s = m.nn.Sequential(m.nn.ReLU())
        return lambda: setattr(s, "0", 3)

    def assign_str_to_buffer(m):
        mod = m.nn.Module()
        mod.register_buffer("b", m.zeros(1))
        return lambda: setattr(mod, "b", "x")

    def before_init(m):
        class Bad(m.nn.Module):
            def __init__(self):
                self.w = m.nn.Parameter(m.zeros(1))
        return Bad

    def missing_attr(m):
        lin = m.nn.Linear(2, 3)
        return lambda: lin.nope

    def nonleaf_param(m):
        mod = m.nn.Module()
        return lambda: mod.register_parameter("w", m.ones(1))

    def no_forward(m):
        return lambda: m.nn.Module()(m.ones(1))

    def dup_name(m):
        mod = m.nn.Module()
        mod.x = 3
        return lambda: mod.register_buffer("x", m.zeros(1))

    for case in (assign_tensor_to_param, assign_int_to_module, assign_str_to_buffer,
                 before_init, missing_attr, nonleaf_param, no_forward, dup_name):
        same_error(case(nb), case(torch))


def test_attribute_reassignment_moves_between_registries():
    for m in (nb, torch):
        mod = m.nn.Module()
        mod.x = m.nn.Parameter(m.zeros(1))
        mod.x = None  # stays a (None) parameter slot
        assert "x" in mod._parameters and mod.x is None
        mod.y = m.nn.ReLU()
        del mod.y
        assert "y" not in mod._modules
        mod.register_buffer("b", m.zeros(1))
        mod.b = m.ones(1)
        assert mod._buffers["b"].item() == 1.0
        assert [n for n, _ in mod.named_parameters()] == []


def test_zero_grad_train_eval_requires_grad():
    for m in (nb, torch):
        net = make_net(m)
        net(m.ones(5, 3)).sum().backward()
        assert all(p.grad is not None for p in net.parameters())
        net.zero_grad(set_to_none=False)
        assert all(p.grad is not None and p.grad.abs().sum().item() == 0
                   for p in net.parameters())
        net.zero_grad()
        assert all(p.grad is None for p in net.parameters())
        assert net.training and net.block.act.training
        assert net.eval() is net and not net.head[1].training
        net.train()
        assert all(mod.training for mod in net.modules())
        net.requires_grad_(False)
        assert not any(p.requires_grad for p in net.parameters())
    same_error(lambda: nb.nn.ReLU().train(1), lambda: torch.nn.ReLU().train(1))


def test_to_double_float_keep_parameter_objects():
    net = make_net(nb)
    net(nb.ones(2, 3)).sum().backward()
    w = net.block.lin.weight
    assert net.double() is net
    assert net.block.lin.weight is w and w.dtype is nb.float64 and w.grad.dtype is nb.float64
    assert net.block.running.dtype is nb.float64
    out = net(nb.ones(2, 3, dtype=nb.float64))
    assert out.dtype is nb.float64
    net.float()
    assert w.dtype is nb.float32 and w.requires_grad and w.is_leaf
    net.to(nb.float64)
    assert w.dtype is nb.float64
    net.to("cpu", dtype=nb.float32)
    assert w.dtype is nb.float32
    net.to(nb.zeros(1, dtype=nb.float64))
    assert w.dtype is nb.float64
    same_error(lambda: nb.nn.Linear(1, 1).to(nb.int64),
               lambda: torch.nn.Linear(1, 1).to(torch.int64))


def test_apply_and_forward_hooks():
    for m in (nb, torch):
        seen = []
        net = m.nn.Sequential(m.nn.Linear(2, 2), m.nn.Sequential(m.nn.ReLU()))
        net.apply(lambda mod: seen.append(type(mod).__name__))
        assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]
        calls = []
        h1 = net[0].register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
        h2 = net.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out + 1)
        out = net(m.ones(3, 2))
        assert calls == [out.shape]
        expected = (m.relu(net[0].bias) + 1).expand(3, 2)
        np.testing.assert_allclose(np_of(out), np_of(expected))
        h1.remove()
        h2.remove()
        out2 = net(m.zeros(3, 2))
        np.testing.assert_allclose(np_of(out2), np_of(m.relu(net[0].bias).expand(3, 2)))


# --- containers --------------------------------------------------------------------------------
def test_sequential_indexing_len_iter_append_repr():
    from collections import OrderedDict

    def build(m):
        s = m.nn.Sequential(m.nn.Linear(2, 3), m.nn.ReLU(), m.nn.Linear(3, 1))
        s.append(m.nn.Sigmoid())
        return s

    a, b = build(nb), build(torch)
    assert repr(a) == repr(b) and len(a) == len(b) == 4
    assert repr(a[1:3]) == repr(b[1:3]) and type(a[1:3]) is nb.nn.Sequential
    assert repr(a[-1]) == repr(b[-1]) == "Sigmoid()"
    assert [type(x).__name__ for x in a] == [type(x).__name__ for x in b]
    del a[1]
    del b[1]
    assert repr(a) == repr(b)
    a.insert(1, nb.nn.Tanh())
    b.insert(1, torch.nn.Tanh())
    assert repr(a) == repr(b)
    assert repr(a + a) == repr(b + b)
    same_error(lambda: a[10], lambda: b[10])
    named = [nb.nn.Sequential(OrderedDict(fc=nb.nn.Linear(1, 1), act=nb.nn.ReLU())),
             torch.nn.Sequential(OrderedDict(fc=torch.nn.Linear(1, 1), act=torch.nn.ReLU()))]
    assert repr(named[0]) == repr(named[1])
    assert list(named[0].state_dict()) == ["fc.weight", "fc.bias"]
    assert repr(nb.nn.Sequential()) == repr(torch.nn.Sequential())


def test_modulelist_and_moduledict_match_torch():
    def build(m):
        ml = m.nn.ModuleList([m.nn.Linear(2, 2) for _ in range(3)])
        ml.append(m.nn.ReLU())
        ml.extend([m.nn.ReLU(), m.nn.Tanh()])
        md = m.nn.ModuleDict({"a": m.nn.ReLU(), "b": m.nn.Linear(1, 2)})
        md["c"] = m.nn.Sigmoid()
        return ml, md

    (ml_a, md_a), (ml_b, md_b) = build(nb), build(torch)
    assert repr(ml_a) == repr(ml_b)
    assert repr(ml_a[1:]) == repr(ml_b[1:])
    assert repr(md_a) == repr(md_b) and list(md_a.keys()) == list(md_b.keys())
    assert [n for n, _ in ml_a.named_parameters()] == [n for n, _ in ml_b.named_parameters()]
    assert [n for n, _ in md_a.named_parameters()] == [n for n, _ in md_b.named_parameters()]
    assert repr(nb.nn.ModuleList()) == repr(torch.nn.ModuleList())


# --- layer reprs and forward/backward against torch --------------------------------------------
def test_layer_reprs_match_torch():
    def build(m):
        return m.nn.Sequential(
            m.nn.Linear(2, 3), m.nn.Linear(3, 3, bias=False), m.nn.ReLU(), m.nn.ReLU(True),
            m.nn.LeakyReLU(), m.nn.LeakyReLU(0.2, inplace=True), m.nn.Sigmoid(), m.nn.Tanh(),
            m.nn.Softmax(dim=1), m.nn.Softmax(), m.nn.LogSoftmax(-1), m.nn.Flatten(),
            m.nn.Flatten(0, 2), m.nn.Identity(), m.nn.Dropout(), m.nn.Dropout(0.1, True),
            m.nn.MSELoss(), m.nn.L1Loss(reduction="sum"), m.nn.BCELoss(),
            m.nn.BCEWithLogitsLoss(), m.nn.CrossEntropyLoss(label_smoothing=0.1),
            m.nn.NLLLoss())
    assert repr(build(nb)) == repr(build(torch))


def run_layer(m, layer_fn, x, dtype, **kw):
    layer = layer_fn(m)
    if kw.get("weights") is not None:
        kw["weights"](layer)
    xt = m.tensor(x.astype(dtype), requires_grad=True)
    out = layer(xt)
    g = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(dtype)
    out.backward(m.tensor(g))
    grads = [p.grad for p in layer.parameters()]
    return out, xt.grad, grads, layer


LAYERS = {
    "linear_2d": (lambda m: m.nn.Linear(4, 3), (5, 4)),
    "linear_1d": (lambda m: m.nn.Linear(4, 3), (4,)),
    "linear_3d": (lambda m: m.nn.Linear(4, 3), (2, 5, 4)),
    "linear_nobias_2d": (lambda m: m.nn.Linear(4, 3, bias=False), (5, 4)),
    "linear_nobias_1d": (lambda m: m.nn.Linear(4, 3, bias=False), (4,)),
    "linear_nobias_3d": (lambda m: m.nn.Linear(4, 3, bias=False), (2, 5, 4)),
    "relu": (lambda m: m.nn.ReLU(), (3, 4)),
    "leaky_relu": (lambda m: m.nn.LeakyReLU(0.1), (3, 4)),
    "sigmoid": (lambda m: m.nn.Sigmoid(), (3, 4)),
    "tanh": (lambda m: m.nn.Tanh(), (3, 4)),
    "softmax": (lambda m: m.nn.Softmax(dim=1), (3, 4)),
    "log_softmax": (lambda m: m.nn.LogSoftmax(dim=-1), (2, 3, 4)),
    "flatten": (lambda m: m.nn.Flatten(), (2, 3, 4)),
    "identity": (lambda m: m.nn.Sequential(m.nn.Identity(), m.nn.Tanh()), (3,)),
    "dropout_eval": (lambda m: m.nn.Sequential(m.nn.Dropout(0.5), m.nn.Tanh()).eval(), (3, 4)),
    "mlp": (lambda m: m.nn.Sequential(m.nn.Linear(4, 8), m.nn.Tanh(), m.nn.Linear(8, 3),
                                      m.nn.LogSoftmax(1)), (6, 4)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_forward_backward_match_torch(name, dtype):
    fn, shape = LAYERS[name]
    x = np.random.default_rng(0).standard_normal(shape)
    nb_layer = fn(nb)
    if dtype == "float64":
        nb_layer.double()
    out_a, gx_a, gp_a, _ = run_layer(nb, lambda m: nb_layer, x, dtype)
    t_layer = fn(torch)
    if dtype == "float64":
        t_layer.double()
    copy_weights(nb_layer, t_layer)
    # the nbautograd layer's parameters now hold gradients: compare with a fresh torch run
    out_b, gx_b, gp_b, _ = run_layer(torch, lambda m: t_layer, x, dtype)
    assert out_a.dtype is getattr(nb, dtype)
    assert_close(out_a, out_b, dtype)
    assert_close(gx_a, gx_b, dtype)
    assert len(gp_a) == len(gp_b)
    for a, b in zip(gp_a, gp_b):
        assert_close(a, b, dtype)
    assert type(out_a.grad_fn).__name__ == type(out_b.grad_fn).__name__
    if name not in ("linear_nobias_1d", "linear_nobias_3d"):
        # (the engine's matmul fuses torch's Squeeze/UnsafeView + Mm pair into one node)
        assert [type(f).__name__ if f is not None else None
                for f, _ in out_a.grad_fn.next_functions] == \
            [type(f).__name__ if f is not None else None
             for f, _ in out_b.grad_fn.next_functions]


def test_linear_default_init_bounds_and_seed():
    nb.manual_seed(3)
    a = nb.nn.Linear(50, 20)
    nb.manual_seed(3)
    b = nb.nn.Linear(50, 20)
    np.testing.assert_array_equal(np_of(a.weight), np_of(b.weight))
    bound = 1 / np.sqrt(50)
    assert np.abs(np_of(a.weight)).max() <= bound and np.abs(np_of(a.bias)).max() <= bound
    # a uniform fill uses the whole interval
    assert np.abs(np_of(a.weight)).max() > 0.9 * bound
    assert a.weight.dtype is nb.float32 and a.weight.requires_grad and a.weight.is_leaf
    assert nb.nn.Linear(2, 2, dtype=nb.float64).weight.dtype is nb.float64


@pytest.mark.parametrize("case", ["shape", "shape_1d", "shape_3d", "int_input", "bias_shape",
                                  "bias_3d", "bias_rows", "bias_dtype", "dtype_nobias"])
def test_linear_errors_match_torch(case):
    def run(m):
        def go():
            if case == "shape":
                return m.nn.Linear(3, 4)(m.randn(2, 5))
            if case == "shape_1d":
                return m.nn.Linear(3, 4)(m.randn(5))
            if case == "shape_3d":
                return m.nn.Linear(3, 4)(m.randn(2, 2, 5))
            if case == "int_input":
                return m.nn.Linear(3, 4)(m.tensor([[1, 2, 3]]))
            if case == "bias_shape":
                return m.nn.functional.linear(m.randn(2, 3), m.randn(4, 3), m.randn(5))
            if case == "bias_3d":
                return m.nn.functional.linear(m.randn(2, 3), m.randn(4, 3), m.randn(2, 1, 4))
            if case == "bias_rows":
                return m.nn.functional.linear(m.randn(2, 3), m.randn(4, 3), m.randn(3, 4))
            if case == "bias_dtype":
                return m.nn.functional.linear(m.randn(2, 3), m.randn(4, 3), m.randn(4).double())
            return m.nn.functional.linear(m.randn(2, 3), m.randn(4, 3).double())
        return go
    same_error(run(nb), run(torch))


def test_dropout_train_mode_masks_and_scales():
    nb.manual_seed(0)
    drop = nb.nn.Dropout(0.25)
    x = nb.ones(400, 50, requires_grad=True)
    y = drop(x)
    vals = np.unique(np_of(y))
    np.testing.assert_allclose(vals, [0.0, 1 / 0.75], rtol=1e-6)
    assert abs((np_of(y) == 0).mean() - 0.25) < 0.02
    assert type(y.grad_fn).__name__ == "MulBackward0"
    y.sum().backward()
    np.testing.assert_allclose(np_of(x.grad), np_of(y))
    assert nb.nn.functional.dropout(x, 0.0) is x
    assert np_of(nb.nn.functional.dropout(x, 1.0)).sum() == 0
    same_error(lambda: nb.nn.Dropout(1.5), lambda: torch.nn.Dropout(1.5))


def test_softmax_without_dim_warns_like_torch():
    for m in (nb, torch):
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
            out = m.nn.Softmax()(m.zeros(2, 4))
        np.testing.assert_allclose(np_of(out), 0.25)


# --- losses ------------------------------------------------------------------------------------
def _loss_inputs(kind, dtype, rng):
    """(input array, target array or int array, extra kwargs builder)."""
    if kind in ("mse", "l1"):
        return rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    if kind == "bce":
        return rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0, 1, (4, 3))
    if kind == "bce_logits":
        return rng.standard_normal((4, 3)) * 3, rng.uniform(0, 1, (4, 3))
    if kind == "ce_prob":
        p = rng.uniform(0.1, 1, (5, 4))
        return rng.standard_normal((5, 4)), p / p.sum(1, keepdims=True)
    if kind == "ce_prob_3d":
        p = rng.uniform(0.1, 1, (2, 4, 3))
        return rng.standard_normal((2, 4, 3)), p / p.sum(1, keepdims=True)
    if kind == "nll":
        return np.log(rng.uniform(0.05, 1, (5, 4))), np.array([0, 3, 1, 1, 2])
    if kind == "ce_1d":
        return rng.standard_normal(4), np.array(2)
    if kind == "ce_3d":
        return rng.standard_normal((2, 4, 3)), np.array([[0, 3, 1], [2, 2, 0]])
    if kind == "ce_4d":
        return rng.standard_normal((2, 3, 2, 2)), rng.integers(0, 3, (2, 2, 2))
    return rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])


LOSSES = {
    "mse": lambda m, kw: m.nn.MSELoss(**kw),
    "l1": lambda m, kw: m.nn.L1Loss(**kw),
    "bce": lambda m, kw: m.nn.BCELoss(**kw),
    "bce_weight": lambda m, kw: m.nn.BCELoss(weight=m.tensor([0.5, 1.0, 2.0]), **kw),
    "bce_logits": lambda m, kw: m.nn.BCEWithLogitsLoss(**kw),
    "bce_logits_pos_weight": lambda m, kw: m.nn.BCEWithLogitsLoss(
        pos_weight=m.tensor([1.0, 2.0, 0.5]), weight=m.tensor([2.0, 1.0, 1.0]), **kw),
    "nll": lambda m, kw: m.nn.NLLLoss(**kw),
    "nll_weight_ignore": lambda m, kw: m.nn.NLLLoss(weight=m.tensor([1., 2., 0.5, 1.5]),
                                                    ignore_index=1, **kw),
    "ce": lambda m, kw: m.nn.CrossEntropyLoss(**kw),
    "ce_weight": lambda m, kw: m.nn.CrossEntropyLoss(weight=m.tensor([1., 2., 0.5, 1.5]), **kw),
    "ce_ignore": lambda m, kw: m.nn.CrossEntropyLoss(ignore_index=3, **kw),
    "ce_smoothing": lambda m, kw: m.nn.CrossEntropyLoss(label_smoothing=0.2, **kw),
    "ce_smoothing_weight_ignore": lambda m, kw: m.nn.CrossEntropyLoss(
        label_smoothing=0.1, weight=m.tensor([1., 2., 0.5, 1.5]), ignore_index=1, **kw),
    "ce_prob": lambda m, kw: m.nn.CrossEntropyLoss(**kw),
    "ce_prob_weight_smoothing": lambda m, kw: m.nn.CrossEntropyLoss(
        weight=m.tensor([1., 2., 0.5, 1.5]), label_smoothing=0.3, **kw),
    "ce_prob_3d": lambda m, kw: m.nn.CrossEntropyLoss(**kw),
    "ce_1d": lambda m, kw: m.nn.CrossEntropyLoss(**kw),
    "ce_3d": lambda m, kw: m.nn.CrossEntropyLoss(weight=m.tensor([1., 2., 0.5, 1.5]), **kw),
    "ce_4d": lambda m, kw: m.nn.CrossEntropyLoss(ignore_index=1, **kw),
}


def _kind(name):
    for k in ("bce_logits", "bce", "mse", "l1", "nll", "ce_prob_3d", "ce_prob", "ce_1d", "ce_3d",
              "ce_4d"):
        if name.startswith(k):
            return k
    return "ce"


def _run_loss(m, name, reduction, dtype, target_grad):
    rng = np.random.default_rng(abs(hash((name, reduction))) % 1000)
    x, t = _loss_inputs(_kind(name), dtype, rng)
    loss_fn = LOSSES[name](m, {"reduction": reduction})
    loss_fn.to(getattr(m, dtype))
    xt = m.tensor(x.astype(dtype), requires_grad=True)
    if t.dtype.kind == "f":
        tt = m.tensor(t.astype(dtype), requires_grad=target_grad)
    else:
        tt = m.tensor(t)
    out = loss_fn(xt, tt)
    g = np.random.default_rng(7).standard_normal(tuple(out.shape)).astype(dtype)
    out.backward(m.tensor(g))
    return out, xt.grad, (tt.grad if tt.requires_grad else None)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_value_and_gradients_match_torch(name, reduction, dtype):
    target_grad = _kind(name) in ("mse", "l1", "bce", "bce_logits", "ce_prob")
    a = _run_loss(nb, name, reduction, dtype, target_grad)
    b = _run_loss(torch, name, reduction, dtype, target_grad)
    assert a[0].dtype is getattr(nb, dtype)
    assert tuple(a[0].shape) == tuple(b[0].shape)
    for x, y in zip(a, b):
        assert (x is None) == (y is None)
        if x is not None:
            assert_close(x, y, dtype)
    assert type(a[0].grad_fn).__name__ == type(b[0].grad_fn).__name__


def test_functional_losses_accept_legacy_and_mixed_arguments():
    for m in (nb, torch):
        x = m.tensor([[0.2, 0.7], [0.4, 0.1]], requires_grad=True)
        t = m.tensor([[0., 1.], [1., 0.]])
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            s = m.nn.functional.mse_loss(x, t, size_average=False)
        assert abs(s.item() - ((np_of(x) - np_of(t)) ** 2).sum()) < 1e-6
        with pytest.warns(UserWarning, match="Using a target size"):
            b = m.nn.functional.mse_loss(x, m.tensor([0., 1.]))
        assert abs(b.item() - ((np_of(x) - [0., 1.]) ** 2).mean()) < 1e-6
        # a long target against a float input, a double target against a float input
        assert m.nn.functional.mse_loss(x, m.ones(2, 2, dtype=m.int64)).dtype == m.float32
        assert m.nn.functional.mse_loss(x, t.double()).dtype == m.float64
    # the broadcast gradient sums back to the target's shape
    xa, xb = both([[1., 2.], [3., 4.]], True)
    ta, tb = both([0.5, -1.], True)
    with pytest.warns(UserWarning, match="Using a target size"):
        nb.nn.functional.mse_loss(xa, ta).backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.nn.functional.mse_loss(xb, tb).backward()
    assert_close(xa.grad, xb.grad)
    assert_close(ta.grad, tb.grad)


LOSS_ERRORS = [
    lambda m: m.nn.functional.cross_entropy(m.randn(3, 4), m.tensor([0, 1])),
    lambda m: m.nn.functional.cross_entropy(m.randn(3, 4), m.tensor([0, 1, 4])),
    lambda m: m.nn.functional.cross_entropy(m.randn(3, 4), m.tensor([0, 1, -1])),
    lambda m: m.nn.functional.cross_entropy(m.randn(3, 4), m.tensor([0., 1, 1])),
    lambda m: m.nn.functional.cross_entropy(m.randn(3, 4), m.tensor([0, 1, 1], dtype=m.int32)),
    lambda m: m.nn.functional.cross_entropy(m.randn(3, 4), m.randn(3, 5)),
    lambda m: m.nn.functional.cross_entropy(m.randn(3, 4), m.tensor([[0, 1, 1]])),
    lambda m: m.nn.functional.cross_entropy(m.randn(3, 4), m.tensor([0, 1, 1]),
                                            label_smoothing=1.5),
    lambda m: m.nn.functional.cross_entropy(m.randn(3, 4), m.rand(3, 4), ignore_index=1),
    lambda m: m.nn.functional.cross_entropy(m.randn(3, 4), m.rand(3, 4), weight=m.ones(3)),
    lambda m: m.nn.functional.cross_entropy(m.randn(3, 4), m.ones(3, 4, dtype=m.int64)),
    lambda m: m.nn.functional.nll_loss(m.randn(3, 4), m.tensor([0, 1, 9])),
    lambda m: m.nn.functional.nll_loss(m.randn(3, 4, 5), m.tensor([0, 1, 2])),
    lambda m: m.nn.functional.nll_loss(m.randn(3, 4), m.tensor([0, 1, 2]), weight=m.ones(3)),
    lambda m: m.nn.functional.nll_loss(m.tensor(1.), m.tensor(0)),
    lambda m: m.nn.functional.mse_loss(m.randn(3, 4), m.randn(5)),
    lambda m: m.nn.functional.mse_loss(m.randn(3), m.randn(3), reduction="foo"),
    lambda m: m.nn.MSELoss(reduction="avg")(m.randn(3), m.randn(3)),
    lambda m: m.nn.functional.binary_cross_entropy(m.rand(3), m.rand(3, 1)),
    lambda m: m.nn.functional.binary_cross_entropy(m.tensor([1.5]), m.rand(1)),
    lambda m: m.nn.functional.binary_cross_entropy(m.rand(3), m.rand(3).double()),
    lambda m: m.nn.functional.binary_cross_entropy(m.rand(3), m.ones(3, dtype=m.int64)),
    lambda m: m.nn.functional.binary_cross_entropy_with_logits(m.rand(3), m.rand(3, 1)),
    lambda m: m.nn.functional.binary_cross_entropy_with_logits(m.rand(3),
                                                               m.ones(3, dtype=m.int64)),
]


@pytest.mark.parametrize("k", range(len(LOSS_ERRORS)))
def test_loss_errors_match_torch(k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same_error(lambda: LOSS_ERRORS[k](nb), lambda: LOSS_ERRORS[k](torch))


def test_loss_edge_values_match_torch():
    cases = [
        lambda m: m.nn.functional.cross_entropy(m.zeros(0, 4), m.zeros(0, dtype=m.int64)),
        lambda m: m.nn.functional.nll_loss(m.zeros(3, 4),
                                           m.tensor([-100, -100, -100])),
        lambda m: m.nn.functional.binary_cross_entropy(m.tensor([0., 1., 0.5]),
                                                       m.tensor([1., 0., 0.5])),
        lambda m: m.nn.functional.binary_cross_entropy_with_logits(
            m.tensor([-200., 200., 0.]), m.tensor([1., 0., 0.5])),
        lambda m: m.nn.functional.nll_loss(m.tensor([-1., -2., -3.]), m.tensor([2]),
                                           reduction="none"),
        lambda m: m.nn.functional.nll_loss(m.tensor([-1., -2., -3.]), m.tensor(1),
                                           reduction="none"),
        lambda m: m.nn.functional.cross_entropy(m.tensor([1., 2., 3.]),
                                                m.tensor([0.2, 0.3, 0.5])),
    ]
    for case in cases:
        a, b = case(nb), case(torch)
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(np_of(a), np_of(b), rtol=1e-5, equal_nan=True)


def test_nll_loss_frees_its_state_like_torch():
    for m in (nb, torch):
        x = m.randn(3, 4, requires_grad=True)
        loss = m.nn.functional.nll_loss(x.log_softmax(1), m.tensor([0, 1, 2]))
        loss.backward(retain_graph=True)
        loss.backward()
        assert x.grad is not None
        loss2 = m.nn.functional.cross_entropy(x, m.tensor([0, 1, 2]))
        loss2.backward()
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second"):
            loss2.backward()


@pytest.mark.parametrize("name", ["mse", "bce", "bce_logits_pos_weight", "ce_weight", "ce_prob",
                                  "nll_weight_ignore", "l1"])
def test_loss_double_backward_matches_torch(name):
    """A gradient penalty: differentiate the input gradient's norm again."""
    def run(m):
        rng = np.random.default_rng(3)
        x, t = _loss_inputs(_kind(name), "float64", rng)
        loss_fn = LOSSES[name](m, {"reduction": "mean"}).double()
        xt = m.tensor(x, requires_grad=True)
        tt = m.tensor(t)
        w = m.tensor(rng.uniform(0.5, 1.0, x.shape), requires_grad=True)
        loss = loss_fn(xt * w, tt)
        (gx,) = m.autograd.grad(loss, xt, create_graph=True)
        (gx ** 2).sum().backward()
        return w.grad
    np.testing.assert_allclose(np_of(run(nb)), np_of(run(torch)), rtol=1e-8, atol=1e-12)


def test_linear_double_backward_and_batched_grads_match_torch():
    def run(m):
        lin = m.nn.Linear(3, 2).double()
        with m.no_grad():
            lin.weight.copy_(m.tensor([[0.1, -0.2, 0.3], [0.5, 0.4, -0.6]], dtype=m.float64))
            lin.bias.copy_(m.tensor([0.05, -0.1], dtype=m.float64))
        x = m.tensor([[1., 2., 3.], [-1., 0.5, 2.]], dtype=m.float64, requires_grad=True)
        y = lin(x).tanh()
        (gx,) = m.autograd.grad(y.sum(), x, create_graph=True)
        (gx ** 2).sum().backward()
        cot = m.eye(4, dtype=m.float64).reshape(4, 2, 2)
        batched = m.autograd.grad(lin(x), [x, lin.weight, lin.bias], cot, is_grads_batched=True)
        return [lin.weight.grad, lin.bias.grad, *batched]
    for a, b in zip(run(nb), run(torch)):
        np.testing.assert_allclose(np_of(a), np_of(b), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["mse_none", "mse_mean", "bce_none", "bce_mean", "bcel_none",
                                  "bcel_mean", "ce_none", "ce_mean", "ce_prob", "nll_1d",
                                  "nll_3d_none", "leaky", "linear", "linear_3d"])
def test_batched_gradients_through_nn_nodes_equal_looped(name):
    """``is_grads_batched`` runs the VJPs with a leading batch dim on every gradient."""
    F = nb.nn.functional
    rng = np.random.default_rng(0)
    x = nb.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    p = nb.tensor(rng.uniform(0.1, 0.9, (4, 3)), requires_grad=True)
    t = nb.tensor(rng.uniform(0, 1, (4, 3)), requires_grad=True)
    ti = nb.tensor([0, 2, 1, 1])
    w = nb.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = nb.tensor(rng.standard_normal(2), requires_grad=True)
    pw = nb.tensor([1., 2., 3.], dtype=nb.float64)
    fn, inputs = {
        "mse_none": (lambda: F.mse_loss(x, t, reduction="none"), [x, t]),
        "mse_mean": (lambda: F.mse_loss(x, t), [x, t]),
        "bce_none": (lambda: F.binary_cross_entropy(p, t, reduction="none"), [p, t]),
        "bce_mean": (lambda: F.binary_cross_entropy(p, t), [p, t]),
        "bcel_none": (lambda: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw,
                                                                 reduction="none"), [x, t]),
        "bcel_mean": (lambda: F.binary_cross_entropy_with_logits(x, t), [x, t]),
        "ce_none": (lambda: F.cross_entropy(x, ti, reduction="none"), [x]),
        "ce_mean": (lambda: F.cross_entropy(x, ti), [x]),
        "ce_prob": (lambda: F.cross_entropy(x, t.softmax(1)), [x, t]),
        "nll_1d": (lambda: F.nll_loss(x[0], ti[0], reduction="none"), [x]),
        "nll_3d_none": (lambda: F.nll_loss(x.reshape(2, 3, 2), nb.tensor([[0, 1], [2, 2]]),
                                           reduction="none"), [x]),
        "leaky": (lambda: F.leaky_relu(x, 0.2), [x]),
        "linear": (lambda: F.linear(x, w, b), [x, w, b]),
        "linear_3d": (lambda: F.linear(x.reshape(2, 2, 3), w, b), [x, w, b]),
    }[name]
    out = fn()
    n = out.numel()
    cot = nb.eye(n, dtype=nb.float64).reshape(n, *out.shape)
    batched = nb.autograd.grad(out, inputs, cot, retain_graph=True, is_grads_batched=True)
    for k in range(n):
        looped = nb.autograd.grad(out, inputs, cot[k], retain_graph=True)
        for gb, gl in zip(batched, looped):
            np.testing.assert_allclose(np_of(gb)[k], np_of(gl), rtol=1e-12, atol=1e-14)


def test_inplace_activations_match_torch():
    def run(m, which):
        x = m.tensor([[-1., 2., -3.], [0.5, -0.5, 4.]], requires_grad=True)
        lin = m.nn.Linear(3, 3)
        with m.no_grad():
            lin.weight.copy_(m.eye(3))
            lin.bias.zero_()
        act = {"relu": m.nn.ReLU(inplace=True), "leaky": m.nn.LeakyReLU(0.1, inplace=True)}[which]
        y = act(lin(x))
        y.sum().backward()
        return y, x.grad
    for which in ("relu", "leaky"):
        (ya, ga), (yb, gb) = run(nb, which), run(torch, which)
        assert repr(ya) == repr(yb)
        assert_close(ga, gb, "float32")
    def negative_slope(m):
        y = m.nn.functional.leaky_relu(m.ones(2, requires_grad=True) * 1, -0.1, True)
        return lambda: y.sum().backward()
    same_error(negative_slope(nb), negative_slope(torch))


def test_optimizer_step_invalidates_saved_weights_like_torch():
    def run(m):
        lin = m.nn.Linear(2, 2)
        opt = m.optim.SGD(lin.parameters(), lr=0.1)
        loss = lin(m.ones(3, 2, requires_grad=True)).sum()
        loss.backward(retain_graph=True)
        opt.step()
        return lambda: loss.backward()
    e_nb, e_t = error_of(run(nb)), error_of(run(torch))
    assert e_nb[0] == e_t[0] == "RuntimeError"
    assert "modified by an inplace operation" in e_nb[1]
    assert e_nb[1].split(":")[0] == e_t[1].split(":")[0]


# --- init --------------------------------------------------------------------------------------
def test_calculate_gain_matches_torch():
    for args in [("linear",), ("sigmoid",), ("tanh",), ("relu",), ("leaky_relu",),
                 ("leaky_relu", 0.2), ("leaky_relu", 3), ("selu",), ("conv2d",)]:
        assert nb.nn.init.calculate_gain(*args) == torch.nn.init.calculate_gain(*args)
    for bad in [("foo",), ("leaky_relu", "x"), ("leaky_relu", True)]:
        same_error(lambda: nb.nn.init.calculate_gain(*bad),
                   lambda: torch.nn.init.calculate_gain(*bad))


@pytest.mark.parametrize("fn,kwargs,check", [
    ("uniform_", dict(a=-2., b=3.), lambda v, s: v.min() >= -2 and v.max() <= 3),
    ("normal_", dict(mean=1., std=2.), lambda v, s: abs(v.mean() - 1) < 0.1 and
     abs(v.std() - 2) < 0.1),
    ("xavier_uniform_", dict(gain=2.), lambda v, s: np.abs(v).max() <= s),
    ("xavier_normal_", dict(), lambda v, s: abs(v.std() - s) < 0.05 * s),
    ("kaiming_uniform_", dict(a=np.sqrt(5)), lambda v, s: np.abs(v).max() <= s),
    ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu"),
     lambda v, s: np.abs(v).max() <= s),
    ("kaiming_normal_", dict(nonlinearity="relu"), lambda v, s: abs(v.std() - s) < 0.05 * s),
    ("trunc_normal_", dict(std=1., a=-0.5, b=1.), lambda v, s: v.min() >= -0.5 and v.max() <= 1),
])
def test_init_fills_in_place_with_the_right_distribution(fn, kwargs, check):
    shape = (200, 100)
    fan_in, fan_out = 100, 200
    scale = {  # the bound (uniform) or std (normal) torch uses
        "xavier_uniform_": 2 * np.sqrt(6 / (fan_in + fan_out)),
        "xavier_normal_": np.sqrt(2 / (fan_in + fan_out)),
        "kaiming_uniform_": (np.sqrt(3 / fan_in) * np.sqrt(2 / 6)) if "a" in kwargs
        else np.sqrt(3 / fan_out) * np.sqrt(2),
        "kaiming_normal_": np.sqrt(2 / fan_in),
    }.get(fn)
    w = nb.nn.Parameter(nb.empty(*shape))
    nb.manual_seed(0)
    out = getattr(nb.nn.init, fn)(w, **kwargs)
    assert out is w and w.requires_grad and w.is_leaf and w.grad_fn is None
    v = np_of(w)
    assert check(v, scale)
    if scale is not None and "uniform" in fn:
        assert np.abs(v).max() > 0.95 * scale  # uses the whole interval
    nb.manual_seed(0)
    again = getattr(nb.nn.init, fn)(nb.empty(*shape), **kwargs)
    np.testing.assert_array_equal(v, np_of(again))


def test_init_constant_and_errors_match_torch():
    for m in (nb, torch):
        w = m.nn.Parameter(m.empty(2, 3))
        m.nn.init.constant_(w, 0.5)
        assert np_of(w).tolist() == [[0.5] * 3] * 2
        m.nn.init.ones_(w)
        assert np_of(w).sum() == 6
        m.nn.init.zeros_(w)
        assert np_of(w).sum() == 0
        m.nn.init.eye_(w)
        assert np_of(w).tolist() == [[1, 0, 0], [0, 1, 0]]
        assert w.requires_grad and w.is_leaf
    same_error(lambda: nb.nn.init.xavier_uniform_(nb.empty(3)),
               lambda: torch.nn.init.xavier_uniform_(torch.empty(3)))
    same_error(lambda: nb.nn.init.kaiming_normal_(nb.empty(3, 3), mode="fan"),
               lambda: torch.nn.init.kaiming_normal_(torch.empty(3, 3), mode="fan"))
    for m in (nb, torch):
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            m.nn.init.kaiming_uniform_(m.empty(0, 3))


# --- doctests ----------------------------------------------------------------------------------
NN_MODULES = ["nbautograd.nn", "nbautograd.nn.parameter", "nbautograd.nn.functional",
              "nbautograd.nn.init", "nbautograd.nn._nodes", "nbautograd.nn.modules.module",
              "nbautograd.nn.modules.container", "nbautograd.nn.modules.linear",
              "nbautograd.nn.modules.activation", "nbautograd.nn.modules.flatten",
              "nbautograd.nn.modules.dropout", "nbautograd.nn.modules.loss"]


@pytest.mark.parametrize("modname", NN_MODULES)
def test_nn_doctests(modname):
    mod = importlib.import_module(modname)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
