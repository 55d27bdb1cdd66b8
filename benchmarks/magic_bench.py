"""Cost of %%autograd: recording overhead on a 1,000-op cell, and the time to build and render
the report of a 100-node graph. Ratios within one run; prints a small Markdown table.

    python benchmarks/magic_bench.py

Targets (issue 5): recording at most 1.3x the same cell without the magic; the report of a
100-node graph displayed (built and rendered to HTML) in at most 200 ms.
"""
from __future__ import annotations

import os
import statistics
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import nbautograd as torch  # noqa: E402
from nbautograd.notebook import build_report  # noqa: E402
from nbautograd.recording import record  # noqa: E402


def cell(x, n_ops: int):
    """A 1,000-op cell: a chain of elementwise ops on a small vector, then backward."""
    h = x
    for _ in range(n_ops // 4):
        h = torch.sin(h * 1.01) + h * 0.5
    h.sum().backward()
    return h


def median_time(fn, repeats: int = 15) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def recorded(fn):
    def run():
        with record() as rec:
            fn()
        return rec
    return run


def main() -> None:
    x = torch.linspace(-1, 1, 16, requires_grad=True)
    plain = median_time(lambda: cell(x, 1000))
    rec_time = median_time(recorded(lambda: cell(x, 1000)))
    # a 100-node graph: 25 chain steps of 4 ops, recorded as the magic records it
    x2 = torch.linspace(-1, 1, 8, requires_grad=True)
    state = {}

    def small():
        with record() as rec:
            y = cell(x2, 100)
        state.update(rec=rec, y=y)
    small()

    def report():
        r = build_report(state["rec"], {"x": x2, "y": state["y"]})
        return r.html()
    report_time = median_time(report, repeats=7)

    # what a user waits for: the 1,000-op cell recorded, then its report built and rendered
    # (the recording summarises only what the report shows, so this is where the rest goes)
    def end_to_end():
        with record() as rec:
            y = cell(x, 1000)
        html = build_report(rec, {"x": x, "y": y}).html()
        rec.release()
        return html
    e2e_time = median_time(end_to_end, repeats=7)
    rows = [("1,000-op cell, plain", plain, ""),
            ("1,000-op cell, recorded (%%autograd)", rec_time,
             f"{rec_time / plain:.2f}x plain (target <= 1.3x)"),
            ("report of a 100-node graph, built and rendered", report_time,
             f"{report_time * 1e3:.0f} ms (target <= 200 ms)"),
            ("1,000-op cell recorded, its report built and rendered", e2e_time,
             f"{e2e_time / plain:.1f}x plain")]
    print("| case | median | note |\n|---|---:|---|")
    for name, t, note in rows:
        print(f"| {name} | {t * 1e3:.1f} ms | {note} |")


if __name__ == "__main__":
    main()
