"""``draw`` and ``GraphView``: the graph as a notebook display object.

A GraphView holds a plain-data snapshot and the drawing options, nothing live: keeping it in
``Out[n]`` keeps no tensor or saved array alive. DOT, SVG and text are made from the snapshot
on demand (SVG once, then cached).

>>> import nbautograd as torch
>>> from nbautograd import viz
>>> x = torch.tensor(2., requires_grad=True)
>>> y = x * x
>>> view = viz.draw(y, names=locals())
>>> view
GraphView(roots=['y'], backward_nodes=2, tensors=2, edges=2)
>>> print(view.text())
graph: 2 backward nodes, 2 tensors
x = leaf  () float32  data=2
y = MulBackward0(x, x)  () float32  data=4  saved: self, other  [output]
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from ._dot import to_dot
from ._fold import focus as _focus, shrink
from ._model import GraphSnapshot
from ._render import render_file_format, render_svg
from ._text import to_text


class GraphView:
    """A drawn graph: ``.dot``, ``.svg()``, ``.text()``, ``.save(path)``, and rich display.

    >>> from nbautograd.viz import GraphView
    >>> from nbautograd.viz._model import GraphSnapshot
    >>> GraphView(GraphSnapshot()).text()
    'graph: 0 backward nodes, 0 tensors'
    """

    def __init__(self, snapshot: GraphSnapshot, *, show_values: bool = True,
                 show_grads: bool = True, show_saved: bool = False, rankdir: str = "BT",
                 renderer: str | None = None) -> None:
        if rankdir not in ("BT", "TB", "LR", "RL"):
            raise ValueError(f"rankdir must be one of BT, TB, LR, RL, not {rankdir!r}")
        self.snapshot = snapshot
        self.options = dict(show_values=show_values, show_grads=show_grads,
                            show_saved=show_saved)
        self.rankdir = rankdir
        self.renderer = renderer
        self._dot: str | None = None
        self._svg: str | None = None
        self.rendered_with: str | None = None   # which renderer made .svg() ("wasm", ...)

    @property
    def dot(self) -> str:
        """The DOT source (made with the ``graphviz`` package)."""
        if self._dot is None:
            self._dot = to_dot(self.snapshot, rankdir=self.rankdir, **self.options)
        return self._dot

    def text(self) -> str:
        """A deterministic text listing of the graph, one line per node in tape order."""
        return to_text(self.snapshot, **self.options)

    def svg(self) -> str:
        """The SVG image (embedded WebAssembly Graphviz, else system dot, else text)."""
        if self._svg is None:
            self._svg, self.rendered_with = render_svg(self.dot, self.text(), self.renderer)
        return self._svg

    def save(self, path: str | os.PathLike) -> Path:
        """Write the graph to ``path``; the suffix picks the format: ``.svg``, ``.dot``/
        ``.gv``, ``.txt``, or ``.png``/``.pdf`` (these need a system Graphviz)."""
        path = Path(path)
        fmt = path.suffix.lower().lstrip(".")
        if fmt == "svg":
            path.write_text(self.svg(), encoding="utf-8")
        elif fmt in ("dot", "gv"):
            path.write_text(self.dot, encoding="utf-8")
        elif fmt == "txt":
            path.write_text(self.text() + "\n", encoding="utf-8")
        elif fmt in ("png", "pdf"):
            path.write_bytes(render_file_format(self.dot, fmt, self.renderer))
        else:
            raise ValueError(f"unknown format {path.suffix!r}: use .svg, .png, .pdf, .dot, "
                             ".gv or .txt")
        return path

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = {"image/svg+xml": self.svg, "text/plain": self.__repr__}
        keys = set(include) if include is not None else set(bundle)
        keys -= set(exclude or ())
        return {k: fn() for k, fn in bundle.items() if k in keys}

    def __repr__(self) -> str:
        s = self.snapshot
        labels = {t.id: t.label for t in s.tensors}
        parts = [f"roots={[labels.get(r, r) for r in s.roots]}",
                 f"backward_nodes={len(s.nodes) + sum(len(f.members) for f in s.folds)}",
                 f"tensors={len(s.tensors)}", f"edges={len(s.edges)}"]
        if s.folds:
            parts.append(f"folded={len(s.folds)}")
        if s.error:
            parts.append("error=True")
        return f"GraphView({', '.join(parts)})"


def draw(*roots: Any, names: Mapping[str, Any] | None = None, show_values: bool = True,
         show_grads: bool = True, show_saved: bool = False, rankdir: str = "BT",
         max_nodes: int | None = 200, focus: Any = None, recording: Any = None,
         error: BaseException | str | None = None, renderer: str | None = None,
         node_labels: Mapping[int, str] | None = None) -> GraphView:
    """Draw the graph behind ``roots`` (nbautograd or torch tensors, or a recording).

    ``names=locals()`` labels tensors with their variable names; ``node_labels``
    (``{id(grad_fn): text}``) labels unnamed intermediates, e.g. by their source expression;
    ``recording`` (``viz.record()`` or ``nbautograd.recording.record()``) supplies the
    gradients that flowed and any error; ``error`` marks the
    node a failed backward stopped at; ``focus`` (a tensor or a name) keeps only the paths
    from it to the roots; beyond ``max_nodes`` boxes, repeated chains are folded.

    >>> import nbautograd as torch
    >>> from nbautograd import viz
    >>> w = torch.tensor([1., 2.], requires_grad=True)
    >>> loss = (w * w).sum()
    >>> loss.backward(retain_graph=True)
    >>> print(viz.draw(loss, names={"w": w, "loss": loss}).text())
    graph: 3 backward nodes, 3 tensors (gradients recomputed)
    w = leaf  (2,) float32  data=[1, 2]  grad=[2, 4]
    mul = MulBackward0(w, w)  (2,)  saved: self, other
        grads: w ← [1, 2], w ← [1, 2]
    loss = SumBackward0(mul)  () float32  data=5  [output]
        grads: mul ← [1, 1]
    """
    from ._snapshot import adapter_for, snapshot  # noqa: PLC0415
    tensors, recs, recording = _sources(roots, recording)
    adapter = adapter_for(tensors[0]) if tensors else None
    if tensors and any(adapter_for(t) is not adapter for t in tensors):
        raise TypeError("draw() cannot mix nbautograd and torch tensors in one graph")
    kwargs = _annotations(recs, recording, bool(tensors))
    if error is not None:
        kwargs.pop("failed_node", None)
        kwargs["error"] = error
    if show_grads and not recs and adapter is not None and adapter.source == "nbautograd":
        from ._recompute import recompute  # noqa: PLC0415
        got = recompute(tensors)
        if got is not None:
            kwargs.update(edge_grads=got[0], grad_out=got[1], grads="recomputed")
    ids: dict = {}
    extra = [focus] if focus is not None and not isinstance(focus, str) else []
    snap = snapshot(tensors, names, adapter=adapter, extra_tensors=extra, tensor_ids=ids,
                    node_labels=node_labels, **kwargs)
    if focus is not None:
        snap = _focus(snap, _focus_id(snap, focus, ids))
    snap = shrink(snap, max_nodes, show_saved)
    return GraphView(snap, show_values=show_values, show_grads=show_grads,
                     show_saved=show_saved, rankdir=rankdir, renderer=renderer)


def _sources(roots: tuple, recording: Any) -> tuple[list, list, Any]:
    """Split ``draw``'s arguments into tensors and recordings (Recordings, or lists of raw
    engine events)."""
    from ..recording import Recording  # noqa: PLC0415
    from ._recording import RecordingSource  # noqa: PLC0415

    def as_recording(obj):
        if isinstance(obj, RecordingSource):
            return obj
        if isinstance(obj, Recording):
            return RecordingSource(obj)
        if isinstance(obj, (list, tuple)) and obj and not _is_tensor(obj[0]):
            return RecordingSource(Recording.from_events(obj))
        return None

    tensors, recs = [], []
    for r in roots:
        rec = as_recording(r)
        if rec is not None:
            recs.append(rec)
        elif isinstance(r, (list, tuple)):
            tensors.extend(r)
        else:
            tensors.append(r)
    if recording is not None:
        recording = as_recording(recording)
        if recording is None:
            raise TypeError("recording= expects a Recording (viz.record() or "
                            "nbautograd.recording.record())")
        recs.append(recording)
    if not tensors and not recs:
        raise TypeError("draw() needs at least one tensor or Recording")
    return tensors, recs, recording


def _annotations(recs: list, recording: Any, have_tensors: bool) -> dict:
    """Keyword arguments for the snapshot from the recordings: gradients that flowed, outputs,
    what freed nodes had saved, the error, and which nodes to walk from."""
    kwargs: dict = {}
    start_nodes: list = []
    for rec in recs:
        ann = rec.annotations()
        for key in ("edge_grads", "grad_out", "outputs", "recorded_saved"):
            kwargs.setdefault(key, {}).update(ann[key])
        if ann["grads"] == "recorded":
            kwargs["grads"] = "recorded"
        if "error" in ann:
            kwargs["error"], kwargs["failed_node"] = ann["error"], ann["failed_node"]
        # recording= only annotates the tensors' graph; a recording given as a root is drawn
        if not have_tensors or rec is not recording:
            start_nodes.extend(rec.graph_nodes())
    kwargs["start_nodes"] = start_nodes
    if recs and not have_tensors:
        # the recording's tips (ops nothing recorded consumed) are its outputs
        kwargs["root_nodes"] = [n for r in recs for n in r.tips()]
        kwargs["source"] = "recording"
    return kwargs


def _is_tensor(obj) -> bool:
    from ._naming import is_tensor  # noqa: PLC0415
    return is_tensor(obj)


def _focus_id(snap: GraphSnapshot, target: Any, ids: dict) -> str:
    """The snapshot id of ``target``: a variable name, or a tensor (by identity)."""
    if isinstance(target, str):
        t = snap.find(target)
        if t is None:
            raise ValueError(f"focus={target!r}: no tensor with that name in the graph")
        return t.id
    tid = ids.get(id(target))
    if tid is None:
        raise ValueError("focus: that tensor is not part of the drawn graph")
    return tid
