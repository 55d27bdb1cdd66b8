"""Graph views: the plain-data snapshot (ids, names, kinds, saved tensors, gradients)."""
import dataclasses
import gc
import pickle
import subprocess
import sys
import weakref

import numpy as np
import pytest

import nbautograd as torch
from nbautograd import _events, viz
from nbautograd.viz._snapshot import snapshot


def _plain(obj) -> bool:
    """True when ``obj`` is made of strings, numbers, tuples, None and dataclasses only."""
    stack = [obj]
    while stack:
        o = stack.pop()
        if dataclasses.is_dataclass(o):
            stack.extend(getattr(o, f.name) for f in dataclasses.fields(o) if f.init)
        elif isinstance(o, tuple):
            stack.extend(o)
        elif not (o is None or isinstance(o, (str, int, float, bool))):
            return False
    return True


def test_ids_follow_the_tape_and_names_label_tensors():
    x = torch.tensor([1., 2.], requires_grad=True)
    w = torch.tensor(3., requires_grad=True)
    h = x * w
    y = h.exp().sum()
    s = viz.draw(y, names=locals()).snapshot
    assert [(n.id, n.name) for n in s.nodes] == [
        ("n0", "torch::autograd::AccumulateGrad"), ("n1", "torch::autograd::AccumulateGrad"),
        ("n2", "MulBackward0"), ("n3", "ExpBackward0"), ("n4", "SumBackward0")]
    assert [(t.id, t.label, t.kind, t.node) for t in s.tensors] == [
        ("t0", "x", "leaf", "n0"), ("t1", "w", "leaf", "n1"), ("t2", "h", "intermediate", "n2"),
        ("t3", "exp", "intermediate", "n3"), ("t4", "y", "output", "n4")]
    assert s.roots == ("t4",)
    assert [(e.input, e.consumer, e.slot) for e in s.edges] == [
        ("n0", "n2", 0), ("n1", "n2", 1), ("n2", "n3", 0), ("n3", "n4", 0)]
    assert s.tensor("t2").value == "[3, 6]" and s.tensor("t2").shape == (2,)
    assert s.tensor("t3").value == "[20.09, 403.4]"   # from ExpBackward0's saved result
    assert s.find("h").id == "t2" and s.find("exp").id == "t3"


