"""Anomaly mode against PyTorch: the warnings, the forward traceback pointing at the user's
line, the changed hint, and the NaN check."""
import warnings

import pytest

torch = pytest.importorskip("torch")
import nbautograd as nb  # noqa: E402


def _run(m, body):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            body(m)
            err = None
        except RuntimeError as e:
            err = str(e)
    return err, [(x.category.__name__, str(x.message)) for x in w]


def _modified(m):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    with m.autograd.detect_anomaly():
        y = x.exp()  # THE-FORWARD-LINE
        y.add_(1)
        y.sum().backward()


def _nan(m):
    x = m.tensor([0.0, -1.0], requires_grad=True)
    with m.autograd.detect_anomaly():
        (x.sqrt() * 0).sum().backward()


@pytest.mark.parametrize("body", [_modified, _nan], ids=["modified", "nan"])
def test_anomaly_messages_match_torch(body):
    (et, wt), (en, wn) = _run(torch, body), _run(nb, body)
    assert en == et
    assert [c for c, _ in wn] == [c for c, _ in wt]
    assert wn[0][1] == wt[0][1]  # "Anomaly Detection has been enabled. ..."
    # the forward traceback: same text, and it names the user's own line, not the engine's
    assert wn[1][1] == wt[1][1]
    assert "nbautograd" not in wn[1][1]


def test_set_detect_anomaly_is_silent_and_restores():
    def body(m):
        m.autograd.set_detect_anomaly(True)
        on = m.is_anomaly_enabled()
        m.autograd.set_detect_anomaly(False)
        return on, m.is_anomaly_enabled()
    assert _run(nb, body)[1] == [] and body(nb) == body(torch) == (True, False)
