"""The experiments of Part I, as functions that return data: the notebooks call them, the tests
check them, and :mod:`scratchnet.plots` draws what they return.

- 1.1: :func:`softmax_gradient_tests` runs the gradient test of the softmax loss for W, b and X
  on a batch of a data set; :func:`gradient_test_summary` condenses one test into its numbers.
- 1.2: :class:`LeastSquares` is a problem with a known solution and :func:`minimize` runs an
  optimizer of :mod:`scratchnet.optim` on it, full-batch or in mini-batches.
- 1.3: :func:`linear_optimum` solves softmax regression on the whole training set with L-BFGS (the
  reference SGD should reach), :func:`train_softmax` trains it by SGD, :func:`sweep` tries a grid of
  learning rates and mini-batch sizes, and :func:`plateau` measures what the last epochs still
  changed.
"""
from dataclasses import dataclass, field
import math
import time

import numpy as np
import scipy.optimize

from .loss import SoftmaxRegression
from .network import make_network
from .optim import SGD, Momentum, StepDecay, make_optimizer, make_schedule
from .train import TrainingDiverged, train
from .verify import softmax_gradient_test

GRADIENT_TEST_TARGETS = ("W", "b", "X")
# The momentum of make_optimizer's "momentum" and "nesterov".
MOMENTUM_BETA = 0.9


# 1.1 The gradient test of softmax regression

def softmax_gradient_tests(dataset, rng, batch=200, targets=GRADIENT_TEST_TARGETS, eps0=0.1,
                           K=20):
    """Gradient tests of the mean softmax cross-entropy on a random batch of ``dataset``.

    The weights are random (the default initialisation) and so is the bias (standard normal
    / 10), so that no test sits at a special point such as b = 0. Returns ``{target:
    TestResult}`` for every target in ``targets`` (among "W", "b", "X").
    """
    m = min(batch, dataset.m_train)
    keep = rng.choice(dataset.m_train, size=m, replace=False)
    X, C = dataset.Xt[:, keep], dataset.Ct[:, keep]
    head = SoftmaxRegression(dataset.n_features, dataset.n_classes, rng)
    head.params["b"][...] = 0.1 * rng.standard_normal(head.params["b"].shape)
    return {wrt: softmax_gradient_test(head, X, C, wrt, rng, eps0=eps0, K=K)
            for wrt in targets}


def gradient_test_summary(result):
    """The numbers of one gradient test: fitted orders, rows above round-off, median ratios
    over those rows, and whether it passes (orders 1 and 2 over at least 6 halvings)."""
    return {**result.summary(), "passes": bool(result.passes())}


# 1.2 Minimisation by SGD: a least-squares problem with a known solution

@dataclass
class LeastSquares:
    """f(w) = ||X^T w - y||^2 / (2 m) with samples as the columns of X (n x m), y of length m.

    ``solution`` is the exact minimiser (a direct solve of the normal equations), so the error
    ``||w - solution||`` of an iterative method can be measured.
    """

    X: np.ndarray
    y: np.ndarray
    solution: np.ndarray = field(init=False)

    def __post_init__(self):
        self.solution = np.linalg.solve(self.hessian, self.X @ self.y / self.m)

    @property
    def m(self):
        return self.X.shape[1]

    @property
    def hessian(self):
        """H = X X^T / m (n x n), constant: f is quadratic."""
        return self.X @ self.X.T / self.m

    def loss(self, w, idx=None):
        X, y = self._batch(idx)
        r = X.T @ w - y
        return float(r @ r) / (2 * y.size)

    def grad(self, w, idx=None):
        """Gradient of the mean over the samples ``idx`` (all when None): X (X^T w - y) / m."""
        X, y = self._batch(idx)
        return X @ (X.T @ w - y) / y.size

    def curvature(self):
        """(mu, L): the smallest and largest eigenvalue of the Hessian."""
        eigenvalues = np.linalg.eigvalsh(self.hessian)
        return float(eigenvalues[0]), float(eigenvalues[-1])

    def _batch(self, idx):
        return (self.X, self.y) if idx is None else (self.X[:, idx], self.y[idx])

    @classmethod
    def random(cls, rng, n=20, m=1000, cond=100.0, noise=0.0):
        """A problem whose Hessian has eigenvalues log-spaced from 1 down to 1/cond exactly,
        and y = X^T w_true + noise * N(0, 1) (with noise=0 the solution is w_true)."""
        Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
        # Rows of Z are orthonormal times sqrt(m), so that Z Z^T / m is the identity.
        Z = np.linalg.qr(rng.standard_normal((m, n)))[0].T * np.sqrt(m)
        eigenvalues = np.logspace(0, -np.log10(cond), n)
        X = Q @ (np.sqrt(eigenvalues)[:, None] * Z)
        w_true = rng.standard_normal(n)
        return cls(X, X.T @ w_true + noise * rng.standard_normal(m))


