"""Section 2.5 (regularization): overfitting provoked on a small training subset, then the
squared L2 weight penalty swept over several strengths, and Gaussian input noise as a second
regularizer.

Computing is separate from plotting: :func:`decay_sweep` trains and returns data,
:func:`decay_stats`, :func:`overfitting_findings` and :func:`decay_findings` reduce it to
numbers; :func:`decay_table` and :func:`decay_paragraph` write text from those numbers, and
:func:`decay_figure` only draws.
"""
from dataclasses import dataclass
import time

import numpy as np

from .network import make_network
from .optim import Adam, make_schedule
from .report import markdown_table, percent
from .train import DivergenceGuard, History, step_targets, subsample, train, train_epoch

# Two mean accuracies closer than this (a fraction: 0.005 is half a point) count as level:
# with 200 training points, seeds alone move the validation accuracy by about that much.
TIE = 0.005


def balanced_subset(C, size, rng):
    """Indices of ``size`` columns of the one-hot labels C (k x m), drawn without replacement
    from each class in equal shares (the first ``size % k`` classes get one more), sorted."""
    labels = np.argmax(C, axis=0)
    k = C.shape[0]
    share = [size // k + (c < size % k) for c in range(k)]
    picks = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if len(members) < share[c]:
            raise ValueError(f"class {c} has {len(members)} samples, {share[c]} needed")
        picks.append(rng.choice(members, size=share[c], replace=False))
    return np.sort(np.concatenate(picks))


@dataclass
class DecayRun:
    """One run: the penalty ``lam``, input noise ``noise``, the seed, the per-epoch history,
    the final figures on the whole training subset and validation set (``whole``), the
    Frobenius norm of all weight matrices at the end, and the seconds it trained."""

    lam: float
    noise: float
    seed: int
    history: History
    whole: dict
    weight_norm: float
    seconds: float


def weight_norm(net):
    """sqrt(sum ||W||_F^2) over the network's weight matrices (the penalised part; no biases)."""
    return float(np.sqrt(sum(np.sum(w * w) for key, w in net.params.items()
                             if key.split(".")[-1].startswith("W"))))


def _train_noisy(net, Xt, Ct, Xv, Cv, optimizer, schedule, *, epochs, batch_size, rng, noise,
                 eval_size):
    """Like :func:`scratchnet.train.train`, but every epoch trains on the inputs plus fresh
    Gaussian noise of standard deviation ``noise`` (a scalar, or an n x 1 column of one value
    per feature); the figures are measured on the clean sets."""
    eval_rng = np.random.default_rng(rng.integers(2**63))
    Xv_eval, Cv_eval = subsample(Xv, Cv, eval_size, eval_rng)
    params, grads = step_targets(net)
    guard = DivergenceGuard(100.0, net.n_classes)
    history = History(eval_size=eval_size)
    for epoch in range(epochs):
        optimizer.lr = schedule(epoch)
        X_noisy = Xt + noise * rng.standard_normal(Xt.shape)
        train_epoch(net, X_noisy, Ct, optimizer, batch_size, rng, params, grads, guard, epoch)
        train_loss, train_acc = net.evaluate(Xt, Ct)
        val_loss, val_acc = net.evaluate(Xv_eval, Cv_eval)
        history.add(epoch + 1, optimizer.lr, train_loss, train_acc, val_loss, val_acc)
    return history


def train_regularized(Xt, Ct, Xv, Cv, *, lam=0.0, noise=0.0, seed=0, depth=3, width=128,
                      activation="tanh", lr=0.01, epochs=200, batch_size=20, eval_size=None,
                      dtype="float64"):
    """Train a standard network (``depth`` hidden layers of ``width``) with the L2 penalty
    ``lam / 2 * sum ||W||_F^2`` and, when ``noise > 0``, Gaussian noise added to the training
    inputs every epoch, of standard deviation ``noise`` times each feature's std over Xt; Adam at ``lr`` with a cosine decay
    to lr / 100. ``seed`` draws the initial weights and the order of the batches (the same
    seed gives the same initial weights for every ``lam`` and ``noise``). The per-epoch
    validation figures use a random subsample of ``eval_size`` points (None: all); the
    returned :class:`DecayRun` holds the final figures on the whole sets."""
    init_seed, train_seed = np.random.SeedSequence(seed).spawn(2)
    net = make_network("standard", Xt.shape[0], Ct.shape[0], depth, width, activation,
                       seed=np.random.default_rng(init_seed), weight_decay=lam, dtype=dtype)
    rng = np.random.default_rng(train_seed)
    optimizer = Adam(lr)
    schedule = make_schedule("cosine", lr, epochs)
    start = time.perf_counter()
    if noise > 0:
        sigma = noise * Xt.std(axis=1, keepdims=True)
        history = _train_noisy(net, Xt, Ct, Xv, Cv, optimizer, schedule, epochs=epochs,
                               batch_size=batch_size, rng=rng, noise=sigma,
                               eval_size=eval_size)
    else:
        history = train(net, Xt, Ct, Xv, Cv, optimizer, epochs=epochs,
                        batch_size=batch_size, rng=rng, schedule=schedule,
                        eval_size=eval_size)
    seconds = time.perf_counter() - start
    train_loss, train_acc = net.evaluate(Xt, Ct)
    val_loss, val_acc = net.evaluate(Xv, Cv)
    whole = {"train_acc": train_acc, "val_acc": val_acc, "train_loss": train_loss,
             "val_loss": val_loss, "gap": train_acc - val_acc}
    return DecayRun(float(lam), float(noise), seed, history, whole, weight_norm(net), seconds)


def decay_sweep(Xt, Ct, Xv, Cv, lams, seeds, **settings):
    """Every penalty of ``lams`` from every seed: ``{lam: [DecayRun per seed]}``; ``settings``
    go to :func:`train_regularized` (``noise`` among them gives the noise-injection runs)."""
    return {float(lam): [train_regularized(Xt, Ct, Xv, Cv, lam=lam, seed=s, **settings)
                         for s in seeds] for lam in lams}


def mean_curve(runs, key):
    """The per-epoch curve ``key`` ("train_acc", "val_acc", ...) averaged over the runs."""
    return np.mean([getattr(r.history, key) for r in runs], axis=0)


def run_stats(runs):
    """Final-epoch figures of the runs of one setting over their seeds: means and (population)
    stds of the training and validation accuracy and of their gap, the per-seed validation
    accuracies, the mean weight norm, and the best epoch of the mean validation curve (labelled
    best: it is chosen by looking at the validation set)."""
    tr = np.array([r.whole["train_acc"] for r in runs])
    va = np.array([r.whole["val_acc"] for r in runs])
    gap = tr - va
    curve = mean_curve(runs, "val_acc")
    best = int(np.argmax(curve))
    return {"lam": runs[0].lam, "noise": runs[0].noise, "seeds": [r.seed for r in runs],
            "train_acc_mean": float(tr.mean()), "train_acc_std": float(tr.std()),
            "val_acc_mean": float(va.mean()), "val_acc_std": float(va.std()),
            "gap_mean": float(gap.mean()), "gap_std": float(gap.std()),
            "val_accs": va.tolist(), "train_accs": tr.tolist(),
            "weight_norm": float(np.mean([r.weight_norm for r in runs])),
            "best_epoch": best + 1, "best_epoch_val_acc": float(curve[best]),
            "seconds": float(np.mean([r.seconds for r in runs]))}


def decay_stats(sweep):
    """:func:`run_stats` of every penalty of a :func:`decay_sweep`: ``{lam: stats}``."""
    return {lam: run_stats(runs) for lam, runs in sweep.items()}


def overfitting_findings(runs, tie=TIE):
    """Is there overfitting in the unregularized runs? From their mean curves: the final train
    and validation accuracy (history figures), the gap, the epoch where the mean validation curve
    peaks and how much it loses from there to the end, and how much the training accuracy still
    gains over the same epochs. ``overfits`` is true when the final gap exceeds 5 points and the
    validation accuracy, after its peak, falls by more than ``tie`` or stalls (gains less than
    ``tie``) while the training accuracy gains more than it."""
    tr, va = mean_curve(runs, "train_acc"), mean_curve(runs, "val_acc")
    peak = int(np.argmax(va))
    half = len(va) // 2
    val_drop = float(va[peak] - va[-1])
    train_gain_after_peak = float(tr[-1] - tr[peak])
    val_gain_second_half = float(va[-1] - va[half - 1]) if half else 0.0
    train_gain_second_half = float(tr[-1] - tr[half - 1]) if half else 0.0
    gap = float(tr[-1] - va[-1])
    falls = val_drop > tie
    stalls = val_gain_second_half < tie and train_gain_second_half > val_gain_second_half
    return {"train_acc": float(tr[-1]), "val_acc": float(va[-1]), "gap": gap,
            "peak_epoch": peak + 1, "peak_val_acc": float(va[peak]), "val_drop": val_drop,
            "train_gain_after_peak": train_gain_after_peak,
            "val_gain_second_half": val_gain_second_half,
            "train_gain_second_half": train_gain_second_half,
            "falls": bool(falls), "stalls": bool(stalls),
            "overfits": bool(gap > 0.05 and (falls or stalls)), "tie": tie}


def margin(a, b, key, tie=TIE):
    """The smallest difference of the means of ``key`` ("val_acc", "gap", ...) between two
    :func:`run_stats` that counts: ``tie``, or the larger spread (std over seeds) of the two if
    that is wider, so that a difference the seeds alone could make is not read as an effect."""
    return float(max(tie, a[f"{key}_std"], b[f"{key}_std"]))


def decay_findings(stats, tie=TIE):
    """What the sweep of one data set shows, from ``{lam: run_stats}`` (must hold lam = 0 and
    one positive penalty at least). Every comparison with lam = 0 uses :func:`margin`.

    ``best``: the positive penalty with the best mean validation accuracy, and ``gain`` over
    lam = 0; ``helps`` when that gain exceeds the margin. ``closing``: the penalties whose mean
    gap is narrower than at lam = 0 by more than the margin while their validation accuracy is
    not lower by more than the margin (``closes`` when there is one). ``harmful``: penalties
    that lower the validation accuracy by more than the margin. ``narrowest``: the penalty with
    the smallest gap, which may be bought by a training accuracy that falls (underfitting)."""
    base = stats[0.0]
    penalties = [lam for lam in stats if lam > 0]
    best = max(penalties, key=lambda lam: stats[lam]["val_acc_mean"])
    gain = stats[best]["val_acc_mean"] - base["val_acc_mean"]
    closing = [lam for lam in penalties
               if stats[lam]["val_acc_mean"] >= base["val_acc_mean"]
               - margin(base, stats[lam], "val_acc", tie)
               and stats[lam]["gap_mean"] < base["gap_mean"]
               - margin(base, stats[lam], "gap", tie)]
    harmful = [lam for lam in penalties if stats[lam]["val_acc_mean"]
               < base["val_acc_mean"] - margin(base, stats[lam], "val_acc", tie)]
    narrowest = min(stats, key=lambda lam: stats[lam]["gap_mean"])
    return {"base_gap": base["gap_mean"], "base_val": base["val_acc_mean"],
            "base_train": base["train_acc_mean"],
            "best": best, "best_val": stats[best]["val_acc_mean"],
            "best_gap": stats[best]["gap_mean"], "best_train": stats[best]["train_acc_mean"],
            "gain": float(gain), "gain_margin": margin(base, stats[best], "val_acc", tie),
            "helps": bool(gain > margin(base, stats[best], "val_acc", tie)),
            "narrowest": narrowest, "narrowest_gap": stats[narrowest]["gap_mean"],
            "narrowest_val": stats[narrowest]["val_acc_mean"],
            "narrowest_train": stats[narrowest]["train_acc_mean"],
            "closing": closing, "closes": bool(closing),
            "harmful": harmful, "tie": tie}


def lam_tex(lam):
    """A penalty as LaTeX without the dollars: 0, 10^{-4}, 3 \\cdot 10^{-4}."""
    if lam == 0:
        return "0"
    exponent = int(np.floor(np.log10(lam) + 1e-9))
    mantissa = lam / 10.0**exponent
    power = f"10^{{{exponent}}}"
    return power if np.isclose(mantissa, 1) else f"{mantissa:g} \\cdot {power}"


def lam_label(lam):
    """A penalty in inline maths, as tables and figure ticks print it: $10^{-4}$."""
    return f"${lam_tex(lam)}$"


def lam_eq(lam):
    """'$\\lambda = 10^{-4}$', as the text and legends print a penalty."""
    return f"$\\lambda = {lam_tex(lam)}$"


def _lam_set(lams):
    if len(lams) == 1:
        return lam_eq(lams[0])
    return "$\\lambda \\in \\{" + ", ".join(lam_tex(lam) for lam in lams) + "\\}$"


def _points(delta):
    return f"{100 * delta:+.1f} points"


def decay_table(stats):
    """Final accuracies per penalty (mean $\\pm$ std over seeds, whole sets) and the gap."""
    rows = []
    for lam, s in stats.items():
        rows.append([lam_label(lam),
                     f"{percent(s['train_acc_mean'])} $\\pm$ {100 * s['train_acc_std']:.1f}",
                     f"{percent(s['val_acc_mean'])} $\\pm$ {100 * s['val_acc_std']:.1f}",
                     f"{100 * s['gap_mean']:.1f} $\\pm$ {100 * s['gap_std']:.1f}",
                     f"{s['weight_norm']:.1f}",
                     f"{percent(s['best_epoch_val_acc'])} ({s['best_epoch']})"])
    return markdown_table(["$\\lambda$", "training", "validation", "gap (points)",
                           "$\\lVert W \\rVert$", "best val. (epoch)"], rows,
                          align="lrrrrr")


def overfitting_paragraph(name, f):
    """Sentences on the unregularized runs of one data set, quoting ``overfitting_findings``."""
    text = (f"**{name}**, $\\lambda = 0$: training accuracy {percent(f['train_acc'])}, "
            f"validation {percent(f['val_acc'])} at the last epoch (per-epoch curves, mean "
            f"over seeds), a gap of "
            f"{100 * f['gap']:.1f} points. The mean validation curve peaks at epoch "
            f"{f['peak_epoch']} ({percent(f['peak_val_acc'])}) ")
    if f["falls"]:
        text += (f"and then loses {100 * f['val_drop']:.1f} points while the training "
                 f"accuracy changes by {_points(f['train_gain_after_peak'])}: ")
    else:
        text += (f"and ends within {100 * f['tie']:.1f} points of that peak; over the second "
                 f"half of training it moves by {_points(f['val_gain_second_half'])} against "
                 f"{_points(f['train_gain_second_half'])} for the training accuracy: ")
    if f["overfits"]:
        text += "the network overfits." if f["falls"] else (
            "the validation accuracy stalls well below the training accuracy, the network "
            "overfits.")
    elif f["gap"] > 0.05:
        text += ("a wide generalization gap, but the validation accuracy still rises with the "
                 "training accuracy: no overfitting in the strict sense (validation falling or "
                 "stalling while training rises), the small subset limits both.")
    else:
        text += "no clear overfitting by our criterion (gap over 5 points, validation falling " \
                "or stalling while training rises)."
    return text


def decay_paragraph(name, f):
    """Sentences on the penalty sweep of one data set, quoting ``decay_findings``."""
    rule = (f"more than {100 * f['tie']:.1f} points or the spread over the seeds, "
            "whichever is larger")
    if f["helps"]:
        text = (f"**{name}**: the best penalty, {lam_eq(f['best'])}, raises the "
                f"mean validation accuracy from {percent(f['base_val'])} to "
                f"{percent(f['best_val'])} ({_points(f['gain'])}, beyond the margin of "
                f"{100 * f['gain_margin']:.1f}), with a gap of "
                f"{100 * f['best_gap']:.1f} points against {100 * f['base_gap']:.1f} without "
                "penalty. ")
    else:
        text = (f"**{name}**: the best penalty, {lam_eq(f['best'])}, changes the mean "
                f"validation accuracy by {_points(f['gain'])} ({percent(f['base_val'])} "
                f"$\\to$ {percent(f['best_val'])}), within the margin of "
                f"{100 * f['gain_margin']:.1f} points: the L2 penalty does not help here. ")
    if f["closes"]:
        text += ("The gap narrows (by " + rule + ") without a loss of validation accuracy "
                 "for " + _lam_set(f["closing"]) + ". ")
    else:
        text += ("No penalty narrows the gap (by " + rule + ") while keeping the validation "
                 "accuracy. ")
    if f["narrowest"] != 0.0 and f["narrowest"] not in f["closing"]:
        text += (f"The narrowest gap, {100 * f['narrowest_gap']:.1f} points at "
                 f"{lam_eq(f['narrowest'])}, comes with a training accuracy of "
                 f"{percent(f['narrowest_train'])} (validation {percent(f['narrowest_val'])}): "
                 "underfitting, not better generalization. ")
    if f["harmful"]:
        text += ("The validation accuracy drops (by " + rule + ") for "
                 + _lam_set(f["harmful"]) + ".")
    return text.strip()


def noise_findings(base, noisy, tie=TIE):
    """Input noise against no regularization, from two :func:`run_stats` (``base``: lam = 0,
    no noise), with the :func:`margin` of the two: the change of the mean validation accuracy
    and of the gap, and the verdicts ``helps`` / ``hurts`` (validation up / down by more than
    the margin) and ``closes`` (the gap shrinks by more than its margin while the validation
    accuracy does not drop by more than its margin)."""
    gain = noisy["val_acc_mean"] - base["val_acc_mean"]
    gap_change = noisy["gap_mean"] - base["gap_mean"]
    val_margin = margin(base, noisy, "val_acc", tie)
    gap_margin = margin(base, noisy, "gap", tie)
    return {"noise": noisy["noise"], "base_val": base["val_acc_mean"],
            "val": noisy["val_acc_mean"], "gain": float(gain), "val_margin": val_margin,
            "base_gap": base["gap_mean"], "gap": noisy["gap_mean"],
            "gap_change": float(gap_change), "gap_margin": gap_margin,
            "helps": bool(gain > val_margin), "hurts": bool(gain < -val_margin),
            "closes": bool(gap_change < -gap_margin and gain >= -val_margin), "tie": tie}


def noise_table(rows):
    """One row per data set from ``{name: (base stats, noisy stats)}``: final accuracies
    without regularization and with input noise, the gaps and the change of the validation
    accuracy, in points."""
    body = []
    for name, (base, noisy) in rows.items():
        body.append([name, percent(base["train_acc_mean"]), percent(base["val_acc_mean"]),
                     f"{100 * base['gap_mean']:.1f}", percent(noisy["train_acc_mean"]),
                     f"{percent(noisy['val_acc_mean'])} $\\pm$ {100 * noisy['val_acc_std']:.1f}",
                     f"{100 * noisy['gap_mean']:.1f}",
                     f"{100 * (noisy['val_acc_mean'] - base['val_acc_mean']):+.1f}"])
    return markdown_table(["data set", "train", "val.", "gap", "train, noise", "val., noise",
                           "gap, noise", "val. change"], body, align="lrrrrrrr")


def noise_paragraph(name, f):
    """One sentence per data set on input noise, quoting :func:`noise_findings`."""
    verdict = ("it helps" if f["helps"] else "it hurts" if f["hurts"]
               else f"within the margin of {100 * f['val_margin']:.1f} points: no gain")
    gap = ("the gap closes" if f["closes"] else "the gap narrows only with the validation "
           "accuracy" if f["gap_change"] < -f["gap_margin"]
           else f"the gap does not narrow beyond its margin of {100 * f['gap_margin']:.1f}")
    return (f"**{name}**: validation {percent(f['base_val'])} $\\to$ {percent(f['val'])} "
            f"({_points(f['gain'])}), gap {100 * f['base_gap']:.1f} $\\to$ "
            f"{100 * f['gap']:.1f} points: {verdict}, and {gap}.")


# --- figures: they draw what the functions above computed ---

# The left panel of decay_figure frames the penalties that end within this of the best.
FRAME = 0.10


def decay_figure(sweep, stats, title=None):
    """Left: training (dashed) and validation (solid) accuracy per epoch, averaged over the
    seeds, one colour per penalty; the vertical axis frames the penalties whose final mean
    validation accuracy is within :data:`FRAME` of the best, after the first tenth of the
    epochs (the others may leave the frame). Right: final training and validation accuracy against the
    penalty (mean, with the seeds' std as error bars)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from .report.figures import WIDTH

    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 3.0),
                                      gridspec_kw={"width_ratios": [1.6, 1]})
    for i, (lam, runs) in enumerate(sweep.items()):
        epochs = runs[0].history.epoch
        left.plot(epochs, 100 * mean_curve(runs, "val_acc"), "-", color=f"C{i}", lw=1.2,
                  label=lam_eq(lam))
        left.plot(epochs, 100 * mean_curve(runs, "train_acc"), "--", color=f"C{i}", lw=0.8)
    # Frame the penalties that end within FRAME of the best after their first tenth of epochs:
    # the collapsed ones (constant predictions) would squash the rest into a thin band.
    top = max(np.mean([r.whole["val_acc"] for r in runs]) for runs in sweep.values())
    skip = len(epochs) // 10
    framed = [100 * mean_curve(runs, key)[skip:] for runs in sweep.values()
              if np.mean([r.whole["val_acc"] for r in runs]) >= top - FRAME
              for key in ("train_acc", "val_acc")]
    lo, hi = min(c.min() for c in framed), max(c.max() for c in framed)
    pad = 0.08 * (hi - lo + 1)
    left.set_ylim(lo - pad, min(100 + pad, hi + pad))
    left.set_xlabel("epoch")
    left.set_ylabel("accuracy (%)")
    left.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    left.grid(True, alpha=0.3)
    left.set_title("per epoch (mean over seeds)", fontsize=9)
    x = np.arange(len(stats))
    s = list(stats.values())
    right.errorbar(x, [100 * v["train_acc_mean"] for v in s],
                   yerr=[100 * v["train_acc_std"] for v in s], fmt="o--", color="0.3",
                   ms=4, capsize=3, lw=0.9, label="training")
    right.errorbar(x, [100 * v["val_acc_mean"] for v in s],
                   yerr=[100 * v["val_acc_std"] for v in s], fmt="s-", color="C3", ms=4,
                   capsize=3, lw=1.2, label="validation")
    right.set_xticks(x, [lam_label(lam) for lam in stats], fontsize=7, rotation=35)
    right.set_xlabel("$\\lambda$")
    right.set_title("final epoch, whole sets", fontsize=9)
    right.grid(True, alpha=0.3)
    right.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.38, 0.0),
               ncol=min(len(labels), 6), fontsize=7, frameon=False,
               title="solid: validation, dashed: training", title_fontsize=8)
    return fig
