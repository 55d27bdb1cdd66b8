"""optim against PyTorch: parameter groups and defaults, repr, errors, zero_grad, each update
rule step by step, state_dict round trips, and the acceptance test: a 4-16-3 tanh MLP trained
for 100 steps with the same initial weights in both libraries, for every optimizer variant,
giving the same loss trajectory and final weights.
"""
import doctest
import importlib
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import nbautograd as nb  # noqa: E402
import nbautograd.nn  # noqa: E402,F401
import nbautograd.optim  # noqa: E402,F401


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Small tensors: torch's thread pool only adds start-up and contention time here."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def np_of(t):
    return t.detach().numpy()


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


# torch picks its single-tensor (foreach=False) implementation on CPU; we pass nothing so the
# group dicts keep torch's defaults (foreach=None), and compare against exactly that.
CONFIGS = {
    "sgd": ("SGD", dict(lr=0.1)),
    "sgd_momentum": ("SGD", dict(lr=0.05, momentum=0.9)),
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    "sgd_dampening_wd": ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    "sgd_maximize": ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    "adam": ("Adam", dict(lr=0.01)),
    "adam_wd_amsgrad": ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.01,
                                     amsgrad=True)),
    "adam_maximize": ("Adam", dict(lr=0.01, maximize=True, eps=1e-6)),
    "adamw": ("AdamW", dict(lr=0.01)),
    "adamw_amsgrad": ("AdamW", dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
    # plain RMSprop's first steps are ~10*lr*sign(grad): with lr >= 0.005 the float32 run gets
    # chaotic, and torch's sqrt (MKL, not correctly rounded) cannot be matched bit for bit
    "rmsprop": ("RMSprop", dict(lr=0.002)),
    "rmsprop_centered": ("RMSprop", dict(lr=0.002, centered=True)),
    "rmsprop_momentum": ("RMSprop", dict(lr=0.005, momentum=0.9, weight_decay=0.01)),
    "rmsprop_centered_momentum": ("RMSprop", dict(lr=0.002, alpha=0.9, momentum=0.5,
                                                  centered=True)),
}


def make_opt(m, name, params):
    cls, kw = CONFIGS[name]
    return getattr(m.optim, cls)(params, **kw)


# --- construction ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(CONFIGS))
def test_param_groups_defaults_and_repr_match_torch(name):
    def build(m):
        a = m.nn.Parameter(m.zeros(2))
        b = m.nn.Parameter(m.zeros(3))
        return make_opt(m, name, [a, b])
    o_nb, o_t = build(nb), build(torch)
    assert repr(o_nb) == repr(o_t)
    g_nb = {k: v for k, v in o_nb.param_groups[0].items() if k != "params"}
    g_t = {k: v for k, v in o_t.param_groups[0].items() if k != "params"}
    assert g_nb == g_t
    assert o_nb.defaults == o_t.defaults
    assert len(o_nb.param_groups[0]["params"]) == 2


def test_default_learning_rates_match_torch():
    for cls in ("SGD", "Adam", "AdamW", "RMSprop"):
        a = getattr(nb.optim, cls)([nb.nn.Parameter(nb.zeros(1))])
        b = getattr(torch.optim, cls)([torch.nn.Parameter(torch.zeros(1))])
        assert a.defaults == b.defaults


def test_param_groups_and_add_param_group():
    def build(m):
        lin = m.nn.Linear(2, 2)
        extra = m.nn.Parameter(m.zeros(1))
        opt = m.optim.SGD([{"params": [lin.weight]}, {"params": lin.bias, "lr": 0.5}],
                          lr=0.1, momentum=0.9)
        opt.add_param_group({"params": [extra], "momentum": 0.0})
        return opt
    a, b = build(nb), build(torch)
    assert repr(a) == repr(b)
    for ga, gb in zip(a.param_groups, b.param_groups):
        assert {k: v for k, v in ga.items() if k != "params"} == \
            {k: v for k, v in gb.items() if k != "params"}
    named = nb.optim.Adam(nb.nn.Linear(2, 2).named_parameters())
    assert named.param_groups[0]["param_names"] == ["weight", "bias"]


