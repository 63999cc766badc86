"""Tests of the helpers section 2.7 added: gradient norms per layer and their figure."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from scratchnet import make_network  # noqa: E402
from scratchnet.report.figures import layer_norms_figure  # noqa: E402
from scratchnet.study import layer_gradient_norms  # noqa: E402


@pytest.mark.parametrize("arch", ["standard", "resnet"])
def test_layer_gradient_norms_are_the_norms_of_the_weight_gradients(arch, rng):
    net = make_network(arch, n_features=3, n_classes=4, depth=3, width=5, seed=rng)
    X = rng.standard_normal((3, 20))
    C = np.eye(4)[:, rng.integers(0, 4, size=20)]
    norms = layer_gradient_norms(net, X, C)
    _, grad = net.loss_and_grad(X, C)
    assert norms.shape == (len(net.layers),)
    for i, layer in enumerate(net.layers):
        keys = [f"layer{i}.{key}" for key in layer.params if key.startswith("W")]
        expected = np.sqrt(sum(np.sum(grad[net.slices[key]] ** 2) for key in keys))
        assert norms[i] == pytest.approx(expected, rel=1e-12), (
            f"layer {i} of the {arch} network: {norms[i]} against {expected}")
    if arch == "resnet":
        assert len(net.layers[1].params) == 3, "a residual block has W1, W2 and b"


def test_layer_norms_figure_draws_seeds_and_their_geometric_mean():
    N = np.array([[1.0, 10.0, 100.0], [4.0, 10.0, 1.0]])
    panels = [("a", {"standard": N, "resnet": N[:1]}), ("b", {"standard": N, "resnet": N}),
              ("c", {"standard": N, "resnet": N})]
    fig = layer_norms_figure(panels, "norm", ncols=2)
    assert len(fig.axes) == 4 and not fig.axes[3].get_visible(), "2 x 2 grid, the 4th empty"
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    # standard: 2 seeds + mean, resnet: 1 seed + mean
    assert len(ax.lines) == 5
    np.testing.assert_allclose(ax.lines[2].get_ydata(), [2.0, 10.0, 10.0])
    np.testing.assert_allclose(ax.lines[2].get_xdata(), [1, 2, 3])
    assert ax.lines[2].get_label() == "standard"
    assert fig.legends, "shared labels: one legend below the panels"
    fig = layer_norms_figure([("a", {"x": N}), ("b", {"y": N})], "norm")
    assert len(fig.axes) == 2 and not fig.legends and fig.axes[0].get_legend() is not None
