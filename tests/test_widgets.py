"""nbautograd.widgets, Python side only (no front end): buttons are ``click()``-ed and values
set as the browser would, then the widgets' state, their HTML and the numbers are checked.
The browser side is tests/e2e/test_browser.py."""
import doctest
import gc
import html
import importlib
import weakref

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("graphviz")

import nbautograd as torch  # noqa: E402
from nbautograd import _events  # noqa: E402
from nbautograd.widgets import (GradAccumulator, GraphWidget, JacobianExplorer,  # noqa: E402
                                LiveCellGraph, TapePlayer, explore)
from nbautograd.widgets._chart import line_chart  # noqa: E402
from nbautograd.widgets._svg import HIGHLIGHT, mark, node_titles  # noqa: E402

SECOND_TIME = "Trying to backward through the graph a second time"


@pytest.fixture(autouse=True)
def no_listeners_left():
    before = list(_events.LISTENERS)
    yield
    leftover = [fn for fn in _events.LISTENERS if fn not in before]
    for fn in leftover:                         # keep a failure from spreading
        _events.LISTENERS.remove(fn)
    assert not leftover                         # every widget unsubscribed


def sin_cos(x0=2.0):
    x = torch.tensor(x0, requires_grad=True)
    return x, torch.sin(x) + torch.cos(x)


# --- GradAccumulator -------------------------------------------------------------------------
def test_accumulator_two_backward_clicks_accumulate(capsys):
    x, y = sin_cos()
    acc = GradAccumulator(y, {"x": x})
    acc.retain_button.click()
    assert acc.values("x") == ["-1.3254"]
    assert "-1.3254" in acc.values_html.value
    acc.retain_button.click()
    assert acc.values("x") == ["-1.3254", "-2.6509"]
    assert round(float(x.grad), 4) == -2.6509
    assert "-1.3254, -2.6509" in acc.values_html.value
    assert "backward #2" in acc.ledger.value and "-2.651" in acc.ledger.value
    assert "-2.6509" in acc.chart.value and "<svg" in acc.chart.value
    assert acc.error is None
    assert capsys.readouterr() == ("", "")      # callbacks never print
    acc.close()


def test_accumulator_second_backward_shows_torch_error_in_widget(capsys):
    x, y = sin_cos()
    acc = GradAccumulator(y, {"x": x})
    acc.backward_button.click()
    assert "freed" in acc.status.value
    acc.backward_button.click()                 # must not raise
    assert acc.error.startswith("RuntimeError: " + SECOND_TIME)
    assert SECOND_TIME in acc.status.value and "nbag-error" in acc.status.value
    assert "retain_graph=True" in acc.status.value   # the plain explanation
    assert acc.values("x") == ["-1.3254"]            # the failed call changed nothing
    assert "✗ backward(): RuntimeError" in acc.ledger.value
    assert "freed: self" in acc.graph.value          # the graph shows what was freed
    assert repr(acc) == "GradAccumulator(leaves=['x'], steps=2, error=True)"
    assert capsys.readouterr() == ("", "")
    acc.close()


def test_accumulator_zero_and_none_reset():
    x, y = sin_cos()
    acc = GradAccumulator(y, [x], names={"x": x, "y": y})
    assert acc.names == ["x"]
    acc.zero_button.click()                     # .grad is None: zero_() fails like Python's
    assert "'NoneType' object has no attribute 'zero_'" in html.unescape(acc.status.value)
    acc.retain_button.click()
    acc.zero_button.click()
    assert float(x.grad) == 0.0
    acc.retain_button.click()
    assert acc.values("x") == ["-1.3254", "-1.3254"]
    acc.none_button.click()
    assert x.grad is None
    acc.retain_button.click()
    assert acc.values("x") == ["-1.3254", "-1.3254", "-1.3254"]
    labels = [label for label, _ in acc.history]
    assert labels == ["✗ error: AttributeError", "backward #1 (retain)", "grad.zero_()",
                      "backward #2 (retain)", "grad = None", "backward #3 (retain)"]
    assert "grad.zero_()" in acc.ledger.value and "grad = None" in acc.ledger.value
    acc.close()


def test_accumulator_vector_leaves_and_nonscalar_output():
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    b = torch.tensor(0.5, requires_grad=True)
    out = w * 3 + b
    acc = GradAccumulator(out, {"w": w, "b": b})
    acc.retain_button.click()                   # non-scalar output without a gradient
    assert "grad can be implicitly created only for scalar outputs" in acc.status.value
    acc.close()
    acc = GradAccumulator(out, {"w": w, "b": b}, gradient=torch.ones(2))
    acc.retain_button.click()
    acc.retain_button.click()
    assert acc.values("w") == ["[3.0000, 3.0000]", "[6.0000, 6.0000]"]
    assert acc.values("b") == ["2.0000", "4.0000"]
    assert "norm" in acc.chart.value
    acc.close()


