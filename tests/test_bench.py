"""The bench's plumbing (no timing assertions: speed is the bench's own business)."""
import functools
import json

import numpy as np
import pytest

from scratchnet.cli import load_tool, main
from scratchnet.report.stamp import KERNEL_VARIABLES

bench = load_tool("bench")

# A small resnet holds every kind of layer (a standard layer lifts 2 to 8, then residual blocks,
# then the head), so one network checks a peer's copy of each; small, so the tests take seconds.
# 1000 samples in batches of 48 leave a partial batch at the end.
TINY = {"arch": "resnet", "widths": [8] * 3, "batch": 48}


@pytest.fixture(scope="module")
def tiny_data():
    X, C = bench.bench_data()
    # every 25th sample: the training set is stored class by class
    return X[:, ::25], C[:, ::25]


@pytest.fixture
def small_bench(monkeypatch, tiny_data):
    """The bench's plumbing on 1000 samples and small matrix products, for speed."""
    monkeypatch.setattr(bench, "bench_data", lambda seed=0: tiny_data)
    monkeypatch.setattr(bench, "gemm_gflops", functools.partial(bench.gemm_gflops, n=256))


def test_epoch_flops_counts_the_matrix_products_by_hand():
    # 2 -> 256 -> 256 -> 256 -> 5: forward and dW for every layer, dX for all but the first
    shapes = [(2, 256), (256, 256), (256, 256), (256, 5)]
    expected = 2 * 25000 * (sum(3 * a * b for a, b in shapes) - 2 * 256)
    assert bench.epoch_flops(bench.CONFIGS["d"], 2, 5, 25000) == expected
    # resnet: the lift, then two n x n products per block
    config = {"arch": "resnet", "widths": [8] * 3}
    assert bench.epoch_flops(config, 2, 5, 10) == 2 * 10 * (
        3 * (2 * 8 + 4 * 8 * 8 + 8 * 5) - 2 * 8)


def test_scratchnet_epochs_train_through_the_real_loop():
    X, C = bench.bench_data()
    assert X.shape == (2, 25000) and C.shape == (5, 25000)
    timed = bench.start_runners(bench.CONFIGS["b"], X, C, "float64")
    times = bench.one_round(timed, pause=0)
    assert list(times) == ["scratchnet"]
    seconds, others = times["scratchnet"]
    assert seconds > 0 and others >= 0


def test_noisy_rounds_are_taken_again_and_the_quietest_kept():
    # fake epochs: (seconds, other cores); the second and third rounds are noisy
    noise = iter([0.0, 2.0, 1.0, 0.1, 0.0, 0.0])
    timed = {"scratchnet": lambda: (1.0, next(noise))}
    lines = []
    medians, others = bench.quiet_rounds(timed, epochs=3, noisy_cores=0.25, pause=0,
                                         log=lines.append)
    assert medians == {"scratchnet": 1.0} and others == pytest.approx(0.1 / 3)
    assert len(lines) == 1 and "in 2 of 5 rounds" in lines[0], lines
    # at most epochs + extra rounds, however noisy
    timed = {"scratchnet": lambda: (1.0, 1.0)}
    assert bench.quiet_rounds(timed, epochs=2, extra=1, pause=0, log=lines.append)[1] == 1.0
    assert "in 3 of 3 rounds" in lines[-1]


def test_round_noise_weights_epochs_by_their_seconds():
    assert bench.round_noise({"a": (3.0, 0.0), "b": (1.0, 2.0)}) == pytest.approx(0.5)


def test_cpu_watch_measures_a_busy_interval():
    with bench.CpuWatch() as watch:
        sum(i * i for i in range(200_000))
    assert watch.wall > 0 and 0 <= watch.others < 64


def test_float32_epochs_run_in_float32(tiny_data):
    runner = bench.scratchnet_runner(TINY, *tiny_data, dtype="float32")
    runner.epoch()
    info = runner.info()
    assert (info["param_dtype"], info["input_dtype"]) == ("float32", "float32"), info
    assert np.isfinite(runner.loss())


def test_gemm_rate_is_measured_in_its_dtype():
    assert bench.gemm_gflops("float32", n=64, repeats=2) > 0


