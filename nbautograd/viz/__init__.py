"""Graph views: the computational graph with names, values and gradients.

``draw(y, names=locals())`` returns a ``GraphView`` that displays as SVG in Jupyter, rendered
in process by a WebAssembly Graphviz (no system ``dot`` needed), with ``.dot``, ``.svg()``,
``.text()`` and ``.save(path)``. It draws nbautograd graphs and real PyTorch graphs alike.

The layers, each a module with one job:

* ``_snapshot`` (with the ``_nb``/``_torch`` adapters): live graph -> plain-data
  ``GraphSnapshot`` (``_model``), walked iteratively, ids in tape order;
* ``_recording``: engine events -> gradients that flowed, errors, ``.grad`` ledgers;
* ``_fold``: folding of repeated chains, ``focus``, ``max_nodes``;
* ``_dot`` / ``_text``: snapshot -> DOT source / text listing;
* ``_render``: DOT -> SVG (WebAssembly Graphviz, else system dot, else text);
* ``_html``: gradient ledger and Jacobian heatmap tables;
* ``_view``: ``draw`` and ``GraphView``.

This is the only part of nbautograd that imports ``graphviz``; the engine never imports it.

>>> import nbautograd as torch
>>> from nbautograd import viz
>>> x = torch.tensor([1., 2.], requires_grad=True)
>>> y = (x * x).sum()
>>> view = viz.draw(y, names=locals())
>>> print(view.text())
graph: 3 backward nodes, 3 tensors
x = leaf  (2,) float32  data=[1, 2]
mul = MulBackward0(x, x)  (2,)  saved: self, other
y = SumBackward0(mul)  () float32  data=5  [output]
"""
from __future__ import annotations

from ._html import (GradLedger, JacobianTable, LedgerEntry, jacobian_html, ledger_html,
                    sparkline_svg)
from ._legend import legend
from ._model import BackwardInfo, EdgeInfo, FoldInfo, GraphSnapshot, SavedInfo, TensorInfo
from ._recording import Recording, record
from ._render import RenderUnavailable, RenderWarning
from ._view import GraphView, draw

__all__ = ["draw", "GraphView", "record", "Recording", "legend", "GraphSnapshot",
           "TensorInfo", "BackwardInfo", "SavedInfo", "EdgeInfo", "FoldInfo", "LedgerEntry",
           "GradLedger", "JacobianTable", "ledger_html", "jacobian_html", "sparkline_svg",
           "RenderWarning", "RenderUnavailable"]
