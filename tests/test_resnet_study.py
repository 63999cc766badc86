"""Section 2.7: matched parameter counts, gradient norms per layer, the study and its text."""
import matplotlib
import numpy as np
import pytest

from scratchnet import resnet_study as rs
from scratchnet.data import Dataset
from scratchnet.network import make_network

from helpers import report_notebook

matplotlib.use("Agg")


def blobs(rng, m=240, m_val=80, n=2, k=3):
    """k separable Gaussian blobs in n dimensions, columns are samples."""
    centres = 2.0 * rng.standard_normal((n, k))

    def draw(size):
        y = rng.integers(0, k, size)
        X = centres[:, y] + 0.3 * rng.standard_normal((n, size))
        return X, np.eye(k)[:, y]
    Xt, Ct = draw(m)
    Xv, Cv = draw(m_val)
    return Dataset(name="blobs", Xt=Xt, Ct=Ct, Xv=Xv, Cv=Cv, source="test", path="/x/b.mat",
                   sha256="0" * 64)


@pytest.mark.parametrize("n_features,n_classes,layers,width",
                         [(2, 2, 12, 32), (5, 5, 20, 16), (2, 5, 3, 7)])
def test_counts_match_the_networks(n_features, n_classes, layers, width):
    std = make_network("standard", n_features, n_classes, layers, width, seed=0)
    res = make_network("resnet", n_features, n_classes, layers - 1, width, seed=0)
    assert rs.standard_count(n_features, n_classes, layers, width) == std.n_params
    assert rs.resnet_count(n_features, n_classes, layers, width) == res.n_params
    assert len(res.layers) == layers


def test_matched_width_is_the_closest_count():
    n_s = rs.matched_width(2, 5, 12, 32)
    target = rs.resnet_count(2, 5, 12, 32)
    gap = abs(rs.standard_count(2, 5, 12, n_s) - target)
    for n in range(20, 80):
        assert gap <= abs(rs.standard_count(2, 5, 12, n) - target), n
    assert n_s == 45  # about sqrt(2) * 32
    with pytest.raises(ValueError):
        rs.resnet_count(2, 2, 1, 8)


def test_pair_configs():
    pairs = rs.pair_configs(2, 2, [10, 20], 16)
    assert [p["arch"] for p in pairs] == ["standard", "resnet"] * 2
    assert [p["layers"] for p in pairs] == [10, 10, 20, 20]
    assert pairs[1]["config"] == {"arch": "resnet", "depth": 9, "width": 16}
    for s, r in (pairs[0:2], pairs[2:4]):
        assert abs(s["n_params"] - r["n_params"]) / r["n_params"] < 0.05


def test_layer_gradient_norms_are_the_weight_gradients(rng):
    net = make_network("resnet", 3, 4, 3, 5, seed=rng)
    X = rng.standard_normal((3, 20))
    C = np.eye(4)[:, rng.integers(0, 4, 20)]
    norms = rs.layer_gradient_norms(net, X, C)
    assert norms.shape == (4,)
    assert norms[0] == pytest.approx(np.linalg.norm(net.grads["layer0.W"]))
    expected = np.hypot(np.linalg.norm(net.grads["layer2.W1"]),
                        np.linalg.norm(net.grads["layer2.W2"]))
    assert norms[2] == pytest.approx(expected)
    assert np.all(norms > 0)


def test_gradient_norms_show_a_vanishing_gradient(rng):
    """Standard tanh layers with small weights shrink the gradient layer after layer on its
    way back: the first square layer gets far less than the last, and the ratio says so."""
    X = rng.standard_normal((2, 64))
    C = np.eye(2)[:, (X[0] > 0).astype(int)]
    net = make_network("standard", 2, 2, 8, 10, seed=rng)
    before = rs.gradient_ratio(rs.layer_gradient_norms(net, X, C))
    for layer in net.layers:
        layer.params["W"] *= 0.5
    norms = rs.layer_gradient_norms(net, X, C)
    assert rs.gradient_ratio(norms) < 0.5, norms
    assert rs.gradient_ratio(norms) < before, (before, norms)


def test_gradient_ratio_and_epochs_to_reach():
    norms = np.array([[9.0, 1.0, 2.0, 4.0], [9.0, 2.0, 2.0, 2.0]])
    assert rs.gradient_ratio(norms) == pytest.approx(np.sqrt(0.25 * 1.0))
    assert rs.epochs_to_reach([1, 2, 3, 4], [0.5, 0.7, 0.9, 0.95], 0.9) == 3
    assert rs.epochs_to_reach([1, 2], [0.5, 0.7], 0.9) is None


