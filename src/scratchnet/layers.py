"""The two hidden layers of the assignment, columns are samples.

Every layer has ``params`` and ``grads`` (dicts with the same keys), and:

- ``forward(X)`` computes the output and keeps exactly what ``backward`` needs;
- ``backward(dY)`` is the Jacobian-transpose product: given ``dY = dF/dY`` it fills
  ``grads`` with ``dF/dtheta`` (overwritten, never accumulated) and returns ``dF/dX``.
  It never forms a Jacobian. ``backward(dY, need_dX=False)`` skips ``dF/dX`` (the first layer
  of a network has no use for it) and returns None;
- ``jvp(V)`` is the Jacobian times a direction ``V`` (a dict with any of ``X`` and the
  parameter names; a missing key is a zero direction), used by the Jacobian tests.

``forward(X, out=Y)`` and ``backward(dY, out=dX)`` write their result into a given array, as a
ufunc's ``out`` does: the network's training step passes buffers it reuses from one step to the
next, and a layer keeps its own temporaries in :class:`Buffers`.
"""
from functools import lru_cache

import numpy as np

from .activations import get_activation


@lru_cache(maxsize=64)
def ones(m, dtype):
    """The column of m ones (m x 1, read-only), for ``db = dZ 1``: one matrix-vector product
    costs a third of a row-wise ``sum`` on the small batches of training."""
    column = np.ones((m, 1), dtype=dtype)
    column.flags.writeable = False
    return column


def product(A, B, out=None):
    """A @ B through np.dot when NumPy allocates the result (on small matrices its call costs
    0.4-0.6 us less) and through np.matmul into ``out`` (there np.dot was measured 10% slower on
    256 x 256 x 1024 and 1.5-2.5x slower on the inner dimensions of 2 and 5 of the first layer
    and the head)."""
    return np.dot(A, B) if out is None else np.matmul(A, B, out=out)


# Arrays from this many elements are reused from one step to the next rather than allocated
# anew: a fresh megabyte every step costs more than the arithmetic on it, as the kernel faults its
# pages in and zeroes them each time. Smaller ones come from malloc's free lists cheaply.
REUSE_FROM = 1 << 15


def buffer(shape, dtype):
    """A new array to keep for reuse, or None (let NumPy allocate) below :data:`REUSE_FROM`
    elements."""
    return np.empty(shape, dtype) if shape[0] * shape[1] >= REUSE_FROM else None


class Buffers(dict):
    """Arrays kept for reuse by name: ``take(name, like, *operands)`` returns one of ``like``'s
    shape and of the dtype NumPy gives ``like`` and ``operands`` together, allocated anew only
    when either changes, or None (let NumPy allocate) below :data:`REUSE_FROM` elements."""

    def take(self, name, like, *operands):
        if like.size < REUSE_FROM:  # checked first: this is every small step's path
            return None
        dtype = np.result_type(like, *operands)
        array = self.get(name)
        if array is None or array.shape != like.shape or array.dtype != dtype:
            array = self[name] = buffer(like.shape, dtype)
        return array


class StandardLayer:
    """Y = sigma(W X + b) with W (n2 x n1), b (n2 x 1), X (n1 x m), Y (n2 x m).

    backward, with Z = W X + b, A = sigma(Z) = Y and dZ = sigma'(Z) * dY (element-wise)::

        dW = dZ X^T,   db = dZ 1,   dX = W^T dZ
    """

    def __init__(self, n_in, n_out, activation="tanh", rng=None, scale=None):
        rng = np.random.default_rng(rng)
        self.activation = get_activation(activation)
        if scale is None:
            scale = init_scale(self.activation, n_in)
        self.params = {
            "W": scale * rng.standard_normal((n_out, n_in)),
            "b": np.zeros((n_out, 1)),
        }
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}
        self._cache = None
        self._buffers = Buffers()

    @property
    def n_in(self):
        return self.params["W"].shape[1]

    @property
    def n_out(self):
        return self.params["W"].shape[0]

    def forward(self, X, out=None):
        """Y = sigma(W X + b), shape n2 x m."""
        Z = product(self.params["W"], X, out)
        Z += self.params["b"]
        A = self.activation.f(Z, out=Z)
        self._cache = (X, A)
        return A

    def backward(self, dY, need_dX=True, out=None):
        """Jacobian-transpose product: fills grads['W'], grads['b'], returns dX = W^T (sigma'(Z) * dY)."""
        X, A = self._cache
        dZ = self.activation.vjp(A, dY, out=self._buffers.take("dZ", A))
        np.dot(dZ, X.T, out=self.grads["W"])
        np.dot(dZ, ones(dZ.shape[1], dZ.dtype), out=self.grads["b"])
        return product(self.params["W"].T, dZ, out) if need_dX else None

    def jvp(self, V):
        """Jacobian times a direction: sigma'(Z) * (W V_X + V_W X + V_b)."""
        X, A = self._cache
        dZ = np.zeros_like(A)
        if "X" in V:
            dZ += self.params["W"] @ V["X"]
        if "W" in V:
            dZ += V["W"] @ X
        if "b" in V:
            dZ += V["b"]
        return self.activation.df(A) * dZ


