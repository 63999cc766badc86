"""Section 2.6's strategies: alternating steps, layer-by-layer training, tuning and the verdict."""
import ast
import importlib
import json
from pathlib import Path
import re
import warnings

import matplotlib
import numpy as np
import pytest

from scratchnet import strategies as st
from scratchnet.data import Dataset
from scratchnet.network import make_network
from scratchnet.optim import SGD, Adam, Cosine
from scratchnet.train import train

matplotlib.use("Agg")


def blobs(rng, m=240, m_val=80, k=2):
    """``k`` separable Gaussian blobs in the plane, columns are samples."""
    centres = 2.0 * np.stack([np.cos(2 * np.pi * np.arange(k) / k),
                              np.sin(2 * np.pi * np.arange(k) / k)])

    def draw(size):
        y = rng.integers(0, k, size)
        X = rng.standard_normal((2, size)) * 0.3 + centres[:, y]
        return X, np.eye(k)[:, y]
    Xt, Ct = draw(m)
    Xv, Cv = draw(m_val)
    return Dataset(name="blobs", Xt=Xt, Ct=Ct, Xv=Xv, Cv=Cv, source="test", path="/x/b.mat",
                   sha256="0" * 64)


def changed(net, before):
    """Names of the parameters whose values differ from the flat vector ``before``."""
    return {key for key, piece in net.slices.items()
            if not np.array_equal(net.theta[piece], before[piece])}


def test_parameter_groups():
    net = make_network("standard", 2, 3, depth=3, width=4, seed=0)
    assert st.head_keys(net) == ["head.W", "head.b"]
    assert st.layer_keys(net, 1) == ["layer1.W", "layer1.b"]
    assert st.body_keys(net) == [f"layer{i}.{p}" for i in range(3) for p in "Wb"]
    with pytest.raises(ValueError, match="no hidden layer 3"):
        st.layer_keys(net, 3)
    res = make_network("resnet", 2, 3, depth=2, width=4, seed=0)
    assert sorted(st.layer_keys(res, 2)) == ["layer2.W1", "layer2.W2", "layer2.b"]


