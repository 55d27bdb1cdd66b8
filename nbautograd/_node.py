"""Backward nodes (``grad_fn``) and the one function that records an op on the tape.

Every differentiable op is a ``Node`` subclass named as PyTorch names it (``MulBackward0``),
declaring its forward and its vector-Jacobian product side by side. ``record`` wraps a
forward result in a Tensor and, when a gradient can flow, attaches a node that holds:

* ``_next``: one edge per input, the input's ``grad_fn`` (or its ``AccumulateGrad`` for a
  leaf), or None where no gradient is needed;
* ``_saved``: the arrays the VJP needs (inputs by position, then the output), and
  ``_saved_t``/``_ver``: the saved input tensors and their versions, for the in-place check;
* ``_seq``: its place on the tape. Inputs always have a smaller ``_seq`` than their
  consumers, so descending ``_seq`` is a valid order for the backward pass.

>>> import nbautograd as torch
>>> x = torch.tensor(2., requires_grad=True)
>>> (x * x).grad_fn.name(), (x * x).grad_fn.next_functions[0][0].name()
('MulBackward0', 'torch::autograd::AccumulateGrad')
"""
from __future__ import annotations

import itertools
import re
import weakref

from . import _events
from ._grad_mode import STATE

ERR_BACKWARD_TWICE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)

_SEQ = itertools.count()
# Bumped by every in-place op: a node made after the last bump cannot have stale saved tensors,
# so the backward pass skips the version check for it.
INPLACE_EPOCH = [0]
OUT = -1  # in a ``save`` spec, the op's output


