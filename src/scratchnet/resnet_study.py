"""Section 2.7: a ResNet against a standard network of the same depth and parameter count.

Both networks have ``L`` hidden layers: the standard one ``L`` layers
``tanh(W x + b)`` of width ``n_s``; the ResNet a lift layer ``tanh(W x + b)`` to width ``n_r``,
then ``L - 1`` residual blocks ``x + W2 tanh(W1 x + b)``. A block has ``2 n^2 + n`` parameters
and a standard layer ``n^2 + n``, so :func:`matched_width` picks the standard width whose
count is closest to the ResNet's (about ``sqrt(2) n_r``).

Computing is separate from plotting: :func:`resnet_study` trains and measures, the
``*_findings``/``*_table``/``*_paragraph`` functions turn numbers into text, and the
``*_figure`` functions only draw.
"""
import math

import numpy as np

from .depth_study import aggregate, train_config
from .report import markdown_table, percent
from .cli.runs import build_network, full_config

ARCHS = ("standard", "resnet")
# Two means closer than this (a fraction: 0.002 is 0.2 points) count as level.
TIE = 0.002
# "Reached" in the speed comparison: within this of the better final mean validation accuracy.
REACH = 0.01


def standard_count(n_features, n_classes, layers, width):
    """Parameters of ``layers`` standard hidden layers of ``width`` and the softmax head."""
    if layers == 0:
        return n_features * n_classes + n_classes
    return (n_features * width + width + (layers - 1) * (width ** 2 + width)
            + width * n_classes + n_classes)


def resnet_count(n_features, n_classes, layers, width):
    """Parameters of a lift layer to ``width``, ``layers - 1`` residual blocks (``2 n^2 + n``
    each) and the softmax head: ``layers`` hidden layers in all."""
    if layers < 2:
        raise ValueError(f"a resnet here has a lift layer and at least one block: layers >= 2, "
                         f"got {layers}")
    return (n_features * width + width + (layers - 1) * (2 * width ** 2 + width)
            + width * n_classes + n_classes)


def matched_width(n_features, n_classes, layers, resnet_width):
    """The standard width whose network of ``layers`` hidden layers has the parameter count
    closest to the ResNet of ``resnet_width`` (ties: the narrower)."""
    target = resnet_count(n_features, n_classes, layers, resnet_width)
    candidates = range(resnet_width, 2 * resnet_width + 1)
    return min(candidates, key=lambda n: (abs(standard_count(n_features, n_classes, layers, n)
                                              - target), n))


def pair_configs(n_features, n_classes, depths, resnet_width):
    """For every number of hidden layers in ``depths``, the standard and ResNet configurations
    (keys of :data:`scratchnet.runs.DEFAULTS`) with their label, hidden layers, width and
    parameter count, the standard width matched by :func:`matched_width`."""
    pairs = []
    for layers in depths:
        n_s = matched_width(n_features, n_classes, layers, resnet_width)
        pairs.append({"label": f"standard {layers} x {n_s}", "arch": "standard",
                      "layers": layers, "width": n_s,
                      "n_params": standard_count(n_features, n_classes, layers, n_s),
                      "config": {"arch": "standard", "depth": layers, "width": n_s}})
        pairs.append({"label": f"resnet {layers} x {resnet_width}", "arch": "resnet",
                      "layers": layers, "width": resnet_width,
                      "n_params": resnet_count(n_features, n_classes, layers, resnet_width),
                      "config": {"arch": "resnet", "depth": layers - 1,
                                 "width": resnet_width}})
    return pairs


def layer_gradient_norms(net, X, C):
    """Frobenius norm of the gradient of every hidden layer's weights, input side first:
    ``||dF/dW||`` for a standard layer, ``sqrt(||dF/dW1||^2 + ||dF/dW2||^2)`` for a residual
    block, from one ``forward_backward`` on the batch X, C (biases left out)."""
    net.forward_backward(X, C)
    norms = []
    for i, layer in enumerate(net.layers):
        squares = [np.sum(net.grads[f"layer{i}.{key}"] ** 2)
                   for key in layer.params if key.startswith("W")]
        norms.append(math.sqrt(sum(squares)))
    return np.array(norms)


def gradient_batch(dataset, batch_size, rng):
    """A random batch of ``batch_size`` training samples (X, C), drawn from ``rng``."""
    keep = rng.choice(dataset.Xt.shape[1], size=min(batch_size, dataset.Xt.shape[1]),
                      replace=False)
    return dataset.Xt[:, keep], dataset.Ct[:, keep]


