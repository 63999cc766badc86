"""Verification of derivatives: the gradient test, the Jacobian test and the transpose test.

The gradient test of the assignment: for a random unit direction ``d`` and
``eps_k = eps0 * 0.5**k``,

    first(k)  = |f(x + eps_k d) - f(x)|                    = O(eps)
    second(k) = |f(x + eps_k d) - f(x) - eps_k d^T grad|   = O(eps^2)

so that halving eps halves ``first`` and quarters ``second``, until round-off. The Jacobian
test is the same with vector norms and ``eps_k J d`` in place of ``eps_k d^T grad``. The
transpose test checks ``u^T (J v) = v^T (J^T u)`` for the forward (``jvp``) and the
backward (Jacobian-transpose) products of a layer.

Every function returns data (a :class:`TestResult` or a float) for a notebook to print and
plot and for a test to assert on.
"""
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

# Rows whose second-order error is below this many machine epsilons (relative to the size of
# f) are round-off, not Taylor remainder, and are left out of the fitted order.
ROUNDOFF_FACTOR = 100


@dataclass
class TestResult:
    """Rows of a gradient or Jacobian test: eps, first- and second-order errors."""

    __test__ = False  # not a pytest class

    eps: np.ndarray
    first: np.ndarray
    second: np.ndarray
    scale: float  # size of f(x), to tell round-off from the Taylor remainder

    @property
    def ratio_first(self):
        """first[k] / first[k+1]: about 2 for a correct derivative."""
        return self.first[:-1] / self.first[1:]

    @property
    def ratio_second(self):
        """second[k] / second[k+1]: about 4 for a correct derivative."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.second[:-1] / self.second[1:]

    @property
    def floor(self):
        """Errors below this are round-off."""
        return ROUNDOFF_FACTOR * np.finfo(float).eps * max(self.scale, 1e-300)

    def clean_rows(self, which="second"):
        """Number of leading rows whose error is above round-off."""
        errors = getattr(self, which)
        above = errors > self.floor
        return len(errors) if above.all() else int(np.argmin(above))

    def order(self, which="second"):
        """Fitted order p of error ~ eps**p over the leading rows above round-off (NaN if < 2)."""
        n = self.clean_rows(which)
        if n < 2:
            return float("nan")
        errors = getattr(self, which)[:n]
        return float(np.polyfit(np.log(self.eps[:n]), np.log(errors), 1)[0])

    def passes(self, min_halvings=6, tol=0.2):
        """True when the first-order error has order 1 and the second order 2 (+- tol) over
        at least ``min_halvings`` halvings above round-off."""
        return (self.clean_rows("second") > min_halvings
                and self.clean_rows("first") > min_halvings
                and abs(self.order("second") - 2) <= tol
                and abs(self.order("first") - 1) <= tol)

    def passes_linear(self, min_halvings=6, tol=0.2):
        """For a function linear in the direction (W2 of the residual block, ReLU away from
        its kink): the second-order error is round-off from the first row, the first order 1."""
        return (self.clean_rows("second") == 0
                and self.clean_rows("first") > min_halvings
                and abs(self.order("first") - 1) <= tol)

    def summary(self):
        """The test in numbers: fitted orders, rows above round-off, and the median ratios
        between successive rows over those rows (NaN where there are none)."""
        n_first, n_second = self.clean_rows("first"), self.clean_rows("second")
        ratio_first = self.ratio_first[:max(n_first - 1, 0)]
        ratio_second = self.ratio_second[:max(n_second - 1, 0)]
        return {
            "order_first": self.order("first"),
            "order_second": self.order("second"),
            "clean_rows_first": n_first,
            "clean_rows_second": n_second,
            "median_ratio_first": float(np.median(ratio_first)) if ratio_first.size else np.nan,
            "median_ratio_second": float(np.median(ratio_second)) if ratio_second.size else np.nan,
        }

    def format(self):
        """The rows as aligned text: k, eps, both errors and each one's ratio to the row before."""
        ratios_first = np.concatenate([[np.nan], self.ratio_first])
        ratios_second = np.concatenate([[np.nan], self.ratio_second])
        lines = [f"{'k':>3} {'eps':>10} {'|f(x+ed)-f(x)|':>16} {'ratio':>7} "
                 f"{'|f(x+ed)-f(x)-e d^T g|':>24} {'ratio':>7}"]
        for k, row in enumerate(zip(self.eps, self.first, ratios_first, self.second,
                                    ratios_second)):
            e, f1, r1, f2, r2 = row
            lines.append(f"{k:>3} {e:>10.3e} {f1:>16.6e} {r1:>7.3f} {f2:>24.6e} {r2:>7.3f}")
        return "\n".join(lines)


