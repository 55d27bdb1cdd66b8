#!/usr/bin/env python
"""Time the graph views: how long a drawing takes, end to end, after a warm-up.

    python benchmarks/viz_bench.py            # prints the measured times and the targets
    python benchmarks/viz_bench.py --repeat 50

Two cases, each timed as ``draw(...).svg()`` (walk -> snapshot -> fold -> DOT -> SVG with
the embedded WebAssembly Graphviz), after one warm-up call that pays for loading the
renderer:

* ``graph-100``: a 20-step tanh recurrence with its own weight and bias per step, 102
  boxes, nothing folded (target: at most 100 ms);
* ``recording-1000``: a recording of 500 multiply-add steps (1,000 ops) and their backward,
  drawn from the recording alone, folded to a handful of boxes (target: at most 1 s).

Reported per case: median, min and max over the repeats, and the share of each stage for
the median call. This prints measurements; it is not a timed unit test. Exit status 1 if a
median misses its target.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # the in-repo nbautograd

import nbautograd as torch  # noqa: E402
from nbautograd import viz  # noqa: E402
from nbautograd.viz._fold import drawn_count  # noqa: E402


def graph_100():
    """A 20-step recurrence with per-step parameters: 102 boxes, no repeats to fold."""
    torch.manual_seed(0)
    x = torch.randn(4, requires_grad=True)
    names = {"x": x}
    h = x
    for i in range(20):
        w = torch.randn(4, requires_grad=True)
        b = torch.randn(4, requires_grad=True)
        names[f"w{i}"], names[f"b{i}"] = w, b
        h = torch.tanh(h * w + b)
    loss = h.sum()
    names["loss"] = loss
    return (loss,), dict(names=names)


def recording_1000():
    """1,000 recorded ops (and their backward), drawn from the recording alone."""
    w = torch.tensor(0.5, requires_grad=True)
    b = torch.tensor(0.1, requires_grad=True)
    with viz.record() as rec:
        h = torch.tensor(1.0, requires_grad=True)
        for _ in range(500):
            h = h * w + b
        h.backward()
    return (rec,), dict(names={"w": w, "b": b})


CASES = [("graph-100", graph_100, 0.100), ("recording-1000", recording_1000, 1.0)]


def time_case(make, repeat: int):
    args, kwargs = make()
    view = viz.draw(*args, **kwargs)
    view.svg()                                      # warm-up: loads the WebAssembly Graphviz
    samples, stages = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        view = viz.draw(*args, **kwargs)            # walk, snapshot, fold
        t1 = time.perf_counter()
        dot = view.dot                              # DOT source
        t2 = time.perf_counter()
        view.svg()                                  # layout and SVG
        t3 = time.perf_counter()
        samples.append(t3 - t0)
        stages.append((t1 - t0, t2 - t1, t3 - t2))
    med = statistics.median(samples)
    stage = stages[samples.index(sorted(samples)[len(samples) // 2])]
    return dict(median=med, min=min(samples), max=max(samples), stages=stage,
                boxes=drawn_count(view.snapshot), nodes=len(view.snapshot.nodes),
                folds=len(view.snapshot.folds), renderer=view.rendered_with,
                dot_chars=len(dot))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=20, help="timed calls per case")
    opts = ap.parse_args(argv)
    print(f"viz benchmark: python {sys.version.split()[0]}, {opts.repeat} calls per case, "
          "times in ms")
    print(f"{'case':<16}{'boxes':>6}{'median':>9}{'min':>8}{'max':>8}  "
          f"{'draw':>6}{'dot':>6}{'svg':>6}  target   renderer")
    ok = True
    for name, make, target in CASES:
        r = time_case(make, opts.repeat)
        hit = r["median"] <= target
        ok &= hit
        d, o, s = (1000 * x for x in r["stages"])
        print(f"{name:<16}{r['boxes']:>6}{1000 * r['median']:>9.1f}{1000 * r['min']:>8.1f}"
              f"{1000 * r['max']:>8.1f}  {d:>6.1f}{o:>6.1f}{s:>6.1f}  "
              f"<= {1000 * target:.0f} {'ok' if hit else 'MISSED'}  {r['renderer']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
