#!/usr/bin/env python
"""GPU benchmarks: nbautograd on CuPy against PyTorch CUDA, in one process.

    python benchmarks/gpu.py                 # both workloads, ~1 min
    python benchmarks/gpu.py --quick         # fewer samples
    python benchmarks/gpu.py --json out.json --md table.md

The two measurements issue 8 asks for, each written once as torch-style code and run on
both engines with ``set_default_device("cuda")``:

* ``G1`` 1M-element elementwise: ``f = (sin(x)*exp(y) + x**2).sum()`` on float32[1e6],
  forward + backward (W3 of ``run.py``, on the GPU);
* ``G2`` MLP step at batch 1024: 784-256-10, tanh, ``log_softmax`` cross-entropy (one-hot,
  mean), forward, backward, SGD ``p -= 0.05 * p.grad`` under ``no_grad``, grads set to None
  (W4 of ``run.py`` with batch 1024, on the GPU).

Method: each engine is built, called once (results compared between the engines, rtol 1e-3),
warmed up, then timed in rounds that alternate the engines; a sample is ``k`` iterations
followed by the engine's ``cuda.synchronize()`` (GPU work is asynchronous: without it the
time would be the launch time). Reported: median and min per iteration, and the ratio of
medians nbautograd / torch. Targets: at most 1.5x PyTorch CUDA's time on both.

Without a GPU (CuPy missing, or no device visible) the script says so and exits with status
0 without timing anything; without PyTorch CUDA it times nbautograd alone.
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [p for p in (HERE, ROOT) if p not in sys.path]

import numpy as np  # noqa: E402

import workloads  # noqa: E402

TARGET = 1.5  # nbautograd's time at most 1.5x PyTorch CUDA's


class Elementwise1M(workloads.LargeElementwise):
    id = family = "G1"
    title = "1M-element elementwise: float32[1e6], f = sum(sin(x)*exp(y) + x**2), fwd+bwd"


class MLPStep1024(workloads.MLPStep):
    id = family = "G2"
    title = ("MLP step: batch 1024, 784-256-10, tanh, log_softmax cross-entropy (mean), "
             "fwd+bwd+SGD (lr 0.05)")
    batch = 1024

    def data(self, rng):
        B, I, H, O = self.batch, 784, 256, 10
        return {
            "X": rng.normal(size=(B, I)).astype(np.float32),
            "Y": np.eye(O, dtype=np.float32)[rng.integers(0, O, B)],
            "params": [
                (rng.uniform(-1, 1, (I, H)) / np.sqrt(I)).astype(np.float32),
                rng.uniform(-0.1, 0.1, H).astype(np.float32),
                (rng.uniform(-1, 1, (H, O)) / np.sqrt(H)).astype(np.float32),
                rng.uniform(-0.1, 0.1, O).astype(np.float32),
            ],
        }


def host(v):
    """A NumPy copy of a (GPU) tensor of either engine, or of a list of them."""
    if isinstance(v, (list, tuple)):
        return [host(x) for x in v]
    return np.array(v.detach().cpu().numpy(), copy=True)


def why_no_gpu():
    """None when nbautograd can make CUDA tensors, else the reason."""
    import nbautograd  # noqa: PLC0415
    if nbautograd.cuda.is_available():
        return None
    try:
        nbautograd.zeros(1, device="cuda")
    except AssertionError as e:
        return str(e)
    return "nbautograd.cuda.is_available() is False"


def engines():
    import nbautograd  # noqa: PLC0415
    out = {"nbautograd": nbautograd}
    try:
        import torch  # noqa: PLC0415
        if torch.cuda.is_available():
            out["torch"] = torch
        else:
            print("note: the installed PyTorch has no CUDA; timing nbautograd alone",
                  file=sys.stderr)
    except ImportError:
        print("note: PyTorch is not installed; timing nbautograd alone", file=sys.stderr)
    return out


def build(T, w, d):
    T.set_default_device("cuda")
    try:
        return w.tape(T, d)
    finally:
        T.set_default_device(None)


def compare(w, results):
    """The first result of each engine, as NumPy, against torch's."""
    if "torch" not in results:
        return "unchecked"
    worst = 0.0
    for name, res in results.items():
        if name == "torch":
            continue
        for a, b in zip(_flat(res), _flat(results["torch"])):
            scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
            err = float(np.max(np.abs(a.astype(np.float64) - b))) / scale if b.size else 0.0
            worst = max(worst, err)
    return f"ok {worst:.0e}" if worst <= 1e-3 else f"FAIL {worst:.1e}"


