import zlib

import numpy as np
import pytest


@pytest.fixture
def rng(request):
    """A Generator seeded from the test's name: reproducible, and different per test."""
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


@pytest.fixture(params=["numpy", "exp"])
def tanh_route(request, monkeypatch):
    """Run the test with float64 tanh through np.tanh and through exp: a machine takes one
    route or the other (scratchnet.activations.EXP_ROUTE), and both must pass."""
    from scratchnet import activations

    monkeypatch.setattr(activations, "EXP_ROUTE",
                        {np.dtype(np.float64)} if request.param == "exp" else set())
    return request.param