def test_bench_json_layout_of_one_dtype(tmp_path, capsys, small_bench):
    out = tmp_path / "bench.json"
    assert main(["bench", "--configs", "b,d", "--epochs", "1", "--dtype", "float32",
                 "--no-torch", "--no-jax", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["dtype"] == "float32" and set("bd") <= set(result) and "a" not in result
    for key in "bd":
        assert result[key]["samples_per_s"] > 0 and result[key]["seconds_per_epoch"] > 0
        assert result[key]["peers"] == {}
    assert 0 < result["d"]["frac_of_gemm"] == result["d"]["gemm_fraction"]
    assert result["gemm_gflops"] > 0 and result["blas"] and result["cpu"]
    assert isinstance(result["simd"], list)
    printed = capsys.readouterr().out
    assert "(b)" in printed and "CPU: " in printed and "SIMD: " in printed
    assert "| (d) wide 3 x 256, batch 1024 | float32 |" in printed


def test_bench_json_of_two_dtypes_holds_a_layout_each(tmp_path, small_bench):
    out = tmp_path / "bench.json"
    assert main(["bench", "--configs", "b", "--epochs", "1", "--dtype", "float32,float64",
                 "--no-torch", "--no-jax", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert list(result) == ["float32", "float64"]
    assert all(result[dtype]["dtype"] == dtype and result[dtype]["b"]["samples_per_s"] > 0
               for dtype in result)


def test_summary_table_has_a_row_per_configuration_and_dtype():
    entry = {"samples_per_s": 2000.0, "peers": {"jax_scan": {"samples_per_s": 1000.0,
                                                            "ratio": 2.0}}}
    results = {"float32": {"a": entry, "c": entry}, "float64": {"a": entry}}
    lines = bench.summary_table(results).splitlines()
    assert lines[0] == "| configuration | dtype | scratchnet | JAX, scanned epoch |"
    assert lines[2] == "| (a) standard [32]*4, batch 32 | float32 | 2,000 | 1,000 (2.00x) |"
    assert len(lines) == 2 + 3


@pytest.mark.parametrize("name", list(bench.PEERS))
def test_peers_train_the_same_networks(name, tiny_data):
    pytest.importorskip(bench.PEERS[name][0], reason="the peers are optional extras")
    ours = bench.scratchnet_runner(TINY, *tiny_data, dtype="float32")
    with bench.PeerProcess(name, "float32", threads=1) as process:
        process.start(TINY, *tiny_data)
        info = process.info()
        assert info == ours.info(), f"{name}: {info} against ours {ours.info()}"
        # the same initial weights, the same function, the same mean loss
        assert process.loss() == pytest.approx(ours.loss(), rel=1e-5), name
        losses, our_losses = [process.loss()], [ours.loss()]
        for _ in range(3):
            seconds, others = process.epoch()
            assert seconds > 0 and others >= 0
            losses.append(process.loss())
            ours.epoch()
            our_losses.append(ours.loss())
    assert all(np.diff(losses) < 0), f"{name}: the loss went {losses}"
    if name == "jax_step":
        # the same permutations as ours (NumPy's, from the same seed), so the same steps
        assert losses == pytest.approx(our_losses, rel=1e-4), f"{losses} against {our_losses}"


def test_jax_float64_runs_with_x64(tiny_data):
    pytest.importorskip("jax", reason="the peers are optional extras")
    with bench.PeerProcess("jax_scan", "float64", threads=1) as process:
        process.start(TINY, *tiny_data)
        assert process.info()["param_dtype"] == "float64"
        ours = bench.scratchnet_runner(TINY, *tiny_data, dtype="float64")
        assert process.loss() == pytest.approx(ours.loss(), rel=1e-12)


@pytest.mark.parametrize("text", ["e", "a,,b", ""])
def test_bad_configs_are_refused(text):
    with pytest.raises(SystemExit):
        main(["bench", "--configs", text])


@pytest.mark.parametrize("text", ["float16", "float32,", "double", ""])
def test_bad_dtypes_are_refused_in_one_line(text, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["bench", "--dtype", text])
    assert exit.value.code == 2
    error = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(error) == 1 and "--dtype" in error[0] and "float32" in error[0], error


def test_missing_peers_are_skipped_with_a_line_each(monkeypatch):
    monkeypatch.setattr(bench.importlib.util, "find_spec", lambda name: None)
    lines = []
    assert bench.available_peers(log=lines.append) == []
    assert len(lines) == 2 and all("make bench-peers" in line for line in lines), lines


def test_as_avx2_starts_the_bench_again_with_every_switch_set(monkeypatch):
    calls = []
    environ = {"PATH": "/usr/bin", "OPENBLAS_CORETYPE": "SkylakeX"}
    bench.as_avx2(["bench", "--as-avx2", "--configs", "a"], environ,
                  lambda path, argv, env: calls.append((path, argv, env)),
                  features=["AVX", "FMA3", "AVX2", "AVX512F"])
    [(path, argv, env)] = calls
    assert argv[1:] == ["-m", "scratchnet", "bench", "--as-avx2", "--configs", "a"]
    assert env["PATH"] == "/usr/bin" and env["OPENBLAS_CORETYPE"] == "Haswell"
    assert all(env[key] == value for key, value in bench.AVX2_ENV.items())
    # the process started again finds its environment set, and goes on
    bench.as_avx2(["bench"], env, lambda *args: pytest.fail("started a third time"))


def test_an_as_avx2_run_marks_its_figures(tmp_path, capsys, small_bench, monkeypatch):
    for key, value in bench.AVX2_ENV.items():
        monkeypatch.setenv(key, value)  # as in the process as_avx2 starts
    out = tmp_path / "bench.json"
    assert main(["bench", "--as-avx2", "--configs", "b", "--epochs", "1", "--dtype", "float32",
                 "--no-torch", "--no-jax", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["as_avx2"] is True
    printed = capsys.readouterr().out
    assert "(AVX-512 present, its code switched off: --as-avx2)" in printed
    assert "AVX512" not in printed


@pytest.mark.parametrize("features, missing", [(["SSE42", "AVX"], "AVX2 and FMA3"),
                                               (["ASIMD", "NEON"], "AVX2 and FMA3"),
                                               (["AVX", "AVX2"], "FMA3")])
def test_as_avx2_is_refused_where_avx2_code_cannot_run(features, missing):
    with pytest.raises(bench.ConfigError, match=f"this CPU lacks {missing}"):
        bench.as_avx2(["bench", "--as-avx2"], {}, lambda *args: pytest.fail("started again"),
                      features=features)


def test_kernel_settings_name_what_the_environment_chose():
    environ = {"PATH": "/usr/bin", "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512",
               "OPENBLAS_NUM_THREADS": "1"}
    assert bench.kernel_settings(environ) == {"OPENBLAS_CORETYPE": "Haswell",
                                              "OPENBLAS_L2_SIZE": "512"}
    assert bench.kernel_settings({"OPENBLAS_CORETYPE": ""}) == {}
    # --as-avx2's own switches are the view, which the figures name already; others are not
    view = {**bench.AVX2_ENV, "OPENBLAS_L2_SIZE": "512"}
    assert bench.kernel_settings(view) == {"OPENBLAS_L2_SIZE": "512"}


@pytest.mark.parametrize("coretype", [None, "Haswell"])
def test_a_run_says_when_the_environment_chose_the_kernels(tmp_path, capsys, small_bench,
                                                           monkeypatch, coretype):
    for key in KERNEL_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    if coretype:
        monkeypatch.setenv("OPENBLAS_CORETYPE", coretype)
    out = tmp_path / "bench.json"
    assert main(["bench", "--configs", "b", "--epochs", "1", "--dtype", "float32",
                 "--no-torch", "--no-jax", "--json", str(out)]) == 0
    recorded = json.loads(out.read_text())["kernel_settings"]
    lines = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith("kernels chosen by the environment")]
    if coretype:
        assert recorded == {"OPENBLAS_CORETYPE": coretype}
        assert len(lines) == 1 and f"OPENBLAS_CORETYPE={coretype}" in lines[0], lines
    else:
        assert recorded == {} and lines == []