def heavy_ball_parameters(mu, L):
    """Polyak's tuned heavy ball for a quadratic with Hessian eigenvalues in [mu, L]:
    lr = 4 / (sqrt(L) + sqrt(mu))^2 and beta = ((sqrt(L) - sqrt(mu)) / (sqrt(L) + sqrt(mu)))^2,
    which contracts the error by about (sqrt(kappa) - 1) / (sqrt(kappa) + 1) per step, kappa = L / mu."""
    if not 0 < mu <= L:
        raise ValueError(f"need 0 < mu <= L, got mu={mu}, L={L}")
    a, b = math.sqrt(L), math.sqrt(mu)
    return 4 / (a + b) ** 2, ((a - b) / (a + b)) ** 2


def minimize(problem, optimizer, w0, *, iterations, batch_size=None, rng=None, schedule=None):
    """Run ``optimizer`` on ``problem`` from ``w0``; return ``||w_t - solution||`` for t = 0..iterations.

    ``batch_size=None`` takes full-batch steps; otherwise every step uses the next mini-batch
    of a fresh random permutation per epoch (``rng`` a numpy Generator). ``schedule(epoch) ->
    lr`` sets the rate at the start of every epoch (an epoch is m samples).
    """
    w = np.array(w0, dtype=float)
    m = problem.m
    batch_size = m if batch_size is None else int(batch_size)
    if batch_size < m and rng is None:
        raise ValueError("mini-batch steps need rng, a numpy Generator")
    per_epoch = math.ceil(m / batch_size)
    errors = np.empty(iterations + 1)
    errors[0] = np.linalg.norm(w - problem.solution)
    order = np.arange(m)
    for t in range(iterations):
        epoch, batch = divmod(t, per_epoch)
        if batch == 0:
            if schedule is not None:
                optimizer.lr = schedule(epoch)
            if batch_size < m:
                order = rng.permutation(m)
        idx = None if batch_size >= m else order[batch * batch_size:(batch + 1) * batch_size]
        optimizer.step({"w": w}, {"w": problem.grad(w, idx)})
        errors[t + 1] = np.linalg.norm(w - problem.solution)
    return errors