def test_accumulator_release_keeps_copies_only():
    x, y = sin_cos()
    acc = GradAccumulator(y, {"x": x})
    acc.retain_button.click()
    acc.release()
    assert acc.backward_button.disabled and acc.zero_button.disabled
    ref = weakref.ref(y)
    del x, y
    gc.collect()
    assert ref() is None                        # the widget kept no tensor
    assert acc.values("x") == ["-1.3254"]
    acc.retain_button.click()                   # disabled in the browser; here: a message
    assert "released" in acc.status.value
    acc.close()


# --- GraphWidget -----------------------------------------------------------------------------
class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_graph_widget_redraws_on_backward():
    x, y = sin_cos()
    w = GraphWidget(y, names={"x": x, "y": y})
    assert w.live and "<svg" in w.html.value and "grad -" not in w.view.dot
    assert "● live" in w.status.value
    y.backward(retain_graph=True)
    w.flush()
    assert "grad -1.325" in w.view.dot
    assert w.view.snapshot.grads == "recorded"  # the gradients that flowed, recorded live
    assert "&#45;0.4161" in w.html.value        # on the edge from x to sin
    w.close()
    assert not w.live


def test_graph_widget_is_throttled_to_about_ten_redraws_a_second():
    clock = FakeClock()
    x = torch.tensor(1.0, requires_grad=True)
    w = GraphWidget(x * 1.0, names={"x": x}, clock=clock)
    start = w.renders
    y = x
    for i in range(200):                        # 200 ops in "2 seconds"
        clock.t += 0.01
        y = y * 1.0
    assert 15 <= w.renders - start <= 21
    w.close()


def test_graph_widget_over_its_own_recording_grows_with_ops():
    ns = {}
    w = GraphWidget(names=lambda: ns)           # no roots: records from now on
    assert "no ops recorded yet" in w.html.value
    ns["a"] = a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = (a * a).sum()
    w.flush()
    assert "MulBackward0" in w.view.dot and "SumBackward0" in w.view.dot
    b.backward()
    w.flush()
    assert w.view.snapshot.grads == "recorded"
    w.stop()
    assert repr(w).startswith("GraphWidget(live=False, roots=")
    w.close()


def test_graph_widget_shows_the_failed_backward():
    x, y = sin_cos()
    w = GraphWidget(y, names={"x": x, "y": y})
    y.backward()
    with pytest.raises(RuntimeError):
        y.backward()
    w.flush()
    assert SECOND_TIME in (w.view.snapshot.error or "")
    w.close()


def test_graph_widget_stop_drops_every_reference():
    x, y = sin_cos()
    w = GraphWidget(y, names={"x": x, "y": y})
    y.backward(retain_graph=True)
    w.stop()
    svg = w.html.value
    refs = weakref.ref(x), weakref.ref(y)
    del x, y
    gc.collect()
    assert refs[0]() is None and refs[1]() is None
    assert w.html.value == svg and "<svg" in svg
    w.close()


def test_graph_widget_not_live_draws_once():
    x, y = sin_cos()
    w = GraphWidget(y, live=False, names={"x": x, "y": y})
    y.backward()
    assert "grad -" not in w.view.dot and w.renders == 1
    assert repr(w) == "GraphWidget(live=False, roots=['y'], backward_nodes=4, tensors=4, edges=4)"
    w.close()


@pytest.fixture(scope="module")
def ip():
    pytest.importorskip("IPython")
    from IPython import get_ipython
    from IPython.terminal.interactiveshell import TerminalInteractiveShell
    # the shell test_magics' start_ipython() also gets, whichever module runs first
    shell = get_ipython() or TerminalInteractiveShell.instance()
    shell.run_line_magic("load_ext", "nbautograd")
    return shell


def test_live_cell_graph_has_the_magics_interface(ip):
    from nbautograd.notebook import build_report
    from nbautograd.recording import record
    ip.user_ns["x"] = x = torch.tensor(2.0, requires_grad=True)
    live = LiveCellGraph(ip, {"values": True, "rankdir": "BT", "max_nodes": 200})
    with record() as rec:
        live.start(rec)
        y = torch.sin(x) + torch.cos(x)
        ip.user_ns["y"] = y
        y.backward()
        live.stop()
    live.widget.flush()
    assert "SinBackward0" in live.widget.view.dot and not live.widget.live
    live.finish(build_report(rec, ip.user_ns))
    del ip.user_ns["x"], ip.user_ns["y"]


