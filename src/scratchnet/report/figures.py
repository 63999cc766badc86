"""The report's generic figures, drawn from data a notebook computed.

Every function takes results and returns a matplotlib Figure without showing or saving it (the
notebooks hand it to :func:`scratchnet.report.show_figure`), so a figure can be redrawn without
recomputing.
"""
import matplotlib.pyplot as plt
from matplotlib.colors import LogNorm
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
import numpy as np

# One width for every figure: the text width of the PDF, so all fonts print at the same size.
WIDTH = 7.0
TARGET_LABELS = {"W": r"$W$", "b": r"$b$", "X": r"$X$"}
TINY = 1e-300


def _label(target):
    return TARGET_LABELS.get(target, target)


def gradient_test_figure(results, title=None, kind="gradient", linear=(), label=_label):
    """Gradient (or Jacobian) tests on one data set: one column per target.

    Top row: the first- and second-order errors against k on a log scale, with the round-off
    level. Bottom row: the ratios between successive rows, which should be 2 and 4; rows whose
    second-order error is round-off are shaded. For a target in ``linear`` (its second-order
    error is all round-off) no second-order ratio is drawn, since a ratio of round-off means
    nothing. ``kind`` names the test in the panel titles, ``label`` writes a target's name.
    """
    n = len(results)
    fig, axes = plt.subplots(2, n, figsize=(WIDTH, 4.5), squeeze=False, sharex=True)
    for col, (target, result) in enumerate(results.items()):
        k = np.arange(len(result.eps))
        top, bottom = axes[0, col], axes[1, col]
        top.semilogy(k, np.maximum(result.first, TINY), "o-", ms=3, label="first order")
        top.semilogy(k, np.maximum(result.second, TINY), "s-", ms=3, label="second order")
        top.axhline(result.floor, color="grey", ls=":", lw=1, label="round-off level")
        positive = result.second[result.second > 0]
        top.set_ylim(bottom=min(result.floor / 10, np.min(positive, initial=1.0) / 3))
        top.set_title(f"{kind} in {label(target)}" + (" (linear)" if target in linear else ""),
                      fontsize=10)
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
        bottom.set_xlabel(r"$k$  ($\epsilon = \epsilon_0\, 2^{-k}$)")
        clean = result.clean_rows("second")
        if clean < len(k):
            for ax in (top, bottom):
                ax.axvspan(max(clean, 1) - 0.5, k[-1] + 0.5, color="0.9", zorder=0)
    axes[0, 0].set_ylabel("error")
    axes[1, 0].set_ylabel("ratio of successive rows")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3,
               fontsize=8, frameon=False)
    return fig


def convergence_figure(panels, xlabel, ylabel, title=None, height=2.8):
    """Error curves on a log scale, one panel per entry of ``panels``: a list of
    ``(panel_title, {label: y or (x, y)})``; a bare ``y`` is plotted against 0, 1, 2, ...
    When every panel has the same labels, one legend below the panels serves them all."""
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(WIDTH, height), squeeze=False)
    shared = n > 1 and all(list(c) == list(panels[0][1]) for _, c in panels)
    for ax, (panel_title, curves) in zip(axes[0], panels):
        for label, curve in curves.items():
            x, y = curve if isinstance(curve, tuple) else (np.arange(len(curve)), curve)
            ax.semilogy(x, np.maximum(np.asarray(y, dtype=float), TINY), label=label, lw=1.2)
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.grid(True, which="major", alpha=0.3)
        if not shared:
            ax.legend(fontsize=7)
    axes[0, 0].set_ylabel(ylabel)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if shared:
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                   ncol=min(len(labels), 4), fontsize=8, frameon=False)
    return fig


