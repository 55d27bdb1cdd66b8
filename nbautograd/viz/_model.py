"""The plain-data snapshot of a graph: what every view draws, and nothing live.

A ``GraphSnapshot`` holds strings, numbers and tuples only: no tensors, no nodes, no arrays.
It can be kept in a notebook output, compared, pickled or sent to a widget without keeping a
graph (or its saved tensors) alive.

Ids are deterministic: backward nodes are ``n0, n1, ...`` in tape order (a leaf's
AccumulateGrad just before its first consumer), tensors are ``t0, t1, ...`` in the order of
the node they belong to, folded groups are ``f0, f1, ...``. Nothing is derived from ``id()``.

>>> from nbautograd.viz._model import TensorInfo
>>> TensorInfo(id="t0", kind="leaf", label="x").kind
'leaf'
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = ["TensorInfo", "SavedInfo", "BackwardInfo", "EdgeInfo", "FoldInfo", "GraphSnapshot",
           "replace"]


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of the graph.

    ``kind`` is ``"leaf"`` (requires grad, no grad_fn), ``"intermediate"``, ``"output"`` (a
    root that was drawn) or ``"constant"`` (requires_grad=False, e.g. a saved input that needs
    no gradient). ``node`` is the backward node it belongs to: the grad_fn of an intermediate
    or output, the AccumulateGrad of a leaf; None for constants and for leaves with no node.
    """
    id: str
    kind: str
    label: str                     # the variable name, or the op that made it
    name: str | None = None        # the variable name(s) bound to it, if any
    shape: tuple | None = None
    dtype: str | None = None       # "float32" (torch's name without "torch.")
    device: str | None = None      # "cpu", "cuda:0"
    value: str | None = None       # a short, deterministic summary of the data
    grad: str | None = None        # summary of .grad (leaves, retained grads), or None
    requires_grad: bool = False
    retains_grad: bool = False
    version: int = 0               # in-place modification counter (tensor._version)
    hooks: int = 0                 # tensor hooks registered on it
    node: str | None = None


@dataclass(frozen=True)
class SavedInfo:
    """One tensor a backward node saved for its gradient (``grad_fn._saved_<name>``)."""
    name: str                      # "self", "other", "result", "saved_tensors[0]", ...
    shape: tuple | None = None
    dtype: str | None = None
    freed: bool = False            # released by a backward without retain_graph
    saved_version: int | None = None   # the tensor's version when it was saved (if known)
    version: int | None = None         # its version now
    tensor: str | None = None      # id of the TensorInfo it is, when that tensor is drawn

    @property
    def stale(self) -> bool:
        """True when the tensor was modified in place after it was saved."""
        return (self.saved_version is not None and self.version is not None
                and self.saved_version != self.version)


@dataclass(frozen=True)
class BackwardInfo:
    """One backward node (``grad_fn``), named as PyTorch names it."""
    id: str
    name: str                      # "MulBackward0", "torch::autograd::AccumulateGrad"
    op: str                        # short op label: "mul", "accumulate_grad", "square"
    saved: tuple[SavedInfo, ...] = ()
    params: tuple[tuple[str, str], ...] = ()   # non-tensor saved values: (("exponent", "2"),)
    freed: bool = False            # its saved tensors were released
    hooks: int = 0                 # node hooks and non-leaf tensor hooks (not retain_grad)
    tensor: str | None = None      # id of its output tensor (or, for AccumulateGrad, the leaf)
    grad_out: str | None = None    # the gradient that arrived in the last recorded backward
    failed: bool = False           # backward raised at this node

    @property
    def is_leaf_node(self) -> bool:
        return self.name.endswith("AccumulateGrad")


@dataclass(frozen=True)
class EdgeInfo:
    """A graph edge in forward (data-flow) direction: ``input`` feeds ``consumer``.

    ``kind="grad"``: ``input`` is the backward node ``consumer.next_functions[slot]`` points
    to, and ``grad`` summarises the gradient that flowed back along it (None when unknown).
    ``kind="constant"``: ``input`` is a constant tensor id (no gradient flows).
    ``count`` > 1 when folding merged several parallel edges.
    """
    input: str
    consumer: str
    slot: int = 0
    grad: str | None = None
    kind: str = "grad"
    count: int = 1


@dataclass(frozen=True)
class FoldInfo:
    """A run of a repeated pattern of backward nodes drawn as one block."""
    id: str
    count: int                     # how many repetitions
    pattern: tuple[str, ...]       # torch names of one repetition, in tape order
    members: tuple[str, ...]       # ids of the folded backward nodes
    tensors: tuple[str, ...] = ()  # ids of the tensors hidden with them


@dataclass(frozen=True)
class GraphSnapshot:
    """A whole graph as plain data (see the module docstring for the id scheme)."""
    tensors: tuple[TensorInfo, ...] = ()
    nodes: tuple[BackwardInfo, ...] = ()
    edges: tuple[EdgeInfo, ...] = ()
    roots: tuple[str, ...] = ()    # tensor ids of the roots, in the order given
    folds: tuple[FoldInfo, ...] = ()
    elided: tuple[str, ...] = ()   # lines saying what was folded or left out
    error: str | None = None       # the message of the error backward raised, if any
    failed: str | None = None      # id of the node where it was raised
    source: str = "nbautograd"     # "nbautograd", "torch" or "recording"
    grads: str = "none"            # edge gradients: "recorded", "recomputed" or "none"
    hidden: int = 0                # backward nodes left out entirely (max_nodes)
    _index: dict = field(default=None, init=False, compare=False, repr=False)

    def tensor(self, tid: str) -> TensorInfo:
        """The TensorInfo with id ``tid``."""
        return self._lookup()[tid]

    def node(self, nid: str) -> BackwardInfo:
        """The BackwardInfo (or FoldInfo) with id ``nid``."""
        return self._lookup()[nid]

    def _lookup(self) -> dict:
        if self._index is None:
            idx = {t.id: t for t in self.tensors}
            idx.update((n.id, n) for n in self.nodes)
            idx.update((f.id, f) for f in self.folds)
            object.__setattr__(self, "_index", idx)
        return self._index

    def find(self, label: str) -> TensorInfo | None:
        """The first tensor whose variable name (or label) is ``label``."""
        for t in self.tensors:
            if t.name is not None and label in t.name.split(", "):
                return t
        for t in self.tensors:
            if t.label == label:
                return t
        return None
