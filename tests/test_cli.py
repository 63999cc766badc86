import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

from scratchnet.cli import main

from helpers import one_hot


@pytest.fixture
def tiny_mat(tmp_path):
    """A small, learnable data set in the course format (float32, columns are samples)."""
    rng = np.random.default_rng(0)

    def make(m):
        X = rng.uniform(-1, 1, (2, m))
        return X.astype(np.float32), one_hot((X[0] > X[1]).astype(int), 2).astype(np.float32)

    Yt, Ct = make(300)
    Yv, Cv = make(100)
    path = tmp_path / "tiny.mat"
    scipy.io.savemat(path, {"Yt": Yt, "Ct": Ct, "Yv": Yv, "Cv": Cv})
    return path


def train_args(path, out, *extra):
    if "--widths" not in extra:
        extra = ("--width", "4", *extra)
    return ["train", "--data", str(path), "--depth", "1", "--epochs", "3",
            "--batch-size", "32", "--lr", "0.01", "--quiet", "--out", str(out), *extra]


def test_train_writes_the_result_json(tiny_mat, tmp_path, capsys):
    out = tmp_path / "run.json"
    assert main(train_args(tiny_mat, out)) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("tiny: train accuracy") and "validation accuracy" in line
    result = json.loads(out.read_text())
    assert set(result) >= {"config", "data", "history", "final", "n_params", "seconds"}
    assert result["config"]["depth"] == 1 and result["config"]["optimizer"] == "adam"
    assert result["data"]["sha256"] and result["data"]["source"] == "course file"
    assert len(result["history"]) == 3
    for epoch in result["history"]:
        assert set(epoch) >= {"train_loss", "train_acc", "val_loss", "val_acc"}
        assert 0 <= epoch["train_acc"] <= 1 and 0 <= epoch["val_acc"] <= 1
    assert result["final"]["val_acc"] == result["history"][-1]["val_acc"]
    assert result["n_params"] == (2 * 4 + 4) + (4 * 2 + 2)


def test_same_command_twice_gives_byte_identical_history(tiny_mat, tmp_path):
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    for out in outs:
        assert main(train_args(tiny_mat, out, "--arch", "resnet", "--seed", "4")) == 0
    a, b = (json.dumps(json.loads(out.read_text())["history"]) for out in outs)
    assert a == b


def test_widths_build_a_growing_network(tiny_mat, tmp_path):
    out = tmp_path / "run.json"
    assert main(train_args(tiny_mat, out, "--widths", "3,5")) == 0
    assert json.loads(out.read_text())["n_params"] == (2 * 3 + 3) + (3 * 5 + 5) + (5 * 2 + 2)


