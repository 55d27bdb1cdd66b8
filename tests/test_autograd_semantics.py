"""Autograd semantics vs torch: accumulation, hooks, grad modes, in-place/version counters, graph structure."""

import gc
import threading
import warnings
import weakref

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from oracle import (  # noqa: E402
    capture_error,
    capture_warnings,
    engine_is_torch,
    grad_fn_name,
    same_behaviour,
    to_np,
)


def _x(m, values=(1.0, 2.0, 3.0), **kw):
    return m.tensor(list(values), requires_grad=True, **kw)


# ---------------------------------------------------------------------------
# accumulation, retain_graph, .grad bookkeeping


def test_accumulation_with_retain_graph(nb):
    def run(m):
        x = _x(m)
        y = (x ** 2).sum()
        y.backward(retain_graph=True)
        g1 = x.grad.clone()
        y.backward()
        return g1, x.grad, x.grad.requires_grad, grad_fn_name(x.grad), x.grad.is_leaf

    exp = same_behaviour(nb, run)
    assert exp[1].values.tolist() == [4.0, 8.0, 12.0]


def test_accumulation_across_graphs_and_broadcast(nb):
    def run(m):
        x = _x(m)
        w = m.tensor([[0.5], [2.0]], requires_grad=True)  # broadcast against x -> (2, 3)
        (x * w).sum().backward()
        (x.exp() * w).mean().backward()
        return x.grad, w.grad

    same_behaviour(nb, run)


def test_grad_zero_and_reset(nb):
    def run(m):
        x = _x(m)
        (x * 3).sum().backward()
        first = x.grad.clone()
        x.grad.zero_()
        zeroed = x.grad.clone()
        (x * x).sum().backward()
        after_zero = x.grad.clone()
        x.grad = None
        none = x.grad is None
        (x * 5).sum().backward()
        return first, zeroed, after_zero, none, x.grad

    same_behaviour(nb, run)


def test_grad_setter(nb):
    def run(m):
        x = _x(m)
        x.grad = m.tensor([1.0, 1.0, 1.0])
        (x * 2).sum().backward()
        return x.grad

    exp = same_behaviour(nb, run)
    assert exp.values.tolist() == [3.0, 3.0, 3.0]


def test_backward_scalar_gradient_argument(nb):
    def run(m):
        x = _x(m)
        y = (x ** 2).sum()
        y.backward(m.tensor(0.5))
        a = x.grad.clone()
        x.grad = None
        z = x * 2
        z.backward(gradient=m.tensor([1.0, 0.1, 0.01]))
        return a, x.grad

    same_behaviour(nb, run)


