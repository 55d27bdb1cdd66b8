"""torch.nn: the functional layer (``nn.functional``) that the autograd tutorials touch."""
from . import functional  # noqa: F401
