"""A batch of cotangents with the structure of the identity: ``jacobian(vectorize=True)``.

A vectorized Jacobian starts its backward pass from ``eye(n)``: row ``b`` is the one-hot
``e_b``. Stored densely, every elementwise rule then costs O(n**2) and a matrix-vector product's
rule becomes an (n x n) @ (n x m) GEMM, although the closed form of, say, the Jacobian of
``tanh(A @ x) * x`` is ``diag(...) + v[:, None] * A``: O(n m).

``DiagonalBatch`` keeps that structure as two vectors: ``d``, the diagonal, and ``c``, the value
every off-diagonal entry of a column holds (zero at the start). An elementwise operation with an
operand that is not batched maps entry ``(b, j)`` to ``f(g[b, j], v[j])``, so it maps ``d`` and
``c`` alike and the structure survives, bit for bit: ``0 * -2`` is ``-0.`` and ``0 / 0`` is
``nan`` here exactly as in the dense batch. A product with a matrix keeps the closed form when
every off-diagonal entry is zero and the matrix is finite (then each entry of the dense product
has one nonzero term). Anything else materializes the dense batch, so every rule still sees an
array with the values it expects; the engine densifies before rules not declared to keep it.

>>> import numpy as np
>>> g = DiagonalBatch.identity((3,), np.dtype("float32")) * np.float32(2)
>>> np.asarray(g)
array([[2., 0., 0.],
       [0., 2., 0.],
       [0., 0., 2.]], dtype=float32)
"""
from __future__ import annotations

import math

import numpy as np
from numpy import ndarray

_SCALARS = (int, float, complex, bool, np.generic)


class DiagonalBatch(np.lib.mixins.NDArrayOperatorsMixin):
    """The batch ``G`` with ``G[b, j] = d[b]`` if ``j == b`` else ``c[j]``, of shape
    ``shape = (n,) + logical`` with ``n`` the number of elements of ``logical``."""

    __slots__ = ("d", "c", "shape")

    def __init__(self, d: ndarray, c: ndarray, shape: tuple):
        self.d, self.c, self.shape = d, c, shape

    @classmethod
    def identity(cls, logical: tuple, dtype) -> DiagonalBatch:
        """``eye(n)`` seen as a batch of ``n`` one-hot cotangents of shape ``logical``."""
        n = math.prod(logical)
        return cls(np.ones(n, dtype), np.zeros(n, dtype), (n,) + tuple(logical))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self):
        return self.d.dtype

    @property
    def size(self) -> int:
        return self.d.size * self.c.size

    def dense(self) -> ndarray:
        """The batch as a fresh array (nobody else holds it: the engine may add into it)."""
        n = self.d.size
        out = np.empty((n, n), self.d.dtype)
        out[...] = self.c
        out.reshape(-1)[::n + 1] = self.d
        return out.reshape(self.shape)

    def __array__(self, dtype=None, copy=None):
        out = self.dense()
        return out if dtype is None else out.astype(dtype, copy=False)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        return self.dense()[key]

    def __getattr__(self, name):
        # any other array method (sum, astype, copy, transpose...) on the dense batch
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.dense(), name)

    def reshape(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
        if len(shape) >= 1 and shape[0] == self.shape[0] and -1 not in shape \
                and math.prod(shape[1:]) == self.c.size:
            return DiagonalBatch(self.d, self.c, shape)  # only the logical shape changes
        return self.dense().reshape(shape)

    def astype(self, dtype, copy=True):
        return DiagonalBatch(self.d.astype(dtype), self.c.astype(dtype), self.shape)

    def _column_values(self, operand):
        """``operand`` as one value per column (flat), if it is not batched; else None."""
        if isinstance(operand, _SCALARS):
            return operand
        if type(operand) is not ndarray:
            return None
        logical = self.shape[1:]
        if operand.ndim == 0:
            return operand
        if operand.shape == logical:
            return operand.reshape(-1)
        if operand.ndim <= len(logical):
            try:
                if np.broadcast_shapes(operand.shape, logical) == logical:
                    return np.broadcast_to(operand, logical).reshape(-1)
            except ValueError:
                return None
        return None

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__" and not kwargs and ufunc.nout == 1:
            if ufunc is np.matmul:
                out = self._matmul(*inputs)
                if out is not None:
                    return out
            elif ufunc.signature is None:
                out = self._elementwise(ufunc, inputs)
                if out is not None:
                    return out
        dense = tuple(x.dense() if type(x) is DiagonalBatch else x for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(x.dense() if type(x) is DiagonalBatch else x
                                  for x in kwargs["out"])
        return getattr(ufunc, method)(*dense, **kwargs)

    def _elementwise(self, ufunc, inputs):
        diag, off = [], []
        full = None  # the position of a dense operand of the batch's own shape
        for k, x in enumerate(inputs):
            if type(x) is DiagonalBatch:
                if x.shape != self.shape:
                    return None
                diag.append(x.d)
                off.append(x.c)
                continue
            v = self._column_values(x)
            if v is None:
                if full is not None or type(x) is not ndarray or x.shape != self.shape:
                    return None
                full = k
                diag.append(None)
                off.append(None)
                continue
            diag.append(v)
            off.append(v)
        if full is None:
            return DiagonalBatch(ufunc(*diag), ufunc(*off), self.shape)
        # with a dense batch: every entry from the column values, then the diagonal fixed
        n = self.d.size
        dense2 = inputs[full].reshape(n, n)
        off[full] = dense2
        out = ufunc(*off)
        i = np.arange(n)
        diag[full] = dense2[i, i]
        out[i, i] = ufunc(*diag)
        return out.reshape(self.shape)

    def _matmul(self, a, b):
        # batch (n, k) @ matrix (k, m): row b of the product is d[b] * matrix[b] when all
        # off-diagonal entries are zero and the matrix is finite (no 0 * inf terms)
        if a is not self or self.ndim != 2 or type(b) is not ndarray or b.ndim != 2 \
                or b.shape[0] != self.shape[1] or self.c.any() \
                or not np.isfinite(b).all():
            return None
        out = self.d[:, None] * b
        out += 0  # BLAS sums signed zeros to +0: so does this
        return out
