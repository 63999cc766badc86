import resource

import numpy as np
import pytest

from scratchnet import layers, make_network
from scratchnet.layers import Buffers, ResidualLayer, StandardLayer
from scratchnet.verify import central_difference_gradient, network_gradient_test

from helpers import describe, random_batch


@pytest.mark.parametrize("arch", ["standard", "resnet"])
@pytest.mark.parametrize("depth", [1, 3, 10])
def test_whole_network_gradient_test(rng, tanh_route, buffers, arch, depth):
    X, C = random_batch(rng, 3, 4, 16)
    net = make_network(arch, n_features=3, n_classes=4, depth=depth, width=6, seed=rng)
    result = network_gradient_test(net, X, C, rng)
    assert result.passes(), describe(result)


@pytest.mark.parametrize("arch", ["standard", "resnet"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_gradient_matches_central_differences_entry_by_entry(rng, arch, activation):
    X, C = random_batch(rng, 2, 3, 10)
    net = make_network(arch, n_features=2, n_classes=3, depth=2, width=4,
                       activation=activation, seed=rng, weight_decay=1e-2)
    theta = net.get_params()
    _, grad = net.loss_and_grad(X, C)

    def f(value):
        net.set_params(value)
        return net.loss(X, C)

    numeric = central_difference_gradient(f, theta, h=1e-5)
    net.set_params(theta)
    error = np.abs(numeric - grad) / np.maximum(np.abs(grad), 1e-3 * np.abs(grad).max())
    assert error.max() < 1e-6, f"worst entry {error.argmax()}: relative error {error.max():.2e}"


def test_gradient_test_fails_when_one_layer_is_wrong(rng, monkeypatch):
    X, C = random_batch(rng, 3, 4, 16)
    net = make_network("resnet", n_features=3, n_classes=4, depth=3, width=5, seed=rng)
    backward = ResidualLayer.backward

    def wrong_bias(self, dY, need_dX=True, out=None):
        dX = backward(self, dY, need_dX, out)
        self.grads["b"] *= -1
        return dX

    monkeypatch.setattr(ResidualLayer, "backward", wrong_bias)
    assert not network_gradient_test(net, X, C, rng).passes()


def test_contract(rng):
    net = make_network(arch="standard", n_features=2, n_classes=5, depth=4, width=16,
                       activation="tanh", seed=0)
    theta = net.get_params()
    assert theta.ndim == 1 and theta.dtype == np.float64
    assert theta.size == net.n_params == (2 * 16 + 16) + 3 * (16 * 16 + 16) + (16 * 5 + 5)
    theta[0] += 1.0
    assert net.get_params()[0] != theta[0], "get_params must return a copy"
    net.set_params(theta)
    np.testing.assert_array_equal(net.get_params(), theta)
    X, C = random_batch(rng, 2, 5, 9)
    loss, grad = net.loss_and_grad(X, C)
    assert np.isscalar(loss) and grad.shape == theta.shape
    P = net.predict_proba(X)
    assert P.shape == (5, 9)
    np.testing.assert_allclose(P.sum(axis=0), 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="parameter vector of shape"):
        net.set_params(theta[:-1])


def test_same_seed_same_network():
    a = make_network("resnet", 2, 5, depth=3, width=8, seed=7)
    b = make_network("resnet", 2, 5, depth=3, width=8, seed=7)
    c = make_network("resnet", 2, 5, depth=3, width=8, seed=8)
    np.testing.assert_array_equal(a.get_params(), b.get_params())
    assert not np.array_equal(a.get_params(), c.get_params())


def test_standard_widths_may_grow():
    net = make_network("standard", 2, 3, depth=3, width=[4, 8, 16], seed=0)
    assert [(layer.n_in, layer.n_out) for layer in net.layers] == [(2, 4), (4, 8), (8, 16)]
    assert net.head.params["W"].shape == (16, 3)


def test_resnet_lifts_the_input_only_when_needed():
    lifted = make_network("resnet", 2, 3, depth=4, width=8, seed=0)
    assert isinstance(lifted.layers[0], StandardLayer)
    assert sum(isinstance(layer, ResidualLayer) for layer in lifted.layers) == 4
    same = make_network("resnet", 5, 3, depth=4, width=5, seed=0)
    assert all(isinstance(layer, ResidualLayer) for layer in same.layers)


def test_layers_share_the_flat_vectors(rng):
    net = make_network("standard", 2, 3, depth=2, width=4, seed=0)
    net.layers[1].params["W"][0, 0] = 42.0
    assert 42.0 in net.get_params()
    X, C = random_batch(rng, 2, 3, 5)
    _, grad = net.loss_and_grad(X, C)
    np.testing.assert_array_equal(grad[net.slices["layer1.b"]],
                                  net.layers[1].grads["b"].ravel())


def test_weight_decay_penalises_weights_not_biases(rng):
    X, C = random_batch(rng, 2, 3, 5)
    plain = make_network("standard", 2, 3, depth=2, width=4, seed=0)
    decayed = make_network("standard", 2, 3, depth=2, width=4, seed=0, weight_decay=0.1)
    weights = np.concatenate([p.ravel() for name, p in plain.params.items()
                              if name.split(".")[1].startswith("W")])
    loss0, grad0 = plain.loss_and_grad(X, C)
    loss1, grad1 = decayed.loss_and_grad(X, C)
    assert loss1 == pytest.approx(loss0 + 0.05 * weights @ weights, rel=1e-12)
    for name, piece in plain.slices.items():
        expected = grad0[piece] + (0.1 * plain.theta[piece] if ".W" in name else 0)
        np.testing.assert_allclose(grad1[piece], expected, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("kwargs,match", [
    ({"arch": "mlp"}, "unknown arch"),
    ({"depth": -1}, "depth must be"),
    ({"width": [4, 4], "depth": 3}, "2 widths for depth 3"),
    ({"width": 0}, "positive"),
    ({"activation": "sigmoid"}, "unknown activation"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_network(**{"n_features": 2, "n_classes": 2, **kwargs})


def test_bad_batch_shapes_are_refused(rng):
    net = make_network("standard", 2, 3, depth=1, width=4, seed=0)
    with pytest.raises(ValueError, match="X must be 2 x m"):
        net.loss_and_grad(rng.standard_normal((5, 2)), np.eye(3)[:, [0, 1]])
    with pytest.raises(ValueError, match="C must be 3 x 5"):
        net.loss_and_grad(rng.standard_normal((2, 5)), np.eye(2)[:, [0, 1, 0, 1, 0]])


def test_first_layer_skips_the_input_gradient_but_not_its_own(rng):
    X, C = random_batch(rng, 2, 3, 7)
    net = make_network("standard", 2, 3, depth=2, width=4, seed=0)
    net.forward_backward(X, C)
    first = net.layers[0]
    W_grad = first.grads["W"].copy()
    assert first.backward(np.ones((4, 7)), need_dX=False) is None
    first.forward(X)
    dX = first.backward(np.ones((4, 7)))
    assert dX.shape == X.shape and not np.array_equal(W_grad, first.grads["W"])


@pytest.mark.parametrize("arch", ["standard", "resnet"])
def test_a_float32_network_computes_in_float32_from_the_same_start(rng, arch):
    X, C = random_batch(rng, 3, 4, 16)
    nets = {dtype: make_network(arch, 3, 4, depth=3, width=6, seed=7, weight_decay=1e-3,
                                dtype=dtype)
            for dtype in ("float32", "float64")}
    net32, net64 = nets["float32"], nets["float64"]
    assert net32.dtype == np.float32 and net32.theta.dtype == net32.grad.dtype == np.float32
    assert all(p.dtype == np.float32 for layer in net32.layers for p in layer.params.values())
    np.testing.assert_array_equal(net32.get_params(), net64.get_params().astype(np.float32))
    loss32, grad32 = net32.loss_and_grad(X, C)  # float64 data, cast on the way in
    loss64, grad64 = net64.loss_and_grad(X, C)
    assert grad32.dtype == np.float32 and isinstance(loss32, float)
    assert abs(loss32 - loss64) < 1e-5 * abs(loss64)
    assert np.abs(grad32 - grad64).max() < 1e-5 * np.abs(grad64).max()
    assert net32.predict_proba(X).dtype == np.float32


def test_float32_training_runs_in_float32(rng):
    from scratchnet.optim import Adam
    from scratchnet.train import train

    X, C = random_batch(rng, 2, 3, 64)
    net = make_network("standard", 2, 3, depth=2, width=8, seed=0, dtype=np.float32)
    optimizer = Adam(1e-2)
    history = train(net, X, C, X, C, optimizer, epochs=5, batch_size=16, rng=rng)
    assert net.theta.dtype == np.float32
    assert all(s.dtype == np.float32 for s in optimizer.state["theta"].values()
               if isinstance(s, np.ndarray))
    assert history.train_loss[-1] < history.train_loss[0]


@pytest.mark.parametrize("dtype", ["float16", "int32", "nonsense"])
def test_other_dtypes_are_refused(dtype):
    with pytest.raises(ValueError, match="dtype must be one of float32, float64"):
        make_network("standard", 2, 2, depth=1, width=3, dtype=dtype)


@pytest.mark.parametrize("arch", ["standard", "resnet"])
def test_reused_buffers_give_the_gradients_of_fresh_arrays_step_after_step(
        rng, monkeypatch, arch):
    # batch sizes that change, come back, and outnumber the two the network keeps buffers for
    batches = [random_batch(rng, 3, 4, m) for m in (16, 16, 7, 5, 16, 7)]
    expected = []
    monkeypatch.setattr(layers, "REUSE_FROM", float("inf"))
    net = make_network(arch, 3, 4, depth=3, width=6, seed=1, weight_decay=1e-3)
    for X, C in batches:
        expected.append((net.forward_backward(X, C), net.grad.copy()))
    monkeypatch.setattr(layers, "REUSE_FROM", 1)
    net = make_network(arch, 3, 4, depth=3, width=6, seed=1, weight_decay=1e-3)
    for step, (X, C) in enumerate(batches):
        loss = net.forward_backward(X, C)
        assert loss == expected[step][0], f"step {step}: loss {loss} != {expected[step][0]}"
        np.testing.assert_array_equal(net.grad, expected[step][1], err_msg=f"step {step}")


@pytest.mark.parametrize("arch", ["standard", "resnet"])
def test_what_forward_returns_is_not_overwritten_by_training_steps(rng, buffers, arch):
    X, C = random_batch(rng, 3, 4, 16)
    net = make_network(arch, 3, 4, depth=3, width=6, seed=1)
    Y, P = net.forward(X), net.predict_proba(X)
    Y_then, P_then = Y.copy(), P.copy()
    for _ in range(2):
        net.forward_backward(*random_batch(rng, 3, 4, 16))
    np.testing.assert_array_equal(Y, Y_then)
    np.testing.assert_array_equal(P, P_then)


def test_buffers_are_kept_by_name_shape_and_dtype(monkeypatch):
    monkeypatch.setattr(layers, "REUSE_FROM", 12)
    buffers = Buffers()
    single, double = np.ones((3, 4), np.float32), np.ones((3, 4))
    first = buffers.take("Y", single)
    assert first.shape == (3, 4) and first.dtype == np.float32
    assert buffers.take("Y", single) is first
    assert buffers.take("dY", single) is not first
    assert buffers.take("Y", double).dtype == np.float64
    assert buffers.take("Y", np.ones((4, 4))).shape == (4, 4)
    # the dtype of an operation on the operands: float32 with float64 makes float64
    assert buffers.take("Y", single, single).dtype == np.float32
    assert buffers.take("Y", single, double).dtype == np.float64
    assert buffers.take("Y", np.ones((2, 5))) is None, "10 elements are under REUSE_FROM"


def test_a_wide_network_step_faults_in_no_new_memory(rng):
    # A step of 2 -> 256 x 3 -> 5 on 1024 columns works on 9 arrays of 256 x 1024 (forward
    # outputs, dZ, dF/dY): 2,300 pages of 4 KiB in float32 if each were new every step.
    X, C = random_batch(rng, 2, 5, 1024)
    net = make_network("standard", 2, 5, depth=3, width=256, seed=0, dtype="float32")
    X, C = X.astype(np.float32), C.astype(np.float32)
    for _ in range(3):
        net.forward_backward(X, C)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        net.forward_backward(X, C)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5
    assert faults < 50, f"{faults:.0f} page faults per step: its arrays are not reused"
