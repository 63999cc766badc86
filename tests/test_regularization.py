"""Section 2.5: the subset, the penalised and noisy runs, the findings and their text."""
import matplotlib
import numpy as np
import pytest

from scratchnet import regularization as rg
from scratchnet.train import History

matplotlib.use("Agg")


def noisy_labels(rng, m, flip=0.3):
    """Two Gaussian blobs in the plane with a fraction ``flip`` of labels flipped, so that a
    big network can memorise the training set but not generalize the flips."""
    y = rng.integers(0, 2, m)
    X = rng.standard_normal((2, m)) * 0.6 + np.where(y == 0, -1.0, 1.0)
    flipped = rng.random(m) < flip
    y = np.where(flipped, 1 - y, y)
    return X, np.eye(2)[:, y]


def fake_run(lam, seed, train, val, train_curve=None, val_curve=None, noise=0.0):
    """A DecayRun with given final figures and curves, for the pure functions."""
    h = History()
    h.train_acc = list(train_curve if train_curve is not None else [train])
    h.val_acc = list(val_curve if val_curve is not None else [val])
    h.epoch = list(range(1, len(h.val_acc) + 1))
    whole = {"train_acc": train, "val_acc": val, "gap": train - val}
    return rg.DecayRun(lam, noise, seed, h, whole, 1.0, 0.0)


def test_balanced_subset_draws_equal_shares_without_repeats(rng):
    labels = rng.integers(0, 3, 500)
    C = np.eye(3)[:, labels]
    keep = rg.balanced_subset(C, 100, np.random.default_rng(0))
    assert len(keep) == 100 and len(np.unique(keep)) == 100
    counts = np.bincount(labels[keep], minlength=3)
    assert counts.tolist() == [34, 33, 33], counts
    again = rg.balanced_subset(C, 100, np.random.default_rng(0))
    assert np.array_equal(keep, again), "same seed, different subset"
    with pytest.raises(ValueError, match="class"):
        rg.balanced_subset(np.eye(3)[:, [0, 1, 2, 2]], 6, np.random.default_rng(0))


def test_weight_decay_shrinks_weights_and_the_gap(rng):
    Xt, Ct = noisy_labels(rng, 40)
    Xv, Cv = noisy_labels(rng, 400)
    settings = dict(depth=2, width=64, lr=0.02, batch_size=10, epochs=150, eval_size=None)
    sweep = rg.decay_sweep(Xt, Ct, Xv, Cv, [0.0, 1e-1], [0], **settings)
    free, penalised = sweep[0.0][0], sweep[0.1][0]
    assert free.whole["gap"] > 0.15, f"no overfitting to cure: {free.whole}"
    assert penalised.weight_norm < 0.5 * free.weight_norm, \
        f"weight norms {penalised.weight_norm:.2f} vs {free.weight_norm:.2f}"
    assert penalised.whole["gap"] < free.whole["gap"] - 0.05, (free.whole, penalised.whole)
    assert len(free.history.val_acc) == 150


def test_runs_are_seeded_and_share_initial_weights_across_penalties(rng):
    Xt, Ct = noisy_labels(rng, 40)
    Xv, Cv = noisy_labels(rng, 50)
    settings = dict(depth=1, width=8, lr=0.01, batch_size=10, epochs=3, eval_size=20)
    a = rg.train_regularized(Xt, Ct, Xv, Cv, lam=0.01, seed=3, **settings)
    b = rg.train_regularized(Xt, Ct, Xv, Cv, lam=0.01, seed=3, **settings)
    assert a.history.val_acc == b.history.val_acc and a.whole == b.whole
    # One epoch at a tiny rate: the runs of two penalties start from the same weights.
    tiny = dict(settings, lr=1e-12, epochs=1)
    c = rg.train_regularized(Xt, Ct, Xv, Cv, lam=0.0, seed=3, **tiny)
    d = rg.train_regularized(Xt, Ct, Xv, Cv, lam=1.0, seed=3, **tiny)
    assert c.weight_norm == pytest.approx(d.weight_norm, rel=1e-9)


