"""``python -m scratchnet bench``: samples per second of one training epoch, against PyTorch.

Each configuration trains through :func:`scratchnet.train.train_epoch`, the code path of
``scratchnet train`` (float64, a fresh permutation per epoch, softmax cross-entropy, plain
SGD steps), over 25,000 two-dimensional samples of 5 classes (the Peaks look-alike). The
figure is the median of ``epochs`` epochs after one warm-up. When PyTorch is importable the
same networks are trained the same way in PyTorch (float64, the same number of threads), in a
process of its own, an epoch of each in turn.

The machines this runs on are shared: :class:`CpuWatch` reads /proc/stat around every
measurement and, when other processes used the cores meanwhile, the bench says so and
measures again, keeping the quietest repetition.
"""
import importlib.metadata
import importlib.util
import itertools
import json
import os
import resource
import statistics
import time

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

from .data import make_peaks
from .network import make_network
from .optim import SGD
from .train import DivergenceGuard, step_targets, train_epoch

CONFIGS = {
    "a": {"arch": "standard", "widths": [32] * 4, "batch": 32,
          "label": "standard 2 -> [32]*4 -> 5 tanh, batch 32"},
    "b": {"arch": "standard", "widths": [32] * 4, "batch": 256,
          "label": "standard 2 -> [32]*4 -> 5 tanh, batch 256"},
    "c": {"arch": "resnet", "widths": [32] * 21, "batch": 64,
          "label": "resnet 2 -> 32, 20 residual blocks of 32, tanh -> 5, batch 64"},
    "d": {"arch": "standard", "widths": [256] * 3, "batch": 1024,
          "label": "wide standard 2 -> 256 -> 256 -> 256 -> 5 tanh, batch 1024"},
}
LR = 0.01


class CpuWatch:
    """How much of the machine's CPU time, over an interval, went to other processes."""

    def __enter__(self):
        self.start = (_busy_jiffies(), _own_cpu_seconds(), time.perf_counter())
        return self

    def __exit__(self, *exc):
        busy0, own0, t0 = self.start
        busy1, own1, t1 = _busy_jiffies(), _own_cpu_seconds(), time.perf_counter()
        tick = os.sysconf("SC_CLK_TCK")
        self.wall = t1 - t0
        others = (busy1 - busy0) / tick - (own1 - own0) if busy0 is not None else 0.0
        # in cores: 1.0 means another process kept one core busy the whole time
        self.others = max(0.0, others) / self.wall if self.wall > 0 else 0.0
        return False


def _busy_jiffies():
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields[:8]) - idle


def _own_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_data(seed=0):
    """X (2 x 25000) and one-hot C (5 x 25000), float64: the Peaks look-alike's training set."""
    arrays = make_peaks(seed)
    return arrays["Yt"].astype(np.float64), arrays["Ct"].astype(np.float64)


def scratchnet_runner(config, X, C, seed=0):
    """A function that trains the configuration's network one more epoch per call."""
    arch, widths = config["arch"], config["widths"]
    if arch == "resnet":
        net = make_network("resnet", X.shape[0], C.shape[0], depth=len(widths) - 1,
                           width=widths[0], seed=seed)
    else:
        net = make_network("standard", X.shape[0], C.shape[0], depth=len(widths),
                           width=widths, seed=seed)
    rng = np.random.default_rng(seed)
    optimizer = SGD(LR)
    params, grads = step_targets(net)
    guard = DivergenceGuard(None, net.n_classes)
    epochs = itertools.count()

    def run():
        train_epoch(net, X, C, optimizer, config["batch"], rng, params, grads, guard,
                    next(epochs))
    return run


