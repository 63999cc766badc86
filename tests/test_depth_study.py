"""Section 2.4's study of depths and the closing summary: the numbers, the text, the JSON."""
import json

import matplotlib
import numpy as np
import pytest

from scratchnet import depth_study as ds
from scratchnet.data import Dataset

from helpers import report_notebook

matplotlib.use("Agg")


def blobs(rng, m=240, m_val=80):
    """Two separable Gaussian blobs in the plane, columns are samples."""
    def draw(size):
        y = rng.integers(0, 2, size)
        X = rng.standard_normal((2, size)) * 0.4 + np.where(y == 0, -1.0, 1.0)
        return X, np.eye(2)[:, y]
    Xt, Ct = draw(m)
    Xv, Cv = draw(m_val)
    return Dataset(name="blobs", Xt=Xt, Ct=Ct, Xv=Xv, Cv=Cv, source="test", path="/x/b.mat",
                   sha256="0" * 64)


FAST = dict(epochs=3, batch_size=32, lr=0.01, width=4)


def test_labels_and_descriptions():
    assert ds.config_label({"depth": 3, "width": 32, "widths": None}) == "depth 3 x 32"
    assert ds.config_label({"depth": 3, "width": 32, "widths": [16, 32, 64]}) == \
        "widths 16-32-64"
    assert ds.config_depth({"depth": 5, "widths": None}) == 5
    assert ds.config_depth({"depth": 5, "widths": [4, 8]}) == 2
    assert ds.describe_config({}) == ("standard 3 x 64, tanh, adam 0.001, cosine, batch 64, "
                                      "60 epochs")


def test_train_config_is_seeded_and_learns(rng):
    data = blobs(rng)
    a = ds.train_config({**FAST, "depth": 2, "seed": 1}, data)
    b = ds.train_config({**FAST, "depth": 2, "seed": 1}, data)
    c = ds.train_config({**FAST, "depth": 2, "seed": 2}, data)
    assert a.final() == b.final(), "the same seed gave two different runs"
    assert not np.array_equal(a.net.theta, c.net.theta), "two seeds gave the same weights"
    assert a.final()["val_acc"] > 0.9, f"separable blobs only reached {a.final()['val_acc']}"
    assert a.config["data"] == "blobs" and len(a.history.epoch) == 3
    # A subsample for the curves changes neither the training nor the final figures.
    sub = ds.train_config({**FAST, "depth": 2, "seed": 1, "eval_size": 10}, data)
    assert sub.history.eval_size == 10 and sub.final() == a.final()
    assert np.array_equal(sub.net.theta, a.net.theta)
    assert sub.final()["val_acc"] == sub.net.evaluate(data.Xv, data.Cv)[1]


def test_depth_study_and_aggregate(rng):
    data = blobs(rng)
    study = ds.depth_study(data, [{"depth": 1}, {"widths": [2, 4]}], seeds=[0, 1, 2], **FAST)
    assert list(study) == ["depth 1 x 4", "widths 2-4"]
    assert all(len(runs) == 3 for runs in study.values())
    stats = ds.aggregate(study["widths 2-4"])
    accs = [r.final()["val_acc"] for r in study["widths 2-4"]]
    assert stats["val_accs"] == accs and stats["seeds"] == [0, 1, 2]
    assert stats["val_acc_mean"] == pytest.approx(np.mean(accs))
    assert stats["val_acc_std"] == pytest.approx(np.std(accs))
    assert stats["val_acc_min"] <= stats["val_acc_mean"] <= stats["val_acc_max"]
    # 2x2 + 2, 4x2 + 4, head 2x4 + 2
    assert stats["depth"] == 2 and stats["n_params"] == 6 + 12 + 10
    record = ds.best_network_record(study["depth 1 x 4"])
    assert record["label"] == "depth 1 x 4" and "standard 1 x 4, tanh" in record["config"]
    assert len(record["val_accs"]) == 3 and json.dumps(record)
    table = ds.headline_table({"blobs": record}, {"blobs": {k: ds.aggregate(r)
                                                            for k, r in study.items()}})
    line = table.splitlines()[2]
    assert line.startswith("| blobs | " + " / ".join(f"{100 * a:.2f}"
                                                    for a in record["val_accs"]))
    assert "seeds 0, 1, 2" in table.splitlines()[0]


