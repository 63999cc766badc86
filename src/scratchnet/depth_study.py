"""Section 2.4 (networks of several depths and widths, over seeds) and the report's summary.

Computing is separate from plotting: :func:`depth_study` trains and returns data,
:func:`aggregate` and :func:`depth_findings` reduce it to numbers, :func:`decision_grid`
predicts a class on a grid; the ``*_figure`` functions only draw, and the ``*_table`` and
``*_paragraph`` functions only write text from numbers they are given. :func:`summary_rows`
reads the results JSON of the other notebooks for the closing summary.
"""
from dataclasses import dataclass
import json
import math
from pathlib import Path

import numpy as np

from .report import markdown_table, percent
from .cli.runs import DEFAULTS, full_config, train_network

# Two means closer than this (a fraction: 0.002 is 0.2 points) count as the same accuracy.
TIE = 0.002


def config_label(config):
    """Short name of a network configuration: 'depth 3 x 32' or 'widths 16-32-64'."""
    if config.get("widths") is not None:
        return "widths " + "-".join(str(w) for w in config["widths"])
    return f"depth {config['depth']} x {config['width']}"


def config_depth(config):
    """Number of hidden layers of a configuration."""
    widths = config.get("widths")
    return len(widths) if widths is not None else config["depth"]


def describe_config(config):
    """The whole configuration in a few words ('standard 3 x 64' is 3 hidden layers of width
    64), as the summary quotes it."""
    c = full_config(config)
    shape = (f"widths {'-'.join(str(w) for w in c['widths'])}" if c["widths"] is not None
             else f"{c['depth']} x {c['width']}")
    return (f"{c['arch']} {shape}, {c['activation']}, {c['optimizer']} {c['lr']:g}, "
            f"{c['schedule']}, batch {c['batch_size']}, {c['epochs']} epochs")


@dataclass
class Run:
    """One training run: its full configuration, the history, the trained net, the seconds
    it trained, and its final loss and accuracy on the whole training and validation sets
    (the history may hold subsampled figures; see ``eval_size``)."""

    config: dict
    history: object
    net: object
    seconds: float
    whole: dict

    def final(self):
        """Final-epoch ``train_acc, val_acc, train_loss, val_loss`` on the whole sets."""
        return self.whole


def train_config(config, dataset):
    """Train the network of ``config`` (keys of :data:`scratchnet.runs.DEFAULTS`; ``data`` is
    ignored) on ``dataset`` as ``scratchnet train`` does, with the same seed streams, so the
    defaults with seed s reproduce ``scratchnet train --seed s``. The ``eval_size`` subsample
    serves the per-epoch history only (it does not change the training); the final figures are
    measured on the whole sets."""
    config = full_config({**config, "data": dataset.name})
    net, history, seconds = train_network(config, dataset)
    train_loss, train_acc = net.evaluate(dataset.Xt, dataset.Ct)
    val_loss, val_acc = net.evaluate(dataset.Xv, dataset.Cv)
    whole = {"train_acc": train_acc, "val_acc": val_acc, "train_loss": train_loss,
             "val_loss": val_loss}
    return Run(config, history, net, seconds, whole)


def depth_study(dataset, shapes, seeds, **fixed):
    """Train every network shape for every seed on ``dataset``.

    ``shapes`` is a list of dicts, each ``{"depth": d, "width": w}`` or ``{"widths": [...]}``;
    ``fixed`` holds the rest of the configuration (optimizer, lr, epochs, eval_size, ...).
    Returns ``{label: [Run per seed]}`` in the order of ``shapes``.
    """
    study = {}
    for shape in shapes:
        runs = [train_config({**fixed, **shape, "seed": seed}, dataset) for seed in seeds]
        study[config_label(runs[0].config)] = runs
    return study


def aggregate(runs):
    """Final-epoch accuracies of the runs of one configuration over its seeds: mean, std
    (population), min, max, per-seed lists, parameter count, mean seconds."""
    val = np.array([r.final()["val_acc"] for r in runs])
    tr = np.array([r.final()["train_acc"] for r in runs])
    return {"config": runs[0].config, "depth": config_depth(runs[0].config),
            "seeds": [r.config["seed"] for r in runs],
            "val_acc_mean": float(val.mean()), "val_acc_std": float(val.std()),
            "val_acc_min": float(val.min()), "val_acc_max": float(val.max()),
            "train_acc_mean": float(tr.mean()), "train_acc_std": float(tr.std()),
            "val_accs": val.tolist(), "train_accs": tr.tolist(),
            "n_params": int(runs[0].net.n_params),
            "seconds": float(np.mean([r.seconds for r in runs]))}


