"""Softmax regression: the classifier of the last layer and its mean cross-entropy loss.

With weights ``W`` (n x k, one column ``w_j`` per class), bias ``b`` (k x 1), input ``X``
(n x m, columns are samples) and one-hot labels ``C`` (k x m)::

    Z = W^T X + b                      (k x m logits)
    P = softmax(Z)  column by column   (k x m probabilities)
    F = -(1/m) sum_i sum_j C_ji log P_ji        (the mean over the batch)

    dF/dW = (1/m) X (P - C)^T          (n x k)
    dF/db = (1/m) (P - C) 1            (k x 1)
    dF/dX = (1/m) W (P - C)            (n x m)
"""
import numpy as np

from .layers import ones, product


def log_softmax(Z):
    """Column-wise log-softmax of ``Z`` (k x m), stable: subtract each column's max first."""
    Z = Z - Z.max(axis=0, keepdims=True)
    return Z - np.log(np.exp(Z).sum(axis=0, keepdims=True))


class SoftmaxRegression:
    """Softmax classifier ``P = softmax(W^T X + b)`` with the mean cross-entropy loss.

    ``params`` holds ``W`` (n x k) and ``b`` (k x 1); ``grads`` the same keys, overwritten by
    every ``backward``.
    """

    def __init__(self, n_features, n_classes, rng=None, scale=None):
        rng = np.random.default_rng(rng)
        scale = np.sqrt(1.0 / n_features) if scale is None else scale
        self.params = {
            "W": scale * rng.standard_normal((n_features, n_classes)),
            "b": np.zeros((n_classes, 1)),
        }
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}
        self._cache = None

    @property
    def n_features(self):
        return self.params["W"].shape[0]

    @property
    def n_classes(self):
        return self.params["W"].shape[1]

    def logits(self, X):
        """Z = W^T X + b, shape k x m."""
        Z = np.dot(self.params["W"].T, X)
        Z += self.params["b"]
        return Z

    def predict_proba(self, X):
        """Class probabilities P (k x m); every column sums to 1."""
        return np.exp(log_softmax(self.logits(X)))

    def predict(self, X):
        """Index of the most probable class for every column of X (shape m)."""
        return np.argmax(self.logits(X), axis=0)

    def forward(self, X, C):
        """Mean cross-entropy F(W, b; X, C) of the batch; keeps X, P and C for ``backward``.

        With Z the logits shifted by their column max (for stability) and s = sum_j exp(Z_j),
        -log P_ci = log s - Z_ci, so F = (sum_i log s_i - <C, Z>) / m.
        """
        Z = self.logits(X)
        Z -= Z.max(axis=0)
        P = np.exp(Z)
        s = P.sum(axis=0)
        loss = (np.log(s).sum() - np.vdot(C, Z)) / X.shape[1]
        P /= s
        self._cache = (X, P, C)
        return float(loss)

    def backward(self, need_dX=True, out=None):
        """Gradient of the mean loss: fills ``grads['W']``, ``grads['b']`` and returns dF/dX
        (n x m, written into ``out`` when given), or None when ``need_dX`` is false."""
        X, P, C = self._cache
        m = X.shape[1]
        dZ = P - C
        dZ *= 1.0 / m
        np.dot(X, dZ.T, out=self.grads["W"])
        np.dot(dZ, ones(m, dZ.dtype), out=self.grads["b"])
        return product(self.params["W"], dZ, out) if need_dX else None

    def loss_and_grad(self, X, C):
        """Return the mean loss and a dict of its gradients for ``W``, ``b`` and ``X``."""
        loss = self.forward(X, C)
        dX = self.backward()
        return loss, {"W": self.grads["W"].copy(), "b": self.grads["b"].copy(), "X": dX}
