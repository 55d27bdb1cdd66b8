"""Writes through views and by index: values, versions, node names and gradients (first and
second order) against PyTorch."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import nbautograd as nb  # noqa: E402


def _np(t):
    return None if t is None else np.asarray(t.detach().tolist(), dtype=np.float64)


def both(fn):
    """Run ``fn(module)`` with PyTorch and nbautograd; return both results."""
    return fn(torch), fn(nb)


def assert_same(a, b):
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, torch.Tensor):
        np.testing.assert_allclose(_np(b), _np(a), rtol=1e-6)
        assert str(a.dtype) == str(b.dtype)
    else:
        assert a == b


def test_inplace_on_view_of_nonleaf_rebases_base():
    def run(m):
        x = m.tensor([1., 2., 3.], requires_grad=True)
        z = m.tensor(5., requires_grad=True)
        y = x * 1
        v = y[1:]
        v.mul_(3)
        names = (y.grad_fn.name(), type(y.grad_fn).__name__, v.grad_fn.name(), y._version,
                 v._version)
        y[0] = z * 2
        (y ** 2).sum().backward()
        return names, repr(y), x.grad, z.grad
    t, n = both(run)
    assert t[0] == n[0] and t[1] == n[1]
    assert_same(t[2:], n[2:])


def test_setitem_with_index_tensor_is_index_put():
    def run(m):
        x = m.tensor([1., 2., 3.], requires_grad=True)
        z = m.tensor(5., requires_grad=True)
        y = x * 1
        y[m.tensor([0, 2])] = z
        y.sum().backward()
        return type(y.grad_fn).__name__, x.grad, z.grad
    t, n = both(run)
    assert t[0] == n[0]
    assert_same(t[1:], n[1:])


def test_setitem_bool_mask_and_broadcast_value():
    def run(m):
        x = m.tensor([[1., -2.], [3., -4.]], requires_grad=True)
        w = m.tensor([10., 20.], requires_grad=True)
        y = x.clone()
        y[y < 0] = 0.0
        y[1] = w
        (y * y).sum().backward()
        return y, x.grad, w.grad
    t, n = both(run)
    assert_same(t, n)


def test_second_order_through_copyslices():
    def run(m):
        x = m.tensor([1., 2., 3.], requires_grad=True)
        y = x * 1
        y[1:] = x[1:] ** 3
        (g,) = m.autograd.grad(y.sum(), x, create_graph=True)
        (h,) = m.autograd.grad(g.sum(), x)
        return g, h
    t, n = both(run)
    assert_same(t, n)


def test_view_shares_memory_and_version():
    def run(m):
        x = m.zeros(2, 3)
        v = x.view(3, 2)
        w = x[0]
        v.add_(1)
        w.fill_(7)
        return x, x._version, v._version, w._version, x.t().is_contiguous()
    t, n = both(run)
    assert_same(t, n)


def test_detach_shares_version_and_data_does_not():
    def run(m):
        x = m.ones(3, requires_grad=True)
        y = x * 2
        d = y.detach()
        d.add_(1)
        e = y.data
        e.add_(1)
        return y, y._version, d._version, e._version
    t, n = both(run)
    assert_same(t, n)


def test_modifying_a_saved_view_base_is_caught():
    def run(m):
        x = m.ones(3, requires_grad=True)
        y = x * 2
        z = y[0:2].exp()          # saves its output
        try:
            y.detach()[0:2].zero_()  # touches memory, not z's output: allowed
            z.sum().backward()
            ok = "ok"
        except RuntimeError as e:
            ok = str(e)
        return ok
    t, n = both(run)
    assert t == n


@pytest.mark.parametrize("op", ["relu_", "exp_", "sigmoid_", "tanh_", "sqrt_"])
def test_inplace_op_that_saves_its_output_then_modified_again(op):
    def run(m):
        x = m.tensor([0.5, 2.0], requires_grad=True)
        y = x * 1
        getattr(y, op)()
        first = (y._version, type(y.grad_fn).__name__)
        y.mul_(2)
        try:
            y.sum().backward()
        except RuntimeError as e:
            return first, str(e)
    t, n = both(run)
    assert t == n


@pytest.mark.parametrize("code", [
    lambda m: m.tensor([True, False]).all(),
    lambda m: m.tensor([[1, 0], [1, 1]]).any(1),
    lambda m: m.tensor([1.0, 0.0]).all(dim=0),
    lambda m: m.all(m.tensor([[True], [False]]), 1, keepdim=True),
    lambda m: m.any(m.tensor([0, 0], dtype=m.uint8)),
])
def test_all_any(code):
    t, n = both(code)
    assert repr(t) == repr(n)
