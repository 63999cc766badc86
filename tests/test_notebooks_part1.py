"""The Part I notebooks (sections 1.1-1.3) as stored, and the table helpers they display with.

The notebooks themselves are executed by the report's pipeline; here their structure is
checked (what papermill and the merge rely on, the experiment in view, the claims recorded)
and every name they import is resolved, so a rename in the package fails here rather than
half-way through `make report`.
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


# The experiment in view: each notebook runs its loop in a code cell and records its claims.
IN_VIEW = {"11_softmax_gradient_test": "softmax_gradient_test", "12_sgd": "train",
           "13_softmax_sgd": "train"}


def _called(node, name):
    return any(isinstance(n, ast.Call) and getattr(n.func, "id", None) == name
               for n in ast.walk(node))


@pytest.mark.parametrize("stem", PART1)
def test_notebook_runs_its_experiment_in_a_visible_loop(stem):
    trees = [ast.parse(source(c)) for c in load(stem)["cells"] if c["cell_type"] == "code"]
    loops = [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.For)]
    assert any(_called(loop, IN_VIEW[stem]) for loop in loops), (
        f"{stem}: no code cell calls {IN_VIEW[stem]} inside a for loop")


@pytest.mark.parametrize("stem", PART1)
def test_notebook_checks_claims_and_records_them(stem):
    code = "\n".join(source(c) for c in load(stem)["cells"] if c["cell_type"] == "code")
    tree = ast.parse(code)
    checks = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Attribute) and n.func.attr == "check"]
    assert checks, f"{stem} checks no claim"
    records = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
               and getattr(n.func, "id", None) == "record"]
    assert records and "claims" in {k.arg for k in records[-1].keywords}, (
        f"{stem}: the last record() must keep the claims")
    if stem == "13_softmax_sgd":
        # The closing summary (section 2.8) reads these rows.
        assert "summary_rows" in {k.arg for k in records[-1].keywords}


# The table helpers.

def test_markdown_table_formats_and_escapes():
    table = report.markdown_table(["name", "x", "ok"],
                                  [["a|b", 0.123456, True], ["c", float("nan"), False],
                                   ["d", None, np.bool_(True)]])
    lines = table.splitlines()
    assert lines[0] == "| name | x | ok |"
    # the dashes under a heading: as many as its column's widest cell has characters (min 3)
    assert lines[1] == "|:----|------:|:---|"
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


def test_gradient_summary_table_has_a_row_per_test():
    summary = {"order_first": 1.0, "order_second": 2.0, "clean_rows_first": 18,
               "clean_rows_second": 15, "median_ratio_first": 2.0, "median_ratio_second": 4.0,
               "passes": True}
    table = report.gradient_summary_table({"peaks": {"W": summary},
                                           "gmm": {"X": {**summary, "passes": False}}})
    lines = table.splitlines()
    assert len(lines) == 4
    assert lines[2] == "| peaks | $W$ | 15 | 2.000 | 4.000 | 1.000 | 2.000 | yes |"
    assert lines[3].startswith("| gmm | $X$ |") and lines[3].endswith("| no |")


def test_data_sources_names_every_file_and_its_hash(rng):
    X, C = rng.standard_normal((2, 4)), np.eye(2)[:, [0, 1, 0, 1]]
    data = {"peaks": Dataset(name="peaks", Xt=X, Ct=C, Xv=X, Cv=C, source="look-alike",
                             path="/x/PeaksData.mat", sha256="0123456789abcdef")}
    text = report.data_sources(data)
    for piece in ("peaks", "look-alike", "PeaksData.mat", "0123456789ab"):
        assert piece in text, piece
    assert "/x/" not in text, "the folder is the user's business, not the report's"
