"""Tests of the helpers of the verification notebooks (2.1-2.3): a test's row tells a right
derivative from a wrong one, and the figure of several gradient tests has a panel per entry."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from scratchnet import make_network  # noqa: E402
from scratchnet.layers import ResidualLayer, StandardLayer  # noqa: E402
from scratchnet.report.figures import gradient_test_curves_figure  # noqa: E402
from scratchnet.study import TRANSPOSE_ROUNDOFF, derivative_check  # noqa: E402
from scratchnet.verify import (layer_jacobian_test, layer_transpose_test,  # noqa: E402
                               network_gradient_test)

from helpers import random_batch  # noqa: E402


class WrongBackward(StandardLayer):
    """A layer whose backward forgets the activation's derivative for W: J^T u is wrong."""

    def backward(self, dY, need_dX=True, out=None):
        dX = super().backward(dY, need_dX, out)
        X, _ = self._cache
        self.grads["W"][...] = dY @ X.T
        return dX


class WrongJvp(StandardLayer):
    """A layer whose jvp has a wrong factor: J d is wrong, so the Jacobian test fails."""

    def jvp(self, V):
        return 1.01 * super().jvp(V)


def with_bias(layer, rng):
    layer.params["b"][...] = 0.1 * rng.standard_normal(layer.params["b"].shape)
    return layer


@pytest.mark.parametrize("n, width, m", [(2, 6, 30), (5, 3, 17)])
def test_a_correct_standard_layer_passes_every_check(rng, n, width, m):
    layer = with_bias(StandardLayer(n, width, "tanh", rng), rng)
    X = rng.standard_normal((n, m))
    for wrt in ("W", "b", "X"):
        transposes = [layer_transpose_test(layer, X, wrt, rng) for _ in range(3)]
        row = derivative_check(layer_jacobian_test(layer, X, wrt, rng), transposes=transposes)
        assert row["passes"] and row["transpose_holds"], (wrt, row)
        assert abs(row["order_first"] - 1) < 0.1 and abs(row["order_second"] - 2) < 0.1, row
        assert row["clean_rows_second"] > 6 and row["second_over_roundoff"] > 1e3, row
        assert row["transpose"] == max(transposes) < TRANSPOSE_ROUNDOFF


def test_w2_passes_as_linear_and_w1_only_as_smooth(rng):
    layer = with_bias(ResidualLayer(3, "tanh", rng), rng)
    X = rng.standard_normal((3, 25))
    w2 = layer_jacobian_test(layer, X, "W2", rng)
    linear = derivative_check(w2, linear=True)
    assert linear["passes"] and linear["clean_rows_second"] == 0, linear
    assert linear["second_over_roundoff"] < 1 and np.isnan(linear["order_second"]), linear
    assert not derivative_check(w2)["passes"], "a round-off second order is not order 2"
    w1 = layer_jacobian_test(layer, X, "W1", rng)
    assert derivative_check(w1)["passes"]
    assert not derivative_check(w1, linear=True)["passes"], "W1 is not linear"
    assert "transpose" not in linear and "transpose_holds" not in linear


def test_checks_catch_a_wrong_backward_and_a_wrong_jvp(rng):
    X = rng.standard_normal((3, 20))
    layer = WrongBackward(3, 5, rng=rng)
    jacobian = layer_jacobian_test(layer, X, "W", rng)
    wrong = derivative_check(jacobian, transposes=[layer_transpose_test(layer, X, "W", rng)
                                                   for _ in range(4)])
    assert wrong["passes"] and not wrong["transpose_holds"] and wrong["transpose"] > 1e-3, wrong
    right = derivative_check(layer_jacobian_test(layer, X, "X", rng),
                             transposes=[layer_transpose_test(layer, X, "X", rng)])
    assert right["transpose_holds"], right

    wrong = derivative_check(layer_jacobian_test(WrongJvp(3, 5, rng=rng), X, "W", rng))
    assert not wrong["passes"] and abs(wrong["order_second"] - 1) < 0.2, wrong
    # A wrong J d is not rescued by calling the target linear either.
    assert not derivative_check(layer_jacobian_test(WrongJvp(3, 5, rng=rng), X, "W", rng),
                                linear=True)["passes"]


def test_derivative_check_refuses_an_empty_list_of_transposes(rng):
    layer = StandardLayer(2, 3, rng=rng)
    result = layer_jacobian_test(layer, rng.standard_normal((2, 5)), "W", rng)
    with pytest.raises(ValueError, match="no transpose"):
        derivative_check(result, transposes=[])


def test_gradient_test_curves_figure_has_a_panel_per_entry_and_a_curve_pair_per_test(rng):
    X, C = random_batch(rng, 2, 3, 20)
    panels = {}
    for arch in ("standard", "resnet"):
        panels[arch] = {}
        for depth in (1, 2, 4):
            net = make_network(arch, 2, 3, depth=depth, width=4, seed=rng)
            result = network_gradient_test(net, X, C, rng)
            assert derivative_check(result)["passes"], (arch, depth)
            panels[arch][f"L = {depth}"] = result
    fig = gradient_test_curves_figure(panels, title="t")
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["standard", "resnet"]
    assert all(len(ax.get_lines()) == 2 * 3 + 1 for ax in axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()][:3] == ["L = 1", "L = 2", "L = 4"]
