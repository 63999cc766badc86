import numpy as np
import pytest

from scratchnet.activations import ACTIVATIONS, get_activation
from scratchnet.layers import ResidualLayer, StandardLayer
from scratchnet.verify import layer_jacobian_test, layer_transpose_test

from helpers import describe

STANDARD_SHAPES = [(2, 2, 5), (3, 7, 11), (8, 4, 1)]  # (n1, n2, m)
RESIDUAL_SHAPES = [(2, 5), (6, 9), (4, 1)]  # (n, m)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivative_matches_central_differences(rng, name):
    act = get_activation(name)
    Z = rng.standard_normal((4, 50))
    Z[np.abs(Z) < 1e-3] = 0.5  # ReLU away from its kink
    h = 1e-6
    numeric = (act.f(Z + h) - act.f(Z - h)) / (2 * h)
    A = act.f(Z)
    np.testing.assert_allclose(act.df(A), numeric, rtol=1e-8, atol=1e-9)
    dA = rng.standard_normal(Z.shape)
    np.testing.assert_allclose(act.vjp(A, dA), dA * numeric, rtol=1e-8, atol=1e-9)


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="unknown activation 'sigmoid'"):
        get_activation("sigmoid")


def test_standard_forward_is_sigma_of_affine(rng):
    layer = StandardLayer(3, 4, "tanh", rng)
    layer.params["b"][...] = rng.standard_normal((4, 1))
    X = rng.standard_normal((3, 6))
    expected = np.tanh(layer.params["W"] @ X + layer.params["b"])
    # atol: the route through exp is exact to 4e-16 absolute (test_activations)
    np.testing.assert_allclose(layer.forward(X), expected, rtol=1e-14, atol=4e-16)


def test_residual_forward_is_skip_plus_branch(rng):
    layer = ResidualLayer(3, "relu", rng)
    layer.params["b"][...] = rng.standard_normal((3, 1))
    X = rng.standard_normal((3, 6))
    p = layer.params
    expected = X + p["W2"] @ np.maximum(p["W1"] @ X + p["b"], 0)
    np.testing.assert_allclose(layer.forward(X), expected, rtol=1e-14)


def standard_layer(rng, n1, n2, activation="tanh"):
    layer = StandardLayer(n1, n2, activation, rng)
    layer.params["b"][...] = 0.5 * rng.standard_normal((n2, 1))
    return layer


def residual_layer(rng, n, activation="tanh"):
    layer = ResidualLayer(n, activation, rng)
    layer.params["b"][...] = 0.5 * rng.standard_normal((n, 1))
    return layer


@pytest.mark.parametrize("n1,n2,m", STANDARD_SHAPES)
@pytest.mark.parametrize("wrt", ["X", "W", "b"])
def test_standard_layer_jacobian_and_transpose_tanh(rng, tanh_route, n1, n2, m, wrt):
    layer = standard_layer(rng, n1, n2)
    X = rng.standard_normal((n1, m))
    result = layer_jacobian_test(layer, X, wrt, rng)
    assert result.passes(), describe(result)
    error = layer_transpose_test(layer, X, wrt, rng)
    assert error < 1e-10, f"transpose test for {wrt}: relative error {error:.3e}"


@pytest.mark.parametrize("n,m", RESIDUAL_SHAPES)
@pytest.mark.parametrize("wrt", ["X", "W1", "b"])
def test_residual_layer_jacobian_and_transpose_tanh(rng, tanh_route, n, m, wrt):
    layer = residual_layer(rng, n)
    X = rng.standard_normal((n, m))
    result = layer_jacobian_test(layer, X, wrt, rng)
    assert result.passes(), describe(result)
    error = layer_transpose_test(layer, X, wrt, rng)
    assert error < 1e-10, f"transpose test for {wrt}: relative error {error:.3e}"


@pytest.mark.parametrize("n,m", RESIDUAL_SHAPES)
def test_residual_layer_is_linear_in_W2(rng, n, m):
    """W2 enters linearly: the second-order error is round-off from the first row."""
    layer = residual_layer(rng, n)
    X = rng.standard_normal((n, m))
    result = layer_jacobian_test(layer, X, "W2", rng)
    assert result.passes_linear(), describe(result)
    error = layer_transpose_test(layer, X, "W2", rng)
    assert error < 1e-10, f"transpose test for W2: relative error {error:.3e}"


def relu_away_from_kink(layer, rng, m, margin=1.0):
    """An input X (n1 x m) for which every pre-activation has |Z| >= margin."""
    W, b = layer.params.get("W", layer.params.get("W1")), layer.params["b"]
    Z = np.sign(rng.standard_normal((W.shape[0], m))) * (margin + rng.random((W.shape[0], m)))
    X = np.linalg.lstsq(W, Z - b, rcond=None)[0]
    assert np.abs(W @ X + b).min() >= margin * (1 - 1e-9)
    return X


