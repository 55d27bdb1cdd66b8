#!/usr/bin/env python
"""Benchmark nbautograd against hand-written NumPy and PyTorch, in one process.

    python benchmarks/run.py                      # full run, at most ~3 min on 2 cores
    python benchmarks/run.py --quick              # smoke run, well under a minute
    python benchmarks/run.py --engines numpy,torch --workloads W1,W5
    python benchmarks/run.py --md benchmarks/README-table.md --json out.json

Engines: ``numpy`` (hand-written forward+backward, ``numpy_reference.py``),
``torch`` (PyTorch eager) and ``nbautograd`` (the same torch-style code as
torch, see ``workloads.py``).  An engine that cannot be imported is skipped
with a note.

Method: every BLAS/OpenMP/torch pool is pinned to one thread before NumPy or
torch is imported.  For each workload every engine is built, called once (that
result is checked against the NumPy reference in float64), warmed up and
calibrated to a number of calls per sample; then samples are taken in rounds,
one per engine, the engine order rotating every round.  Reported per call:
median, min, max; the time per op/row/... where it applies; and the ratio of
medians to ``numpy`` and to ``torch`` from the same run.  A "targets" section
rates nbautograd against its goals.  Exit status 1 on any wrong result or crash.
"""

import os
import sys

# One thread everywhere, set before NumPy / torch load their pools: 2-thread
# pools are pathological on the 2-core machines this runs on.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
for _var in THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [p for p in (HERE, ROOT) if p not in sys.path]  # workloads; in-repo nbautograd

import numpy as np  # noqa: E402

import workloads  # noqa: E402

ENGINES = ("numpy", "torch", "nbautograd")
MODES = {
    # rounds: samples per case (fewer, but >= min_rounds, if a case would take
    # longer than case_cap_s); sample_s: target seconds per sample;
    # warm_s: warm-up seconds after the first (checked) call.
    "full": dict(rounds=21, min_rounds=3, sample_s=0.12, warm_s=0.3, case_cap_s=4.0),
    "quick": dict(rounds=7, min_rounds=3, sample_s=0.08, warm_s=0.1, case_cap_s=1.5),
}
# (workload, what, baseline engine, bound): nbautograd's goals, as ratios of medians
TARGETS = (
    ("W1", "per-op time", "torch", 0.5),
    ("W2", "per-op time", "torch", 0.5),
    ("W3", "time", "numpy", 1.3),
    ("W4", "time", "numpy", 1.15),
    ("W5 n=512 vectorized", "time", "numpy", 10.0),
    ("W6", "per-derivative time", "torch", 0.5),
    ("W7", "per-backward time", "torch", 0.5),
)
TARGET_ENGINE = "nbautograd"

perf_counter = time.perf_counter


def log(*parts):
    """Progress goes to stderr; the results go to stdout."""
    print(*parts, file=sys.stderr, flush=True)


def loud(msg):
    """A message that cannot be missed."""
    bar = "!" * 78
    log(f"\n{bar}\n!!! {msg}\n{bar}")


# -------------------------------------------------------------------- engines
class Engine:
    """An engine: ``module`` is None for numpy, else torch or nbautograd."""

    def __init__(self, name, module, version):
        self.name, self.module, self.version = name, module, version


def load_engines(names):
    """Import the requested engines; returns (engines, {name: why skipped})."""
    found, skipped = [], {}
    for name in names:
        if name == "numpy":
            found.append(Engine("numpy", None, np.__version__))
            continue
        try:
            mod = importlib.import_module(name)
        except Exception as e:
            skipped[name] = f"import {name} failed: {type(e).__name__}: {e}"
            continue
        if not hasattr(mod, "tensor"):
            skipped[name] = f"{name} imports but has no tensor() yet ({getattr(mod, '__path__', '')})"
            continue
        if name == "torch":
            mod.set_num_threads(1)
            try:
                mod.set_num_interop_threads(1)
            except RuntimeError:  # pool already started
                pass
        found.append(Engine(name, mod, str(getattr(mod, "__version__", "?"))))
    for name, why in skipped.items():
        log(f"NOTE: engine {name} skipped: {why}")
    return found, skipped


