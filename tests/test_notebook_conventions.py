"""Every notebook of the report keeps the conventions the pipeline and the style rely on."""
import ast
import importlib
from pathlib import Path

import pytest

from helpers import report_notebook

STEMS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def _is_module(package, name):
    try:
        importlib.import_module(f"{package}.{name}")
    except ImportError:
        return False
    return True


def test_there_are_report_notebooks():
    assert len(STEMS) >= 12, STEMS


@pytest.mark.parametrize("stem", STEMS)
def test_notebook_follows_the_report_conventions(stem):
    cells, sources, params = report_notebook(stem)
    assert cells[0]["cell_type"] == "markdown" and sources[0].startswith("# "), (
        f"{stem}: cell 1 must open with '# <section title>'")
    assert cells[2]["metadata"].get("tags") == ["parameters"], f"{stem}: cell 3 is not tagged"
    assert params["quick"] is False, f"{stem}: quick must default to False"
    assert params["results_path"] == f"build/notebooks/{stem}.json"
    assert sources[3] == "check_parameters(globals())", (
        f"{stem}: cell 4 must check the parameters (papermill injects its cell before it)")
    for number, (cell, source) in enumerate(zip(cells, sources), 1):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{stem}: cell {number} is stored with outputs")
            tree = ast.parse(source)
            assert not any(isinstance(n, (ast.FunctionDef, ast.Lambda, ast.ClassDef))
                           for n in ast.walk(tree)), f"{stem}: cell {number} defines a function"
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module.startswith("scratchnet"):
                    module = importlib.import_module(node.module)
                    missing = [a.name for a in node.names
                               if not hasattr(module, a.name) and not _is_module(node.module, a.name)]
                    assert not missing, f"{stem} imports {missing} from {node.module}"
        else:
            assert not any("\u0370" <= ch <= "\u03ff" for ch in source), (
                f"{stem}: raw Greek in markdown cell {number} (it vanishes in the PDF)")


def _calls(node, name):
    """Whether ``node`` calls ``name``, or hands it to a call (``timed(train, ...)``)."""
    return any(isinstance(n, ast.Call) and any(
        isinstance(f, ast.Name) and f.id == name for f in [n.func, *n.args])
        for n in ast.walk(node))


# The sections whose experiment is training: each shows the loop that calls train.
TRAINING = ["13_softmax_sgd", "24_network_training", "25_regularization", "26_optimizers",
            "27_resnet_vs_standard"]


@pytest.mark.parametrize("stem", TRAINING)
def test_the_training_loop_is_in_view(stem):
    cells, sources, _ = report_notebook(stem)
    loops = [loop for cell, source in zip(cells, sources) if cell["cell_type"] == "code"
             for loop in ast.walk(ast.parse(source)) if isinstance(loop, (ast.For, ast.While))]
    assert any(_calls(loop, "train") for loop in loops), (
        f"{stem}: no code cell has a loop that calls train")


@pytest.mark.parametrize("stem", STEMS)
def test_results_record_the_claims(stem):
    cells, sources, _ = report_notebook(stem)
    assert "claims=claims.records()" in sources[-1].replace(" ", ""), (
        f"{stem}: the last cell must record the claims in the results JSON")