def torch_runner(config, X, C, seed=0, threads=None):
    """The same in PyTorch (float64, ``threads`` intra-op threads): one epoch per call."""
    import torch
    from torch import nn

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)

    class Residual(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.inner = nn.Linear(n, n)
            self.outer = nn.Linear(n, n, bias=False)

        def forward(self, x):
            return x + self.outer(torch.tanh(self.inner(x)))

    widths = config["widths"]
    if config["arch"] == "resnet":
        modules = [nn.Linear(X.shape[0], widths[0]), nn.Tanh()]
        modules += [Residual(widths[0]) for _ in widths[1:]]
    else:
        modules, n_in = [], X.shape[0]
        for width in widths:
            modules += [nn.Linear(n_in, width), nn.Tanh()]
            n_in = width
    modules.append(nn.Linear(widths[-1], C.shape[0]))
    model = nn.Sequential(*modules).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    inputs = torch.from_numpy(np.ascontiguousarray(X.T))  # PyTorch puts samples in rows
    labels = torch.from_numpy(C.argmax(axis=0))
    m, batch = inputs.shape[0], config["batch"]

    def run():
        order = torch.randperm(m)
        inputs_epoch, labels_epoch = inputs[order], labels[order]
        for i in range(0, m, batch):
            optimizer.zero_grad()
            loss = loss_fn(model(inputs_epoch[i:i + batch]), labels_epoch[i:i + batch])
            loss.backward()
            optimizer.step()
    return run


def watched(run):
    """Run ``run()``; return its seconds and the cores other processes used meanwhile."""
    with CpuWatch() as watch:
        run()
    return watch.wall, watch.others


# PyTorch runs in a process of its own (a worker of a one-process pool, which keeps this
# runner between calls): once loaded, its OpenMP runtime slows the BLAS threads of the
# process it lives in, and would spoil every figure measured after it.
_torch_run = None


def _torch_start(config, X, C, threads):
    global _torch_run
    _torch_run = torch_runner(config, X, C, threads=threads)


def _torch_epoch():
    return watched(_torch_run)


def paired_epochs(config, X, C, epochs, torch_process=None, threads=None, pause=0.2):
    """Epoch times (and other processes' cores) of scratchnet, and of PyTorch when a process
    for it is given: one warm-up epoch each, then ``epochs`` rounds of one epoch of each in
    turn, so that a slower or faster spell of a shared machine falls on both alike. The pause
    lets the other library's idle threads stop spinning before an epoch starts."""
    ours = scratchnet_runner(config, X, C)
    ours()
    if torch_process is not None:
        torch_process.submit(_torch_start, config, X, C, threads).result()
        torch_process.submit(_torch_epoch).result()
    times = {"scratchnet": [], "pytorch": []}
    for _ in range(epochs):
        time.sleep(pause)
        times["scratchnet"].append(watched(ours))
        if torch_process is not None:
            time.sleep(pause)
            times["pytorch"].append(torch_process.submit(_torch_epoch).result())
    return {name: values for name, values in times.items() if values}


def epoch_flops(config, n_features, n_classes, m):
    """Floating-point operations of the matrix products of one epoch (forward and backward)."""
    widths = config["widths"]
    if config["arch"] == "resnet":
        shapes = [(n_features, widths[0])] + [(widths[0], widths[0])] * 2 * (len(widths) - 1)
    else:
        shapes = list(zip([n_features] + widths[:-1], widths))
    shapes.append((widths[-1], n_classes))
    # forward W X, backward dW = dZ X^T, and dX = W^T dZ for every layer but the first
    products = sum(3 * a * b for a, b in shapes) - shapes[0][0] * shapes[0][1]
    return 2.0 * m * products


def gemm_gflops(n=1024, repeats=10):
    """NumPy's float64 matrix-multiply rate (GFLOP/s): best of ``repeats`` n x n products."""
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    A @ B
    best = min(_timed(lambda: A @ B) for _ in range(repeats))
    return 2.0 * n ** 3 / best / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def blas_info():
    """Which BLAS NumPy calls, with its threads, from threadpoolctl (or NumPy's own config)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl is not installed)", None
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            text = (f"{info.get('internal_api')} {info.get('version')} "
                    f"({info.get('architecture', '?')} kernels, {info.get('num_threads')} threads)")
            return text, info.get("num_threads")
    return "unknown", None


def measure_quietly(measure, repeats, noisy_cores, log):
    """Call ``measure()`` (-> {name: [(seconds, other cores), ...]}) until the other processes
    were quiet, at most ``repeats`` times; return {name: median seconds} of the quietest
    repetition and the cores other processes used in it (the mean over its epochs)."""
    best = None
    for attempt in range(repeats):
        times = measure()
        others = statistics.mean(o for values in times.values() for _, o in values)
        if best is None or others < best[1]:
            best = ({name: statistics.median(t for t, _ in values)
                     for name, values in times.items()}, others)
        if others <= noisy_cores:
            break
        again = "measuring again" if attempt + 1 < repeats else (
            f"keeping the quietest of {repeats} runs ({best[1]:.2f} cores busy elsewhere)")
        log(f"    other processes used {others:.2f} cores meanwhile; {again}")
    return best


def run_bench(configs=tuple(CONFIGS), epochs=5, torch=None, repeats=3, noisy_cores=0.25,
              log=print):
    """Time every configuration; return the results as a dict (the ``--json`` layout)."""
    X, C = bench_data()
    m = X.shape[1]
    blas, threads = blas_info()
    results = {"blas": blas, "threads": threads, "samples": m, "epochs": epochs}
    if torch is None:
        torch = importlib.util.find_spec("torch") is not None
        if not torch:
            log("PyTorch is not importable: timing scratchnet only "
                "(make bench-torch, or pip install torch==2.13.0, for the comparison)")
    torch_process = None
    if torch:
        results["torch"] = importlib.metadata.version("torch")
        torch_process = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
    log(f"BLAS: {blas}; {m} samples, median of {epochs} epochs after a warm-up"
        + (", an epoch of scratchnet and one of PyTorch in turn" if torch else ""))
    # The rate is measured again at the end and the higher kept: a busy moment must not
    # flatter the fraction of it that (d) reaches.
    results["gemm_gflops"] = gemm_gflops()
    log(f"NumPy float64 matrix multiply: {results['gemm_gflops']:.1f} GFLOP/s")
    for key in configs:
        config = CONFIGS[key]
        log(f"({key}) {config['label']}")
        medians, others = measure_quietly(
            lambda: paired_epochs(config, X, C, epochs, torch_process, threads),
            repeats, noisy_cores, log)
        ours = medians["scratchnet"]
        entry = {"label": config["label"], "seconds_per_epoch": ours, "samples_per_s": m / ours,
                 "other_cores": others}
        line = f"    scratchnet {m / ours:>10,.0f} samples/s ({ours:.3f} s/epoch)"
        if key == "d":
            gflops = epoch_flops(config, X.shape[0], C.shape[0], m) / ours / 1e9
            entry["gflops"] = gflops
            line += f", {gflops:.1f} GFLOP/s"
        log(line)
        if torch:
            theirs = medians["pytorch"]
            entry["torch_seconds_per_epoch"] = theirs
            entry["torch_samples_per_s"] = m / theirs
            entry["ratio"] = theirs / ours
            log(f"    pytorch    {m / theirs:>10,.0f} samples/s ({theirs:.3f} s/epoch): "
                f"scratchnet is {theirs / ours:.2f}x")
        results[key] = entry
    if torch_process is not None:
        torch_process.shutdown()
    again = gemm_gflops()
    if again > results["gemm_gflops"]:
        log(f"NumPy float64 matrix multiply, measured again: {again:.1f} GFLOP/s (kept)")
        results["gemm_gflops"] = again
    if "d" in results:
        d = results["d"]
        d["gemm_fraction"] = d["gflops"] / results["gemm_gflops"]
        log(f"(d) reaches {d['gemm_fraction']:.0%} of NumPy's matrix-multiply rate")
    return results


def main(args):
    results = run_bench(configs=args.configs, epochs=args.epochs,
                        torch=False if args.no_torch else None)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
    return 0