class Node:
    """A backward function: receives the gradient of its output, returns its inputs' gradients."""

    # Per class: for each input, what its gradient needs (input positions, or OUT).
    save: tuple = ()
    # Per class: torch's names of the inputs, for ``_saved_<name>`` attributes.
    arg_names: tuple = ("self",)
    _reduce = None        # per input: (shape, dtype) to reduce/cast its gradient to, or None
    _pre_hooks = None     # hooks on the gradient of this node's output (tensor hooks)
    _post_hooks = None
    _freed = False
    _params = ()
    _epoch = 0
    _fwd_stack = None     # forward traceback, recorded in anomaly mode
    _ver = None           # versions of the saved inputs when saved (None: all 0)
    _custom = False       # True for nodes that run their own apply_vjp (custom Functions)
    _saved_t = ()         # the saved input tensors (and the output's version counter)
    _fresh_grads = False  # True when the vjp always returns newly made arrays (never g itself)
    _diagonal_ok = False  # True when the vjp may take a DiagonalBatch (elementwise, matmul...)
    _slow = False         # True when the engine must look closer: hooks, custom apply_vjp
    _device_hop = False   # True (with _slow) for a node that moves its gradient to another device
    _output_nr = 0        # which output of torch's (multi-output) node this one stands for
    _wrapped_scalar_input = False
    metadata_dict = None

    def vjp(self, xp, g, *saved):  # pragma: no cover - every op overrides it
        raise NotImplementedError

    # --- the Node API torch users know ------------------------------------------------------
    def name(self) -> str:
        """torch's name of this node, e.g. ``'MulBackward0'``."""
        return type(self).__name__

    @property
    def next_functions(self) -> tuple:
        """``((node, 0), (None, 0), ...)``: where each input's gradient goes."""
        edges = tuple((e, 0 if e is None else e._output_nr) for e in self._next)
        # torch wraps a Python scalar operand of add/sub/mul/div into a tensor input
        return edges + ((None, 0),) if self._wrapped_scalar_input else edges

    @property
    def metadata(self) -> dict:
        if self.metadata_dict is None:
            self.metadata_dict = {}
        return self.metadata_dict

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs)`` runs after this node computed its gradients."""
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(fn)
        self._slow = True
        return RemovableHandle(self._post_hooks, fn)

    def register_prehook(self, fn):
        """``fn(grad_outputs)`` runs before this node; may return replacement gradients."""
        hooks = self._own_pre_hooks()
        wrapped = _NodePreHook(fn)
        hooks.append(wrapped)
        return RemovableHandle(hooks, wrapped)

    def _own_pre_hooks(self) -> list:
        if self._pre_hooks is None:
            self._pre_hooks = []
            self._slow = True
        return self._pre_hooks

    def __call__(self, *grads):
        from ._tensor import Tensor, wrap  # noqa: PLC0415
        g = grads[0]._data if isinstance(grads[0], Tensor) else grads[0]
        out = self.apply_vjp(g, False)
        return tuple(None if o is None else wrap(o) for o in out)

    def __getattr__(self, attr: str):
        # torch exposes saved tensors as ``_saved_self``, ``_saved_other``, ``_saved_result``...
        if attr.startswith("_saved_"):
            return self._saved_attr(attr[len("_saved_"):])
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{attr}'")

    def _saved_attr(self, which: str):
        from ._tensor import wrap  # noqa: PLC0415
        names = self.arg_names
        if which == "result" and OUT in self._save_all:
            pos = len(names)
        elif which in names and names.index(which) in self._save_all:
            pos = names.index(which)
        elif which in self._param_names():
            return self._params[self._param_names().index(which)]
        else:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '_saved_{which}'")
        if self._saved is None:
            raise RuntimeError(ERR_BACKWARD_TWICE)
        if pos < len(names) and self._saved_t[pos] is not None:
            return self._saved_t[pos]
        return wrap(self._saved[pos], self if pos == len(names) else None)

    def _param_names(self) -> tuple:
        return getattr(type(self), "param_names", ())

    def saved_tensors_info(self) -> list:
        """Plain data on what this node saved: ``[(name, shape, freed)]`` (for the views)."""
        names = list(self.arg_names) + ["result"]
        idx = sorted(i if i != OUT else len(self.arg_names) for i in self._save_all)
        out = []
        for i in idx:
            arr = None if self._saved is None else self._saved[i]
            shape = None if arr is None else tuple(arr.shape)
            out.append((names[i], shape, self._saved is None))
        return out

    def __repr__(self) -> str:
        # torch's text, address included; notebooks compare it through a sanitizer
        return f"<{type(self).__name__} object at {id(self):#x}>"

    # --- engine side ------------------------------------------------------------------------
    def apply_vjp(self, g, create_graph: bool):
        """The gradients for each input, given the gradient ``g`` of the output."""
        saved = self._saved
        if saved is None:
            raise RuntimeError(ERR_BACKWARD_TWICE)
        if self._epoch != INPLACE_EPOCH[0] and self._saved_t:
            self._check_versions()
        if create_graph:
            from ._tensor_ns import TENSOR_NS, saved_as_tensors  # noqa: PLC0415
            return self.vjp(TENSOR_NS, g, *saved_as_tensors(self))
        from ._backend import array_namespace  # noqa: PLC0415
        return self.vjp(array_namespace(g), g, *saved)

    def _check_versions(self) -> None:
        ver, n = self._ver, len(self._saved) - 1
        for pos, t in enumerate(self._saved_t):
            if t is None:
                continue
            vc = t._vc if pos < n else t
            now = 0 if vc is None else vc[0]
            v = 0 if ver is None else ver[pos]
            if now != v:
                raise RuntimeError(_modified_message(self, pos, now, v))

    def release(self) -> None:
        """Free the saved arrays (after a backward without ``retain_graph``)."""
        if self._frees:
            self._saved = None
            self._saved_t = None
            self._freed = True
            if _events.OP_LISTENERS:
                _events.emit(_events.SavedFreed(self))


def _modified_message(node: Node, pos: int, now: int, expected: int) -> str:
    is_out = pos == len(node._saved) - 1
    owner = node if is_out else node._saved_t[pos].grad_fn
    return modified_message(node._saved[pos], owner, now, expected)


def modified_message(arr, owner, now: int, expected: int, output_nr: int = 0) -> str:
    """torch's text for a saved tensor that was modified in place before backward."""
    from ._dtypes import legacy_type_name  # noqa: PLC0415
    what = f"[{legacy_type_name(arr)} [{', '.join(str(s) for s in arr.shape)}]]"
    # torch 2.13 names the op that produced the tensor ("Exp"), not its node ("ExpBackward0")
    op_name = re.sub(r"Backward\d*$", "", owner.name()) if owner is not None else ""
    where = f", which is output {output_nr} of {op_name}," if owner is not None else ""
    return (
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: {what}{where} is at version {now}; expected version {expected} instead. "
        + (_HINT_ANOMALY if STATE.anomaly else _HINT))


_HINT = ("Hint: enable anomaly detection to find the operation that failed to compute its "
         "gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).")
_HINT_ANOMALY = ("Hint: the backtrace further above shows the operation that failed to compute "
                 "its gradient. The variable in question was changed in there or anywhere later. "
                 "Good luck!")