def full_batch_comparison(problem, iterations, beta=0.9):
    """Full-batch gradient descent, heavy ball and Nesterov (rate 1/L, momentum ``beta``) and
    Polyak's tuned heavy ball on ``problem``, from w = 0.

    Returns ``({label: errors}, {label: facts})``; the facts are the rate ``lr``, ``beta``, the
    fitted ``contraction`` per step, the ``final`` error and the ``predicted`` factor per step
    theory gives for the slowest direction (1 - mu/L for gradient descent, sqrt(beta) for the
    heavy ball when mu/L >= (1 - sqrt(beta))^2, (sqrt(kappa) - 1) / (sqrt(kappa) + 1) for the
    tuned one, kappa = L/mu; None where no such figure applies, as for Nesterov, so that the
    facts stay valid JSON).
    """
    mu, L = problem.curvature()
    w0 = np.zeros(problem.X.shape[0])
    tuned_lr, tuned_beta = heavy_ball_parameters(mu, L)
    root = math.sqrt(L / mu)
    runs = {
        "gradient descent": (SGD(1 / L), 1 / L, 0.0, 1 - mu / L),
        "heavy ball": (Momentum(1 / L, beta), 1 / L, beta,
                       math.sqrt(beta) if mu / L >= (1 - math.sqrt(beta)) ** 2 else None),
        "Nesterov": (Momentum(1 / L, beta, nesterov=True), 1 / L, beta, None),
        "heavy ball, tuned": (Momentum(tuned_lr, tuned_beta), tuned_lr, tuned_beta,
                              (root - 1) / (root + 1)),
    }
    curves, facts = {}, {}
    for label, (optimizer, lr, b, predicted) in runs.items():
        errors = curves[label] = minimize(problem, optimizer, w0, iterations=iterations)
        facts[label] = {"lr": lr, "beta": b, "contraction": contraction(errors),
                        "predicted": predicted, "final": float(errors[-1])}
    return curves, facts


def stochastic_comparison(problem, *, lr, batch_size, epochs, decay_every, rng, beta=0.9):
    """Mini-batch SGD at ``lr`` and heavy ball at ``lr * (1 - beta)`` (the same step in the
    long run, lr / (1 - beta) per unit gradient), each with a constant rate and with the rate
    halved every ``decay_every`` epochs, from w = 0 on the same batches (``rng`` is copied).

    Returns ``{label: errors}`` with one error per step and ``{label: final error}`` as the
    median of the last epoch's errors (the noise makes single values jumpy).
    """
    w0 = np.zeros(problem.X.shape[0])
    iterations = epochs * math.ceil(problem.m / batch_size)
    per_epoch = math.ceil(problem.m / batch_size)
    seed = rng.integers(2**63)
    curves = {}
    for label, make, rate in (("SGD", SGD, lr), ("heavy ball", lambda r: Momentum(r, beta),
                                                   lr * (1 - beta))):
        for kind, schedule in (("constant rate", None),
                               ("decaying rate", StepDecay(rate, step=decay_every, gamma=0.5))):
            curves[f"{label}, {kind}"] = minimize(
                problem, make(rate), w0, iterations=iterations, batch_size=batch_size,
                rng=np.random.default_rng(seed), schedule=schedule)
    finals = {label: float(np.median(errors[-per_epoch:])) for label, errors in curves.items()}
    return curves, finals


def contraction(errors, floor=1e-12):
    """Mean factor by which the error shrinks per step, fitted over the steps above ``floor``
    (relative to the first error): ``exp(slope of log error)``."""
    errors = np.asarray(errors, dtype=float)
    keep = np.flatnonzero(errors > floor * errors[0])
    if keep.size < 2:
        return math.nan
    slope = np.polyfit(keep, np.log(errors[keep]), 1)[0]
    return float(np.exp(slope))


# 1.3 Softmax regression trained by SGD

def softmax_network(dataset, seed=0, dtype="float64"):
    """A network of depth 0, i.e. plain softmax regression, for ``dataset``."""
    return make_network(n_features=dataset.n_features, n_classes=dataset.n_classes, depth=0,
                        seed=seed, dtype=dtype)


@dataclass
class LinearOptimum:
    """The minimiser of the mean cross-entropy of softmax regression on the whole training set."""

    theta: np.ndarray = field(repr=False)
    train_loss: float
    val_loss: float
    train_acc: float
    val_acc: float
    grad_norm: float
    iterations: int
    seconds: float

    def numbers(self):
        """Everything but theta, for a JSON record."""
        return {key: value for key, value in vars(self).items() if key != "theta"}


