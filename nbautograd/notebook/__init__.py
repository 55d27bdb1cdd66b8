"""The notebook front: the ``%%autograd`` report and the IPython magics.

``%load_ext nbautograd`` registers the magics; the report object can also be built without
IPython from a ``nbautograd.recording.Recording``.
"""
from .report import AutogradReport, build_report  # noqa: F401
