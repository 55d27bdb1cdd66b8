"""What the graph views read from a recording (``nbautograd.recording.Recording``): the
gradients that flowed, the outputs, what freed nodes had saved, the error, the ledgers.

``viz.record()`` gives the same recorder the ``%%autograd`` magic uses, plus ``ledger()``
(the HTML view of one leaf's ``.grad`` history). A Recording keeps the recorded nodes alive
(so a graph can be drawn from the recording alone) until it is dropped or released; the
GraphViews drawn from it keep plain data only.

>>> import nbautograd as torch
>>> from nbautograd import viz
>>> x = torch.tensor(3., requires_grad=True)
>>> with viz.record() as rec:
...     y = x * x
...     y.backward()
>>> rec
Recording(ops=1, backward_calls=1, leaves=1, errors=0)
>>> [e.label for e in rec.ledger(x).entries]
['backward #1']
"""
from __future__ import annotations

from .. import recording as _rec
from ._html import GradLedger, LedgerEntry
from ._nb import saved_from
from ._values import as_text


class Recording(_rec.Recording):
    """A ``nbautograd.recording.Recording`` with the views' helpers: ``ledger(leaf)``."""

    def ledger(self, leaf, name: str | None = None) -> GradLedger:
        """The ``.grad`` history of ``leaf`` during the recording as a table and sparkline
        (one entry per backward call that reached it, and per reset)."""
        got = self.ledgers.get(id(leaf))
        if got is None or got.leaf() is not leaf:
            return GradLedger(name or "leaf", ())
        return ledger_view(name or "leaf", got)


def record() -> Recording:
    """Record the engine inside a ``with`` block; draw with ``draw(rec)`` or
    ``draw(y, recording=rec)``.

    >>> import nbautograd as torch
    >>> from nbautograd import viz
    >>> x = torch.tensor(2., requires_grad=True)
    >>> with viz.record() as rec:
    ...     (x * 3).backward()
    >>> viz.draw(rec).snapshot.grads
    'recorded'
    """
    return Recording()


_LABELS = {"zero": "grad.zero_()", "fill": "grad.fill_()", "none": "grad = None",
           "set": "grad = ..."}


def ledger_view(name: str, ledger: _rec.Ledger) -> GradLedger:
    """A recording's ``Ledger`` (plain data) as the HTML ``GradLedger`` view."""
    entries = []
    count = 0
    for e in ledger.entries:
        if e.how == "backward":
            count += 1
            label = f"backward #{e.call + 1}" if e.call is not None else f"backward #{count}"
            entries.append(LedgerEntry(label, e.after, e.added))
        else:
            entries.append(LedgerEntry(_LABELS.get(e.how, e.how), e.after, None))
    return GradLedger(name, tuple(entries))


class RecordingSource:
    """What ``draw`` needs of a recording: the annotations, the nodes, the tips."""

    def __init__(self, rec: _rec.Recording) -> None:
        self.rec = rec

    def annotations(self) -> dict:
        """Keyword arguments for ``_snapshot.snapshot``: gradients, outputs and the error."""
        rec = self.rec
        grads_in, grad_out = rec.flows()
        saved = {k: saved_from(node, arrays, tensors, ver)
                 for k, (node, arrays, tensors, ver) in rec.saved_at_release().items()}
        out = dict(edge_grads={k: as_text(v) for k, v in grads_in.items()},
                   grad_out={k: as_text(v) for k, v in grad_out.items()},
                   outputs=rec.outputs(), grads="recorded" if grads_in else "none",
                   recorded_saved=saved)
        if rec.errors:
            err = rec.errors[-1]
            out["error"] = f"{err.type}: {err.message}"
            out["failed_node"] = err.node() if err.node is not None else None
        return out

    def graph_nodes(self) -> list:
        """The recorded op nodes (tape order) and the nodes that failed."""
        return self.rec.op_nodes() + self.rec.failed_nodes()

    def tips(self) -> list:
        """The recorded op nodes nothing recorded consumed: the outputs of the recording."""
        nodes = self.rec.op_nodes()
        used = {id(m) for n in nodes for m in getattr(n, "_next", ()) if m is not None}
        return [n for n in nodes if id(n) not in used]
