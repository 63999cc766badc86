"""Generic helpers of the experiments: seeds, mean and spread, comparisons with one margin.

Each study lives in its notebook, which calls ``train`` in view; what two notebooks share, or
what deserves a unit test, is here.
"""
from dataclasses import dataclass
import math
import time

import numpy as np

# Two mean accuracies closer than this (a fraction: 0.002 is 0.2 points) count as level.
MARGIN = 0.002


def seeded(seed):
    """Two independent Generators from one seed: the initial weights' and the training's.

    The weights then do not depend on how many numbers the training draws (SeedSequence.spawn).
    """
    init, training = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(init), np.random.default_rng(training)


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
    """Group ``rows`` (dicts) by the keys ``by`` and take the :class:`Spread` of ``value``.

    Returns ``{group: Spread}`` in the order groups first appear; a group is the tuple of the
    ``by`` values (the bare value when ``by`` is one key, a string).
    """
    single = isinstance(by, str)
    keys = (by,) if single else tuple(by)
    groups = {}
    for row in rows:
        group = tuple(row[key] for key in keys)
        groups.setdefault(group[0] if single else group, []).append(row[value])
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
    if np.ndim(x) == 0:
        return float(x)
    return spread(x).mean


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
    order = rng.permutation(m)
    cut = m - max(1, math.floor(fraction * m))
    a, b = order[:cut], order[cut:]
    return X[:, a], C[:, a], X[:, b], C[:, b]


def best(scores):
    """The key of the largest score in a dict (the first one on a tie)."""
    if not scores:
        raise ValueError("best of no scores")
    return max(scores, key=lambda key: scores[key])


def layer_gradient_norms(net, X, C):
    """The Frobenius norm of the gradient of every hidden layer's weights on the batch X, C,
    input side first: ``||dF/dW||`` for a standard layer, ``sqrt(||dF/dW1||^2 + ||dF/dW2||^2)``
    for a residual block (biases left out). One forward and backward pass; returns an array."""
    net.forward_backward(X, C)
    return np.array([math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64)))
                                   for key, g in layer.grads.items() if key.startswith("W")))
                     for layer in net.layers])