def test_snapshot_is_plain_data_and_keeps_nothing_alive():
    x = torch.tensor([1., 2.], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    view = viz.draw(y, names={"x": x, "y": y})
    assert _plain(view.snapshot)
    assert pickle.loads(pickle.dumps(view.snapshot)) == view.snapshot
    ref = weakref.ref(x)
    view.svg()
    del x, y
    gc.collect()
    assert ref() is None


def test_ipython_names_and_unrelated_tensors_are_ignored():
    x = torch.tensor(1., requires_grad=True)
    y = x * 2
    other = torch.tensor(5., requires_grad=True)
    params = [x, other]
    s = viz.draw(y, names={"_": y, "_1": y, "x": x, "other": other, "params": params}).snapshot
    assert [t.label for t in s.tensors] == ["x, params[0]", "mul"]


def test_multiple_roots_and_a_leaf_root():
    x = torch.tensor(2., requires_grad=True)
    a = x.sin()
    b = x.cos()
    lone = torch.tensor(1., requires_grad=True)
    s = viz.draw(a, b, lone, names=locals()).snapshot
    assert [s.tensor(r).label for r in s.roots] == ["a", "b", "lone"]
    assert s.tensor(s.roots[2]).node is None and s.tensor(s.roots[2]).kind == "leaf"
    assert [n.name for n in s.nodes] == ["torch::autograd::AccumulateGrad", "SinBackward0",
                                         "CosBackward0"]


def test_deep_chain_is_walked_without_recursion():
    x = torch.tensor(1., requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    s = snapshot([y])
    assert len(s.nodes) == 5001 and s.nodes[-1].id == "n5000"


def test_saved_tensors_freed_and_versions():
    x = torch.tensor([1., 2.], requires_grad=True)
    y = (x * x).sum()
    before = snapshot([y]).nodes[1]
    assert [(s.name, s.shape, s.dtype, s.freed) for s in before.saved] == [
        ("self", (2,), "float32", False), ("other", (2,), "float32", False)]
    assert before.saved[0].tensor == "t0"    # the saved input is the leaf x
    y.backward()
    after = snapshot([y]).nodes[1]
    assert after.freed and all(s.freed for s in after.saved)


def test_edge_gradients_are_recomputed_only_when_exact():
    x = torch.tensor([1., 2.], requires_grad=True)
    y = (x * 3).sum()
    assert viz.draw(y).snapshot.grads == "none"          # no backward yet
    y.backward(retain_graph=True)
    s = viz.draw(y).snapshot
    assert s.grads == "recomputed"
    assert [e.grad for e in s.edges] == ["[3, 3]", "[1, 1]"]
    y.backward()                                            # frees: nothing to recompute
    assert viz.draw(y).snapshot.grads == "none"


def test_draw_a_recording_alone():
    x = torch.tensor([1., 2.], requires_grad=True)
    with viz.record() as rec:
        loss = ((x * 2).exp() * 0.5).sum()
        loss.backward()
    del loss                      # the intermediates are gone: the recording remembers them
    view = viz.draw(rec, names={"x": x})
    s = view.snapshot
    assert s.source == "recording" and s.grads == "recorded"
    assert [s.node(s.tensor(r).node).name for r in s.roots] == ["SumBackward0"]
    exp = [t for t in s.tensors if t.label == "exp"][0]
    assert exp.value == "[7.389, 54.6]" and exp.shape == (2,)
    assert "grads: x ← [7.389, 54.6]" in view.text()


def test_draw_raw_event_list():
    x = torch.tensor(3., requires_grad=True)
    events = []
    with _events.subscribed(events.append):
        y = x * x
        y.backward()
    s = viz.draw(events, names={"x": x, "y": y}).snapshot
    assert [e.grad for e in s.edges] == ["3", "3"]
    assert s.tensor(s.roots[0]).label == "y"


def test_focus_keeps_paths_to_the_roots():
    x = torch.tensor(1., requires_grad=True)
    w = torch.tensor(2., requires_grad=True)
    a = x.exp()
    b = w.sin()
    y = a + b
    names = {"x": x, "w": w, "a": a, "b": b, "y": y}
    full = viz.draw(y, names=names).snapshot
    for target in (w, "w"):
        s = viz.draw(y, names=names, focus=target).snapshot
        assert [n.name for n in s.nodes] == ["torch::autograd::AccumulateGrad", "SinBackward0",
                                             "AddBackward0"]
        assert "focus on w: 3 of 5 backward nodes" in s.elided[0]
    assert len(full.nodes) == 5
    with pytest.raises(ValueError, match="no tensor with that name"):
        viz.draw(y, focus="nope")


def test_custom_function_nodes():
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
    y = Square.apply(x).sum()
    node = snapshot([y], {"x": x}).nodes[1]
    assert node.name == "SquareBackward" and node.op == "square"
    assert [(s.name, s.shape, s.tensor) for s in node.saved] == [("saved_tensors[0]", (2,), "t0")]
    y.backward(retain_graph=True)
    assert viz.draw(y).snapshot.grads == "none"   # user code is never re-run


def test_nbautograd_graphs_never_import_torch_or_ipython():
    code = ("import sys, nbautograd as torch\n"
            "from nbautograd import viz\n"
            "x = torch.tensor([1., 2.], requires_grad=True)\n"
            "viz.draw((x ** 2).sum(), names=locals()).text()\n"
            "print([m for m in ('torch', 'IPython', 'ipywidgets') if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_values_summaries_are_fixed_format():
    from nbautograd.viz._values import summarize
    assert summarize(np.array(25.0, dtype=np.float32)) == "25"
    assert summarize(np.array([1e-5, 123456.0])) == "[1e-05, 1.235e+05]"
    assert summarize(np.array([True, False])) == "[True, False]"
    assert summarize(np.arange(12).reshape(3, 4)) == "min 0 · mean 5.5 · max 11"
    assert summarize(np.array([np.nan, -np.inf, -0.0])) == "[nan, -inf, 0]"
    assert summarize(np.zeros((0, 3))) == "[]"


def test_draw_the_session_recording():
    from nbautograd.recording import record
    x = torch.tensor([1., 2.], requires_grad=True)
    with record() as rec:
        y = x.exp().sum()
        y.backward()
        try:
            y.backward()
        except RuntimeError:
            pass
    s = viz.draw(rec, names={"x": x}).snapshot
    assert [n.name for n in s.nodes] == ["torch::autograd::AccumulateGrad", "ExpBackward0",
                                         "SumBackward0"]
    assert s.node(s.failed).name == "ExpBackward0" and "second time" in s.error
    assert s.tensor(s.roots[0]).node == "n2"
    assert viz.draw(y, recording=rec).snapshot.failed == s.failed
