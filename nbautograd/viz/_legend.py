"""The legend of the visual language: one small graph showing every kind of box and mark.

It is built from plain data (no engine involved), so it changes only when the visual language
does; ``docs/legend.svg`` is this view's SVG (a test keeps the file up to date).

>>> legend().snapshot.source
'legend'
"""
from __future__ import annotations

from ._model import BackwardInfo, EdgeInfo, FoldInfo, GraphSnapshot, SavedInfo, TensorInfo


def legend_snapshot() -> GraphSnapshot:
    """A made-up graph with one example of each visual state."""
    T = TensorInfo
    tensors = (
        T("t0", "leaf", "x  (leaf)", "x  (leaf)", (2,), "float32", "cpu", "[1, 2]", "[6, 8]",
          True, node="n0"),
        T("t1", "constant", "c  (constant)", "c  (constant)", (2,), "float32", "cpu",
          "[3, 4]", requires_grad=False),
        T("t2", "intermediate", "h  (intermediate)", "h  (intermediate)", (2,), "float32",
          "cpu", "[3, 8]", requires_grad=True, node="n1"),
        T("t3", "leaf", "w  (modified in place)", "w  (modified in place)", (), "float32",
          "cpu", "0.5", "2", True, version=1, node="n2"),
        T("t4", "intermediate", "exp", None, (2,), "float32", "cpu", "[20.09, 2981]",
          requires_grad=True, node="n3"),
        T("t5", "intermediate", "pow", None, (), "float32", "cpu", requires_grad=True,
          node="n5"),
        T("t6", "output", "loss  (output)", "loss  (output)", (), "float32", "cpu", "3001",
          requires_grad=True, node="n6"),
    )
    nodes = (
        BackwardInfo("n0", "torch::autograd::AccumulateGrad", "accumulate_grad", tensor="t0"),
        BackwardInfo("n1", "MulBackward0", "mul", (SavedInfo("other", (2,), "float32", True),),
                     freed=True, tensor="t2"),
        BackwardInfo("n2", "torch::autograd::AccumulateGrad", "accumulate_grad", tensor="t3"),
        BackwardInfo("n3", "ExpBackward0", "exp",
                     (SavedInfo("result", (2,), "float32", False, 0, 0, "t4"),), tensor="t4"),
        BackwardInfo("n5", "PowBackward0", "pow",
                     (SavedInfo("self", (), "float32", False, 0, 1, "t3"),),
                     (("exponent", "2"),), failed=True, tensor="t5"),
        BackwardInfo("n6", "AddBackward0", "add", tensor="t6"),
    )
    edges = (
        EdgeInfo("n0", "n1", 0, "[3, 4]"),
        EdgeInfo("t1", "n1", 1, None, "constant"),
        EdgeInfo("n1", "n3", 0, "[20.09, 2981]"),
        EdgeInfo("n3", "f0", 0, "gradient"),
        EdgeInfo("f0", "n6", 0, "[1, 1]"),
        EdgeInfo("n2", "n5", 0, None),
        EdgeInfo("n5", "n6", 1, None),
        EdgeInfo("n2", "f0", 1, None, count=3),
    )
    folds = (FoldInfo("f0", 3, ("MulBackward0", "AddBackward0"), ("n7", "n8", "n9", "n10",
                                                                  "n11", "n12")),)
    return GraphSnapshot(
        tensors=tensors, nodes=nodes, edges=edges, roots=("t6",), folds=folds,
        elided=("red edge labels: the gradient that flowed back along the edge",
                "dashed grey node: its saved tensors were freed by backward",
                "amber border: modified in place; red border/fill: stale saved tensor, "
                "the node where backward raised",
                "violet 3-D box: a repeated chain folded into one block"),
        source="legend", grads="recorded")


def legend():
    """The legend as a GraphView (``legend().save("docs/legend.svg")`` writes the image)."""
    from ._view import GraphView  # noqa: PLC0415
    return GraphView(legend_snapshot(), rankdir="BT", renderer="wasm")
