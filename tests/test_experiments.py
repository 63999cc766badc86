import json
import math

import numpy as np
import pytest

from scratchnet import experiments as ex
from scratchnet.data import Dataset
from scratchnet.optim import SGD, make_optimizer
from scratchnet.train import History
from scratchnet.verify import gradient_test, random_direction

from helpers import one_hot


def blobs(rng, m_train=300, m_val=120, n=2, k=3, spread=1.5):
    """A tiny data set: k overlapping Gaussian blobs in n dimensions, columns are samples
    (overlapping, so that the loss of softmax regression has a finite minimiser)."""
    centres = 2.0 * rng.standard_normal((n, k))

    def draw(m):
        labels = rng.integers(0, k, m)
        return centres[:, labels] + spread * rng.standard_normal((n, m)), one_hot(labels, k)

    Xt, Ct = draw(m_train)
    Xv, Cv = draw(m_val)
    return Dataset(name="blobs", Xt=Xt, Ct=Ct, Xv=Xv, Cv=Cv, source="look-alike", path="",
                   sha256="")


@pytest.fixture
def tiny(rng):
    return blobs(rng)


# 1.1

def test_softmax_gradient_tests_pass_on_every_target(rng, tiny):
    results = ex.softmax_gradient_tests(tiny, rng, batch=50)
    assert list(results) == ["W", "b", "X"]
    for target, result in results.items():
        summary = ex.gradient_test_summary(result)
        assert summary["passes"], f"{target}: {summary}\n{result.format()}"
        assert abs(summary["median_ratio_second"] - 4) < 0.05, (target, summary)
        assert abs(summary["median_ratio_first"] - 2) < 0.05, (target, summary)
        assert summary["clean_rows_second"] >= 7, (target, summary)


def test_gradient_test_leaves_the_batch_size_and_data_alone(rng, tiny):
    Xt = tiny.Xt.copy()
    results = ex.softmax_gradient_tests(tiny, rng, batch=10_000, targets=("X",), K=8)
    assert len(results["X"].eps) == 8
    np.testing.assert_array_equal(tiny.Xt, Xt)


def test_summary_of_a_wrong_gradient_says_it_fails(rng):
    A = rng.standard_normal((4, 4))
    A = A @ A.T
    x = rng.standard_normal(4)
    wrong = 1.5 * (A @ x)  # the gradient of x^T A x / 2 is A x
    result = gradient_test(lambda v: 0.5 * v @ A @ v, x, wrong, random_direction(4, rng))
    summary = ex.gradient_test_summary(result)
    assert not summary["passes"]
    assert abs(summary["order_second"] - 1) < 0.1, summary
    assert abs(summary["median_ratio_second"] - 2) < 0.1, summary


# 1.2

def test_least_squares_has_the_requested_spectrum_and_its_solution(rng):
    problem = ex.LeastSquares.random(rng, n=6, m=50, cond=30.0)
    mu, L = problem.curvature()
    assert mu == pytest.approx(1 / 30) and L == pytest.approx(1.0)
    np.testing.assert_allclose(np.linalg.eigvalsh(problem.hessian),
                               np.logspace(0, -np.log10(30), 6)[::-1], rtol=1e-10)
    # Without noise the targets are exactly linear, so the solution fits them exactly.
    np.testing.assert_allclose(problem.X.T @ problem.solution, problem.y, atol=1e-10)
    assert np.linalg.norm(problem.grad(problem.solution)) < 1e-12


def test_least_squares_gradient_matches_central_differences(rng):
    problem = ex.LeastSquares.random(rng, n=5, m=40, cond=10.0, noise=0.3)
    w = rng.standard_normal(5)
    idx = rng.choice(40, size=7, replace=False)
    h = 1e-6
    numeric = np.array([(problem.loss(w + h * e, idx) - problem.loss(w - h * e, idx)) / (2 * h)
                        for e in np.eye(5)])
    np.testing.assert_allclose(problem.grad(w, idx), numeric, rtol=1e-6, atol=1e-9)
    # With noise, the solution still zeroes the full gradient but no longer fits every target.
    assert np.linalg.norm(problem.grad(problem.solution)) < 1e-12
    assert problem.loss(problem.solution) > 1e-3


