"""Build the course notebooks in ``notebooks/`` from this file, then execute them in place.

This script is the source of truth for the notebooks: edit the cells here, then run

    .venv/bin/python tools/build_notebooks.py            # write and execute every notebook
    .venv/bin/python tools/build_notebooks.py 04 05      # only the notebooks whose names start so
    .venv/bin/python tools/build_notebooks.py --no-execute
    .venv/bin/python tools/build_notebooks.py --check    # do the committed sources match?

Execution uses a Jupyter kernel running *this* interpreter (a temporary kernelspec put first on
``JUPYTER_PATH``), so run it with the project's virtual environment. The notebooks are written
with their outputs, as they are committed and as ``pytest --nbval`` compares them.

Conventions (checked after execution):

* a cell whose error is the lesson carries ``# NBVAL_RAISES_EXCEPTION`` (first line, or the
  line after a ``%%`` cell magic) and must raise; every other cell must not. Such cells also
  get the ``raises-exception`` tag, so that "Run All" in JupyterLab goes on past them;
* ``# NBVAL_IGNORE_OUTPUT`` only where the output cannot be reproduced by re-running the cell
  or depends on the machine (say why in the cell);
* no output may depend on the machine or the run (temporary file names, timings); memory
  addresses are the only thing ``notebooks/nbval-sanitize.cfg`` rewrites.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import textwrap
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"

SETUP = """\
%load_ext nbautograd
import nbautograd as torch
from nbautograd import viz"""


def md(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(textwrap.dedent(text).strip("\n"))


def setup(extra: str = "") -> nbformat.NotebookNode:
    """The first code cell of every notebook, plus optional notebook-specific imports."""
    extra = textwrap.dedent(extra).strip("\n")
    return code(SETUP + ("\n" + extra if extra else ""))


# =============================================================================================
# 00 - the tour
# =============================================================================================
def nb00():
    cells = [
        md("""
        # A five-minute tour of nbautograd

        nbautograd is PyTorch's autograd — the part of PyTorch that computes derivatives —
        rebuilt on NumPy so that you can *look inside it*. Code written for PyTorch runs
        unchanged after `import nbautograd as torch`, and prints exactly what PyTorch prints.

        **What you'll learn**

        - that `import nbautograd as torch` runs ordinary PyTorch autograd code;
        - how `%%autograd` runs a cell and shows the graph it built and the gradients that
          flowed back through it;
        - how errors are explained right where they happen;
        - how `viz.draw(...)` and `%autograd_graph` draw the graph behind any tensor;
        - where the rest of the course goes.
        """),
        md("""
        One setup cell, the same at the top of every notebook: load the notebook magics, and
        import nbautograd *under PyTorch's name*.
        """),
        setup(),
        md("""
        ## PyTorch code, PyTorch output

        Make a tensor that autograd should track, compute with it, and ask for the derivative.
        """),
        code("""
        x = torch.tensor(5.0, requires_grad=True)
        y = x ** 2
        y
        """),
        code("""
        y.backward()
        x.grad
        """),
        md("""
        $y = x^2$, so $\\frac{dy}{dx} = 2x = 10$ at $x = 5$. `y.backward()` computed it and
        stored it in `x.grad`. Everything printed above — `grad_fn=<PowBackward0>` included —
        is what PyTorch prints for the same code.
        """),
        md("""
        ## `%%autograd`: watch what a cell does

        Put `%%autograd` on the first line of a cell. The cell runs as usual, and underneath
        you get a report of what autograd did.
        """),
        code("""
        %%autograd
        x = torch.tensor(2.0, requires_grad=True)
        y = torch.sin(x) + torch.cos(x)
        y.backward()
        """),
        md("""
        How to read the picture:

        - each box is a tensor, named after your variable, with the operation that made it
          (PyTorch's name for its backward step, such as `SinBackward0`);
        - **blue** boxes are *leaves* — tensors you created yourself; the **green** box is the
          output you called `backward()` on;
        - arrows point the way the data flowed (inputs at the bottom). The **red numbers** on
          them are the gradients that flowed back down during `backward()`;
        - **grey, dashed** boxes have *freed* the values they saved for the backward pass:
          `backward()` releases them once it is done (notebook 04 shows why that matters);
        - `x`'s box shows its `.grad`: $\\cos 2 - \\sin 2 \\approx -1.3254$, the sum of what
          arrived along its two arrows.
        """),
        code("x.grad"),
        md("""
        ## Errors, explained where they happen

        When autograd refuses to do something, the error is PyTorch's, word for word — and
        `%%autograd` adds a sentence about what it means. Here we ask for the derivative of a
        *vector*:
        """),
        code("""
        %%autograd
        # NBVAL_RAISES_EXCEPTION
        v = torch.tensor([5.0, 4.0, 3.0], requires_grad=True)
        f = v ** 2
        f.backward()
        """),
        md("""
        (Cells whose error *is* the lesson carry the comment `# NBVAL_RAISES_EXCEPTION`; it
        tells the notebook tests that the error is expected.) Notebook 03 explains this one
        fully.
        """),
        md("""
        ## Drawing any tensor

        `viz.draw(tensor, names=locals())` draws the graph behind a tensor, labelling boxes
        with your variable names. It renders in-process (Graphviz compiled to WebAssembly), so
        there is nothing else to install.
        """),
        code("""
        a = torch.tensor([1.0, 2.0], requires_grad=True)
        w = torch.tensor(3.0, requires_grad=True)
        loss = (a * w).exp().sum()
        viz.draw(loss, names=locals())
        """),
        md("""
        The box without a name or data is the product `a * w`: no variable holds it, so only
        its backward step (with the values it saved) is still alive. The line magic
        `%autograd_graph loss` draws the same picture, and `.text()` gives the graph as a plain
        listing, one line per node, where unnamed results are called after their operation:
        """),
        code("print(viz.draw(loss, names=locals()).text())"),
    ]
    cells += WIDGET_CELLS_00()
    cells += [
        md("""
        ## The course

        | notebook | what it teaches |
        |---|---|
        | [01 Tensors and leaves](01_tensors_and_leaves.ipynb) | `requires_grad`, `grad_fn`, `is_leaf`, where `.grad` lives, `retain_grad` |
        | [02 Derivatives and graphs](02_derivatives_and_graphs.ipynb) | simple, partial and chain-rule derivatives, each with its graph |
        | [03 Non-scalar outputs](03_non_scalar_outputs.ipynb) | why `backward()` needs a `gradient`; vector-Jacobian products |
        | [04 Accumulation](04_accumulation.ipynb) | gradients add up over repeated `backward`; `retain_graph`, `zero_()`, `None` |
        | [05 Jacobian rows](05_jacobian_rows.ipynb) | a Jacobian row by row with one-hot vectors, and all at once |
        | [06 Higher order](06_higher_order.ipynb) | `create_graph=True`, the n-th derivative, the derivative's own graph |
        | [07 Switching gradients off](07_switching_gradients_off.ipynb) | `requires_grad_(False)`, `detach`, `no_grad`, `inference_mode` |
        | [08 Manual and custom](08_manual_and_custom_function.ipynb) | a hand-written backward pass and a custom `autograd.Function` |
        | [09 GPU](09_gpu.ipynb) | `device="cuda"`, and what happens without a GPU |
        | [10 Training loop](10_training_loop.ipynb) | a small model trained with `nn` and `optim`, graph included |
        """),
        md("""
        ## Recap

        - `import nbautograd as torch` runs PyTorch autograd code and prints what PyTorch
          prints.
        - `%%autograd` on top of a cell shows the graph the cell built, the gradients that
          flowed back, and explains errors in place.
        - `viz.draw(t, names=locals())` (or `%autograd_graph t`) draws any tensor's graph;
          `.text()` lists it.
        """),
    ]
    return cells


# =============================================================================================
# 01 - tensors and leaves
# =============================================================================================
def nb01():
    return [
        md("""
        # 01 · Tensors, `requires_grad` and leaves

        **What you'll learn**

        - the five things a tensor carries for autograd: its data, `requires_grad`, `grad`,
          `grad_fn` and `is_leaf`;
        - how every operation on a tracked tensor records a step of the graph (`grad_fn`);
        - what a *leaf* is, and why `backward()` fills `.grad` on leaves only;
        - what the warning about a non-leaf's `.grad` means, and how `retain_grad()` helps;
        - the errors you get when nothing requires a gradient.
        """),
        setup("""
        import warnings
        # show warnings on one line, without the temporary file name of the cell
        warnings.formatwarning = lambda message, category, *args, **kwargs: \\
            f"{category.__name__}: {message}\\n"
        """),
        md("""
        ## A tensor that autograd tracks

        `requires_grad=True` asks autograd to record everything computed from this tensor, so
        that derivatives with respect to it can be computed later.
        """),
        code("""
        x = torch.tensor(3.0, requires_grad=True)
        x
        """),
        md("""
        Besides its value, `x` carries four attributes that autograd uses:

        | attribute | meaning |
        |---|---|
        | `requires_grad` | should autograd track this tensor? |
        | `grad` | where `backward()` puts the gradient (starts as `None`) |
        | `grad_fn` | the backward step of the operation that produced this tensor |
        | `is_leaf` | `True` for tensors you created yourself, not computed from tracked ones |
        """),
        code("x.requires_grad, x.grad, x.grad_fn, x.is_leaf"),
        md("""
        Tensors of any shape can require gradients:
        """),
        code("""
        x2 = torch.tensor([0.57, 0.86, 0.95], requires_grad=True)
        x2
        """),
        md("""
        By default `requires_grad` is `False`: nothing is recorded, and results carry no
        `grad_fn`.
        """),
        code("""
        c = torch.tensor(3.0)
        s = torch.sin(c)
        print(s, s.requires_grad)
        """),
        md("""
        ## Operations record the graph

        As soon as an operation uses a tracked tensor, its result records *how* it was made in
        `grad_fn`. The name is the operation's backward step: `**` gives `PowBackward0`,
        `sin` gives `SinBackward0`.
        """),
        code("""
        y = x ** 2
        y2 = torch.sin(x)
        y3 = torch.mean(y2)
        print(y, y.requires_grad)
        print(y2, y2.requires_grad)
        print(y3, y3.requires_grad)
        """),
        md("""
        A `grad_fn` is an object; printing it shows its name and where it lives in memory (the
        address changes every run). Its `next_functions` lead to the steps before it, down to
        an `AccumulateGrad` step that holds the leaf: that chain *is* the graph.
        """),
        code("""
        print(y3.grad_fn)
        node = y3.grad_fn
        while node is not None:
            print(node.name())
            node = node.next_functions[0][0] if node.next_functions else None
        """),
        md("""
        `%autograd_graph` draws that chain (inputs at the bottom, the last result on top):
        """),
        code("%autograd_graph y3"),
        md("""
        ## Leaves

        A tensor is a **leaf** when it was not computed from a tensor that requires grad:
        every tensor you create yourself is a leaf, tracked or not. Results of tracked
        operations are not.
        """),
        code("""
        for name, t in [("x", x), ("c", c), ("x ** 2", x ** 2), ("c * 2", c * 2)]:
            print(f"{name:7} is_leaf={t.is_leaf!s:5}  requires_grad={t.requires_grad!s:5}  "
                  f"grad_fn={t.grad_fn.name() if t.grad_fn else None}")
        """),
        md("""
        ## `backward()` fills `.grad` of leaves

        Here $z = \\sin(x^2)$ and, by the chain rule, $\\frac{dz}{dx} = 2x\\cos(x^2)$.
        """),
        code("""
        x = torch.tensor(3.0, requires_grad=True)
        y = x ** 2
        z = torch.sin(y)
        z.backward()
        x.grad
        """),
        code("""
        import math
        2 * 3.0 * math.cos(3.0 ** 2)
        """),
        md("""
        The same number (autograd works in 32-bit floats, hence fewer digits). What about the
        intermediate `y`? It is not a leaf, so autograd did not keep its gradient — and says
        so with a warning:
        """),
        code("print(y.grad)"),
        md("""
        Intermediate gradients are usually not needed and would cost memory, so they are
        thrown away. If you want one, call `retain_grad()` on that tensor **before**
        `backward()`. Here $\\frac{dz}{dy} = \\cos y = \\cos 9$:
        """),
        code("""
        %%autograd
        x = torch.tensor(3.0, requires_grad=True)
        y = x ** 2
        y.retain_grad()
        z = torch.sin(y)
        z.backward()
        print("dz/dy =", y.grad)
        print("dz/dx =", x.grad)
        """),
        md("""
        In the picture, `y` now shows its `grad` too. The red number on the arrow from `x` to
        `y` is what reached `x`: $\\cos 9 \\cdot 2x$.

        ## When nothing requires a gradient

        Forget `requires_grad=True` and there is no graph to go back through: `backward()`
        refuses.
        """),
        code("""
        # NBVAL_RAISES_EXCEPTION
        x = torch.tensor([0.5, -1.0, 2.0])
        z = ((x + 2) * (x + 2) * 2).mean()
        print(z)
        z.backward()
        """),
        md("""
        Note that `z` printed without `grad_fn`: a quick way to spot the mistake before
        calling `backward()`. And only floating-point tensors can require gradients at all —
        derivatives need real numbers:
        """),
        code("""
        # NBVAL_RAISES_EXCEPTION
        torch.tensor([1, 2, 3], requires_grad=True)
        """),
        code("torch.tensor([1.0, 2.0, 3.0], requires_grad=True)"),
        md("""
        ## Recap

        - `requires_grad=True` makes autograd record every operation that uses a tensor.
        - Each result's `grad_fn` names the backward step of the operation that made it;
          following `next_functions` walks the graph back to the leaves.
        - Leaves are the tensors you create; `backward()` stores gradients in the leaves'
          `.grad` only. Reading `.grad` of a non-leaf gives `None` and a warning;
          `retain_grad()` keeps it.
        - No tracked leaf → no `grad_fn` → `backward()` raises. Integer tensors cannot require
          gradients.

        Next: [02 Derivatives and graphs](02_derivatives_and_graphs.ipynb).
        """),
    ]


# =============================================================================================
# 02 - derivatives and graphs
# =============================================================================================
def nb02():
    return [
        md("""
        # 02 · Derivatives and their graphs

        **What you'll learn**

        - a simple derivative, computed by autograd and checked by hand;
        - partial derivatives of a function of two variables, and how a sum and a product
          pass gradients back differently;
        - the chain rule, link by link, on a graph with the gradient written on every edge;
        - `torch.autograd.grad`, which returns derivatives instead of storing them in `.grad`;
        - functions from a vector to a number.
        """),
        setup(),
        md("""
        ## A simple derivative

        $y = x^2$ at $x = 5$: by hand $\\frac{dy}{dx} = 2x = 10$.
        """),
        code("""
        %%autograd
        x = torch.tensor(5.0, requires_grad=True)
        y = x ** 2
        y.backward()
        """),
        code("x.grad"),
        md("""
        The backward pass starts from `y` with a gradient of 1 (the derivative of `y` with
        respect to itself) and `PowBackward0` turns it into $1 \\cdot 2x = 10$ on its way to
        `x`.

        A polynomial works the same way: $y = 3x^2 + 2x + 1$, so $\\frac{dy}{dx} = 6x + 2 = 26$
        at $x = 4$.
        """),
        code("""
        x = torch.tensor(4.0, requires_grad=True)
        y = 3 * x ** 2 + 2 * x + 1
        y.backward()
        print("y =", y.item())
        print("dy/dx =", x.grad.item())
        """),
        md("""
        ## Partial derivatives

        With two inputs, autograd computes the derivative with respect to each, holding the
        other fixed. For $f = x^2 + y^2$ at $x = y = 5$: $\\frac{\\partial f}{\\partial x} = 2x = 10$
        and $\\frac{\\partial f}{\\partial y} = 2y = 10$.
        """),
        code("""
        %%autograd
        x = torch.tensor(5.0, requires_grad=True)
        y = torch.tensor(5.0, requires_grad=True)
        f = x ** 2 + y ** 2
        f.backward()
        print(f.grad_fn)
        print(x.grad)
        print(y.grad)
        """),
        md("""
        Look at the arrows into `f`: an addition passes the incoming gradient (1) unchanged to
        both of its inputs, so the two halves do not influence each other.

        A product is different. For $f = x^2 y^2$:
        $\\frac{\\partial f}{\\partial x} = 2x y^2 = 250$ and
        $\\frac{\\partial f}{\\partial y} = 2y x^2 = 250$ — each input's gradient depends on the
        *other* input's value.
        """),
        code("""
        %%autograd
        x = torch.tensor(5.0, requires_grad=True)
        y = torch.tensor(5.0, requires_grad=True)
        f = x ** 2 * y ** 2
        f.backward()
        print(f.grad_fn)
        print(x.grad)
        print(y.grad)
        """),
        md("""
        `MulBackward0` sends each side the incoming gradient times the *other* factor:
        $1 \\cdot y^2 = 25$ goes to `x ** 2`, which `PowBackward0` turns into
        $25 \\cdot 2x = 250$.

        ## The chain rule, link by link

        A chain of four steps at $x = 2$:
        $a = x^2$, $b = 3a + 5$, $c = \\sin b$, $d = 2c$. The chain rule multiplies the local
        derivatives along the way:

        $$\\frac{dd}{dx} = \\frac{dd}{dc}\\cdot\\frac{dc}{db}\\cdot\\frac{db}{da}\\cdot\\frac{da}{dx}
        = 2 \\cdot \\cos b \\cdot 3 \\cdot 2x$$

        `retain_grad()` keeps the gradient of each intermediate, so we can watch it grow link
        by link.
        """),
        code("""
        %%autograd
        x = torch.tensor(2.0, requires_grad=True)
        a = x ** 2
        b = 3 * a + 5
        c = torch.sin(b)
        d = 2 * c
        a.retain_grad()
        b.retain_grad()
        c.retain_grad()
        d.backward()
        """),
        code("""
        print(f"x={x.item()}  a={a.item()}  b={b.item()}  c={c.item():.4f}  d={d.item():.4f}")
        print("dd/dc =", c.grad)
        print("dd/db =", b.grad)
        print("dd/da =", a.grad)
        print("dd/dx =", x.grad)
        """),
        md("""
        Each line is the previous one times one more local derivative. By hand:
        """),
        code("""
        import math
        x0 = 2.0
        local = {"dd/dc": 2, "dc/db": math.cos(3 * x0 ** 2 + 5), "db/da": 3, "da/dx": 2 * x0}
        print(local)
        print("dd/dx =", math.prod(local.values()))
        """),
        *WIDGET_CELLS_02(),
        md("""
        The same chain rule, written as a Python function, checks another chain:
        $z = \\sin(x^2)$, so $\\frac{dz}{dx} = 2x \\cos(x^2)$.
        """),
        code("""
        def dz_dx(x):
            return 2 * x * math.cos(x ** 2)

        x = torch.tensor(3.0, requires_grad=True)
        z = torch.sin(x ** 2)
        z.backward()
        print(dz_dx(3), x.grad)
        """),
        md("""
        ## `torch.autograd.grad`: derivatives as return values

        `backward()` *stores* gradients in `.grad`. `torch.autograd.grad(outputs, inputs)`
        *returns* them, as a tuple with one entry per input, and leaves `.grad` alone.
        For $y = \\cos x + \\sin x$: $\\frac{dy}{dx} = -\\sin x + \\cos x$.
        """),
        code("""
        from nbautograd.autograd import grad

        x1 = torch.tensor(2.0, requires_grad=True)
        y = torch.cos(x1) + torch.sin(x1)
        gradients = grad(outputs=y, inputs=x1)
        print(gradients, x1.grad)
        """),
        code("-torch.sin(x1) + torch.cos(x1)"),
        md("""
        (That check prints a `grad_fn` because it was computed from `x1`, which requires grad.)

        ## From a vector to a number

        When the input is a vector and the output a single number, `x.grad` has the shape of
        `x`: one partial derivative per element. For $y = 2x_0 + 3x_1 - 3x_2$ the gradient is
        $(2, 3, -3)$ whatever $x$ is:
        """),
        code("""
        x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = 2 * x[0] + 3 * x[1] - 3 * x[2]
        print(y)
        y.backward()
        print(x.grad)
        """),
        md("""
        Here the output is the last element of a running sum of $2x$, which is
        $2x_0 + 2x_1 + 2x_2$:
        """),
        code("""
        %%autograd
        x = torch.tensor([2.0, 2.0, 2.0], requires_grad=True)
        y = torch.cumsum(2 * x, dim=0)[-1]
        y.backward()
        print(y, x.grad)
        """),
        md("""
        `SelectBackward0` (the `[-1]`) sends a 1 back to the last position only; `CumsumBackward0`
        spreads it to every position that contributed to it.

        ## Recap

        - `backward()` starts with gradient 1 at the output and applies each operation's local
          derivative on the way back: that is the chain rule.
        - A sum passes gradients through unchanged; a product multiplies by the other factor.
        - `retain_grad()` shows the gradient at every link of a chain.
        - `torch.autograd.grad(y, x)` returns `(dy/dx,)` without touching `.grad`.
        - For a scalar output, `x.grad` has `x`'s shape: one partial derivative per element.

        Next: [03 Non-scalar outputs](03_non_scalar_outputs.ipynb).
        """),
    ]


# =============================================================================================
# 03 - non-scalar outputs
# =============================================================================================
def nb03():
    return [
        md("""
        # 03 · Non-scalar outputs and vector-Jacobian products

        **What you'll learn**

        - why `backward()` on a vector raises *grad can be implicitly created only for scalar
          outputs*;
        - the two ways out: reduce to a scalar, or pass a `gradient` vector;
        - what `backward(v)` really computes: the vector-Jacobian product $v^\\top J$;
        - `torch.autograd.functional.vjp`, which does the same as a function.
        """),
        setup(),
        md("""
        ## The error

        Square each element of a vector and ask for "the" derivative:
        """),
        code("""
        x = torch.tensor([5.0, 4.0, 3.0], requires_grad=True)
        f = x ** 2
        f
        """),
        code("""
        # NBVAL_RAISES_EXCEPTION
        f.backward()
        """),
        md("""
        `f` has three outputs and `x` three inputs: there are nine partial derivatives
        $\\frac{\\partial f_i}{\\partial x_j}$, the **Jacobian** $J$. But `x.grad` has room for
        three numbers only. `backward()` never builds $J$; it computes $v^\\top J$ for a vector
        $v$ with one entry per output — and for a single-number output it can use $v = 1$. For
        a vector output, *you* must say which $v$.

        ## Way 1: reduce to a scalar

        Summing first gives a scalar, whose gradient is the sum of the rows of $J$ — here
        $2x$:
        """),
        code("""
        f = x ** 2
        f.sum()
        """),
        code("""
        f.sum().backward()
        x.grad
        """),
        md("""
        ## Way 2: pass `gradient=v`

        `f.backward(v)` computes $v^\\top J$. With $v = (1, 1, 1)$ it is the same as summing:
        """),
        code("""
        x = torch.tensor([1.0, 2.0, -2.0], requires_grad=True)
        y1 = x ** 2
        y1.backward(torch.tensor([1.0, 1.0, 1.0]))
        x.grad
        """),
        md("""
        Any other $v$ *weights* the outputs. Here $J$ is diagonal (each $y_i$ depends on
        $x_i$ only, $J_{ii} = 2x_i$), so $v = (1, 0.8, 1.2)$ scales each element's gradient:
        $(1 \\cdot 2, 0.8 \\cdot 4, 1.2 \\cdot (-4))$.
        """),
        code("""
        %%autograd
        x = torch.tensor([1.0, 2.0, -2.0], requires_grad=True)
        y1 = x ** 2
        y1.backward(torch.tensor([1.0, 0.8, 1.2]))
        print(x.grad)
        """),
        md("""
        The red label on the arrow is exactly that product, $v^\\top J$: the vector that flowed
        back from `y1` to `x`.

        ## Checking $v^\\top J$ against the whole Jacobian

        A less trivial function, with a random input (seeded, so the numbers are the same on
        every run): $z = 2(x + 2)^2$ elementwise. (nbautograd draws its random numbers from
        NumPy's generator, so they differ from PyTorch's for the same seed; everything
        computed from them follows the same rules.)
        """),
        code("""
        _ = torch.manual_seed(0)
        x = torch.randn(4, requires_grad=True)
        y = x + 2
        z = y * y * 2
        z
        """),
        code("""
        v = torch.tensor([0.1, 1.0, 0.01, 1.01])
        z.backward(v)
        x.grad
        """),
        md("""
        `torch.autograd.functional.jacobian` computes the whole $J$ (notebook 05 shows how);
        multiplying $v$ by it gives the same vector:
        """),
        code("""
        J = torch.autograd.functional.jacobian(lambda t: 2 * (t + 2) ** 2, x)
        print(J)
        print(v @ J)
        """),
        md("""
        ## `mean()` is a scalar with $v = \\frac{1}{n}$

        Reducing with `mean()` instead of `sum()` divides every gradient by the number of
        elements. This `z` is a single number, so `backward()` needs no argument:
        """),
        code("""
        %%autograd
        _ = torch.manual_seed(0)
        x = torch.randn(3, requires_grad=True)
        y = x + 2
        z = (y * y * 2).mean()
        z.backward()
        print(x.grad)
        print(4 * (x.detach() + 2) / 3)
        """),
        md("""
        ## Two inputs

        Each input gets its own $v^\\top J$. With $f = x_1 x_2 + \\sin x_2 + \\log x_1$
        (elementwise):
        $\\frac{\\partial f_i}{\\partial x_{1,i}} = x_{2,i} + 1/x_{1,i}$ and
        $\\frac{\\partial f_i}{\\partial x_{2,i}} = x_{1,i} + \\cos x_{2,i}$.
        """),
        code("""
        x1 = torch.tensor([1.2, 2.4, 3.3], requires_grad=True)
        x2 = torch.tensor([4.4, 5.2, 5.5], requires_grad=True)
        f = x1 * x2 + torch.sin(x2) + torch.log(x1)
        f.backward(gradient=torch.tensor([1.0, 1.0, 1.0]))
        print(f)
        print(x1.grad)
        print(x2.grad)
        """),
        code("""
        x1_ = x1.detach()
        x2_ = x2.detach()
        print(x2_ + 1 / x1_)
        print(x1_ + torch.cos(x2_))
        """),
        md("""
        ## `vjp`: the same as a function

        `torch.autograd.functional.vjp(func, inputs, v)` returns the output and $v^\\top J$,
        without touching any `.grad`:
        """),
        code("""
        from nbautograd.autograd.functional import vjp

        out, vJ = vjp(lambda t: t ** 2, torch.tensor([1.0, 2.0, -2.0]), torch.tensor([1.0, 0.8, 1.2]))
        print(out)
        print(vJ)
        """),
        md("""
        ## Recap

        - `backward()` computes a vector-Jacobian product $v^\\top J$, never $J$ itself.
        - For a scalar output $v = 1$ is implied; for a vector output you choose $v$, or
          reduce to a scalar first (`sum()` is $v = 1$, `mean()` is $v = 1/n$).
        - `backward(v)` weights the outputs; `vjp(func, x, v)` computes the same product as a
          function.

        Next: [04 Accumulation](04_accumulation.ipynb).
        """),
    ]


# =============================================================================================
# 04 - accumulation
# =============================================================================================
def nb04():
    cells = [
        md("""
        # 04 · Gradients accumulate

        **What you'll learn**

        - that every `backward()` *adds* to `.grad` instead of replacing it;
        - why a second `backward()` through the same graph needs `retain_graph=True`;
        - that calling `backward()` again does **not** give a second derivative;
        - how to reset: `x.grad.zero_()` or `x.grad = None`;
        - why accumulation is a feature: the gradient of a sum is the sum of the gradients.
        """),
        setup(),
        md("""
        ## Repeated `backward()`

        $y = \\cos x + \\sin x$ at $x = 2$; $\\frac{dy}{dx} = -\\sin 2 + \\cos 2 \\approx -1.3254$.
        Call `backward()` four times and watch `x.grad`. `--ledger` adds a table of `x.grad`
        after every call (it appears by itself when a cell calls `backward()` more than once).
        """),
        code("""
        %%autograd --ledger
        x = torch.tensor(2.0, requires_grad=True)
        y = torch.cos(x) + torch.sin(x)
        for i in range(4):
            y.backward(retain_graph=True)
            print(x.grad)
        """),
        md("""
        Each call added the same $-1.3254$ again. It is tempting to think that a second
        `backward()` gives the second derivative — it does not: it *adds the first derivative
        again*. (Higher derivatives are in [notebook 06](06_higher_order.ipynb).)

        ## Why `retain_graph=True`?

        To save memory, `backward()` frees the values the graph saved for the backward pass
        (`sin` saved its input, to compute $\\cos x$ later). Without `retain_graph=True` a
        second pass has nothing to work with:
        """),
        code("""
        %%autograd
        # NBVAL_RAISES_EXCEPTION
        x = torch.tensor(2.0, requires_grad=True)
        y = torch.cos(x) + torch.sin(x)
        y.backward()
        y.backward()
        """),
        md("""
        In the picture the nodes whose saved values are gone turn grey with a `freed:` line,
        and the node where the second pass failed is red. The usual pattern is
        `retain_graph=True` on every call but the last:
        """),
        code("""
        x = torch.tensor(2.0, requires_grad=True)
        y = torch.cos(x) + torch.sin(x)
        y.backward(retain_graph=True)
        print(x.grad)
        y.backward(retain_graph=True)
        print(x.grad)
        y.backward()
        print(x.grad)
        """),
        md("""
        A graph that saved nothing can be walked twice even without `retain_graph`: adding a
        constant needs no saved value (its derivative is 1).
        """),
        code("""
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        s = (x + 3).sum()
        s.backward()
        s.backward()
        x.grad
        """),
        md("""
        ## Resetting: `zero_()` or `None`

        Two ways to start again: fill the gradient with zeros in place, or drop it.
        """),
        code("""
        %%autograd --ledger
        x = torch.tensor(3.0, requires_grad=True)
        z = torch.sin(x ** 2)
        z.backward(retain_graph=True)
        print(x.grad)
        x.grad.zero_()
        print(x.grad)
        z.backward(retain_graph=True)
        x.grad = None
        print(x.grad)
        z.backward()
        print(x.grad)
        """),
        md("""
        The ledger records the resets too. Optimizers offer the same choice:
        `optimizer.zero_grad()` sets the gradients to `None` by default (cheaper: no zeros to
        write, and the next `backward()` simply stores its result).

        ## Why accumulate at all?

        Because derivatives add up: $\\frac{d(L_1 + L_2)}{dw} = \\frac{dL_1}{dw} + \\frac{dL_2}{dw}$.
        Two losses that share a parameter can be backpropagated one after the other — the
        total ends up in `.grad`, exactly as if we had added the losses first:
        """),
        code("""
        w = torch.tensor(1.5, requires_grad=True)
        loss1 = (w * 2 - 1) ** 2
        loss2 = torch.exp(-w)
        loss1.backward()
        loss2.backward()
        print("one after the other:", w.grad)

        w2 = torch.tensor(1.5, requires_grad=True)
        ((w2 * 2 - 1) ** 2 + torch.exp(-w2)).backward()
        print("sum first:          ", w2.grad)
        """),
        md("""
        Training code uses this to process a big batch in smaller pieces (*gradient
        accumulation*) — and it is why a training loop must reset gradients before each step,
        or every step would add to the stale gradients of all the steps before.
        """),
    ]
    cells += WIDGET_CELLS_04()
    cells += [
        md("""
        ## Recap

        - `backward()` adds into `.grad`; a repeated `backward()` adds the same first
          derivative again — it is not a higher derivative.
        - A second pass through the same graph needs `retain_graph=True` on the earlier calls
          (unless the graph saved nothing).
        - Reset with `x.grad.zero_()` or `x.grad = None` (what `optimizer.zero_grad()` does).
        - Accumulation is the sum rule at work: backpropagating losses one by one equals
          backpropagating their sum.

        Next: [05 Jacobian rows](05_jacobian_rows.ipynb).
        """),
    ]
    return cells


# =============================================================================================
# 05 - Jacobian rows
# =============================================================================================
def nb05():
    cells = [
        md("""
        # 05 · The Jacobian, row by row

        **What you'll learn**

        - how a one-hot vector $e_i$ makes `backward(e_i)` return row $i$ of the Jacobian;
        - why you must reset `x.grad` between rows;
        - `torch.autograd.functional.jacobian`, which builds the whole matrix for you;
        - `jacobian_rows`, the row-by-row technique as a function;
        - `%%autograd --jacobian`, which shows the matrix of any cell's output.
        """),
        setup(),
        md("""
        ## One row per backward pass

        In [notebook 03](03_non_scalar_outputs.ipynb) we saw that `backward(v)` computes
        $v^\\top J$. Choose $v = e_i$, the vector with a 1 in position $i$ and 0 elsewhere:
        $e_i^\\top J$ is row $i$ of $J$ — the gradient of the single output $y_i$.

        The Jacobian of $y = x^2$ (elementwise) is diagonal with $2x$ on the diagonal:
        """),
        code("""
        x = torch.tensor([1.0, 2.0, -2.0], requires_grad=True)
        y1 = x ** 2
        input_key = torch.eye(3)
        input_key
        """),
        code("""
        %%autograd
        final_jacobian = []
        for key in input_key:
            x.grad = None
            y1.backward(key, retain_graph=True)
            final_jacobian.append(x.grad)
        print(final_jacobian)
        """),
        md("""
        The report fills the matrix as the rows arrive (which backward call made each row is
        on the left) and checks it against the full Jacobian. Note the `-0.`: it is
        $0 \\cdot (-4)$ in floating point, and PyTorch prints it the same way.

        ## Why `x.grad = None` between rows

        Without the reset, gradients accumulate ([notebook 04](04_accumulation.ipynb)) and each
        "row" is the sum of all rows so far:
        """),
        code("""
        x = torch.tensor([1.0, 2.0, -2.0], requires_grad=True)
        y1 = x ** 2
        rows = []
        for key in torch.eye(3):
            y1.backward(key, retain_graph=True)
            print(x.grad)
            rows.append(x.grad)
        print(rows)
        """),
        md("""
        And there is a second trap: the list holds the *same* tensor three times. Once
        `x.grad` exists, `backward()` adds into it in place, so every entry shows the final
        sum. Setting `x.grad = None` before each row avoids both problems — each
        `backward()` then stores a fresh tensor. (Otherwise, append `x.grad.clone()`.)

        ## The whole matrix at once

        `torch.autograd.functional.jacobian(func, x)` does the row-by-row work for you. A
        function whose Jacobian is not diagonal:
        $y = (x_0 x_1,\\; x_1^2,\\; x_2 + x_0)$.
        """),
        code("""
        def vector_func(x):
            return torch.stack([x[0] * x[1], x[1] ** 2, x[2] + x[0]])

        x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        torch.autograd.functional.jacobian(vector_func, x)
        """),
        md("""
        Row 0 is $\\nabla(x_0 x_1) = (x_1, x_0, 0) = (2, 1, 0)$, row 1 is $(0, 2x_1, 0)$, row 2
        is $(1, 0, 1)$. `jacobian` never touches `x.grad`:
        """),
        code("print(x.grad)"),
        md("""
        ## `jacobian_rows`: one row at a time

        `jacobian_rows(func, x)` yields, for each output element, its index, the one-hot
        vector used and the row that one backward pass produced:
        """),
        code("""
        from nbautograd.autograd.functional import jacobian_rows

        for index, e, (row,) in jacobian_rows(vector_func, x):
            print(index, e, "->", row)
        """),
        md("""
        ## `%%autograd --jacobian`

        With `--jacobian` the report computes the Jacobian of the cell's last result with
        respect to its leaf, without calling `backward()` yourself and without touching `.grad`:
        """),
        code("""
        %%autograd --jacobian
        x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = vector_func(x)
        """),
        md("""
        ## Rows or columns?

        Reverse mode (`backward`) produces one **row** per pass: cheap when there are few
        outputs, which is why training — one scalar loss, millions of parameters — uses it.
        `jvp` produces one **column**, $J v$:
        """),
        code("""
        from nbautograd.autograd.functional import jvp

        _, column0 = jvp(vector_func, x.detach(), torch.tensor([1.0, 0.0, 0.0]))
        column0
        """),
    ]
    cells += WIDGET_CELLS_05()
    cells += [
        md("""
        ## Recap

        - `backward(e_i)` with a one-hot $e_i$ gives row $i$ of the Jacobian; reset `x.grad`
          between rows or they add up.
        - `torch.autograd.functional.jacobian(func, x)` builds the whole matrix and leaves
          `.grad` alone; `jacobian_rows` yields it row by row; `jvp` gives columns.
        - `%%autograd --jacobian` shows the Jacobian of a cell's result, checked against the
          full matrix.

        Next: [06 Higher-order derivatives](06_higher_order.ipynb).
        """),
    ]
    return cells


# =============================================================================================
# 06 - higher order
# =============================================================================================
def nb06():
    return [
        md("""
        # 06 · Higher-order derivatives

        **What you'll learn**

        - how `create_graph=True` makes a derivative a tensor with its own graph;
        - how to differentiate that derivative again: second, third, n-th derivatives;
        - what the derivative's graph looks like;
        - `torch.autograd.functional.hessian` for all second derivatives at once.
        """),
        setup("""
        from nbautograd.autograd import grad"""),
        md("""
        ## A derivative with a graph

        Normally the gradient autograd returns is a plain number: nothing recorded how it was
        computed, so it cannot be differentiated again. `create_graph=True` records the
        backward pass itself. For $f = x^2 + x^3$ at $x = 5$:
        $f' = 2x + 3x^2 = 85$.
        """),
        code("""
        x = torch.tensor(5.0, requires_grad=True)
        f = x ** 2 + x ** 3
        print(grad(f, x, retain_graph=True))
        print(grad(f, x, create_graph=True))
        """),
        md("""
        (`retain_graph=True` keeps the graph of `f` for the second call, as in
        [notebook 04](04_accumulation.ipynb).) The second result has a `grad_fn`: it is the
        output of a graph. Here it is — the
        backward steps of `f` written out as ordinary operations (`const` is the starting
        gradient 1):
        """),
        code("""
        (df,) = grad(f, x, create_graph=True)
        viz.draw(df, names=locals())
        """),
        md("""
        ## Differentiate again

        Because `df` has a graph, `grad(df, x)` is the second derivative
        $f'' = 2 + 6x = 32$, and so on: $f''' = 6$, $f'''' = 0$.
        """),
        code("""
        def nth_derivative(f, wrt, n):
            for i in range(n):
                grads = grad(f, wrt, create_graph=True)[0]
                print(f"derivative {i + 1}: {grads}")
                f = grads.sum()
            return grads

        x = torch.tensor(5.0, requires_grad=True)
        f = x ** 2 + x ** 3
        nth_derivative(f, wrt=x, n=4)
        """),
        md("""
        The fourth derivative is a constant 0 that no longer depends on `x`, so it comes back
        without a `grad_fn`. (`.sum()` turns a gradient into a scalar so it can be
        differentiated again; for a scalar `x` it changes nothing.)

        `%%autograd` shows both passes: the original graph, the derivative's graph built on
        top of it, and the second derivative flowing back through both.
        """),
        code("""
        %%autograd
        x = torch.tensor(5.0, requires_grad=True)
        f = x ** 2 + x ** 3
        g1 = grad(f, x, create_graph=True)[0]
        g2 = grad(g1, x)[0]
        print(g1, g2)
        """),
        md("""
        ## Repeating `backward()` is not the same

        [Notebook 04](04_accumulation.ipynb) showed that a second `backward()` adds the first
        derivative again. Here is the contrast on $y = \\cos x + \\sin x$ at $x = 2$:
        """),
        code("""
        x1 = torch.tensor(2.0, requires_grad=True)
        y = torch.cos(x1) + torch.sin(x1)
        y.backward(retain_graph=True)
        y.backward()
        print("backward twice:    ", x1.grad)

        (dy,) = grad(torch.cos(x1) + torch.sin(x1), x1, create_graph=True)
        (d2y,) = grad(dy, x1)
        print("second derivative: ", d2y, "= -cos(2) - sin(2)")
        """),
        md("""
        ## All second derivatives: the Hessian

        For a function of several variables, `hessian` collects every
        $\\frac{\\partial^2 f}{\\partial x_i \\partial x_j}$. For
        $f = x_0^2 x_1 + x_1^3$: $H = \\begin{pmatrix} 2x_1 & 2x_0 \\\\ 2x_0 & 6x_1 \\end{pmatrix}$.
        """),
        code("""
        from nbautograd.autograd.functional import hessian

        def f(x):
            return x[0] ** 2 * x[1] + x[1] ** 3

        hessian(f, torch.tensor([1.0, 2.0]))
        """),
        md("""
        ## Recap

        - `create_graph=True` records the backward pass, so the derivative is a tensor with a
          `grad_fn` and a graph of its own.
        - Differentiating it again gives the second derivative; a loop gives the n-th.
        - A constant derivative comes back without `grad_fn`: nothing left to differentiate.
        - Calling `backward()` twice accumulates the *first* derivative; it never gives the
          second.
        - `hessian(func, x)` computes every second derivative at once.

        Next: [07 Switching gradients off](07_switching_gradients_off.ipynb).
        """),
    ]


# =============================================================================================
# 07 - switching gradients off
# =============================================================================================
def nb07():
    return [
        md("""
        # 07 · Switching gradients off

        **What you'll learn**

        - four ways to stop autograd from recording: `requires_grad_(False)`, `detach()`,
          `torch.no_grad()` and `torch.inference_mode()`;
        - what each one changes, and what `backward()` says afterwards;
        - where each is used: weight updates, evaluation, cutting a graph.
        """),
        setup(),
        md("""
        Why switch it off? Recording costs time and memory, and some computations must not be
        part of the graph — the update of a weight itself, for one.

        ## Option 1: `requires_grad_(False)`

        The trailing underscore means *in place*: the tensor itself stops requiring grad.
        Its `.grad` stays as it was, but new results are no longer tracked.
        """),
        code("""
        x = torch.tensor(3.0, requires_grad=True)
        y = x ** 2
        print(y)
        y.backward()
        print(x.grad)
        """),
        code("""
        x.requires_grad_(False)
        print(x, x.grad)
        y = x ** 2
        print(y)
        """),
        code("""
        # NBVAL_RAISES_EXCEPTION
        y.backward()
        """),
        md("""
        ## Option 2: `detach()`

        `x.detach()` returns a new tensor with the same values — the very same memory — that
        is cut off from the graph. `x` itself is untouched and still requires grad.
        """),
        code("""
        x = torch.tensor(3.0, requires_grad=True)
        z = x.detach()
        print(x, z)
        y = z ** 2
        try:
            y.backward()
        except RuntimeError as e:
            print("RuntimeError:", e)
        """),
        md("""
        Because the memory is shared, writing into the detached tensor changes the original
        too (autograd counts such writes in `_version`):
        """),
        code("""
        a = torch.tensor([1.0, 2.0], requires_grad=True)
        b = a.detach()
        b[0] = 10.0
        print(a, a._version)
        """),
        md("""
        `detach()` is the tool to *cut* a graph: whatever is computed from the detached tensor
        is a constant to autograd. In the picture the detached copy `k` is a dashed box — a
        constant — and no arrow joins it to `x`, so no gradient can flow that way:
        """),
        code("""
        %%autograd
        x = torch.tensor(3.0, requires_grad=True)
        k = x.detach()
        y = x * k
        y.backward()
        print(x.grad)
        """),
        md("""
        $y = x \\cdot 3$ as far as autograd knows, so the gradient is 3, not $2x = 6$.

        ## Option 3: `torch.no_grad()`

        Inside a `with torch.no_grad():` block nothing is recorded, whatever the inputs. The
        tensors themselves are unchanged.
        """),
        code("""
        x = torch.tensor(3.0, requires_grad=True)
        print(x)
        with torch.no_grad():
            y = x ** 2
            print(y, torch.is_grad_enabled())
        print(torch.is_grad_enabled())
        """),
        code("""
        # NBVAL_RAISES_EXCEPTION
        y.backward()
        """),
        md("""
        This is how a weight update is written by hand: the update must change `w` without
        becoming part of the next step's graph.
        """),
        code("""
        w = torch.tensor([1.0, -2.0], requires_grad=True)
        loss = (w ** 2).sum()
        loss.backward()
        with torch.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
        print(w, w.grad)
        """),
        md("""
        Related helpers: `torch.enable_grad()` switches recording back on inside a `no_grad`
        block, `torch.set_grad_enabled(flag)` takes a boolean, and `@torch.no_grad()` can
        decorate a function.
        """),
        code("""
        @torch.no_grad()
        def evaluate(t):
            return t * 2

        print(evaluate(x))
        with torch.no_grad():
            with torch.enable_grad():
                print(x * 2)
        with torch.set_grad_enabled(False):
            print(x * 2)
        """),
        md("""
        ## Option 4: `torch.inference_mode()`

        A stricter `no_grad` for code that will *never* need gradients (serving a model):
        tensors made inside are marked as *inference tensors*, which lets the engine skip
        more bookkeeping — and they may not be used in a recorded computation later.
        """),
        code("""
        x = torch.tensor(3.0, requires_grad=True)
        with torch.inference_mode():
            y = x * 2
        print(y, y.requires_grad, y.is_inference())
        """),
        code("""
        # NBVAL_RAISES_EXCEPTION
        (y * x).backward()
        """),
        md("""
        The error message says how to recover: `y.clone()` outside inference mode is a normal
        tensor again.
        """),
        code("""
        (y.clone() * x).backward()
        x.grad
        """),
        md("""
        ## Recap

        | how | scope | typical use |
        |---|---|---|
        | `x.requires_grad_(False)` | this tensor, from now on | freezing a parameter |
        | `x.detach()` | a new tensor sharing `x`'s memory | cutting a graph, logging values |
        | `with torch.no_grad():` | everything computed in the block | weight updates, evaluation |
        | `with torch.inference_mode():` | like `no_grad`, and results stay out of autograd | serving a model |

        In every case, a result that has no `grad_fn` cannot be backpropagated: *element 0 of
        tensors does not require grad and does not have a grad_fn*.

        Next: [08 Manual and custom functions](08_manual_and_custom_function.ipynb).
        """),
    ]


# =============================================================================================
# 08 - manual forward/backward and custom Function
# =============================================================================================
def nb08():
    return [
        md("""
        # 08 · A manual backward pass, and a custom `autograd.Function`

        **What you'll learn**

        - how to write a forward and a backward pass by hand, with no autograd at all;
        - how `torch.autograd.Function` plugs your own backward rule into autograd;
        - how `gradcheck` catches a wrong backward rule.
        """),
        setup(),
        md("""
        ## Forward and backward by hand

        $y = 3x^2 + 2x + 1$ and $z = 5y^3 + 8$. The forward pass computes and *remembers* the
        intermediate values; the backward pass multiplies the local derivatives
        $\\frac{dz}{dy} = 15y^2$ and $\\frac{dy}{dx} = 6x + 2$ — the chain rule, by hand.
        """),
        code("""
        class MyManualPolyTensor:
            def forward(self, x):
                self.x = x
                self.y = 3 * x ** 2 + 2 * x + 1
                self.z = self.y ** 3 * 5 + 8
                return self.z

            def backward(self):
                dy_dx = 6 * self.x + 2
                dz_dy = 15 * self.y ** 2
                return dz_dy * dy_dx

        x = torch.tensor(4.0)  # requires_grad=False: autograd is not involved
        m = MyManualPolyTensor()
        z = m.forward(x)
        print(f"x: {x.item()}, z: {z.item()}, dz/dx: {m.backward().item()}")
        """),
        md("""
        Autograd gets the same number by itself:
        """),
        code("""
        %%autograd
        x = torch.tensor(4.0, requires_grad=True)
        y = 3 * x ** 2 + 2 * x + 1
        z = y ** 3 * 5 + 8
        z.backward()
        print(x.grad)
        """),
        md("""
        Remembering `self.y` in the forward pass is what autograd does too: each backward step
        saves the values it will need. The `freed:` lines in the picture list them — released
        now that `backward()` is done.

        ## A custom `autograd.Function`

        Sometimes you want autograd to use *your* backward rule for one step: a faster
        formula, a numerically safer one, or an operation autograd does not know. Subclass
        `torch.autograd.Function` and write two static methods:

        - `forward(ctx, input)` computes the result; `ctx.save_for_backward(...)` keeps what
          the backward needs;
        - `backward(ctx, grad_output)` receives the gradient of the final output with respect
          to this step's result, and returns the gradient with respect to each input.
        """),
        code("""
        class MySquare(torch.autograd.Function):
            @staticmethod
            def forward(ctx, input):
                ctx.save_for_backward(input)
                return input ** 2

            @staticmethod
            def backward(ctx, grad_output):
                (input,) = ctx.saved_tensors
                return 2 * input * grad_output  # the chain rule: local derivative × incoming
        """),
        md("""
        Use it with `.apply`; the result's `grad_fn` is named after your class:
        """),
        code("""
        %%autograd
        x = torch.tensor(3.0, requires_grad=True)
        y = MySquare.apply(x)
        y.backward()
        print(y, x.grad)
        """),
        md("""
        It composes with everything else — here inside a larger expression:
        """),
        code("""
        x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        out = torch.sin(MySquare.apply(x)).sum()
        out.backward()
        print(x.grad)
        print(2 * x.detach() * torch.cos(x.detach() ** 2))
        """),
        md("""
        ## Checking a backward rule with `gradcheck`

        A wrong backward rule fails silently: you just get wrong gradients. `gradcheck`
        compares your rule with finite differences $\\frac{f(x + \\epsilon) - f(x - \\epsilon)}{2\\epsilon}$
        (in double precision, for accuracy):
        """),
        code("""
        x64 = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
        torch.autograd.gradcheck(MySquare.apply, (x64,))
        """),
        md("""
        Now a square whose backward forgot the factor 2:
        """),
        code("""
        class BadSquare(torch.autograd.Function):
            @staticmethod
            def forward(ctx, input):
                ctx.save_for_backward(input)
                return input ** 2

            @staticmethod
            def backward(ctx, grad_output):
                (input,) = ctx.saved_tensors
                return input * grad_output  # wrong: d(x²)/dx is 2x
        """),
        code("""
        # NBVAL_RAISES_EXCEPTION
        torch.autograd.gradcheck(BadSquare.apply, (x64,))
        """),
        md("""
        The message shows both Jacobians: the numerical one (finite differences) has $2x$ on
        the diagonal, our analytical one only $x$.

        ## Recap

        - A backward pass is the chain rule: multiply the incoming gradient by each step's
          local derivative, using values saved in the forward pass.
        - `torch.autograd.Function` lets you supply that rule for one step: `forward` with
          `ctx.save_for_backward`, `backward` returning one gradient per input, used through
          `.apply`.
        - `torch.autograd.gradcheck` checks a backward rule against finite differences.

        Next: [09 GPU](09_gpu.ipynb).
        """),
    ]


# =============================================================================================
# 09 - GPU
# =============================================================================================
def nb09():
    return [
        md("""
        # 09 · The GPU: `device="cuda"`

        **What you'll learn**

        - how to ask whether a GPU is available, and choose the device accordingly;
        - how tensors are placed on a device, and that autograd works the same on any device;
        - what happens if you ask for `"cuda"` on a machine without one.

        nbautograd runs on NumPy on the CPU. When [CuPy](https://cupy.dev) is installed and
        sees an NVIDIA GPU, `device="cuda"` tensors live on the GPU; otherwise this notebook
        runs everything on the CPU and says so. The code is the same either way.
        """),
        setup(),
        md("""
        ## Pick a device

        The standard idiom: use the GPU when there is one.
        """),
        code("""
        # NBVAL_IGNORE_OUTPUT
        # (this cell's output depends on the machine running it)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda":
            print("A GPU is available: the tensors below live on it.")
        else:
            print("No GPU here: the tensors below live on the CPU. The code is the same.")
        """),
        md("""
        On a machine without a GPU, asking for one anyway raises PyTorch's error (nbautograd
        adds why, in parentheses):
        """),
        code("""
        # NBVAL_IGNORE_OUTPUT
        # (this cell's output depends on the machine running it)
        try:
            torch.zeros(2, device="cuda")
            print("created a tensor on the GPU")
        except AssertionError as e:
            print("AssertionError:", e)
        """),
        md("""
        ## Autograd on the chosen device

        `device=` places a tensor at creation; results of operations stay on the device of
        their inputs. On a GPU the tensors below print with `device='cuda:0'`; here we print
        values that are the same on every device.
        """),
        code("""
        x = torch.tensor([3.0, 7.0], device=device, requires_grad=True)
        print(x.device.type == device, x.is_leaf, x.requires_grad)
        """),
        md("""
        A chain of operations: $v = 1 / e^{\\sin(x^2)}$, summed.
        """),
        code("""
        y = x ** 2
        z = torch.sin(y)
        w = torch.exp(z)
        v = 1 / w
        t = v.sum()
        for name, value in [("y", y), ("z", z), ("w", w), ("v", v)]:
            print(name, value.grad_fn.name(), value.detach().cpu())
        """),
        code("""
        t.backward()
        print(x.grad.device.type == device)
        x.grad.cpu()
        """),
        md("""
        The gradient lives on the same device as `x`. To print it as NumPy, or to compare it
        with CPU values, bring it back with `.cpu()` — calling `.numpy()` on a GPU tensor
        raises an error in PyTorch. Checked by hand:
        $\\frac{dt}{dx_i} = -e^{-\\sin(x_i^2)} \\cos(x_i^2)\\, 2x_i$.
        """),
        code("""
        import math

        [-math.exp(-math.sin(a ** 2)) * math.cos(a ** 2) * 2 * a for a in (3.0, 7.0)]
        """),
        md("""
        The graph is the same graph on any device (on a GPU, each box also names its device,
        `cuda:0`):
        """),
        code("""
        # NBVAL_IGNORE_OUTPUT
        # (on a GPU the boxes also show cuda:0)
        viz.draw(t, names=locals())
        """),
        md("""
        ## Moving tensors

        `.to(device)` returns a copy on another device (or the tensor itself when it is
        already there); `.cpu()` and `.cuda()` are shortcuts. A copy made from a tensor that
        requires grad is part of the graph, so gradients flow back across devices.
        """),
        code("""
        a = torch.tensor([1.0, 2.0], requires_grad=True)   # on the CPU
        b = a.to(device)
        (b * b).sum().backward()
        print(a.grad)
        """),
        md("""
        ## Recap

        - `device = "cuda" if torch.cuda.is_available() else "cpu"` picks the GPU when there
          is one; everything else in the code stays the same.
        - `device=` places a tensor; operations keep results on their inputs' device;
          gradients are stored on the device of the leaf.
        - `.cpu()` brings values back for printing and NumPy; `.to(device)` moves tensors and
          keeps them in the graph.
        - Without a GPU, `device="cuda"` raises `AssertionError: Torch not compiled with CUDA
          enabled`, as in PyTorch.

        Next: [10 A training loop](10_training_loop.ipynb).
        """),
    ]


# =============================================================================================
# 10 - training loop
# =============================================================================================
def nb10():
    cells = [
        md("""
        # 10 · A small training loop

        **What you'll learn**

        - a training loop written by hand: forward, loss, `backward()`, an update under
          `no_grad`, and a reset of the gradients;
        - the same loop with `nn` (a model and a loss) and `optim` (the update);
        - how to look at the graph of one training step, and watch it while a cell runs.
        """),
        setup("""
        from nbautograd import nn
        import math"""),
        md("""
        ## The task

        Fit $\\sin x$ on $[-\\pi, \\pi]$, first with a cubic polynomial
        $a + bx + cx^2 + dx^3$ — four numbers to learn — then with a small neural network.
        """),
        code("""
        x = torch.linspace(-math.pi, math.pi, 200)
        y = torch.sin(x)
        x.shape, y.shape
        """),
        md("""
        ## By hand

        The four coefficients are leaves that require grad, starting at zero. The loss is the
        mean squared error. Here is the graph that one step builds — before any training:
        """),
        code("""
        a, b, c, d = (torch.zeros((), requires_grad=True) for _ in range(4))
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = ((y_pred - y) ** 2).mean()
        viz.draw(loss, names=locals())
        """),
        md("""
        `x`, `x ** 2` and `x ** 3` are dashed: they do not require grad, so they are constants
        to autograd. Every training step repeats the lessons of the previous notebooks:
        `backward()` fills the leaves' `.grad` ([01](01_tensors_and_leaves.ipynb)), the update
        happens under `no_grad` ([07](07_switching_gradients_off.ipynb)), and the gradients
        are reset because they would accumulate ([04](04_accumulation.ipynb)).
        """),
        code("""
        learning_rate = 0.005

        for step in range(1000):
            y_pred = a + b * x + c * x ** 2 + d * x ** 3     # forward
            loss = ((y_pred - y) ** 2).mean()              # loss
            loss.backward()                                # backward
            with torch.no_grad():
                for coef in (a, b, c, d):
                    coef -= learning_rate * coef.grad      # update
                    coef.grad = None                       # reset
            if step % 200 == 0 or step == 999:
                print(f"step {step:4d}  loss {loss.item():.4f}")
        """),
        code("""
        print(f"b = {b.item():.3f}, d = {d.item():.4f}")
        print("a and c are (almost) zero:", abs(a.item()) < 1e-4 and abs(c.item()) < 1e-4)
        """),
        md("""
        $\\sin x$ is an odd function, so the even terms $a$ and $c$ stay at zero. Its Taylor
        series starts $x - x^3/6$, but a fit is not a Taylor series: $b$ and $d$ move away
        from $1$ and $-0.1667$ to be good on the whole interval, not only near 0.

        The learning rate must be small: $x^3$ reaches $\\pi^3 \\approx 31$, and with a step of
        0.05 the updates overshoot and the loss blows up to `nan`.

        ## With `nn` and `optim`

        `nn.Linear` holds its weights as `Parameter`s (leaves that require grad),
        `nn.MSELoss` is the loss, and `optim.SGD` does the `no_grad` update. A small network
        — one hidden layer of 16 `tanh` units — replaces the polynomial. Its weights start
        random, so we seed the generator to make every run the same.
        """),
        code("""
        _ = torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))
        loss_fn = nn.MSELoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        X, Y = x.unsqueeze(1), y.unsqueeze(1)   # shape (200, 1): 200 samples of one feature
        model
        """),
        md("""
        The parameters are leaves that require grad:
        """),
        code("""
        for name, p in model.named_parameters():
            print(f"{name:9} {str(tuple(p.shape)):8} is_leaf={p.is_leaf}  requires_grad={p.requires_grad}")
        """),
        md("""
        Pictures label tensors with the names of your variables. The parameters live inside
        the model, so give them names:
        """),
        code("w1, b1, w2, b2 = model.parameters()"),
        md("""
        ## Watching one step while it runs

        `%%autograd --live` redraws the graph while the cell runs (about ten times a second),
        then replaces it with the full report; `-o report` also keeps the report in a
        variable. Here is one training step — the four lines of every PyTorch training loop:
        """),
        code("""
        %%autograd --live --no-ledger -o report
        # NBVAL_IGNORE_OUTPUT
        # (a live display is updated in place; the notebook tests see only its first frame)
        optimizer.zero_grad()            # reset: .grad = None on every parameter
        loss = loss_fn(model(X), Y)      # forward and loss
        loss.backward()                  # backward: fills .grad
        optimizer.step()                 # update, under no_grad
        """),
        md("""
        The final report, displayed again from the variable:
        """),
        code("report"),
        md("""
        Read it from the bottom: `X` (dashed, a constant) meets `w1` and `b1` in
        `AddmmBackward0` (`X @ w1.T + b1`), then `tanh`, then the second layer, then the loss.
        The red labels are the gradients that flowed back; the parameters show their `grad`,
        and an orange border with a `version` count: `optimizer.step()` (and, before it, the
        random initialisation) changed them in place.
        """),
    ]
    cells += WIDGET_CELLS_10()
    cells += [
        md("""
        ## Training

        The same four lines in a loop:
        """),
        code("""
        for step in range(1000):
            optimizer.zero_grad()
            loss = loss_fn(model(X), Y)
            loss.backward()
            optimizer.step()
            if step % 200 == 0 or step == 999:
                print(f"step {step:4d}  loss {loss.item():.4f}")
        """),
        md("""
        With its 49 parameters the network ends with about half the loss of the cubic — and
        each of those thousand steps built the graph above, walked it backward, and threw it
        away.
        """),
        md("""
        ## Recap

        - A training step is: forward, loss, `backward()`, an update under `no_grad`, and a
          reset of `.grad` — by hand, or as `optimizer.zero_grad()`, `loss.backward()`,
          `optimizer.step()`.
        - `nn` modules keep their weights as `Parameter`s: leaves that require grad.
        - `viz.draw(loss, names=locals())` draws one step's graph; `%%autograd --live` draws
          it while the cell runs.

        That is the end of the course. Back to the [tour](00_tour.ipynb).
        """),
    ]
    return cells


# --- widget cells ---------------------------------------------------------------------------
# Widgets need a running kernel: a static page shows their saved state (or only their name), so
# each widget cell is followed by a cell that drives the widget from code and prints the result.
def WIDGET_CELLS_00():  # noqa: N802
    return [
        md("""
        ## Widgets: make autograd happen yourself

        `nbautograd.widgets` lets you drive autograd with sliders and buttons. Widgets need a
        running kernel: on a static page you see at most their last picture, so run the
        notebook (on Binder, say) to play with them.

        `explore` puts a slider on each input of a function; move it and the graph's values
        and gradients follow:
        """),
        code("""
        from nbautograd.widgets import explore, TapePlayer

        explore(lambda x: torch.sin(x) + torch.cos(x), x=2.0)
        """),
        md("""
        `TapePlayer` replays the tape: first the forward operations in the order they ran,
        then every step of the backward pass, with the chain rule in numbers — the gradient
        arriving from above times the step's local derivative. Press play, or drag the
        slider.
        """),
        code("""
        x = torch.tensor(2.0, requires_grad=True)
        y = torch.sin(x) + torch.cos(x)
        player = TapePlayer(y, names=locals())
        player
        """),
        md("""
        The backward steps, driven from code and printed as text:
        """),
        code("""
        for step in range(player.n_forward + 1, len(player.plan.steps) + 1):
            player.slider.value = step
            print(player.current.chain.text())
        """),
        md("""
        More widgets come later in the course: `GradAccumulator` turns `backward()` and the
        gradient resets into buttons ([04](04_accumulation.ipynb)), `JacobianExplorer` fills a
        Jacobian one backward pass at a time ([05](05_jacobian_rows.ipynb)), and
        `GraphWidget` is a graph that redraws itself while code runs
        ([10](10_training_loop.ipynb)).
        """),
    ]


def WIDGET_CELLS_02():  # noqa: N802
    return [
        md("""
        `TapePlayer` replays the same chain one step at a time (press play, or drag the
        slider). Each backward step shows the gradient arriving from above times that step's
        local derivative:
        """),
        code("""
        from nbautograd.widgets import TapePlayer

        x = torch.tensor(2.0, requires_grad=True)
        a = x ** 2
        b = 3 * a + 5
        c = torch.sin(b)
        d = 2 * c
        player = TapePlayer(d, names=locals())
        player
        """),
        md("""
        The backward steps as text (the player works them out without touching `x.grad`):
        """),
        code("""
        for step in range(player.n_forward + 1, len(player.plan.steps) + 1):
            player.slider.value = step
            print(player.current.chain.text())
        """),
    ]


def WIDGET_CELLS_04():  # noqa: N802
    return [
        md("""
        ## Try it: `GradAccumulator`

        The four things that change `.grad` — `backward()`, `backward(retain_graph=True)`,
        `grad.zero_()` and `grad = None` — as buttons, with the ledger of `x.grad` after every
        click, a chart of it, and the graph (freed values greyed out).
        """),
        code("""
        from nbautograd.widgets import GradAccumulator

        x = torch.tensor(2.0, requires_grad=True)
        y = torch.sin(x) + torch.cos(x)
        acc = GradAccumulator(y, {"x": x})
        acc
        """),
        md("""
        Press `backward(retain_graph=True)` a few times and watch `x.grad` grow; reset it;
        then press `backward()` twice to meet the error of the section above — the widget
        shows it instead of raising it. The next cell presses the buttons from code:
        """),
        code("""
        acc.retain_button.click()
        acc.retain_button.click()
        acc.zero_button.click()
        acc.retain_button.click()
        acc.backward_button.click()
        acc.backward_button.click()
        print(acc.values("x"))
        print(acc.error.split(" (")[0])
        """),
    ]


def WIDGET_CELLS_05():  # noqa: N802
    return [
        md("""
        ## Try it: `JacobianExplorer`

        Pick an output element with the slider: the widget shows its one-hot vector, runs
        one backward pass with it and fills that row of the heatmap. "fill all rows" does the
        rest; every row is checked against `jacobian(..., vectorize=True)`, which sends all
        the one-hot vectors through a single batched backward pass.
        """),
        code("""
        from nbautograd.widgets import JacobianExplorer

        explorer = JacobianExplorer(vector_func, torch.tensor([1.0, 2.0, 3.0]))
        explorer
        """),
        md("""
        The same from code: select row 2, then fill the rest.
        """),
        code("""
        explorer.selector.value = 2
        explorer.fill_button.click()
        print(explorer)
        print([row.tolist() for row in explorer.rows])
        """),
    ]


def WIDGET_CELLS_10():  # noqa: N802
    return [
        md("""
        ## A graph that follows the code: `GraphWidget`

        `GraphWidget(loss, names=locals())` draws `loss`'s graph and redraws it (at most
        about ten times a second) whenever autograd does something to it. Make one for a
        fresh step's loss:
        """),
        code("""
        from nbautograd.widgets import GraphWidget

        optimizer.zero_grad()
        loss = loss_fn(model(X), Y)
        graph = GraphWidget(loss, names=locals())
        graph
        """),
        md("""
        Now run the next cell and look at the picture above: the gradients appear on the
        edges as `backward()` computes them, and the parameters' version counts go up when
        the optimizer updates them.
        """),
        code("""
        loss.backward()
        optimizer.step()
        """),
        md("""
        `stop()` freezes the picture and lets go of the graph (the widget keeps plain data
        only):
        """),
        code("""
        graph.stop()
        graph
        """),
    ]


NOTEBOOKS = {
    "00_tour": nb00,
    "01_tensors_and_leaves": nb01,
    "02_derivatives_and_graphs": nb02,
    "03_non_scalar_outputs": nb03,
    "04_accumulation": nb04,
    "05_jacobian_rows": nb05,
    "06_higher_order": nb06,
    "07_switching_gradients_off": nb07,
    "08_manual_and_custom_function": nb08,
    "09_gpu": nb09,
    "10_training_loop": nb10,
}


# =============================================================================================
# building and executing
# =============================================================================================
def build(name: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = NOTEBOOKS[name]()
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name[:2]}-{i:02d}"             # stable ids: rebuilding gives no churn
        if cell.cell_type == "code" and RAISES.search(cell.source):
            # the tag lets "Run All" in JupyterLab (and nbconvert --execute) go on past the
            # expected error; nbval reads the comment and the tag alike
            cell.metadata["tags"] = ["raises-exception"]
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                       "name": "python3"},
        "language_info": {"name": "python"},
    }
    return nb


RAISES = re.compile(r"^\s*#\s*NBVAL_RAISES_EXCEPTION\s*$", re.M)


def _kernel_env() -> tempfile.TemporaryDirectory:
    """A kernelspec named python3 that runs this interpreter, first on JUPYTER_PATH."""
    tmp = tempfile.TemporaryDirectory()
    spec = Path(tmp.name) / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)", "language": "python"}))
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [tmp.name] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p])
    return tmp


def execute(nb: nbformat.NotebookNode, name: str) -> list[str]:
    """Run the notebook in place; return the problems found."""
    from nbclient import NotebookClient  # noqa: PLC0415
    client = NotebookClient(nb, kernel_name="python3", timeout=600, allow_errors=True,
                            record_timing=False, resources={"metadata": {"path": str(NB_DIR)}})
    client.execute()
    nb.metadata["language_info"] = {"name": "python"}     # no interpreter version churn
    problems = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        expected = bool(RAISES.search(cell.source))
        first = cell.source.splitlines()[0] if cell.source else ""
        if errors and not expected:
            problems.append(f"{name} [{cell.id}] raised {errors[0].ename}: {errors[0].evalue} "
                            f"({first!r})")
        if expected and not errors:
            problems.append(f"{name} [{cell.id}] should raise but did not ({first!r})")
        for o in cell.outputs:
            text = json.dumps(o.get("text", "")) + json.dumps(o.get("data", {}))
            if "ipykernel_" in text or "/tmp/" in text:
                problems.append(f"{name} [{cell.id}] output depends on the run: {text[:200]}")
            if o.output_type == "stream" and o.name == "stderr" and "Warning" not in o.text:
                problems.append(f"{name} [{cell.id}] wrote to stderr: {o.text[:200]!r}")
    return problems


def sources(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("only", nargs="*", help="build only notebooks whose names start so")
    ap.add_argument("--no-execute", action="store_true", help="write without executing")
    ap.add_argument("--check", action="store_true",
                    help="only check that the committed notebooks have these cells")
    args = ap.parse_args(argv)
    names = [n for n in NOTEBOOKS if not args.only or any(n.startswith(o) for o in args.only)]
    if args.check:
        stale = []
        for name in names:
            path = NB_DIR / f"{name}.ipynb"
            if not path.exists() or sources(nbformat.read(path, 4)) != sources(build(name)):
                stale.append(name)
        for name in stale:
            print(f"stale: notebooks/{name}.ipynb (run tools/build_notebooks.py {name[:2]})")
        return 1 if stale else 0
    NB_DIR.mkdir(exist_ok=True)
    problems = []
    tmp = None if args.no_execute else _kernel_env()
    try:
        for name in names:
            nb = build(name)
            if not args.no_execute:
                print(f"executing {name} ...", flush=True)
                problems += execute(nb, name)
            nbformat.validate(nb)
            nbformat.write(nb, NB_DIR / f"{name}.ipynb")
    finally:
        if tmp is not None:
            tmp.cleanup()
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
