"""The report's generic figures, drawn from data a notebook computed.

Every function takes results and returns a matplotlib Figure without showing or saving it (the
notebooks hand it to :func:`scratchnet.report.show_figure`), so a figure can be redrawn without
recomputing.
"""
from collections.abc import Mapping
from types import SimpleNamespace

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np

# One width for every figure: the text width of the PDF, so all fonts print at the same size.
WIDTH = 7.0
TARGET_LABELS = {"W": r"$W$", "b": r"$b$", "X": r"$X$"}
TINY = 1e-300


def _label(target):
    return TARGET_LABELS.get(target, target)


def _finish(fig, suptitle=None, legend=None, ncol=4, **options):
    """The figure's title, its layout, and ``legend`` (handles, labels) below the panels;
    ``options`` go to the legend."""
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    if legend is not None:
        handles, labels = legend
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                   ncol=min(len(labels), ncol), fontsize=8, frameon=False, **options)
    return fig


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
    return _finish(fig, title, axes[0, 0].get_legend_handles_labels(), ncol=3)


def history_figure(history, optimum=None, title=None):
    """Training of one run, after every epoch.

    Left: train and validation accuracy (%), with the accuracies of the linear optimum as
    dashed lines and the best validation epoch marked (labelled as such). Right: the training
    loss above the optimum's on a log scale, and the learning rate. ``optimum`` has
    ``train_loss``, ``train_acc`` and ``val_acc``, as attributes or as the keys of a dict.
    """
    if isinstance(optimum, Mapping):
        optimum = SimpleNamespace(**optimum)
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


def run_figure(result):
    """Train and validation accuracy per epoch of one run (a result dict of
    :func:`scratchnet.cli.runs.run_training`)."""
    epochs = [row["epoch"] for row in result["history"]]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(epochs, [row["train_acc"] for row in result["history"]], label="train")
    ax.plot(epochs, [row["val_acc"] for row in result["history"]], label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.legend()
    return fig


def band_figure(panels, xlabel, ylabel, *, x=None, start=1, logy=False, zoom=None, title=None,
                height=2.8):
    """Curves over seeds: the mean as a line, the range of the seeds as a band around it.

    ``panels`` is a list of ``(panel_title, {label: curve})``, or of ``(panel_title,
    panel_xlabel, {label: curve})`` where the panels' abscissae differ. A curve is ``Y``, an
    array of seeds x points (one row, or a 1-D array, draws a line without a band) against
    ``x`` (default ``start``, ``start + 1``, ...: epochs), or ``(x, Y)`` with an abscissa of its
    own (seconds, say). ``logy`` draws a log scale (round-off zeros at 1e-300); with ``zoom`` (in
    the units of ``Y``) a second row shows the curves from the highest mean less ``zoom`` up,
    where close curves part. One legend below the panels when they share their labels.
    """
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
            if logy:
                Y = np.maximum(Y, TINY)
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


def gradient_test_curves_figure(panels, title=None):
    """Several gradient tests in each panel: ``panels = {panel_title: {label: TestResult}}``
    (one panel per architecture and one curve pair per depth, say). The first-order (dashed)
    and second-order (solid) errors against k on a log scale, one colour per label, and the
    largest round-off level of the panel (dotted)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(WIDTH, 3.0), squeeze=False, sharey=True)
    for ax, (panel_title, tests) in zip(axes[0], panels.items()):
        for i, (label, result) in enumerate(tests.items()):
            k = np.arange(len(result.eps))
            ax.semilogy(k, np.maximum(result.first, TINY), "--", color=f"C{i}", lw=1.1)
            ax.semilogy(k, np.maximum(result.second, TINY), "-", marker="s", ms=2.5,
                        color=f"C{i}", lw=1.1, label=label)
        ax.axhline(max(r.floor for r in tests.values()), color="grey", ls=":", lw=1)
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel(r"$k$  ($\epsilon = \epsilon_0\, 2^{-k}$)")
        ax.grid(True, alpha=0.3)
    axes[0, 0].set_ylabel("error")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles += [plt.Line2D([], [], color="black", ls="--", lw=1.1),
                plt.Line2D([], [], color="black", ls="-", lw=1.1),
                plt.Line2D([], [], color="grey", ls=":", lw=1)]
    labels += ["first order (dashed)", "second order (solid)", "round-off level"]
    return _finish(fig, title, (handles, labels), ncol=6)


def decision_grid(net, X, resolution=200, margin=0.05):
    """The class ``net`` predicts on a ``resolution`` x ``resolution`` grid over the box of the
    2-D points X (2 x m), widened by ``margin`` of its size on every side.

    Returns ``(xs, ys, labels)``: the grid's coordinates (each of length ``resolution``) and the
    predicted classes, ``labels[i, j]`` being the class at ``(xs[j], ys[i])``.
    """
    if X.shape[0] != 2:
        raise ValueError(f"decision regions need 2-D points, got {X.shape[0]} features")
    lo, hi = X.min(axis=1), X.max(axis=1)
    pad = margin * (hi - lo)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    labels = net.predict(np.vstack([gx.ravel(), gy.ravel()]))
    return xs, ys, np.asarray(labels).reshape(resolution, resolution)


def decision_regions_figure(panels, X, C, max_points=2000, seed=0):
    """Decision regions side by side: one panel per ``(title, (xs, ys, labels))`` of
    :func:`decision_grid`, the regions in light colours, with at most ``max_points`` of the
    points X (2 x m) on top in the colour of their label (C, k x m one-hot)."""
    from matplotlib.colors import ListedColormap

    k = C.shape[0]
    colours = [plt.get_cmap("tab10")(c % 10) for c in range(k)]
    light = ListedColormap([tuple(0.55 + 0.45 * np.asarray(c[:3])) for c in colours])
    m = X.shape[1]
    keep = (np.arange(m) if m <= max_points else
            np.sort(np.random.default_rng(seed).choice(m, size=max_points, replace=False)))
    labels = np.argmax(C[:, keep], axis=0)
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(WIDTH, WIDTH / n + 0.4), squeeze=False)
    for ax, (panel_title, (xs, ys, grid)) in zip(axes[0], panels):
        ax.pcolormesh(xs, ys, grid, cmap=light, vmin=-0.5, vmax=k - 0.5, shading="auto",
                      rasterized=True)
        ax.scatter(X[0, keep], X[1, keep], c=[colours[c] for c in labels], s=2,
                   linewidths=0.2, edgecolors="k", rasterized=True)
        ax.set_title(panel_title, fontsize=9)
        ax.set_xlabel("$x_1$")
        ax.set_aspect("equal", adjustable="box")
    axes[0, 0].set_ylabel("$x_2$")
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
    return _finish(fig, title, axes[0, 0].get_legend_handles_labels() if shared else None,
                   title="faint: every seed; points: their geometric mean", title_fontsize=8)