def initial_gradient_norms(config, dataset, X, C):
    """:func:`layer_gradient_norms` on X, C of the network ``config`` builds: the very
    weights its training run starts from."""
    net, _ = build_network(full_config({**config, "data": dataset.name}), dataset)
    return layer_gradient_norms(net, X, C)


def resnet_study(dataset, depths, resnet_width, seeds, grad_batch=512, **fixed):
    """Train the standard and ResNet networks of every depth from every seed on ``dataset``
    and measure their gradient norms per layer at initialisation and after training.

    ``fixed`` holds the rest of the configuration (optimizer, lr, schedule, epochs,
    eval_size, ...), the same for both architectures. The gradient norms of a seed are
    measured on one random training batch of ``grad_batch`` samples (drawn from the seed),
    before and after training. Returns ``{"pairs": pair_configs(...), "runs": {label: [Run
    per seed]}, "norms": {label: array seeds x layers}, "final_norms": {the same, after
    training}}``.
    """
    pairs = pair_configs(dataset.n_features, dataset.n_classes, depths, resnet_width)
    runs, norms, final_norms = {}, {}, {}
    for pair in pairs:
        configs = [{**fixed, **pair["config"], "activation": "tanh", "seed": seed}
                   for seed in seeds]
        batches = [gradient_batch(dataset, grad_batch, np.random.default_rng(c["seed"]))
                   for c in configs]
        norms[pair["label"]] = np.array([initial_gradient_norms(c, dataset, X, C)
                                         for c, (X, C) in zip(configs, batches)])
        runs[pair["label"]] = [train_config(c, dataset) for c in configs]
        final_norms[pair["label"]] = np.array([layer_gradient_norms(run.net, X, C) for run, (X, C)
                                               in zip(runs[pair["label"]], batches)])
        if runs[pair["label"]][0].net.n_params != pair["n_params"]:
            raise AssertionError(f"{pair['label']}: the count formula gives {pair['n_params']}, "
                                 f"the network has {runs[pair['label']][0].net.n_params}")
    return {"pairs": pairs, "runs": runs, "norms": norms, "final_norms": final_norms}


def mean_curves(runs):
    """Per-epoch training loss and validation accuracy of the runs of one configuration:
    mean, min and max over the seeds (arrays over epochs)."""
    out = {"epoch": np.asarray(runs[0].history.epoch)}
    for key in ("train_loss", "val_acc"):
        values = np.array([getattr(r.history, key) for r in runs])
        out[key] = {"mean": values.mean(axis=0), "min": values.min(axis=0),
                    "max": values.max(axis=0)}
    return out


def epochs_to_reach(epochs, curve, target):
    """The first epoch at which ``curve`` reaches ``target``, or None if it never does."""
    hits = np.flatnonzero(np.asarray(curve) >= target)
    return int(np.asarray(epochs)[hits[0]]) if hits.size else None


def gradient_ratio(norms):
    """Geometric mean over the seeds of ``first / last``: the gradient norm of the first
    square hidden layer (index 1, after the input layer) over that of the last hidden layer.
    Below 1, the gradient shrinks on its way back to the input."""
    norms = np.atleast_2d(norms)
    return float(np.exp(np.mean(np.log(norms[:, 1] / norms[:, -1]))))


