"""The generic pieces section 2.6 builds on: the Alternating optimizer wrapper and the curves
figure with an abscissa per curve."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from scratchnet import make_network, train  # noqa: E402
from scratchnet.optim import SGD, Adam, Alternating  # noqa: E402
from scratchnet.report.figures import band_figure  # noqa: E402


def moved(before, after):
    return sorted(key for key in before if not np.array_equal(before[key], after[key]))


def test_alternating_steps_one_group_per_call_in_turn(rng):
    params = {key: rng.standard_normal(3) for key in "abc"}
    grads = {key: rng.standard_normal(3) for key in "abc"}
    opt = Alternating(SGD(0.5), [["a"], ["b", "c"]])
    for expected in (["a"], ["b", "c"], ["a"], ["b", "c"]):
        before = {key: p.copy() for key, p in params.items()}
        opt.step(params, grads)
        assert moved(before, params) == expected, f"call {opt.calls} moved {moved(before, params)}"
        for key in expected:
            np.testing.assert_allclose(params[key], before[key] - 0.5 * grads[key])


def test_alternating_passes_the_rate_and_keeps_state_per_parameter(rng):
    inner = Adam(0.01)
    opt = Alternating(inner, [["a"], ["b"]])
    opt.lr = 0.003
    assert inner.lr == 0.003 and opt.lr == 0.003
    params = {"a": np.ones(2), "b": np.ones(2)}
    grads = {"a": np.ones(2), "b": np.ones(2)}
    for _ in range(5):
        opt.step(params, grads)
    assert inner.state["a"]["t"] == 3 and inner.state["b"]["t"] == 2, (
        f"Adam's step counts: a {inner.state['a']['t']}, b {inner.state['b']['t']}")


@pytest.mark.parametrize("groups", [[["a"]], [["a"], []], []])
def test_alternating_refuses_fewer_than_two_non_empty_groups(groups):
    with pytest.raises(ValueError, match="two or more"):
        Alternating(SGD(0.1), groups)


def test_alternating_in_the_training_loop_moves_the_head_then_the_hidden_layers(rng):
    net = make_network("standard", 2, 3, depth=2, width=4, seed=rng)
    X = rng.standard_normal((2, 16))
    C = np.eye(3)[:, rng.integers(3, size=16)]
    head = [key for key in net.params if key.startswith("head.")]
    body = [key for key in net.params if not key.startswith("head.")]
    opt = Alternating(SGD(0.1), [head, body])
    before = {key: p.copy() for key, p in net.params.items()}
    # One mini-batch of the whole set: only the head's turn comes.
    train(net, X, C, X, C, opt, epochs=1, batch_size=16, rng=rng, params=net.params)
    assert moved(before, net.params) == sorted(head)
    before = {key: p.copy() for key, p in net.params.items()}
    train(net, X, C, X, C, opt, epochs=1, batch_size=16, rng=rng, params=net.params)
    assert moved(before, net.params) == sorted(body)


def test_band_figure_with_an_abscissa_per_curve_draws_a_mean_and_a_band_and_zooms():
    Y = np.array([[0.5, 0.8, 0.9], [0.6, 0.85, 0.95]])
    panels = [("against epochs", "epoch", {"p": ([1, 2, 3], Y), "q": ([1, 2, 3], Y[0])}),
              ("against seconds", "seconds", {"p": ([0.1, 0.2, 0.3], Y),
                                              "q": ([0.2, 0.4, 0.6], Y[0])})]
    fig = band_figure(panels, "epoch", "accuracy", zoom=0.1)
    axes = np.array(fig.axes).reshape(2, 2)
    for ax in axes.flat:
        assert len(ax.lines) == 2, "one line per curve"
        assert len(ax.collections) == 1, "a band only where there are several seeds"
    np.testing.assert_allclose(axes[1, 0].get_ylim(), (0.925 - 0.1, 0.925 + 0.01))
    np.testing.assert_allclose(axes[0, 1].lines[1].get_xdata(), [0.2, 0.4, 0.6])
    assert [t.get_text() for t in fig.legends[0].texts] == ["p", "q"]
    plt.close(fig)
