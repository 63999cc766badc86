"""The decision-region helpers of the figures: the grid's orientation and box, the panels."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from scratchnet import make_network  # noqa: E402
from scratchnet.report.figures import decision_grid, decision_regions_figure  # noqa: E402


class HalfPlane:
    """A stand-in network: class 1 where x1 + 2 x2 > 0."""

    def predict(self, X):
        return (X[0] + 2 * X[1] > 0).astype(int)


def test_decision_grid_orientation_and_box():
    X = np.array([[-1.0, 1.0, 0.0], [-2.0, 0.0, 2.0]])
    xs, ys, labels = decision_grid(HalfPlane(), X, resolution=11, margin=0.1)
    assert labels.shape == (11, 11)
    assert xs[0] == pytest.approx(-1.2) and xs[-1] == pytest.approx(1.2)
    assert ys[0] == pytest.approx(-2.4) and ys[-1] == pytest.approx(2.4)
    expected = (xs[None, :] + 2 * ys[:, None] > 0).astype(int)
    assert np.array_equal(labels, expected), "labels[i, j] must be the class at (xs[j], ys[i])"


def test_decision_grid_refuses_points_that_are_not_2d():
    with pytest.raises(ValueError, match="2-D"):
        decision_grid(HalfPlane(), np.zeros((3, 4)))


def test_decision_grid_of_a_network_matches_its_predictions(rng):
    net = make_network("standard", 2, 3, depth=1, width=4, seed=rng)
    X = rng.standard_normal((2, 50))
    xs, ys, labels = decision_grid(net, X, resolution=7)
    i, j = 2, 5
    assert labels[i, j] == net.predict(np.array([[xs[j]], [ys[i]]]))[0]
    assert set(np.unique(labels)) <= {0, 1, 2}


def test_decision_regions_figure_has_one_panel_per_grid(rng):
    X = rng.standard_normal((2, 3000))
    C = np.eye(2)[:, (X[0] > 0).astype(int)]
    grid = decision_grid(HalfPlane(), X, resolution=20)
    fig = decision_regions_figure([("a", grid), ("b", grid), ("c", grid)], X, C, max_points=500)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    # At most max_points of the points are drawn over the regions.
    assert len(fig.axes[0].collections[-1].get_offsets()) == 500