ERRORS = [
    lambda m: m.optim.SGD([], lr=0.1),
    lambda m: m.optim.SGD(m.nn.Parameter(m.zeros(1)), lr=0.1),
    lambda m: m.optim.SGD([m.zeros(1, requires_grad=True) * 2], lr=0.1),
    lambda m: m.optim.SGD([1.0], lr=0.1),
    lambda m: m.optim.SGD([m.nn.Parameter(m.zeros(1))], lr=-1),
    lambda m: m.optim.SGD([m.nn.Parameter(m.zeros(1))], lr=0.1, momentum=-1),
    lambda m: m.optim.SGD([m.nn.Parameter(m.zeros(1))], lr=0.1, nesterov=True),
    lambda m: m.optim.SGD([m.nn.Parameter(m.zeros(1))], lr=0.1, weight_decay=-1),
    lambda m: m.optim.SGD([{"params": {m.nn.Parameter(m.zeros(1))}}], lr=0.1),
    lambda m: m.optim.Adam([m.nn.Parameter(m.zeros(1))], betas=(1.0, 0.9)),
    lambda m: m.optim.Adam([m.nn.Parameter(m.zeros(1))], betas=(0.9, -0.1)),
    lambda m: m.optim.Adam([m.nn.Parameter(m.zeros(1))], eps=-1.0),
    lambda m: m.optim.AdamW([m.nn.Parameter(m.zeros(1))], lr=-0.1),
    lambda m: m.optim.RMSprop([m.nn.Parameter(m.zeros(1))], alpha=-0.5),
    lambda m: m.optim.RMSprop([m.nn.Parameter(m.zeros(1))], momentum=-0.5),
    lambda m: (lambda p: m.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1))(
        m.nn.Parameter(m.zeros(1))),
    lambda m: m.optim.SGD([m.nn.Parameter(m.zeros(1))], lr=0.1).add_param_group([1]),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_construction_errors_match_torch(k):
    same_error(lambda: ERRORS[k](nb), lambda: ERRORS[k](torch))


def test_zero_grad_and_params_without_grad_are_skipped():
    for m in (nb, torch):
        a, b = m.nn.Parameter(m.ones(2)), m.nn.Parameter(m.ones(2))
        opt = m.optim.SGD([a, b], lr=0.5, momentum=0.9)
        (a * 3).sum().backward()
        opt.step()
        assert np_of(a).tolist() == [-0.5, -0.5] and np_of(b).tolist() == [1, 1]
        assert "momentum_buffer" in opt.state[a] and b not in opt.state
        opt.zero_grad(set_to_none=False)
        assert a.grad is not None and np_of(a.grad).tolist() == [0, 0]
        opt.zero_grad()
        assert a.grad is None
        assert a._version > 0 and a.is_leaf and a.requires_grad


def test_step_closure_and_hooks():
    for m in (nb, torch):
        w = m.nn.Parameter(m.tensor([1.0]))
        opt = m.optim.Adam([w], lr=0.1)
        calls = []
        opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
        h = opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))

        def closure():
            opt.zero_grad()
            loss = (w ** 2).sum()
            loss.backward()
            return loss
        with m.no_grad():  # the closure still records: step enables grad for it
            loss = opt.step(closure)
        assert loss.item() == 1.0 and calls == ["pre", "post"]
        h.remove()
        opt.step(closure)
        assert calls == ["pre", "post", "pre"]


# --- single steps against torch ----------------------------------------------------------------
def _step_run(m, name, dtype, steps, shapes=((3, 4), (4,), ())):
    rng = np.random.default_rng(11)
    params = [m.nn.Parameter(m.tensor(rng.standard_normal(s).astype(dtype))) for s in shapes]
    opt = make_opt(m, name, params)
    for k in range(steps):
        for p in params:
            p.grad = m.tensor(rng.standard_normal(tuple(p.shape)).astype(dtype))
        if k == 2 and len(params) > 1:
            params[1].grad = None  # a parameter without a gradient this step is skipped
        opt.step()
    return params, opt


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_update_rule_matches_torch(name, dtype):
    pa, oa = _step_run(nb, name, dtype, 6)
    pb, ob = _step_run(torch, name, dtype, 6)
    tol = dict(rtol=2e-6, atol=1e-7) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    for a, b in zip(pa, pb):
        assert a.dtype is getattr(nb, dtype)
        np.testing.assert_allclose(np_of(a), np_of(b), **tol)
    sa, sb = oa.state_dict(), ob.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sorted(sa["state"]) == sorted(sb["state"])
    for k in sa["state"]:
        assert list(sa["state"][k]) == list(sb["state"][k])
        for key, va in sa["state"][k].items():
            vb = sb["state"][k][key]
            assert va.dtype is getattr(nb, str(vb.dtype).split(".")[-1])
            np.testing.assert_allclose(np_of(va), np_of(vb), **tol)
    if sb["state"]:
        assert repr(sa["state"][0].get("step")) == repr(sb["state"][0].get("step"))