class _NodePreHook:
    """Adapts a Node pre-hook ``fn(grad_outputs)`` to the engine's single-gradient hooks."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def __call__(self, g):
        out = self.fn((g,))
        return None if out is None else out[0]


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks: list, fn) -> None:
        self._hooks, self._fn = hooks, fn
        self.id = next(self._ids)

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class AccumulateGrad(Node):
    _frees = False
    """The node behind a leaf that requires grad: adds incoming gradients into ``leaf.grad``.

    The leaf keeps its node alive and the node refers to the leaf weakly: no reference cycle,
    and a graph never keeps a leaf alive on its own (a dead leaf's gradient is unobservable).
    """

    _saved = ()
    _saved_t = ()
    _save_all = ()

    def __init__(self, leaf) -> None:
        self._leaf = weakref.ref(leaf)
        self._next = ()
        self._seq = -next(_SEQ) - 1  # after every op node in the backward order

    @property
    def variable(self):
        return self._leaf()

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def release(self) -> None:
        pass


def accumulate_node(leaf) -> AccumulateGrad:
    """The leaf's AccumulateGrad node, made on first use."""
    node = leaf._acc
    if node is None:
        node = leaf._acc = AccumulateGrad(leaf)
    return node


def op(cls):
    """Class decorator declaring an op: checks it has a VJP and precomputes its save sets."""
    if cls.vjp is Node.vjp:
        raise TypeError(f"op {cls.__name__} declares no vjp")
    cls._save_all = tuple(sorted({i for need in cls.save for i in need}))
    cls._save_inputs = tuple(i for i in cls._save_all if i != OUT)
    cls._save_out = OUT in cls._save_all
    # torch saves a wrapped Python scalar for mul/div: freed after backward like a tensor
    cls._frees = bool(cls._save_all) or getattr(cls, "saves_wrapped_scalar", False)
    if len(cls.save) == 2:
        # what to save, indexed by ra + 2 * rb (which of the two inputs require grad)
        cls._need2 = [None] + [
            (lambda need: (0 in need, 1 in need, OUT in need))(
                set((cls.save[0] if k & 1 else ()) + (cls.save[1] if k & 2 else ())))
            for k in (1, 2, 3)]
    return cls


def _edge(x):
    e = x.grad_fn
    if e is None:
        e = x._acc
        if e is None:
            e = accumulate_node(x)
    return e


def _finish(node, t, inputs, params, reduce, nxt, out):
    """Fill in a new node's bookkeeping (shared by record and its 1/2-input fast paths)."""
    cls = type(node)
    node._next = nxt
    node._seq = next(_SEQ)
    node._epoch = INPLACE_EPOCH[0]
    if params:
        node._params = params
    if reduce is not None:
        node._reduce = reduce
    n = len(inputs)
    if cls._save_all:
        if None in nxt and len(cls.save) == n:
            need = {i for k, e in enumerate(nxt) if e is not None for i in cls.save[k]}
        else:
            need = cls._save_all
        saved = [None] * (n + 1)
        saved_t = [None] * (n + 1)
        ver = None
        for i in need:
            if i == OUT:
                saved[n] = out
                saved_t[n] = t._vc = [0]
            else:
                x = inputs[i]
                saved[i] = x._data
                saved_t[i] = x
                if x._vc is not None:  # only tensors touched in place carry a counter
                    if ver is None:
                        ver = [0] * (n + 1)
                    ver[i] = x._vc[0]
        node._saved = tuple(saved)
        node._saved_t = tuple(saved_t)
        if ver is not None:
            node._ver = tuple(ver)
    else:
        node._saved = _NOTHING[n]
    t.grad_fn = node
    t._rg = True
    if _SLOW[0]:
        _slow_hooks(node, t, inputs)
    return t


_new = object.__new__
Tensor = None  # bound by _tensor.py once the class exists (the modules import each other)


def record(cls, out, inputs: tuple, params: tuple = (), reduce=None):
    """Wrap ``out`` in a Tensor; if any input requires grad (and grad mode is on), attach a
    ``cls`` node to it. ``params`` are non-tensor arguments the VJP needs; ``reduce`` gives,
    per input, the (shape, dtype) its gradient must be summed/cast back to."""
    t = _new(Tensor)
    t._data = out
    if not STATE.enabled:
        if STATE.inference:
            t._inference = True
        return t
    nxt = []
    any_rg = False
    for x in inputs:
        if x._rg:
            any_rg = True
            if x._inference:
                _raise_inference()
            nxt.append(_edge(x))
        else:
            nxt.append(None)
    if not any_rg:
        return t
    return _finish(_new(cls), t, inputs, params, reduce, tuple(nxt), out)


def record1(cls, out, x, params: tuple = ()):
    """``record`` for one input and no dtype/shape reduction: the hot path of unary ops."""
    t = _new(Tensor)
    t._data = out
    if not x._rg or not STATE.enabled:
        if STATE.inference:
            t._inference = True
        return t
    if x._inference:
        _raise_inference()
    node = _new(cls)
    node._next = (x.grad_fn or _edge(x),)
    node._seq = next(_SEQ)
    node._epoch = INPLACE_EPOCH[0]
    if params:
        node._params = params
    if cls._save_all:
        if cls._save_out:
            saved_t_out = t._vc = [0]
            if cls._save_inputs:
                node._saved = (x._data, out)
                node._saved_t = (x, saved_t_out)
            else:
                node._saved = (None, out)
                node._saved_t = (None, saved_t_out)
        else:
            node._saved = (x._data, None)
            node._saved_t = (x, None)
        if x._vc is not None and cls._save_inputs:
            node._ver = (x._vc[0], 0)
    else:
        node._saved = _NOTHING1
    t.grad_fn = node
    t._rg = True
    if _SLOW[0]:
        _slow_hooks(node, t, (x,))
    return t


def record2(cls, out, a, b):
    """``record`` for two same-shape, same-dtype inputs: the hot path of binary ops."""
    t = _new(Tensor)
    t._data = out
    ra, rb = a._rg, b._rg
    if not (ra or rb) or not STATE.enabled:
        if STATE.inference:
            t._inference = True
        return t
    if a._inference or b._inference:
        _raise_inference()
    node = _new(cls)
    node._next = ((a.grad_fn or _edge(a)) if ra else None, (b.grad_fn or _edge(b)) if rb else None)
    node._seq = next(_SEQ)
    node._epoch = INPLACE_EPOCH[0]
    if cls._save_all:
        sa, sb, so = cls._need2[ra + 2 * rb]
        if so:
            return _finish(node, t, (a, b), (), None, node._next, out)
        node._saved = (a._data if sa else None, b._data if sb else None, None)
        node._saved_t = (a if sa else None, b if sb else None, None)
        if (sa and a._vc is not None) or (sb and b._vc is not None):
            node._ver = (a._vc[0] if sa and a._vc is not None else 0,
                         b._vc[0] if sb and b._vc is not None else 0, 0)
    else:
        node._saved = _NOTHING2
    t.grad_fn = node
    t._rg = True
    if _SLOW[0]:
        _slow_hooks(node, t, (a, b))
    return t


def _hooks_of_op(node, t, inputs: tuple) -> None:
    """What a recorded op owes anomaly mode, the recorders' tapes and the per-op listeners."""
    if STATE.anomaly:
        from .autograd.anomaly_mode import remember_forward  # noqa: PLC0415
        remember_forward(node)
    if _events.TAPES:
        _events.tape_op(node, t, None, 4)
    if _events.OP_LISTENERS:
        _events.emit(_events.OpRecorded(node, weakref.ref(t),
                                        tuple(weakref.ref(x) for x in inputs)))


# Called by the recording functions for every op while _SLOW[0]: the general function, or,
# while only recorders listen (the %%autograd case), the tape itself, sparing a call per op.
_slow_hooks = _hooks_of_op

# True while anomaly mode, a recorder or a per-op listener is active: the fast paths check
# one flag.
_SLOW = [False]


def refresh_slow_flag() -> None:
    global _slow_hooks
    _SLOW[0] = bool(_events.OP_LISTENERS) or bool(_events.TAPES) or any_anomaly()
    only_tapes = bool(_events.TAPES) and not _events.OP_LISTENERS and not any_anomaly()
    _slow_hooks = _events.tape_op if only_tapes else _hooks_of_op


def any_anomaly() -> bool:
    return STATE.anomaly


_NOTHING = [(None,) * (n + 1) for n in range(64)]
_NOTHING1, _NOTHING2 = _NOTHING[1], _NOTHING[2]


def _raise_inference() -> None:
    raise RuntimeError(
        "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
        "inference mode in computation tracked by autograd. To work around this, you can make a "
        "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
        "`torch.inference_mode()`."
    )
