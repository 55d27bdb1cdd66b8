"""Graph views: golden DOT text for small graphs, and every visual state in the DOT."""
import pytest

import nbautograd as torch
from nbautograd import viz

HEAD = """digraph nbautograd {
	graph [bgcolor=white fontname="Helvetica,Arial,sans-serif" fontsize=10 nodesep=0.25 rankdir=BT ranksep=0.35]
	node [fontcolor="#111827" fontname="Helvetica,Arial,sans-serif" fontsize=11 height=0.3 shape=record]
	edge [arrowsize=0.6 color="#6b7280" fontname="Helvetica,Arial,sans-serif" fontsize=9]
"""

GOLDEN_BEFORE = HEAD + """\
	n0 [label="{x|(2,) float32|data [1, 2]}" color="#1d4ed8" fillcolor="#dbeafe" style="rounded,filled"]
	n1 [label="{w|() float32|data 3}" color="#1d4ed8" fillcolor="#dbeafe" style="rounded,filled"]
	n2 [label="{MulBackward0|(2,)|saved: self, other}" color="#4b5563" fillcolor="#f3f4f6" style="rounded,filled"]
	n3 [label="{y|SumBackward0|() float32|data 9}" color="#15803d" fillcolor="#dcfce7" style="rounded,filled"]
	n0 -> n2
	n1 -> n2
	n2 -> n3
}
"""

GOLDEN_AFTER = HEAD + """\
	n0 [label="{x|(2,) float32|data [1, 2]|grad [3, 3]}" color="#1d4ed8" fillcolor="#dbeafe" style="rounded,filled"]
	n1 [label="{w|() float32|data 3|grad 3}" color="#1d4ed8" fillcolor="#dbeafe" style="rounded,filled"]
	n2 [label="{MulBackward0|(2,)|freed: self, other}" color="#9ca3af" fillcolor="#f9fafb" fontcolor="#6b7280" style="rounded,filled,dashed"]
	n3 [label="{y|SumBackward0|() float32|data 9}" color="#15803d" fillcolor="#dcfce7" style="rounded,filled"]
	n0 -> n2 [label=" [3, 3]" fontcolor="#b91c1c"]
	n1 -> n2 [label=" 3" fontcolor="#b91c1c"]
	n2 -> n3 [label=" [1, 1]" fontcolor="#b91c1c"]
}
"""

GOLDEN_LR_SAVED = """digraph nbautograd {
	graph [bgcolor=white fontname="Helvetica,Arial,sans-serif" fontsize=10 nodesep=0.25 rankdir=LR ranksep=0.35]
	node [fontcolor="#111827" fontname="Helvetica,Arial,sans-serif" fontsize=11 height=0.3 shape=record]
	edge [arrowsize=0.6 color="#6b7280" fontname="Helvetica,Arial,sans-serif" fontsize=9]
	n0 [label="a|() float32|data 2" color="#1d4ed8" fillcolor="#dbeafe" style="rounded,filled"]
	n1 [label="b|ExpBackward0|() float32|data 7.389" color="#15803d" fillcolor="#dcfce7" style="rounded,filled"]
	n1_s0 [label="result|() float32" color="#ea580c" fillcolor="#ffedd5" fontsize=9 style="rounded,filled"]
	n1_s0 -> n1 [arrowhead=none color="#ea580c" style=dotted]
	n0 -> n1
}
"""


def _xwy():
    x = torch.tensor([1., 2.], requires_grad=True)
    w = torch.tensor(3., requires_grad=True)
    y = (x * w).sum()
    return x, w, y


def test_golden_dot_before_backward():
    x, w, y = _xwy()
    assert viz.draw(y, names={"x": x, "w": w, "y": y}).dot == GOLDEN_BEFORE


def test_golden_dot_after_recorded_backward():
    x, w, y = _xwy()
    with viz.record() as rec:
        y.backward()
    assert viz.draw(y, names={"x": x, "w": w, "y": y}, recording=rec).dot == GOLDEN_AFTER


def test_golden_dot_left_to_right_with_saved_tensors():
    a = torch.tensor(2., requires_grad=True)
    b = a.exp()
    view = viz.draw(b, names={"a": a, "b": b}, rankdir="LR", show_saved=True)
    assert view.dot == GOLDEN_LR_SAVED


def test_dot_is_identical_for_an_identical_program():
    first = viz.draw(_xwy()[2]).dot
    for _ in range(50):            # the global tape counter moves on; the ids do not
        torch.tensor(1., requires_grad=True).exp()
    assert viz.draw(_xwy()[2]).dot == first