def test_live_cell_graph_drops_into_the_magic(ip, monkeypatch):
    from nbautograd.notebook import magics
    made, init = [], LiveCellGraph.__init__

    def counting_init(self, *args):
        init(self, *args)
        made.append(self)
    monkeypatch.setattr(LiveCellGraph, "__init__", counting_init)
    # the proposed change (harmless once magics.py imports LiveCellGraph itself)
    monkeypatch.setattr(magics, "_LiveGraph", LiveCellGraph)
    assert ip.run_cell("import nbautograd as torch\nx = torch.tensor(2.0, requires_grad=True)"
                       ).success
    rep = ip.run_cell_magic("autograd", "--live", "y = torch.sin(x) + torch.cos(x)\n"
                                                   "y.backward()\n")
    assert rep is None and len(made) == 1
    w = made[0].widget
    assert w.renders >= 1 and not w.live and "AddBackward0" in w.view.dot
    assert w.comm is None                       # closed: the report took its place
    ip.run_line_magic("reset", "-f")


# --- TapePlayer ------------------------------------------------------------------------------
def test_tape_player_forward_then_backward_with_chain_rule_numbers(capsys):
    x, y = sin_cos()
    p = TapePlayer(y, names={"x": x, "y": y})
    assert repr(p) == "TapePlayer(steps=7, forward=3, backward=4, step=1)"
    titles = [s.title for s in p.plan.steps]
    assert titles[:3] == ["forward 1 of 3: sin = sin(x)", "forward 2 of 3: cos = cos(x)",
                          "forward 3 of 3: y = add(sin, cos)"]
    assert [s.chain.text() for s in p.plan.steps[3:]] == [
        "AddBackward0: sin ← 1.0000 × 1.0000 = 1.0000; cos ← 1.0000 × 1.0000 = 1.0000",
        "CosBackward0: x ← 1.0000 × -0.9093 = -0.9093",
        "SinBackward0: x ← 1.0000 × -0.4161 = -0.4161",
        "x.grad: x ← -0.9093 (from cos) + -0.4161 (from sin) = -1.3254"]
    assert x.grad is None                       # the player's pass wrote no .grad
    assert "forward pass" in p.title.value and "step 1 of 7" in p.title.value
    p.forward.click()
    p.forward.click()
    p.forward.click()
    p.forward.click()
    assert p.slider.value == 5 and "backward pass" in p.title.value
    assert "-0.9093" in p.info.value and "upstream gradient" in p.info.value
    assert "∂cos/∂x" in p.info.value
    p.back.click()
    assert p.slider.value == 4 and "AddBackward0" in p.title.value
    p.play.value = 2                            # Play and the slider are linked
    assert p.slider.value == 2 and "cos = cos(x)" in p.title.value
    assert capsys.readouterr() == ("", "")
    p.close()


def test_tape_player_highlights_the_current_node():
    x, y = sin_cos()
    p = TapePlayer(y, names={"x": x, "y": y})
    for value in range(1, 8):
        p.slider.value = value
        step = p.current
        svg = p.graph.value
        assert step.node in node_titles(svg)
        group = svg[svg.index(f"<title>{step.node}</title>"):]
        group = group[:group.index("</g>")]
        assert HIGHLIGHT in group                # the current box is outlined
    p.slider.value = 1                           # forward 1: the later ops are faded
    assert p.graph.value.count('opacity="0.22"') >= 2
    p.close()


def test_tape_player_products_hold_for_matrix_and_broadcast_ops():
    torch.manual_seed(0)
    W = torch.randn(2, 3, requires_grad=True)
    v = torch.randn(3, requires_grad=True)
    b = torch.tensor(0.5, requires_grad=True)
    loss = (torch.tanh(W @ v + b) ** 2).sum()
    p = TapePlayer(loss, names={"W": W, "v": v, "b": b, "loss": loss})
    checked = 0
    for step in p.plan.steps:
        if step.kind != "backward":
            continue
        for part in step.chain.inputs:
            if part.local is None:
                continue
            product = np.asarray(step.chain.upstream, float).reshape(-1) @ part.local
            np.testing.assert_allclose(product, np.asarray(part.sent, float).reshape(-1),
                                       rtol=1e-5, atol=1e-6)
            checked += 1
    assert checked >= 5
    leaf_totals = {s.chain.leaf: s.chain.total for s in p.plan.steps if s.kind == "leaf"}
    loss.backward()
    for name, t in (("W", W), ("v", v), ("b", b)):
        np.testing.assert_allclose(leaf_totals[name], t.grad.numpy(), rtol=1e-5, atol=1e-6)
    p.close()


