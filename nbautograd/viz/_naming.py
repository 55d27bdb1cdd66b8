"""Labels: variable names for tensors (``names=locals()``) and op names for the rest.

``name_table`` turns a namespace into ``{id(tensor): "x"}``; ``op_label`` turns torch's
node names into short op names (``MulBackward0`` -> ``mul``), which label the intermediates
no variable is bound to.

>>> op_label("LogSoftmaxBackward0"), op_label("torch::autograd::AccumulateGrad")
('log_softmax', 'accumulate_grad')
"""
from __future__ import annotations

import re
from typing import Any, Mapping

_BACKWARD = re.compile(r"Backward\d*$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def op_label(node_name: str) -> str:
    """The op behind a backward node's name, in snake case."""
    base = node_name.rsplit("::", 1)[-1]
    base = _BACKWARD.sub("", base) or base
    return _CAMEL.sub("_", base).lower()


def is_tensor(obj: Any) -> bool:
    """True for an nbautograd Tensor or (when PyTorch is loaded) a torch.Tensor."""
    from .._tensor import Tensor  # noqa: PLC0415
    if isinstance(obj, Tensor):
        return True
    return is_torch_tensor(obj)


def is_torch_tensor(obj: Any) -> bool:
    """True for a real ``torch.Tensor``; never imports torch (a torch tensor implies it is)."""
    mod = type(obj).__module__ or ""
    if not (mod == "torch" or mod.startswith("torch.")):
        return False
    import sys  # noqa: PLC0415
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def name_table(names: Mapping[str, Any] | None) -> tuple[dict[int, str], list]:
    """``{id(tensor): "a, b"}`` for the tensors bound in ``names``, and the tensors themselves
    (kept alive for as long as the ids are used).

    Names starting with ``_`` are skipped (IPython's ``_``, ``_1``, ``__``); a list or tuple
    of tensors names its items ``params[0]``, ``params[1]``, ...
    """
    table: dict[int, list[str]] = {}
    keep: list = []
    if not names:
        return {}, keep
    for key, value in names.items():
        if not isinstance(key, str) or key.startswith("_"):
            continue
        if is_tensor(value):
            table.setdefault(id(value), []).append(key)
            keep.append(value)
        elif isinstance(value, (list, tuple)) and len(value) <= 10_000:
            for i, item in enumerate(value):
                if is_tensor(item):
                    table.setdefault(id(item), []).append(f"{key}[{i}]")
                    keep.append(item)
    return {k: ", ".join(v) for k, v in table.items()}, keep


def unique_labels(wanted: list[str], reserved: set[str] = frozenset()) -> list[str]:
    """Make labels unique in order, avoiding ``reserved`` (the variable names in use): the
    second ``mul`` becomes ``mul_1``, and so on.

    >>> unique_labels(["mul", "exp", "mul"], {"exp"})
    ['mul', 'exp_1', 'mul_1']
    """
    count: dict[str, int] = {}
    taken = set(reserved)
    out = []
    for w in wanted:
        cand, n = w, count.get(w, 0)
        while cand in taken:
            n += 1
            cand = f"{w}_{n}"
        count[w] = n
        taken.add(cand)
        out.append(cand)
    return out
