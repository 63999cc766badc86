import numpy as np
import pytest

from scratchnet.loss import SoftmaxRegression, log_softmax
from scratchnet.verify import softmax_gradient_test

from helpers import describe, random_batch

SHAPES = [(2, 2, 7), (5, 5, 31), (3, 4, 1)]  # (n, k, m)


@pytest.mark.parametrize("n,k,m", SHAPES)
def test_loss_is_the_mean_cross_entropy(rng, n, k, m):
    X, C = random_batch(rng, n, k, m)
    head = SoftmaxRegression(n, k, rng)
    head.params["b"][...] = rng.standard_normal((k, 1))
    Z = head.params["W"].T @ X + head.params["b"]
    P = np.exp(Z) / np.exp(Z).sum(axis=0)
    expected = -np.mean(np.log(P[C.argmax(axis=0), np.arange(m)]))
    assert head.forward(X, C) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(head.predict_proba(X), P, rtol=1e-12)
    np.testing.assert_array_equal(head.predict(X), P.argmax(axis=0))


def test_loss_is_stable_for_huge_logits(rng):
    X, C = random_batch(rng, 2, 3, 10)
    head = SoftmaxRegression(2, 3, rng)
    head.params["W"][...] = 1e4 * np.sign(rng.standard_normal((2, 3)))
    loss, grads = head.loss_and_grad(1e4 * X, C)
    P = head.predict_proba(1e4 * X)
    assert np.isfinite(loss)
    assert all(np.isfinite(g).all() for g in grads.values())
    np.testing.assert_allclose(P.sum(axis=0), 1.0, rtol=1e-12)
    assert np.allclose(log_softmax(np.array([[1e4], [0.0]])), [[0.0], [-1e4]])


@pytest.mark.parametrize("n,k,m", SHAPES)
@pytest.mark.parametrize("wrt", ["W", "b", "X"])
def test_gradient_test_passes(rng, n, k, m, wrt):
    X, C = random_batch(rng, n, k, m)
    head = SoftmaxRegression(n, k, rng)
    head.params["b"][...] = rng.standard_normal((k, 1))
    result = softmax_gradient_test(head, X, C, wrt, rng)
    assert result.passes(min_halvings=6, tol=0.2), describe(result)
    # about 2 and 4 per halving where the Taylor remainder dominates round-off
    ratios = result.ratio_second[4:result.clean_rows() - 1]
    assert np.all(np.abs(ratios - 4) < 0.2), describe(result)
    assert np.all(np.abs(result.ratio_first[8:] - 2) < 0.2), describe(result)


@pytest.mark.parametrize("wrt", ["W", "b", "X"])
def test_gradient_test_fails_for_a_flipped_sign(rng, wrt, monkeypatch):
    X, C = random_batch(rng, 3, 4, 20)
    head = SoftmaxRegression(3, 4, rng)
    original = SoftmaxRegression.loss_and_grad

    def flipped(self, X, C):
        loss, grads = original(self, X, C)
        grads[wrt] = -grads[wrt]
        return loss, grads

    monkeypatch.setattr(SoftmaxRegression, "loss_and_grad", flipped)
    result = softmax_gradient_test(head, X, C, wrt, rng)
    assert not result.passes(), describe(result)
    assert abs(result.order("second") - 1) < 0.2, describe(result)


def test_gradient_test_fails_for_the_gradient_of_the_sum(rng, monkeypatch):
    """A loss of the mean with the gradient of the sum: the pitfall the style warns about."""
    X, C = random_batch(rng, 3, 4, 20)
    head = SoftmaxRegression(3, 4, rng)
    original = SoftmaxRegression.loss_and_grad

    def summed(self, X, C):
        loss, grads = original(self, X, C)
        return loss, {key: X.shape[1] * g for key, g in grads.items()}

    monkeypatch.setattr(SoftmaxRegression, "loss_and_grad", summed)
    assert not softmax_gradient_test(head, X, C, "W", rng).passes()
