"""The report's generic figures: each takes what a notebook computed and returns a Figure,
neither shown nor saved (:func:`scratchnet.report.show_figure` does that), so it can be redrawn."""
from collections.abc import Mapping
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.ticker import MaxNLocator

from . import TARGETS
from ..datavis import subsample

# One width for every figure: the text width of the PDF, so all fonts print at the same size.
WIDTH = 7.0
TINY = 1e-300
K_LABEL = r"$k$  ($\epsilon = \epsilon_0\, 2^{-k}$)"


def _finish(fig, suptitle=None, legend=None, ncol=4, **options):
    """The figure's title and layout, and ``legend`` (handles, labels) below the panels."""
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    if legend is not None:
        handles, labels = legend
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                   ncol=min(len(labels), ncol), fontsize=8, frameon=False, **options)
    return fig


def gradient_test_figure(results, title=None, kind="gradient", linear=(), label=None):
    """Gradient (or Jacobian, by ``kind``) tests on one data set, a column per target: errors
    against k (log scale) with the round-off level above, ratios of successive rows (2 and 4)
    below, rows at round-off shaded. A target in ``linear`` gets no second-order ratio (a ratio
    of round-off means nothing); ``label`` writes a target's name (default: by TARGETS)."""
    fig, axes = plt.subplots(2, len(results), figsize=(WIDTH, 4.5), squeeze=False, sharex=True)
    for (top, bottom), (target, result) in zip(axes.T, results.items()):
        k = np.arange(len(result.eps))
        top.semilogy(k, np.maximum(result.first, TINY), "o-", ms=3, label="first order")
        top.semilogy(k, np.maximum(result.second, TINY), "s-", ms=3, label="second order")
        top.axhline(result.floor, color="grey", ls=":", lw=1, label="round-off level")
        lowest = np.min(result.second, where=result.second > 0, initial=1.0)
        top.set_ylim(bottom=min(result.floor / 10, lowest / 3))
        name = label(target) if label else TARGETS.get(target, target)
        top.set_title(f"{kind} in {name}" + (" (linear)" if target in linear else ""), fontsize=10)
        bottom.plot(k[1:], result.ratio_first, "o-", ms=3, label="first order")
        if target not in linear:
            bottom.plot(k[1:], np.nan_to_num(result.ratio_second, nan=0.0, posinf=99.0), "s-",
                        ms=3, label="second order")
        else:
            bottom.text(0.5, 0.62, "second order:\nround-off\nfrom k = 0", ha="center",
                        va="center", transform=bottom.transAxes, fontsize=8, color="C1")
        for level in (2, 4):
            bottom.axhline(level, color="grey", ls="--", lw=0.8)
        bottom.set_ylim(0, 6)
        bottom.set_xlabel(K_LABEL)
        clean = result.clean_rows("second")
        if clean < len(k):
            for ax in (top, bottom):
                ax.axvspan(max(clean, 1) - 0.5, k[-1] + 0.5, color="0.9", zorder=0)
    axes[0, 0].set_ylabel("error")
    axes[1, 0].set_ylabel("ratio of successive rows")
    return _finish(fig, title, axes[0, 0].get_legend_handles_labels(), ncol=3)