def random_direction(shape, rng):
    """A random direction of the given shape with unit (Frobenius) norm."""
    d = rng.standard_normal(shape)
    return d / np.linalg.norm(d)


def gradient_test(f, x, grad, d, eps0=0.1, K=20):
    """The gradient test of a scalar function f at x with its gradient ``grad`` along d."""
    f0 = f(x)
    slope = np.vdot(d, grad)
    eps = eps0 * 0.5 ** np.arange(K)
    first, second = np.empty(K), np.empty(K)
    for k, e in enumerate(eps):
        fe = f(x + e * d)
        first[k] = abs(fe - f0)
        second[k] = abs(fe - f0 - e * slope)
    return TestResult(eps, first, second, scale=abs(f0))


def jacobian_test(F, x, Jd, d, eps0=0.1, K=20):
    """The Jacobian test of a vector function F at x, with J d given, along d."""
    F0 = F(x)
    eps = eps0 * 0.5 ** np.arange(K)
    first, second = np.empty(K), np.empty(K)
    for k, e in enumerate(eps):
        Fe = F(x + e * d)
        first[k] = np.linalg.norm(Fe - F0)
        second[k] = np.linalg.norm(Fe - F0 - e * Jd)
    return TestResult(eps, first, second, scale=float(np.linalg.norm(F0)))


def transpose_error(Jv, JTu, u, v):
    """|u^T (J v) - v^T (J^T u)| relative to ||u|| ||J v|| (which bounds both terms)."""
    lhs, rhs = np.vdot(u, Jv), np.vdot(v, JTu)
    return abs(lhs - rhs) / (np.linalg.norm(u) * np.linalg.norm(Jv))


def central_difference_gradient(f, x, h=1e-6):
    """Entry-by-entry gradient of f at the 1-D vector x by central differences (slow: 2 n calls)."""
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@contextmanager
def _restored(array):
    """Let the body change ``array`` in place, then put its values back."""
    saved = array.copy()
    try:
        yield array
    finally:
        array[...] = saved


def _input_or_param(module, X, wrt):
    return X if wrt == "X" else module.params[wrt]


def layer_jacobian_test(layer, X, wrt, rng, eps0=0.1, K=20):
    """Jacobian test of a layer's output with respect to X or one of its parameters."""
    target = _input_or_param(layer, X, wrt)
    d = random_direction(target.shape, rng)
    with _restored(target):
        base = target.copy()
        layer.forward(X)
        Jd = layer.jvp({wrt: d})

        def F(value):
            target[...] = value
            return layer.forward(X)

        result = jacobian_test(F, base, Jd, d, eps0, K)
    layer.forward(X)
    return result


def layer_transpose_test(layer, X, wrt, rng):
    """Transpose test of a layer: relative |u^T (J v) - v^T (J^T u)| for random u, v."""
    v = rng.standard_normal(_input_or_param(layer, X, wrt).shape)
    Y = layer.forward(X)
    u = rng.standard_normal(Y.shape)
    Jv = layer.jvp({wrt: v})
    dX = layer.backward(u)
    JTu = dX if wrt == "X" else layer.grads[wrt]
    return transpose_error(Jv, JTu, u, v)


def softmax_gradient_test(head, X, C, wrt, rng, eps0=0.1, K=20):
    """Gradient test of the mean softmax cross-entropy with respect to W, b or X."""
    target = _input_or_param(head, X, wrt)
    d = random_direction(target.shape, rng)
    with _restored(target):
        base = target.copy()
        grad = head.loss_and_grad(X, C)[1][wrt]

        def f(value):
            target[...] = value
            return head.forward(X, C)

        return gradient_test(f, base, grad, d, eps0, K)


def network_gradient_test(net, X, C, rng, eps0=0.1, K=20):
    """Gradient test of the whole network's objective with respect to all its parameters.

    In float64 only: float32 rounding (1e-7) would swamp the second-order error within a
    few halvings of eps, and the test would show the rounding rather than the derivative.
    """
    if net.dtype != np.float64:
        raise ValueError(f"the gradient test runs in float64; this network is {net.dtype}: "
                         "build it with dtype='float64'")
    theta = net.get_params()
    d = random_direction(theta.shape, rng)
    _, grad = net.loss_and_grad(X, C)

    def f(value):
        net.set_params(value)
        return net.loss(X, C)

    try:
        return gradient_test(f, theta, grad, d, eps0, K)
    finally:
        net.set_params(theta)
