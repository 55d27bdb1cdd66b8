"""How the views read nbautograd's own tensors and backward nodes (the engine's side).

The snapshot walker (``_snapshot``) is written against a small adapter interface so that the
same code draws nbautograd graphs and real PyTorch graphs (``_torch``). This adapter reads the
engine's node fields directly (``_next``, ``_saved``, ``_saved_t``, ``_ver``, ``_freed``,
hooks): the views are part of the package, and reading never changes the graph.

``FrozenTensor`` stands in for an output tensor that is gone (recorded by a ``Recording``
while it was alive): its summary was taken at record time.

>>> import nbautograd as torch
>>> x = torch.tensor(2., requires_grad=True)
>>> NB.name((x * x).grad_fn)
'MulBackward0'
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from .._backend import to_host
from .._dtypes import FROM_NP
from .._node import OUT, AccumulateGrad
from .._tensor import Tensor, _RetainGrad
from .._summary import FrozenTensor, as_text, fmt_number, summarize


@dataclass(frozen=True)
class RawSaved:
    """What a node saved, before ids are known: ``tensor`` is the live object (or None)."""
    name: str
    tensor: object = None
    shape: tuple | None = None
    dtype: str | None = None
    freed: bool = False
    saved_version: int | None = None
    version: int | None = None
    slot: int | None = None        # the input position it was saved from (None: the output)


def fmt_param(v) -> str:
    """A non-tensor saved value (exponent, dim, sizes) as short text."""
    if isinstance(v, (bool, int, float, complex, np.number, np.bool_)):
        return fmt_number(v)
    if isinstance(v, (tuple, list)) and len(v) <= 8 and all(
            isinstance(x, (bool, int, float, np.number)) or x is None for x in v):
        inner = ", ".join("None" if x is None else fmt_number(x) for x in v)
        return f"({inner}{',' if len(v) == 1 else ''})" if isinstance(v, tuple) else f"[{inner}]"
    if isinstance(v, np.ndarray):
        return summarize(v)
    if v is None:
        return "None"
    s = repr(v)
    return s if len(s) <= 30 else s[:29] + "…"


class NbAdapter:
    """Reads nbautograd tensors and nodes for the snapshot walker."""

    source = "nbautograd"

    # --- tensors ------------------------------------------------------------------------------
    @staticmethod
    def is_tensor(obj) -> bool:
        return isinstance(obj, (Tensor, FrozenTensor))

    @staticmethod
    def grad_fn(t):
        return None if isinstance(t, FrozenTensor) else t.grad_fn

    @staticmethod
    def leaf_node(t):
        """The leaf's AccumulateGrad node if it has one (never creates it)."""
        return None if isinstance(t, FrozenTensor) else t._acc

    @staticmethod
    def requires_grad(t) -> bool:
        return False if isinstance(t, FrozenTensor) else t._rg

    @staticmethod
    def describe(t) -> dict:
        """The TensorInfo fields that come from the tensor itself."""
        if isinstance(t, FrozenTensor):
            return dict(shape=t.shape, dtype=t.dtype, device=t.device, value=as_text(t.value),
                        requires_grad=True)
        g = t._grad
        hooks = len(t._hooks or ()) + len(t._post_acc_hooks or ()) if t.grad_fn is None else 0
        return dict(shape=tuple(t._data.shape), dtype=t.dtype._name, device=str(t.device),
                    value=summarize(to_host(t._data)),
                    grad=None if g is None else summarize(to_host(g._data)),
                    requires_grad=t._rg, retains_grad=t._retains_grad, version=t._version,
                    hooks=hooks)

    # --- nodes --------------------------------------------------------------------------------
    @staticmethod
    def name(n) -> str:
        return n.name()

    @staticmethod
    def inputs(n) -> tuple:
        return tuple(getattr(n, "_next", ()))

    @staticmethod
    def seq(n):
        """Tape position of an op node; None for AccumulateGrad (placed by its consumers)."""
        return None if isinstance(n, AccumulateGrad) else n._seq

    @staticmethod
    def is_leaf_node(n) -> bool:
        return isinstance(n, AccumulateGrad)

    @staticmethod
    def variable(n):
        return n.variable

    @staticmethod
    def is_custom(n) -> bool:
        return bool(getattr(n, "_custom", False))

    @staticmethod
    def freed(n) -> bool:
        return bool(getattr(n, "_freed", False))

    @staticmethod
    def hooks(n) -> int:
        pre = [h for h in (n._pre_hooks or ()) if not isinstance(h, _RetainGrad)]
        return len(pre) + len(n._post_hooks or ())

    @staticmethod
    def retained(n) -> list:
        """Tensors whose ``retain_grad()`` hook sits on this node."""
        out = []
        for h in n._pre_hooks or ():
            if isinstance(h, _RetainGrad):
                t = h.ref()
                if t is not None:
                    out.append(t)
        return out

    @staticmethod
    def saved(n) -> list[RawSaved]:
        """The node's saved tensors, freed or not, in input order (the output last)."""
        if isinstance(n, AccumulateGrad):
            return []
        if getattr(n, "_custom", False):
            return _custom_saved(n)
        return saved_from(n, n._saved, n._saved_t, n._ver)

    @staticmethod
    def params(n) -> list[tuple[str, str]]:
        names = getattr(type(n), "param_names", ())
        return [(k, fmt_param(v)) for k, v in zip(names, getattr(n, "_params", ()))]

    @staticmethod
    def output_meta(n) -> dict:
        """What the node knows of its own output: its saved value, or shape from a consumer."""
        if getattr(type(n), "_save_out", False) and n._saved is not None \
                and n._saved[-1] is not None:
            arr = n._saved[-1]
            dt = FROM_NP.get(np.dtype(arr.dtype))
            return dict(shape=tuple(arr.shape), dtype=None if dt is None else dt._name,
                        device=str(_device_of(arr)), value=summarize(to_host(arr)))
        return {}

    @staticmethod
    def input_meta(consumer, slot: int) -> dict:
        """Shape (and dtype) of the consumer's input ``slot``, when the node recorded it."""
        if slot == 0 and "self_sym_sizes" in getattr(type(consumer), "param_names", ()):
            sizes = consumer._params[type(consumer).param_names.index("self_sym_sizes")]
            return {"shape": tuple(sizes)}   # reductions keep their input's shape
        red = getattr(consumer, "_reduce", None)
        if red is not None and slot < len(red) and red[slot] is not None:
            shape, npd = red[slot]
            dt = FROM_NP.get(np.dtype(npd)) if npd is not None else None
            out = {}
            if shape is not None:
                out["shape"] = tuple(shape)
            if dt is not None:
                out["dtype"] = dt._name
            return out
        return {}

    @staticmethod
    def failing_node(order_desc: list, message: str):
        """The node a backward that raised ``message`` stopped at, found the way the engine
        walks: highest tape position first."""
        freed_err = "second time" in message
        inplace_err = "modified by an inplace operation" in message
        for n in order_desc:
            if isinstance(n, AccumulateGrad):
                continue
            if freed_err and not getattr(n, "_custom", False) and n._saved is None \
                    and getattr(n, "_frees", False):
                return n
            if inplace_err and any(s.saved_version != s.version for s in NbAdapter.saved(n)
                                   if not s.freed):
                return n
        return None