def history_figure(history, optimum=None, title=None):
    """Training of one run, after every epoch.

    Left: train and validation accuracy (%), with the accuracies of the linear optimum as
    dashed lines and the best validation epoch marked (labelled as such). Right: the training
    loss above the optimum's on a log scale, and the learning rate.
    """
    epochs = np.asarray(history.epoch)
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 2.9))
    left.plot(epochs, 100 * np.asarray(history.train_acc), "-", color="C0", label="train")
    left.plot(epochs, 100 * np.asarray(history.val_acc), "-", color="C1", label="validation")
    if optimum is not None:
        left.axhline(100 * optimum.train_acc, color="C0", ls="--", lw=0.9,
                     label="train, linear optimum")
        left.axhline(100 * optimum.val_acc, color="C1", ls="--", lw=0.9,
                     label="validation, linear optimum")
    best = int(np.argmax(history.val_acc))
    left.plot(epochs[best], 100 * history.val_acc[best], "v", color="C3", ms=6,
              label="best validation epoch")
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    left.set_xlabel("epoch")
    left.set_ylabel("accuracy (%)")
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2,
                frameon=False)
    left.grid(True, alpha=0.3)
    if optimum is not None:
        excess = np.asarray(history.train_loss) - optimum.train_loss
        right.semilogy(epochs, np.maximum(excess, TINY), color="C0",
                       label="training loss minus optimum")
        right.set_ylabel("excess training loss")
    else:
        right.semilogy(epochs, history.train_loss, color="C0", label="training loss")
        right.set_ylabel("training loss")
    right.set_xlabel("epoch")
    right.grid(True, alpha=0.3)
    rate = right.twinx()
    rate.step(epochs, history.lr, where="post", color="grey", ls=":", label="learning rate")
    rate.set_yscale("log")
    rate.set_ylabel("learning rate", color="grey")
    lines = right.get_legend_handles_labels()
    more = rate.get_legend_handles_labels()
    right.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="upper center",
                 bbox_to_anchor=(0.5, -0.22), ncol=1, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _ink(rgba):
    """Black on a light cell, white on a dark one (by the cell's relative luminance)."""
    r, g, b = rgba[:3]
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def _short(value):
    """A compact label for a number of the grid: 0.001, 0.01, 1, 1e-05."""
    return f"{value:g}"


def _tick(value):
    return value if isinstance(value, str) else _short(value)


def sweep_figure(sweep, optimum=None, chosen=None, title=None):
    """The grid of learning rates x mini-batch sizes: final validation accuracy (%) and, with
    the linear optimum, the final training loss above it; diverged runs say "div."; the
    ``chosen`` cell (i, j) is framed."""
    panels = [("final validation accuracy (%)", 100 * sweep.val_acc, None)]
    if optimum is not None:
        excess = np.maximum(sweep.train_loss - optimum.train_loss, 1e-12)
        panels.append(("final training loss minus optimum", excess, "log"))
    fig, axes = plt.subplots(1, len(panels), figsize=(WIDTH, 0.55 * len(sweep.lrs) + 1.6),
                             squeeze=False)
    for ax, (panel_title, values, scale) in zip(axes[0], panels):
        masked = np.ma.masked_invalid(values)
        cmap = plt.get_cmap("viridis" if scale is None else "viridis_r").with_extremes(bad="0.85")
        norm = None
        if scale == "log" and masked.count():
            norm = LogNorm(vmin=masked.min(), vmax=max(masked.max(), masked.min() * 10))
        image = ax.imshow(masked, cmap=cmap, norm=norm, aspect="auto")
        fig.colorbar(image, ax=ax, shrink=0.9)
        for (i, j), value in np.ndenumerate(values):
            text = ("div." if sweep.diverged[i, j] else
                    f"{value:.1f}" if scale is None else f"{value:.0e}")
            colour = "black" if sweep.diverged[i, j] else _ink(image.to_rgba(value))
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
        ax.set_xticks(range(len(sweep.batch_sizes)), [str(b) for b in sweep.batch_sizes])
        ax.set_yticks(range(len(sweep.lrs)), [_short(lr) for lr in sweep.lrs])
        ax.set_xlabel("mini-batch size")
        ax.set_ylabel("learning rate")
        ax.set_title(panel_title, fontsize=10)
        if chosen is not None:
            i, j = chosen
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def optimizer_comparison_figure(runs, optima, title=None):
    """One panel per data set: the training loss above the linear optimum after every epoch,
    one line per optimizer; ``runs = {dataset: {label: History}}``, ``optima = {dataset:
    LinearOptimum}``."""
    panels = [(name, {label: (history.epoch,
                              np.asarray(history.train_loss) - optima[name].train_loss)
                      for label, history in histories.items()})
              for name, histories in runs.items()]
    return convergence_figure(panels, "epoch", "training loss minus optimum", title=title)


