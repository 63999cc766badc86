"""Tests of input_noise, the batch transform that adds Gaussian noise to the training inputs."""
import numpy as np
import pytest

from scratchnet import make_network, train
from scratchnet.optim import SGD
from scratchnet.study import input_noise, seeded


def test_input_noise_has_the_asked_spread_per_feature():
    sigma = np.array([[0.5], [2.0]])
    X = np.ones((2, 20000))
    noisy = input_noise(sigma)(X, np.random.default_rng(0))
    assert noisy.shape == X.shape
    np.testing.assert_allclose(noisy.mean(axis=1), [1.0, 1.0], atol=0.05,
                               err_msg="the noise must have mean zero")
    np.testing.assert_allclose(noisy.std(axis=1), [0.5, 2.0], rtol=0.03,
                               err_msg="the noise of each feature must have its own sigma")
    assert np.array_equal(X, np.ones((2, 20000))), "the input must not be changed in place"


def test_input_noise_zero_is_the_identity_and_bad_levels_are_refused():
    X = np.random.default_rng(1).standard_normal((3, 7))
    assert np.array_equal(input_noise(0.0)(X, np.random.default_rng(2)), X)
    for bad in (-0.1, np.nan, [[0.1], [-1.0]]):
        with pytest.raises(ValueError, match="noise level"):
            input_noise(bad)


def test_train_with_input_noise_is_seeded_and_differs_from_clean_training():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((2, 60))
    C = np.eye(2)[:, (X[0] > 0).astype(int)]

    def run(transform):
        init, training = seeded(4)
        net = make_network("standard", 2, 2, 1, 8, seed=init)
        train(net, X, C, X, C, SGD(0.1), epochs=3, batch_size=10, rng=training,
              transform=transform)
        return net.get_params()

    noisy = run(input_noise(0.3))
    assert np.array_equal(noisy, run(input_noise(0.3))), "the same seed must give the same run"
    assert not np.allclose(noisy, run(None)), "the noise must change the steps"


def test_seed_margin_is_the_wider_of_the_margin_and_the_spreads():
    from scratchnet.study import MARGIN, seed_margin, spread

    tight, loose = spread([0.90, 0.9001, 0.9002]), spread([0.88, 0.90, 0.92])
    assert seed_margin(tight, tight) == MARGIN
    assert seed_margin(tight, loose) == pytest.approx(0.02)
    assert seed_margin(loose, tight, margin=0.05) == 0.05
