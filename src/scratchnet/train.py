"""The training loop: epochs of shuffled mini-batches, history per epoch."""
from dataclasses import asdict, dataclass, field
import math

import numpy as np

from .optim import Constant


class TrainingDiverged(FloatingPointError):
    """The objective became NaN or infinite: training stopped rather than record garbage."""


@dataclass
class History:
    """Per-epoch record: cross-entropy (without any weight penalty) and accuracy, a fraction.

    ``eval_size`` is the number of samples each accuracy was measured on: ``None`` when the
    whole set was used, else a random subsample of that size (fixed across epochs).
    """

    epoch: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    eval_size: int | None = None

    def add(self, epoch, lr, train_loss, train_acc, val_loss, val_acc):
        """Record the figures of one epoch (counted from 1)."""
        for key, value in zip(("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc"),
                              (epoch, lr, train_loss, train_acc, val_loss, val_acc)):
            getattr(self, key).append(value)

    def to_dict(self):
        return asdict(self)

    def final(self):
        """The last epoch's train and validation loss and accuracy."""
        return {key: getattr(self, key)[-1]
                for key in ("train_acc", "val_acc", "train_loss", "val_loss")}


def subsample(X, C, size, rng):
    """A random subsample of ``size`` columns of X and C (all of them when size is None)."""
    if size is None or size >= X.shape[1]:
        return X, C
    keep = rng.choice(X.shape[1], size=size, replace=False)
    return X[:, keep], C[:, keep]


class DivergenceGuard:
    """Stops a run whose batch loss is not finite or exceeds ``factor`` times the larger of
    the first batch's loss and the chance level's (log k); ``factor=None`` checks finiteness only."""

    def __init__(self, factor, n_classes):
        self.factor, self.n_classes, self.limit = factor, n_classes, None

    def check(self, loss, epoch, batch, lr):
        if self.limit is None:
            if not math.isfinite(loss):
                raise TrainingDiverged(f"loss is {loss} on the first batch, before any step: "
                                       "check the data and the initial weights")
            self.limit = math.inf if self.factor is None else self.factor * max(
                loss, math.log(self.n_classes))
        if not loss <= self.limit:
            what = (f"became {loss}" if not math.isfinite(loss) else
                    f"rose to {loss:.3g}, over {self.factor:g} times its start")
            raise TrainingDiverged(f"training diverged: the loss {what} at epoch {epoch + 1} "
                                   f"(batch {batch + 1}) with learning rate {lr:g}; "
                                   "lower the learning rate")


def step_targets(net, params=None):
    """The (params, grads) dicts an optimizer steps: by default the whole flat vector at once."""
    if params is None:
        return {"theta": net.theta}, {"theta": net.grad}
    return params, {key: net.grads[key] for key in params}


def train_epoch(net, Xt, Ct, optimizer, batch_size, rng, params, grads, guard, epoch=0,
                transform=None):
    """One pass over a fresh permutation of the training set in mini-batches of ``batch_size``.

    Xt and Ct must be checked already (``train`` does it once); the gather casts them to the
    network's dtype. ``transform(X, rng)``, when given, makes each batch's input anew.
    """
    m = Xt.shape[1]
    # One gather per epoch, in Fortran order, so that every mini-batch is a contiguous slice.
    order = rng.permutation(m)
    X_epoch = np.asfortranarray(Xt[:, order], dtype=net.dtype)
    C_epoch = np.asfortranarray(Ct[:, order], dtype=net.dtype)
    # Overflow shows up as a non-finite loss, which the guard reports with epoch and rate.
    with np.errstate(over="ignore", invalid="ignore"):
        for batch, start in enumerate(range(0, m, batch_size)):
            stop = start + batch_size
            X = X_epoch[:, start:stop]
            if transform is not None:
                X = np.asarray(transform(X, rng), dtype=net.dtype)
            loss = net._forward_backward(X, C_epoch[:, start:stop])
            guard.check(loss, epoch, batch, optimizer.lr)
            optimizer.step(params, grads)


def train(net, Xt, Ct, Xv, Cv, optimizer, *, epochs, batch_size, rng, schedule=None,
          eval_size=None, callback=None, params=None, divergence=100.0, evaluate=True,
          transform=None):
    """Train ``net`` by mini-batch steps of ``optimizer``; returns a :class:`History`.

    Xt, Ct (n x m, k x m) are the training set, Xv, Cv the validation set, checked and cast to
    the network's dtype once. Every epoch visits a fresh permutation of the training set drawn
    from ``rng`` (a numpy Generator). Options:

    - ``schedule(epoch) -> lr`` sets the rate at the start of every epoch (default: constant);
    - ``eval_size`` measures the per-epoch figures on a random subsample of each set (drawn
      once); ``evaluate=False`` measures nothing (the history keeps epochs and rates), for a
      ``callback(epoch, history)``, which runs after every epoch, that measures its own way;
    - ``params``, a dict of the network's named parameter views, restricts the steps to them
      (default: every parameter, as one flat vector);
    - ``transform(X, rng) -> X`` replaces every mini-batch's input before its step (input
      noise: ``lambda X, rng: X + s * rng.standard_normal(X.shape)``); evaluation sees the data.

    Raises TrainingDiverged, naming the epoch and learning rate, when a batch's objective is
    not finite or exceeds ``divergence`` times the larger of the first batch's and the chance
    level's (log k); ``divergence=None`` checks finiteness only.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    Xt, Ct = net._batch(Xt, Ct)
    Xv, Cv = net._batch(Xv, Cv)
    schedule = schedule or Constant(optimizer.lr)
    eval_rng = np.random.default_rng(rng.integers(2**63))
    Xt_eval, Ct_eval = subsample(Xt, Ct, eval_size, eval_rng)
    Xv_eval, Cv_eval = subsample(Xv, Cv, eval_size, eval_rng)
    params, grads = step_targets(net, params)
    guard = DivergenceGuard(divergence, net.n_classes)
    history = History(eval_size=eval_size)
    for epoch in range(epochs):
        optimizer.lr = schedule(epoch)
        train_epoch(net, Xt, Ct, optimizer, batch_size, rng, params, grads, guard, epoch,
                    transform)
        if evaluate:
            train_loss, train_acc = net.evaluate(Xt_eval, Ct_eval)
            val_loss, val_acc = net.evaluate(Xv_eval, Cv_eval)
            if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
                raise TrainingDiverged(
                    f"evaluation loss became non-finite after epoch {epoch + 1} with learning "
                    f"rate {optimizer.lr:g}: lower the learning rate")
            history.add(epoch + 1, optimizer.lr, train_loss, train_acc, val_loss, val_acc)
        else:
            history.epoch.append(epoch + 1)
            history.lr.append(optimizer.lr)
        if callback is not None:
            callback(epoch + 1, history)
    return history
