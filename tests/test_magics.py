"""%%autograd and %autograd_graph in a real IPython InteractiveShell: the seed scenarios and
every option, checked by content (names and numbers in the report), plus robustness."""
import gc
import weakref

import pytest

pytest.importorskip("IPython")
pytest.importorskip("graphviz")
from IPython.core.error import UsageError  # noqa: E402
from IPython.testing.globalipapp import start_ipython  # noqa: E402

from nbautograd import _events  # noqa: E402


@pytest.fixture(scope="module")
def ip():
    shell = start_ipython()
    shell.run_line_magic("load_ext", "nbautograd")
    return shell


@pytest.fixture(autouse=True)
def fresh(ip):
    ip.run_line_magic("reset", "-f")
    run(ip, "import nbautograd as torch\nfrom nbautograd.autograd import grad")
    yield
    assert _events.LISTENERS == []          # recording is always switched off


def run(ip, code):
    """Run a setup cell; it must succeed (InteractiveShell.run_cell does not raise)."""
    res = ip.run_cell(code)
    assert res.success, res.error_in_exec
    return res


def magic(ip, line, cell):
    return ip.run_cell_magic("autograd", line, cell)


def test_seed003_ledger_of_repeated_backward(ip):
    run(ip, "x = torch.tensor(2.0, requires_grad=True)")
    rep = magic(ip, "", "y = torch.sin(x) + torch.cos(x)\n"
                        "for i in range(4):\n    y.backward(retain_graph=True)\n")
    assert [round(float(v), 4) for v in rep.ledger["x"]] == [-1.3254, -2.6509, -3.9763, -5.3018]
    html = rep.html()
    assert "Gradient accumulation" in html and "-3.976" in html and "<svg" in html
    assert "backward #4" in html
    assert "y = AddBackward0(torch.sin(x), torch.cos(x))" in rep.graph.text()


def test_ledger_shows_zero_and_none_resets(ip):
    run(ip, "x = torch.tensor([1.0, 2.0], requires_grad=True)")
    rep = magic(ip, "--ledger", "y = (x * x).sum()\ny.backward(retain_graph=True)\n"
                                "x.grad.zero_()\ny.backward(retain_graph=True)\nx.grad = None\n"
                                "y.backward()\n")
    html = rep.ledger_views["x"].html()
    assert "grad.zero_()" in html and "grad = None" in html
    assert [v.tolist() for v in rep.ledger["x"]] == [[2.0, 4.0], [2.0, 4.0], [2.0, 4.0]]


def test_seed003_one_hot_jacobian_rows(ip):
    run(ip, "x = torch.tensor([1.0, 2.0, -2.0], requires_grad=True)")
    rep = magic(ip, "", "y1 = x**2\nrows = []\nfor key in torch.eye(3):\n    x.grad = None\n"
                        "    y1.backward(key, retain_graph=True)\n    rows.append(x.grad)\n")
    jac = rep.jacobian
    assert [r.tolist() for r in jac.rows] == [[2.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, -4.0]]
    assert jac.calls == [0, 1, 2] and jac.check == "matches the full Jacobian"
    assert jac.output == "y1" and jac.input == "x"
    assert "3 of 3 rows computed" in rep.html()


def test_partial_jacobian_shows_pending_rows(ip):
    run(ip, "x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)\ny1 = x**2")
    rep = magic(ip, "", "y1.backward(torch.tensor([0., 1., 0.]), retain_graph=True)\n")
    assert rep.jacobian.rows[0] is None and rep.jacobian.rows[1].tolist() == [0.0, 4.0, 0.0]
    assert "1 of 3 rows computed" in rep.html() and "pending" in rep.html()


def test_jacobian_option_computes_rows_without_touching_grad(ip):
    run(ip, "x = torch.tensor([1.0, 2.0], requires_grad=True)")
    rep = magic(ip, "--jacobian", "y = torch.sin(x) * x\n")
    assert rep.jacobian is not None and rep.jacobian.check == "matches the full Jacobian"
    assert ip.user_ns["x"].grad is None


def test_seed000_nth_derivative_with_create_graph(ip):
    rep = magic(ip, "", "x = torch.tensor(5.0, requires_grad=True)\nf = x**2 + x**3\n"
                        "g1 = grad(f, x, create_graph=True)[0]\n"
                        "g2 = grad(g1, x, create_graph=True)[0]\n")
    assert float(ip.user_ns["g2"]) == 32.0
    text = rep.graph.text()
    assert "f = AddBackward0" in text and "g2" in text
    assert len(rep.events.backward_calls) == 2


@pytest.mark.parametrize("cell,fragment,explained", [
    ("x = torch.randn(3)\ny = x * 2\ny.backward()\n",              # seed 001
     "element 0 of tensors does not require grad", "no graph behind it"),
    ("x = torch.tensor(3.0, requires_grad=True)\ny = x ** 2\nwith torch.no_grad():\n"
     "    z = y * 2\nz.backward()\n",                                # seed 002
     "element 0 of tensors does not require grad", "no graph behind it"),
    ("x = torch.tensor([0.5, 0.8, 0.95], requires_grad=True)\ny = x**3 * 2 + 4\n"
     "y.backward()\n",                                               # seed 004
     "grad can be implicitly created only for scalar outputs", "vector-Jacobian product"),
    ("x = torch.tensor(2.0, requires_grad=True)\ny = x.exp()\ny.backward()\ny.backward()\n",
     "backward through the graph a second time", "retain_graph=True"),
    ("x = torch.tensor([1, 2], requires_grad=True)\n",
     "floating point and complex dtype", "floating-point"),
])
def test_error_cells_are_explained(ip, cell, fragment, explained):
    rep = magic(ip, "", cell)
    assert rep.errors, "the error must be in the report"
    err = rep.errors[0]
    assert fragment in err.message and explained in err.explanation
    html = rep.html()
    assert fragment in html and "nbautograd-error" in html


