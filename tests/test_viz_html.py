"""Graph views: the HTML gradient ledger and Jacobian heatmap, from plain data."""
import numpy as np

import nbautograd as torch
from nbautograd import viz


def _history():
    x = torch.tensor([1., 2.], requires_grad=True)
    with viz.record() as rec:
        y = (x * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        x.grad.zero_()
        (x * 3).sum().backward()
    return x, rec


def test_ledger_follows_accumulation_and_resets():
    x, rec = _history()
    ledger = rec.ledger(x, "x")
    assert [e.label for e in ledger.entries] == ["backward #1", "backward #2", "grad.zero_()",
                                                 "backward #3"]
    assert [e.grad.tolist() for e in ledger.entries] == [[2, 4], [4, 8], [0, 0], [3, 3]]
    assert [None if e.added is None else e.added.tolist() for e in ledger.entries] == \
        [[2, 4], [2, 4], None, [3, 3]]
    assert repr(ledger) == "GradLedger('x', steps=4)"
    html = ledger.html()
    for cell in (">x.grad<", ">backward #2<", ">[4, 8]<", ">+[2, 4]<", ">grad.zero_()<"):
        assert cell in html
    assert "<svg" in html and "<polyline" in html and "norm over 4 steps" in html
    assert ledger._repr_html_() == html == rec.ledger(x, "x").html()   # deterministic


def test_ledger_of_setting_grad_to_none():
    x = torch.tensor(2., requires_grad=True)
    with viz.record() as rec:
        (x * x).backward()
        x.grad = None
        (x * x).backward()
    assert [e.label for e in rec.ledger(x).entries] == ["backward #1", "grad = None",
                                                        "backward #2"]
    assert "value over 3 steps" in rec.ledger(x).html()


def test_ledger_html_from_plain_entries():
    entries = [viz.LedgerEntry("backward #1", np.array(1.5), np.array(1.5)),
               viz.LedgerEntry("backward #2", np.array(3.0), np.array(1.5))]
    html = viz.ledger_html(entries, "w")
    assert ">w.grad<" in html and ">3<" in html and ">+1.5<" in html
    assert 'points="3.0,21.0 117.0,3.0"' in html


def test_sparkline_is_deterministic_and_handles_flat_and_nan():
    assert viz.sparkline_svg([]) == ""
    flat = viz.sparkline_svg([2, 2, 2])
    assert 'points="3.0,12.0 60.0,12.0 117.0,12.0"' in flat
    assert "nan" not in viz.sparkline_svg([1, float("nan"), 3])


def test_jacobian_heatmap_rows_computed_and_pending():
    rows = [np.array([1.0, -2.0, 0.0]), None, np.array([0.5, 0.0, 4.0])]
    html = viz.jacobian_html(rows, current=2, row_labels=["y0", "y1", "y2"])
    assert html.count("<tr") == 4
    assert html.count('class="pending"') == 3          # the pending row's cells are empty
    assert ">-2<" in html and ">4<" in html
    assert "background:#ff5f5f" in html                 # 4 is the largest: the deepest red
    assert "background:#afafff" in html                 # -2: half-strength blue
    assert ">▶ y2<" in html and "2 of 3 rows computed" in html
    assert html == viz.jacobian_html(rows, current=2, row_labels=["y0", "y1", "y2"])


def test_jacobian_table_from_the_engine():
    x = torch.tensor([1., 2.], requires_grad=True)
    jac = torch.autograd.functional.jacobian(lambda t: t * t, x)
    table = viz.JacobianTable(tuple(jac.numpy()[i] for i in range(2)) + (None,))
    assert repr(table) == "JacobianTable(rows=3, computed=2)"
    html = table._repr_html_()
    assert ">2<" in html and ">4<" in html and "2 of 3 rows computed" in html


def test_ledger_html_reads_the_session_recording():
    from nbautograd.recording import record
    x = torch.tensor([1., 2.], requires_grad=True)
    with record() as rec:
        y = (x * x).sum()
        y.backward(retain_graph=True)
        x.grad.zero_()
        y.backward()
    html = viz.ledger_html(rec.ledger_for(x), "x")
    for cell in (">backward #1<", ">grad.zero_()<", ">backward #2<", ">+[2, 4]<"):
        assert cell in html