def test_minimize_gradient_descent_converges_at_the_predicted_rate(rng):
    problem = ex.LeastSquares.random(rng, n=8, m=60, cond=10.0)
    errors = ex.minimize(problem, SGD(1.0), np.zeros(8), iterations=150)
    assert errors.shape == (151,)
    assert errors[-1] < 1e-5 * errors[0], errors[-1]
    # Rate 1/L shrinks the slowest direction by 1 - mu/L = 0.9 per step; faster ones faster.
    assert 0.8 < ex.contraction(errors) <= 0.9 + 1e-6, ex.contraction(errors)


def test_minimize_in_mini_batches_is_seeded_and_applies_the_schedule(rng):
    problem = ex.LeastSquares.random(rng, n=4, m=100, cond=5.0)
    with pytest.raises(ValueError, match="rng"):
        ex.minimize(problem, SGD(0.1), np.zeros(4), iterations=5, batch_size=10)
    seen = []

    def schedule(epoch):
        seen.append(epoch)
        return 0.1

    runs = [ex.minimize(problem, SGD(0.1), np.zeros(4), iterations=25, batch_size=10,
                        rng=np.random.default_rng(7), schedule=schedule) for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert seen == [0, 1, 2] * 2
    assert runs[0][-1] < runs[0][0]


def test_contraction_of_a_geometric_sequence():
    assert ex.contraction(0.5 ** np.arange(30)) == pytest.approx(0.5)
    # Values at the floor (here exact zeros after 10 steps) are left out of the fit.
    assert ex.contraction(np.r_[0.8 ** np.arange(10), np.zeros(5)]) == pytest.approx(0.8)
    assert math.isnan(ex.contraction([1.0, 0.0]))


def test_heavy_ball_parameters():
    lr, beta = ex.heavy_ball_parameters(0.01, 1.0)
    assert lr == pytest.approx(4 / 1.1 ** 2) and beta == pytest.approx((0.9 / 1.1) ** 2)
    with pytest.raises(ValueError):
        ex.heavy_ball_parameters(2.0, 1.0)


def test_full_batch_comparison_matches_theory(rng):
    problem = ex.LeastSquares.random(rng, n=10, m=200, cond=100.0)
    curves, facts = ex.full_batch_comparison(problem, iterations=200)
    assert list(curves) == ["gradient descent", "heavy ball", "Nesterov", "heavy ball, tuned"]
    assert all(len(c) == 201 for c in curves.values())
    heavy, tuned = facts["heavy ball"], facts["heavy ball, tuned"]
    assert heavy["contraction"] == pytest.approx(heavy["predicted"], abs=0.01), heavy
    assert heavy["predicted"] == pytest.approx(math.sqrt(0.9))
    assert tuned["contraction"] == pytest.approx(tuned["predicted"], abs=0.03), tuned
    assert facts["Nesterov"]["predicted"] is None
    json.dumps(facts)
    gd = facts["gradient descent"]
    assert gd["contraction"] <= gd["predicted"] + 1e-9
    assert tuned["final"] < heavy["final"] < gd["final"], facts


def test_decaying_rate_beats_constant_rate_on_noisy_mini_batches(rng):
    problem = ex.LeastSquares.random(rng, n=5, m=200, cond=5.0, noise=1.0)
    curves, finals = ex.stochastic_comparison(problem, lr=0.1, batch_size=5, epochs=24,
                                              decay_every=4, rng=rng)
    assert set(curves) == {"SGD, constant rate", "SGD, decaying rate",
                           "heavy ball, constant rate", "heavy ball, decaying rate"}
    assert all(len(c) == 24 * 40 + 1 for c in curves.values())
    for rule in ("SGD", "heavy ball"):
        assert finals[f"{rule}, decaying rate"] < 0.5 * finals[f"{rule}, constant rate"], finals


# 1.3

def test_linear_optimum_has_zero_gradient_and_beats_sgd(rng, tiny):
    optimum = ex.linear_optimum(tiny)
    assert optimum.grad_norm < 1e-6, optimum
    net = ex.softmax_network(tiny)
    net.set_params(optimum.theta)
    loss, grad = net.loss_and_grad(tiny.Xt, tiny.Ct)
    assert loss == pytest.approx(optimum.train_loss) and np.linalg.norm(grad) < 1e-6
    assert net.evaluate(tiny.Xv, tiny.Cv)[1] == optimum.val_acc
    _, history = ex.train_softmax(tiny, lr=0.1, batch_size=16, epochs=5, seed=1)
    assert optimum.train_loss <= history.train_loss[-1] + 1e-12
    assert set(optimum.numbers()) == {"train_loss", "val_loss", "train_acc", "val_acc",
                                      "grad_norm", "iterations", "seconds"}


def test_train_softmax_is_seeded(tiny):
    runs = [ex.train_softmax(tiny, lr=0.05, batch_size=32, epochs=3, seed=4)[1].to_dict()
            for _ in range(2)]
    assert runs[0] == runs[1]
    assert runs[0]["epoch"] == [1, 2, 3]


def test_momentum_beta_is_make_optimizers():
    assert make_optimizer("momentum", 1.0).beta == ex.MOMENTUM_BETA
    assert make_optimizer("nesterov", 1.0).beta == ex.MOMENTUM_BETA


def test_sweep_returns_a_well_formed_grid(tiny):
    result = ex.sweep(tiny, [0.01, 0.3, 1e4], [16, 64], epochs=2, optimizer="sgd")
    assert result.val_acc.shape == (3, 2) and result.diverged.shape == (3, 2)
    assert result.diverged[2].all() and not result.diverged[:2].any(), result.diverged
    assert np.isnan(result.val_acc[2]).all() and np.isfinite(result.val_acc[:2]).all()
    assert ((result.val_acc[:2] >= 0) & (result.val_acc[:2] <= 1)).all()
    assert (result.seconds > 0).all()
    i, j = result.best()
    assert result.train_loss[i, j] == np.nanmin(result.train_loss)
    i, j = result.best("val_acc")
    assert result.val_acc[i, j] == np.nanmax(result.val_acc)
    assert result.setting((1, 0)) == (0.3, 16)
    record = json.loads(json.dumps(result.to_dict()))
    assert record["val_acc"][2] == [None, None] and record["diverged"][2] == [True, True]


def _grid(val_acc, train_loss, diverged=None, lrs=(0.01, 0.1), batch_sizes=(8, 64)):
    val_acc, train_loss = np.array(val_acc, float), np.array(train_loss, float)
    diverged = np.zeros(val_acc.shape, bool) if diverged is None else np.array(diverged)
    return ex.Sweep(lrs=list(lrs), batch_sizes=list(batch_sizes), epochs=3, train_acc=val_acc,
                    val_acc=val_acc, train_loss=train_loss, val_loss=train_loss,
                    diverged=diverged, seconds=np.ones(val_acc.shape))


def test_sweep_best_skips_diverged_runs_and_breaks_ties_by_loss():
    grid = _grid([[0.9, np.nan], [0.9, 0.5]], [[0.3, np.nan], [0.2, 0.1]],
                 diverged=[[False, True], [False, False]])
    assert grid.best() == (1, 1)
    assert grid.best("val_acc") == (1, 0)
    with pytest.raises(ValueError, match="rank by"):
        grid.best("accuracy")
    with pytest.raises(ValueError, match="diverged"):
        _grid([[np.nan]], [[np.nan]], diverged=[[True]], lrs=[1], batch_sizes=[1]).best()


def test_sweep_findings_name_the_right_cells():
    grid = _grid([[0.50, 0.60], [0.55, np.nan]], [[1.01, 1.30], [1.00001, np.nan]],
                 diverged=[[False, False], [False, True]])
    optimum = ex.LinearOptimum(theta=np.zeros(1), train_loss=1.0, val_loss=1.0, train_acc=0.55,
                               val_acc=0.56, grad_norm=0.0, iterations=1, seconds=0.0)
    f = ex.sweep_findings(grid, optimum, tol=1e-4)
    assert f["chosen"] == (0.1, 8) and f["chosen_excess"] == pytest.approx(1e-5)
    assert f["top_val_acc_setting"] == (0.01, 64) and f["top_val_acc"] == 0.60
    assert f["worst_setting"] == (0.01, 64) and f["worst_excess"] == pytest.approx(0.3)
    assert f["min_val_acc"] == 0.50 and f["runs"] == 3 and f["within_tol"] == 1
    assert f["diverged"] == [(0.1, 64)]
    assert f["closest_rate"] == {8: 0.1, 64: 0.01} and not f["closest_rate_grows"]
    json.dumps(f)


def _history(train_loss, val_acc, lr=None):
    n = len(train_loss)
    return History(epoch=list(range(1, n + 1)), lr=lr or [0.1] * n, train_loss=list(train_loss),
                   train_acc=list(val_acc), val_loss=list(train_loss), val_acc=list(val_acc))


def test_final_excess_losses_and_their_geometric_mean():
    optima = {name: ex.LinearOptimum(np.zeros(1), 1.0, 1.0, 0.5, 0.5, 0.0, 1, 0.0)
              for name in ("a", "b")}
    runs = {"a": {"SGD": _history([2.0, 1.01], [0.5, 0.5])},
            "b": {"SGD": _history([2.0, 1.0001], [0.5, 0.5])}}
    excess = ex.final_excess_losses(runs, optima)
    assert excess["SGD"]["a"] == pytest.approx(0.01)
    assert excess["SGD"]["geometric mean"] == pytest.approx(1e-3)


def test_plateau_and_best_epoch():
    history = _history([5, 4, 3, 2.5, 2.4, 2.35], [0.5, 0.7, 0.9, 0.8, 0.85, 0.85],
                       lr=[1, 1, 0.5, 0.5, 0.25, 0.25])
    change = ex.plateau(history, fraction=0.5)
    assert (change["from_epoch"], change["to_epoch"]) == (3, 6)
    assert change["train_loss_change"] == pytest.approx(-0.65)
    assert change["val_acc_change"] == pytest.approx(-0.05)
    assert (change["lr_from"], change["lr_to"]) == (0.5, 0.25)
    assert ex.best_epoch(history) == (3, 0.9)
    with pytest.raises(ValueError):
        ex.plateau(_history([1.0], [0.5]))


def test_train_to_convergence_doubles_until_no_gain(tiny):
    result = ex.train_to_convergence(tiny, lr=0.1, batch_size=32, epochs=2, max_epochs=64,
                                     tol=1e-2)
    epochs = [e for e, _ in result.runs]
    assert epochs == [2 * 2 ** i for i in range(len(epochs))]
    assert result.converged and len(result.history.epoch) == result.epochs
    gain = result.last_gain()
    assert -gain["train_loss"] < 1e-2
    # A tolerance no gain can meet runs up to the cap and says it did not converge.
    capped = ex.train_to_convergence(tiny, lr=0.1, batch_size=32, epochs=2, max_epochs=8,
                                     tol=-math.inf)
    assert [e for e, _ in capped.runs] == [2, 4, 8] and not capped.converged


def test_optimizer_comparison_runs_four_optimizers_on_the_same_batches(tiny):
    runs = ex.optimizer_comparison(tiny, lr=0.1, batch_size=32, epochs=2)
    assert list(runs) == ["SGD, rate 0.1", "SGD, rate 0.01", "heavy ball, rate 0.01",
                          "Nesterov, rate 0.01"]
    assert all(h.epoch == [1, 2] for h in runs.values())
    assert runs["heavy ball, rate 0.01"].lr[0] == pytest.approx(0.01)