def resnet_findings(study, tie=TIE, reach=REACH):
    """Per depth: both architectures' final mean validation and training accuracy, the
    ResNet's lead in validation accuracy, a verdict (``"resnet"``, ``"standard"`` or
    ``"level"`` within ``tie``), whether the lead exceeds the seeds' spread, the epochs each
    needs to come within ``reach`` of the better final mean, and the gradient ratios."""
    stats = {label: aggregate(runs) for label, runs in study["runs"].items()}
    by_layers = {}
    for pair in study["pairs"]:
        by_layers.setdefault(pair["layers"], {})[pair["arch"]] = pair["label"]
    findings = []
    for layers, labels in by_layers.items():
        s, r = stats[labels["standard"]], stats[labels["resnet"]]
        lead = r["val_acc_mean"] - s["val_acc_mean"]
        verdict = "resnet" if lead > tie else "standard" if lead < -tie else "level"
        target = max(s["val_acc_mean"], r["val_acc_mean"]) - reach
        reached = {}
        for arch, label in labels.items():
            c = mean_curves(study["runs"][label])
            reached[arch] = epochs_to_reach(c["epoch"], c["val_acc"]["mean"], target)
        findings.append({
            "layers": layers, "standard": labels["standard"], "resnet": labels["resnet"],
            "standard_val": s["val_acc_mean"], "resnet_val": r["val_acc_mean"],
            "standard_val_std": s["val_acc_std"], "resnet_val_std": r["val_acc_std"],
            "standard_train": s["train_acc_mean"], "resnet_train": r["train_acc_mean"],
            "lead": lead, "verdict": verdict,
            # The lead is resolved when the worse architecture's best seed stays below the
            # better one's worst seed.
            "separated": (r["val_acc_min"] > s["val_acc_max"] or
                          s["val_acc_min"] > r["val_acc_max"]),
            "target": target, "standard_reach": reached["standard"],
            "resnet_reach": reached["resnet"],
            "standard_ratio": gradient_ratio(study["norms"][labels["standard"]]),
            "resnet_ratio": gradient_ratio(study["norms"][labels["resnet"]]),
            "standard_final_ratio": gradient_ratio(study["final_norms"][labels["standard"]]),
            "resnet_final_ratio": gradient_ratio(study["final_norms"][labels["resnet"]]),
            "standard_params": s["n_params"], "resnet_params": r["n_params"],
            "tie": tie, "reach": reach})
    return stats, findings


def count_table(pairs):
    """Markdown table of the compared networks: hidden layers, widths, the count formula
    and the parameter count."""
    rows = []
    for p in pairs:
        if p["arch"] == "standard":
            shape = f"{p['layers']} standard layers"
            formula = f"$n_0 n + n + {p['layers'] - 1}(n^2 + n) + k n + k$"
        else:
            shape = f"lift layer + {p['layers'] - 1} residual blocks"
            formula = f"$n_0 n + n + {p['layers'] - 1}(2 n^2 + n) + k n + k$"
        rows.append([p["label"], shape, p["width"], formula, p["n_params"]])
    return markdown_table(["network", "hidden layers", "width $n$", "parameters (formula)",
                           "parameters"], rows, align="llrlr")


def accuracy_table(stats):
    """Final accuracies over the seeds: validation mean, std, min-max; training mean."""
    rows = [[label, s["n_params"],
             f"{percent(s['val_acc_mean'], 2)} $\\pm$ {100 * s['val_acc_std']:.2f}",
             f"{percent(s['val_acc_min'], 2)} - {percent(s['val_acc_max'], 2)}",
             f"{percent(s['train_acc_mean'], 2)} $\\pm$ {100 * s['train_acc_std']:.2f}",
             f"{s['seconds']:.1f}"]
            for label, s in stats.items()]
    return markdown_table(["network", "parameters", "validation (mean $\\pm$ std)",
                           "validation min - max", "training (mean $\\pm$ std)",
                           "seconds per run"], rows, align="lrrrrr")


def _epochs(n):
    if n is None:
        return "more epochs than the budget"
    return f"{n} epoch" + ("s" if n > 1 else "")


def resnet_paragraph(name, findings):
    """The conclusions for one data set, from the list :func:`resnet_findings` returns."""
    text = []
    for f in findings:
        head = f"With **{f['layers']} hidden layers** on {name}, "
        if f["verdict"] == "level":
            text.append(head + f"the two architectures end level: ResNet "
                        f"{percent(f['resnet_val'], 2)}, standard {percent(f['standard_val'], 2)} "
                        f"({100 * f['lead']:+.2f} points, within {100 * f['tie']:.1f}).")
        else:
            better, worse = (("the ResNet", "the standard network") if f["verdict"] == "resnet"
                             else ("the standard network", "the ResNet"))
            text.append(head + f"{better} ends ahead of {worse} by {100 * abs(f['lead']):.2f} "
                        f"points (ResNet {percent(f['resnet_val'], 2)}, standard "
                        f"{percent(f['standard_val'], 2)}), " +
                        ("a lead no seed contradicts (the spreads do not overlap)."
                         if f["separated"] else "but the seeds' spreads overlap."))
        text.append(f"Coming within {100 * f['reach']:.0f} point of the better final mean "
                    f"({percent(f['target'], 2)}) takes the ResNet {_epochs(f['resnet_reach'])} "
                    f"and the standard network {_epochs(f['standard_reach'])}.")
        text.append(f"The gradient reaching the first square layer is "
                    f"{f['standard_ratio']:.3g} times the last layer's in the standard network "
                    f"and {f['resnet_ratio']:.3g} times in the ResNet at initialisation; after "
                    f"training, {f['standard_final_ratio']:.3g} and "
                    f"{f['resnet_final_ratio']:.3g}.")
    return " ".join(text)


