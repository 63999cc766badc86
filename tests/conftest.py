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
                        {np.dtype(np.float64): 0, np.dtype(np.float32): 0}
                        if request.param == "exp" else {})
    return request.param


@pytest.fixture(params=["fresh", "reused"])
def buffers(request, monkeypatch):
    """Run the test with a training step's arrays allocated afresh (as small networks do) and
    with every one of them reused from step to step, however small (as wide networks do)."""
    from scratchnet import layers

    if request.param == "reused":
        monkeypatch.setattr(layers, "REUSE_FROM", 1)
    else:
        monkeypatch.setattr(layers, "REUSE_FROM", float("inf"))
    return request.param
