import numpy as np
import pytest

from scratchnet import SGD, Momentum, TrainingDiverged, make_network, train

from helpers import one_hot


def separable(rng, m):
    """Two linearly separable classes in 2-D with a margin."""
    X = rng.uniform(-1, 1, (2, m))
    X = X[:, np.abs(X[0] + X[1]) > 0.1]
    return X, one_hot((X[0] + X[1] > 0).astype(int), 2)


def test_reaches_100_percent_on_a_separable_set(rng):
    Xt, Ct = separable(rng, 400)
    Xv, Cv = separable(rng, 200)
    net = make_network("standard", 2, 2, depth=0, seed=1)
    history = train(net, Xt, Ct, Xv, Cv, Momentum(0.5), epochs=30, batch_size=16, rng=rng)
    assert history.train_acc[-1] == 1.0 and history.val_acc[-1] == 1.0, history.final()
    assert history.train_loss[-1] < history.train_loss[0]


def test_same_seed_gives_an_identical_history():
    runs = []
    for _ in range(2):
        rng = np.random.default_rng(3)
        Xt, Ct = separable(rng, 300)
        Xv, Cv = separable(rng, 100)
        net = make_network("resnet", 2, 2, depth=2, width=4, seed=5)
        runs.append(train(net, Xt, Ct, Xv, Cv, SGD(0.1), epochs=3, batch_size=32,
                          rng=rng, eval_size=50).to_dict())
    assert runs[0] == runs[1]


def test_history_and_callback(rng):
    Xt, Ct = separable(rng, 200)
    seen = []
    net = make_network("standard", 2, 2, depth=1, width=3, seed=0)
    history = train(net, Xt, Ct, Xt, Ct, SGD(0.1), epochs=4, batch_size=50, rng=rng,
                    eval_size=30, callback=lambda epoch, h: seen.append((epoch, len(h.val_acc))))
    assert seen == [(1, 1), (2, 2), (3, 3), (4, 4)]
    assert history.epoch == [1, 2, 3, 4] and history.eval_size == 30
    assert all(0 <= a <= 1 for a in history.train_acc + history.val_acc)
    assert set(history.final()) == {"train_acc", "val_acc", "train_loss", "val_loss"}


def test_diverging_learning_rate_stops_with_a_clear_error(rng):
    Xt, Ct = separable(rng, 200)
    net = make_network("standard", 2, 2, depth=3, width=8, activation="identity", seed=0)
    with pytest.raises(TrainingDiverged, match=r"diverged: the loss .* at epoch \d+ .*learning rate 1000"):
        train(net, Xt, Ct, Xt, Ct, SGD(1e3), epochs=5, batch_size=20, rng=rng)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_overshooting_learning_rate_stops_before_the_history_looks_like_a_result(
        rng, activation):
    """Bounded activations keep the loss finite, but a huge rate still wrecks training."""
    Xt, Ct = separable(rng, 300)
    net = make_network("standard", 2, 2, depth=3, width=8, activation=activation, seed=0)
    with pytest.raises(TrainingDiverged, match=r"rose to .* at epoch 1 .*learning rate 10000"):
        train(net, Xt, Ct, Xt, Ct, SGD(1e4), epochs=5, batch_size=32, rng=rng)
    net = make_network("standard", 2, 2, depth=3, width=8, activation=activation, seed=0)
    history = train(net, Xt, Ct, Xt, Ct, SGD(1e4), epochs=2, batch_size=32, rng=rng,
                    divergence=None)
    assert len(history.epoch) == 2


def test_non_finite_data_is_not_blamed_on_the_learning_rate(rng):
    Xt, Ct = separable(rng, 100)
    Xt[0, :] = np.nan
    net = make_network("standard", 2, 2, depth=1, width=3, seed=0)
    with pytest.raises(TrainingDiverged, match="first batch, before any step: check the data"):
        train(net, Xt, Ct, Xt, Ct, SGD(0.1), epochs=1, batch_size=100, rng=rng)


def test_restricting_the_steps_to_some_parameters(rng):
    Xt, Ct = separable(rng, 200)
    net = make_network("standard", 2, 2, depth=1, width=3, seed=0)
    before = net.get_params()
    head_only = {name: view for name, view in net.params.items() if name.startswith("head")}
    train(net, Xt, Ct, Xt, Ct, SGD(0.1), epochs=2, batch_size=50, rng=rng, params=head_only)
    after = net.get_params()
    for name, piece in net.slices.items():
        changed = not np.array_equal(before[piece], after[piece])
        assert changed == name.startswith("head"), name


def test_without_evaluation_the_loop_measures_nothing_but_trains_the_same(rng):
    Xt, Ct = separable(rng, 200)
    histories, params = [], []
    for evaluate in (True, False):
        net = make_network("standard", 2, 2, depth=1, width=3, seed=0)
        seen = []
        history = train(net, Xt, Ct, Xt, Ct, SGD(0.1), epochs=3, batch_size=50,
                        rng=np.random.default_rng(9), evaluate=evaluate,
                        callback=lambda epoch, h: seen.append(epoch))
        assert seen == [1, 2, 3] and history.epoch == [1, 2, 3]
        histories.append(history)
        params.append(net.get_params())
    assert histories[1].val_acc == [] and len(histories[0].val_acc) == 3
    np.testing.assert_array_equal(params[0], params[1])
