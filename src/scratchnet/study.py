"""Generic helpers the notebooks share: seeds, mean and spread, comparisons with one margin."""
import math
import time
from dataclasses import dataclass

import numpy as np

# Two mean accuracies closer than this (a fraction: 0.002 is 0.2 points) count as level.
MARGIN = 0.002
# A transpose test holds to round-off when |u^T (J v) - v^T (J^T u)| / (||u|| ||J v||) is below
# this: about 4500 machine epsilons, where a wrong product gives errors of order one.
TRANSPOSE_ROUNDOFF = 1e-12


def seeded(seed):
    """Two independent Generators from one seed (SeedSequence.spawn): the initial weights' and
    the training's, so the weights do not depend on how many numbers the training draws."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))


@dataclass(frozen=True)
class Spread:
    """Mean and spread of one quantity over runs (seeds): standard deviation (ddof=1; 0 for one
    run), smallest and largest value, number of runs."""

    mean: float
    std: float
    min: float
    max: float
    n: int


def spread(values):
    """The :class:`Spread` of a sequence of numbers; refuses an empty one or a non-finite value."""
    values = np.asarray(list(values), dtype=float)
    if values.size == 0:
        raise ValueError("spread of no values")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"spread of non-finite values: {values.tolist()}")
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return Spread(float(values.mean()), std, float(values.min()), float(values.max()),
                  int(values.size))


def summarize(rows, by, value):
    """``{group: Spread of value}`` of ``rows`` (dicts) grouped by the keys ``by``, in the order
    groups first appear; a group is the tuple of the ``by`` values (the value for one key)."""
    groups = {}
    for row in rows:
        group = row[by] if isinstance(by, str) else tuple(row[key] for key in by)
        groups.setdefault(group, []).append(row[value])
    return {group: spread(values) for group, values in groups.items()}


def lead(a, b):
    """How far the mean of ``a`` is above the mean of ``b`` (numbers, sequences or Spreads)."""
    return _mean(a) - _mean(b)


def beats(a, b, margin=MARGIN):
    """True when the mean of ``a`` exceeds the mean of ``b`` by more than ``margin``."""
    return bool(lead(a, b) > margin)


def level(a, b, margin=MARGIN):
    """True when the means of ``a`` and ``b`` are within ``margin`` of each other."""
    return bool(abs(lead(a, b)) <= margin)


def _mean(x):
    if isinstance(x, Spread):
        return x.mean
    return float(x) if np.ndim(x) == 0 else spread(x).mean


def timed(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` and the seconds it took: ``(result, wall, cpu)``, CPU time being
    this process's (less sensitive to other work on the machine than wall time)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def split(X, C, fraction, rng):
    """A random split of the columns of X and C: ``(X_a, C_a, X_b, C_b)`` with ``fraction`` of
    them in the second part (for choosing a rate without looking at the validation set)."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    m = X.shape[1]
    cut = m - max(1, math.floor(fraction * m))
    a, b = np.split(rng.permutation(m), [cut])
    return X[:, a], C[:, a], X[:, b], C[:, b]


def best(scores):
    """The key of the largest score in a dict (the first one on a tie)."""
    if not scores:
        raise ValueError("best of no scores")
    return max(scores, key=lambda key: scores[key])


def derivative_check(result, linear=False, transposes=None):
    """One gradient or Jacobian test (a :class:`scratchnet.verify.TestResult`) as a table row:
    ``result.summary()``, ``second_over_roundoff`` (the largest second-order error over round-off)
    and ``passes`` (``passes_linear()`` for a ``linear`` target, whose second-order error is
    round-off from the first row: W2 of the residual block); given the relative errors
    ``transposes`` of transpose tests, ``transpose`` (the largest) and ``transpose_holds`` (every
    one below TRANSPOSE_ROUNDOFF)."""
    row = {**result.summary(),
           "second_over_roundoff": float(np.max(result.second) / result.floor),
           "passes": bool(result.passes_linear() if linear else result.passes())}
    if transposes is not None:
        transposes = np.asarray(transposes, dtype=float)
        if transposes.size == 0:
            raise ValueError("derivative_check: no transpose errors given")
        row["transpose"] = float(transposes.max())
        row["transpose_holds"] = bool(np.all(transposes < TRANSPOSE_ROUNDOFF))
    return row


def input_noise(sigma):
    """A batch transform for ``train(..., transform=...)``: ``X + sigma * z``, z standard normal
    drawn for every batch from the training Generator; ``sigma`` a number or an n x 1 column."""
    sigma = np.asarray(sigma, dtype=float)
    if not np.all(np.isfinite(sigma)) or np.any(sigma < 0):
        raise ValueError(f"noise level must be finite and >= 0, got {sigma.tolist()}")
    return lambda X, rng: X + sigma * rng.standard_normal(X.shape)


def seed_margin(a, b, margin=MARGIN):
    """The margin a difference of the means of two :class:`Spread` must exceed to count: the
    larger of ``margin`` and their standard deviations, so seed noise is not read as an effect."""
    return float(max(margin, a.std, b.std))


def contraction(errors, start=0, floor=1e-12):
    """The mean factor by which ``errors`` shrink per step (r for linear convergence at rate r):
    ``exp`` of the slope of their log from step ``start`` over the steps above ``floor`` times
    the first error; NaN when fewer than two steps are left."""
    errors = np.asarray(errors, dtype=float)
    steps = np.arange(errors.size)
    keep = (steps >= start) & (errors > floor * errors[0])
    if keep.sum() < 2:
        return math.nan
    return float(np.exp(np.polyfit(steps[keep], np.log(errors[keep]), 1)[0]))


def lbfgs(net, X, C, gtol=1e-10, maxiter=2000):
    """Minimise the full-batch loss of ``net`` on (X, C) with scipy's L-BFGS-B from its current
    parameters; leaves ``net`` at the minimiser and returns scipy's OptimizeResult."""
    import scipy.optimize

    def fun(theta):
        net.set_params(theta)
        return net.loss_and_grad(X, C)

    result = scipy.optimize.minimize(fun, net.get_params(), jac=True, method="L-BFGS-B",
                                     options={"gtol": gtol, "ftol": 0.0, "maxiter": maxiter})
    net.set_params(result.x)
    return result


def layer_gradient_norms(net, X, C):
    """The Frobenius norm of every hidden layer's weight gradient on X, C (biases left out), input
    side first: ``||dF/dW||``, or ``sqrt(||dF/dW1||^2 + ||dF/dW2||^2)`` for a residual block."""
    net.forward_backward(X, C)
    return np.array([math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64)))
                                   for key, g in layer.grads.items() if key.startswith("W")))
                     for layer in net.layers])
