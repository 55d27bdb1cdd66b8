"""Shared pytest configuration for the nbautograd differential test-suite.

The module under test is selected with the ``NBAUTOGRAD_TEST_ENGINE``
environment variable (default: ``nbautograd``).  Running the suite with
``NBAUTOGRAD_TEST_ENGINE=torch`` compares real PyTorch against itself: every
test must pass in that configuration, which is how the oracle itself is
validated.
"""

import importlib
import os

import pytest

ENGINE_ENV = "NBAUTOGRAD_TEST_ENGINE"


def engine_name():
    return os.environ.get(ENGINE_ENV, "nbautograd")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: long-running test (deep graphs etc.)"
    )
    config.addinivalue_line(
        "markers", "nb_only: checks a property of the engine without a torch comparison"
    )
    config.addinivalue_line(
        "markers", "gpu: needs a CUDA GPU through CuPy (skipped without one)"
    )


def pytest_report_header(config):
    return f"nbautograd differential tests: engine under test = {engine_name()!r}"


@pytest.fixture(scope="session")
def nb():
    """The module under test (``nbautograd`` or, for oracle validation, ``torch``)."""
    return importlib.import_module(engine_name())


@pytest.fixture(autouse=True)
def _restore_grad_mode(request):
    """Make sure a failing test cannot leak a disabled grad mode into the next one."""
    yield
    if "nb" in request.fixturenames:
        mod = request.getfixturevalue("nb")
        setter = getattr(mod, "set_grad_enabled", None)
        if setter is not None:
            try:
                setter(True)
            except Exception:  # pragma: no cover - engine bug, reported elsewhere
                pass
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_grad_enabled(True)