def test_backward_create_graph_then_second_derivative(nb):
    def run(m):
        x = _x(m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about the param<->grad reference cycle
            (x ** 3).sum().backward(create_graph=True)
        g = x.grad
        rg = g.requires_grad
        x.grad = None
        g.sum().backward()
        return g.detach(), rg, x.grad

    exp = same_behaviour(nb, run)
    assert exp[2].values.tolist() == [6.0, 12.0, 18.0]


def test_backward_create_graph_grad_is_a_copy_then_accumulates_as_torch(nb):
    # torch clones a differentiable first gradient into .grad (CopyBackwards), adds later ones
    # out of place (AddBackward0), and without create_graph adds in place: grad_fn stays
    def run(m):
        x = _x(m)

        def graph():
            return (x.grad.grad_fn.name(), [None if f is None else f.name()
                                            for f, _ in x.grad.grad_fn.next_functions])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (x ** 3).sum().backward(create_graph=True)
            first = graph()
            (x ** 3).sum().backward(create_graph=True)
            second = graph()
        g = x.grad
        (x * x).sum().backward()
        return first, second, graph(), g is x.grad, x.grad.detach(), g._version

    exp = same_behaviour(nb, run)
    assert exp[0] == ("torch::autograd::CopyBackwards", [None, "MulBackward0"])


def test_backward_create_graph_warns_once_per_process_as_torch(nb, tmp_path):
    import subprocess
    import sys
    script = tmp_path / "cycle.py"
    script.write_text(
        "import sys, warnings\n"
        "import importlib\n"
        "m = importlib.import_module(sys.argv[1])\n"
        "with warnings.catch_warnings(record=True) as rec:\n"
        "    warnings.simplefilter('always')\n"
        "    x = m.tensor([1.0, 2.0], requires_grad=True)\n"
        "    (x * x).sum().backward(create_graph=True)\n"
        "    m.autograd.backward((x * x).sum(), create_graph=True)\n"
        "    m.autograd.grad((x * x).sum(), x, create_graph=True)\n"
        "for w in rec:\n"
        "    print(w.category.__name__, w.filename == __file__, w.message)\n")

    def run(name):
        return subprocess.run([sys.executable, str(script), name], capture_output=True,
                              text=True, check=True).stdout
    got, expected = run(nb.__name__), run("torch")
    assert got.count("UserWarning") == expected.count("UserWarning") == 1
    assert got.split(" ", 2)[2] == expected.split(" ", 2)[2]  # the message, word for word
    assert got.split(" ", 2)[1] == "True"  # shown at the user's line


def test_nan_and_inf_arise_silently_as_in_torch(nb, tmp_path):
    # numpy warns ("invalid value encountered in multiply"); torch does not. Checked in a fresh
    # interpreter with RuntimeWarnings as errors; the user's own numpy code must still warn.
    import subprocess
    import sys
    script = tmp_path / "silent.py"
    script.write_text(
        "import sys, importlib\n"
        "import numpy as np\n"
        "m = importlib.import_module(sys.argv[1])\n"
        "x = m.tensor([0.0, 1.0, 100.0], requires_grad=True)\n"
        "inf = float('inf')\n"
        "y = ((x * inf).sum() + (m.ones(3, 3) @ m.tensor([inf, 1.0, 1.0])).sum()\n"
        "     + m.exp(x * 10).sum() + m.log(x).sum() + (1 / x).sum() + (x ** -1.5).sum())\n"
        "y.backward()\n"
        "print(y.item(), x.grad.tolist())\n"
        "try:\n"
        "    np.float32(0) / np.float32(0)\n"
        "except RuntimeWarning:\n"
        "    print('user numpy warns')\n")

    def run(name):
        return subprocess.run([sys.executable, "-W", "error::RuntimeWarning", str(script), name],
                              capture_output=True, text=True, check=True).stdout
    assert run(nb.__name__) == run("torch")


def test_leaf_grad_dtype_and_shape(nb):
    def run(m):
        a = m.ones(2, 3, dtype=m.float64, requires_grad=True)
        b = m.ones(3, requires_grad=True)
        (a * b).sum().backward()
        return str(a.grad.dtype), tuple(a.grad.shape), str(b.grad.dtype), tuple(b.grad.shape), b.grad

    same_behaviour(nb, run)


# ---------------------------------------------------------------------------
# non-leaf .grad, retain_grad


def test_nonleaf_grad_is_none_and_warns(nb):
    def run(m):
        x = _x(m)
        y = x * 2
        y.sum().backward()
        g, warns = capture_warnings(lambda: y.grad)
        return g is None, warns

    exp = same_behaviour(nb, run)
    assert exp[0] is True and len(exp[1]) == 1 and exp[1][0][0] == "UserWarning"
    assert "not a leaf Tensor" in exp[1][0][1]


def test_leaf_grad_does_not_warn(nb):
    def run(m):
        x = _x(m)
        before = capture_warnings(lambda: x.grad)
        (x * 2).sum().backward()
        after = capture_warnings(lambda: x.grad)
        plain = capture_warnings(lambda: m.ones(2).grad)
        return before[0] is None, before[1], after[1], plain

    same_behaviour(nb, run)


def test_retain_grad(nb):
    def run(m):
        x = _x(m)
        y = x * 2
        r = y.retain_grad()
        z = (y * y).sum()
        z.backward()
        g, warns = capture_warnings(lambda: y.grad)
        x.retain_grad()  # no-op on a leaf
        return r is None, g, warns, x.grad, y.retains_grad, x.retains_grad, y.is_leaf

    exp = same_behaviour(nb, run)
    assert exp[1].values.tolist() == [4.0, 8.0, 12.0]


# ---------------------------------------------------------------------------
# hooks


def test_hook_on_leaf_modifies_gradient_and_is_removable(nb):
    def run(m):
        x = _x(m)
        calls = []

        def hook(g):
            calls.append(g.tolist())
            return g * 2

        h = x.register_hook(hook)
        (x * 3).sum().backward()
        first = x.grad.clone()
        h.remove()
        x.grad = None
        (x * 3).sum().backward()
        return first, x.grad, calls

    exp = same_behaviour(nb, run)
    assert exp[0].values.tolist() == [6.0, 6.0, 6.0] and exp[1].values.tolist() == [3.0, 3.0, 3.0]


def test_hook_on_nonleaf_changes_what_flows_upstream(nb):
    def run(m):
        x = _x(m)
        y = x * 2
        seen = []
        y.register_hook(lambda g: seen.append(g.clone()))  # returns None -> gradient unchanged
        y.register_hook(lambda g: g + 1)
        (y * y).sum().backward()
        return seen, x.grad

    exp = same_behaviour(nb, run)
    assert exp[1].values.tolist() == [2 * (4.0 + 1), 2 * (8.0 + 1), 2 * (12.0 + 1)]


def test_hook_runs_before_retain_grad(nb):
    def run(m):
        x = _x(m)
        y = x * 2
        y.retain_grad()
        y.register_hook(lambda g: g * 10)
        y.sum().backward()
        return y.grad, x.grad

    same_behaviour(nb, run)


def test_hook_handle_remove_on_nonleaf(nb):
    def run(m):
        x = _x(m)
        y = x.exp()
        h = y.register_hook(lambda g: g * 0)
        h.remove()
        y.sum().backward()
        return x.grad

    same_behaviour(nb, run)


# ---------------------------------------------------------------------------
# backward(inputs=...), autograd.backward, autograd.grad


def test_backward_inputs_restricts_accumulation(nb):
    def run(m):
        x = _x(m)
        y = _x(m, (4.0, 5.0, 6.0))
        z = (x * y).sum()
        z.backward(inputs=[x], retain_graph=True)
        gx, gy = x.grad.clone(), y.grad
        m.autograd.backward(z, inputs=[y])
        return gx, gy is None, x.grad, y.grad

    same_behaviour(nb, run)


def test_autograd_backward_multiple_roots(nb):
    def run(m):
        x = _x(m)
        a = (x * x).sum()
        b = x.sin()
        m.autograd.backward([a, b], [m.tensor(2.0), m.tensor([1.0, -1.0, 0.5])])
        g1 = x.grad.clone()
        x.grad = None
        m.autograd.backward((x ** 3).sum())
        return g1, x.grad

    same_behaviour(nb, run)


def test_autograd_grad_variants(nb):
    def run(m):
        x = _x(m)
        y = _x(m, (4.0, 5.0, 6.0))
        z = (x * y).sum()
        res = m.autograd.grad(z, [x, y], retain_graph=True)
        single = m.autograd.grad(z, x)
        not_accumulated = x.grad is None and y.grad is None
        g_out = m.autograd.grad(x * 2, x, grad_outputs=m.tensor([0.5, 1.0, 2.0]))
        unused = m.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
        tuple_inputs = m.autograd.grad((x * y).sum(), (x, y))
        return (type(res).__name__, len(res), res, type(single).__name__, single, not_accumulated,
                g_out, unused[1] is None, unused[0], tuple_inputs)

    same_behaviour(nb, run)


def test_autograd_grad_create_graph(nb):
    def run(m):
        x = _x(m)
        (g,) = m.autograd.grad((x ** 3).sum(), x, create_graph=True)
        rg = g.requires_grad
        (h,) = m.autograd.grad(g.sum(), x)
        (g2,) = m.autograd.grad((x ** 3).sum(), x)  # without create_graph
        return g.detach(), rg, h, g2.requires_grad, x.grad is None

    exp = same_behaviour(nb, run)
    assert exp[2].values.tolist() == [6.0, 12.0, 18.0]


def test_autograd_grad_retain_graph_allows_second_call(nb):
    def run(m):
        x = _x(m)
        z = x.exp().sum()
        a = m.autograd.grad(z, x, retain_graph=True)[0]
        b = m.autograd.grad(z, x)[0]
        err = capture_error(lambda: m.autograd.grad(z, x))
        return a, b, type(err).__name__

    same_behaviour(nb, run)


# ---------------------------------------------------------------------------
# second backward: saved tensors freed vs graphs that save nothing

DOUBLE_BACKWARD_EXPRS = [
    "x + 1", "1 + x", "x - 1", "2 - x", "-x", "x + x", "x.sum()", "x * 2", "2 * x", "x / 2", "x * x",
    "x.exp()", "x ** 2", "x.sin()", "x.relu()", "x.view(3)", "x[0]", "x.unsqueeze(0)",
]


@pytest.mark.parametrize("expr", DOUBLE_BACKWARD_EXPRS)
def test_second_backward(nb, expr):
    def run(m):
        x = _x(m)
        y = eval(expr, {}, {"x": x}).sum()  # noqa: S307 - fixed test expressions
        y.backward()
        err = capture_error(y.backward)
        if err is None:
            return "ok", x.grad
        return "error", type(err).__name__, str(err)

    same_behaviour(nb, run)


def test_second_backward_examples(nb):
    """The two classic tutorial examples, checked against hard-coded expectations too."""

    def run(m):
        x = _x(m)
        y = x + 1
        y.sum().backward()
        y.sum().backward()  # AddBackward saves no tensors: works twice, grads accumulate
        ok = x.grad.tolist()
        z = (x * x).sum()
        z.backward()
        err = capture_error(z.backward)
        return ok, type(err).__name__, "second time" in str(err)

    exp = same_behaviour(nb, run)
    assert exp == ([2.0, 2.0, 2.0], "RuntimeError", True)


# ---------------------------------------------------------------------------
# detach, detach_, requires_grad_, is_leaf, requires_grad propagation


def test_detach_shares_data_and_version(nb):
    def run(m):
        x = _x(m)
        y = x * 2
        d = y.detach()
        obs = [d.requires_grad, d.is_leaf, d.grad_fn is None, d.tolist()]
        d.zero_()
        obs += [y.tolist(), y._version, d._version]
        e = x.detach()
        e.add_(1)
        obs += [x.tolist(), x._version, x.requires_grad]
        return obs

    same_behaviour(nb, run)


def test_detach_inplace_and_requires_grad_(nb):
    def run(m):
        x = _x(m)
        y = x * 3
        r = y.detach_()
        obs = [r is y, y.requires_grad, y.is_leaf, y.grad_fn is None]
        z = m.ones(2)
        r2 = z.requires_grad_()
        obs += [r2 is z, z.requires_grad, z.is_leaf]
        z.requires_grad_(False)
        obs += [z.requires_grad]
        z.requires_grad = True
        obs += [z.requires_grad]
        return obs

    same_behaviour(nb, run)


def test_data_attribute_shares_memory_not_version(nb):
    def run(m):
        x = _x(m)
        d = x.data
        obs = [d.requires_grad, d.is_leaf, d.grad_fn is None]
        d.mul_(2)  # allowed even though x is a leaf that requires grad
        obs += [x.tolist(), x.requires_grad, x._version]
        return obs

    same_behaviour(nb, run)


def test_is_leaf_and_requires_grad_propagation(nb):
    def run(m):
        a = _x(m)
        b = m.tensor([1.0, 1.0, 1.0])
        rows = {}
        for name, t in [
            ("a", a), ("b", b), ("a*b", a * b), ("b*2", b * 2), ("b.sum()", b.sum()), ("a.sum()", a.sum()),
            ("a[0]", a[0]), ("a.detach()", a.detach()), ("a.clone()", a.clone()), ("b.exp()", b.exp()),
            ("cat", m.cat([a, b])), ("a>1", a > 1), ("a.int_cast", a.long()),
        ]:
            rows[name] = (t.requires_grad, t.is_leaf, grad_fn_name(t))
        with m.no_grad():
            c = a * 2
        rows["no_grad"] = (c.requires_grad, c.is_leaf, grad_fn_name(c))
        return rows

    same_behaviour(nb, run)


# ---------------------------------------------------------------------------
# grad modes


def test_grad_mode_context_managers(nb):
    def run(m):
        x = _x(m)
        obs = [m.is_grad_enabled()]
        with m.no_grad():
            a = x * 2
            obs += [m.is_grad_enabled(), a.requires_grad, a.is_leaf, a.grad_fn is None]
            with m.enable_grad():
                b = x * 2
                obs += [m.is_grad_enabled(), b.requires_grad]
            obs += [m.is_grad_enabled()]
            leaf = m.ones(2, requires_grad=True)  # factory requires_grad is honoured under no_grad
            obs += [leaf.requires_grad]
        with m.set_grad_enabled(False):
            obs += [m.is_grad_enabled(), (x * 2).requires_grad]
        with m.set_grad_enabled(True):
            obs += [(x * 2).requires_grad]
        m.set_grad_enabled(False)
        obs += [m.is_grad_enabled(), (x * 2).requires_grad]
        m.set_grad_enabled(True)
        obs += [m.is_grad_enabled()]
        with m.inference_mode():
            c = x * 2
            obs += [c.requires_grad, m.is_grad_enabled()]
        obs += [m.is_grad_enabled(), (x * 2).requires_grad]
        return obs

    exp = same_behaviour(nb, run)
    assert exp[0] is True and exp[1] is False


def test_grad_mode_restored_after_exception(nb):
    def run(m):
        try:
            with m.no_grad():
                raise KeyError("boom")
        except KeyError:
            pass
        return m.is_grad_enabled()

    assert same_behaviour(nb, run) is True


def test_grad_mode_decorators(nb):
    def run(m):
        x = _x(m)

        @m.no_grad()
        def f_no_grad(t):
            return (t * 2).requires_grad

        @m.no_grad
        def f_no_grad_bare(t):
            return (t * 2).requires_grad

        @m.enable_grad()
        def f_enable(t):
            return (t * 2).requires_grad

        @m.set_grad_enabled(False)
        def f_set_false(t):
            return (t * 2).requires_grad

        @m.inference_mode()
        def f_inference(t):
            return (t * 2).requires_grad

        @m.inference_mode
        def f_inference_bare(t):
            return (t * 2).requires_grad

        obs = [f_no_grad(x), f_no_grad_bare(x), f_set_false(x), f_inference(x), f_inference_bare(x)]
        with m.no_grad():
            obs.append(f_enable(x))
        obs.append(m.is_grad_enabled())
        obs.append([f.__name__ for f in (f_no_grad, f_no_grad_bare, f_enable, f_set_false, f_inference)])
        return obs

    exp = same_behaviour(nb, run)
    assert exp[:6] == [False, False, False, False, False, True]


def test_grad_mode_is_thread_local(nb):
    def run(m):
        x = _x(m)
        res = {}

        def worker():
            res["thread_enabled"] = m.is_grad_enabled()
            res["thread_rg"] = (x * 2).requires_grad

        with m.no_grad():
            t = threading.Thread(target=worker)
            t.start()
            t.join()
            res["main_rg"] = (x * 2).requires_grad

        def disabler():
            m.set_grad_enabled(False)
            res["disabler"] = m.is_grad_enabled()

        t = threading.Thread(target=disabler)
        t.start()
        t.join()
        res["main_after"] = m.is_grad_enabled()
        return res

    exp = same_behaviour(nb, run)
    assert exp == {"thread_enabled": True, "thread_rg": True, "main_rg": False, "disabler": False,
                   "main_after": True}


# ---------------------------------------------------------------------------
# in-place operations and version counters


def test_inplace_ops_versions_and_values(nb):
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0, 4.0])
        obs = [("init", x._version)]

        def rec(label):
            obs.append((label, x._version, x.tolist()))

        ident = id(x)
        r = x.add_(1)
        obs.append(("add_ returns self", r is x))
        rec("add_")
        x.sub_(0.5)
        rec("sub_")
        x.mul_(2)
        rec("mul_")
        x.div_(4)
        rec("div_")
        x += 1
        rec("+=")
        x -= 1
        rec("-=")
        x *= 2
        rec("*=")
        x /= 2
        rec("/=")
        obs.append(("augmented keeps identity", id(x) == ident))
        x.add_(m.tensor([1.0, 1.0, 1.0, 1.0]))
        rec("add_ tensor")
        x.mul_(m.tensor(2.0))
        rec("mul_ 0-d")
        x[0] = 7
        rec("setitem int")
        x[1:3] = m.tensor([0.0, -1.0])
        rec("setitem slice")
        x[x < 0] = 5.0
        rec("setitem mask")
        x.clamp_(0, 6)
        rec("clamp_")
        x.clamp_(min=1)
        rec("clamp_ min")
        _ = x + 1
        rec("out-of-place does not bump")
        x.zero_()
        rec("zero_")
        x.fill_(3)
        rec("fill_")
        x.copy_(m.tensor([4.0, 3.0, 2.0, 1.0]))
        rec("copy_")
        v = x[1:]
        v.mul_(2)
        obs.append(("view mul_", x._version, v._version, x.tolist()))
        v2 = x.view(2, 2)
        v2[0, 0] = -1
        obs.append(("view setitem", x._version, v2._version, v._version, x.tolist()))
        return obs

    same_behaviour(nb, run)