def _flat(res):
    out = []
    for v in res if isinstance(res, (list, tuple)) else [res]:
        if isinstance(v, (list, tuple)):
            out.extend(_flat(v))
        else:
            out.append(host(v))
    return out


def time_case(w, mods, rounds, sample_s):
    rng = np.random.default_rng(w.seed)
    d = w.data(rng)
    runs, first = {}, {}
    for name, T in mods.items():
        runs[name] = build(T, w, d)
        first[name] = runs[name]()
        T.cuda.synchronize()
    check = compare(w, first)
    calls = {}
    for name, run in runs.items():
        T = mods[name]
        t0 = time.perf_counter()
        n = 0
        while time.perf_counter() - t0 < 0.3:  # warm up (kernel compilation, memory pools)
            run()
            n += 1
        T.cuda.synchronize()
        per = (time.perf_counter() - t0) / n
        calls[name] = max(1, int(sample_s / per))
    samples = {name: [] for name in runs}
    order = list(runs)
    for r in range(rounds):
        for name in order[r % len(order):] + order[:r % len(order)]:
            run, T, k = runs[name], mods[name], calls[name]
            T.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(k):
                run()
            T.cuda.synchronize()
            samples[name].append((time.perf_counter() - t0) / k)
    return check, {name: {"median_s": statistics.median(s), "min_s": min(s), "calls": calls[name],
                          "samples_s": s} for name, s in samples.items()}


def fmt(s):
    return f"{s * 1e6:.0f} µs" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--md")
    args = ap.parse_args(argv)
    why = why_no_gpu()
    if why is not None:
        print(f"skipped: no GPU for nbautograd -- {why}")
        return 0
    mods = engines()
    import nbautograd  # noqa: PLC0415
    rounds, sample_s = (5, 0.1) if args.quick else (15, 0.25)
    lines = ["| workload | engine | median | min | vs torch | check |", "|---|---|---|---|---|---|"]
    report = {"device": nbautograd.cuda.get_device_name(0), "cases": {}}
    targets = []
    for w in (Elementwise1M(), MLPStep1024()):
        print(f"{w.id}: {w.title}", file=sys.stderr)
        check, res = time_case(w, mods, rounds, sample_s)
        report["cases"][w.id] = {"title": w.title, "check": check, "results": res}
        base = res.get("torch", {}).get("median_s")
        for name, r in res.items():
            ratio = f"{r['median_s'] / base:.2f}x" if base else "-"
            lines.append(f"| {w.id} | {name} | {fmt(r['median_s'])} | {fmt(r['min_s'])} | "
                         f"{ratio} | {check} |")
        if base:
            ratio = res["nbautograd"]["median_s"] / base
            targets.append(f"| {w.id} time <= {TARGET}x torch CUDA | {ratio:.2f}x | "
                           f"{'met' if ratio <= TARGET else 'missed'} |")
    table = "\n".join(lines)
    if targets:
        table += ("\n\n| target (nbautograd) | ratio | status |\n|---|---|---|\n"
                  + "\n".join(targets))
    versions = f"nbautograd {nbautograd.__version__}"
    import cupy  # noqa: PLC0415
    versions += f", CuPy {getattr(cupy, '__version__', '?')}"
    if "torch" in mods:
        versions += f", torch {mods['torch'].__version__}"
    table += f"\n\n{report['device']}; {versions}; {'quick' if args.quick else 'full'} run."
    print(table)
    if args.md:
        with open(args.md, "w") as f:
            f.write(table + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 1 if any("FAIL" in c["check"] for c in report["cases"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