def as_dtype(d, dtype):
    """A deep copy of the workload data with floating arrays cast to dtype."""
    if isinstance(d, dict):
        return {k: as_dtype(v, dtype) for k, v in d.items()}
    if isinstance(d, list):
        return [as_dtype(v, dtype) for v in d]
    a = np.asarray(d)
    return np.array(a, dtype=dtype if a.dtype.kind == "f" else a.dtype, copy=True)


# ---------------------------------------------------------------- correctness
def compare(out, ref, tol):
    """max|out - ref| / max|ref| per reference array; passed iff all <= tol."""
    errs, problems, dtypes = {}, [], set()
    for key, r in ref.items():
        if key not in out:
            problems.append(f"{key}: missing")
            continue
        a = np.asarray(out[key])
        dtypes.add(str(a.dtype))
        r = np.asarray(r, dtype=np.float64)
        if a.shape != r.shape:
            problems.append(f"{key}: shape {a.shape} != {r.shape}")
            continue
        scale = max(float(np.max(np.abs(r))), 1e-30)
        err = float(np.max(np.abs(a.astype(np.float64) - r))) / scale
        if not np.isfinite(err):
            err = float("inf")
        errs[key] = err
        if err > tol:
            problems.append(f"{key}: rel err {err:.3g} > {tol:g}")
    return {"passed": not problems, "max_rel_err": max(errs.values(), default=float("inf")),
            "tol": tol, "errors": errs, "problems": problems, "dtypes": sorted(dtypes)}


# ------------------------------------------------------------------ measuring
class Case:
    """One (workload, engine) pair: its status, check and timing samples."""

    def __init__(self, wl, engine):
        self.wl, self.engine = wl, engine
        self.status, self.reason, self.check = "ERROR", "", None
        self.run, self.number, self.rounds = None, 1, 0
        self.first_call_s = None
        self.samples = []


def prepare(case, data, reference, cfg):
    """Build, run once and check, warm up, calibrate calls per sample."""
    wl, E = case.wl, case.engine
    try:
        if E.module is None:
            run = wl.numpy(as_dtype(data, np.float32))
        else:
            run = wl.tape(E.module, data)
        t0 = perf_counter()
        result = run()
        case.first_call_s = perf_counter() - t0
        case.check = compare(wl.extract(result), reference, wl.tol)
        del result
        n, t0 = 0, perf_counter()
        while n < 1 or perf_counter() - t0 < cfg["warm_s"]:
            run()
            n += 1
        per_call = (perf_counter() - t0) / n
    except NotImplementedError as e:
        case.status, case.reason = "n/a", f"NotImplementedError: {e}"
        log(f"NOTE: {wl.id} {E.name}: n/a ({case.reason})")
        return
    except Exception as e:
        case.status, case.reason = "ERROR", f"{type(e).__name__}: {e}"
        loud(f"ERROR  {wl.id}  engine={E.name}: {case.reason}\n{traceback.format_exc()}")
        return
    case.number = max(1, round(cfg["sample_s"] / per_call))
    fit = int(cfg["case_cap_s"] / (per_call * case.number))
    case.rounds = max(cfg["min_rounds"], min(cfg["rounds"], fit))
    case.run = run
    if case.check["passed"]:
        case.status = "ok"
    else:
        case.status = "FAIL"
        loud(f"CORRECTNESS FAILURE  {wl.id}  engine={E.name}: " + "; ".join(case.check["problems"]))


def measure(wl, engines, cfg):
    """All engines on one workload: prepare each, then interleaved rounds."""
    data = wl.data(np.random.default_rng(wl.seed))
    reference = wl.extract(wl.numpy(as_dtype(data, np.float64))())
    cases = [Case(wl, E) for E in engines]
    for c in cases:
        prepare(c, data, reference, cfg)
    active = [c for c in cases if c.run is not None]
    for rnd in range(max((c.rounds for c in active), default=0)):
        gc.collect()
        k = rnd % len(active)
        for c in active[k:] + active[:k]:  # the order rotates every round
            if c.run is None or rnd >= c.rounds:
                continue
            run, number = c.run, c.number
            try:
                t0 = perf_counter()
                for _ in range(number):
                    run()
                t1 = perf_counter()
            except Exception as e:
                c.status, c.reason, c.run = "ERROR", f"{type(e).__name__}: {e}", None
                loud(f"ERROR while timing {wl.id} engine={c.engine.name}: {c.reason}")
                continue
            c.samples.append((t1 - t0) / number)
    for c in cases:
        c.run = None  # free the graphs and arrays the closures hold
    gc.collect()
    return cases