def stat(depth, val, train=None, widths=None, std=0.001, n_params=100):
    return {"config": {"depth": depth, "width": 32, "widths": widths}, "depth": depth,
            "val_acc_mean": val, "val_acc_std": std, "val_acc_min": val - std,
            "val_acc_max": val + std, "train_acc_mean": val + 0.002 if train is None else train,
            "train_acc_std": std, "n_params": n_params, "seconds": 1.0}


def test_depth_findings_and_paragraph():
    stats = {"depth 1 x 32": stat(1, 0.60), "depth 2 x 32": stat(2, 0.95),
             "depth 3 x 32": stat(3, 0.970), "depth 5 x 32": stat(5, 0.971),
             "depth 8 x 32": stat(8, 0.940),
             "widths 16-32-64": stat(3, 0.9725, widths=[16, 32, 64], n_params=300)}
    f = ds.depth_findings(stats)
    assert f["best"] == "widths 16-32-64" and f["best_fixed"] == "depth 5 x 32"
    assert f["enough"] == "depth 3 x 32" and f["enough_depth"] == 3
    assert f["depth_gain"] == pytest.approx(0.371) and f["deepest_loses"]
    assert f["grown"][0]["against"] == "depth 3 x 32"
    assert f["grown"][0]["gain"] == pytest.approx(0.0025)
    text = ds.depth_paragraph("peaks", f)
    assert f["level"] == ["depth 5 x 32"]
    for piece in ("97.25%", "widths 16-32-64; 1 other is within 0.2 points of it "
                  "(depth 5 x 32)", "Depth helps", "+37.10 points",
                  "stops helping at 3 hidden layers: depth 3 x 32 (97.00%)", "falls back to 94.00%", "better than",
                  "no configuration overfits"):
        assert piece in text, piece
    flat = ds.depth_findings({"depth 1 x 32": stat(1, 0.97, train=0.99),
                              "depth 3 x 32": stat(3, 0.971)})
    text = ds.depth_paragraph("gmm", flat)
    assert "Depth does not help" in text and "stops helping" not in text
    assert "some overfitting" in text and "falls back" not in text
    deepest = ds.depth_findings({"depth 1 x 32": stat(1, 0.6), "depth 3 x 32": stat(3, 0.9)})
    assert "more depth may still help" in ds.depth_paragraph("s", deepest)
    middle = ds.depth_findings({"depth 1 x 32": stat(1, 0.6), "depth 3 x 32": stat(3, 0.9),
                                "depth 5 x 32": stat(5, 0.85)})
    text = ds.depth_paragraph("s", middle)
    assert "3 hidden layers is where more depth stops helping" in text and "falls back" in text


def test_depth_table_rows():
    table = ds.depth_table({"depth 3 x 32": stat(3, 0.97, std=0.0012, n_params=2000)})
    row = table.splitlines()[2]
    assert row == ("| depth 3 x 32 | 3 | 2000 | 97.00 $\\pm$ 0.12 | 96.88 - 97.12 | "
                   "97.20 $\\pm$ 0.12 | 1.0 |")


class HalfPlane:
    """A stand-in network: class 1 where x1 + 2 x2 > 0."""

    def predict(self, X):
        return (X[0] + 2 * X[1] > 0).astype(int)


