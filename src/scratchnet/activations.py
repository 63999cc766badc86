"""Element-wise activations sigma and their derivatives.

Each activation is a small object with ``f(Z)`` and ``df(Z, A)``, where ``A = f(Z)`` is
passed back in so that tanh can use ``1 - A**2`` instead of recomputing the exponentials.
"""
import numpy as np


class Tanh:
    """sigma(z) = tanh(z), sigma'(z) = 1 - tanh(z)**2."""

    name = "tanh"

    def f(self, Z, out=None):
        return np.tanh(Z, out=out)

    def df(self, Z, A):
        return 1.0 - A * A


class ReLU:
    """sigma(z) = max(z, 0), sigma'(z) = 1 for z > 0 else 0 (0 at the kink)."""

    name = "relu"

    def f(self, Z, out=None):
        return np.maximum(Z, 0.0, out=out)

    def df(self, Z, A):
        return (Z > 0).astype(Z.dtype)


class Identity:
    """sigma(z) = z, sigma'(z) = 1."""

    name = "identity"

    def f(self, Z, out=None):
        if out is None:
            return Z.copy()
        out[...] = Z
        return out

    def df(self, Z, A):
        return np.ones_like(Z)


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