def test_tape_player_keeps_no_graph_alive():
    x, y = sin_cos()
    p = TapePlayer(y, names={"x": x, "y": y})
    refs = weakref.ref(x), weakref.ref(y)
    del x, y
    gc.collect()
    assert refs[0]() is None and refs[1]() is None
    p.slider.value = 6
    assert "-0.4161" in p.info.value
    p.close()


def test_tape_player_on_a_freed_graph_plays_forward_and_says_why():
    x, y = sin_cos()
    y.backward()
    p = TapePlayer(y, names={"x": x, "y": y})
    assert [s.kind for s in p.plan.steps] == ["forward"] * 3
    assert "an earlier backward() freed this graph" in p.notes.value
    p.close()


def test_tape_player_plays_an_autograd_report(ip):
    assert ip.run_cell("import nbautograd as torch\nx = torch.tensor(2.0, requires_grad=True)"
                       ).success
    rep = ip.run_cell_magic("autograd", "", "y = torch.sin(x) + torch.cos(x)\n"
                                             "y.backward(retain_graph=True)\n")
    p = TapePlayer(rep)
    assert [s.kind for s in p.plan.steps] == ["forward"] * 3 + ["backward"] * 3 + ["leaf"]
    assert "torch.sin(x)" in p.plan.steps[0].body          # the line that made the op
    assert p.plan.steps[-1].chain.text().endswith("= -1.3254")
    p.close()
    rep = ip.run_cell_magic("autograd", "", "z = torch.sin(x) * x\nz.backward()\n")
    p = TapePlayer(rep)                         # freed: the gradients recorded at the time
    assert [s.kind for s in p.plan.steps] == ["forward"] * 2 + ["backward"] * 2
    assert p.plan.steps[-1].chain.text() == "SinBackward0: x ← -0.8323 (upstream 2)"
    assert "freed" in p.notes.value
    p.close()
    ip.run_line_magic("reset", "-f")


# --- JacobianExplorer ------------------------------------------------------------------------
def softmax_jacobian(x):
    s = np.exp(x) / np.exp(x).sum()
    return np.diag(s) - np.outer(s, s)