def best_network_record(runs):
    """The summary's entry for one configuration: its words, mean, std and per-seed accuracies."""
    a = aggregate(runs)
    return {"config": describe_config(a["config"]), "label": config_label(a["config"]),
            "settings": a["config"], "seeds": a["seeds"],
            "val_acc_mean": a["val_acc_mean"], "val_acc_std": a["val_acc_std"],
            "val_accs": a["val_accs"], "train_acc_mean": a["train_acc_mean"],
            "train_accs": a["train_accs"]}


def depth_findings(stats, tie=TIE):
    """What the depth sweep of one data set shows, from ``{label: aggregate(...)}``.

    Only the configurations of one fixed width (no ``widths``) enter the depth trend: the best
    of them, the shallowest whose mean is within ``tie`` of that best (where more depth stops
    helping), the gain of the best over the shallowest, and whether the deepest loses to the
    best by more than ``tie``. Growing widths are compared with the fixed width of equal depth.
    """
    fixed = {k: s for k, s in stats.items() if s["config"].get("widths") is None}
    by_depth = sorted(fixed, key=lambda k: fixed[k]["depth"])
    best = max(stats, key=lambda k: stats[k]["val_acc_mean"])
    best_fixed = max(by_depth, key=lambda k: fixed[k]["val_acc_mean"])
    top = fixed[best_fixed]["val_acc_mean"]
    enough = next(k for k in by_depth if fixed[k]["val_acc_mean"] >= top - tie)
    shallow, deep = by_depth[0], by_depth[-1]
    grown = []
    for k, s in stats.items():
        if s["config"].get("widths") is None:
            continue
        same = [f for f in by_depth if fixed[f]["depth"] == s["depth"]]
        if same:
            grown.append({"label": k, "against": same[0],
                          "gain": s["val_acc_mean"] - fixed[same[0]]["val_acc_mean"],
                          "n_params": s["n_params"], "against_n_params":
                          fixed[same[0]]["n_params"]})
    level = [k for k in stats if k != best
             and stats[k]["val_acc_mean"] >= stats[best]["val_acc_mean"] - tie]
    return {"best": best, "best_val_acc": stats[best]["val_acc_mean"], "level": level,
            "best_val_acc_std": stats[best]["val_acc_std"],
            "best_fixed": best_fixed, "best_fixed_val_acc": top,
            "enough": enough, "enough_depth": fixed[enough]["depth"],
            "enough_val_acc": fixed[enough]["val_acc_mean"],
            "shallow": shallow, "shallow_val_acc": fixed[shallow]["val_acc_mean"],
            "deep": deep, "deep_val_acc": fixed[deep]["val_acc_mean"],
            "depth_gain": top - fixed[shallow]["val_acc_mean"],
            "deepest_loses": fixed[deep]["val_acc_mean"] < top - tie,
            "max_gap": max(s["train_acc_mean"] - s["val_acc_mean"] for s in stats.values()),
            "grown": grown, "tie": tie}


def _points(delta):
    return f"{100 * delta:+.2f} points"