def _factor(x):
    """A factor for text: 3 significant digits, thousands written out (1,150 not 1.15e+03)."""
    return f"{x:,.0f}" if x >= 999.5 else f"{x:.3g}"


def _geomean(values):
    return float(np.exp(np.mean(np.log(values))))


def overall_findings(findings_by_data):
    """Across data sets and depths: how many comparisons each architecture wins, the largest
    ResNet lead, and at the deepest depth the mean leads and the geometric means of the
    gradient ratios, at initialisation and after training."""
    all_f = [(name, f) for name, fs in findings_by_data.items() for f in fs]
    deepest = max(f["layers"] for _, f in all_f)
    deep = [f for _, f in all_f if f["layers"] == deepest]
    best = max(all_f, key=lambda nf: nf[1]["lead"])
    out = {"comparisons": len(all_f),
           "resnet_wins": sum(f["verdict"] == "resnet" for _, f in all_f),
           "standard_wins": sum(f["verdict"] == "standard" for _, f in all_f),
           "level": sum(f["verdict"] == "level" for _, f in all_f),
           "largest_lead": best[1]["lead"],
           "largest_lead_at": f"{best[0]}, {best[1]['layers']} hidden layers",
           "deepest": deepest, "deep_mean_lead": float(np.mean([f["lead"] for f in deep]))}
    for key in ("standard_ratio", "resnet_ratio", "standard_final_ratio", "resnet_final_ratio"):
        out[f"deep_{key}"] = _geomean([f[key] for f in deep])
    return out


def overall_paragraph(o):
    """One paragraph of the section's conclusion, from :func:`overall_findings`."""
    if o["resnet_wins"] > o["standard_wins"]:
        lead = "The ResNet is the better architecture at these depths"
    elif o["standard_wins"] > o["resnet_wins"]:
        lead = "The standard network is the better architecture at these depths"
    else:
        lead = "Neither architecture wins overall at these depths"
    text = [f"{lead}: of {o['comparisons']} comparisons (data sets x depths, same parameter "
            f"count, optimizer and epochs), the ResNet wins {o['resnet_wins']}, the standard "
            f"network {o['standard_wins']}, and {o['level']} end level (within "
            f"{100 * TIE:.1f} points); the largest ResNet lead is "
            f"{100 * o['largest_lead']:+.2f} points ({o['largest_lead_at']}), and at "
            f"{o['deepest']} hidden layers the ResNet leads by {100 * o['deep_mean_lead']:+.2f} "
            "points on average over the data sets."]
    s0, r0 = o["deep_standard_ratio"], o["deep_resnet_ratio"]
    s1, r1 = o["deep_standard_final_ratio"], o["deep_resnet_final_ratio"]
    text.append(f"At {o['deepest']} hidden layers the gradient at the first square layer is, "
                f"in geometric mean over the data sets, {s0:.3g} times the last layer's in the "
                f"standard network against {r0:.3g} in the ResNet at initialisation, and "
                f"{s1:.3g} against {r1:.3g} after training.")
    if s1 < r1 and s1 < 0.1:
        text.append(f"The gradient vanishes in the deep standard network as it trains: its "
                    f"first square layer ends up receiving {_factor(1 / s1)} times less gradient than "
                    "its last" + (f", where at initialisation the two architectures differed "
                                  f"by a factor of {r0 / s0:.2g} only" if r0 / s0 < 10 else "")
                    + f"; the skip connections of the ResNet keep it at {r1:.3g} times the last "
                    "layer's, and its early layers go on learning.")
    elif s0 < r0 and s1 < r1:
        text.append("The gradient shrinks more on its way back to the input in the standard "
                    "network than in the ResNet, whose skip connections carry it back.")
    else:
        text.append("The gradient norms alone do not separate the two architectures here: "
                    "the difference in training comes from elsewhere (the conditioning of "
                    "the deep composition rather than the size of its gradient).")
    return " ".join(text)


