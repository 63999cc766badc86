import numpy as np
import pytest

from scratchnet.verify import gradient_test


def test_summary_of_a_quadratic():
    """f(x) = x^T x / 2: the second-order error is eps^2/2 exactly, halving quarters it."""
    x = np.array([0.3, -1.2, 2.0])
    d = np.array([1.0, 0.0, 0.0])
    result = gradient_test(lambda v: 0.5 * v @ v, x, x, d, eps0=0.5, K=12)
    np.testing.assert_allclose(result.second, 0.5 * result.eps ** 2, rtol=1e-6)
    summary = result.summary()
    assert abs(summary["order_second"] - 2) < 1e-3 and abs(summary["median_ratio_second"] - 4) < 1e-3
    assert summary["clean_rows_second"] == 12 and result.passes()


def test_the_network_gradient_test_refuses_float32(rng):
    from scratchnet import make_network
    from scratchnet.verify import network_gradient_test

    net = make_network("standard", 2, 3, depth=1, width=4, dtype="float32")
    X, C = rng.standard_normal((2, 5)), np.eye(3)[:, rng.integers(0, 3, 5)]
    with pytest.raises(ValueError, match="the gradient test runs in float64"):
        network_gradient_test(net, X, C, rng)
