"""Live notebook widgets (ipywidgets 8) that let a learner make autograd happen, one step at a
time:

* ``GraphWidget(*roots)``: the graph, redrawn as the engine records ops and runs backward;
* ``TapePlayer(root_or_report)``: play or step through the forward ops, then the backward
  steps, with the chain rule of each step in numbers;
* ``GradAccumulator(output, leaves)``: ``backward()``, ``backward(retain_graph=True)``,
  ``zero_()`` and ``grad = None`` as buttons, with the ``.grad`` ledger and a chart;
* ``JacobianExplorer(func, x)``: one backward pass per output element fills the Jacobian row
  by row, checked against ``jacobian(func, x, vectorize=True)``;
* ``explore(func, x=2.0, ...)``: sliders for the inputs; the graph's values and gradients
  follow them.

They compose stock ipywidgets (``HTML``, ``Button``, ``IntSlider``, ``Play``,
``FloatSlider``), with no front-end code of their own, so they work wherever ipywidgets 8
does (JupyterLab 4, Notebook 7). Callbacks never print: they set widget values, and an
engine error is shown in the widget, not raised. Once a widget is done (``close()``,
``stop()``, ``release()``, or a finished Jacobian) it keeps numpy copies and SVG text only.

Install with ``pip install "nbautograd[notebook]"`` (adds ipywidgets).
"""
from __future__ import annotations

try:
    import ipywidgets as _ipywidgets
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("nbautograd.widgets needs ipywidgets>=8: "
                      "pip install 'nbautograd[notebook]'") from e

if int(_ipywidgets.__version__.split(".")[0]) < 8:  # pragma: no cover
    raise ImportError(f"nbautograd.widgets needs ipywidgets>=8, found "
                      f"{_ipywidgets.__version__}: pip install -U ipywidgets")

from .accumulator import GradAccumulator  # noqa: E402
from .explore import Explorer, explore  # noqa: E402
from .graph import GraphWidget, LiveCellGraph  # noqa: E402
from .jacobian import JacobianExplorer  # noqa: E402
from .tape import TapePlayer  # noqa: E402

__all__ = ["GraphWidget", "LiveCellGraph", "TapePlayer", "GradAccumulator",
           "JacobianExplorer", "explore", "Explorer"]
