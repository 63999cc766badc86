"""The Part I notebooks (sections 1.1-1.3) as stored, and the text helpers they display with.

The notebooks themselves are executed by the report's pipeline; here their structure is
checked (what papermill and the merge rely on) and every name they import is resolved, so a
rename in the package fails here rather than half-way through `make report`.
"""
import ast
import importlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from scratchnet import report
from scratchnet.data import Dataset
from scratchnet.experiments import Convergence, LinearOptimum

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PART1 = {
    "11_softmax_gradient_test": "# 1.1 Softmax regression and its gradient test",
    "12_sgd": "# 1.2 SGD and SGD with momentum",
    "13_softmax_sgd": "# 1.3 Softmax regression trained by SGD",
}


def load(stem):
    return json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text())


def source(cell):
    return "".join(cell["source"])


@pytest.mark.parametrize("stem", PART1)
def test_notebook_layout(stem):
    cells = load(stem)["cells"]
    assert cells[0]["cell_type"] == "markdown"
    assert source(cells[0]).splitlines()[0] == PART1[stem]
    assert cells[1]["cell_type"] == "code" and "import" in source(cells[1])
    params = cells[2]
    assert params["cell_type"] == "code" and params["metadata"].get("tags") == ["parameters"]
    values = {}
    for statement in ast.parse(source(params)).body:
        assert isinstance(statement, ast.Assign), f"{stem}: not an assignment in parameters"
        # Literal defaults only: papermill replaces the cell, so nothing may be derived there.
        values[statement.targets[0].id] = ast.literal_eval(statement.value)
    assert values["quick"] is False
    assert values["results_path"] == f"build/notebooks/{stem}.json"
    assert values.get("datasets", ["swissroll", "peaks", "gmm"]) == ["swissroll", "peaks", "gmm"]
    assert sum("parameters" in c["metadata"].get("tags", []) for c in cells) == 1


@pytest.mark.parametrize("stem", PART1)
def test_notebook_is_stored_clean(stem):
    for i, cell in enumerate(load(stem)["cells"]):
        text = source(cell)
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"{stem} cell {i}"
            tree = ast.parse(text)
            assert not any(isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda))
                           for node in ast.walk(tree)), f"{stem} cell {i} defines a function"
        else:
            greek = re.findall(r"[\u0370-\u03ff]", text)
            assert not greek, f"{stem} cell {i}: raw Greek {greek} vanishes in the PDF; use LaTeX"
            assert "<table" not in text.lower(), f"{stem} cell {i}: HTML tables are dropped"


@pytest.mark.parametrize("stem", PART1)
def test_notebook_imports_resolve_and_figures_are_named_by_section(stem):
    code = "\n".join(source(c) for c in load(stem)["cells"] if c["cell_type"] == "code")
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module.startswith("scratchnet"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{stem}: {node.module}.{alias.name} missing"
    names = [node.args[1] for node in ast.walk(tree) if isinstance(node, ast.Call)
             and getattr(node.func, "id", None) == "show_figure"]
    assert names, f"{stem} shows no figure"
    for name in names:
        text = name.value if isinstance(name, ast.Constant) else ast.unparse(name)
        assert re.match(r"f?[\"']" + stem[:2] + "_", text) or text.startswith(stem[:2] + "_"), text


# The text helpers.

def test_markdown_table_formats_and_escapes():
    table = report.markdown_table(["name", "x", "ok"],
                                  [["a|b", 0.123456, True], ["c", float("nan"), False],
                                   ["d", None, np.bool_(True)]])
    lines = table.splitlines()
    assert lines[0] == "| name | x | ok |"
    assert lines[1] == "|:---|---:|:---|"
    assert lines[2] == r"| a\|b | 0.1235 | yes |"
    assert lines[3] == "| c | n/a | no |" and lines[4] == "| d | n/a | yes |"
    assert report.markdown_table(["x"], [[0.00016]], fmt=".1e").splitlines()[2] == "| 1.6e-04 |"
    with pytest.raises(ValueError, match="cells"):
        report.markdown_table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="align"):
        report.markdown_table(["a"], [[1]], align="x")


def test_records_table_and_percent():
    table = report.records_table({"r1": {"a": 1.5, "b": 2}, "r2": {"a": 3.0}},
                                 {"A": "a", "B": "b"}, label_header="row")
    assert table.splitlines() == ["| row | A | B |", "|:---|---:|---:|", "| r1 | 1.5 | 2 |",
                                  "| r2 | 3 | n/a |"]
    assert report.percent(0.5302) == "53.0%" and report.percent(0.5302, 2) == "53.02%"
    assert report.number(0.98765) == "0.9877" and report.number(None) == "n/a"
    assert report.number(float("nan"), ".1e") == "n/a"


def summary(passes=True, second=4.0):
    return {"order_first": 1.0, "order_second": 2.0 if passes else 1.0, "clean_rows_first": 18,
            "clean_rows_second": 15, "median_ratio_first": 2.0, "median_ratio_second": second,
            "passes": passes}