def depth_paragraph(name, f):
    """The conclusions of one data set's depth sweep, from :func:`depth_findings`."""
    text = [f"On **{name}** the best mean final validation accuracy, "
            f"{percent(f['best_val_acc'], 2)} (std {100 * f['best_val_acc_std']:.2f} points), "
            f"came from {f['best']}" + (
                f"; {len(f['level'])} other{'s are' if len(f['level']) > 1 else ' is'} within {100 * f['tie']:.1f} points of it "
                f"({', '.join(f['level'])}), a difference the seeds do not resolve."
                if f["level"] else ".")]
    if f["depth_gain"] > f["tie"]:
        text.append(f"Depth helps: from {f['shallow']} ({percent(f['shallow_val_acc'], 2)}) to "
                    f"the best fixed width, {f['best_fixed']} "
                    f"({percent(f['best_fixed_val_acc'], 2)}), is {_points(f['depth_gain'])}.")
    else:
        text.append(f"Depth does not help here: {f['shallow']} already reaches "
                    f"{percent(f['shallow_val_acc'], 2)}, within {100 * f['tie']:.1f} points of "
                    f"the best fixed width ({percent(f['best_fixed_val_acc'], 2)}).")
    if f["depth_gain"] > f["tie"]:
        if f["enough"] != f["best_fixed"]:
            text.append(f"More depth stops helping at {f['enough_depth']} hidden layers: "
                        f"{f['enough']} ({percent(f['enough_val_acc'], 2)}) is within "
                        f"{100 * f['tie']:.1f} points of the best fixed width.")
        elif f["best_fixed"] == f["deep"]:
            text.append("The deepest network tried is the best fixed width, and no shallower "
                        f"one comes within {100 * f['tie']:.1f} points of it: more depth may "
                        "still help.")
        else:
            text.append(f"No shallower network comes within {100 * f['tie']:.1f} points of "
                        f"it, and deeper ones do not improve on it: {f['enough_depth']} hidden "
                        "layers is where more depth stops helping.")
    if f["deepest_loses"]:
        text.append(f"The deepest, {f['deep']}, falls back to {percent(f['deep_val_acc'], 2)} "
                    "in the same number of epochs: more layers are harder to train in this "
                    "budget.")
    for g in f["grown"]:
        verdict = ("better than" if g["gain"] > f["tie"] else
                   "worse than" if g["gain"] < -f["tie"] else "level with")
        text.append(f"Growing {g['label']} ({g['n_params']} parameters) are {verdict} "
                    f"{g['against']} ({g['against_n_params']} parameters): "
                    f"{_points(g['gain'])}.")
    text.append(f"The largest gap between mean training and validation accuracy is "
                f"{100 * f['max_gap']:.2f} points: " +
                ("no configuration overfits." if f["max_gap"] < 0.01 else
                 "some overfitting (see section 2.5)."))
    return " ".join(text)


def _pc(fraction):
    """A fraction as a percentage without the sign (the header carries it): 0.97371 -> '97.37'."""
    return f"{100 * fraction:.2f}"


def _mean_std(mean, std):
    return f"{_pc(mean)} $\\pm$ {_pc(std)}"


def _sized(text, rule):
    """``text`` (a markdown table) with its rule line replaced by ``rule``: pandoc sizes the
    columns of a wide table by the dashes under each heading."""
    lines = text.splitlines()
    lines[1] = rule
    return "\n".join(lines)


def depth_table(stats):
    """One data set's sweep as a markdown table: per configuration, final validation and
    training accuracy in % (mean and std over the seeds), the min-max of validation,
    parameters, seconds."""
    rows = [[label, s["depth"], s["n_params"], _mean_std(s["val_acc_mean"], s["val_acc_std"]),
             f"{_pc(s['val_acc_min'])} - {_pc(s['val_acc_max'])}",
             _mean_std(s["train_acc_mean"], s["train_acc_std"]), f"{s['seconds']:.1f}"]
            for label, s in stats.items()]
    text = markdown_table(["network", "layers", "parameters", "validation %, mean $\\pm$ std",
                           "validation %, min - max", "training %, mean $\\pm$ std",
                           "seconds per run"], rows, align="lrrrrrr")
    return _sized(text, "|:-------------------|------:|---------:|----------------:|"
                        "----------------:|----------------:|-------:|")


def headline_table(best_network, stats):
    """The headline network of every data set (``{name: best_network_record(...)}``) beside the
    best configuration of its depth sweep (``{name: {label: aggregate(...)}}``), in %."""
    rows = []
    for name, b in best_network.items():
        top = max(stats[name], key=lambda k: stats[name][k]["val_acc_mean"])
        rows.append([name, " / ".join(_pc(a) for a in b["val_accs"]),
                     _mean_std(b["val_acc_mean"], b["val_acc_std"]), _pc(b["train_acc_mean"]),
                     f"{_pc(stats[name][top]['val_acc_mean'])} ({top})"])
    seeds = ", ".join(str(s) for s in next(iter(best_network.values()))["seeds"])
    text = markdown_table(["data set", f"validation %, seeds {seeds}",
                           "validation %, mean $\\pm$ std", "training %, mean",
                           "best of the depth sweep, validation %"], rows, align="lrrrr")
    return _sized(text, "|:----------|----------------------:|--------------:|---------:|"
                        "-----------------------:|")