def curves_figure(study, title=None):
    """Training loss (log scale, left) and validation accuracy (right) per epoch: mean over
    the seeds, shaded between the lowest and the highest seed; one colour per depth, solid
    for the ResNet and dashed for the standard network."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from .report.figures import WIDTH

    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.0))
    depths = sorted({p["layers"] for p in study["pairs"]})
    for pair in study["pairs"]:
        c = mean_curves(study["runs"][pair["label"]])
        color = f"C{depths.index(pair['layers'])}"
        style = "-" if pair["arch"] == "resnet" else "--"
        for ax, key, scale in ((axes[0], "train_loss", 1.0), (axes[1], "val_acc", 100.0)):
            ax.plot(c["epoch"], scale * c[key]["mean"], style, color=color, lw=1.3,
                    label=pair["label"])
            ax.fill_between(c["epoch"], scale * c[key]["min"], scale * c[key]["max"],
                            color=color, alpha=0.15 if pair["arch"] == "resnet" else 0.08,
                            lw=0)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("training loss")
    axes[1].set_ylabel("validation accuracy (%)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(True, which="both", alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=min(len(labels), 4), fontsize=8, frameon=False,
               title="solid: ResNet, dashed: standard; shaded: lowest to highest seed",
               title_fontsize=8)
    return fig


def gradient_norms_figure(study, title=None):
    """Gradient norm of every hidden layer's weights against the layer index (1 = next to the
    input), log scale: one column per depth, at initialisation (top) and after training
    (bottom), both architectures, the geometric mean over the seeds with every seed faint."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from .report.figures import WIDTH

    depths = sorted({p["layers"] for p in study["pairs"]})
    fig, axes = plt.subplots(2, len(depths), figsize=(WIDTH, 4.8), squeeze=False,
                             sharey="row")
    for row, key in enumerate(("norms", "final_norms")):
        for pair in study["pairs"]:
            ax = axes[row, depths.index(pair["layers"])]
            norms = study[key][pair["label"]]
            index = np.arange(1, norms.shape[1] + 1)
            color = "C0" if pair["arch"] == "resnet" else "C3"
            for seed_norms in norms:
                ax.semilogy(index, seed_norms, "-", color=color, lw=0.6, alpha=0.3)
            ax.semilogy(index, np.exp(np.log(norms).mean(axis=0)), "o-", color=color, ms=3,
                        lw=1.3, label=pair["label"])
    for col, layers in enumerate(depths):
        axes[0, col].set_title(f"{layers} hidden layers: initial weights", fontsize=9)
        axes[1, col].set_title(f"{layers} hidden layers: after training", fontsize=9)
        axes[1, col].set_xlabel("hidden layer (1 = next to the input)")
    for ax in axes.flat:
        ax.grid(True, which="both", alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel(r"$\|\partial F / \partial W^{(l)}\|_F$")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def rate_check_findings(main, check, lr, check_lr, reach=REACH):
    """Whether the deepest comparison depends on the learning rate: ``main`` and ``check``
    are the :func:`resnet_findings` lists of one data set at rate ``lr`` (all depths) and at
    ``check_lr`` (the deepest depth, possibly fewer seeds). The standard network "recovers"
    at ``check_lr`` when it ends within ``reach`` of the ResNet there."""
    deep = max(main, key=lambda f: f["layers"])
    (c,) = [f for f in check if f["layers"] == deep["layers"]]
    return {"layers": deep["layers"], "lr": lr, "check_lr": check_lr,
            "standard_val": deep["standard_val"], "resnet_val": deep["resnet_val"],
            "check_standard_val": c["standard_val"], "check_resnet_val": c["resnet_val"],
            "recovers": c["standard_val"] >= c["resnet_val"] - reach,
            "main_gap": deep["resnet_val"] - deep["standard_val"], "reach": reach}


def rate_check_paragraph(name, r):
    """One sentence per data set from :func:`rate_check_findings`."""
    text = (f"On **{name}**, with {r['layers']} hidden layers at rate {r['check_lr']:g}, the "
            f"standard network ends at {percent(r['check_standard_val'], 2)} and the ResNet at "
            f"{percent(r['check_resnet_val'], 2)} (at rate {r['lr']:g}: "
            f"{percent(r['standard_val'], 2)} and {percent(r['resnet_val'], 2)}): ")
    if r["recovers"] and r["main_gap"] > r["reach"]:
        return text + ("the deep standard network trains at the smaller rate, so what the "
                       "ResNet gains here is a tolerance to the larger rate.")
    if r["recovers"]:
        return text + "both train at either rate."
    return text + "the deep standard network stays behind at the smaller rate too."