def test_input_noise_trains_and_is_measured_on_clean_data(rng):
    Xt, Ct = noisy_labels(rng, 50, flip=0.0)
    Xv, Cv = noisy_labels(rng, 80, flip=0.0)
    settings = dict(depth=1, width=16, lr=0.02, batch_size=10, epochs=15, eval_size=None)
    run = rg.train_regularized(Xt, Ct, Xv, Cv, noise=0.2, seed=0, **settings)
    assert run.noise == 0.2
    assert run.whole["train_acc"] == pytest.approx(run.history.train_acc[-1])
    assert run.whole["val_acc"] == pytest.approx(run.history.val_acc[-1])
    assert run.whole["val_acc"] > 0.85, run.whole
    clean = rg.train_regularized(Xt, Ct, Xv, Cv, noise=0.0, seed=0, **settings)
    assert clean.history.train_loss != run.history.train_loss, "noise changed nothing"


def test_run_stats_means_gaps_and_best_epoch():
    runs = [fake_run(0.0, 0, 1.0, 0.8, val_curve=[0.7, 0.9, 0.8]),
            fake_run(0.0, 1, 0.9, 0.8, val_curve=[0.7, 0.8, 0.8])]
    s = rg.run_stats(runs)
    assert s["train_acc_mean"] == pytest.approx(0.95)
    assert s["gap_mean"] == pytest.approx(0.15) and s["gap_std"] == pytest.approx(0.05)
    assert s["best_epoch"] == 2 and s["best_epoch_val_acc"] == pytest.approx(0.85)
    assert s["seeds"] == [0, 1]


def test_overfitting_findings_falling_stalling_and_healthy():
    rising = np.linspace(0.6, 1.0, 10)
    falling = [fake_run(0.0, 0, 1.0, 0.7, rising, [0.6, 0.7, 0.8, 0.8, 0.8, 0.79, 0.78, 0.75,
                                                   0.72, 0.7])]
    f = rg.overfitting_findings(falling)
    assert f["overfits"] and f["falls"] and f["peak_epoch"] == 3
    assert f["val_drop"] == pytest.approx(0.1)
    stalled = [fake_run(0.0, 0, 1.0, 0.8, rising, [0.6, 0.7, 0.79, 0.8, 0.8, 0.8, 0.8, 0.8,
                                                   0.8, 0.8])]
    f = rg.overfitting_findings(stalled)
    assert f["overfits"] and f["stalls"] and not f["falls"]
    still_rising = [fake_run(0.0, 0, 1.0, 0.9, rising, np.linspace(0.5, 0.9, 10))]
    f = rg.overfitting_findings(still_rising)
    assert not f["overfits"] and f["gap"] == pytest.approx(0.1)
    assert "still rises" in rg.overfitting_paragraph("x", f)
    healthy = [fake_run(0.0, 0, 1.0, 0.98, rising, np.linspace(0.58, 0.98, 10))]
    f = rg.overfitting_findings(healthy)
    assert not f["overfits"], f
    assert "no clear overfitting" in rg.overfitting_paragraph("x", f)


def stats_of(table):
    """{lam: run_stats} from {lam: (train, val)} of a single seed."""
    return {lam: rg.run_stats([fake_run(lam, 0, tr, va)]) for lam, (tr, va) in table.items()}


def test_decay_findings_when_the_penalty_helps():
    stats = stats_of({0.0: (1.0, 0.80), 1e-3: (0.97, 0.84), 1e-1: (0.60, 0.55)})
    f = rg.decay_findings(stats)
    assert f["helps"] and f["best"] == 1e-3 and f["gain"] == pytest.approx(0.04)
    assert f["closes"] and f["closing"] == [1e-3]
    assert f["harmful"] == [1e-1]
    text = rg.decay_paragraph("peaks", f)
    assert "80.0% to 84.0%" in text and "+4.0 points" in text and "10^{-3}" in text
    assert "10^{-1}" in text