def decision_grid(net, X, resolution=200, margin=0.05):
    """The class ``net`` predicts on a ``resolution`` x ``resolution`` grid over the box of the
    2-D points X (2 x m) widened by ``margin`` of its size on every side.

    Returns ``(xs, ys, labels)``: the grid's coordinates (each of length ``resolution``) and
    the predicted class, ``labels[i, j]`` at ``(xs[j], ys[i])``.
    """
    if X.shape[0] != 2:
        raise ValueError(f"decision regions need 2-D points, got {X.shape[0]} features")
    lo, hi = X.min(axis=1), X.max(axis=1)
    pad = margin * (hi - lo)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    points = np.vstack([gx.ravel(), gy.ravel()])
    return xs, ys, net.predict(points).reshape(resolution, resolution)


# --- figures: they draw what the functions above computed ---

def curves_figure(study, title=None):
    """Train (dashed) and validation (solid) accuracy per epoch, one colour per configuration,
    for the first seed of each; the right panel zooms on the last half of the epochs and on
    the configurations that end within 3 points of the best."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from .report.figures import WIDTH

    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.0))
    for i, (label, runs) in enumerate(study.items()):
        h = runs[0].history
        for ax in axes:
            ax.plot(h.epoch, 100 * np.asarray(h.val_acc), "-", color=f"C{i}", lw=1.2,
                    label=label)
            ax.plot(h.epoch, 100 * np.asarray(h.train_acc), "--", color=f"C{i}", lw=0.8)
    epochs = len(next(iter(study.values()))[0].history.epoch)
    half = max(1, epochs // 2)
    # The zoom frames the configurations that end within 3 points of the best; the rest
    # leave the panel at the bottom.
    top = max(runs[0].history.val_acc[-1] for runs in study.values())
    tail = [100 * np.asarray(getattr(runs[0].history, key)[half - 1:])
            for runs in study.values() if runs[0].history.val_acc[-1] >= top - 0.03
            for key in ("val_acc", "train_acc")]
    lo, hi = min(t.min() for t in tail), max(t.max() for t in tail)
    axes[1].set_xlim(half, epochs)
    axes[1].set_ylim(lo - 0.1 * (hi - lo + 0.1), hi + 0.1 * (hi - lo + 0.1))
    axes[0].set_title("all epochs", fontsize=9)
    axes[1].set_title("last half, zoom on the best", fontsize=9)
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    axes[0].set_ylabel("accuracy (%)")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=min(len(labels), 4), fontsize=8, frameon=False,
               title="solid: validation, dashed: training", title_fontsize=8)
    return fig


def decision_regions_figure(panels, X, C, max_points=2000, seed=0):
    """Decision regions: one panel per ``(title, (xs, ys, labels))`` of :func:`decision_grid`,
    with at most ``max_points`` of the points X (2 x m), coloured by their label C, on top."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from .datavis import _class_colours, subsample
    from .report.figures import WIDTH

    k = C.shape[0]
    colours = _class_colours(k)
    light = ListedColormap([tuple(0.55 + 0.45 * np.asarray(c[:3])) for c in colours])
    idx = subsample(X.shape[1], max_points, np.random.default_rng(seed))
    labels = np.argmax(C[:, idx], axis=0)
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(WIDTH, WIDTH / n + 0.3), squeeze=False)
    for ax, (title, (xs, ys, grid)) in zip(axes[0], panels):
        ax.pcolormesh(xs, ys, grid, cmap=light, vmin=-0.5, vmax=k - 0.5, shading="auto",
                      rasterized=True)
        ax.scatter(X[0, idx], X[1, idx], c=[colours[c] for c in labels], s=3, linewidths=0.2,
                   edgecolors="k", rasterized=True)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("$x_1$")
        ax.set_aspect("equal", adjustable="box")
    axes[0, 0].set_ylabel("$x_2$")
    fig.tight_layout()
    return fig


# --- the closing summary: reads the other notebooks' JSON ---

