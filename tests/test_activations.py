"""tanh through exp (the float64 route where NumPy's tanh is scalar) against np.tanh."""
import warnings

import numpy as np
import pytest

from scratchnet import activations
from scratchnet.activations import Tanh, tanh_via_exp


def test_tanh_via_exp_is_exact_to_a_few_ulps_of_one():
    z = np.concatenate([np.linspace(-40, 40, 400_001), [0.0, -0.0, 1e-300, -1e-12, 5e-9]])
    error = np.abs(tanh_via_exp(z, np.empty_like(z)) - np.tanh(z))
    assert error.max() <= 4e-16, f"max absolute error {error.max():.2e} at z={z[error.argmax()]}"


def test_tanh_via_exp_saturates_without_a_warning():
    z = np.array([-1e300, -800.0, -355.0, 355.0, 800.0, 1e300, -np.inf, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = tanh_via_exp(z, np.empty_like(z))
    np.testing.assert_array_equal(out, np.sign(z))


def test_tanh_via_exp_works_in_place():
    z = np.random.default_rng(0).standard_normal((7, 9))
    expected = np.tanh(z)
    out = tanh_via_exp(z, z)
    assert out is z
    np.testing.assert_allclose(z, expected, rtol=0, atol=4e-16)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_keeps_the_dtype_on_either_route(tanh_route, dtype):
    Z = np.random.default_rng(1).standard_normal((5, 6)).astype(dtype)
    A = Tanh().f(Z.copy())
    assert A.dtype == dtype
    np.testing.assert_allclose(A, np.tanh(Z), rtol=0, atol=4 * np.finfo(dtype).eps)
    assert Tanh().vjp(A, Z).dtype == dtype
    out = np.empty_like(A)
    assert Tanh().vjp(A, Z, out=out) is out
    np.testing.assert_array_equal(out, Tanh().vjp(A, Z))


def test_the_route_follows_the_environment(monkeypatch):
    monkeypatch.setenv("SCRATCHNET_TANH", "exp")
    assert not activations._float64_tanh_is_vectorised()
    monkeypatch.setenv("SCRATCHNET_TANH", "numpy")
    assert activations._float64_tanh_is_vectorised()


def test_tanh_via_exp_in_float32_is_within_two_units_of_one():
    z = np.linspace(-20, 20, 200_001, dtype=np.float32)
    out = tanh_via_exp(z, np.empty_like(z))
    assert out.dtype == np.float32
    error = np.abs(out.astype(np.float64) - np.tanh(z.astype(np.float64)))
    assert error.max() <= 2 * np.finfo(np.float32).eps, f"max absolute error {error.max():.2e}"
