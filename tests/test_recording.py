"""The recorder behind %%autograd and the views: a raw tape of the engine's ops and backward
steps, summarised only when read. These tests pin what that deferral must never change: the
values shown are those at the time of the op, whatever happens to the arrays afterwards."""
import gc
import weakref

import numpy as np
import pytest

import nbautograd as torch
from nbautograd import _events, _node, viz
from nbautograd.recording import Recording, record


def _values(rec) -> dict:
    """{expression: summary text of the op's output as recorded}."""
    outs = rec.outputs()
    return {op.expression: outs[id(op.node())].value.text() for op in rec.ops}


def _edges(rec) -> list:
    """[(node name, slot, summary of the gradient it sent)], newest node first."""
    grads_in, _ = rec.flows()
    nodes = rec._nodes                       # every node the recording saw
    keys = sorted(grads_in, key=lambda k: (-nodes[k[0]]._seq, k[1]))
    return [(nodes[k[0]].name(), k[1], grads_in[k].text()) for k in keys]


def test_ops_carry_the_users_line_and_expression():
    x = torch.tensor([1.0, 2.0], requires_grad=True)

    def helper(t):
        return t.exp()
    with record() as rec:
        y = x * 3
        z = helper(y).sum()
    assert [(op.name, op.expression) for op in rec.ops] == [
        ("MulBackward0", "x * 3"), ("ExpBackward0", "t.exp()"), ("SumBackward0", "helper(y).sum()")]
    assert rec.ops[0].source == "y = x * 3" and rec.ops[0].shape == (2,)
    assert rec.ops[0].filename == __file__ and rec.ops[1].lineno == rec.ops[0].lineno - 2
    del z


def test_an_in_place_write_after_the_op_does_not_change_what_was_recorded():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with record() as rec:
        y = x * 2
        y.add_(10)                  # y's memory changes after MulBackward0 recorded it
        v = y[0:1]
        with torch.no_grad():
            v.mul_(0)               # a view's write reaches y's memory too
    vals = [rec.outputs()[id(op.node())].value.text() for op in rec.ops]
    assert vals[0] == "[2, 4]"      # MulBackward0's output as it was
    assert vals[1] == "[12, 14]"    # AddBackward0 (the add_) as it was
    assert y.tolist() == [0.0, 14.0]


def test_leaf_grad_accumulation_does_not_rewrite_recorded_edge_gradients():
    # without a recorder, .grad adopts the gradient array that reached the leaf, and the
    # second backward adds into it in place
    # when another graph's backward reaches the leaf
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with record() as rec:
        (x * 2).sum().backward()
        (x * 10).sum().backward()
    assert [e[2] for e in _edges(rec)] == ["[1, 1]", "[10, 10]", "[1, 1]", "[2, 2]"]
    assert x.grad.tolist() == [12.0, 12.0]


def test_big_gradients_summed_in_place_by_the_engine_stay_as_recorded():
    # >= 4096 elements: without a recorder the engine adds fan-in gradients in place
    x = torch.ones(5000, requires_grad=True)
    with record() as rec:
        a = x.exp()                 # its input gradient is a fresh array...
        b = a * 2 + a * 3           # ...and two gradients meet at a
        b.sum().backward()
    edges = [e for e in _edges(rec) if e[0] == "MulBackward0"]
    assert edges == [("MulBackward0", 0, "[3, 3, 3, …, 3, 3]"),
                     ("MulBackward0", 0, "[2, 2, 2, …, 2, 2]")]
    np.testing.assert_allclose(x.grad.numpy(), 5 * np.e)


def test_summaries_are_taken_once_the_byte_budget_is_spent(monkeypatch):
    monkeypatch.setattr(_events, "BUDGET", 500)     # each op's 200 bytes count three times
    x = torch.linspace(0, 1, 50, requires_grad=True)
    with record() as rec:
        h = x
        for _ in range(5):
            h = h * 2
        h.sum().backward()
    log = rec._log
    assert all(not isinstance(e[2], np.ndarray) for e in log if e[0] == _events.OP)
    assert _values(rec)["h * 2"] == "[0, 0.6531, 1.306, …, 31.35, 32]"   # the last one
    assert _edges(rec)[1] == ("MulBackward0", 0, "[2, 2, 2, …, 2, 2]")


def test_release_lets_the_graph_go():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with record() as rec:
        y = x.exp()
        z = (y * y).sum()
    ref = weakref.ref(y)
    del y, z
    gc.collect()
    assert ref() is not None        # the recording holds the graph (it can be drawn)...
    rec.release()
    gc.collect()
    assert ref() is None            # ...until released; the plain data stays
    assert [op.name for op in rec.ops] == ["ExpBackward0", "MulBackward0", "SumBackward0"]


def test_recording_stops_on_any_exit_and_notes_the_error():
    x = torch.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError):
        with record() as rec:
            torch.tensor([1, 2]).requires_grad_()
    assert _events.TAPES == [] and _events.LOGS == [] and _events.LISTENERS == []
    assert _node._SLOW[0] is False
    assert [e.type for e in rec.errors] == ["RuntimeError"]
    del x


def test_two_recorders_see_the_same_ops():
    x = torch.tensor(2.0, requires_grad=True)
    with record() as outer:
        a = x * 3
        with viz.record() as inner:
            b = a.exp()
            b.backward()
    assert [op.name for op in outer.ops] == ["MulBackward0", "ExpBackward0"]
    assert [op.name for op in inner.ops] == ["ExpBackward0"]
    assert _edges(inner) == [("ExpBackward0", 0, "403.4"), ("MulBackward0", 0, "1210")]
    assert len(outer.backward_calls) == len(inner.backward_calls) == 1


def test_a_recording_fed_events_matches_one_on_the_tape():
    x = torch.tensor([1.0, -1.0], requires_grad=True)
    events = []
    with _events.subscribed(events.append), record() as taped:
        (x.sin() * x).sum().backward()
    fed = Recording.from_events(events)
    assert _edges(fed) == _edges(taped)
    assert [op.name for op in fed.ops] == [op.name for op in taped.ops]


def test_per_op_events_only_for_subscribers_who_ask():
    x = torch.tensor(1.0, requires_grad=True)
    seen = []
    with _events.subscribed(seen.append, per_op=False):
        (x * 2).backward()
    assert [type(e).__name__ for e in seen] == ["BackwardStarted", "GradAccumulated",
                                                "BackwardFinished"]


def test_an_optimizer_step_does_not_change_recorded_views_of_the_parameters():
    w = torch.nn.Parameter(torch.tensor([[1.0, -2.0]]))
    opt = torch.optim.SGD([w], lr=0.5)
    with record() as rec:
        wt = w.T                     # a view of the parameter's memory
        loss = (wt * 3).sum()
        loss.backward()
        opt.step()                   # writes into w in place
    assert _values(rec)["w.T"] == "[[1], [-2]]"
    assert w.tolist() == [[-0.5, -3.5]]


def test_a_released_custom_function_shows_what_it_had_saved():
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = torch.tensor(3.0, requires_grad=True)
    with viz.record() as rec:
        Square.apply(x).backward()
    snap = viz.draw(rec, names={"x": x}).snapshot
    node = [n for n in snap.nodes if n.name == "SquareBackward"][0]
    assert [(s.name, s.freed) for s in node.saved] == [("saved_tensors[0]", True)]
