"""Notebook parameters checked at the door: types from the literal defaults, data set names,
choices, non-empty lists; in a real kernel, with papermill's -p passing a list as a string."""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from scratchnet.report.params import ParameterError, check_parameters, check_value, literal_defaults

REPO = Path(__file__).resolve().parents[1]
DEFAULTS = {"quick": False, "results_path": "build/notebooks/x.json", "seed": 0, "lr": 0.003,
            "datasets": ["swissroll", "peaks", "gmm"], "data": "peaks", "lrs": [0.001, 0.01],
            "seeds": [0, 1, 2], "grown_widths": [[8, 16, 32]], "optimizer": "adam",
            "eval_size": None, "dtype": "float64"}


@pytest.mark.parametrize("name, value, words", [
    ("datasets", '["gmm"]', ["datasets: got the string '[\"gmm\"]'", "list of data set names",
                             "-y 'datasets: [swissroll, peaks, gmm]'", "-f"]),
    ("datasets", ["mnist"], ["datasets:", "'mnist'", "swissroll, peaks, gmm"]),
    ("datasets", [], ["datasets: got an empty list", "non-empty list"]),
    ("seeds", [0, 1.5], ["seeds:", "1.5", "integers"]),
    ("seed", 1.0, ["seed: got 1.0", "an integer"]),
    ("seed", True, ["seed: got True", "an integer"]),
    ("lr", float("inf"), ["lr: got inf", "finite number"]),
    ("lr", "1e-3", ["lr: got the string '1e-3'", "finite number", "-p lr"]),
    ("quick", "yes", ["quick: got the string 'yes'", "True or False"]),
    ("data", "mnist", ["data: got 'mnist'", "a data set name among swissroll, peaks, gmm"]),
    ("optimizer", "rmsprop", ["optimizer: got 'rmsprop'", "one of sgd, momentum, nesterov, adam"]),
    ("grown_widths", [[]], ["grown_widths:", "non-empty lists of integers"]),
    ("dtype", "float16", ["dtype: got 'float16'", "one of float32, float64"]),
    ("results_path", 3, ["results_path: got 3", "a string"]),
])
def test_a_parameter_that_does_not_fit_is_one_line_naming_it(name, value, words):
    with pytest.raises(ParameterError) as info:
        check_parameters({**DEFAULTS, name: value}, defaults=DEFAULTS)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{name}: got"), message
    for word in words:
        assert word in message, f"{word!r} missing from {message!r}"


@pytest.mark.parametrize("name, value", [
    ("lr", 1), ("lrs", [1, 0.5]), ("datasets", ["GMM"]), ("datasets", ("gmm",)),
    ("data", "some/file.mat"), ("eval_size", 1000), ("eval_size", None), ("dtype", "float32"),
    ("grown_widths", [[4], [4, 8]]), ("quick", True),
])
def test_valid_values_pass(name, value):
    assert check_value(name, value, DEFAULTS[name]) is None
    assert check_parameters({**DEFAULTS, name: value}, defaults=DEFAULTS)[name] == value


def test_literal_defaults_reads_only_a_cell_of_literal_assignments():
    assert literal_defaults("quick = False\nlrs = [0.1, -1e-3]\nname = 'x'  # why\n") == {
        "quick": False, "lrs": [0.1, -1e-3], "name": "x"}
    for source in ("import numpy", "x = f(1)", "x = 1\nprint(x)", "a, b = 1, 2", "", "x ="):
        assert literal_defaults(source) is None, source


def checked_notebook(path):
    nb = new_notebook(cells=[
        new_markdown_cell("# Checked"),
        new_code_cell("from scratchnet.report.params import check_parameters"),
        new_code_cell('datasets = ["swissroll", "peaks", "gmm"]\nseed = 0\nquick = False',
                      metadata={"tags": ["parameters"]}),
        new_code_cell("check_parameters(globals())"),
        new_code_cell("print('ran with', datasets, seed)"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))
    return path


def papermill(src, out, *args):
    return subprocess.run([sys.executable, "-m", "papermill", str(src), str(out),
                           "--log-level", "WARNING", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=300)


def test_in_a_kernel_a_list_passed_as_a_string_stops_at_the_check(tmp_path):
    src = checked_notebook(tmp_path / "checked.ipynb")
    proc = papermill(src, tmp_path / "bad.ipynb", "-p", "datasets", '["gmm"]')
    assert proc.returncode != 0
    out = json.loads((tmp_path / "bad.ipynb").read_text())
    errors = [o for c in out["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert len(errors) == 1 and errors[0]["ename"] == "ParameterError", errors
    (line,) = errors[0]["traceback"]
    assert line.startswith("ParameterError: datasets: got the string '[\"gmm\"]'"), line
    assert "-y 'datasets:" in line and "datasets: got" in proc.stderr
    assert "ran with" not in json.dumps(out["cells"][-1]["outputs"])


def test_in_a_kernel_valid_parameters_pass_the_check(tmp_path):
    src = checked_notebook(tmp_path / "checked.ipynb")
    proc = papermill(src, tmp_path / "ok.ipynb", "-y", "datasets: [gmm]", "-p", "seed", "3")
    assert proc.returncode == 0, proc.stderr
    out = json.loads((tmp_path / "ok.ipynb").read_text())
    assert "ran with ['gmm'] 3" in "".join(out["cells"][-1]["outputs"][0]["text"])


def test_a_report_notebook_given_a_list_as_a_string_names_the_parameter(tmp_path):
    # The issue's own command: papermill's -p passes '["gmm"]' as a string.
    proc = papermill(REPO / "notebooks" / "24_network_training.ipynb", tmp_path / "out.ipynb",
                     "-p", "datasets", '["gmm"]', "-p", "quick", "True")
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ParameterError: datasets: got the string '[\"gmm\"]'"), last
    assert "-y 'datasets:" in last and "DataError" not in proc.stderr