# ------------------------------------------------------------------ reporting
def fmt_t(s):
    """Seconds as '12.3 µs'."""
    if s is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if s >= scale:
            break
    v = s / scale
    return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"


def fmt_r(r):
    """A ratio with three significant digits."""
    if r is None:
        return "-"
    return f"{r:.3g}" if r < 100 else f"{r:.0f}"


def summarize(cases):
    """One result dict per case, with statistics and ratios of medians."""
    medians = {(c.wl.id, c.engine.name): statistics.median(c.samples)
               for c in cases if c.samples and c.status == "ok"}
    rows = []
    for c in cases:
        wl = c.wl
        row = {"workload": wl.id, "family": wl.family, "engine": c.engine.name,
               "status": c.status, "reason": c.reason, "check": c.check,
               "calls_per_sample": c.number, "first_call_s": c.first_call_s,
               "samples_s": c.samples}
        if c.samples:
            med = statistics.median(c.samples)
            row.update(median_s=med, min_s=min(c.samples), max_s=max(c.samples))
            if wl.per:
                row["per_unit"] = wl.per[1]
                row["per_unit_s"] = med / wl.per[0]
            for base in ("numpy", "torch"):
                b = medians.get((wl.id, base))
                row["x_" + base] = med / b if b else None
        rows.append(row)
    return rows


def check_cell(r):
    """'ok 3e-06', '**FAIL** 2e-01', or the status; flags non-float32 results."""
    chk = r["check"]
    if chk is None:
        return r["status"]
    cell = ("ok" if chk["passed"] else "**FAIL**") + f" {chk['max_rel_err']:.0e}"
    odd = [t for t in chk["dtypes"] if t != "float32"]
    return cell + (f" ({'/'.join(odd)}!)" if odd else "")


def results_table(rows):
    """The Markdown results table."""
    out = ["| workload | engine | median | min | max | per unit | × numpy | × torch | check |",
           "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if "median_s" not in r:
            why = r["reason"].splitlines()[0] if r["reason"] else ""
            out.append(f"| {r['workload']} | {r['engine']} | - | - | - | - | - | - | "
                       f"{r['status']}: {why} |")
            continue
        per = fmt_t(r["per_unit_s"]) + "/" + r["per_unit"] if "per_unit_s" in r else ""
        out.append(f"| {r['workload']} | {r['engine']} | {fmt_t(r['median_s'])} | "
                   f"{fmt_t(r['min_s'])} | {fmt_t(r['max_s'])} | {per} | "
                   f"{fmt_r(r['x_numpy'])} | {fmt_r(r['x_torch'])} | {check_cell(r)} |")
    return "\n".join(out)


def evaluate_targets(rows, skipped):
    """nbautograd's goals, rated on this run's ratios of medians."""
    out = []
    for wid, what, base, bound in TARGETS:
        goal = f"{wid} {what} ≤ {bound:g}× {base}"
        r = next((r for r in rows if r["workload"] == wid and r["engine"] == TARGET_ENGINE), None)
        ratio = r.get("x_" + base) if r else None
        if r is None:
            status = ("not measured (engine skipped)" if TARGET_ENGINE in skipped
                      else "not measured")
        elif r["status"] != "ok":
            status = f"not rated ({r['status']})"
        elif ratio is None:
            status = f"not rated ({base} not measured)"
        else:
            status = "met" if ratio <= bound else "missed"
        out.append({"target": goal, "workload": wid, "baseline": base, "bound": bound,
                    "ratio": ratio, "status": status})
    return out


def targets_table(targets):
    """The Markdown targets table."""
    out = [f"| target ({TARGET_ENGINE}) | ratio | status |", "|---|---:|---|"]
    for t in targets:
        ratio = f"{t['ratio']:.3g}×" if t["ratio"] is not None else "-"
        out.append(f"| {t['target']} | {ratio} | {t['status']} |")
    return "\n".join(out)


def machine_meta(engines, skipped, mode, cfg):
    """Machine, versions and settings, for the JSON and the Markdown footer."""
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f
                        if ln.startswith("model name")), cpu)
    except OSError:
        pass
    versions = {E.name: E.version for E in engines}
    files = {E.name: getattr(E.module, "__file__", None) for E in engines if E.module}
    torch_threads = None
    torch_mod = next((E.module for E in engines if E.name == "torch"), None)
    if torch_mod is not None:
        torch_threads = [torch_mod.get_num_threads(), torch_mod.get_num_interop_threads()]
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "mode": mode, "settings": cfg, "python": platform.python_version(),
            "platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
            "versions": versions, "module_files": files, "skipped": skipped,
            "thread_env": {v: os.environ.get(v) for v in THREAD_VARS},
            "torch_threads_intra_interop": torch_threads}


