"""Small helpers shared by the tests."""
import numpy as np


def one_hot(labels, k):
    """k x m one-hot matrix of integer labels."""
    return np.eye(k)[:, labels]


def random_batch(rng, n, k, m):
    """X (n x m) standard normal and C (k x m) one-hot with random labels."""
    return rng.standard_normal((n, m)), one_hot(rng.integers(0, k, m), k)


def describe(result):
    """A failure message: the fitted orders and the table of the test."""
    return (f"order first={result.order('first'):.3f}, second={result.order('second'):.3f}, "
            f"clean rows={result.clean_rows()}\n{result.format()}")


def report_notebook(stem):
    """(cells, their sources, the literal parameters) of notebooks/<stem>.ipynb."""
    import ast
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "notebooks" / f"{stem}.ipynb"
    cells = json.loads(path.read_text())["cells"]
    sources = ["".join(cell["source"]) for cell in cells]
    params = {s.targets[0].id: ast.literal_eval(s.value) for s in ast.parse(sources[2]).body}
    return cells, sources, params