def test_study_findings_text_and_figures(rng, tmp_path):
    data = blobs(rng)
    fixed = dict(optimizer="adam", lr=0.02, schedule="cosine", batch_size=16, epochs=3,
                 eval_size=None)
    study = rs.resnet_study(data, [3, 4], 4, [0, 1], grad_batch=50, **fixed)
    assert list(study["runs"]) == [p["label"] for p in study["pairs"]]
    assert study["norms"]["resnet 4 x 4"].shape == (2, 4)
    assert study["final_norms"]["resnet 4 x 4"].shape == (2, 4)
    # Training moved the weights, so the gradients on the same batch changed.
    assert not np.allclose(study["final_norms"]["standard 3 x 5"], study["norms"]["standard 3 x 5"])
    # Seeded: the same seed gives the same initial gradients and the same training.
    again = rs.resnet_study(data, [3], 4, [0], grad_batch=50, **fixed)
    np.testing.assert_array_equal(again["norms"]["resnet 3 x 4"][0],
                                  study["norms"]["resnet 3 x 4"][0])
    assert (again["runs"]["standard 3 x 5"][0].final()
            == study["runs"]["standard 3 x 5"][0].final())
    # Blobs are easy: every network learns them.
    for runs in study["runs"].values():
        assert min(r.final()["val_acc"] for r in runs) > 0.8
    curves = rs.mean_curves(study["runs"]["resnet 3 x 4"])
    assert curves["val_acc"]["min"].shape == (3,)
    assert np.all(curves["val_acc"]["min"] <= curves["val_acc"]["mean"] + 1e-12)
    stats, findings = rs.resnet_findings(study)
    assert [f["layers"] for f in findings] == [3, 4]
    for f in findings:
        assert f["lead"] == pytest.approx(f["resnet_val"] - f["standard_val"])
        assert f["verdict"] == ("resnet" if f["lead"] > rs.TIE else
                                "standard" if f["lead"] < -rs.TIE else "level")
    text = rs.resnet_paragraph("blobs", findings)
    assert "3 hidden layers" in text and "4 hidden layers" in text
    overall = rs.overall_findings({"blobs": findings})
    assert overall["comparisons"] == 2
    assert overall["resnet_wins"] + overall["standard_wins"] + overall["level"] == 2
    assert overall["deepest"] == 4
    assert "of 2 comparisons" in rs.overall_paragraph(overall)
    table = rs.accuracy_table(stats)
    assert table.count("\n") == 2 + len(stats) - 1
    assert "resnet 4 x 4" in rs.count_table(study["pairs"])
    for fig in (rs.curves_figure(study, "blobs"), rs.gradient_norms_figure(study, "blobs")):
        fig.savefig(tmp_path / "f.png")
        assert (tmp_path / "f.png").stat().st_size > 1000


def test_findings_verdict_on_made_up_runs():
    """A study whose ResNet runs are clearly better yields a 'resnet' verdict, separated."""
    from types import SimpleNamespace

    def run(val, seed, arch):
        h = SimpleNamespace(epoch=[1, 2], train_loss=[1.0, 0.5], val_acc=[val - 0.1, val])
        return SimpleNamespace(config={"seed": seed, "arch": arch, "depth": 3, "widths": None},
                               history=h, net=SimpleNamespace(n_params=100), seconds=1.0,
                               final=lambda v=val: {"val_acc": v, "train_acc": v})
    pairs = [{"label": "s", "arch": "standard", "layers": 3},
             {"label": "r", "arch": "resnet", "layers": 3}]
    study = {"pairs": pairs,
             "runs": {"s": [run(0.80, 0, "standard"), run(0.82, 1, "standard")],
                      "r": [run(0.95, 0, "resnet"), run(0.96, 1, "resnet")]},
             "norms": {"s": np.array([[1.0, 0.01, 1.0]]), "r": np.array([[1.0, 1.0, 1.0]])},
             "final_norms": {"s": np.array([[1.0, 0.001, 1.0]]),
                             "r": np.array([[1.0, 2.0, 1.0]])}}
    _, (f,) = rs.resnet_findings(study)
    assert f["verdict"] == "resnet" and f["separated"]
    assert f["lead"] == pytest.approx(0.145)
    assert f["resnet_reach"] == 2 and f["standard_reach"] is None
    assert f["standard_ratio"] == pytest.approx(0.01) and f["resnet_ratio"] == 1.0
    assert f["standard_final_ratio"] == pytest.approx(0.001) and f["resnet_final_ratio"] == 2.0
    assert "ResNet ends ahead" in rs.resnet_paragraph("x", [f])
    overall = rs.overall_findings({"x": [f]})
    assert overall["resnet_wins"] == 1 and overall["deep_mean_lead"] == pytest.approx(0.145)
    assert "vanishes in the deep standard network as it trains" in rs.overall_paragraph(overall)
    assert "1,000 times less" in rs.overall_paragraph(overall)


def test_rate_check_findings():
    main = [{"layers": 10, "standard_val": 0.97, "resnet_val": 0.97},
            {"layers": 20, "standard_val": 0.40, "resnet_val": 0.93}]
    recovered = [{"layers": 20, "standard_val": 0.93, "resnet_val": 0.934}]
    r = rs.rate_check_findings(main, recovered, 0.003, 0.001)
    assert r["recovers"] and r["main_gap"] == pytest.approx(0.53)
    assert "tolerance to the larger rate" in rs.rate_check_paragraph("x", r)
    stuck = [{"layers": 20, "standard_val": 0.50, "resnet_val": 0.93}]
    r = rs.rate_check_findings(main, stuck, 0.003, 0.001)
    assert not r["recovers"]
    assert "stays behind" in rs.rate_check_paragraph("x", r)


def test_notebook_has_its_section_and_sizes():
    """(The conventions every notebook keeps are checked in test_notebook_conventions.py.)"""
    _, sources, params = report_notebook("27_resnet_vs_standard")
    assert sources[0].splitlines()[0] == "# 2.7 ResNet vs standard network"
    assert params["datasets"] == ["swissroll", "peaks", "gmm"]
    assert len(params["seeds"]) >= 3 and all(10 <= d <= 20 for d in params["depths"])
