"""Custom autograd.Function against PyTorch: ctx API, several outputs, dirty and
non-differentiable outputs, materialized grads, once_differentiable, and the error texts."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import nbautograd as nb  # noqa: E402


def outcome(fn, m):
    """What ``fn(m)`` returns, or the exception type and text it raises."""
    try:
        r = fn(m)
    except Exception as e:  # noqa: BLE001
        return ("raised", type(e).__name__, str(e))
    return ("ok", _plain(r))


def _plain(obj):
    if isinstance(obj, (tuple, list)):
        return tuple(_plain(o) for o in obj)
    if hasattr(obj, "detach") and hasattr(obj, "tolist"):
        return ("T", np.round(np.asarray(obj.detach().tolist(), dtype=float), 10).tolist())
    return obj


def same(fn):
    t, n = outcome(fn, torch), outcome(fn, nb)
    assert n == t
    return t


def _square(m):
    class Square(m.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale, flag=True):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return x ** 2 * scale

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert ctx.needs_input_grad == (True, False, False)
            return 2 * x * g * ctx.scale, None, None
    return Square


def test_ctx_saved_tensors_nontensor_args_and_name():
    def run(m):
        x = m.tensor([1.0, -2.0], requires_grad=True)
        y = _square(m).apply(x, 3.0)
        y.sum().backward()
        return repr(y), y.grad_fn.name(), x.grad
    same(run)


def test_backward_twice_with_saved_tensors_and_retain():
    def run(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = _square(m).apply(x, 1.0).sum()
        y.backward(retain_graph=True)
        y.backward()
        try:
            y.backward()
        except RuntimeError as e:
            return x.grad, str(e)
    same(run)


def test_saved_tensor_modified_in_place():
    def run(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        h = x * 1
        y = _square(m).apply(h, 1.0)
        h.add_(1)
        y.sum().backward()
    same(run)


def _two_outputs(m):
    class SplitMul(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 3, x ** 2

        @staticmethod
        def backward(ctx, ga, gb):
            (x,) = ctx.saved_tensors
            ga = m.zeros_like(x) if ga is None else ga
            gb = m.zeros_like(x) if gb is None else gb
            return ga * 3 + gb * 2 * x
    return SplitMul


@pytest.mark.parametrize("use", ["both", "first", "second"])
def test_several_outputs(use):
    def run(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        a, b = _two_outputs(m).apply(x)
        loss = {"both": a.sum() + (b * b).sum(), "first": a.sum(), "second": b.sum()}[use]
        loss.backward()
        return repr(a), repr(b), x.grad
    same(run)


def test_materialize_grads_off_passes_none():
    def run(m):
        class F(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(False)
                return x * 1, x * 2

            @staticmethod
            def backward(ctx, ga, gb):
                return (ga if ga is not None else 0) + (gb * 2 if gb is not None else 0) + 0 * ga \
                    if ga is not None else gb * 2
        x = m.tensor([1.0, 2.0], requires_grad=True)
        a, b = F.apply(x)
        b.sum().backward()
        return x.grad
    same(run)


def test_mark_non_differentiable():
    def run(m):
        class ArgSort(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                idx = m.tensor(np.argsort(x.detach().numpy()))
                ctx.mark_non_differentiable(idx)
                return x * 2, idx

            @staticmethod
            def backward(ctx, g, gidx):
                return g * 2
        x = m.tensor([3.0, 1.0], requires_grad=True)
        y, idx = ArgSort.apply(x)
        y.sum().backward()
        return idx.requires_grad, idx.grad_fn is None, x.grad
    same(run)


def _dirty(m):
    class Double(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2
    return Double


def test_mark_dirty_on_nonleaf_and_on_leaf():
    def run(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        h = x * 1
        z = _dirty(m).apply(h)
        z.sum().backward()
        return z is h, h._version, repr(z), x.grad
    same(run)
    same(lambda m: _dirty(m).apply(m.tensor([1.0], requires_grad=True)))


@pytest.mark.parametrize("bad", ["too_many", "too_few", "shape", "nontensor_input"])
def test_bad_gradients_raise_torch_errors(bad):
    def run(m):
        class Bad(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, g):
                if bad == "too_many":
                    return g, None, g
                if bad == "too_few":
                    return (g,)
                if bad == "shape":
                    return m.ones(5), None
                return g, g
        x = m.tensor([1.0, 2.0], requires_grad=True)
        Bad.apply(x, 2.0).sum().backward()
    same(run)


def test_once_differentiable_runs_without_graph():
    def run(m):
        class F(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            @m.autograd.function.once_differentiable
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 3 * x ** 2 * g
        x = m.tensor([2.0], requires_grad=True)
        (g,) = m.autograd.grad(F.apply(x).sum(), x, create_graph=True)
        return g, g.requires_grad
    same(run)


def test_function_is_differentiable_twice_without_once_differentiable():
    def run(m):
        x = m.tensor([1.5, -0.5], requires_grad=True)
        y = _square(m).apply(x, 2.0).sum()
        (g,) = m.autograd.grad(y, x, create_graph=True)
        (h,) = m.autograd.grad(g.sum(), x)
        return g, h
    same(run)


def test_gradcheck_reports_a_wrong_backward():
    class Wrong(nb.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.sin()  # should be cos
    x = nb.tensor([0.3, 0.9], dtype=nb.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="Jacobian mismatch for output 0 with respect to "
                                           "input 0,\nnumerical:tensor"):
        nb.autograd.gradcheck(Wrong.apply, (x,))
    assert nb.autograd.gradcheck(Wrong.apply, (x,), raise_exception=False) is False
    assert nb.autograd.gradcheck(nb.sin, (x,))


def test_function_node_info_freeing_and_events():
    from nbautograd import _events
    Square = _square(nb)
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    with _events.subscribed(seen.append):
        z = Square.apply(x, 1.0, True)
    ops = [e for e in seen if isinstance(e, _events.OpRecorded)]
    assert [e.node.name() for e in ops] == ["SquareBackward"]
    assert [r() for r in ops[0].inputs] == [x]
    assert z.grad_fn.saved_tensors_info() == [("saved_tensors[0]", (2,), False)]
    z.sum().backward()
    assert z.grad_fn.saved_tensors_info() == [("saved_tensors[0]", (2,), True)]
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        z.sum().backward()
