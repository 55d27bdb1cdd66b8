"""Graph views of real PyTorch graphs (skipped when PyTorch is not installed)."""
import pytest

import nbautograd
from nbautograd import viz

torch = pytest.importorskip("torch")


def _program(T):
    x = T.tensor([1., 2.], requires_grad=True)
    w = T.tensor(3., requires_grad=True)
    h = x * w
    u = h.exp()
    loss = u.sum()
    return dict(x=x, w=w, h=h, u=u, loss=loss)


def test_draws_a_torch_graph_with_names_shapes_and_saved_tensors():
    names = _program(torch)
    view = viz.draw(names["loss"], names=names, show_saved=True)
    s = view.snapshot
    assert s.source == "torch"
    assert [n.name for n in s.nodes] == ["torch::autograd::AccumulateGrad",
                                         "torch::autograd::AccumulateGrad", "MulBackward0",
                                         "ExpBackward0", "SumBackward0"]
    assert [(t.label, t.kind, t.shape, t.dtype) for t in s.tensors] == [
        ("x", "leaf", (2,), "float32"), ("w", "leaf", (), "float32"),
        ("h", "intermediate", (2,), "float32"), ("u", "intermediate", (2,), "float32"),
        ("loss", "output", (), "float32")]
    mul = s.nodes[2]
    assert [(x.name, x.shape, x.tensor) for x in mul.saved] == [("self", (2,), "t0"),
                                                                 ("other", (), "t1")]
    assert ("self_sym_sizes", "(2,)") in s.nodes[4].params
    assert "MulBackward0" in view.svg()


def test_torch_graph_after_backward_shows_grads_and_freed_nodes():
    names = _program(torch)
    names["loss"].backward()
    view = viz.draw(names["loss"], names=names)
    s = view.snapshot
    assert s.tensor("t0").grad == "[60.26, 1210]" and s.tensor("t1").grad == "826.9"
    assert s.nodes[2].freed and s.nodes[3].freed and not s.nodes[4].freed
    assert "freed: self, other" in view.dot


def test_torch_and_nbautograd_draw_the_same_picture():
    texts = []
    for T in (torch, nbautograd):
        names = _program(T)
        texts.append(viz.draw(names["loss"], names=names).text())
        names["loss"].backward()
        texts.append(viz.draw(names["loss"], names=names).text())
    assert texts[0] == texts[2] and texts[1] == texts[3]


def test_torch_intermediates_have_shapes_even_unnamed():
    x = torch.ones(2, 3, requires_grad=True)
    y = (x @ x.t()).relu().mean()
    s = viz.draw(y).snapshot
    assert [(t.label, t.shape) for t in s.tensors] == [
        ("leaf", (2, 3)), ("t", (3, 2)), ("mm", (2, 2)), ("relu", (2, 2)), ("mean", ())]


def test_torch_backward_twice_error_is_located():
    x = torch.tensor([1., 2.], requires_grad=True)
    y = x.exp().sum()
    y.backward()
    with pytest.raises(RuntimeError) as info:
        y.backward()
    s = viz.draw(y, error=info.value).snapshot
    assert s.node(s.failed).name == "ExpBackward0"


def test_torch_constants_and_custom_functions():
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = torch.tensor([1., 2.], requires_grad=True)
    c = torch.tensor([3., 4.])
    y = (Square.apply(x) * c).sum()
    s = viz.draw(y, names={"x": x, "c": c, "y": y}).snapshot
    assert [n.name for n in s.nodes][1:3] == ["SquareBackward", "MulBackward0"]
    assert [t.label for t in s.tensors if t.kind == "constant"] == ["c"]
    assert s.nodes[1].saved[0].name == "saved_tensors[0]"


def test_mixing_engines_is_an_error():
    a = torch.tensor(1., requires_grad=True) * 2
    b = nbautograd.tensor(1., requires_grad=True) * 2
    with pytest.raises(TypeError, match="cannot mix"):
        viz.draw(a, b)
