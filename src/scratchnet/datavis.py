"""Pictures of the data sets: project_2d and class_counts compute, plot_dataset(s) draw."""
import numpy as np

# The data sets' names as the assignment writes them.
DISPLAY_NAMES = {"swissroll": "SwissRoll", "peaks": "Peaks", "gmm": "GMM"}


def project_2d(X, X_fit=None):
    """Project the columns of ``X`` (n x m) onto the first two principal components of ``X_fit``
    (default ``X``), centred on its mean: ``(Z, explained)``, Z 2 x m and the fraction of the
    variance of ``X_fit`` each component carries. A 2-D ``X`` is its own picture: ``(X, None)``."""
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] <= 2:
        return X, None
    X_fit = X if X_fit is None else np.asarray(X_fit, dtype=np.float64)
    mean = X_fit.mean(axis=1, keepdims=True)
    U, s, _ = np.linalg.svd(X_fit - mean, full_matrices=False)
    variance = s ** 2
    # The sign of a singular vector is arbitrary; fix it so the picture does not flip between runs.
    largest = np.argmax(np.abs(U), axis=0)
    U = U * np.sign(U[largest, np.arange(U.shape[1])])
    return U[:, :2].T @ (X - mean), variance[:2] / variance.sum()


def class_counts(C):
    """Number of samples of each class in the one-hot labels ``C`` (k x m): a length-k array."""
    return np.asarray(C).sum(axis=1).astype(int)


def subsample(m, max_points, rng):
    """Sorted indices of at most ``max_points`` of ``m`` samples, drawn without replacement."""
    if m <= max_points:
        return np.arange(m)
    return np.sort(rng.choice(m, size=max_points, replace=False))


def plot_dataset(ds, ax, *, max_points=4000, rng=None, split="train"):
    """Scatter ``ds``'s training (or ``split="val"``) samples on ``ax``, one colour per class.

    At most ``max_points`` samples, drawn with ``rng``, so the picture stays legible; n > 2 is
    shown on the training set's first two principal components, whose explained-variance
    fractions it returns (None for 2-D data)."""
    import matplotlib

    rng = np.random.default_rng(0) if rng is None else rng
    X, C = (ds.Xt, ds.Ct) if split == "train" else (ds.Xv, ds.Cv)
    idx = subsample(X.shape[1], max_points, rng)
    Z, explained = project_2d(X[:, idx], X_fit=ds.Xt)
    labels = np.argmax(C[:, idx], axis=0)
    colours = matplotlib.colormaps["tab10"]
    for c in range(ds.n_classes):
        mask = labels == c
        ax.scatter(Z[0, mask], Z[1, mask], s=2, alpha=0.6, color=colours(c),
                   label=f"class {c + 1}", rasterized=True, linewidths=0)
    if explained is None:
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.set_aspect("equal", adjustable="datalim")
    else:
        ax.set_xlabel(f"PC 1 ({100 * explained[0]:.0f}% of the variance)")
        ax.set_ylabel(f"PC 2 ({100 * explained[1]:.0f}%)")
    ax.set_title(f"{DISPLAY_NAMES.get(ds.name, ds.name)} (n = {ds.n_features}, "
                 f"{ds.n_classes} classes)")
    legend = ax.legend(loc="upper right", fontsize=6, markerscale=4, frameon=True, framealpha=0.8,
                       handletextpad=0.2, borderpad=0.3)
    for handle in legend.legend_handles:
        handle.set_alpha(1.0)
    return explained


def plot_datasets(datasets, *, max_points=4000, seed=0):
    """One figure with a scatter panel per data set (``datasets``: name -> Dataset); returns
    ``(fig, explained)``, ``explained`` mapping each name to what :func:`plot_dataset` returned."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    # About the printed size (a page is ~6.5 in wide), so the labels print at about 8 pt.
    with plt.rc_context({"font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8}):
        fig, axes = plt.subplots(1, len(datasets), figsize=(2.5 * len(datasets), 2.6),
                                 squeeze=False)
        explained = {name: plot_dataset(ds, ax, max_points=max_points, rng=rng)
                     for ax, (name, ds) in zip(axes[0], datasets.items())}
        fig.tight_layout()
    return fig, explained
