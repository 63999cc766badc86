import numpy as np
import pytest

from scratchnet.optim import (SGD, Adam, Constant, Cosine, Momentum, StepDecay, make_optimizer,
                              make_schedule)


def least_squares(rng, m=40, n=5):
    """f(x) = ||A x - y||^2 / (2 m) with its known minimiser x* (a well-conditioned A)."""
    A = rng.standard_normal((m, n))
    y = rng.standard_normal(m)
    x_star = np.linalg.lstsq(A, y, rcond=None)[0]
    return (lambda x: A.T @ (A @ x - y) / m), x_star


@pytest.mark.parametrize("make,iterations", [
    (lambda: SGD(0.5), 400),
    (lambda: Momentum(0.1, beta=0.9), 400),
    (lambda: Momentum(0.1, beta=0.9, nesterov=True), 400),
])
def test_optimizer_minimises_least_squares(rng, make, iterations):
    grad, x_star = least_squares(rng)
    opt = make()
    x = np.zeros_like(x_star)
    for _ in range(iterations):
        opt.step({"x": x}, {"x": grad(x)})
    assert np.abs(x - x_star).max() < 1e-6, f"{type(opt).__name__}: error {np.abs(x - x_star).max():.2e}"


def test_adam_minimises_least_squares_with_a_decaying_rate(rng):
    grad, x_star = least_squares(rng)
    opt = Adam(0.05)
    schedule = StepDecay(0.05, step=300, gamma=0.3)
    x = np.zeros_like(x_star)
    for t in range(3000):
        opt.lr = schedule(t)
        opt.step({"x": x}, {"x": grad(x)})
    assert np.abs(x - x_star).max() < 1e-6, f"Adam: error {np.abs(x - x_star).max():.2e}"


def test_adam_first_step_is_bias_corrected():
    """After one step the corrected moments are g and g**2, so each entry moves by lr * sign(g)."""
    g = np.array([1e-3, -2.0, 50.0])
    x = np.zeros(3)
    Adam(lr=0.1).step({"x": x}, {"x": g})
    np.testing.assert_allclose(x, -0.1 * np.sign(g), rtol=1e-4)


def test_momentum_matches_its_recursion_by_hand():
    x, g = np.array([1.0]), np.array([2.0])
    opt = Momentum(0.1, beta=0.5)
    opt.step({"x": x}, {"x": g})  # v = 2, x = 1 - 0.2
    opt.step({"x": x}, {"x": g})  # v = 3, x = 0.8 - 0.3
    assert x[0] == pytest.approx(0.5)
    y = np.array([1.0])
    nesterov = Momentum(0.1, beta=0.5, nesterov=True)
    nesterov.step({"y": y}, {"y": g})  # v = 2, y = 1 - 0.1 * (2 + 1)
    assert y[0] == pytest.approx(0.7)


def test_state_is_per_parameter(rng):
    opt = Adam(0.1)
    a, b = np.zeros(2), np.zeros(3)
    opt.step({"a": a}, {"a": np.ones(2)})
    opt.step({"a": a, "b": b}, {"a": np.ones(2), "b": np.ones(3)})
    assert opt.state["a"]["t"] == 2 and opt.state["b"]["t"] == 1


def test_schedules():
    assert [Constant(0.1)(e) for e in (0, 50)] == [0.1, 0.1]
    assert [StepDecay(1.0, step=2, gamma=0.5)(e) for e in range(5)] == [1, 1, .5, .5, .25]
    cosine = Cosine(1.0, epochs=10, lr_min=0.01)
    assert cosine(0) == pytest.approx(1.0) and cosine(10) == pytest.approx(0.01)
    assert cosine(5) == pytest.approx(0.505)
    assert make_schedule("step", 1.0, 8)(2) == 0.5


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
def test_make_optimizer(name):
    assert make_optimizer(name, 0.01).lr == 0.01


def test_bad_optimizer_arguments():
    with pytest.raises(ValueError, match="learning rate must be positive"):
        SGD(-1)
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("rmsprop", 0.1)
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("linear", 0.1, 10)


def test_make_optimizer_passes_the_momentum_beta():
    assert make_optimizer("momentum", 0.1, beta=0.5).beta == 0.5
    assert make_optimizer("nesterov", 0.1).beta == 0.9