def markdown(rows, targets, meta):
    """Everything a results section needs: table, targets, settings line."""
    vers = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    lines = [results_table(rows), "", "Targets (ratios of medians, this run):", "",
             targets_table(targets), "",
             f"{meta['date']}, {meta['mode']} run, {meta['total_s']:.0f} s; "
             f"{meta['cpu_count']} CPUs ({meta['cpu']}), Python {meta['python']}, {vers}; "
             "all thread pools 1 thread."]
    for name, why in meta["skipped"].items():
        lines.append(f"Skipped: {name} ({why}).")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------- main
def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short smoke run")
    p.add_argument("--engines", default=",".join(ENGINES),
                   help=f"comma-separated subset of {','.join(ENGINES)}")
    p.add_argument("--workloads", default="",
                   help="comma-separated families (W1..W7) or ids ('W5 n=64'); default all")
    p.add_argument("--md", metavar="FILE", help="also write the Markdown tables to FILE")
    p.add_argument("--json", metavar="FILE", help="write settings and raw samples to FILE")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    t_start = perf_counter()
    mode = "quick" if args.quick else "full"
    cfg = MODES[mode]
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENGINES]
    if unknown:
        sys.exit(f"unknown engine(s) {unknown}; choose from {ENGINES}")
    wls = workloads.all_workloads()
    if args.workloads:
        wanted = {w.strip() for w in args.workloads.split(",") if w.strip()}
        wls = [w for w in wls if w.family in wanted or w.id in wanted]
        if not wls:
            sys.exit(f"no workload matches {sorted(wanted)}")

    engines, skipped = load_engines(names)
    if not engines:
        sys.exit("no engine available")
    meta = machine_meta(engines, skipped, mode, cfg)
    log(f"{mode} run; engines: " + ", ".join(f"{E.name} {E.version}" for E in engines))
    gc.collect()
    gc.freeze()  # keep the imported modules out of later collections

    cases = []
    for wl in wls:
        t0 = perf_counter()
        got = measure(wl, engines, cfg)
        cases += got
        log(f"[{perf_counter() - t_start:5.1f} s] {wl.id:9s} ({perf_counter() - t0:4.1f} s) "
            + "  ".join(f"{c.engine.name}={fmt_t(statistics.median(c.samples))}"
                        if c.samples else f"{c.engine.name}={c.status}" for c in got))

    rows = summarize(cases)
    targets = evaluate_targets(rows, skipped)
    meta["total_s"] = perf_counter() - t_start
    md = markdown(rows, targets, meta)
    print()
    print(md)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)
        log(f"wrote {args.md}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta,
                       "workloads": [{"id": w.id, "title": w.title, "per": w.per, "tol": w.tol}
                                     for w in wls],
                       "results": rows, "targets": targets}, f, indent=1)
        log(f"wrote {args.json}")

    bad = [r for r in rows if r["status"] in ("FAIL", "ERROR")]
    if bad:
        print("**FAILURES (wrong results or crashes): "
              + "; ".join(f"{r['workload']} {r['engine']} {r['status']}" for r in bad) + "**")
        loud("FAILURES: " + "; ".join(f"{r['workload']} {r['engine']} {r['status']}"
                                      for r in bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