def _read(path):
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def summary_rows(inputs_dir, softmax="13_softmax_sgd.json", network="24_network_training.json"):
    """Per data set, the linear optimum and best softmax by SGD (from 1.3's JSON) and the best
    network (from 2.4's), each ``None`` where its file or entry is missing.

    Also collects ``extras``: any other JSON in ``inputs_dir`` with a top-level ``"summary"`` of
    ``{dataset: {"label", "config", "val_acc_mean", "val_acc_std"}}`` (how sections 2.5-2.7 may
    offer a configuration), keyed by the file's stem.
    Returns ``{dataset: {"optimum", "softmax", "network", "extras": {stem: entry}}}``.
    """
    inputs_dir = Path(inputs_dir)
    s13 = _read(inputs_dir / softmax) or {}
    s24 = _read(inputs_dir / network) or {}
    names = list(dict.fromkeys(list(s24.get("best_network", {})) + list(s13.get("best", {}))
                               + list(s13.get("optimum", {}))))
    extras = {}
    for path in sorted(inputs_dir.glob("*.json")):
        if path.name in (softmax, network):
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("summary"), dict):
            extras[path.stem] = data["summary"]
    rows = {}
    for name in names:
        best = s13.get("best", {}).get(name)
        softmax_entry = None
        if best is not None:
            softmax_entry = {"val_acc": best["val_acc"], "train_acc": best["train_acc"],
                             "config": (f"{s13.get('optimizer', 'sgd')} {best['lr']:g}, "
                                        f"{s13.get('schedule', 'constant')}, batch "
                                        f"{best['batch_size']}, {best['epochs']} epochs")}
        rows[name] = {"optimum": s13.get("optimum", {}).get(name), "softmax": softmax_entry,
                      "network": s24.get("best_network", {}).get(name),
                      "extras": {stem: e[name] for stem, e in extras.items()
                                 if isinstance(e.get(name), dict)}}
    return rows


def summary_table(rows):
    """The summary as one markdown table: per data set, the final validation accuracy (%) of the
    linear optimum, of the best softmax by SGD (with its configuration) and of the best network
    (mean $\\pm$ std and min - max over the seeds, with its configuration)."""
    table = []
    for name, r in rows.items():
        net = r["network"]
        if net is None:
            net_text, net_config = "n/a", "n/a"
        else:
            accs = net["val_accs"]
            net_text = (f"{_mean_std(net['val_acc_mean'], net['val_acc_std'])} "
                        f"({_pc(min(accs))} - {_pc(max(accs))}, {len(accs)} seeds)")
            net_config = net["config"]
        table.append([name, "n/a" if r["optimum"] is None else _pc(r["optimum"]["val_acc"]),
                      "n/a" if r["softmax"] is None else _pc(r["softmax"]["val_acc"]),
                      "n/a" if r["softmax"] is None else r["softmax"]["config"],
                      net_text, net_config])
    text = markdown_table(["data set", "linear optimum %", "softmax by SGD %",
                           "its configuration", "best network %, mean $\\pm$ std (min - max)",
                           "its configuration"], table, align="lrrlrl")
    return _sized(text, "|:----------|----------:|----------:|:-------------------|"
                        "---------------------:|:-------------------|")


def summary_paragraph(rows):
    """Sentences, per data set, on how far the network goes beyond the linear model, and any
    configuration other sections offered, from :func:`summary_rows`."""
    text = []
    for name, r in rows.items():
        net, opt, soft = r["network"], r["optimum"], r["softmax"]
        if net is None:
            text.append(f"On **{name}** no network result was found.")
            continue
        part = f"On **{name}** the best network reaches {percent(net['val_acc_mean'], 2)}"
        if opt is not None:
            part += (f", {100 * (net['val_acc_mean'] - opt['val_acc']):.1f} points above the "
                     f"linear optimum's {percent(opt['val_acc'], 2)}")
        if soft is not None:
            part += f" (softmax regression trained by SGD: {percent(soft['val_acc'], 2)})"
        text.append(part + ".")
        for stem, e in r["extras"].items():
            try:
                mean = e["val_acc_mean"]
                diff = mean - net["val_acc_mean"]
                verdict = ("above" if diff > TIE else "below" if diff < -TIE else "level with")
                text.append(f"Section {stem.split('_')[0][0]}.{stem.split('_')[0][1:]} offers "
                            f"{e.get('label', e.get('config', 'a configuration'))}: "
                            f"{percent(mean, 2)}, {verdict} it.")
            except (KeyError, TypeError, IndexError):
                continue
    return " ".join(text)