def test_inplace_on_nonleaf_gradients(nb):
    def run(m):
        x = _x(m)
        y = x * 1
        y.mul_(2)
        y.add_(x)
        y += 1
        y *= x
        name = grad_fn_name(y)
        (y * y).sum().backward()
        return name, y._version, x.grad

    same_behaviour(nb, run)


def test_inplace_on_view_of_nonleaf(nb):
    def run(m):
        x = _x(m, (1.0, 2.0, 3.0, 4.0))
        y = x.clone()
        y[1:3].mul_(3)
        y[0].add_(10)
        name = grad_fn_name(y)
        (y * y).sum().backward()
        return name, y, x.grad

    same_behaviour(nb, run)


def test_inplace_does_not_break_when_not_saved(nb):
    def run(m):
        x = _x(m)
        y = x * 2  # multiplying by a python number does not save x*2
        y.add_(1)
        y.sum().backward()
        a = x.grad.clone()
        x.grad = None
        z = x.sin()  # sin saves its input, so modifying the output is fine
        z.mul_(3)
        z.sum().backward()
        return a, x.grad

    same_behaviour(nb, run)


def test_inplace_under_no_grad_sgd_step(nb):
    def run(m):
        w = m.tensor([1.0, -2.0, 3.0], requires_grad=True)
        lr = 0.1
        hist = []
        for _ in range(3):
            loss = ((w * 2 - 1) ** 2).sum()
            loss.backward()
            with m.no_grad():
                w -= lr * w.grad
            hist.append((w.tolist(), w.is_leaf, w.requires_grad, w.grad_fn is None, w._version))
            w.grad.zero_()
        with m.no_grad():
            w.mul_(0.5)
            w[0] = 1.0
        hist.append((w.tolist(), w.is_leaf, w.requires_grad, w._version))
        return hist

    same_behaviour(nb, run)