def history_figure(history, optimum=None, title=None):
    """One run per epoch: train and validation accuracy (%) with the linear optimum's (dashed)
    and the best validation epoch marked; the training loss above the optimum's (log scale) and
    the learning rate. ``optimum`` has ``train_loss``, ``train_acc``, ``val_acc`` (or keys)."""
    optimum = SimpleNamespace(**optimum) if isinstance(optimum, Mapping) else optimum
    epochs = np.asarray(history.epoch)
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 2.9))
    left.plot(epochs, 100 * np.asarray(history.train_acc), "-", color="C0", label="train")
    left.plot(epochs, 100 * np.asarray(history.val_acc), "-", color="C1", label="validation")
    if optimum is None:
        right.semilogy(epochs, history.train_loss, color="C0", label="training loss")
        right.set_ylabel("training loss")
    else:
        left.axhline(100 * optimum.train_acc, color="C0", ls="--", lw=0.9,
                     label="train, linear optimum")
        left.axhline(100 * optimum.val_acc, color="C1", ls="--", lw=0.9,
                     label="validation, linear optimum")
        excess = np.asarray(history.train_loss) - optimum.train_loss
        right.semilogy(epochs, np.maximum(excess, TINY), color="C0",
                       label="training loss minus optimum")
        right.set_ylabel("excess training loss")
    best = int(np.argmax(history.val_acc))
    left.plot(epochs[best], 100 * history.val_acc[best], "v", color="C3", ms=6,
              label="best validation epoch")
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
    left.set_ylabel("accuracy (%)")
    below = dict(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    left.legend(ncol=2, **below)
    rate = right.twinx()
    rate.step(epochs, history.lr, where="post", color="grey", ls=":", label="learning rate")
    rate.set_yscale("log")
    rate.set_ylabel("learning rate", color="grey")
    (lines, names), (more, more_names) = (ax.get_legend_handles_labels() for ax in (right, rate))
    right.legend(lines + more, names + more_names, ncol=1, **below)
    return _finish(fig, title)


def run_figure(result):
    """Train and validation accuracy per epoch of one run (a ``cli.runs.run_training`` result)."""
    history = result["history"]
    fig, ax = plt.subplots(figsize=(5, 3))
    for key, label in (("train_acc", "train"), ("val_acc", "validation")):
        ax.plot([row["epoch"] for row in history], [row[key] for row in history], label=label)
    ax.set(xlabel="epoch", ylabel="accuracy")
    ax.legend()
    return fig


def band_figure(panels, xlabel, ylabel, *, x=None, start=1, logy=False, zoom=None, title=None,
                height=2.8):
    """Curves over seeds: the mean as a line, the range of the seeds as a band around it.

    ``panels``: ``(panel_title, {label: curve})`` or ``(panel_title, panel_xlabel, {label:
    curve})``. A curve is ``Y``, seeds x points (one row draws no band), against ``x`` (default
    ``start``, ``start + 1``, ...: epochs), or ``(x, Y)`` with an abscissa of its own (seconds).
    ``logy``: a log scale (zeros at 1e-300); ``zoom`` (in Y's units): a second row from the
    highest mean less ``zoom`` up, where close curves part. Shared labels: one legend below."""
    panels = [(p[0], xlabel, p[1]) if len(p) == 2 else p for p in panels]
    rows, n = (1 if zoom is None else 2), len(panels)
    fig, axes = plt.subplots(rows, n, figsize=(WIDTH, height * rows), squeeze=False,
                             sharex="col")
    shared = all(list(c) == list(panels[0][2]) for _, _, c in panels)
    styles, top = ["-", "--", "-.", ":"], -np.inf
    for col, (panel_title, panel_xlabel, curves) in enumerate(panels):
        for i, (label, curve) in enumerate(curves.items()):
            xs, Y = curve if isinstance(curve, tuple) else (x, curve)
            Y = np.atleast_2d(np.asarray(Y, dtype=float))
            Y = np.maximum(Y, TINY) if logy else Y
            xs = start + np.arange(Y.shape[1]) if xs is None else np.asarray(xs, dtype=float)
            mean = Y.mean(axis=0)
            top = max(top, mean.max())
            for ax in axes[:, col]:
                ax.plot(xs, mean, color=f"C{i}", ls=styles[i % 4], lw=1.2, label=label)
                if Y.shape[0] > 1:
                    ax.fill_between(xs, Y.min(axis=0), Y.max(axis=0), color=f"C{i}",
                                    alpha=0.15, lw=0)
        axes[0, col].set_title(panel_title, fontsize=10)
        axes[-1, col].set_xlabel(panel_xlabel)
        if not shared:
            axes[0, col].legend(fontsize=7)
    for ax in axes.flat:
        ax.grid(True, alpha=0.3)
        if logy:
            ax.set_yscale("log")
    axes[0, 0].set_ylabel(ylabel)
    if zoom is not None:
        for ax in axes[1]:
            ax.set_ylim(top - zoom, top + 0.1 * zoom)
        axes[1, 0].set_ylabel(f"zoom: the top {zoom:g}")
    return _finish(fig, title, axes[0, 0].get_legend_handles_labels() if shared else None)


def heatmap_figure(panels, row_labels, col_labels, row_name, col_name, *, title=None,
                   fmt="{:.1f}", cmap="viridis", height=2.8):
    """Tables of numbers as coloured grids, the value (by ``fmt``) in every cell: ``panels`` of
    ``(panel_title, values)``, values rows x columns, NaN a blank cell (a run that diverged)."""
    xticks, yticks = ([v if isinstance(v, str) else f"{v:g}" for v in labels]
                      for labels in (col_labels, row_labels))
    fig, axes = plt.subplots(1, len(panels), figsize=(WIDTH, height), squeeze=False)
    for ax, (panel_title, values) in zip(axes[0], panels):
        values = np.asarray(values, dtype=float)
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, aspect="auto")
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                # Black on a light cell, white on a dark one (by its relative luminance).
                r, g, b, _ = image.cmap(image.norm(value))
                ink = "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"
                ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=7, color=ink)
        ax.set_xticks(range(len(col_labels)), xticks, fontsize=8)
        ax.set_yticks(range(len(row_labels)), yticks, fontsize=8)
        ax.set(xlabel=col_name, ylabel=row_name)
        ax.set_title(panel_title, fontsize=10)
        fig.colorbar(image, ax=ax, shrink=0.8)
    return _finish(fig, title)


