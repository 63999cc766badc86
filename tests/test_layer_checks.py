"""Sections 2.1-2.3: the layer and network checks return data that tells a right derivative
from a wrong one, and the text and figures built from that data say what it holds."""
import ast
import json
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from scratchnet import layer_checks as lc  # noqa: E402
from scratchnet.data import Dataset  # noqa: E402
from scratchnet.layers import ResidualLayer, StandardLayer  # noqa: E402

from helpers import one_hot  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PART = {
    "21_standard_layer": "# 2.1 The standard layer",
    "22_residual_layer": "# 2.2 The residual layer",
    "23_network_gradient_test": "# 2.3 The gradient test of the whole network",
}


def fake_dataset(rng, n=3, k=4, m=60):
    Xt = rng.standard_normal((n, m))
    Xv = rng.standard_normal((n, m // 2))
    return Dataset("fake", Xt, one_hot(rng.integers(0, k, m), k), Xv,
                   one_hot(rng.integers(0, k, m // 2), k), source="test", path="", sha256="")


@pytest.fixture
def data(rng):
    return {"a": fake_dataset(rng, n=2, k=2), "b": fake_dataset(rng, n=5, k=5)}


def test_data_batch_takes_distinct_training_columns(rng, data):
    X, C = lc.data_batch(data["b"], 20, rng)
    assert X.shape == (5, 20) and C.shape == (5, 20)
    cols = {tuple(x) for x in X.T}
    assert len(cols) == 20 and cols <= {tuple(x) for x in data["b"].Xt.T}
    assert lc.data_batch(data["b"], 10_000, rng)[0].shape == (5, 60)


def test_make_layer_shapes_and_nonzero_bias(rng):
    standard = lc.make_layer("standard", 3, 8, rng)
    assert isinstance(standard, StandardLayer) and standard.params["W"].shape == (8, 3)
    residual = lc.make_layer("residual", 3, 8, rng)
    assert isinstance(residual, ResidualLayer) and residual.params["W1"].shape == (3, 3)
    for layer in (standard, residual):
        assert np.all(layer.params["b"] != 0)
    with pytest.raises(ValueError, match="unknown layer kind"):
        lc.make_layer("conv", 3, 8, rng)


@pytest.mark.parametrize("kind", ["standard", "residual"])
def test_layer_checks_pass_and_w2_is_linear(rng, data, kind):
    checks = lc.layer_checks(kind, data, rng, width=6, batch=30, draws=3)
    targets = lc.STANDARD_TARGETS if kind == "standard" else lc.RESIDUAL_TARGETS
    for name, check in checks.items():
        assert tuple(check["summary"]) == targets
        for target, s in check["summary"].items():
            assert s["passes"], (kind, name, target, s)
            assert s["linear"] == (kind == "residual" and target == "W2")
            if s["linear"]:
                assert s["clean_rows_second"] == 0 and s["max_second_over_floor"] < 1
            else:
                assert abs(s["order_second"] - 2) < 0.1 and s["clean_rows_second"] > 6
            assert abs(s["order_first"] - 1) < 0.1
        for target, draws in check["transpose"].items():
            assert draws["relative"].shape == (3,)
            assert check["transpose_summary"][target]["passes"]
            assert check["transpose_summary"][target]["max_relative"] < 1e-14
    assert "All" in lc.jacobian_verdicts(checks) and "fail" not in lc.jacobian_verdicts(checks)


class WrongBackward(StandardLayer):
    """A layer whose backward forgets the activation's derivative for W: J^T u is wrong."""

    def backward(self, dY, need_dX=True):
        dX = super().backward(dY, need_dX)
        X, _ = self._cache
        self.grads["W"][...] = dY @ X.T
        return dX


class WrongJvp(StandardLayer):
    """A layer whose jvp in W has a wrong factor: J d is wrong, so the Jacobian test fails."""

    def jvp(self, V):
        return 1.01 * super().jvp(V)


def test_checks_catch_a_wrong_backward_and_a_wrong_jvp(rng):
    X = rng.standard_normal((3, 20))
    layer = WrongBackward(3, 5, rng=rng)
    draws = lc.layer_transpose_tests(layer, X, ["W", "X"], rng, draws=4)
    assert not lc.transpose_summary(draws["W"])["passes"]
    assert lc.transpose_summary(draws["X"])["passes"]
    checks = {"x": {"transpose": draws,
                    "transpose_summary": {t: lc.transpose_summary(d) for t, d in draws.items()}}}
    assert "4 draws exceed" in lc.transpose_verdict(checks)
    assert "| no |" in lc.transpose_table(checks) and "| yes |" in lc.transpose_table(checks)

    wrong = lc.layer_jacobian_tests(WrongJvp(3, 5, rng=rng), X, ["W"], rng)["W"]
    summary = lc.jacobian_summary(wrong)
    assert not summary["passes"] and abs(summary["order_second"] - 1) < 0.2
    assert "fails" in lc.jacobian_verdict("W", summary)
    # A wrong J d is not rescued by calling the target linear either.
    assert not lc.jacobian_summary(wrong, linear=True)["passes"]


def test_jacobian_summary_of_a_smooth_target_called_linear_fails(rng):
    X = rng.standard_normal((2, 20))
    result = lc.layer_jacobian_tests(lc.make_layer("residual", 2, 0, rng), X, ["W1"], rng)["W1"]
    assert lc.jacobian_summary(result)["passes"]
    assert not lc.jacobian_summary(result, linear=True)["passes"]


def test_jacobian_table_and_verdict_quote_the_numbers(rng, data):
    checks = lc.layer_checks("residual", {"a": data["a"]}, rng, batch=20, draws=2)
    table = lc.jacobian_table(checks).splitlines()
    assert len(table) == 2 + 4
    w2 = next(line for line in table if "$W_2$" in line)
    assert "round-off" in w2 and w2.endswith("| yes (linear) |")
    text = lc.jacobian_verdicts(checks)
    assert "linear in this target" in text and text.endswith("All 4 Jacobian tests pass.")
    smooth = [s for t, s in checks["a"]["summary"].items() if t != "W2"]
    orders = lc.value_range([s["order_second"] for s in smooth])
    assert f"The 3 passing tests" in text and orders in text
    transpose = lc.transpose_verdict(checks)
    assert "Over 8 draws" in transpose and "round-off" in transpose


def test_network_gradient_tests_cover_every_depth_and_architecture(rng, data):
    results, sizes = lc.network_gradient_tests(data["b"], rng, depths=(1, 3), width=4, batch=20)
    assert set(results) == {"standard", "resnet"} and set(results["resnet"]) == {1, 3}
    # standard: 5*4+4 per first layer, 4*4+4 per further layer, head 4*5+5
    assert sizes["standard"][1] == 24 + 25 and sizes["standard"][3] == 24 + 2 * 20 + 25
    summaries = lc.network_summaries(results)
    assert all(s["passes"] for by_depth in summaries.values() for s in by_depth.values())
    table = lc.network_summary_table({"b": summaries}, {"b": sizes})
    assert len(table.splitlines()) == 2 + 4 and "| b | resnet | 3 |" in table
    verdict = lc.network_verdict({"b": summaries})
    assert verdict.endswith("All 4 pass: the gradient of the whole network is correct.")


def test_network_verdict_names_a_failure():
    good = {"order_first": 1.0, "order_second": 2.0, "clean_rows_second": 15, "passes": True}
    bad = dict(good, order_second=1.0, passes=False)
    text = lc.network_verdict({"gmm": {"standard": {1: good, 5: bad}}})
    assert "1 of 2 fail: standard L=5 on gmm." in text
    assert "orders are 1.000 (first) and 1.000 to 2.000 (second)" in text


def test_value_range_collapses_equal_values():
    assert lc.value_range([1.0001, 0.9999]) == "1.000"
    assert lc.value_range([2, 1.5], ".1f") == "1.5 to 2.0"
    assert lc.value_range([14, 17], "d") == "14 to 17"


def test_jacobian_verdicts_name_each_failure_and_summarize_the_rest():
    good = {"linear": False, "passes": True, "median_ratio_first": 2.0,
            "median_ratio_second": 4.0, "order_first": 1.0, "order_second": 2.0,
            "clean_rows_second": 15}
    bad = dict(good, passes=False, median_ratio_second=2.0, order_second=1.0)
    text = lc.jacobian_verdicts({"peaks": {"summary": {"W": good, "b": good, "X": bad}}})
    assert text.startswith("The 2 passing tests") and "median ratios 2.00 and 4.00" in text
    assert "**Jacobian in $X$, peaks** fails" in text
    assert text.endswith("1 of 3 Jacobian tests fail: Jacobian in $X$, peaks.")


def test_randomize_biases_touches_only_biases(rng):
    from scratchnet import make_network
    net = make_network("resnet", 2, 3, depth=2, width=4, seed=rng)
    weights = {k: v.copy() for k, v in net.params.items() if not k.endswith(".b")}
    lc.randomize_biases(net, rng)
    assert all(np.all(v != 0) for k, v in net.params.items() if k.endswith(".b"))
    assert all(np.array_equal(net.params[k], v) for k, v in weights.items())


def test_figures_have_a_panel_per_target_and_per_architecture(rng, data):
    checks = lc.layer_checks("residual", {"a": data["a"]}, rng, batch=20, draws=1)
    fig = lc.jacobian_test_figure(checks["a"]["jacobian"], linear=("W2",), title="t")
    axes = fig.get_axes()
    assert len(axes) == 8
    titles = [ax.get_title() for ax in axes[:4]]
    assert titles == ["Jacobian in $X$", "Jacobian in $W_1$", "Jacobian in $W_2$ (linear)",
                      "Jacobian in $b$"]
    # The W2 ratio panel draws the first-order ratio only: a ratio of round-off means nothing.
    assert len(axes[6].get_lines()) == 1 + 2 and len(axes[5].get_lines()) == 2 + 2
    results, _ = lc.network_gradient_tests(data["a"], rng, depths=(1, 2), width=3, batch=10)
    fig = lc.network_test_figure(results)
    assert [ax.get_title() for ax in fig.get_axes()] == ["standard", "resnet"]
    assert len(fig.get_axes()[0].get_lines()) == 2 * 2 + 1


def load(stem):
    return json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text())


def source(cell):
    return "".join(cell["source"])


@pytest.mark.parametrize("stem", PART)
def test_notebook_layout_and_clean_storage(stem):
    cells = load(stem)["cells"]
    assert source(cells[0]).splitlines()[0] == PART[stem]
    assert cells[1]["cell_type"] == "code" and "import" in source(cells[1])
    params = cells[2]
    assert params["metadata"].get("tags") == ["parameters"]
    values = {s.targets[0].id: ast.literal_eval(s.value) for s in ast.parse(source(params)).body}
    assert values["quick"] is False
    assert values["results_path"] == f"build/notebooks/{stem}.json"
    assert values["datasets"] == ["swissroll", "peaks", "gmm"]
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"{stem} cell {i}"
            assert not any(isinstance(node, (ast.FunctionDef, ast.Lambda))
                           for node in ast.walk(ast.parse(source(cell)))), f"{stem} cell {i}"
        else:
            assert not re.findall(r"[\u0370-\u03ff]", source(cell)), f"{stem} cell {i}: Greek"
    code = "\n".join(source(c) for c in cells if c["cell_type"] == "code")
    names = [ast.unparse(node.args[1]) for node in ast.walk(ast.parse(code))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "show_figure"]
    assert names and all(re.match(r"f?[\"']" + stem[:2] + "_", name) for name in names), names