def test_backward_twice_highlights_the_failing_node(ip):
    rep = magic(ip, "", "x = torch.tensor(2.0, requires_grad=True)\ny = x.exp()\n"
                        "y.backward()\ny.backward()\n")
    assert rep.errors[0].node == "ExpBackward0"
    assert "ExpBackward0" in rep.graph.dot and "backward raised" in rep.graph.text()


@pytest.mark.parametrize("line,check", [
    ("--no-graph", lambda r: r.graph is None and "nbautograd-graph" not in r.html()),
    ("--no-values", lambda r: "data=" not in r.graph.text()),
    ("--no-ledger", lambda r: "Gradient accumulation" not in r.html()),
    ("--ledger", lambda r: "Gradient accumulation" in r.html()),
    ("--text", lambda r: "nbautograd-graph" not in r.html() and "<pre>" in r.html()),
    ("--rankdir LR", lambda r: "rankdir=LR" in r.graph.dot),
    ("--max-nodes 3", lambda r: "more boxes not shown (max_nodes=3)" in r.graph.text()),
])
def test_options(ip, line, check):
    run(ip, "x = torch.tensor(2.0, requires_grad=True)")
    rep = magic(ip, line, "y = torch.sin(x) * torch.cos(x) + x\ny.backward(retain_graph=True)\n"
                          "y.backward()\n")
    assert check(rep)


def test_output_option_stores_report_and_nothing_else_changes(ip):
    run(ip, "x = torch.tensor(2.0, requires_grad=True)\nkeep = 41")
    before = set(ip.user_ns)
    rep = magic(ip, "-o report", "y = x * 3\n")
    assert set(ip.user_ns) - before == {"y", "report"}
    assert ip.user_ns["report"] is rep and ip.user_ns["keep"] == 41


def test_config_defaults(ip):
    run(ip, "x = torch.tensor(2.0, requires_grad=True)")
    ip.run_line_magic("config", "AutogradMagics.rankdir = 'LR'")
    try:
        rep = magic(ip, "", "y = x * 3\n")
        assert "rankdir=LR" in rep.graph.dot
    finally:
        ip.run_line_magic("config", "AutogradMagics.rankdir = 'BT'")


@pytest.mark.parametrize("line", ["--bogus", "--max-nodes 0", "--max-nodes x",
                                  "--rankdir UP", "--ledger --no-ledger"])
def test_bad_options_are_usage_errors(ip, line):
    with pytest.raises(UsageError):
        magic(ip, line, "1\n")


def test_exception_in_cell_still_reports_and_stops_recording(ip):
    run(ip, "x = torch.tensor(2.0, requires_grad=True)")
    rep = magic(ip, "", "y = x * 2\nraise ValueError('boom')\n")
    assert rep.errors and rep.errors[0].type == "ValueError"
    assert len(rep.events.ops) == 1


def test_rerun_does_not_mix_recordings(ip):
    run(ip, "x = torch.tensor(2.0, requires_grad=True)")
    first = magic(ip, "", "y = x * 2\ny.backward()\n")
    second = magic(ip, "", "y = x * 2\ny.backward()\n")
    assert len(first.events.ops) == len(second.events.ops) == 1
    assert len(second.events.backward_calls) == 1


def test_works_with_functions_and_loops_from_earlier_cells(ip):
    run(ip, "def f(t):\n    return torch.tanh(t) * t\nx = torch.tensor([0.5, -1.0], "
            "requires_grad=True)")
    rep = magic(ip, "", "h = x\nfor _ in range(3):\n    h = f(h)\nh.sum().backward()\n")
    assert len(rep.events.ops) == 7
    assert any(op.expression == "torch.tanh(t)" for op in rep.events.ops)


def test_report_holds_no_tensor_alive(ip):
    run(ip, "x = torch.tensor([1.0, 2.0], requires_grad=True)")
    rep = magic(ip, "", "y = (x * x).sum()\ny.backward()\n")
    ref = weakref.ref(ip.user_ns["y"])
    ip.run_line_magic("reset", "-f")
    gc.collect()
    assert ref() is None
    assert "y" in rep.graph.text()          # the report still shows what happened


def test_autograd_graph_line_magic(ip):
    run(ip, "x = torch.tensor(2.0, requires_grad=True)\nloss = (x * x).exp()")
    view = ip.run_line_magic("autograd_graph", "loss")
    assert "loss = ExpBackward0" in view.text()
    with pytest.raises(UsageError):
        ip.run_line_magic("autograd_graph", "undefined_name")


def test_reload_ext(ip):
    ip.run_line_magic("reload_ext", "nbautograd")
    run(ip, "x = torch.tensor(2.0, requires_grad=True)")
    assert magic(ip, "", "y = x + 1\n").events.ops


def test_help_text(ip):
    doc = ip.magics_manager.magics["cell"]["autograd"].__doc__
    assert "--no-graph" in doc and "--jacobian" in doc and "-o NAME" in doc


def test_live_updates_display_and_returns_nothing(ip):
    run(ip, "x = torch.tensor(2.0, requires_grad=True)")
    out = magic(ip, "--live -o rep", "y = x\nfor _ in range(20):\n    y = torch.sin(y)\n"
                                     "y.backward()\n")
    assert out is None and len(ip.user_ns["rep"].events.ops) == 20
