"""Optimizers and learning-rate schedules.

An optimizer updates a dict of parameter arrays in place from a dict of gradients with the
same keys: ``opt.step(params, grads)``. Its state (velocity, moments, step count) is kept
per key, so the same optimizer can serve a flat parameter vector or a few named blocks.
A schedule is a callable ``schedule(epoch) -> lr`` (epochs count from 0).
"""
import math

import numpy as np


class Optimizer:
    """Base class: ``lr`` is read on every step, so a schedule may change it between epochs."""

    def __init__(self, lr):
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.lr = float(lr)
        self.state = {}

    def step(self, params, grads):
        for key, p in params.items():
            self._update(key, p, grads[key])

    def _update(self, key, p, g):
        raise NotImplementedError


class SGD(Optimizer):
    """theta <- theta - lr * g."""

    name = "sgd"

    def _update(self, key, p, g):
        p -= self.lr * g


class Momentum(Optimizer):
    """Heavy ball: v <- beta v + g, theta <- theta - lr v.

    With ``nesterov=True`` the step looks ahead along the velocity:
    theta <- theta - lr (g + beta v), v updated as above.
    """

    name = "momentum"

    def __init__(self, lr, beta=0.9, nesterov=False):
        super().__init__(lr)
        if not 0 <= beta < 1:
            raise ValueError(f"momentum beta must be in [0, 1), got {beta}")
        self.beta = beta
        self.nesterov = nesterov

    def _update(self, key, p, g):
        v = self.state.get(key)
        if v is None:
            v = self.state[key] = np.zeros_like(p)
        v *= self.beta
        v += g
        if self.nesterov:
            p -= self.lr * (g + self.beta * v)
        else:
            p -= self.lr * v


class Adam(Optimizer):
    """Adam (Kingma and Ba): moments of g and g**2 with bias correction.

    m <- b1 m + (1-b1) g,  s <- b2 s + (1-b2) g**2,  t <- t + 1,
    theta <- theta - lr * (m / (1-b1**t)) / (sqrt(s / (1-b2**t)) + eps)
    """

    name = "adam"

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _update(self, key, p, g):
        state = self.state.get(key)
        if state is None:
            state = self.state[key] = {"t": 0, "m": np.zeros_like(p), "s": np.zeros_like(p)}
        state["t"] += 1
        t, m, s = state["t"], state["m"], state["s"]
        m *= self.beta1
        m += (1 - self.beta1) * g
        s *= self.beta2
        s += (1 - self.beta2) * (g * g)
        # Fold both bias corrections into the step size and the eps: one pass over theta.
        step = self.lr * math.sqrt(1 - self.beta2 ** t) / (1 - self.beta1 ** t)
        eps = self.eps * math.sqrt(1 - self.beta2 ** t)
        p -= step * m / (np.sqrt(s) + eps)


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")


def make_optimizer(name, lr, beta=0.9):
    """An optimizer by name: 'sgd', 'momentum' (heavy ball), 'nesterov' (both with momentum
    ``beta``), 'adam'."""
    if name == "sgd":
        return SGD(lr)
    if name == "momentum":
        return Momentum(lr, beta=beta)
    if name == "nesterov":
        return Momentum(lr, beta=beta, nesterov=True)
    if name == "adam":
        return Adam(lr)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")


class Constant:
    """lr(epoch) = lr."""

    def __init__(self, lr):
        self.lr = lr

    def __call__(self, epoch):
        return self.lr


class StepDecay:
    """lr(epoch) = lr * gamma ** (epoch // step)."""

    def __init__(self, lr, step=10, gamma=0.5):
        self.lr, self.step, self.gamma = lr, step, gamma

    def __call__(self, epoch):
        return self.lr * self.gamma ** (epoch // self.step)


class Cosine:
    """lr(epoch) = lr_min + (lr - lr_min) (1 + cos(pi epoch / epochs)) / 2."""

    def __init__(self, lr, epochs, lr_min=0.0):
        self.lr, self.epochs, self.lr_min = lr, epochs, lr_min

    def __call__(self, epoch):
        return self.lr_min + 0.5 * (self.lr - self.lr_min) * (
            1 + math.cos(math.pi * epoch / self.epochs))


SCHEDULES = ("constant", "step", "cosine")


def make_schedule(name, lr, epochs):
    """A schedule by name: 'constant'; 'step' halves lr every quarter of the epochs;
    'cosine' anneals lr towards lr/100 over the epochs."""
    if name == "constant":
        return Constant(lr)
    if name == "step":
        return StepDecay(lr, step=max(1, epochs // 4), gamma=0.5)
    if name == "cosine":
        return Cosine(lr, epochs, lr_min=lr / 100)
    raise ValueError(f"unknown schedule {name!r}; choose one of {SCHEDULES}")


class Alternating:
    """An optimizer wrapper that steps one group of parameters per mini-batch, in turn.

    ``groups`` is a list of at least two lists of parameter names (keys of the dicts ``step``
    receives: pass ``params=net.params`` to :func:`scratchnet.train.train`). Call ``k`` (from 0)
    moves the group ``k mod len(groups)`` with ``optimizer`` and leaves every other parameter
    where it is. ``lr`` is the wrapped optimizer's, so a schedule sets it as usual; its state
    stays keyed per parameter, so a group resumes its moments where it left them.
    """

    def __init__(self, optimizer, groups):
        groups = [list(group) for group in groups]
        if len(groups) < 2 or not all(groups):
            raise ValueError(f"alternating needs two or more non-empty groups, got {groups}")
        self.optimizer, self.groups, self.calls = optimizer, groups, 0

    @property
    def lr(self):
        return self.optimizer.lr

    @lr.setter
    def lr(self, value):
        self.optimizer.lr = value

    def step(self, params, grads):
        keys = self.groups[self.calls % len(self.groups)]
        self.optimizer.step({key: params[key] for key in keys}, {key: grads[key] for key in keys})
        self.calls += 1