def test_decision_grid_orientation_and_box():
    X = np.array([[-1.0, 1.0, 0.0], [-2.0, 0.0, 2.0]])
    xs, ys, labels = ds.decision_grid(HalfPlane(), X, resolution=11, margin=0.1)
    assert labels.shape == (11, 11)
    assert xs[0] == pytest.approx(-1.2) and xs[-1] == pytest.approx(1.2)
    assert ys[0] == pytest.approx(-2.4) and ys[-1] == pytest.approx(2.4)
    expected = (xs[None, :] + 2 * ys[:, None] > 0).astype(int)
    assert np.array_equal(labels, expected), "labels[i, j] must be the class at (xs[j], ys[i])"
    with pytest.raises(ValueError, match="2-D"):
        ds.decision_grid(HalfPlane(), np.zeros((3, 4)))


def test_figures_draw(rng):
    data = blobs(rng, m=60, m_val=20)
    study = ds.depth_study(data, [{"depth": 1}, {"depth": 2}], seeds=[0], **FAST)
    fig = ds.curves_figure(study, title="t")
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 4
    grid = ds.decision_grid(study["depth 1 x 4"][0].net, data.Xv, resolution=20)
    fig = ds.decision_regions_figure([("a", grid), ("b", grid)], data.Xv, data.Cv)
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "b"


def write(path, data):
    path.write_text(json.dumps(data))


SOFTMAX = {"optimizer": "momentum", "schedule": "cosine",
           "optimum": {"peaks": {"val_acc": 0.566, "train_acc": 0.572},
                       "gmm": {"val_acc": 0.493, "train_acc": 0.488}},
           "best": {"peaks": {"lr": 0.001, "batch_size": 16, "epochs": 40, "val_acc": 0.5664,
                              "train_acc": 0.5726}}}
NETWORK = {"best_network": {"peaks": {"config": "standard, 3 hidden layers of width 64",
                                      "label": "depth 3 x 64", "val_acc_mean": 0.934,
                                      "val_acc_std": 0.0005, "val_accs": [0.9347, 0.9341,
                                                                          0.9334]}}}


def test_summary_reads_the_json_and_tolerates_missing_pieces(tmp_path):
    write(tmp_path / "13_softmax_sgd.json", SOFTMAX)
    write(tmp_path / "24_network_training.json", NETWORK)
    write(tmp_path / "26_optimizers.json", {"summary": {"peaks": {
        "label": "Adam with a cosine rate", "val_acc_mean": 0.9345, "val_acc_std": 0.001}}})
    write(tmp_path / "27_resnet.json", {"other": 1})
    (tmp_path / "broken.json").write_text("{not json")
    rows = ds.summary_rows(tmp_path)
    assert list(rows) == ["peaks", "gmm"]
    assert rows["peaks"]["softmax"]["config"] == "momentum 0.001, cosine, batch 16, 40 epochs"
    assert rows["gmm"]["network"] is None and rows["gmm"]["softmax"] is None
    assert list(rows["peaks"]["extras"]) == ["26_optimizers"]
    table = ds.summary_table(rows).splitlines()
    assert table[2] == ("| peaks | 56.60 | 56.64 | momentum 0.001, cosine, batch 16, 40 epochs "
                        "| 93.40 $\\pm$ 0.05 (93.34 - 93.47, 3 seeds) | "
                        "standard, 3 hidden layers of width 64 |")
    assert table[3] == "| gmm | 49.30 | n/a | n/a | n/a | n/a |"
    text = ds.summary_paragraph(rows)
    assert "36.8 points above the linear optimum's 56.60%" in text
    assert "Section 2.6 offers Adam with a cosine rate: 93.45%, level with it." in text
    assert "On **gmm** no network result was found." in text
    assert ds.summary_rows(tmp_path / "missing") == {}


NOTEBOOKS = {"24_network_training": "# 2.4 Training the network", "28_summary": "# Summary of the results"}


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_notebooks_have_their_sections_and_data_sets(stem):
    """(The conventions every notebook keeps are checked in test_notebook_conventions.py.)"""
    _, sources, params = report_notebook(stem)
    assert sources[0].splitlines()[0] == NOTEBOOKS[stem]
    assert params["datasets"] == ["swissroll", "peaks", "gmm"]