def gradient_test_curves_figure(panels, title=None):
    """Gradient tests, ``{panel_title: {label: TestResult}}``: errors against k (log scale),
    first order dashed and second solid, a colour per label, the largest round-off dotted."""
    fig, axes = plt.subplots(1, len(panels), figsize=(WIDTH, 3.0), squeeze=False, sharey=True)
    for ax, (panel_title, tests) in zip(axes[0], panels.items()):
        for i, (label, result) in enumerate(tests.items()):
            k = np.arange(len(result.eps))
            ax.semilogy(k, np.maximum(result.first, TINY), "--", color=f"C{i}", lw=1.1)
            ax.semilogy(k, np.maximum(result.second, TINY), "-", marker="s", ms=2.5,
                        color=f"C{i}", lw=1.1, label=label)
        ax.axhline(max(r.floor for r in tests.values()), color="grey", ls=":", lw=1)
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel(K_LABEL)
        ax.grid(True, alpha=0.3)
    axes[0, 0].set_ylabel("error")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles += [plt.Line2D([], [], color="black", ls="--", lw=1.1),
                plt.Line2D([], [], color="black", ls="-", lw=1.1),
                plt.Line2D([], [], color="grey", ls=":", lw=1)]
    labels += ["first order (dashed)", "second order (solid)", "round-off level"]
    return _finish(fig, title, (handles, labels), ncol=6)


def decision_grid(net, X, resolution=200, margin=0.05):
    """The class ``net`` predicts on a ``resolution``-square grid over the box of the points X
    (2 x m), widened by ``margin`` of its size: ``(xs, ys, labels)``, ``labels[i, j]`` the class
    at ``(xs[j], ys[i])``."""
    if X.shape[0] != 2:
        raise ValueError(f"decision regions need 2-D points, got {X.shape[0]} features")
    lo, hi = X.min(axis=1), X.max(axis=1)
    xs, ys = (np.linspace(a - p, b + p, resolution) for a, b, p in zip(lo, hi, margin * (hi - lo)))
    labels = net.predict(np.vstack([g.ravel() for g in np.meshgrid(xs, ys)]))
    return xs, ys, np.asarray(labels).reshape(resolution, resolution)


def decision_regions_figure(panels, X, C, max_points=2000, seed=0):
    """Decision regions side by side: one panel per ``(title, (xs, ys, labels))`` of
    :func:`decision_grid`, the regions in light colours, with at most ``max_points`` of the
    points X (2 x m) on top in the colour of their label (C, k x m one-hot)."""
    k = C.shape[0]
    colours = [plt.get_cmap("tab10")(c % 10) for c in range(k)]
    light = ListedColormap([tuple(0.55 + 0.45 * np.asarray(c[:3])) for c in colours])
    keep = subsample(X.shape[1], max_points, np.random.default_rng(seed))
    labels = np.argmax(C[:, keep], axis=0)
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(WIDTH, WIDTH / n + 0.4), squeeze=False)
    for ax, (panel_title, (xs, ys, grid)) in zip(axes[0], panels):
        ax.pcolormesh(xs, ys, grid, cmap=light, vmin=-0.5, vmax=k - 0.5, shading="auto",
                      rasterized=True)
        ax.scatter(X[0, keep], X[1, keep], c=[colours[c] for c in labels], s=2,
                   linewidths=0.2, edgecolors="k", rasterized=True)
        ax.set_title(panel_title, fontsize=9)
        ax.set(xlabel="$x_1$", aspect="equal", adjustable="box")
    axes[0, 0].set_ylabel("$x_2$")
    return _finish(fig)


def layer_norms_figure(panels, ylabel, *, ncols=None, title=None, height=2.6):
    """A quantity per layer (a gradient norm) against the layer 1, 2, ... (log scale): every
    seed faint, their geometric mean with points. ``panels``: ``(panel_title, {label: N})``, N
    seeds x layers, in ``ncols`` columns (default one row). Shared labels: one legend below."""
    n = len(panels)
    ncols = n if ncols is None else ncols
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(WIDTH, height * nrows), squeeze=False,
                             sharey="row")
    shared = all(list(c) == list(panels[0][1]) for _, c in panels)
    for ax, (panel_title, curves) in zip(axes.flat, panels):
        for i, (label, N) in enumerate(curves.items()):
            N = np.maximum(np.atleast_2d(np.asarray(N, dtype=float)), TINY)
            layers = np.arange(1, N.shape[1] + 1)
            ax.semilogy(layers, N.T, "-", color=f"C{i}", lw=0.6, alpha=0.3)
            ax.semilogy(layers, np.exp(np.log(N).mean(axis=0)), "o-", color=f"C{i}", ms=3,
                        lw=1.3, label=label)
        ax.set_title(panel_title, fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="both", alpha=0.3)
        if not shared:
            ax.legend(fontsize=7)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("layer (1 = next to the input)")
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    return _finish(fig, title, axes[0, 0].get_legend_handles_labels() if shared else None,
                   title="faint: every seed; points: their geometric mean", title_fontsize=8)
