"""Element-wise activations sigma and their derivatives.

Each activation has ``f(Z)`` and the derivative written through the output ``A = f(Z)``:
``df(A) = sigma'(Z)`` (``1 - A**2`` for tanh, ``A > 0`` for ReLU). So a layer keeps only
its output for ``backward``, and tanh's derivative costs no exponentials.
``vjp(A, dA, out=None) = dA * sigma'(Z)`` is the product backward needs, in as few passes as it
takes, written into ``out`` when given (as a ufunc's ``out``).
"""
import os

import numpy as np


def _float64_tanh_is_vectorised():
    """Whether NumPy's own float64 tanh has a SIMD loop on this CPU (``SCRATCHNET_TANH=numpy``
    or ``=exp`` overrides the answer, for measurements). In NumPy 2.4 it has one with AVX-512
    only: on AVX2 alone the loop is scalar, 14-18 ns per element, over twice exp's 5-9 ns."""
    choice = os.environ.get("SCRATCHNET_TANH", "").lower()
    if choice in ("numpy", "exp"):
        return choice == "numpy"
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # not NumPy 2 on x86: trust its tanh
        return True
    if not __cpu_features__.get("AVX2", False):
        return True  # not an x86 with AVX2 (e.g. ARM): NumPy's loops are the best we know
    return bool(__cpu_features__.get("AVX512_SKX", False))


# When tanh goes through exp: {dtype: the smallest array that takes the route}. On AVX2
# without AVX-512: every float64 array (NumPy's loop is scalar), and float32 arrays from 16k
# elements (measured: 464 us against 674 us for 256 x 1024; below 8k the four extra calls
# cost more than the route saves). Elsewhere np.tanh is vectorised for both: never.
EXP_ROUTE = {} if _float64_tanh_is_vectorised() else {
    np.dtype(np.float64): 0, np.dtype(np.float32): 16384}


def tanh_via_exp(Z, out):
    """tanh(z) = 2 / (1 + exp(-2 z)) - 1, in place in ``out``: five passes, one of them exp.

    Exact to within 4e-16 absolute in float64 (np.tanh: 1e-16), 2e-7 in float32 (np.tanh:
    6e-8), about 1.5 units in the last place of 1. exp(-2 z) overflows to inf for very negative
    z (below -354 in float64), which gives the right limit, -1, so that warning is silenced.
    """
    np.multiply(Z, -2.0, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    np.divide(2.0, out, out=out)
    out -= 1.0
    return out


class Tanh:
    """sigma(z) = tanh(z), sigma'(z) = 1 - tanh(z)**2 = 1 - A**2.

    Where :data:`EXP_ROUTE` says so (float64, and large float32 arrays, where NumPy's tanh is
    slow) ``f`` takes the route through exp (:func:`tanh_via_exp`); else it is ``np.tanh``.
    """

    name = "tanh"

    def f(self, Z, out=None):
        if Z.size >= EXP_ROUTE.get(Z.dtype, np.inf):
            return tanh_via_exp(Z, np.empty_like(Z) if out is None else out)
        return np.tanh(Z, out=out)

    def df(self, A):
        return 1.0 - A * A

    def vjp(self, A, dA, out=None):
        dZ = np.multiply(A, A, out=out)
        np.subtract(1.0, dZ, out=dZ)
        dZ *= dA
        return dZ


class ReLU:
    """sigma(z) = max(z, 0), sigma'(z) = 1 for z > 0 else 0 (0 at the kink); A > 0 iff z > 0."""

    name = "relu"

    def f(self, Z, out=None):
        return np.maximum(Z, 0.0, out=out)

    def df(self, A):
        return (A > 0).astype(A.dtype)

    def vjp(self, A, dA, out=None):
        return np.multiply(dA, A > 0, out=out)


class Identity:
    """sigma(z) = z, sigma'(z) = 1."""

    name = "identity"

    def f(self, Z, out=None):
        if out is None:
            return Z.copy()
        out[...] = Z
        return out

    def df(self, A):
        return np.ones_like(A)

    def vjp(self, A, dA, out=None):
        if out is None:
            return dA.copy()
        out[...] = dA
        return out


ACTIVATIONS = {cls.name: cls for cls in (Tanh, ReLU, Identity)}


def get_activation(activation):
    """Return an activation object from its name ('tanh', 'relu', 'identity') or itself."""
    if isinstance(activation, str):
        try:
            return ACTIVATIONS[activation.lower()]()
        except KeyError:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}"
            ) from None
    return activation
