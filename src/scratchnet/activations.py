"""Element-wise activations sigma and their derivatives.

Each activation has ``f(Z)`` and the derivative written through the output ``A = f(Z)``:
``df(A) = sigma'(Z)`` (``1 - A**2`` for tanh, ``A > 0`` for ReLU). So a layer keeps only
its output for ``backward``, and tanh's derivative costs no exponentials.
``vjp(A, dA) = dA * sigma'(Z)`` is the product backward needs, in as few passes as it takes.
"""
import numpy as np


class Tanh:
    """sigma(z) = tanh(z), sigma'(z) = 1 - tanh(z)**2 = 1 - A**2."""

    name = "tanh"

    def f(self, Z, out=None):
        return np.tanh(Z, out=out)

    def df(self, A):
        return 1.0 - A * A

    def vjp(self, A, dA):
        dZ = np.multiply(A, A)
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

    def vjp(self, A, dA):
        return np.where(A > 0, dA, 0.0)


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

    def vjp(self, A, dA):
        return dA.copy()


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
