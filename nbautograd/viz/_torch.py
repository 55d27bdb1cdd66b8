"""How the views read a real PyTorch graph, so PyTorch users get the same pictures.

Only used when ``draw`` is given a ``torch.Tensor``; torch is never imported here (a torch
tensor means torch is loaded already, and ``sys.modules`` has it). The graph is read through
torch's public Node API: ``name()``, ``next_functions``, ``_sequence_nr()``, the
``_saved_<name>`` attributes (which raise once freed), ``_input_metadata`` for output shapes,
and ``AccumulateGrad.variable`` for leaves.

>>> TorchAdapter.source
'torch'
"""
from __future__ import annotations

import re
import sys

from ._nb import RawSaved, fmt_param
from ._values import dtype_name, summarize

_ACC = "torch::autograd::AccumulateGrad"


def _torch():
    return sys.modules["torch"]


def _host(t):
    """A NumPy copy of a torch tensor's values, or None when it has none (meta device)."""
    try:
        t = t.detach()
        torch = _torch()
        if t.dtype in (torch.bfloat16,) or str(t.dtype).startswith("torch.float8"):
            t = t.float()
        return t.cpu().resolve_conj().resolve_neg().numpy()
    except Exception:  # noqa: BLE001 - a value we cannot read is simply not shown
        return None


# which input a saved tensor came from, by torch's argument names (for constants' edges)
_SLOT = {"self": 0, "input": 0, "other": 1, "exponent": 1, "mat2": 1, "vec": 1, "weight": 1,
         "tensor1": 1, "tensor2": 2, "bias": 2}


def _saved_order(name: str) -> tuple:
    # torch lists attributes alphabetically; show inputs in argument order as nbautograd does
    return (name == "result", name != "self", name)


class TorchAdapter:
    """Reads ``torch.Tensor`` and ``torch.autograd.graph.Node`` objects for the walker."""

    source = "torch"

    # --- tensors ------------------------------------------------------------------------------
    @staticmethod
    def is_tensor(obj) -> bool:
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(obj, torch.Tensor)

    @staticmethod
    def grad_fn(t):
        return t.grad_fn

    @staticmethod
    def leaf_node(t):
        return None  # torch keeps a leaf's AccumulateGrad to itself; the walk finds it

    @staticmethod
    def requires_grad(t) -> bool:
        return bool(t.requires_grad)

    @staticmethod
    def describe(t) -> dict:
        # .grad of a non-leaf warns in torch too: read it only where it can exist
        g = t.grad if (t.is_leaf or t.retains_grad) else None
        return dict(shape=tuple(t.shape), dtype=dtype_name(t.dtype), device=str(t.device),
                    value=summarize(_host(t)),
                    grad=None if g is None else summarize(_host(g)),
                    requires_grad=bool(t.requires_grad), retains_grad=bool(t.retains_grad),
                    version=int(t._version), hooks=len(getattr(t, "_backward_hooks", None) or ()))

    # --- nodes --------------------------------------------------------------------------------
    @staticmethod
    def name(n) -> str:
        return n.name()

    @staticmethod
    def inputs(n) -> tuple:
        return tuple(f for f, _ in n.next_functions)

    @staticmethod
    def seq(n):
        if n.name() == _ACC:
            return None
        try:
            return int(n._sequence_nr())
        except (AttributeError, RuntimeError):
            return None

    @staticmethod
    def is_leaf_node(n) -> bool:
        return n.name() == _ACC

    @staticmethod
    def variable(n):
        return n.variable

    @staticmethod
    def is_custom(n) -> bool:
        return hasattr(n, "saved_tensors") and hasattr(n, "_forward_cls")

    @staticmethod
    def freed(n) -> bool:
        return any(s.freed for s in TorchAdapter.saved(n))

    @staticmethod
    def hooks(n) -> int:
        return 0  # torch does not expose a node's hooks

    @staticmethod
    def retained(n) -> list:
        return []

    @staticmethod
    def saved(n) -> list[RawSaved]:
        torch = _torch()
        if n.name() == _ACC:
            return []
        if TorchAdapter.is_custom(n):
            try:
                vals = n.saved_tensors
            except RuntimeError:
                return [RawSaved("saved_tensors", freed=True)]
            return [RawSaved(f"saved_tensors[{i}]", t, tuple(t.shape), dtype_name(t.dtype),
                             False, None, int(t._version))
                    for i, t in enumerate(vals) if t is not None]
        out = []
        for attr in sorted((a for a in dir(n) if a.startswith("_saved_")),
                           key=lambda a: _saved_order(a[7:])):
            nm = attr[7:]
            try:
                v = getattr(n, attr)
            except RuntimeError:
                out.append(RawSaved(nm, freed=True))
                continue
            if isinstance(v, torch.Tensor):
                out.append(RawSaved(nm, v, tuple(v.shape), dtype_name(v.dtype), False, None,
                                    int(v._version), None if nm == "result" else
                                    _SLOT.get(nm, 0)))
            elif isinstance(v, (tuple, list)) and v and all(isinstance(x, torch.Tensor)
                                                            for x in v):
                out.extend(RawSaved(f"{nm}[{i}]", x, tuple(x.shape), dtype_name(x.dtype), False,
                                    None, int(x._version)) for i, x in enumerate(v))
        return out

    @staticmethod
    def params(n) -> list[tuple[str, str]]:
        torch = _torch()
        out = []
        for attr in sorted(a for a in dir(n) if a.startswith("_saved_")):
            try:
                v = getattr(n, attr)
            except RuntimeError:
                continue
            if v is None or isinstance(v, torch.Tensor) or (
                    isinstance(v, (tuple, list)) and v
                    and all(isinstance(x, torch.Tensor) for x in v)):
                continue
            if isinstance(v, torch.Size):
                v = tuple(v)
            out.append((attr[7:], fmt_param(v)))
        return out

    @staticmethod
    def output_meta(n) -> dict:
        try:
            meta = n._input_metadata[0]
        except (AttributeError, IndexError, RuntimeError, TypeError):
            return {}
        return dict(shape=tuple(meta.shape), dtype=dtype_name(meta.dtype),
                    device=str(meta.device))

    @staticmethod
    def input_meta(consumer, slot: int) -> dict:
        return {}

    @staticmethod
    def failing_node(order_desc: list, message: str):
        inplace = re.search(r"is at version (\d+)", message)
        for n in order_desc:
            if n.name() == _ACC:
                continue
            saved = TorchAdapter.saved(n)
            if "second time" in message and any(s.freed for s in saved):
                return n
            if inplace and any(s.version == int(inplace.group(1)) and not s.freed
                               for s in saved):
                return n
        return None


TORCH = TorchAdapter()