# ---------------------------------------------------------------------------
# graph structure


def _describe(fn, depth=4):
    if fn is None:
        return None
    kids = []
    if depth > 0:
        for child, idx in fn.next_functions:
            kids.append((_describe(child, depth - 1), idx))
    name = type(fn).__name__
    # AccumulateGrad.name() is a C++ qualified name in torch; checked separately
    return (name, None if name == "AccumulateGrad" else fn.name(), tuple(kids))


def test_next_functions_structure(nb):
    def run(m):
        x = _x(m)
        w = _x(m, (0.5, 0.5, 0.5))
        c = m.tensor([1.0, 1.0, 1.0])
        z = (x * w + c).sum()
        a, b = x.split(2)
        s = a.sum() + b.sum()
        return {
            "z": _describe(z.grad_fn),
            "split": _describe(s.grad_fn),
            "x*2": _describe((x * 2).grad_fn),
            "x+1": _describe((x + 1).grad_fn),
            "exp": _describe(x.exp().grad_fn),
            "cat": _describe(m.cat([x, c, x]).grad_fn),
            "type": type(z.grad_fn.next_functions).__name__,
            "entry_type": type(z.grad_fn.next_functions[0]).__name__,
        }

    exp = same_behaviour(nb, run)
    assert exp["z"][0] == "SumBackward0"


