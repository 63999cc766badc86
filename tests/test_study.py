"""Tests of the generic experiment helpers and figures: seeds, spread, margins, splits."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from scratchnet import make_network, train  # noqa: E402
from scratchnet.optim import SGD  # noqa: E402
from scratchnet.report.figures import band_figure, heatmap_figure  # noqa: E402
from scratchnet.study import (MARGIN, Spread, beats, best, lead, level, seeded, split,  # noqa: E402
                              spread, summarize, timed)


def test_seeded_streams_are_reproducible_and_independent():
    a1, b1 = seeded(3)
    a2, b2 = seeded(3)
    assert np.array_equal(a1.random(5), a2.random(5))
    assert np.array_equal(b1.random(5), b2.random(5))
    a, b = seeded(3)
    assert not np.array_equal(a.random(5), b.random(5)), "the two streams must differ"


def test_spread_mean_std_range():
    s = spread([0.9, 0.92, 0.94])
    assert s == Spread(pytest.approx(0.92), pytest.approx(0.02), 0.9, 0.94, 3)
    assert spread([0.5]).std == 0.0
    with pytest.raises(ValueError, match="no values"):
        spread([])
    with pytest.raises(ValueError, match="non-finite"):
        spread([0.5, float("nan")])


def test_summarize_groups_in_order():
    rows = [dict(data="a", depth=1, acc=0.5), dict(data="b", depth=1, acc=0.7),
            dict(data="a", depth=1, acc=0.7), dict(data="a", depth=2, acc=0.9)]
    by_data = summarize(rows, "data", "acc")
    assert list(by_data) == ["a", "b"]
    assert by_data["a"].mean == pytest.approx(0.7) and by_data["a"].n == 3
    both = summarize(rows, ["data", "depth"], "acc")
    assert list(both) == [("a", 1), ("b", 1), ("a", 2)]
    assert both[("a", 1)].mean == pytest.approx(0.6)


def test_margin_comparisons():
    assert MARGIN == 0.002
    assert lead([0.95, 0.97], 0.9) == pytest.approx(0.06)
    assert beats([0.95], [0.9]) and not beats([0.9], [0.95])
    assert not beats(0.901, 0.9), "a lead inside the margin is not a win"
    assert level(0.901, 0.9) and not level(0.91, 0.9)
    assert level(spread([0.5, 0.6]), 0.55)


def test_split_is_a_partition():
    rng = np.random.default_rng(0)
    X = np.arange(20.0).reshape(2, 10)
    C = np.eye(2)[:, np.arange(10) % 2]
    Xa, Ca, Xb, Cb = split(X, C, 0.2, rng)
    assert Xa.shape == (2, 8) and Xb.shape == (2, 2) and Ca.shape == (2, 8)
    assert sorted(np.concatenate([Xa[0], Xb[0]]).tolist()) == X[0].tolist()
    with pytest.raises(ValueError, match="fraction"):
        split(X, C, 1.0, rng)


def test_best_and_timed():
    assert best({0.1: 0.8, 0.01: 0.9, 1.0: 0.9}) == 0.01
    with pytest.raises(ValueError):
        best({})
    result, wall, cpu = timed(sum, [1, 2, 3])
    assert result == 6 and wall >= 0 and cpu >= 0


def test_train_transform_changes_the_batches_not_the_evaluation():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 64))
    C = np.eye(2)[:, (X[0] > 0).astype(int)]
    seen = []

    def noise(Xb, r):
        seen.append(Xb.shape)
        return Xb + 0.1 * r.standard_normal(Xb.shape)

    def run(transform):
        net = make_network("standard", 2, 2, 1, 4, seed=np.random.default_rng(1))
        h = train(net, X, C, X, C, SGD(0.1), epochs=2, batch_size=16,
                  rng=np.random.default_rng(2), transform=transform)
        return net.theta.copy(), h
    plain, _ = run(None)
    noisy, history = run(noise)
    assert seen == [(2, 16)] * 8, "the transform sees every mini-batch, once per step"
    assert not np.allclose(plain, noisy), "noise on the inputs must change the steps"
    assert len(history.val_acc) == 2


def test_band_and_heatmap_figures_draw():
    Y = np.array([[0.5, 0.6, 0.7], [0.55, 0.65, 0.72]])
    fig = band_figure([("a", {"x": Y, "y": Y[:1]}), ("b", {"x": Y, "y": Y})], "epoch", "acc")
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and len(ax.collections) == 1, "one band for the two-seed curve"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), Y.mean(axis=0))
    fig = heatmap_figure([("p", [[1.0, np.nan], [3.0, 4.0]])], [1, 2], ["a", "b"], "r", "c")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["1.0", "3.0", "4.0"], "a NaN cell stays blank"