@pytest.mark.parametrize("wrt", ["X", "W", "b"])
def test_standard_layer_relu_away_from_kink(rng, wrt):
    """ReLU is linear away from its kink: the second-order error is round-off, the first O(eps)."""
    layer = standard_layer(rng, 5, 3, "relu")
    X = relu_away_from_kink(layer, rng, 8)
    # eps0 small enough that no perturbed pre-activation crosses zero
    result = layer_jacobian_test(layer, X, wrt, rng, eps0=0.05)
    assert result.passes_linear(), describe(result)
    error = layer_transpose_test(layer, X, wrt, rng)
    assert error < 1e-10, f"transpose test for {wrt}: relative error {error:.3e}"


@pytest.mark.parametrize("wrt", ["X", "W1", "W2", "b"])
def test_residual_layer_relu_away_from_kink(rng, wrt):
    layer = residual_layer(rng, 4, "relu")
    X = relu_away_from_kink(layer, rng, 8)
    result = layer_jacobian_test(layer, X, wrt, rng, eps0=0.05)
    assert result.passes_linear(), describe(result)
    assert layer_transpose_test(layer, X, wrt, rng) < 1e-10


@pytest.mark.parametrize("cls,wrt", [(StandardLayer, "X"), (StandardLayer, "W"),
                                     (StandardLayer, "b"), (ResidualLayer, "X"),
                                     (ResidualLayer, "W1"), (ResidualLayer, "W2"),
                                     (ResidualLayer, "b")])
def test_tests_fail_for_a_flipped_sign(rng, monkeypatch, cls, wrt):
    """A sign error in backward breaks the transpose test; one in jvp breaks the Jacobian test."""
    layer = standard_layer(rng, 3, 3) if cls is StandardLayer else residual_layer(rng, 3)
    X = rng.standard_normal((3, 6))
    backward, jvp = cls.backward, cls.jvp

    def flipped_backward(self, dY):
        dX = backward(self, dY)
        if wrt == "X":
            return -dX
        self.grads[wrt] *= -1
        return dX

    monkeypatch.setattr(cls, "backward", flipped_backward)
    assert layer_transpose_test(layer, X, wrt, rng) > 1e-3
    monkeypatch.setattr(cls, "backward", backward)
    monkeypatch.setattr(cls, "jvp", lambda self, V: -jvp(self, V))
    result = layer_jacobian_test(layer, X, wrt, rng)
    assert not result.passes() and not result.passes_linear(), describe(result)


def test_backward_overwrites_grads(rng):
    layer = residual_layer(rng, 3)
    X, dY = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    layer.forward(X)
    layer.backward(dY)
    first = {key: g.copy() for key, g in layer.grads.items()}
    layer.forward(X)
    layer.backward(dY)
    for key, g in layer.grads.items():
        np.testing.assert_array_equal(g, first[key], err_msg=f"grads[{key!r}] accumulated")


@pytest.mark.parametrize("cls", [StandardLayer, ResidualLayer])
@pytest.mark.parametrize("activation", ["tanh", "relu", "identity"])
def test_forward_and_backward_write_into_out_as_without_it(rng, buffers, cls, activation):
    layer = (StandardLayer(3, 3, activation, rng) if cls is StandardLayer
             else ResidualLayer(3, activation, rng))
    X, dY = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    Y = layer.forward(X).copy()
    dX = layer.backward(dY).copy()
    grads = {key: g.copy() for key, g in layer.grads.items()}
    Y_out, dX_out = np.empty_like(Y), np.empty_like(dX)
    assert layer.forward(X, out=Y_out) is Y_out
    assert layer.backward(dY, out=dX_out) is dX_out
    np.testing.assert_array_equal(Y_out, Y)
    np.testing.assert_array_equal(dX_out, dX)
    for key, g in layer.grads.items():
        np.testing.assert_array_equal(g, grads[key], err_msg=key)


def test_product_is_the_matrix_product_with_or_without_out(rng):
    from scratchnet.layers import product

    A, B = rng.standard_normal((4, 3)), np.asfortranarray(rng.standard_normal((3, 6)))
    out = np.empty((4, 6))
    assert product(A, B, out) is out
    np.testing.assert_allclose(out, A @ B, rtol=1e-14)
    np.testing.assert_allclose(product(A.T.T, B), A @ B, rtol=1e-14)
    np.testing.assert_allclose(product(B.T, A.T), B.T @ A.T, rtol=1e-14)
