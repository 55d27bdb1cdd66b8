"""Differentiable ops. Each module declares its ops (forward and VJP side by side) as
``Node`` subclasses and attaches the public functions as Tensor methods."""
from . import elementwise, reductions, views, indexing, linalg, joins  # noqa: F401