@pytest.mark.parametrize("argv,message", [
    (["train", "--data", "mnist"], "unknown data set 'mnist'"),
    (["train", "--lr", "-0.1"], "must be positive"),
    (["train", "--depth", "0"], "must be positive"),
    (["train", "--widths", "8,x,32"], "widths must be comma-separated"),
    (["train", "--optimizer", "rmsprop"], "invalid choice"),
    (["train", "--width", "8", "--widths", "8,8"], "not allowed with"),
    (["train", "--arch", "resnet", "--widths", "8,8"], "a resnet has one --width"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1], err


def test_bad_data_file_is_one_line_on_stderr_exit_2(tmp_path):
    bad = tmp_path / "broken.mat"
    bad.write_bytes(b"this is not a mat file")
    proc = subprocess.run([sys.executable, "-m", "scratchnet", "train", "--data", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "broken.mat" in proc.stderr and "Traceback" not in proc.stderr


def test_diverging_learning_rate_is_one_line_exit_1(tiny_mat, tmp_path, capsys):
    argv = ["train", "--data", str(tiny_mat), "--depth", "3", "--width", "8", "--optimizer",
            "sgd", "--lr", "1e4", "--schedule", "constant", "--epochs", "5", "--quiet"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert "diverged" in err and "learning rate 10000" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("arch", ["standard", "resnet"])
def test_gradcheck_prints_the_table_and_passes(tiny_mat, capsys, arch):
    assert main(["gradcheck", "--data", str(tiny_mat), "--arch", arch, "--depth", "3",
                 "--width", "5"]) == 0
    out = capsys.readouterr().out
    assert "fitted order" in out and "passes" in out
    assert len([line for line in out.splitlines() if line.strip()[:2].strip().isdigit()]) == 16


@pytest.mark.parametrize("argv,message", [
    (["train", "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    (["train", "--lr", "inf"], "argument --lr: must be a finite number, got inf"),
    (["train", "--lr", "nan"], "argument --lr: must be a finite number, got nan"),
    (["train", "--weight-decay", "inf"], "argument --weight-decay: must be a finite number"),
    (["train", "--weight-decay", "nan"], "argument --weight-decay: must be a finite number"),
    (["train", "--momentum", "inf"], "argument --momentum: must be a finite number"),
    (["train", "--momentum", "1"], "argument --momentum: must be in [0, 1)"),
    (["gradcheck", "--eps0", "inf"], "argument --eps0: must be a finite number"),
    (["gradcheck", "--seed", "-3"], "argument --seed: must be >= 0"),
])
def test_unusable_numbers_are_one_line_exit_2_before_anything_runs(argv, message):
    # In a subprocess: what a user sees, whole, and no data set is loaded or generated.
    proc = subprocess.run([sys.executable, "-m", "scratchnet", *argv, "--data", "/nonexistent.mat"],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_out_that_cannot_be_written_is_refused_before_training(tiny_mat, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exit:
        main(train_args(tiny_mat, blocker / "run.json"))
    assert exit.value.code == 2
    err = capsys.readouterr()
    assert "cannot write" in err.err and "is not a folder" in err.err and err.out == ""


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_out_gets_the_mode_the_umask_gives(tiny_mat, tmp_path, umask):
    out = tmp_path / "run.json"
    old = os.umask(umask)
    try:
        assert main(train_args(tiny_mat, out)) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_a_rate_the_schedule_makes_non_finite_is_reported_as_given(tiny_mat):
    from scratchnet.cli.runs import ConfigError, checked_schedule, full_config

    config = full_config({"lr": 1e-3, "schedule": "cosine", "epochs": 3})
    assert [round(checked_schedule(config)(e), 12) for e in range(3)] == [1e-3, 0.0007525, 0.0002575]
    # No schedule of ours overflows a finite rate, so one is given a rate that full_config
    # would refuse, to see the error name the rate given rather than the NaN it became.
    config["lr"] = float("inf")
    with pytest.raises(ConfigError, match=r"lr inf with the cosine schedule becomes nan at epoch 1"):
        checked_schedule(config)


def test_the_result_json_carries_the_stamp(tiny_mat, tmp_path):
    out = tmp_path / "run.json"
    assert main(train_args(tiny_mat, out)) == 0
    stamp = json.loads(out.read_text())["stamp"]
    assert set(stamp) >= {"python", "numpy", "scipy", "blas", "cpu", "commit", "data"}
    assert stamp["numpy"] == np.__version__ and stamp["cpu"]["simd"]["baseline"]


def test_dtype_is_a_choice_recorded_with_the_run(tiny_mat, tmp_path):
    runs = {}
    for dtype in ("float32", "float64"):
        out = tmp_path / f"{dtype}.json"
        assert main(train_args(tiny_mat, out, "--dtype", dtype)) == 0
        runs[dtype] = json.loads(out.read_text())
        assert runs[dtype]["config"]["dtype"] == dtype
    default = tmp_path / "default.json"
    assert main(train_args(tiny_mat, default)) == 0
    assert json.loads(default.read_text())["config"]["dtype"] == "float32"
    # the same start, so the two precisions end close (the losses differ by rounding only)
    losses = [runs[d]["final"]["train_loss"] for d in ("float32", "float64")]
    assert abs(losses[0] - losses[1]) < 1e-4


def test_an_unknown_dtype_is_refused(tiny_mat, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(train_args(tiny_mat, tmp_path / "x.json", "--dtype", "float16"))
    assert exit_info.value.code == 2
    assert "invalid choice: 'float16'" in capsys.readouterr().err
