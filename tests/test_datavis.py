"""Pictures of the data sets."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from scratchnet import datavis  # noqa: E402
from scratchnet.data import Dataset  # noqa: E402


def make_dataset(rng, name="gmm", n=5, k=5, m=400, m_val=100, source="course file"):
    def split(size):
        X = rng.standard_normal((n, size))
        C = np.eye(k)[:, rng.integers(0, k, size)]
        return X, C

    Xt, Ct = split(m)
    Xv, Cv = split(m_val)
    return Dataset(name=name, Xt=Xt, Ct=Ct, Xv=Xv, Cv=Cv, source=source, path="/x.mat",
                   sha256="ab" * 32)


def test_project_2d_keeps_2d_data_and_finds_the_main_directions(rng):
    X2 = rng.standard_normal((2, 50))
    Z, explained = datavis.project_2d(X2)
    assert explained is None and np.array_equal(Z, X2)

    # Variance 9 along e3 and 4 along e1, 0.01 elsewhere: the two components are e3 then e1.
    X = 0.1 * rng.standard_normal((5, 2000))
    X[2] = 3 * rng.standard_normal(2000)
    X[0] = 2 * rng.standard_normal(2000)
    Z, explained = datavis.project_2d(X)
    assert Z.shape == (2, 2000)
    assert explained[0] > explained[1] > 0.2 and explained.sum() < 1
    centred = X - X.mean(axis=1, keepdims=True)
    assert abs(np.corrcoef(Z[0], centred[2])[0, 1]) > 0.99
    assert abs(np.corrcoef(Z[1], centred[0])[0, 1]) > 0.99


def test_project_2d_sign_does_not_depend_on_the_sample_order(rng):
    X = rng.standard_normal((4, 300)) * np.array([[3.0], [2.0], [1.0], [0.5]])
    perm = rng.permutation(300)
    Z, _ = datavis.project_2d(X)
    Zp, _ = datavis.project_2d(X[:, perm])
    np.testing.assert_allclose(Zp, Z[:, perm], atol=1e-10)


def test_class_counts(rng):
    ds = make_dataset(rng)
    counts = datavis.class_counts(ds.Ct)
    assert counts.sum() == ds.m_train and counts.shape == (5,)
    np.testing.assert_array_equal(counts, np.bincount(np.argmax(ds.Ct, axis=0), minlength=5))


def test_plot_datasets_draws_one_panel_per_set(rng):
    data = {"swissroll": make_dataset(rng, name="swissroll", n=2, k=2),
            "gmm": make_dataset(rng)}
    fig, explained = datavis.plot_datasets(data, max_points=150, seed=1)
    try:
        assert len(fig.axes) == 2
        assert explained["swissroll"] is None and explained["gmm"].shape == (2,)
        points = sum(len(c.get_offsets()) for c in fig.axes[1].collections)
        assert points == 150
        assert "PC 1" in fig.axes[1].get_xlabel()
    finally:
        matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("m, cap", [(10, 20), (100, 20)])
def test_subsample(rng, m, cap):
    idx = datavis.subsample(m, cap, rng)
    assert len(idx) == min(m, cap) and len(set(idx)) == len(idx) and np.all(np.diff(idx) > 0)