def linear_optimum(dataset, seed=0, gtol=1e-10, maxiter=2000):
    """Minimise the training loss of softmax regression with scipy's L-BFGS-B, full batch, on
    our own ``loss_and_grad``; returns a :class:`LinearOptimum` with its accuracies.

    The loss is convex, so this is the best any training of the same model can do on that
    loss; tolerances are tight so that its gradient is near zero.
    """
    net = softmax_network(dataset, seed)
    start = time.perf_counter()

    def fun(theta):
        net.set_params(theta)
        return net.loss_and_grad(dataset.Xt, dataset.Ct)

    solution = scipy.optimize.minimize(fun, net.get_params(), jac=True, method="L-BFGS-B",
                                       options={"gtol": gtol, "ftol": 1e-15, "maxiter": maxiter})
    seconds = time.perf_counter() - start
    net.set_params(solution.x)
    train_loss, grad = net.loss_and_grad(dataset.Xt, dataset.Ct)
    _, train_acc = net.evaluate(dataset.Xt, dataset.Ct)
    val_loss, val_acc = net.evaluate(dataset.Xv, dataset.Cv)
    return LinearOptimum(theta=solution.x.copy(), train_loss=train_loss, val_loss=val_loss,
                         train_acc=train_acc, val_acc=val_acc,
                         grad_norm=float(np.linalg.norm(grad)), iterations=int(solution.nit),
                         seconds=seconds)


def train_softmax(dataset, *, lr, batch_size, epochs, optimizer="momentum", schedule="step",
                  seed=0, eval_size=None, dtype="float64"):
    """Train softmax regression (depth 0) on ``dataset`` by mini-batch steps.

    ``optimizer`` and ``schedule`` are names for :func:`scratchnet.optim.make_optimizer` and
    :func:`scratchnet.optim.make_schedule`; ``dtype`` the training precision. Returns
    ``(net, history)``; raises TrainingDiverged.
    """
    net = softmax_network(dataset, seed, dtype)
    history = train(net, dataset.Xt, dataset.Ct, dataset.Xv, dataset.Cv,
                    make_optimizer(optimizer, lr), epochs=epochs, batch_size=batch_size,
                    rng=np.random.default_rng(seed), schedule=make_schedule(schedule, lr, epochs),
                    eval_size=eval_size)
    return net, history


def optimizer_comparison(dataset, *, lr, batch_size, epochs, schedule="step", seed=0,
                         dtype="float64"):
    """Softmax regression on ``dataset`` by SGD at ``lr`` and at ``lr * (1 - beta)``, and by heavy
    ball and Nesterov at ``lr * (1 - beta)`` (whose long-run step, lr / (1 - beta), equals SGD's
    at ``lr``), beta = MOMENTUM_BETA, all with the same seed, batches and schedule.
    Returns ``{label: History}``.
    """
    small = lr * (1 - MOMENTUM_BETA)
    runs = {f"SGD, rate {lr:g}": ("sgd", lr), f"SGD, rate {small:g}": ("sgd", small),
            f"heavy ball, rate {small:g}": ("momentum", small),
            f"Nesterov, rate {small:g}": ("nesterov", small)}
    return {label: train_softmax(dataset, lr=rate, batch_size=batch_size, epochs=epochs,
                                 optimizer=name, schedule=schedule, seed=seed, dtype=dtype)[1]
            for label, (name, rate) in runs.items()}


def final_excess_losses(runs, optima):
    """Final training loss above the linear optimum: ``{label: {dataset: excess, ...,
    "geometric mean": over the data sets}}`` from ``runs = {dataset: {label: History}}`` and
    ``optima = {dataset: LinearOptimum}``. Excesses are clipped at 1e-16 before the mean."""
    out = {}
    for name, histories in runs.items():
        for label, history in histories.items():
            out.setdefault(label, {})[name] = history.train_loss[-1] - optima[name].train_loss
    for row in out.values():
        row["geometric mean"] = float(np.exp(np.mean(np.log(np.maximum(list(row.values()),
                                                                       1e-16)))))
    return out


SWEEP_FIELDS = ("train_acc", "val_acc", "train_loss", "val_loss")


