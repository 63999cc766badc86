"""The bench's plumbing (no timing assertions: speed is the bench's own business)."""
import json

import pytest

from scratchnet import bench
from scratchnet.cli import main


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
    times = bench.paired_epochs(bench.CONFIGS["b"], X, C, epochs=2, pause=0)
    assert list(times) == ["scratchnet"] and len(times["scratchnet"]) == 2
    assert all(seconds > 0 and others >= 0 for seconds, others in times["scratchnet"])


def test_cpu_watch_measures_a_busy_interval():
    with bench.CpuWatch() as watch:
        sum(i * i for i in range(200_000))
    assert watch.wall > 0 and 0 <= watch.others < 64


def test_bench_json_layout(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--configs", "b", "--epochs", "1", "--no-torch",
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["b"]["samples_per_s"] > 0 and result["b"]["seconds_per_epoch"] > 0
    assert result["gemm_gflops"] > 0 and result["blas"]
    assert "(b)" in capsys.readouterr().out


def test_torch_comparison_trains_the_same_networks():
    pytest.importorskip("torch", reason="PyTorch is an optional extra for the bench")
    X, C = bench.bench_data()
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as process:
        for key in ("b", "c"):
            times = bench.paired_epochs(bench.CONFIGS[key], X[:, :2000], C[:, :2000], 1,
                                        torch_process=process, threads=1, pause=0)
            assert [len(times[name]) for name in ("scratchnet", "pytorch")] == [1, 1]


@pytest.mark.parametrize("text", ["e", "a,,b", ""])
def test_bad_configs_are_refused(text):
    with pytest.raises(SystemExit):
        main(["bench", "--configs", text])
