"""Section 2.6: optimization strategies compared from the same initial weights.

Two strategies beyond the optimizers of :mod:`scratchnet.optim` are built on the training loop
of :mod:`scratchnet.train`, not beside it:

- **alternating** steps: :class:`Alternating` is an optimizer-like object whose ``step`` moves
  one group of parameters per mini-batch (the softmax head on one batch, the hidden layers on
  the next), so ``train(..., params=net.params)`` runs it unchanged;
- **layer by layer**: :func:`train_layerwise` calls ``train(..., params=subset)`` once per stage
  (layer 1 and the head, then layer 2 and the head, ..., earlier layers frozen), then, by
  default, one stage of all parameters together.

:class:`Recorder` is the per-epoch callback that measures the wall time of the training (its own
evaluation on a fixed subsample is left out of the clock) and the accuracy curves.
:func:`compare` tunes each strategy's learning rate on a held-out part of the training set and
trains every strategy from the same initial weights and seed; :func:`strategy_findings` turns
the results into the numbers of the verdict. The ``*_figure``, ``*_table`` and ``*_paragraph``
functions only draw or write what they are given.
"""
from dataclasses import dataclass, field
import math
import time

import numpy as np

from .network import make_network
from .optim import make_optimizer, make_schedule
from .report import markdown_table, percent
from .train import TrainingDiverged, subsample, train

# Two final accuracies closer than this (a fraction: 0.002 is 0.2 points) count as level,
# as in section 2.4.
TIE = 0.002


def head_keys(net):
    """Names of the softmax head's parameters: ``head.W``, ``head.b``."""
    return [key for key in net.params if key.startswith("head.")]


def layer_keys(net, index):
    """Names of the parameters of hidden layer ``index`` (from 0): ``layer<index>.*``."""
    keys = [key for key in net.params if key.startswith(f"layer{index}.")]
    if not keys:
        raise ValueError(f"the network has no hidden layer {index} "
                         f"(it has {len(net.layers)})")
    return keys


def body_keys(net):
    """Names of every hidden layer's parameters (all but the head's)."""
    return [key for key in net.params if not key.startswith("head.")]