@dataclass
class Sweep:
    """Final-epoch results of a grid of runs: entry [i, j] is learning rate ``lrs[i]`` with
    mini-batch size ``batch_sizes[j]``; NaN where the run diverged (``diverged`` is True)."""

    lrs: list
    batch_sizes: list
    epochs: int
    train_acc: np.ndarray
    val_acc: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    diverged: np.ndarray
    seconds: np.ndarray

    def best(self, by="train_loss"):
        """(i, j) of the best run that did not diverge by the final ``by``: the lowest
        "train_loss" or "val_loss", or the highest "val_acc" or "train_acc" (ties to the
        lower training loss). Raises ValueError when every run diverged."""
        if by not in SWEEP_FIELDS:
            raise ValueError(f"rank by one of {SWEEP_FIELDS}, not {by!r}")
        if self.diverged.all():
            raise ValueError("every run of the sweep diverged")
        values = getattr(self, by)
        if by.endswith("_loss"):
            score = np.where(self.diverged, np.inf, values)
            return tuple(int(v) for v in np.unravel_index(np.argmin(score), score.shape))
        score = np.where(self.diverged, -np.inf, values)
        loss = np.where(self.diverged, np.inf, self.train_loss)
        candidates = np.argwhere(score == score.max())
        i, j = min(candidates, key=lambda ij: loss[tuple(ij)])
        return int(i), int(j)

    def setting(self, ij):
        """(learning rate, mini-batch size) of cell (i, j)."""
        i, j = ij
        return self.lrs[i], self.batch_sizes[j]

    def to_dict(self):
        out = {"lrs": list(self.lrs), "batch_sizes": list(self.batch_sizes), "epochs": self.epochs}
        for key in SWEEP_FIELDS + ("seconds",):
            out[key] = [[None if math.isnan(v) else float(v) for v in row]
                        for row in getattr(self, key)]
        out["diverged"] = self.diverged.tolist()
        return out


def sweep(dataset, lrs, batch_sizes, *, epochs, optimizer="momentum", schedule="step", seed=0,
          eval_size=None, dtype="float64"):
    """Train softmax regression for every (learning rate, mini-batch size) of the grid, with
    the same epochs, schedule and seed; returns a :class:`Sweep` of final-epoch results."""
    shape = (len(lrs), len(batch_sizes))
    results = {key: np.full(shape, np.nan) for key in SWEEP_FIELDS}
    diverged = np.zeros(shape, dtype=bool)
    seconds = np.zeros(shape)
    for i, lr in enumerate(lrs):
        for j, batch_size in enumerate(batch_sizes):
            start = time.perf_counter()
            try:
                _, history = train_softmax(dataset, lr=lr, batch_size=batch_size, epochs=epochs,
                                           optimizer=optimizer, schedule=schedule, seed=seed,
                                           eval_size=eval_size, dtype=dtype)
            except TrainingDiverged:
                diverged[i, j] = True
            else:
                for key, value in history.final().items():
                    results[key][i, j] = value
            seconds[i, j] = time.perf_counter() - start
    return Sweep(lrs=list(lrs), batch_sizes=list(batch_sizes), epochs=epochs, diverged=diverged,
                 seconds=seconds, **results)


def plateau(history, fraction=0.5):
    """What the last ``fraction`` of the epochs changed: from the epoch where they start to
    the last, the change of the train/validation accuracy and loss and the learning rate."""
    n = len(history.epoch)
    if n < 2:
        raise ValueError("a plateau needs at least two epochs")
    start = min(n - 2, max(0, int(round(n * (1 - fraction))) - 1))
    out = {"from_epoch": history.epoch[start], "to_epoch": history.epoch[-1],
           "lr_from": history.lr[start], "lr_to": history.lr[-1]}
    for key in SWEEP_FIELDS:
        values = getattr(history, key)
        out[f"{key}_change"] = values[-1] - values[start]
    return out


def best_epoch(history):
    """Epoch (1-based) of the highest validation accuracy and that accuracy (the first if tied):
    to be labelled as the best epoch, never reported as the result."""
    k = int(np.argmax(history.val_acc))
    return history.epoch[k], history.val_acc[k]