class ResidualLayer:
    """Y = X + W2 sigma(W1 X + b) with W1, W2 (n x n), b (n x 1), X and Y (n x m).

    backward, with Z = W1 X + b, A = sigma(Z) and dZ = sigma'(Z) * (W2^T dY)::

        dW2 = dY A^T,   dW1 = dZ X^T,   db = dZ 1,   dX = dY + W1^T dZ

    where ``dY`` in dX is the skip path and ``W1^T dZ`` the main path.
    """

    def __init__(self, n, activation="tanh", rng=None, scale1=None, scale2=None):
        rng = np.random.default_rng(rng)
        self.activation = get_activation(activation)
        if scale1 is None:
            scale1 = init_scale(self.activation, n)
        if scale2 is None:
            scale2 = np.sqrt(1.0 / n)
        self.params = {
            "W1": scale1 * rng.standard_normal((n, n)),
            "W2": scale2 * rng.standard_normal((n, n)),
            "b": np.zeros((n, 1)),
        }
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}
        self._cache = None
        self._buffers = Buffers()

    @property
    def n_in(self):
        return self.params["W1"].shape[1]

    n_out = n_in

    def forward(self, X, out=None):
        """Y = X + W2 sigma(W1 X + b), shape n x m."""
        W1 = self.params["W1"]
        Z = product(W1, X, self._buffers.take("A", X, W1))
        Z += self.params["b"]
        A = self.activation.f(Z, out=Z)
        Y = product(self.params["W2"], A, out)
        Y += X
        self._cache = (X, A)
        return Y

    def backward(self, dY, need_dX=True, out=None):
        """Jacobian-transpose product: fills grads['W1'], grads['W2'], grads['b'], returns dX."""
        X, A = self._cache
        dA = product(self.params["W2"].T, dY, out)  # dF/dA, in the array dX will take
        dZ = self.activation.vjp(A, dA, out=self._buffers.take("dZ", A))
        np.dot(dY, A.T, out=self.grads["W2"])
        np.dot(dZ, X.T, out=self.grads["W1"])
        np.dot(dZ, ones(dZ.shape[1], dZ.dtype), out=self.grads["b"])
        if not need_dX:
            return None
        dX = product(self.params["W1"].T, dZ, out)  # over dA, spent, when out is given
        dX += dY
        return dX

    def jvp(self, V):
        """Jacobian times a direction: V_X + V_W2 A + W2 (sigma'(Z) * (W1 V_X + V_W1 X + V_b))."""
        X, A = self._cache
        dZ = np.zeros_like(A)
        dY = np.zeros_like(A)
        if "X" in V:
            dZ += self.params["W1"] @ V["X"]
            dY += V["X"]
        if "W1" in V:
            dZ += V["W1"] @ X
        if "b" in V:
            dZ += V["b"]
        dY += self.params["W2"] @ (self.activation.df(A) * dZ)
        if "W2" in V:
            dY += V["W2"] @ A
        return dY


def init_scale(activation, n_in):
    """Standard deviation of the initial weights: He (2/n_in) for ReLU, Glorot-like (1/n_in) else."""
    gain = 2.0 if getattr(activation, "name", None) == "relu" else 1.0
    return np.sqrt(gain / n_in)