def band_figure(panels, xlabel, ylabel, *, x=None, title=None, logy=False, height=2.8):
    """Curves over seeds: the mean as a line, the range of the seeds as a band around it.

    ``panels`` is a list of ``(panel_title, {label: Y})`` with ``Y`` an array of seeds x points
    (one row per seed; a single row draws a line without a band). ``x`` gives the abscissa
    (default 1, 2, ...: epochs). One legend below the panels when they share their labels.
    """
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(WIDTH, height), squeeze=False)
    shared = all(list(c) == list(panels[0][1]) for _, c in panels)
    for ax, (panel_title, curves) in zip(axes[0], panels):
        for i, (label, Y) in enumerate(curves.items()):
            Y = np.atleast_2d(np.asarray(Y, dtype=float))
            xs = np.arange(1, Y.shape[1] + 1) if x is None else np.asarray(x)
            ax.plot(xs, Y.mean(axis=0), color=f"C{i}", lw=1.3, label=label)
            if Y.shape[0] > 1:
                ax.fill_between(xs, Y.min(axis=0), Y.max(axis=0), color=f"C{i}", alpha=0.2,
                                lw=0)
        if logy:
            ax.set_yscale("log")
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
        if not shared:
            ax.legend(fontsize=7)
    axes[0, 0].set_ylabel(ylabel)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    if shared:
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                   ncol=min(len(labels), 4), fontsize=8, frameon=False)
    return fig


def heatmap_figure(panels, row_labels, col_labels, row_name, col_name, *, title=None,
                   fmt="{:.1f}", cmap="viridis", height=2.8):
    """Tables of numbers as coloured grids, the value written in every cell.

    ``panels`` is a list of ``(panel_title, values)`` with ``values`` rows x columns (NaN shows
    as a blank cell: a run that diverged, say); ``fmt`` writes a value.
    """
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(WIDTH, height), squeeze=False)
    for ax, (panel_title, values) in zip(axes[0], panels):
        values = np.asarray(values, dtype=float)
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, aspect="auto")
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=7,
                        color=_ink(image.cmap(image.norm(value))))
        ax.set_xticks(range(len(col_labels)), [_tick(c) for c in col_labels], fontsize=8)
        ax.set_yticks(range(len(row_labels)), [_tick(r) for r in row_labels], fontsize=8)
        ax.set_xlabel(col_name)
        ax.set_ylabel(row_name)
        ax.set_title(panel_title, fontsize=10)
        fig.colorbar(image, ax=ax, shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def layer_norms_figure(panels, ylabel, *, ncols=None, title=None, height=2.6):
    """A quantity per layer (a gradient norm, say) against the layer index 1, 2, ... on a log
    scale: every seed as a faint line, their geometric mean as a line with points.

    ``panels`` is a list of ``(panel_title, {label: N})`` with ``N`` an array of seeds x layers
    (one row per seed); the panels fill a grid of ``ncols`` columns (default: one row), sharing
    the y axis along a row. One legend below the panels when they share their labels.
    """
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
            for row in N:
                ax.semilogy(layers, row, "-", color=f"C{i}", lw=0.6, alpha=0.3)
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
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    if shared:
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                   ncol=min(len(labels), 4), fontsize=8, frameon=False,
                   title="faint: every seed; points: their geometric mean", title_fontsize=8)
    return fig