def test_accumulate_grad_node_points_to_leaf(nb):
    x = _x(nb)
    y = x * 2
    node, idx = y.grad_fn.next_functions[0]
    assert type(node).__name__ == "AccumulateGrad"
    assert node.variable is x
    assert idx == 0
    assert x.grad_fn is None
    assert node.next_functions == ()


def test_accumulate_grad_name(nb):
    def run(m):
        x = _x(m)
        return (x * 2).grad_fn.next_functions[0][0].name()

    same_behaviour(nb, run)


def test_grad_fn_name_method(nb):
    def run(m):
        x = _x(m)
        return [t.grad_fn.name() for t in (x ** 2, x.sum(), x * x, x[0], x.t(), x.mean(), m.stack([x, x]))]

    same_behaviour(nb, run)


# ---------------------------------------------------------------------------
# deep graphs and memory


@pytest.mark.slow
@pytest.mark.nb_only
def test_deep_chain_no_recursion_error(nb):
    """100,000 sequential ops must backpropagate (and be freed) without RecursionError."""
    n = 100_000
    x = nb.tensor(1.0, dtype=nb.float64, requires_grad=True)
    y = x
    for i in range(n):
        y = y + 1.0 if i % 2 else y * 1.0
    assert y.item() == 1.0 + n // 2
    y.backward()
    assert x.grad.item() == 1.0
    del y
    gc.collect()


