"""Tests of the helpers Part I added to scratchnet.study: contraction and lbfgs."""
import math

import numpy as np
import pytest

from scratchnet import make_network, train
from scratchnet.optim import Cosine, Momentum
from scratchnet.study import contraction, lbfgs

from helpers import one_hot


def test_contraction_of_a_geometric_sequence():
    errors = 3.0 * 0.9 ** np.arange(50)
    assert contraction(errors) == pytest.approx(0.9, rel=1e-12)
    # Steps at round-off (below floor times the first error) are left out of the fit.
    errors[30:] = 1e-20
    assert contraction(errors) == pytest.approx(0.9, rel=1e-12)
    assert math.isnan(contraction([1.0, 0.0, 0.0]))


def test_contraction_from_a_later_step_sees_the_slowest_direction():
    steps = np.arange(200)
    errors = 0.5 ** steps + 0.99 ** steps  # a fast and a slow direction
    assert contraction(errors, start=100) == pytest.approx(0.99, abs=1e-6)
    assert contraction(errors) < 0.99


def blobs(rng, m, k=3, n=2):
    centres = 2.0 * rng.standard_normal((n, k))
    labels = rng.integers(0, k, m)
    return centres[:, labels] + 1.5 * rng.standard_normal((n, m)), one_hot(labels, k)


def test_lbfgs_reaches_a_zero_gradient_that_sgd_cannot_beat(rng):
    X, C = blobs(rng, 300)
    net = make_network(n_features=2, n_classes=3, depth=0, seed=1)
    result = lbfgs(net, X, C)
    loss, grad = net.loss_and_grad(X, C)
    assert result.success, result.message
    assert np.linalg.norm(grad) < 1e-8, f"gradient norm {np.linalg.norm(grad):.1e} at the optimum"
    np.testing.assert_array_equal(net.get_params(), result.x)
    assert loss == pytest.approx(result.fun, abs=1e-12)
    # The loss is convex: no training of the same model ends below it.
    other = make_network(n_features=2, n_classes=3, depth=0, seed=2)
    history = train(other, X, C, X, C, Momentum(0.01), epochs=30, batch_size=16,
                    rng=np.random.default_rng(0), schedule=Cosine(0.01, 30, lr_min=1e-4))
    assert history.train_loss[-1] >= loss - 1e-12, (history.train_loss[-1], loss)
    assert history.train_loss[-1] - loss < 1e-2, "SGD should get near the optimum"