@pytest.mark.parametrize("every", [1, 2])
def test_alternating_steps_only_its_group(rng, every):
    data = blobs(rng, k=3)
    net = make_network("standard", 2, 3, depth=2, width=5, seed=1)
    groups = [st.head_keys(net), st.body_keys(net)]
    opt = st.Alternating(SGD(0.1), groups, every=every)
    for call in range(6):
        net.forward_backward(data.Xt[:, :32], data.Ct[:, :32])
        before = net.get_params()
        expected = groups[(call // every) % 2]
        assert opt.current_group() == (call // every) % 2
        opt.step(net.params, net.grads)
        assert changed(net, before) == set(expected), (
            f"call {call}: changed {sorted(changed(net, before))}, expected {expected}")


def test_alternating_in_the_training_loop(rng):
    """Under ``train`` with batches that cover the set twice per epoch, head and body each
    get one step per epoch; the rate set by a schedule reaches the wrapped optimizer."""
    data = blobs(rng, m=64)
    net = make_network("standard", 2, 2, depth=2, width=4, seed=2)
    inner = SGD(0.5)
    opt = st.Alternating(inner, [st.head_keys(net), st.body_keys(net)])
    train(net, data.Xt, data.Ct, data.Xv, data.Cv, opt, epochs=3, batch_size=32,
          rng=np.random.default_rng(0), schedule=lambda epoch: 0.5 / (epoch + 1),
          params=net.params)
    assert opt.calls == 6
    assert inner.lr == pytest.approx(0.5 / 3)
    with pytest.raises(ValueError, match="two non-empty groups"):
        st.Alternating(SGD(0.1), [st.head_keys(net)])


def test_split_epochs_and_shifted_schedule():
    assert st.split_epochs(20, 4) == [5, 5, 5, 5]
    assert st.split_epochs(10, 4) == [2, 2, 3, 3]
    assert sum(st.split_epochs(7, 3)) == 7
    with pytest.raises(ValueError):
        st.split_epochs(2, 3)
    cosine = Cosine(1.0, 10)
    assert st.Shifted(cosine, 4)(1) == cosine(5)


def test_layerwise_stages():
    net = make_network("standard", 2, 3, depth=2, width=4, seed=0)
    assert st.layerwise_stages(net) == [["layer0.W", "layer0.b", "head.W", "head.b"],
                                        ["layer1.W", "layer1.b", "head.W", "head.b"],
                                        list(net.params)]
    assert len(st.layerwise_stages(net, finetune=False)) == 2
    softmax = make_network("standard", 2, 3, depth=0, seed=0)
    assert st.layerwise_stages(softmax) == [["head.W", "head.b"]]


def test_layerwise_freezes_what_it_should(rng):
    """Stage l moves layer l and the head only; the last stage moves everything."""
    data = blobs(rng, k=3)
    net = make_network("standard", 2, 3, depth=3, width=4, seed=3)
    snapshots = [net.get_params()]
    epochs_seen = []

    def snapshot(epoch, history):
        epochs_seen.append(epoch)
        snapshots.append(net.get_params())
    stages = st.layerwise_stages(net)
    histories = st.train_layerwise(net, data.Xt, data.Ct, data.Xv, data.Cv, Adam(0.01),
                                   epochs=8, batch_size=32, rng=np.random.default_rng(0),
                                   callback=snapshot)
    assert epochs_seen == list(range(1, 9))
    assert [len(h.epoch) for h in histories] == [2, 2, 2, 2]
    for s, keys in enumerate(stages):
        start, end = snapshots[2 * s], snapshots[2 * s + 2]
        net.set_params(end)
        assert changed(net, start) == set(keys), (
            f"stage {s}: changed {sorted(changed(net, start))}, expected {keys}")


def test_recorder_clock_and_fixed_subsample(rng):
    data = blobs(rng, m=200, m_val=100)
    net = make_network("standard", 2, 2, depth=3, width=4, seed=0)
    rec = st.Recorder(net, data.Xt, data.Ct, data.Xv, data.Cv, 50, np.random.default_rng(1))
    assert rec.train_set[0].shape == (2, 50) and rec.val_set[0].shape == (2, 50)
    st.train_layerwise(net, data.Xt, data.Ct, data.Xv, data.Cv, Adam(0.01), epochs=4,
                       batch_size=32, rng=np.random.default_rng(0), callback=rec.start())
    c = rec.curves()
    assert c["epoch"] == [1, 2, 3, 4]
    assert all(b >= a > 0 for a, b in zip(c["seconds"], c["seconds"][1:]))
    assert all(b >= a >= 0 for a, b in zip(c["cpu_seconds"], c["cpu_seconds"][1:]))
    assert c["cpu_seconds"][-1] > 0
    # The recorder's last figure is the network's on its subsample, not a stale one.
    assert c["val_acc"][-1] == net.evaluate(*rec.val_set)[1]


@pytest.mark.parametrize("strategy", st.STRATEGIES, ids=lambda s: s.label)
def test_every_strategy_learns_a_separable_problem(rng, strategy):
    data = blobs(rng, k=3)
    net = make_network("standard", 2, 3, depth=2, width=8, seed=4)
    theta0 = net.get_params()
    start_loss = net.loss(data.Xt, data.Ct)
    run = st.run_strategy(strategy, net, theta0, data.Xt, data.Ct, data.Xv, data.Cv,
                          lr=strategy.lrs[1], epochs=6, batch_size=16, seed=0)
    assert run.diverged is None
    assert run.final["train_loss"] < 0.5 * start_loss, (
        f"{strategy.label}: loss {start_loss:.3f} -> {run.final['train_loss']:.3f}")
    assert run.final["val_acc"] > 0.9
    assert len(run.curves["epoch"]) == 6 and run.seconds == run.curves["seconds"][-1]


def test_run_strategy_is_seeded_and_starts_from_theta0(rng):
    data = blobs(rng)
    net = make_network("standard", 2, 2, depth=2, width=4, seed=0)
    theta0 = net.get_params()
    strategy = st.STRATEGIES[5]
    a = st.run_strategy(strategy, net, theta0, data.Xt, data.Ct, data.Xv, data.Cv, lr=0.01,
                        epochs=2, batch_size=32, seed=7)
    net.set_params(np.zeros_like(theta0))
    b = st.run_strategy(strategy, net, theta0, data.Xt, data.Ct, data.Xv, data.Cv, lr=0.01,
                        epochs=2, batch_size=32, seed=7)
    assert a.final == b.final
    assert a.curves["val_acc"] == b.curves["val_acc"]


def test_diverging_run_is_reported_not_raised(rng):
    data = blobs(rng)
    net = make_network("standard", 2, 2, depth=2, width=4, seed=0)
    noise = data.Ct[:, rng.permutation(data.Ct.shape[1])]  # labels at random: no fit
    run = st.run_strategy(st.STRATEGIES[0], net, net.get_params(), data.Xt, noise,
                          data.Xv, data.Cv, lr=1e4, epochs=2, batch_size=32, seed=0)
    assert run.diverged and "diverged" in run.diverged
    assert run.final == {}


def test_holdout_split_is_a_partition(rng):
    X = np.arange(20.0).reshape(1, 20)
    C = np.ones((2, 20))
    X_fit, _, X_held, _ = st.holdout_split(X, C, 0.25, rng)
    assert X_fit.shape == (1, 15) and X_held.shape == (1, 5)
    assert sorted(np.concatenate([X_fit[0], X_held[0]])) == list(range(20))


def test_tune_picks_the_best_held_out_rate_and_skips_diverged(rng):
    data = blobs(rng, k=3)
    net = make_network("standard", 2, 3, depth=1, width=4, seed=0)
    strategy = st.Strategy("SGD", "sgd", "constant", "plain", (1e-4, 0.3, 1e4))
    tuning = st.tune(strategy, net, net.get_params(), data.Xt, data.Ct, epochs=3,
                     batch_size=16, seed=0)
    assert tuning.scores[1e4] is None
    assert tuning.lr == 0.3 and tuning.scores[0.3] > tuning.scores[1e-4]


def test_compare_same_start_same_seed(rng):
    """Two strategies that are the same recipe under two labels end identically: same initial
    weights, same mini-batches, same tuning."""
    data = blobs(rng)
    twin = st.Strategy("Adam twin", "adam", "constant", "plain", (0.003, 0.03))
    adam = st.Strategy("Adam", "adam", "constant", "plain", (0.003, 0.03))
    runs, tunings = st.compare(data, [adam, twin], depth=1, width=4, epochs=2, batch_size=32,
                               seeds=[0, 1], tune_epochs=2)
    assert tunings["Adam"].lr == tunings["Adam twin"].lr
    for a, b in zip(runs["Adam"], runs["Adam twin"]):
        assert a.final == b.final
    assert runs["Adam"][0].final != runs["Adam"][1].final


def fake_run(label, val_acc, seconds=1.0, curve=(0.5, 0.9), diverged=None):
    curves = {"epoch": list(range(1, len(curve) + 1)),
              "seconds": [seconds * (i + 1) / len(curve) for i in range(len(curve))],
              "cpu_seconds": [2 * seconds * (i + 1) / len(curve) for i in range(len(curve))],
              "val_acc": list(curve), "train_acc": list(curve),
              "train_loss": [1.0] * len(curve), "val_loss": [1.0] * len(curve)}
    final = {} if diverged else {"val_acc": val_acc, "train_acc": val_acc,
                                 "train_loss": 0.1, "val_loss": 0.1}
    return st.StrategyRun(label, 0.1, curves, seconds, final, diverged)


def test_findings_and_verdict():
    runs = {"SGD": [fake_run("SGD", 0.900), fake_run("SGD", 0.910)],
            "Adam": [fake_run("Adam", 0.950, curve=(0.8, 0.95)), fake_run("Adam", 0.905)],
            "momentum": [fake_run("momentum", 0.930, 2.0, curve=(0.93, 0.93)),
                         fake_run("momentum", 0.926)],
            "worse": [fake_run("worse", 0.880), fake_run("worse", 0.890)],
            "broken": [fake_run("broken", None, diverged="diverged"), fake_run("broken", 0.99)]}
    f = st.strategy_findings(runs)
    assert f["winner"] == "momentum" and f["runner_up"] == "Adam"
    assert f["margin"] == pytest.approx(0.928 - 0.9275)
    assert f["level"] == ["momentum", "Adam"]
    assert f["margin_over_baseline"] == pytest.approx(0.928 - 0.905)
    assert f["beat_baseline"] == ["momentum", "Adam"]
    assert f["beat_baseline_every_seed"] == {"momentum": True, "Adam": False}
    assert f["behind_baseline"] == ["worse"]
    assert f["diverged"] == ["broken"]
    # Target 0.923: momentum's first seed is there after its first epoch (1 s), Adam's after
    # its second (1 s too, but later in the list), SGD never.
    assert f["seconds_to_reach"]["momentum"] == 1.0 and f["seconds_to_reach"]["SGD"] is None
    text = st.verdict_paragraph("toy", f)
    assert "momentum ends highest, at 92.80%" in text
    assert "Beating plain SGD (90.50%)" in text and "(momentum on every seed)" in text
    assert "Behind it by more than 0.20 points: worse" in text
    assert "Diverged on some seed: broken" in text
    table = st.strategy_table(f, {label: st.Tuning(label, 0.1) for label in runs})
    assert table.splitlines()[2] == "| momentum | 0.1 | 92.80% $\\pm$ 0.20 | 92.80% | 1.50 | 3.00 | 1.00 |"
    assert "diverged (1 seeds)" in table
    summary = st.summary_table({"toy": f})
    assert "**92.80% (1.50 s)**" in summary


def test_verdict_when_nothing_beats_sgd():
    runs = {"SGD": [fake_run("SGD", 0.95)], "Adam": [fake_run("Adam", 0.951)]}
    f = st.strategy_findings(runs)
    assert f["beat_baseline"] == [] and f["level"] == ["Adam", "SGD"]
    assert "Nothing beats plain SGD (95.00%) by more than 0.20 points" in \
        st.verdict_paragraph("toy", f)


def test_tuning_table_and_figure(rng):
    t = st.Tuning("SGD", 0.3, {0.1: 0.8, 0.3: 0.9, 1.0: None})
    table = st.tuning_table({"SGD": t})
    assert "0.1: 80.00%, **0.3: 90.00%**, diverged" in table
    runs = {"SGD": fake_run("SGD", 0.9), "Adam": fake_run("Adam", 0.95, curve=(0.8, 0.95))}
    fig = st.strategies_figure(runs, title="toy")
    (left, right), (zoom_left, zoom_right) = np.asarray(fig.axes[:4]).reshape(2, 2)
    assert all(len(ax.lines) == 2 for ax in fig.axes[:4])
    assert list(right.lines[1].get_xdata()) == [0.5, 1.0]
    assert left.get_ylim()[0] < 80 and left.get_ylim()[1] > 95
    assert zoom_left.get_ylim() == pytest.approx((93.5, 95.15))


def test_overall_findings():
    def findings(accs, seconds):
        runs = {label: [fake_run(label, a, seconds.get(label, 1.0))]
                for label, a in accs.items()}
        return st.strategy_findings(runs)
    f1 = findings({"SGD": 0.90, "Adam + cosine": 0.95, "alternating": 0.951,
                   "layer by layer": 0.93}, {"alternating": 1.5})
    f2 = findings({"SGD": 0.90, "Adam + cosine": 0.91, "alternating": 0.899,
                   "layer by layer": 0.95}, {})
    o = st.overall_findings({"a": f1, "b": f2})
    assert o["winners"] == {"a": "alternating", "b": "layer by layer"}
    assert o["beat_baseline_everywhere"] == ["Adam + cosine", "layer by layer"]
    assert o["against_base"]["alternating"]["a"] == {"delta": pytest.approx(0.001),
                                                     "time_ratio": 1.5}
    assert f1["stats"]["alternating"]["cpu_seconds_mean"] == 3.0
    assert o["against_base"]["layer by layer"]["b"]["delta"] == pytest.approx(0.04)
    text = st.overall_paragraph(o)
    assert "Winners: alternating on a; layer by layer on b." in text
    assert "the same optimizer and schedule stepping all parameters at once, alternating is level on a (+0.10 points, 1.50 times its CPU time), behind on b" in text
    assert "Against Adam + cosine, layer by layer is behind on a" in text
    assert "layer by layer is behind on a (-2.00 points" in text


def test_edge_choices_and_note():
    tunings = {"a": st.Tuning("a", 0.1, {0.1: 0.9, 0.3: 0.8}),
               "b": st.Tuning("b", 0.3, {0.1: 0.8, 0.3: 0.9, 1.0: 0.7}),
               "c": st.Tuning("c", 1.0, {0.1: 0.8, 0.3: 0.85, 1.0: 0.9})}
    assert st.edge_choices(tunings) == {"a": "smallest", "c": "largest"}
    assert "for a (the smallest) and c (the largest)" in st.tuning_note(tunings)
    assert st.tuning_note({"b": tunings["b"]}).startswith("Every chosen rate lies inside")


NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "26_optimizers.ipynb"


def test_notebook_layout_and_clean_storage():
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    text = ["".join(cell["source"]) for cell in cells]
    assert text[0].splitlines()[0] == "# 2.6 Optimization strategies"
    assert cells[1]["cell_type"] == "code" and "import" in text[1]
    assert cells[2]["metadata"].get("tags") == ["parameters"]
    values = {s.targets[0].id: ast.literal_eval(s.value) for s in ast.parse(text[2]).body}
    assert values["quick"] is False
    assert values["results_path"] == "build/notebooks/26_optimizers.json"
    assert values["datasets"] == ["swissroll", "peaks", "gmm"]
    for i, (cell, source) in enumerate(zip(cells, text)):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"cell {i}"
            assert not any(isinstance(node, (ast.FunctionDef, ast.Lambda, ast.ClassDef))
                           for node in ast.walk(ast.parse(source))), f"cell {i} defines"
        else:
            assert not re.findall(r"[\u0370-\u03ff]", source), f"cell {i}: raw Greek"
    code = "\n".join(s for c, s in zip(cells, text) if c["cell_type"] == "code")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an invalid escape such as "\p" in a string fails here
        tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module.startswith("scratchnet"):
            module = importlib.import_module(node.module)
            assert all(hasattr(module, alias.name) for alias in node.names), node.module
    names = [ast.unparse(node.args[1]) for node in ast.walk(tree)
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "show_figure"]
    assert names == ["f'26_curves_{name}'"]


def test_with_widths_keeps_alignment():
    from scratchnet.report import markdown_table
    table = markdown_table(["a", "b", "c"], [["x", 1.0, "y"]], align="lrc")
    lines = st._with_widths(table, [10, 4, 6]).splitlines()
    assert lines[1] == "|:---------|---:|:----:|"
    assert lines[0] == table.splitlines()[0] and lines[2] == table.splitlines()[2]
    with pytest.raises(ValueError):
        st._with_widths(table, [1, 2])
