from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from scratchnet.report import figures as plots  # noqa: E402
from scratchnet.train import History  # noqa: E402
from scratchnet.verify import TestResult  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def fake_test(K=12, clean=8, scale=1.0):
    """A gradient test whose second-order error falls to round-off after ``clean`` rows."""
    eps = 0.1 * 0.5 ** np.arange(K)
    second = 1e-3 * (eps / 0.1) ** 2
    second[clean:] = 1e-17
    return TestResult(eps=eps, first=0.01 * eps / 0.1, second=second, scale=scale)


def optimum(train_loss=1.0, train_acc=0.6, val_acc=0.55):
    """The numbers of a linear optimum, as a notebook keeps them (a dict)."""
    return {"train_loss": train_loss, "val_loss": train_loss, "train_acc": train_acc,
            "val_acc": val_acc}


def history(n=6):
    epochs = list(range(1, n + 1))
    return History(epoch=epochs, lr=[0.1 * 0.5 ** (e // 2) for e in epochs],
                   train_loss=[1.0 + 0.5 ** e for e in epochs],
                   train_acc=[0.5 + 0.01 * e for e in epochs],
                   val_loss=[1.1 + 0.5 ** e for e in epochs],
                   val_acc=[0.5, 0.6, 0.58, 0.57, 0.59, 0.58][:n])


def test_gradient_test_figure_has_an_error_and_a_ratio_panel_per_target():
    results = {"W": fake_test(), "b": fake_test(clean=10), "X": fake_test(clean=12)}
    fig = plots.gradient_test_figure(results, title="tiny")
    axes = np.array(fig.axes).reshape(2, 3)
    for col, (target, result) in enumerate(results.items()):
        top, bottom = axes[:, col]
        assert top.get_yscale() == "log"
        np.testing.assert_allclose(top.lines[0].get_ydata(), result.first)
        np.testing.assert_allclose(bottom.lines[0].get_ydata(), result.ratio_first)
        assert bottom.get_ylim() == (0, 6)
        assert target in top.get_title()
    # The rows in round-off are shaded where there are any (W, b), not where there are none (X).
    assert len(axes[0, 0].patches) == 1 and len(axes[0, 2].patches) == 0


def test_band_figure_on_a_log_scale_shares_one_legend_when_the_panels_agree():
    curves = {"a": np.array([1.0, 0.1, 0.0]), "b": (np.array([1, 2]), np.array([0.5, 0.2]))}
    fig = plots.band_figure([("one", curves), ("two", curves)], "step", "error", start=0,
                            logy=True)
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.axes)
    # A zero (exact convergence) is clipped to stay on the log scale.
    assert (fig.axes[0].lines[0].get_ydata() > 0).all()
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_xdata(), [0, 1, 2])
    shared_x = plots.band_figure([("one", {"a": [1.0, 2.0]})], "epoch", "acc", x=[5, 6])
    np.testing.assert_array_equal(shared_x.axes[0].lines[0].get_xdata(), [5, 6])
    assert fig.axes[0].get_yscale() == "log"
    fig = plots.band_figure([("one", curves), ("two", {"c": [1.0, 0.5]})], "step", "error")
    assert len(fig.legends) == 0 and all(ax.get_legend() is not None for ax in fig.axes)


def test_history_figure_marks_the_optimum_and_the_best_epoch():
    h, o = history(), optimum()
    fig = plots.history_figure(h, o)
    left, right = fig.axes[0], fig.axes[1]
    labels = [line.get_label() for line in left.lines]
    assert "best validation epoch" in labels
    best = left.lines[labels.index("best validation epoch")]
    assert best.get_xdata()[0] == 2 and best.get_ydata()[0] == pytest.approx(60)
    reference = left.lines[labels.index("validation, linear optimum")]
    assert reference.get_ydata()[0] == pytest.approx(55)
    np.testing.assert_allclose(right.lines[0].get_ydata(), 0.5 ** np.arange(1, 7))
    assert plots.history_figure(h).axes[1].get_ylabel() == "training loss"
    # The optimum may also come as an object with the same attributes.
    fig = plots.history_figure(h, SimpleNamespace(**o))
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), 0.5 ** np.arange(1, 7))






def test_record_writes_strict_json(tmp_path):
    import json

    import numpy as np

    from scratchnet.report import record

    path = tmp_path / "r.json"
    record(path, a=np.float64(0.5), b=float("nan"), c={"d": np.array([1.0, np.inf])})
    record(path, e=np.int64(3))
    written = json.loads(path.read_text())
    stamp = written.pop("stamp")
    assert written == {"a": 0.5, "b": None, "c": {"d": [1.0, None]}, "e": 3}
    assert "NaN" not in path.read_text() and "Infinity" not in path.read_text()
    assert stamp["numpy"] == np.__version__ and stamp["blas"] and "data" in stamp