def saved_from(n, saved, saved_t, ver) -> list[RawSaved]:
    """``NB.saved`` of node ``n`` given its saved arrays, tensors and versions (as the node
    holds them, or as a recording kept them when backward released the node)."""
    if isinstance(saved, str):  # "custom": a custom Function's saved_tensors, as kept
        return _custom_saved(n, saved_t or (), ver, True)
    arg_names = tuple(getattr(n, "arg_names", ()))
    if saved is None:  # released: work out what was saved the way record() chose it
        save, nxt = type(n).save, n._next
        if len(save) == len(nxt):
            need = {i for k, e in enumerate(nxt) if e is not None for i in save[k]}
        else:
            need = set(n._save_all)
        out = []
        for p in sorted(need, key=lambda p: (p == OUT, p)):
            nm = "result" if p == OUT else (arg_names[p] if p < len(arg_names)
                                            else f"input{p}")
            out.append(RawSaved(nm, freed=True, slot=None if p == OUT else p))
        return out
    out = []
    last = len(saved) - 1
    for pos, arr in enumerate(saved):
        if arr is None:
            continue
        is_out = pos == last
        t = None if is_out or not saved_t else _deref(saved_t[pos])
        if is_out:
            vc = saved_t[pos] if saved_t else None
            now = vc[0] if isinstance(vc, list) else 0
        else:
            now = 0 if t is None or t._vc is None else t._vc[0]
        then = 0 if ver is None else ver[pos]
        nm = "result" if is_out else (arg_names[pos] if pos < len(arg_names)
                                      else f"input{pos}")
        dt = FROM_NP.get(np.dtype(arr.dtype))
        out.append(RawSaved(nm, t, tuple(arr.shape), None if dt is None else dt._name,
                            False, then, now, None if is_out else pos))
    return out


def _deref(t):
    return t() if isinstance(t, weakref.ref) else t


def _device_of(arr) -> str:
    from .._device import device_of  # noqa: PLC0415
    return str(device_of(arr))


def _custom_saved(n, vals=None, vers=None, freed=None) -> list[RawSaved]:
    """A custom Function's ``saved_tensors``: its own, or those a recording kept."""
    if vals is None:
        vals = getattr(n, "_saved_values", None) or ()
        vers = getattr(n, "_saved_versions", None)
    vers = vers or (0,) * len(vals)
    freed = bool(getattr(n, "_freed", False)) if freed is None else freed
    out = []
    for i, (t, v) in enumerate(zip(vals, vers)):
        t = _deref(t)
        if t is None:
            continue
        out.append(RawSaved(f"saved_tensors[{i}]", t, tuple(t._data.shape), t.dtype._name,
                            freed, v, t._version))
    return out


NB = NbAdapter()
