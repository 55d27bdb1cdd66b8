"""Graph views: large graphs fold repeated chains, trim to max_nodes, and say what was elided."""
import numpy as np

import nbautograd as torch
from nbautograd import viz
from nbautograd.viz._fold import drawn_count


def _loop(steps: int):
    w = torch.tensor(0.5, requires_grad=True)
    b = torch.tensor(0.1, requires_grad=True)
    h0 = torch.tensor(1.0, requires_grad=True)
    h = h0
    for _ in range(steps):
        h = torch.tanh(h * w + b)
    return {"w": w, "b": b, "h0": h0, "h": h}


def test_a_100_step_loop_is_one_folded_block():
    names = _loop(100)
    view = viz.draw(names["h"], names=names)
    s = view.snapshot
    assert len(s.folds) == 1
    fold = s.folds[0]
    assert fold.pattern == ("AddBackward0", "TanhBackward0", "MulBackward0")
    assert fold.count == 99 and len(fold.members) == 297
    assert s.elided == ("folded 297 backward nodes into f0: "
                        "99 × [AddBackward0 → TanhBackward0 → MulBackward0]",)
    assert drawn_count(s) <= 10
    dot = view.dot
    assert "99 × [AddBackward0 → TanhBackward0 → MulBackward0]" in dot and "box3d" in dot
    assert 'label=" ×99"' in dot        # the shared weight feeds every repetition
    assert "h|TanhBackward0" in dot     # the named result stays visible
    assert "# folded 297 backward nodes" in view.text()
    assert repr(view) == ("GraphView(roots=['h'], backward_nodes=303, tensors=6, edges=8, "
                          "folded=1)")
    assert view.svg().count("<polygon") > 3


def test_small_graphs_are_not_folded():
    names = _loop(5)
    s = viz.draw(names["h"], names=names).snapshot
    assert s.folds == () and s.elided == ()
    s = viz.draw(names["h"], names=names, max_nodes=8).snapshot
    assert len(s.folds) == 1 and s.folds[0].count == 4


def test_max_nodes_none_draws_everything():
    names = _loop(100)
    s = viz.draw(names["h"], names=names, max_nodes=None).snapshot
    assert s.folds == () and len(s.nodes) == 303


def test_graphs_without_repeats_are_trimmed_with_a_note():
    x = torch.tensor(0.3, requires_grad=True)
    y = x
    ops = [torch.sin, torch.cos, torch.exp, torch.tanh, torch.sigmoid]
    for k in np.random.default_rng(0).integers(0, 5, 60):
        y = ops[k](y)                     # no repeated block to fold
    view = viz.draw(y, names={"x": x, "y": y}, max_nodes=20)
    s = view.snapshot
    more = [f for f in s.folds if not f.pattern]
    assert len(more) == 1 and s.hidden == len(more[0].members) > 0
    assert drawn_count(s) <= 20
    assert any("more boxes not shown (max_nodes=20)" in line for line in s.elided)
    assert "more nodes" in view.dot
    view.svg()


def test_folding_a_1000_op_recording():
    w = torch.tensor(0.5, requires_grad=True)
    b = torch.tensor(0.1, requires_grad=True)
    with viz.record() as rec:
        h = torch.tensor(1.0, requires_grad=True)
        for _ in range(500):
            h = h * w + b
        h.backward()
    view = viz.draw(rec, names={"w": w, "b": b})
    s = view.snapshot
    assert s.folds[0].count == 499 and s.grads == "recorded"
    assert drawn_count(s) <= 8
    assert "<svg" in view.svg()


def test_named_tensors_inside_a_loop_pin_their_block():
    w = torch.tensor(0.5, requires_grad=True)
    h = w
    keep = {}
    for i in range(30):
        h = h * w
        if i == 15:
            keep["mid"] = h
    s = viz.draw(h, names={"w": w, "h": h, **keep}, max_nodes=10).snapshot
    assert s.find("mid") is not None                  # still drawn
    assert [f.count for f in s.folds] == [14, 13]     # a fold on each side of it
    assert "mul = MulBackward0(w, w)" in viz.draw(h, names={"w": w}, max_nodes=10).text()