def test_graph_freed_when_output_dropped(nb):
    x = _x(nb)
    h = x.sin()
    y = h * h  # the graph of y holds on to h
    r = weakref.ref(h)
    del h
    gc.collect()
    del y
    gc.collect()
    assert r() is None


def test_saved_tensors_released_by_backward(nb):
    x = _x(nb)
    h = x.sin()
    y = (h * h).sum()
    r = weakref.ref(h)
    del h
    y.backward()
    gc.collect()
    assert r() is None, "backward() without retain_graph must free the saved tensors"
    assert to_np(x.grad).shape == (3,)


@pytest.mark.nb_only
def test_grad_fn_freed_when_output_dropped(nb):
    if engine_is_torch(nb):
        pytest.skip("torch's C++ graph nodes are not weak-referenceable")
    x = _x(nb)
    y = (x * 2).exp()
    r = weakref.ref(y.grad_fn)
    r_inner = weakref.ref(y.grad_fn.next_functions[0][0])
    del y
    gc.collect()
    assert r() is None
    assert r_inner() is None


# ---------------------------------------------------------------------------
# autograd.functional.jacobian


def test_jacobian(nb):
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0])
        j1 = m.autograd.functional.jacobian(lambda a: a ** 2 * a.sum(), x)
        u = m.tensor([0.5, -1.0, 2.0])
        j2 = m.autograd.functional.jacobian(lambda a, b: a * b + b.sin(), (x, u))
        w = m.tensor([[0.1, 0.2, 0.3, 0.4], [0.5, -0.6, 0.7, -0.8], [0.9, 1.0, -1.1, 1.2]])
        j3 = m.autograd.functional.jacobian(lambda a: (a @ w).tanh(), m.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]]))
        j4 = m.autograd.functional.jacobian(lambda a: a.exp().sum(), x)
        return j1, type(j2).__name__, j2, j3, j4, x.requires_grad

    exp = same_behaviour(nb, run)
    assert exp[3].shape == (2, 4, 2, 3)