def test_jacobian_explorer_fills_rows_one_backward_each(capsys):
    x = torch.tensor([1.0, 2.0, 3.0])
    je = JacobianExplorer(lambda v: torch.softmax(v, dim=0), x)
    expected = softmax_jacobian(np.array([1.0, 2.0, 3.0]))
    assert je.computed == 1 and je.backward_passes == 1
    np.testing.assert_allclose(je.rows[0], expected[0], rtol=1e-5, atol=1e-6)
    assert "1 of 3 rows computed" in je.heatmap.value
    assert "▶ y[0]" in je.heatmap.value
    je.selector.value = 2
    assert je.computed == 2 and je.backward_passes == 2
    np.testing.assert_allclose(je.rows[2], expected[2], rtol=1e-5, atol=1e-6)
    assert "2 of 3 rows computed" in je.heatmap.value and "▶ y[2]" in je.heatmap.value
    assert "background:#fde68a;font-weight:bold\">1" in je.onehot.value   # v = e_2
    assert je.onehot.value.count(">0</td>") == 2
    assert "match" in je.check.value
    je.selector.value = 0                       # a computed row: no new backward pass
    assert je.backward_passes == 2
    je.fill_button.click()
    assert je.computed == 3 and je.backward_passes == 3
    np.testing.assert_allclose(np.stack(je.rows), je.reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(je.reference, expected, rtol=1e-5, atol=1e-6)
    assert "all 3 rows match" in je.check.value and "vectorize=True" in je.check.value
    assert je._x is None and je._y is None      # done: numpy copies only
    assert repr(je) == "JacobianExplorer(shape=(3, 3), computed=3, matches=True)"
    assert capsys.readouterr() == ("", "")
    je.close()


def test_jacobian_explorer_matrix_input_labels():
    je = JacobianExplorer(lambda a: a.sum(dim=0) * 2, torch.ones(2, 2), names=("s", "A"))
    je.fill_button.click()
    assert je.matches() and je.reference.shape == (2, 4)
    assert "A[1, 0]" in je.heatmap.value and "s[1]" in je.heatmap.value
    je.close()


def test_jacobian_explorer_does_not_touch_the_input():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    je = JacobianExplorer(lambda v: v ** 3, x)
    je.fill_button.click()
    assert x.grad is None and je.matches()
    je.close()


# --- explore ---------------------------------------------------------------------------------
def test_explore_sliders_update_values_and_gradients(capsys):
    ex = explore(lambda x, w: torch.tanh(w * x) + x ** 2, x=1.0, w=0.5)
    t, s = np.tanh(0.5), 1 - np.tanh(0.5) ** 2
    assert ex.value == f"{t + 1:.4f}"
    assert ex.grads == {"x": f"{0.5 * s + 2:.4f}", "w": f"{1.0 * s:.4f}"}
    assert (ex.sliders["x"].min, ex.sliders["x"].max) == (-1.0, 3.0)
    svg = ex.graph.value
    ex.sliders["w"].value = 1.25                # the slider for w=0.5 spans [-0.5, 1.5]
    t2 = np.tanh(1.25)
    assert ex.value == f"{t2 + 1:.4f}" and ex.graph.value != svg
    assert ex.grads["w"] == f"{1 - t2 ** 2:.4f}"
    assert f"∂out/∂w = <b class=\"nbag-grad\" data-input=\"w\">{1 - t2 ** 2:.4f}" \
        in ex.summary.value
    assert "TanhBackward0" in ex.graph.value and "freed" not in ex.graph.value
    assert repr(ex) == f"Explorer(inputs=['x', 'w'], x=1.0, w=1.25, out={t2 + 1:.4f})"
    assert capsys.readouterr() == ("", "")
    ex.close()


def test_explore_shows_errors_in_the_widget():
    ex = explore(lambda x: float(x) * 2, x=1.0)
    assert ex.error.startswith("TypeError: explore: func must return a tensor")
    assert "nbag-error" in ex.summary.value
    ex.close()
    ex = explore(lambda x: torch.sqrt(x), x=(-1.0, 1.0))
    assert ex.sliders["x"].value == 0.0 and ex.value == "0.0000"
    ex.sliders["x"].value = -0.5
    assert ex.value == "nan"                    # like torch: no exception
    ex.close()


# --- the pieces ------------------------------------------------------------------------------
def test_svg_marks():
    svg = ('<svg><g id="node1" class="node">\n<title>n0</title>\n<path fill="#fff" '
           'stroke="#111"/>\n</g><g id="node2" class="node">\n<title>n1</title>\n'
           '<path stroke="#222"/>\n</g><g id="edge1" class="edge">\n<title>n0&#45;&gt;n1'
           '</title>\n<path fill="none" stroke="#6b7280"/>\n</g></svg>')
    out = mark(svg, current="n0", dim_nodes=["n1"])
    assert f'stroke="{HIGHLIGHT}" stroke-width="3.5"' in out
    assert 'class="node" opacity="0.22"' in out and 'class="edge" opacity="0.22"' in out
    out = mark(svg, current="n1", flow_from="n1")
    assert 'stroke="#dc2626"' in out and 'stroke-width="2.5"' in out
    assert node_titles(svg) == ["n0", "n1"]


def test_line_chart_gaps_and_labels():
    svg = line_chart({"x": [1.0, None, 3.0], "w": [0.5, 0.5, 0.5]}, ["a", "b", "c"])
    assert svg.count("<polyline") == 1          # x has a gap (grad = None); w is one line
    assert "3.0000" in svg and "● x.grad" in svg and "● w.grad" in svg
    assert "no gradient yet" in line_chart({"x": [None]}, ["a"])


def test_reprs_are_stable():
    def build():
        x, y = sin_cos()
        ws = [GraphWidget(y, live=False, names={"x": x, "y": y}), TapePlayer(y, names={"y": y}),
              GradAccumulator(y, {"x": x}), JacobianExplorer(lambda v: v * 2, torch.ones(2)),
              explore(lambda x: x * 2, x=1.0)]
        out = [repr(w) for w in ws]
        for w in ws:
            w.close()
        return out
    first, second = build(), build()
    assert first == second
    assert not any("0x" in r or "object at" in r for r in first)


@pytest.mark.parametrize("modname", ["_common", "_svg", "_order", "_chart", "_chain", "_tape",
                                     "graph", "tape", "accumulator", "jacobian", "explore"])
def test_widget_doctests(modname):
    mod = importlib.import_module(f"nbautograd.widgets.{modname}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