def test_gradient_verdicts_quote_the_ratios_and_count_failures():
    good = report.gradient_verdict("W", summary())
    assert "passes" in good and "2.00" in good and "4.00" in good and "15 rows" in good
    bad = report.gradient_verdict("b", summary(False, 2.01))
    assert "fails" in bad and "2.01" in bad
    text = report.gradient_verdicts({"peaks": {"W": summary(), "b": summary(False, 2.0)}})
    assert text.endswith("1 of 2 tests fail: Gradient in $b$, peaks.")
    assert report.gradient_verdicts({"gmm": {"X": summary()}}).endswith("All 1 tests pass.")
    table = report.gradient_summary_table({"peaks": {"W": summary()}})
    assert "| peaks | $W$ | 15 | 2.000 | 4.000 | 1.000 | 2.000 | yes |" in table


def findings(**changes):
    f = {"chosen": (0.01, 64), "chosen_val_acc": 0.55, "chosen_train_acc": 0.56,
         "chosen_excess": 1e-6, "top_val_acc": 0.57, "top_val_acc_setting": (0.1, 16),
         "top_val_acc_excess": 3e-3, "min_val_acc": 0.40, "runs": 15, "within_tol": 7,
         "tol": 1e-4, "worst_setting": (0.001, 1024), "worst_excess": 0.2,
         "worst_val_acc": 0.40, "diverged": [(1.0, 16)], "closest_rate": {16: 0.001, 64: 0.01},
         "closest_rate_grows": True, "optimum_val_acc": 0.56}
    f.update(changes)
    return f


def test_sweep_paragraph_quotes_the_findings():
    text = report.sweep_paragraph("peaks", findings())
    for piece in ("7 of the 15 runs", "rate 0.01 with batches of 64", "1.0e-06", "55.0%",
                  "from 40.0% to 57.0%", "rate 0.1 with batches of 16", "3.0e-03",
                  "Diverged: rate 1 with batches of 16.", "the larger the batch"):
        assert piece in text, piece
    same = report.sweep_paragraph("peaks", findings(top_val_acc_setting=(0.01, 64), diverged=[],
                                                    closest_rate_grows=False))
    assert "the maximum being the closest run's" in same and "No run diverged." in same
    assert "the larger the batch" not in same


def history_final(train_loss, val_acc):
    return {"train_acc": 0.56, "val_acc": val_acc, "train_loss": train_loss, "val_loss": 1.0}


def test_convergence_paragraph_branches():
    optimum = LinearOptimum(np.zeros(1), 1.0, 1.0, 0.5725, 0.5661, 0.0, 1, 0.0)
    runs = [(20, history_final(1.00001, 0.566)), (40, history_final(1.000001, 0.5664))]
    done = Convergence(runs=runs, net=None, history=None, converged=True, tol=1e-4)
    text = report.convergence_paragraph("peaks", done, optimum, (3, 0.5742))
    for piece in ("20 epochs ended 1.0e-05 and 40 epochs ended 1.0e-06", "+0.04 points",
                  "no longer help.", "(40): 56.00% training and 56.64% validation",
                  "57.25% and 56.61%", "epoch 3 with 57.42%"):
        assert piece in text, piece
    jumpy = Convergence(runs=[runs[0], (40, history_final(1.000001, 0.60))], net=None,
                        history=None, converged=True, tol=1e-4)
    assert "hardly depends on the loss" in report.convergence_paragraph("s", jumpy, optimum,
                                                                          (1, 0.6))
    capped = Convergence(runs=[(20, history_final(1.01, 0.5)), (40, history_final(1.001, 0.5))],
                         net=None, history=None, converged=False, tol=1e-4)
    assert "has not fully converged" in report.convergence_paragraph("g", capped, optimum,
                                                                     (1, 0.5))
    single = Convergence(runs=[(4, history_final(1.01, 0.5))], net=None, history=None,
                         converged=False, tol=1e-4)
    assert "A single run" in report.convergence_paragraph("g", single, optimum, (1, 0.5))


def test_data_sources_and_optimum_table(rng):
    X, C = rng.standard_normal((2, 4)), np.eye(2)[:, [0, 1, 0, 1]]
    data = {"peaks": Dataset(name="peaks", Xt=X, Ct=C, Xv=X, Cv=C, source="look-alike",
                             path="/x/PeaksData.mat", sha256="0123456789abcdef")}
    text = report.data_sources(data)
    assert text == ("Data: **peaks** from the look-alike PeaksData.mat (sha256 0123456789ab), "
                    "4 training and 4 validation samples, 2 features, 2 classes.")
    optimum = LinearOptimum(np.zeros(1), 0.69, 0.7, 0.535, 0.53, 2e-11, 8, 0.1)
    row = report.optimum_table({"peaks": optimum}, data).splitlines()[2]
    assert row == "| peaks | 0.69000 | 0.69315 | 2.0e-11 | 8 | 53.50% | 53.00% |"


def test_best_option_table_reports_final_accuracies_and_labels_the_best_epoch():
    table = report.best_option_table({"gmm": {
        "lr": 0.1, "batch_size": 256, "epochs": 40, "train_acc": 0.48864, "val_acc": 0.493,
        "optimum_train_acc": 0.48848, "optimum_val_acc": 0.49296, "excess_loss": 2.6e-7,
        "best_epoch": 5, "best_epoch_val_acc": 0.5058}})
    assert table.splitlines()[2] == ("| gmm | 0.1, 256, 40 | 48.86% / 49.30% | 48.85% / 49.30% "
                                     "| 2.6e-07 | 50.58% (epoch 5) |")