def test_freed_saved_tensors_are_greyed():
    x = torch.tensor([1., 2.], requires_grad=True)
    y = x.exp().sum()
    before = viz.draw(y, show_saved=True).dot
    assert 'label="{result|(2,) float32}"' in before
    y.backward()
    dot = viz.draw(y, show_saved=True).dot
    assert 'label="{result|freed}"' in dot and "dashed" in dot
    assert "freed: result" in viz.draw(y).dot


def test_version_counter_of_a_tensor_modified_in_place():
    w = torch.tensor([1., 2.], requires_grad=True)
    y = (w * 2).sum()
    with torch.no_grad():
        w.mul_(0.5)
    dot = viz.draw(y, names={"w": w}).dot
    assert "version 1" in dot and 'color="#d97706"' in dot


def test_stale_saved_tensor_and_failing_node_from_the_error():
    a = torch.tensor([1., 2.], requires_grad=True)
    z = a.exp()
    q = (z ** 2).sum()
    z.add_(1)
    with pytest.raises(RuntimeError, match="inplace operation") as info:
        q.backward()
    view = viz.draw(q, names={"a": a, "q": q}, error=info.value)
    dot = view.dot
    assert "self: saved v0, now v1" in dot
    assert "✗ backward raised here" in dot and 'fillcolor="#fee2e2"' in dot
    assert "backward raised RuntimeError: one of the variables" in dot
    pow_node = [n for n in view.snapshot.nodes if n.name == "PowBackward0"][0]
    assert view.snapshot.failed == pow_node.id and pow_node.failed


def test_backward_twice_marks_the_first_freed_node():
    x = torch.tensor([1., 2.], requires_grad=True)
    y = x.exp().sum()
    y.backward()
    with pytest.raises(RuntimeError) as info:
        y.backward()
    view = viz.draw(y, error=info.value)
    failed = view.snapshot.node(view.snapshot.failed)
    assert failed.name == "ExpBackward0" and failed.freed
    assert "backward raised RuntimeError: Trying to backward" in view.dot


def test_recorded_error_is_drawn_without_passing_it():
    x = torch.tensor(1., requires_grad=True)
    y = x.sin()
    y.backward()
    with viz.record() as rec:
        with pytest.raises(RuntimeError):
            y.backward()
    view = viz.draw(y, recording=rec)
    assert view.snapshot.node(view.snapshot.failed).name == "SinBackward0"
    assert "✗ backward raised here" in view.dot


def test_constants_are_dimmed_and_outputs_green():
    x = torch.tensor([1., 2.], requires_grad=True)
    c = torch.tensor([3., 4.])
    y = (x * c).sum()
    view = viz.draw(y, names={"x": x, "c": c, "y": y})
    dot = view.dot
    const = [t for t in view.snapshot.tensors if t.kind == "constant"]
    assert [(t.id, t.label) for t in const] == [("t1", "c")]
    assert 't1 [label="{c|(2,) float32|data [3, 4]}" color="#d1d5db" fillcolor="#ffffff" ' \
           'fontcolor="#9ca3af" style="rounded,filled,dashed"]' in dot
    assert 't1 -> n1 [color="#9ca3af" style=dashed]' in dot
    assert 'fillcolor="#dcfce7"' in dot   # the output


def test_hooks_and_retained_grads_are_shown():
    x = torch.tensor([1., 2.], requires_grad=True)
    h = x * 2
    h.retain_grad()
    h.register_hook(lambda g: g)
    y = h.sum()
    y.backward()
    dot = viz.draw(y, names={"x": x, "h": h}).dot
    assert "{h|MulBackward0|(2,) float32|data [2, 4]|grad [1, 1]|hooks 1}" in dot


def test_options_hide_values_and_gradients():
    x, w, y = _xwy()
    y.backward(retain_graph=True)
    dot = viz.draw(y, names={"x": x}, show_values=False, show_grads=False).dot
    body = dot.split("\n", 4)[4]
    assert "data " not in body and "grad " not in body and "label=\" " not in body


def test_labels_are_escaped_for_records():
    x = torch.tensor(1., requires_grad=True)
    y = x * 2
    dot = viz.draw(y, names={"a|b{c}<d>": y, "x": x}).dot
    assert "a\\|b\\{c\\}\\<d\\>" in dot
    viz.draw(y, names={"a|b{c}<d>": y}).svg()   # and Graphviz accepts it


def test_bad_rankdir_is_rejected():
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw(_xwy()[2], rankdir="UP")