# ---------------------------------------------------------------------------
# custom autograd.Function


def _make_functions(m, log=None):
    class MyExp(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            if log is not None:
                log.append((m.is_grad_enabled(), (x * 1).requires_grad, x.requires_grad))
            r = x.exp()
            ctx.save_for_backward(r)
            return r

        @staticmethod
        def backward(ctx, g):
            (r,) = ctx.saved_tensors
            return g * r

    class ScaledMul(m.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, k):
            ctx.save_for_backward(a, b)
            ctx.k = k
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g * b * ctx.k, g * a * ctx.k, None

    return MyExp, ScaledMul


def test_custom_function(nb):
    def run(m):
        MyExp, ScaledMul = _make_functions(m)
        x = _x(m, (0.0, 1.0, 2.0))
        y = MyExp.apply(x)
        obs = [y, y.requires_grad, type(y.grad_fn).__name__, y.grad_fn.name(), repr(y.detach()),
               _describe(y.grad_fn)]
        (y * 2).sum().backward()
        obs.append(x.grad)
        a = _x(m)
        b = _x(m, (4.0, 5.0, 6.0))
        z = ScaledMul.apply(a, b, 0.5)
        obs += [type(z.grad_fn).__name__, repr(z)]
        z.sum().backward()
        obs += [a.grad, b.grad]
        c = m.tensor([1.0, 2.0])
        obs.append(MyExp.apply(c).requires_grad)
        return obs

    exp = same_behaviour(nb, run)
    assert exp[2] == "MyExpBackward"


def test_custom_function_forward_runs_without_grad(nb):
    def run(m):
        log = []
        MyExp, _ = _make_functions(m, log)
        x = _x(m)
        y = MyExp.apply(x)
        return log, m.is_grad_enabled(), repr(y)

    exp = same_behaviour(nb, run)
    assert exp[0][0][:2] == (False, False)


def test_custom_function_second_use_and_chain(nb):
    def run(m):
        MyExp, ScaledMul = _make_functions(m)
        x = _x(m, (0.5, 1.0, 1.5))
        y = ScaledMul.apply(MyExp.apply(x), x, 2.0)
        out = (y.sin() * MyExp.apply(x)).sum()
        out.backward()
        return out, x.grad

    same_behaviour(nb, run)


# ---------------------------------------------------------------------------
# formatting


def test_format_0d_and_fstrings(nb):
    def run(m):
        t = m.tensor(3.14159)
        loss = (_x(m) ** 2).mean()
        return [
            f"{t:.3f}", f"{t}", f"{t:.2e}", f"{m.tensor(5):d}", f"{m.tensor(5)}", f"{loss:.4f}",
            f"{loss}", f"{m.tensor([1.0, 2.0])}", f"{m.tensor(2.5, dtype=m.float64):.1f}",
            f"{m.tensor(True)}", "{}".format(m.tensor([1, 2])), str(m.tensor(0.5)),
        ]

    exp = same_behaviour(nb, run)
    assert exp[0] == "3.142"


def test_numpy_roundtrip_of_grad(nb):
    x = nb.tensor(np.array([1.0, 2.0], dtype=np.float64), requires_grad=True)
    (x * x).sum().backward()
    g = x.grad.numpy()
    assert isinstance(g, np.ndarray) and g.dtype == np.float64
    np.testing.assert_array_equal(g, [2.0, 4.0])