@dataclass
class Convergence:
    """Runs of the same setting with ever more epochs (each with its own decaying schedule):
    ``runs`` lists ``(epochs, history.final())``; ``net`` and ``history`` are the last run's;
    ``converged`` says whether the last doubling lowered the training loss by less than ``tol``."""

    runs: list
    net: object = field(repr=False)
    history: object = field(repr=False)
    converged: bool
    tol: float

    @property
    def epochs(self):
        return self.runs[-1][0]

    def last_gain(self):
        """What the last doubling changed in the final accuracies and losses (last minus previous);
        empty when there was a single run."""
        if len(self.runs) < 2:
            return {}
        (_, before), (_, after) = self.runs[-2], self.runs[-1]
        return {key: after[key] - before[key] for key in after}


def train_to_convergence(dataset, *, lr, batch_size, epochs, max_epochs, tol=1e-4,
                         optimizer="momentum", schedule="cosine", seed=0, eval_size=None,
                         dtype="float64"):
    """Train with ``epochs``, then twice as many, and so on (a fresh run each time, its rate
    decaying over all its epochs), until doubling lowers the final training loss by less than
    ``tol`` or the next run would exceed ``max_epochs``: "more iterations no longer help"."""
    runs = []
    while True:
        net, history = train_softmax(dataset, lr=lr, batch_size=batch_size, epochs=epochs,
                                     optimizer=optimizer, schedule=schedule, seed=seed,
                                     eval_size=eval_size, dtype=dtype)
        runs.append((epochs, history.final()))
        converged = (len(runs) > 1
                     and runs[-2][1]["train_loss"] - runs[-1][1]["train_loss"] < tol)
        if converged or 2 * epochs > max_epochs:
            return Convergence(runs=runs, net=net, history=history, converged=converged, tol=tol)
        epochs *= 2


def sweep_findings(sweep, optimum, tol=1e-4, by="train_loss"):
    """What a sweep shows, as numbers: the chosen cell (by ``by``), the range of the final
    validation accuracy over the runs that did not diverge and where its maximum is, how many
    runs ended within ``tol`` of the optimum's training loss, which diverged, and for every
    mini-batch size the rate that came closest to the optimum."""
    chosen = sweep.best(by)
    top = sweep.best("val_acc")
    excess = sweep.train_loss - optimum.train_loss
    ok = ~sweep.diverged
    worst = np.unravel_index(np.argmax(np.where(ok, excess, -np.inf)), excess.shape)
    closest = {}
    for j, batch_size in enumerate(sweep.batch_sizes):
        column = np.where(ok[:, j], excess[:, j], np.inf)
        closest[batch_size] = None if not ok[:, j].any() else sweep.lrs[int(np.argmin(column))]
    rates = [lr for lr in closest.values() if lr is not None]
    return {
        "chosen": sweep.setting(chosen),
        "chosen_val_acc": float(sweep.val_acc[chosen]),
        "chosen_train_acc": float(sweep.train_acc[chosen]),
        "chosen_excess": float(excess[chosen]),
        "top_val_acc": float(sweep.val_acc[top]),
        "top_val_acc_setting": sweep.setting(top),
        "top_val_acc_excess": float(excess[top]),
        "min_val_acc": float(np.min(sweep.val_acc[ok])),
        "runs": int(ok.sum()),
        "within_tol": int(np.sum(excess[ok] < tol)),
        "tol": tol,
        "worst_setting": sweep.setting(worst),
        "worst_excess": float(excess[worst]),
        "worst_val_acc": float(sweep.val_acc[worst]),
        "diverged": [sweep.setting(ij) for ij in np.argwhere(sweep.diverged)],
        "closest_rate": closest,
        "closest_rate_grows": len(rates) > 1 and all(a <= b for a, b in zip(rates, rates[1:]))
                              and rates[-1] > rates[0],
        "optimum_val_acc": optimum.val_acc,
    }