class Alternating:
    """An optimizer that steps one group of parameters per call, cycling through ``groups``.

    ``groups`` is a list of lists of parameter names (e.g. ``[head_keys(net),
    body_keys(net)]``); call ``k`` (from 0) steps ``groups[(k // every) % len(groups)]`` with
    the wrapped ``optimizer`` and leaves every other parameter as it is. Pass
    ``params=net.params`` to :func:`scratchnet.train.train`. ``lr`` reads and sets the wrapped
    optimizer's rate, so schedules work unchanged.
    """

    def __init__(self, optimizer, groups, every=1):
        if len(groups) < 2 or not all(groups):
            raise ValueError("alternating needs at least two non-empty groups of parameters")
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.optimizer, self.groups, self.every = optimizer, [list(g) for g in groups], every
        self.calls = 0

    @property
    def lr(self):
        return self.optimizer.lr

    @lr.setter
    def lr(self, value):
        self.optimizer.lr = value

    def current_group(self):
        """Index of the group the next call steps."""
        return (self.calls // self.every) % len(self.groups)

    def step(self, params, grads):
        keys = self.groups[self.current_group()]
        self.optimizer.step({key: params[key] for key in keys},
                            {key: grads[key] for key in keys})
        self.calls += 1


class Shifted:
    """The schedule ``schedule`` read ``offset`` epochs later: a stage that starts at epoch
    ``offset`` of a longer run keeps the run's schedule."""

    def __init__(self, schedule, offset):
        self.schedule, self.offset = schedule, offset

    def __call__(self, epoch):
        return self.schedule(epoch + self.offset)


def split_epochs(epochs, stages):
    """``epochs`` split into ``stages`` near-equal counts, the remainder to the last stages."""
    if stages < 1 or epochs < stages:
        raise ValueError(f"cannot split {epochs} epochs into {stages} stages of at least one")
    base, extra = divmod(epochs, stages)
    return [base + (1 if i >= stages - extra else 0) for i in range(stages)]


def layerwise_stages(net, finetune=True):
    """Parameter names trained at each stage of greedy layer-wise training: hidden layer ``l``
    and the head at stage ``l`` (the other layers frozen), then every parameter when
    ``finetune``. A network without hidden layers has one stage: the head."""
    stages = [layer_keys(net, i) + head_keys(net) for i in range(len(net.layers))]
    if finetune or not stages:
        stages.append(list(net.params))
    return stages


def train_layerwise(net, Xt, Ct, Xv, Cv, optimizer, *, epochs, batch_size, rng, schedule=None,
                    stages=None, eval_size=None, callback=None, divergence=100.0,
                    evaluate=True):
    """Train ``net`` stage by stage: stage ``s`` runs :func:`scratchnet.train.train` with
    ``params`` restricted to ``stages[s]`` (default :func:`layerwise_stages`), for its share of
    ``epochs`` (:func:`split_epochs`). One optimizer serves every stage (its state is kept per
    parameter) and ``schedule`` runs over the whole budget. ``callback(epoch, history)`` sees
    the epoch counted over all stages. Returns the list of every stage's History."""
    stages = layerwise_stages(net) if stages is None else stages
    counts = split_epochs(epochs, len(stages))
    schedule = schedule or (lambda epoch, lr=optimizer.lr: lr)
    histories, offset = [], 0
    for keys, count in zip(stages, counts):
        params = {key: net.params[key] for key in keys}
        stage_callback = None if callback is None else (
            lambda epoch, history, offset=offset: callback(offset + epoch, history))
        histories.append(train(net, Xt, Ct, Xv, Cv, optimizer, epochs=count,
                               batch_size=batch_size, rng=rng, schedule=Shifted(schedule, offset),
                               eval_size=eval_size, callback=stage_callback, params=params,
                               divergence=divergence, evaluate=evaluate))
        offset += count
    return histories


class Recorder:
    """Per-epoch callback: the seconds of training so far and the accuracy and loss on fixed
    subsamples (``eval_size`` points of each set, drawn once from ``rng``; None: whole sets).

    The clocks run from :meth:`start` and are paused while the recorder itself evaluates, so
    ``seconds`` (wall time) and ``cpu_seconds`` (this process's CPU time, which other
    processes on a shared machine disturb less) count the training and the loop's own
    per-epoch bookkeeping, the same for every strategy; the curves of a run split into stages
    use the same points throughout.
    """

    def __init__(self, net, Xt, Ct, Xv, Cv, eval_size, rng):
        self.net = net
        self.train_set = subsample(Xt, Ct, eval_size, rng)
        self.val_set = subsample(Xv, Cv, eval_size, rng)
        self.eval_size = eval_size
        self.epoch, self.seconds, self.cpu_seconds = [], [], []
        self.train_acc, self.val_acc, self.train_loss, self.val_loss = [], [], [], []
        self._elapsed, self._since, self._cpu, self._cpu_since = 0.0, None, 0.0, None

    def start(self):
        self._since, self._cpu_since = time.perf_counter(), time.process_time()
        return self

    def __call__(self, epoch, history=None):
        self._elapsed += time.perf_counter() - self._since
        self._cpu += time.process_time() - self._cpu_since
        train_loss, train_acc = self.net.evaluate(*self.train_set)
        val_loss, val_acc = self.net.evaluate(*self.val_set)
        self.epoch.append(epoch)
        self.seconds.append(self._elapsed)
        self.cpu_seconds.append(self._cpu)
        self.train_loss.append(train_loss)
        self.train_acc.append(train_acc)
        self.val_loss.append(val_loss)
        self.val_acc.append(val_acc)
        self._since, self._cpu_since = time.perf_counter(), time.process_time()

    def curves(self):
        return {key: list(getattr(self, key)) for key in
                ("epoch", "seconds", "cpu_seconds", "train_acc", "val_acc", "train_loss",
                 "val_loss")}


@dataclass(frozen=True)
class Strategy:
    """How to train: an optimizer and schedule by name (:func:`scratchnet.optim.make_optimizer`,
    :func:`scratchnet.optim.make_schedule`), a ``kind`` ("plain", "alternating" or "layerwise")
    and the learning rates tried when tuning."""

    label: str
    optimizer: str
    schedule: str
    kind: str
    lrs: tuple

    def describe(self):
        base = f"{self.optimizer}" + ("" if self.schedule == "constant" else
                                      f" with the {self.schedule} schedule")
        if self.kind == "alternating":
            return f"{base}, alternating head and hidden layers batch by batch"
        if self.kind == "layerwise":
            return f"{base}, layer by layer, then all together"
        return base


KINDS = ("plain", "alternating", "layerwise")

STRATEGIES = (
    Strategy("SGD", "sgd", "constant", "plain", (0.03, 0.1, 0.3, 1.0)),
    Strategy("momentum", "momentum", "constant", "plain", (0.003, 0.01, 0.03, 0.1)),
    Strategy("Nesterov", "nesterov", "constant", "plain", (0.003, 0.01, 0.03, 0.1)),
    Strategy("Adam", "adam", "constant", "plain", (0.001, 0.003, 0.01, 0.03)),
    Strategy("Adam + cosine", "adam", "cosine", "plain", (0.003, 0.01, 0.03, 0.1)),
    Strategy("alternating", "adam", "cosine", "alternating", (0.003, 0.01, 0.03, 0.1)),
    Strategy("layer by layer", "adam", "cosine", "layerwise", (0.003, 0.01, 0.03, 0.1)),
)


def run_strategy(strategy, net, theta0, Xt, Ct, Xv, Cv, *, lr, epochs, batch_size, seed,
                 eval_size=None):
    """Train ``net`` from the parameters ``theta0`` by ``strategy`` at rate ``lr``, with the
    mini-batch order drawn from ``seed``; returns a :class:`StrategyRun` (diverged runs
    included, with ``diverged`` set and no final figures)."""
    if strategy.kind not in KINDS:
        raise ValueError(f"unknown kind {strategy.kind!r}; choose one of {KINDS}")
    net.set_params(theta0)
    seed_train, seed_eval = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(seed_train)
    recorder = Recorder(net, Xt, Ct, Xv, Cv, eval_size, np.random.default_rng(seed_eval))
    optimizer = make_optimizer(strategy.optimizer, lr)
    schedule = make_schedule(strategy.schedule, lr, epochs)
    # The recorder measures every epoch on fixed subsamples, across the stages of a
    # layer-by-layer run too; the loop measures nothing itself.
    common = dict(epochs=epochs, batch_size=batch_size, rng=rng, schedule=schedule,
                  evaluate=False, callback=recorder)
    recorder.start()
    try:
        if strategy.kind == "plain":
            train(net, Xt, Ct, Xv, Cv, optimizer, **common)
        elif strategy.kind == "alternating":
            alternating = Alternating(optimizer, [head_keys(net), body_keys(net)])
            train(net, Xt, Ct, Xv, Cv, alternating, params=net.params, **common)
        else:
            train_layerwise(net, Xt, Ct, Xv, Cv, optimizer, **common)
    except TrainingDiverged as error:
        return StrategyRun(strategy.label, lr, recorder.curves(), math.nan, {}, str(error))
    seconds = recorder.seconds[-1]
    train_loss, train_acc = net.evaluate(Xt, Ct)
    val_loss, val_acc = net.evaluate(Xv, Cv)
    final = dict(train_acc=train_acc, val_acc=val_acc, train_loss=train_loss, val_loss=val_loss)
    return StrategyRun(strategy.label, lr, recorder.curves(), seconds, final, None)


@dataclass
class StrategyRun:
    """One run: the per-epoch ``curves`` (epoch, seconds, accuracies and losses on the
    subsamples), the total ``seconds`` of training (wall time; the CPU time is the curves' last
    ``cpu_seconds``), the ``final`` accuracies and losses on the
    whole sets, and ``diverged`` (the reason, or None)."""

    label: str
    lr: float
    curves: dict
    seconds: float
    final: dict
    diverged: str | None = None


def holdout_split(Xt, Ct, fraction, rng):
    """The training set split at random into a part to train on and a held-out ``fraction``."""
    m = Xt.shape[1]
    order = rng.permutation(m)
    cut = m - int(round(fraction * m))
    fit, held = order[:cut], order[cut:]
    return Xt[:, fit], Ct[:, fit], Xt[:, held], Ct[:, held]


@dataclass
class Tuning:
    """The rate chosen for one strategy and the held-out accuracy of every rate tried
    (None for a run that diverged)."""

    label: str
    lr: float
    scores: dict = field(default_factory=dict)


def tune(strategy, net, theta0, Xt, Ct, *, epochs, batch_size, seed, holdout=0.2,
         eval_size=200):
    """Choose ``strategy``'s rate among ``strategy.lrs``: train on the training set less a
    held-out ``holdout`` fraction, score the final accuracy on the whole held-out part (the
    validation set is not looked at), and keep the best (ties to the smaller rate). The
    per-epoch curves of these runs are not used: ``eval_size`` keeps them cheap."""
    X_fit, C_fit, X_held, C_held = holdout_split(Xt, Ct, holdout, np.random.default_rng(seed))
    scores = {}
    for lr in strategy.lrs:
        run = run_strategy(strategy, net, theta0, X_fit, C_fit, X_held, C_held, lr=lr,
                           epochs=epochs, batch_size=batch_size, seed=seed, eval_size=eval_size)
        scores[lr] = None if run.diverged else run.final["val_acc"]
    finished = {lr: s for lr, s in scores.items() if s is not None}
    if not finished:
        raise TrainingDiverged(f"{strategy.label}: every rate tried diverged {strategy.lrs}")
    best = max(finished.values())
    return Tuning(strategy.label, min(lr for lr, s in finished.items() if s == best), scores)


def compare(dataset, strategies=STRATEGIES, *, depth, width, epochs, batch_size, seeds,
            tune_epochs, eval_size=None, activation="tanh", holdout=0.2, dtype="float64"):
    """Tune every strategy on ``dataset`` (with the first seed), then train it from every seed
    in ``seeds``: for one seed, every strategy starts from the same initial weights (drawn from
    that seed) and draws its mini-batches from the same seed. Returns ``(runs, tunings)``:
    ``{label: [StrategyRun per seed]}`` and ``{label: Tuning}``."""
    nets = {seed: make_network("standard", dataset.n_features, dataset.n_classes, depth, width,
                               activation, seed=seed, dtype=dtype) for seed in seeds}
    theta0 = {seed: net.get_params() for seed, net in nets.items()}
    runs, tunings = {}, {}
    first = seeds[0]
    for strategy in strategies:
        tunings[strategy.label] = tuning = tune(
            strategy, nets[first], theta0[first], dataset.Xt, dataset.Ct, epochs=tune_epochs,
            batch_size=batch_size, seed=first, holdout=holdout)
        runs[strategy.label] = [
            run_strategy(strategy, nets[seed], theta0[seed], dataset.Xt, dataset.Ct, dataset.Xv,
                         dataset.Cv, lr=tuning.lr, epochs=epochs, batch_size=batch_size,
                         seed=seed, eval_size=eval_size)
            for seed in seeds]
    return runs, tunings


def aggregate(runs):
    """Mean and standard deviation over seeds of the final accuracies (whole sets) and the
    seconds of training of a strategy's runs; diverged runs are counted, not averaged."""
    done = [run for run in runs if not run.diverged]
    stats = {"seeds": len(runs), "diverged": len(runs) - len(done)}
    for key in ("val_acc", "train_acc"):
        values = [run.final[key] for run in done]
        stats[f"{key}_mean"] = float(np.mean(values)) if values else None
        stats[f"{key}_std"] = float(np.std(values)) if values else None
    stats["val_accs"] = [run.final["val_acc"] for run in done]
    stats["seconds_mean"] = float(np.mean([run.seconds for run in done])) if done else None
    stats["cpu_seconds_mean"] = (float(np.mean([run.curves["cpu_seconds"][-1] for run in done]))
                                 if done else None)
    return stats


def time_to_reach(run, target):
    """Seconds of training until the run's validation curve first reaches ``target`` (None if
    it never does)."""
    for seconds, acc in zip(run.curves["seconds"], run.curves["val_acc"]):
        if acc >= target:
            return seconds
    return None


def strategy_findings(runs, baseline="SGD", tie=TIE, reach=0.005):
    """The verdict's numbers for one data set, from ``{label: [StrategyRun per seed]}``: the
    winner by mean final validation accuracy (whole set), its margin over the runner-up and over
    ``baseline``; the strategies whose mean beats the baseline's by more than ``tie`` (and
    whether they beat it on every seed) and those behind it by more than ``tie``; per strategy,
    the mean seconds of training and the seconds until the first seed's validation curve came
    within ``reach`` of the winner's mean final accuracy."""
    stats = {label: aggregate(r) for label, r in runs.items()}
    finished = {label: s for label, s in stats.items() if not s["diverged"]}
    ranked = sorted(finished, key=lambda label: -finished[label]["val_acc_mean"])
    acc = {label: finished[label]["val_acc_mean"] for label in ranked}
    winner = ranked[0]
    base = acc.get(baseline)
    target = acc[winner] - reach
    beat = [] if base is None else [label for label in ranked if acc[label] - base > tie]
    every_seed = {label: all(a > b for a, b in zip(finished[label]["val_accs"],
                                                   finished[baseline]["val_accs"]))
                  for label in beat}
    return {
        "winner": winner,
        "winner_val_acc": acc[winner],
        "runner_up": ranked[1] if len(ranked) > 1 else None,
        "margin": acc[winner] - acc[ranked[1]] if len(ranked) > 1 else None,
        "level": [label for label in ranked if acc[winner] - acc[label] <= tie],
        "ranking": ranked,
        "baseline": baseline,
        "baseline_val_acc": base,
        "margin_over_baseline": None if base is None else acc[winner] - base,
        "beat_baseline": beat,
        "beat_baseline_every_seed": every_seed,
        "behind_baseline": [] if base is None else [l for l in ranked if base - acc[l] > tie],
        "diverged": [label for label, s in stats.items() if s["diverged"]],
        "reach": reach,
        "seconds_to_reach": {label: time_to_reach(runs[label][0], target) for label in ranked},
        "seconds": {label: finished[label]["seconds_mean"] for label in ranked},
        "tie": tie,
        "stats": stats,
    }


def overall_findings(findings, baseline="SGD", base="Adam + cosine",
                     variants=("alternating", "layer by layer")):
    """Across data sets (``{dataset: strategy_findings(...)}``): the winners, the strategies
    that beat ``baseline`` by more than the tie on every data set, and how each of
    ``variants`` (built on ``base``) compares with ``base``: the difference of mean final
    validation accuracy and the ratio of CPU seconds (steadier than wall time on a shared
    machine), per data set."""
    def acc(f, label):
        return f["stats"][label]["val_acc_mean"]

    labels = list(next(iter(findings.values()))["stats"])
    everywhere = [label for label in labels
                  if all(label in f["beat_baseline"] for f in findings.values())]
    against_base = {
        variant: {name: {"delta": (None if f["stats"][variant]["diverged"]
                                   or f["stats"][base]["diverged"]
                                   else acc(f, variant) - acc(f, base)),
                         "time_ratio": (None if f["stats"][variant]["diverged"]
                                        or f["stats"][base]["diverged"]
                                        else f["stats"][variant]["cpu_seconds_mean"]
                                        / f["stats"][base]["cpu_seconds_mean"])}
                  for name, f in findings.items()}
        for variant in variants}
    return {"winners": {name: f["winner"] for name, f in findings.items()},
            "baseline": baseline, "base": base, "beat_baseline_everywhere": everywhere,
            "against_base": against_base,
            "tie": next(iter(findings.values()))["tie"]}


def overall_paragraph(o):
    """The closing verdict across data sets, from :func:`overall_findings`."""
    winners = "; ".join(f"{label} on {name}" for name, label in o["winners"].items())
    text = [f"Winners: {winners}."]
    if o["beat_baseline_everywhere"]:
        text.append(f"Beating plain {o['baseline']} by more than {_points(o['tie'])} on every "
                    f"data set: {_names(o['beat_baseline_everywhere'])}.")
    else:
        text.append(f"No strategy beats plain {o['baseline']} by more than "
                    f"{_points(o['tie'])} on every data set.")
    for index, (variant, per) in enumerate(o["against_base"].items()):
        parts = []
        for name, d in per.items():
            if d["delta"] is None:
                parts.append(f"diverged on {name}")
                continue
            verdict = ("level" if abs(d["delta"]) <= o["tie"] else
                       "ahead" if d["delta"] > 0 else "behind")
            parts.append(f"{verdict} on {name} ({100 * d['delta']:+.2f} points, "
                         f"{d['time_ratio']:.2f} times its CPU time)")
        against = (f"Against {o['base']}, the same optimizer and schedule stepping all "
                   "parameters at once," if index == 0 else f"Against {o['base']},")
        text.append(f"{against} {variant} is " + ", ".join(parts) + ".")
    return " ".join(text)


def _points(delta):
    return f"{100 * delta:.2f} points"


def _names(labels):
    labels = [f"{label}" for label in labels]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def verdict_paragraph(name, f):
    """The verdict on one data set in sentences that quote the numbers of
    :func:`strategy_findings`."""
    n = f["stats"][f["winner"]]["seeds"]
    text = [f"On **{name}**, {f['winner']} ends highest, at {percent(f['winner_val_acc'], 2)} "
            f"mean validation accuracy over {n} seeds"]
    if f["runner_up"] is not None:
        text[0] += f", {_points(f['margin'])} ahead of {f['runner_up']}"
    text[0] += "."
    level = [label for label in f["level"] if label != f["winner"]]
    if level:
        text.append(f"Within {_points(f['tie'])} of it, hence level: {_names(level)}.")
    if f["baseline_val_acc"] is not None:
        if f["beat_baseline"]:
            every = [label for label in f["beat_baseline"] if f["beat_baseline_every_seed"][label]]
            text.append(f"Beating plain {f['baseline']} "
                        f"({percent(f['baseline_val_acc'], 2)}) by more than "
                        f"{_points(f['tie'])}: {_names(f['beat_baseline'])}"
                        + (f" ({_names(every)} on every seed)" if every else
                           " (none of them on every seed)")
                        + (f"; the winner by {_points(f['margin_over_baseline'])}."
                           if f["winner"] in f["beat_baseline"] else "."))
        else:
            text.append(f"Nothing beats plain {f['baseline']} "
                        f"({percent(f['baseline_val_acc'], 2)}) by more than {_points(f['tie'])}.")
        if f["behind_baseline"]:
            text.append(f"Behind it by more than {_points(f['tie'])}: "
                        f"{_names(f['behind_baseline'])}.")
    reached = {label: s for label, s in f["seconds_to_reach"].items() if s is not None}
    if reached:
        fastest = min(reached, key=reached.get)
        never = [label for label, s in f["seconds_to_reach"].items() if s is None]
        text.append(f"Against the clock (first seed), {fastest} is the first whose validation "
                    f"curve comes within {_points(f['reach'])} of the winner's mean final "
                    f"accuracy (for one epoch at least), after {reached[fastest]:.2f} s of "
                    "training"
                    + (f"; {_names(never)} never get there." if never else "."))
    if f["diverged"]:
        text.append(f"Diverged on some seed: {_names(f['diverged'])}.")
    return " ".join(text)


def _with_widths(table, widths):
    """``table`` (from :func:`scratchnet.report.markdown_table`) with its rule line redrawn so
    that pandoc, which sizes the columns of a long pipe table by the dashes of that line, gives
    column ``i`` a share ``widths[i]`` of the text width; the alignment is kept."""
    lines = table.splitlines()
    cells = lines[1].strip("|").split("|")
    if len(cells) != len(widths):
        raise ValueError(f"{len(widths)} widths for {len(cells)} columns")
    rule = []
    for cell, width in zip(cells, widths):
        left, right = cell.startswith(":"), cell.endswith(":")
        dashes = "-" * max(3, width - left - right)
        rule.append((":" if left else "") + dashes + (":" if right else ""))
    lines[1] = "|" + "|".join(rule) + "|"
    return "\n".join(lines)


def strategy_table(f, tunings):
    """One data set's strategies, best first: the chosen rate, the final validation and
    training accuracy (whole sets, mean and spread over seeds), the mean wall and CPU seconds
    of training and the wall seconds to come within ``reach`` of the winner (first seed)."""
    rows = []
    labels = f["ranking"] + f["diverged"]
    for label in labels:
        s = f["stats"][label]
        if s["diverged"]:
            rows.append([label, f"{tunings[label].lr:g}", f"diverged ({s['diverged']} seeds)",
                         "n/a", "n/a", "n/a", "n/a"])
            continue
        reach = f["seconds_to_reach"][label]
        rows.append([label, f"{tunings[label].lr:g}",
                     f"{percent(s['val_acc_mean'], 2)} $\\pm$ {100 * s['val_acc_std']:.2f}",
                     f"{percent(s['train_acc_mean'], 2)}", f"{s['seconds_mean']:.2f}",
                     f"{s['cpu_seconds_mean']:.2f}",
                     "never" if reach is None else f"{reach:.2f}"])
    table = markdown_table(["strategy", "rate", "validation", "training", "seconds",
                            "CPU seconds", f"seconds to within {100 * f['reach']:.1f} points"],
                           rows, align="lrrrrrr")
    return _with_widths(table, [15, 6, 16, 9, 8, 8, 11])


def summary_table(findings):
    """Every strategy on every data set, one row per strategy: the mean final validation
    accuracy and, in brackets, the mean seconds of training; ``findings`` is ``{dataset:
    strategy_findings(...)}``; the winner of each data set in bold."""
    names = list(findings)
    labels = list(next(iter(findings.values()))["stats"])
    rows = []
    for label in labels:
        row = [label]
        for name in names:
            f = findings[name]
            s = f["stats"][label]
            if s["diverged"]:
                row.append("diverged")
                continue
            cell = f"{percent(s['val_acc_mean'], 2)} ({s['seconds_mean']:.2f} s)"
            row.append(f"**{cell}**" if label == f["winner"] else cell)
        rows.append(row)
    return _with_widths(markdown_table(["strategy"] + names, rows, align="l" + "r" * len(names)),
                        [16] + [20] * len(names))


def tuning_table(tunings):
    """The held-out accuracy of every rate each strategy tried on one data set, the chosen
    one in bold; ``tunings`` is ``{label: Tuning}``."""
    rows = []
    for label, t in tunings.items():
        cells = [("diverged" if s is None else
                  (f"**{lr:g}: {percent(s, 2)}**" if lr == t.lr else f"{lr:g}: {percent(s, 2)}"))
                 for lr, s in t.scores.items()]
        rows.append([label, ", ".join(cells)])
    return _with_widths(markdown_table(["strategy", "rate: held-out accuracy"], rows,
                                       align="ll"), [12, 60])


def edge_choices(tunings):
    """``{label: "smallest" | "largest"}`` for the strategies whose chosen rate is at an end
    of the rates tried (a better rate may lie beyond)."""
    edges = {}
    for label, t in tunings.items():
        tried = sorted(t.scores)
        if len(tried) > 1 and t.lr == tried[0]:
            edges[label] = "smallest"
        elif len(tried) > 1 and t.lr == tried[-1]:
            edges[label] = "largest"
    return edges


def tuning_note(tunings):
    """One sentence on whether the chosen rates lie inside the rates tried."""
    edges = edge_choices(tunings)
    if not edges:
        return "Every chosen rate lies inside the rates tried: a worse rate on either side."
    listed = _names([f"{label} (the {end})" for label, end in edges.items()])
    return (f"The chosen rate is at an end of the rates tried for {listed}: a better rate may "
            "lie beyond it; every other chosen rate has a worse one on either side.")


def strategies_figure(runs, title=None, zoom_points=1.5):
    """Validation accuracy (on the recorder's subsample) against epochs (left) and against
    seconds of training (right), one colour per strategy; ``runs`` is ``{label: StrategyRun}``
    (one seed). Top row: the whole range; bottom row: a zoom on the last ``zoom_points``
    points below the highest accuracy reached."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from .report.figures import WIDTH

    fig, axes = plt.subplots(2, 2, figsize=(WIDTH, 5.2), sharex="col")
    finished = {label: run for label, run in runs.items() if run.curves["epoch"]}
    styles = ["-", "-", "--", "-", "-", "--", "-."]
    for i, (label, run) in enumerate(finished.items()):
        c = run.curves
        acc = 100 * np.asarray(c["val_acc"])
        style = dict(color=f"C{i}", ls=styles[i % len(styles)], lw=1.2, label=label)
        for row in axes:
            row[0].plot(c["epoch"], acc, **style)
            row[1].plot(c["seconds"], acc, **style)
    peak = max(100 * max(run.curves["val_acc"]) for run in finished.values())
    for ax in axes[1]:
        ax.set_ylim(peak - zoom_points, peak + 0.1 * zoom_points)
    axes[0, 0].set_title("against epochs", fontsize=9)
    axes[0, 1].set_title("against seconds of training", fontsize=9)
    axes[1, 0].set_xlabel("epoch")
    axes[1, 0].xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    axes[1, 1].set_xlabel("seconds of training")
    axes[0, 0].set_ylabel("validation accuracy (%)")
    axes[1, 0].set_ylabel(f"zoom: top {zoom_points:g} points")
    for ax in axes.flat:
        ax.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=min(len(labels), 4), fontsize=8, frameon=False)
    return fig
