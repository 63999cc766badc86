"""Sweeps: validation before anything runs, parallel runs, resuming, failures, aggregation, Dask."""
import json

import numpy as np
import pytest
import scipy.io

from scratchnet.cli import load_tool, main

from helpers import one_hot

runner = load_tool("sweep")  # sweeps/runner.py: not a part of the library, as the bench

NOTEBOOK = "notebooks/sweeps/train.ipynb"


@pytest.fixture
def tiny_mat(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, (2, 300))
    C = one_hot((X[0] + X[1] > 0).astype(int), 2)
    path = tmp_path / "tiny.mat"
    scipy.io.savemat(path, {"Yt": X, "Ct": C, "Yv": X[:, :100], "Cv": C[:, :100]})
    return path


def write_sweep(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def small_sweep(tmp_path, tiny_mat, lrs="[0.01, 0.1]", seeds="[0, 1]"):
    return write_sweep(tmp_path, f"""
notebook: {NOTEBOOK}
fixed: {{data: "{tiny_mat}", depth: 1, width: 4, epochs: 2, batch_size: 32, optimizer: sgd}}
grid:
  lr: {lrs}
seeds: {seeds}
""")


@pytest.mark.parametrize("text,message", [
    ("notebook: notebooks/sweeps/nope.ipynb\ngrid: {lr: [0.1]}", "does not exist"),
    (f"notebook: {NOTEBOOK}\ngrid: {{learning_rate: [0.1]}}", "unknown parameter learning_rate"),
    (f"notebook: {NOTEBOOK}\ngrid: {{lr: []}}", "empty list"),
    (f"notebook: {NOTEBOOK}\nfixed: {{lr: 0.1}}\ngrid: {{lr: [0.1]}}", "both fixed and in the grid"),
    (f"notebook: {NOTEBOOK}\ngrid: {{lr: [0.1]}}\nseeds: []", "seeds must be a non-empty list"),
    ("notebook: [unclosed", "not a readable YAML file"),
    (f"notebook: {NOTEBOOK}\nfixed: {{data: mnist}}\ngrid: {{lr: [0.1]}}",
     "data: got 'mnist', expected a data set name"),
    (f"notebook: {NOTEBOOK}\ngrid: {{lr: [0.1, 1e-3]}}", "lr: got the string '1e-3'"),
    (f"notebook: {NOTEBOOK}\ngrid: {{lr: [0.1]}}\nseeds: [0, 1.5]", "seed: got 1.5"),
])
def test_bad_sweep_files_are_refused_before_anything_runs(tmp_path, capsys, text, message):
    path = write_sweep(tmp_path, text)
    with pytest.raises(runner.SweepError, match=message):
        runner.load_sweep(path, out_root=tmp_path / "out")
    assert main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "s.yaml" in err
    assert not (tmp_path / "out").exists()


def test_shipped_sweep_files_are_valid():
    for path in sorted((runner.REPO / "sweeps").glob("*.yaml")):
        sweep = runner.load_sweep(path)
        assert len(sweep.points()) >= 4, path.name


def test_sweep_runs_resumes_and_aggregates(tmp_path, tiny_mat):
    sweep = runner.load_sweep(small_sweep(tmp_path, tiny_mat), out_root=tmp_path / "out")
    outcome = runner.run_sweep(sweep, workers=2, progress=False, log=lambda _: None)
    assert sorted(outcome.ran) == sorted(pid for pid, _ in sweep.points()) and not outcome.failed
    # an interrupted point (no marker) is the only one run again
    victim = sweep.points()[1][0]
    (sweep.out_dir / f"{victim}.done.json").unlink()
    again = runner.run_sweep(sweep, workers=2, progress=False, log=lambda _: None)
    assert again.ran == [victim] and len(again.skipped) == 3
    rows = runner.aggregate(sweep)
    assert [row["lr"] for row in rows] == [0.01, 0.1] and all(r["seeds"] == 2 for r in rows)
    assert all(0 <= r["val_acc_mean"] <= 1 and r["val_acc_std"] >= 0 for r in rows)
    csv = (sweep.out_dir / "summary.csv").read_text().splitlines()
    assert csv[0].startswith("lr,seeds,train_acc_mean") and len(csv) == 3
    assert "| lr | seeds |" in (sweep.out_dir / "summary.md").read_text()
    assert (sweep.out_dir / "summary.png").stat().st_size > 0


def test_a_failing_point_is_recorded_and_does_not_stop_the_others(tmp_path, tiny_mat, capsys):
    path = small_sweep(tmp_path, tiny_mat, lrs="[0.1, 1.0e+6]", seeds="[0]")
    sweep = runner.load_sweep(path, out_root=tmp_path / "out")
    outcome = runner.run_sweep(sweep, workers=2, progress=False, log=lambda _: None)
    (failed, error), = outcome.failed.items()
    assert failed.startswith("lr=1000000.0") and "TrainingDiverged" in error
    assert "diverged" in (sweep.out_dir / f"{failed}.error.txt").read_text()
    assert len(outcome.ran) == 2 and len(runner.aggregate(sweep)) == 1


def test_dask_local_cluster_gives_the_same_results(tmp_path, tiny_mat):
    distributed = pytest.importorskip("distributed")
    path = small_sweep(tmp_path, tiny_mat, lrs="[0.1]")
    local = runner.load_sweep(path, out_root=tmp_path / "local")
    remote = runner.load_sweep(path, out_root=tmp_path / "dask")
    runner.run_sweep(local, workers=2, progress=False, log=lambda _: None)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        outcome = runner.run_sweep(remote, scheduler=cluster.scheduler_address,
                                   progress=False, log=lambda _: None)
    assert len(outcome.ran) == 2 and not outcome.failed
    for pid, _ in local.points():
        a = json.loads((local.out_dir / f"{pid}.json").read_text())["history"]
        b = json.loads((remote.out_dir / f"{pid}.json").read_text())["history"]
        assert a == b, pid


def test_a_point_over_the_cell_time_limit_is_recorded_naming_the_cell(tmp_path, tiny_mat):
    params = {"data": str(tiny_mat), "depth": 3, "width": 64, "epochs": 100000, "seed": 0}
    pid, error, seconds = runner.run_point(runner.REPO / NOTEBOOK, tmp_path, "slow", params,
                                           runner.REPO, timeout=2)
    assert "train.ipynb failed in cell 5" in error and "time limit of 2 s per cell" in error
    assert (tmp_path / "slow.error.txt").read_text() == error + "\n"
    assert seconds < 60 and not (tmp_path / "slow.done.json").exists()


def test_an_unusable_cell_timeout_stops_the_sweep_before_it_runs(tmp_path, tiny_mat, capsys,
                                                                  monkeypatch):
    monkeypatch.setenv("SCRATCHNET_CELL_TIMEOUT", "never")
    assert main(["sweep", str(small_sweep(tmp_path, tiny_mat))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "SCRATCHNET_CELL_TIMEOUT='never'" in err


def test_sweep_outputs_get_the_mode_the_umask_gives(tmp_path, tiny_mat):
    import os
    import stat

    sweep = runner.load_sweep(small_sweep(tmp_path, tiny_mat, lrs="[0.1]", seeds="[0]"),
                              out_root=tmp_path / "out")
    old = os.umask(0o027)
    try:
        runner.run_sweep(sweep, workers=1, progress=False, log=lambda _: None)
        runner.aggregate(sweep)
    finally:
        os.umask(old)
    files = sorted(p for p in sweep.out_dir.iterdir() if p.is_file())
    assert {p.suffix for p in files} >= {".json", ".ipynb", ".csv", ".md", ".png"}
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {oct(0o640)}, modes