def test_decay_findings_when_it_does_not_help():
    # The gap narrows only because the training accuracy falls: no help, no closing.
    stats = stats_of({0.0: (0.99, 0.87), 1e-4: (0.99, 0.868), 1e-2: (0.55, 0.49)})
    f = rg.decay_findings(stats)
    assert not f["helps"] and not f["closes"] and f["best"] == 1e-4
    assert f["narrowest"] == 1e-2 and f["harmful"] == [1e-2]
    text = rg.decay_paragraph("swissroll", f)
    assert "does not help" in text and "underfitting" in text and "-0.2 points" in text


def test_a_gain_within_the_seeds_spread_does_not_count():
    base = rg.run_stats([fake_run(0.0, 0, 1.0, 0.80), fake_run(0.0, 1, 1.0, 0.84)])
    better = rg.run_stats([fake_run(1e-3, 0, 1.0, 0.83), fake_run(1e-3, 1, 1.0, 0.83)])
    assert rg.margin(base, better, "val_acc") == pytest.approx(0.02)
    f = rg.decay_findings({0.0: base, 1e-3: better})
    assert f["gain"] == pytest.approx(0.01) and not f["helps"], f
    f = rg.noise_findings(base, better)
    assert not f["helps"] and not f["hurts"] and "no gain" in rg.noise_paragraph("x", f)


def test_noise_findings_and_text():
    base = rg.run_stats([fake_run(0.0, 0, 0.99, 0.83)])
    better = rg.run_stats([fake_run(0.0, 0, 0.96, 0.85, noise=0.1)])
    f = rg.noise_findings(base, better)
    assert f["helps"] and f["closes"] and f["gain"] == pytest.approx(0.02)
    assert "it helps" in rg.noise_paragraph("peaks", f)
    worse = rg.run_stats([fake_run(0.0, 0, 0.80, 0.75, noise=0.1)])
    f = rg.noise_findings(base, worse)
    assert f["hurts"] and not f["closes"]
    table = rg.noise_table({"peaks": (base, better)})
    assert "| peaks | 99.0% | 83.0% | 16.0 | 96.0% | 85.0% $\\pm$ 0.0 | 11.0 | +2.0 |" in table, \
        table


def test_labels_table_and_figure():
    assert rg.lam_label(0.0) == "$0$" and rg.lam_label(1e-3) == "$10^{-3}$"
    assert rg.lam_eq(0.003) == "$\\lambda = 3 \\cdot 10^{-3}$"
    assert rg.lam_tex(2.5e-4) == "2.5 \\cdot 10^{-4}" and rg.lam_tex(1.0) == "10^{0}"
    stats = stats_of({0.0: (1.0, 0.8), 1e-2: (0.9, 0.85)})
    table = rg.decay_table(stats)
    assert table.count("\n") == 3 and "| $10^{-2}$ | 90.0%" in table
    assert "| 85.0% (1) |" in table, table
    runs = {0.0: [fake_run(0.0, 0, 1.0, 0.8, [0.5, 1.0], [0.5, 0.8])],
            1e-2: [fake_run(1e-2, 0, 0.9, 0.85, [0.5, 0.9], [0.5, 0.85])],
            1e-1: [fake_run(1e-1, 0, 0.3, 0.3, [0.3, 0.3], [0.3, 0.3])]}
    stats = rg.decay_stats(runs)
    fig = rg.decay_figure(runs, stats, title="t")
    left, right = fig.axes[:2]
    assert len(left.lines) == 6
    assert 40 < left.get_ylim()[0] < 50, f"frame {left.get_ylim()}: the collapsed run framed?"
    assert [t.get_text() for t in right.get_xticklabels()] == ["$0$", "$10^{-2}$",
                                                               "$10^{-1}$"]
