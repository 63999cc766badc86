import json

import numpy as np
import pytest
import scipy.io

from scratchnet.cli.runs import DEFAULTS, full_config, run_training, write_json

from helpers import one_hot


@pytest.fixture
def tiny_mat(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (2, 200))
    C = one_hot((X[0] > 0).astype(int), 2)
    path = tmp_path / "tiny.mat"
    scipy.io.savemat(path, {"Yt": X, "Ct": C, "Yv": X[:, :50], "Cv": C[:, :50]})
    return str(path)


def test_unknown_keys_are_refused_by_name():
    with pytest.raises(ValueError, match=r"unknown configuration keys \['learning_rate'\]"):
        full_config({"learning_rate": 0.1})
    assert full_config({"lr": 0.5})["lr"] == 0.5 and full_config({})["epochs"] == DEFAULTS["epochs"]


def test_run_training_result_layout_and_determinism(tiny_mat, tmp_path):
    config = {"data": tiny_mat, "depth": 1, "width": 4, "epochs": 2, "batch_size": 16}
    first, second = run_training(config, quiet=True), run_training(config, quiet=True)
    assert first["history"] == second["history"]
    assert [row["epoch"] for row in first["history"]] == [1, 2]
    assert first["final"]["val_acc"] == first["history"][-1]["val_acc"]
    assert first["config"]["lr"] == DEFAULTS["lr"] and first["n_params"] == 12 + 10
    path = write_json(first, tmp_path / "out" / "run.json")
    assert json.loads(path.read_text())["history"] == first["history"]
    assert not list(path.parent.glob(".*.tmp"))


def test_depth_zero_is_softmax_regression(tiny_mat):
    result = run_training({"data": tiny_mat, "depth": 0, "epochs": 1}, quiet=True)
    assert result["n_params"] == 2 * 2 + 2


def test_progress_bar_rewrites_one_line_and_ends_it_when_done():
    import io

    from scratchnet.cli.runs import progress_bar

    stream = io.StringIO()
    for done in (1, 2):
        progress_bar(done, 2, f"epoch {done}/2", stream=stream, width=4)
    assert stream.getvalue() == "\r[##..] epoch 1/2\r[####] epoch 2/2\n"
