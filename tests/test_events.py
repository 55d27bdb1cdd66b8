"""The engine's plain-data events (what the views subscribe to) and its import hygiene."""
import subprocess
import sys

import numpy as np
import pytest

import nbautograd as torch
from nbautograd import _events


def _record(fn):
    seen = []
    with _events.subscribed(seen.append):
        fn()
    return seen


def test_ops_backward_and_accumulation_emit_events_in_order():
    x = torch.tensor(2.0, requires_grad=True)

    def run():
        y = (x * 3).exp()
        y.backward()

    ev = _record(run)
    kinds = [type(e).__name__ for e in ev]
    assert kinds == ["OpRecorded", "OpRecorded", "BackwardStarted", "NodeExecuted",
                     "SavedFreed", "NodeExecuted", "SavedFreed", "GradAccumulated",
                     "BackwardFinished"]
    assert [e.node.name() for e in ev if isinstance(e, _events.OpRecorded)] == \
        ["MulBackward0", "ExpBackward0"]
    acc = ev[7]
    assert acc.tensor is x and acc.before is None
    np.testing.assert_allclose(acc.after, 3 * np.exp(6.0), rtol=1e-6)


def test_second_accumulation_reports_before_and_after():
    x = torch.tensor(1.0, requires_grad=True)
    y = x * 2
    y.backward(retain_graph=True)
    ev = _record(lambda: y.backward())
    acc = [e for e in ev if isinstance(e, _events.GradAccumulated)]
    assert len(acc) == 1 and float(acc[0].before) == 2.0 and float(acc[0].after) == 4.0


def test_engine_error_is_emitted_and_raised():
    x = torch.tensor(1.0, requires_grad=True)
    y = x.exp()
    y.backward()
    seen = []
    with _events.subscribed(seen.append):
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            y.backward()
    errors = [e for e in seen if isinstance(e, _events.EngineError)]
    assert len(errors) == 1 and errors[0].node.name() == "ExpBackward0"


def test_grad_changes_outside_backward_are_reported():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    ev = _record(lambda: (x.grad.zero_(), setattr(x, "grad", None)))
    assert [e.how for e in ev if isinstance(e, _events.GradChanged)] == ["zero", "none"]


def test_no_listener_after_the_block():
    _record(lambda: None)
    assert _events.LISTENERS == []
    from nbautograd import _node
    assert _node._SLOW[0] is False


def test_engine_imports_no_ui_library():
    code = ("import sys, nbautograd as torch\n"
            "x = torch.tensor([1., 2.], requires_grad=True)\n"
            "(x ** 2).sum().backward()\n"
            "bad = [m for m in ('IPython', 'ipywidgets', 'graphviz') if m in sys.modules]\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_op_recorded_carries_inputs_weakly():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    c = torch.tensor([3.0, 4.0])
    ev = _record(lambda: (x + c, x.exp(), x * 2.0))
    ops = [e for e in ev if isinstance(e, _events.OpRecorded)]
    assert [[r() for r in e.inputs] for e in ops] == [[x, c], [x], [x]]


def test_viz_is_a_lazy_attribute():
    out = subprocess.run([sys.executable, "-c",
                          "import sys, nbautograd as t; a = 'graphviz' in sys.modules; "
                          "t.viz; print(a, 'graphviz' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