def test_version_counters_bump_like_torch():
    for name in ("sgd_momentum", "adam", "adamw", "rmsprop_centered_momentum"):
        pa, _ = _step_run(nb, name, "float32", 3, shapes=((2,),))
        pb, _ = _step_run(torch, name, "float32", 3, shapes=((2,),))
        assert pa[0]._version == pb[0]._version


def test_state_dict_roundtrip_continues_training_identically():
    def train(m, steps, opt=None, params=None):
        rng = np.random.default_rng(5)
        if params is None:
            params = [m.nn.Parameter(m.tensor(rng.standard_normal((3, 2))))]
            opt = m.optim.Adam(params, lr=0.05, amsgrad=True)
        for _ in range(steps):
            opt.zero_grad()
            (params[0] ** 3).sum().backward()
            opt.step()
        return params, opt

    straight, _ = train(nb, 8)
    params, opt = train(nb, 4)
    saved = opt.state_dict()
    fresh = nb.optim.Adam(params, lr=0.5)  # the loaded hyper-parameters replace these
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == 0.05 and fresh.param_groups[0]["params"][0] is params[0]
    train(nb, 4, fresh, params)
    np.testing.assert_allclose(np_of(params[0]), np_of(straight[0]), rtol=1e-12)
    # a torch state dict's layout is the same
    tp, topt = train(torch, 4)
    tsd = topt.state_dict()
    assert list(tsd["state"][0]) == list(saved["state"][0])
    assert tsd["param_groups"][0].keys() == saved["param_groups"][0].keys()
    same_error(lambda: fresh.load_state_dict({"state": {}, "param_groups": []}),
               lambda: topt.load_state_dict({"state": {}, "param_groups": []}))


def test_load_state_dict_casts_state_to_parameter_dtype():
    p = nb.nn.Parameter(nb.zeros(2, dtype=nb.float64))
    opt = nb.optim.SGD([p], lr=0.1, momentum=0.9)
    opt.load_state_dict({"state": {0: {"momentum_buffer": nb.ones(2)}},
                         "param_groups": [dict(opt.state_dict()["param_groups"][0])]})
    assert opt.state[p]["momentum_buffer"].dtype is nb.float64


# --- acceptance: train the same MLP in both ----------------------------------------------------
def _data(dtype):
    rng = np.random.default_rng(2024)
    x = rng.standard_normal((32, 4)).astype(dtype)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 0.7)
    return x, y


def _train(m, init_state, name, dtype, steps=100):
    model = m.nn.Sequential(m.nn.Linear(4, 16), m.nn.Tanh(), m.nn.Linear(16, 3))
    if dtype == "float64":
        model.double()
    model.load_state_dict({k: m.tensor(v.copy()) for k, v in init_state.items()})
    opt = make_opt(m, name, model.parameters())
    loss_fn = m.nn.CrossEntropyLoss()
    x, y = _data(dtype)
    xt, yt = m.tensor(x), m.tensor(y)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses), {k: np_of(v).copy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_mlp_training_matches_torch(name, dtype):
    nb.manual_seed(0)
    init_model = nb.nn.Sequential(nb.nn.Linear(4, 16), nb.nn.Tanh(), nb.nn.Linear(16, 3))
    init_state = {k: v.numpy().astype(dtype) for k, v in init_model.state_dict().items()}
    la, wa = _train(nb, init_state, name, dtype)
    lb, wb = _train(torch, init_state, name, dtype)
    tol = 1e-5 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(la, lb, rtol=tol, atol=tol * 1e-2)
    for k in wa:  # relative to each tensor's scale: an element near 0 has no digits to spare
        np.testing.assert_allclose(wa[k], wb[k], rtol=tol, atol=tol * np.abs(wb[k]).max())
    if not CONFIGS[name][1].get("maximize"):
        assert la[-1] < la[0]  # it learned something


# --- doctests ----------------------------------------------------------------------------------
@pytest.mark.parametrize("modname", ["nbautograd.optim", "nbautograd.optim.optimizer",
                                     "nbautograd.optim.sgd", "nbautograd.optim.adam",
                                     "nbautograd.optim.rmsprop"])
def test_optim_doctests(modname):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = doctest.testmod(importlib.import_module(modname), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
