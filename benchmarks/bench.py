"""``scratchnet bench``: samples per second of a training epoch, against PyTorch and JAX.

The bench is not a part of the library: it lives in the checkout's ``benchmarks/`` folder, as
NumPy's and SciPy's do, and ``scratchnet bench`` (or ``make bench``) runs it from there.

Each configuration trains through :func:`scratchnet.train.train_epoch`, the code path of
``scratchnet train`` (a fresh permutation per epoch, softmax cross-entropy, plain SGD steps),
over 25,000 two-dimensional samples of 5 classes (the Peaks look-alike), in float32, float64 or
both; the data are cast to the network's dtype once, before any timing. The figure is the
median of ``epochs`` epochs after one warm-up.

The peers, when importable, train the same networks (built by scratchnet with the same seed,
so with the same initial weights) the same way, in the same dtype:

- ``pytorch``: ``torch.nn`` modules and ``torch.optim.SGD``, with as many intra-op threads as
  our BLAS has;
- ``jax_step``: one jitted SGD step, called from a Python loop over the mini-batches of an
  epoch permuted on the host, as ours is;
- ``jax_scan``: the whole epoch one jitted function: the permutation, ``jax.lax.scan`` over the
  full mini-batches, then one more step for the partial one.

Every epoch of every library visits all 25,000 samples: when the batch size does not divide
them, the last mini-batch is a smaller step of its own (for ``jax_step`` jit compiles a second
version of the step for its shape). JAX compiles during the warm-up epoch, so compile time is
not counted. XLA has no setting for its number of CPU threads; when our BLAS has fewer threads
than the machine has cores, the JAX process is pinned to that many cores instead.

Each peer runs in a spawned process of its own, one per dtype (once loaded, PyTorch's OpenMP
runtime slows the BLAS threads of the process it lives in; JAX's float64 needs
``jax_enable_x64`` for its whole process), and the epochs are taken in turn, one of each
library per round, so that a slower or faster spell of a shared machine falls on all alike.
:class:`CpuWatch` reads /proc/stat around every epoch; a round in which other processes used
the cores is taken again (at most ``epochs`` times), and the quietest rounds count.
"""
import collections
import importlib.metadata
import importlib.util
import itertools
import json
import os
import resource
import statistics
import sys
import time

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

from scratchnet.cli.runs import ConfigError
from scratchnet.data import make_peaks
from scratchnet.layers import ResidualLayer
from scratchnet.network import DTYPES, make_network
from scratchnet.optim import SGD
from scratchnet.train import DivergenceGuard, step_targets, train_epoch
from scratchnet.report.stamp import cpu_model
from scratchnet.report.stamp import kernel_settings as stamp_kernel_settings, settings_text

CONFIGS = {
    "a": {"arch": "standard", "widths": [32] * 4, "batch": 32,
          "label": "standard 2 -> [32]*4 -> 5 tanh, batch 32",
          "short": "standard [32]*4, batch 32"},
    "b": {"arch": "standard", "widths": [32] * 4, "batch": 256,
          "label": "standard 2 -> [32]*4 -> 5 tanh, batch 256",
          "short": "standard [32]*4, batch 256"},
    "c": {"arch": "resnet", "widths": [32] * 21, "batch": 64,
          "label": "resnet 2 -> 32, 20 residual blocks of 32, tanh -> 5, batch 64",
          "short": "ResNet 20 x 32, batch 64"},
    "d": {"arch": "standard", "widths": [256] * 3, "batch": 1024,
          "label": "wide standard 2 -> 256 -> 256 -> 256 -> 5 tanh, batch 1024",
          "short": "wide 3 x 256, batch 1024"},
}
LR = 0.01
# What --as-avx2 sets before NumPy and the peers load: each library's own switch away from its
# AVX-512 code (NumPy's dispatch targets, OpenBLAS's kernels, MKL's and oneDNN's paths under
# PyTorch, PyTorch's own kernels, XLA's code generation). It makes the code paths an AVX2-only
# CPU runs, not its timings: the cores, caches and clock stay this machine's.
AVX2_ENV = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
            "OPENBLAS_CORETYPE": "Haswell", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
            "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
            "XLA_FLAGS": "--xla_cpu_max_isa=AVX2"}
# peer -> (the package it needs, its name in the summary table)
PEERS = {"pytorch": ("torch", "PyTorch"), "jax_step": ("jax", "JAX, jitted step"),
         "jax_scan": ("jax", "JAX, scanned epoch")}
MODULES = {"torch": ("torch",), "jax": ("jax", "jaxlib")}
INSTALL = {"torch": "PyTorch is not importable: skipping it "
                    "(make bench-peers, or pip install torch==2.13.0)",
           "jax": "JAX is not importable: skipping it "
                  "(make bench-peers, or pip install jax==0.10.2 jaxlib==0.10.2)"}

Runner = collections.namedtuple("Runner", "epoch loss info")
Runner.__doc__ = """One library training one network: ``epoch()`` trains one more epoch (and
returns when it is done), ``loss()`` is the mean cross-entropy on the whole training set,
``info()`` a dict of ``n_params``, ``param_dtype`` and ``input_dtype`` (several dtypes are
joined by commas, so a stray one shows)."""


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


def bench_network(config, n_features, n_classes, dtype="float64", seed=0):
    """The configuration's scratchnet network; the peers copy its initial weights."""
    arch, widths = config["arch"], config["widths"]
    if arch == "resnet":
        return make_network("resnet", n_features, n_classes, depth=len(widths) - 1,
                            width=widths[0], seed=seed, dtype=dtype)
    return make_network("standard", n_features, n_classes, depth=len(widths), width=widths,
                        seed=seed, dtype=dtype)


def network_layers(net):
    """The layers of ``net``, input to output, as (kind, params) pairs for a peer to copy.

    kind is "standard" (``W`` n_out x n_in, ``b``: tanh(W X + b)), "residual" (``W1``, ``W2``,
    ``b``: X + W2 tanh(W1 X + b)) or "head" (``W`` n x k, ``b``: logits W^T X + b).
    """
    layers = [("residual" if isinstance(layer, ResidualLayer) else "standard", layer.params)
              for layer in net.layers]
    return layers + [("head", net.head.params)]


def _dtype_names(arrays):
    return ",".join(sorted({str(array.dtype).replace("torch.", "") for array in arrays}))


def scratchnet_runner(config, X, C, dtype="float64", seed=0, threads=None):
    """Our network and :func:`train_epoch` (``threads`` is the BLAS's business, not ours)."""
    net = bench_network(config, X.shape[0], C.shape[0], dtype, seed)
    X, C = X.astype(net.dtype), C.astype(net.dtype)
    rng = np.random.default_rng(seed)
    optimizer = SGD(LR)
    params, grads = step_targets(net)
    guard = DivergenceGuard(None, net.n_classes)
    epochs = itertools.count()

    def epoch():
        train_epoch(net, X, C, optimizer, config["batch"], rng, params, grads, guard,
                    next(epochs))

    def info():
        arrays = [net.theta, net.grad] + [value for _, p in network_layers(net)
                                          for value in p.values()]
        return {"n_params": net.n_params, "param_dtype": _dtype_names(arrays),
                "input_dtype": _dtype_names([X, C])}
    return Runner(epoch, lambda: float(net.loss(X, C)), info)


def torch_runner(config, X, C, dtype="float64", seed=0, threads=None):
    """The same network in PyTorch (``threads`` intra-op threads); samples in rows, its way."""
    import torch
    from torch import nn

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    torch_dtype = getattr(torch, dtype)

    def linear(W, b=None):
        layer = nn.Linear(W.shape[1], W.shape[0], bias=b is not None, dtype=torch_dtype)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(W)))
            if b is not None:
                layer.bias.copy_(torch.from_numpy(b[:, 0]))
        return layer

    class Residual(nn.Module):
        def __init__(self, p):
            super().__init__()
            self.inner, self.outer = linear(p["W1"], p["b"]), linear(p["W2"])

        def forward(self, x):
            return x + self.outer(torch.tanh(self.inner(x)))

    modules = []
    for kind, p in network_layers(bench_network(config, X.shape[0], C.shape[0], dtype, seed)):
        if kind == "standard":
            modules += [linear(p["W"], p["b"]), nn.Tanh()]
        elif kind == "residual":
            modules.append(Residual(p))
        else:
            modules.append(linear(p["W"].T, p["b"]))
    model = nn.Sequential(*modules)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()  # the mean over the batch, as ours
    inputs = torch.from_numpy(np.ascontiguousarray(X.T, dtype=dtype))
    labels = torch.from_numpy(C.argmax(axis=0))
    m, batch = inputs.shape[0], config["batch"]

    def epoch():
        order = torch.randperm(m)
        inputs_epoch, labels_epoch = inputs[order], labels[order]
        for i in range(0, m, batch):
            optimizer.zero_grad()
            loss = loss_fn(model(inputs_epoch[i:i + batch]), labels_epoch[i:i + batch])
            loss.backward()
            optimizer.step()

    def loss():
        with torch.no_grad():
            return float(loss_fn(model(inputs), labels))

    def info():
        parameters = list(model.parameters())
        return {"n_params": sum(p.numel() for p in parameters),
                "param_dtype": _dtype_names(parameters), "input_dtype": _dtype_names([inputs])}
    return Runner(epoch, loss, info)


def _jax_network(config, X, C, dtype, seed):
    """JAX, set up for ``dtype``; the network's initial weights; its loss and SGD step.

    ``loss(params, X, C)`` is the mean cross-entropy with columns as samples, as ours;
    ``step(params, X, C)`` returns the parameters after one SGD step (pure functions).
    """
    import jax
    import jax.numpy as jnp

    # Without x64, JAX makes every float64 array float32; the process is of this dtype only.
    jax.config.update("jax_enable_x64", dtype == "float64")
    layers = network_layers(bench_network(config, X.shape[0], C.shape[0], dtype, seed))
    kinds = [kind for kind, _ in layers]
    params = [{key: jnp.asarray(value, dtype=dtype) for key, value in p.items()}
              for _, p in layers]

    def loss(params, X, C):
        for kind, p in zip(kinds, params):
            if kind == "standard":
                X = jnp.tanh(p["W"] @ X + p["b"])
            elif kind == "residual":
                X = X + p["W2"] @ jnp.tanh(p["W1"] @ X + p["b"])
            else:
                Z = p["W"].T @ X + p["b"]
        return -jnp.mean(jnp.sum(C * jax.nn.log_softmax(Z, axis=0), axis=0))

    def step(params, X, C):
        grads = jax.grad(loss)(params, X, C)
        return jax.tree.map(lambda p, g: p - LR * g, params, grads)
    return jax, params, loss, step


def _jax_info(params, inputs):
    leaves = [leaf for p in params for leaf in p.values()]
    return {"n_params": sum(leaf.size for leaf in leaves), "param_dtype": _dtype_names(leaves),
            "input_dtype": _dtype_names(inputs)}


def jax_step_runner(config, X, C, dtype="float64", seed=0, threads=None):
    """The same network in JAX: a jitted step per mini-batch, from a Python loop.

    The epoch is permuted on the host, one gather in Fortran order so that every mini-batch is
    a contiguous slice, as in :func:`train_epoch`; the parameters' buffers are donated to the
    step, which updates them in place.
    """
    jax, params, loss, step = _jax_network(config, X, C, dtype, seed)
    step = jax.jit(step, donate_argnums=0)
    full_loss = jax.jit(loss)
    X, C = X.astype(dtype), C.astype(dtype)
    rng = np.random.default_rng(seed)
    m, batch = X.shape[1], config["batch"]

    def epoch():
        nonlocal params
        order = rng.permutation(m)
        X_epoch, C_epoch = np.asfortranarray(X[:, order]), np.asfortranarray(C[:, order])
        for start in range(0, m, batch):
            params = step(params, X_epoch[:, start:start + batch], C_epoch[:, start:start + batch])
        jax.block_until_ready(params)

    return Runner(epoch, lambda: float(full_loss(params, X, C)),
                  lambda: _jax_info(params, [X, C]))


def jax_scan_runner(config, X, C, dtype="float64", seed=0, threads=None):
    """The same network in JAX: the whole epoch one jitted function, ``lax.scan`` over batches.

    The partial mini-batch at the end (25,000 is not a multiple of the batch sizes) is one more
    step, of its own shape, in the same compiled epoch, so every sample counts once.
    """
    jax, params, loss, step = _jax_network(config, X, C, dtype, seed)
    jnp = jax.numpy
    m, batch = X.shape[1], config["batch"]
    full = m // batch * batch

    def train_epoch_jax(params, key, X, C):
        key, subkey = jax.random.split(key)
        order = jax.random.permutation(subkey, m)
        X, C = X[:, order], C[:, order]
        if full:
            # (n, full) -> (batches, n, batch): scan walks the leading axis
            batches = tuple(A[:, :full].reshape(A.shape[0], full // batch, batch)
                            .transpose(1, 0, 2) for A in (X, C))
            params, _ = jax.lax.scan(lambda p, XC: (step(p, *XC), None), params, batches)
        if full < m:
            params = step(params, X[:, full:], C[:, full:])
        return params, key

    compiled = jax.jit(train_epoch_jax, donate_argnums=0)
    full_loss = jax.jit(loss)
    X, C = jnp.asarray(X, dtype=dtype), jnp.asarray(C, dtype=dtype)
    key = jax.random.key(seed)

    def epoch():
        nonlocal params, key
        params, key = compiled(params, key, X, C)
        jax.block_until_ready(params)

    return Runner(epoch, lambda: float(full_loss(params, X, C)),
                  lambda: _jax_info(params, [X, C]))


RUNNERS = {"scratchnet": scratchnet_runner, "pytorch": torch_runner,
           "jax_step": jax_step_runner, "jax_scan": jax_scan_runner}


def watched(run):
    """Run ``run()``; return its seconds and the cores other processes used meanwhile."""
    with CpuWatch() as watch:
        run()
    return watch.wall, watch.others


# The state of a peer's process: its name, dtype and threads, and the runner of the current
# configuration, kept between calls.
_peer = {}


def _peer_init(name, dtype, threads):
    _peer.update(name=name, dtype=dtype, threads=threads)
    if name.startswith("jax") and threads and hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        if threads < len(cores):
            # before JAX starts: XLA sizes its thread pools by the cores it may use
            os.sched_setaffinity(0, cores[:threads])


def _peer_start(config, X, C, seed):
    _peer["runner"] = RUNNERS[_peer["name"]](config, X, C, _peer["dtype"], seed,
                                             _peer["threads"])


def _peer_call(what):
    runner = _peer["runner"]
    return watched(runner.epoch) if what == "epoch" else getattr(runner, what)()


class PeerProcess:
    """A peer library, for one dtype, in a spawned process of its own.

    ``start(config, X, C)`` builds its runner (see :data:`RUNNERS`) there; ``epoch()`` returns
    the seconds of one more epoch and the cores other processes used meanwhile; ``loss()`` and
    ``info()`` are the runner's.
    """

    def __init__(self, name, dtype, threads=None):
        self.name = name
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"),
                                         initializer=_peer_init,
                                         initargs=(name, dtype, threads))

    def start(self, config, X, C, seed=0):
        self._pool.submit(_peer_start, config, X, C, seed).result()

    def epoch(self):
        return self._pool.submit(_peer_call, "epoch").result()

    def loss(self):
        return self._pool.submit(_peer_call, "loss").result()

    def info(self):
        return self._pool.submit(_peer_call, "info").result()

    def close(self):
        self._pool.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def start_runners(config, X, C, dtype, processes=(), seed=0):
    """{name: timed epoch} of scratchnet (here) and of every peer process, each warmed up by
    one epoch (JAX compiles in it); a timed epoch returns (seconds, other processes' cores)."""
    ours = scratchnet_runner(config, X, C, dtype, seed)
    ours.epoch()
    timed = {"scratchnet": lambda: watched(ours.epoch)}
    for process in processes:
        process.start(config, X, C, seed)
        process.epoch()
        timed[process.name] = process.epoch
    return timed


def one_round(timed, pause=0.2):
    """One epoch of each library in turn: {name: (seconds, other processes' cores)}.

    The pause lets the previous library's idle threads stop spinning before an epoch starts.
    """
    times = {}
    for name, epoch in timed.items():
        time.sleep(pause)
        times[name] = epoch()
    return times


def round_noise(times):
    """The cores other processes used over a round, its epochs weighted by their seconds (an
    epoch of a few jiffies alone would say little)."""
    return (sum(seconds * others for seconds, others in times.values())
            / sum(seconds for seconds, _ in times.values()))


def quiet_rounds(timed, epochs, noisy_cores=0.25, extra=None, pause=0.2, log=print):
    """Rounds of :func:`one_round` until ``epochs`` of them were quiet (other processes used
    at most ``noisy_cores`` cores), or at most ``epochs + extra`` rounds (``extra`` defaults to
    ``epochs``); return {name: median seconds} over the ``epochs`` quietest rounds and the
    cores other processes used in them (the mean).

    A noisy round is taken again as a whole, so that the kept rounds still give every library
    the same spells of the machine.
    """
    extra = epochs if extra is None else extra
    rounds = []
    while len(rounds) < epochs + extra:
        rounds.append(one_round(timed, pause))
        if sum(round_noise(times) <= noisy_cores for times in rounds) >= epochs:
            break
    kept = sorted(rounds, key=round_noise)[:epochs]
    others = statistics.mean(round_noise(times) for times in kept)
    noisy = sum(round_noise(times) > noisy_cores for times in rounds)
    if noisy:
        log(f"    other processes used over {noisy_cores} cores in {noisy} of {len(rounds)} "
            f"rounds; keeping the {epochs} quietest ({others:.2f} cores busy elsewhere)")
    return {name: statistics.median(times[name][0] for times in kept) for name in timed}, others


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


def gemm_gflops(dtype="float64", n=1024, repeats=10):
    """NumPy's matrix-multiply rate (GFLOP/s) in ``dtype``: best of ``repeats`` n x n products."""
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((n, n), dtype=dtype), rng.standard_normal((n, n), dtype=dtype)
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


def simd_extensions():
    """The SIMD extensions NumPy found on this CPU at run time (``__cpu_features__``)."""
    from numpy._core._multiarray_umath import __cpu_features__

    return [name for name, found in __cpu_features__.items() if found]


def simd_summary(extensions, as_avx2=False):
    """The vector extensions among ``extensions``, e.g. "AVX F16C FMA3 AVX2 (no AVX-512)"."""
    vector = [name for name in extensions
              if name.startswith(("AVX", "FMA", "F16C", "ASIMD", "SVE", "NEON", "VSX", "VX"))
              and not (as_avx2 and name.startswith("AVX512"))]
    text = " ".join(vector) or "none found"
    if as_avx2:
        text += " (AVX-512 present, its code switched off: --as-avx2)"
    elif "AVX2" in extensions and not any(name.startswith("AVX512") for name in extensions):
        text += " (no AVX-512)"
    return text


def available_peers(wanted=tuple(PEERS), log=print):
    """The peers among ``wanted`` whose package is importable; one line for each one missing."""
    packages = sorted({PEERS[name][0] for name in wanted})
    missing = [package for package in packages
               if not all(importlib.util.find_spec(module) for module in MODULES[package])]
    for package in missing:
        log(INSTALL[package])
    return [name for name in PEERS if name in wanted and PEERS[name][0] not in missing]


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _config_entry(key, medians, others, m, n_features, n_classes, log):
    config = CONFIGS[key]
    ours = medians["scratchnet"]
    entry = {"label": config["label"], "seconds_per_epoch": ours, "samples_per_s": m / ours,
             "other_cores": others}
    line = f"    {'scratchnet':<10} {m / ours:>10,.0f} samples/s ({ours:.3f} s/epoch)"
    if key == "d":
        entry["gflops"] = epoch_flops(config, n_features, n_classes, m) / ours / 1e9
        line += f", {entry['gflops']:.1f} GFLOP/s"
    log(line)
    entry["peers"] = {}
    for name, theirs in medians.items():
        if name == "scratchnet":
            continue
        entry["peers"][name] = {"seconds_per_epoch": theirs, "samples_per_s": m / theirs,
                                "ratio": theirs / ours}
        log(f"    {name:<10} {m / theirs:>10,.0f} samples/s ({theirs:.3f} s/epoch): "
            f"scratchnet is {theirs / ours:.2f}x")
    if "pytorch" in medians:
        # the keys of the layout from before JAX joined, which older tools read
        torch = entry["peers"]["pytorch"]
        entry.update(torch_seconds_per_epoch=torch["seconds_per_epoch"],
                     torch_samples_per_s=torch["samples_per_s"], ratio=torch["ratio"])
    return entry


def run_bench(configs=tuple(CONFIGS), dtypes=DTYPES, epochs=5, peers=tuple(PEERS),
              noisy_cores=0.25, log=print):
    """Time every configuration in every dtype: {dtype: the ``--json`` layout of that dtype}."""
    X, C = bench_data()
    n_features, m = X.shape
    n_classes = C.shape[0]
    blas, threads = blas_info()
    cpu, simd = cpu_model(), simd_extensions()
    peers = available_peers(peers, log)
    versions = {package: _version(package) for package in ("numpy", "torch", "jax", "jaxlib")}
    avx2, settings = in_avx2_view(), kernel_settings()
    log(f"CPU: {cpu}; SIMD: {simd_summary(simd, avx2)}; BLAS: {blas}")
    if settings:
        log(f"kernels chosen by the environment: {settings_text(settings)} (unset them in this "
            "command to measure the libraries' own choice)")
    log(f"{m} samples, median of {epochs} epochs after a warm-up"
        + (f", an epoch of each in turn: scratchnet, {', '.join(peers)}" if peers else ""))
    # Measured before any peer process starts, and again at the end, the higher kept: a busy
    # moment must not flatter the fraction of it that (d) reaches.
    gemm = {dtype: gemm_gflops(dtype) for dtype in dtypes}
    results = {}
    for dtype in dtypes:
        log(f"{dtype}: NumPy matrix multiply {gemm[dtype]:.1f} GFLOP/s")
        layout = {"dtype": dtype, "cpu": cpu, "simd": simd, "blas": blas, "threads": threads,
                  "as_avx2": avx2, "kernel_settings": settings, "samples": m, "epochs": epochs,
                  "versions": {k: v for k, v in versions.items() if v}}
        if "pytorch" in peers:
            layout["torch"] = versions["torch"]
        processes = [PeerProcess(name, dtype, threads) for name in peers]
        try:
            for key in configs:
                config = CONFIGS[key]
                log(f"({key}) {config['label']}, {dtype}")
                timed = start_runners(config, X, C, dtype, processes)
                medians, others = quiet_rounds(timed, epochs, noisy_cores, log=log)
                layout[key] = _config_entry(key, medians, others, m, n_features, n_classes, log)
        finally:
            for process in processes:
                process.close()
        results[dtype] = layout
    for dtype, layout in results.items():
        again = gemm_gflops(dtype)
        if again > gemm[dtype]:
            log(f"{dtype}: NumPy matrix multiply, measured again: {again:.1f} GFLOP/s (kept)")
            gemm[dtype] = again
        layout["gemm_gflops"] = gemm[dtype]
        if "d" in layout:
            d = layout["d"]
            d["frac_of_gemm"] = d["gemm_fraction"] = d["gflops"] / gemm[dtype]
            log(f"(d) {dtype} runs its matrix products at {d['gflops']:.1f} GFLOP/s, "
                f"{d['frac_of_gemm']:.0%} of NumPy's {gemm[dtype]:.1f} GFLOP/s")
    return results


def summary_table(results):
    """The figures as a markdown table, a row per configuration and dtype, for the README."""
    entries = [layout[key] for layout in results.values() for key in CONFIGS if key in layout]
    peers = [name for name in PEERS if any(name in entry["peers"] for entry in entries)]
    header = ["configuration", "dtype", "scratchnet"] + [PEERS[name][1] for name in peers]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in CONFIGS:
        for dtype, layout in results.items():
            if key not in layout:
                continue
            entry = layout[key]
            cells = [f"({key}) {CONFIGS[key]['short']}", dtype, f"{entry['samples_per_s']:,.0f}"]
            for name in peers:
                peer = entry["peers"].get(name)
                cells.append(f"{peer['samples_per_s']:,.0f} ({peer['ratio']:.2f}x)"
                             if peer else "-")
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def kernel_settings(environ=os.environ):
    """The stamp's :func:`~scratchnet.report.stamp.kernel_settings`, less those ``--as-avx2``
    set itself (the figures name that view already): the bench then measures the kernels they
    name, not the libraries' own choice, and says so."""
    view = in_avx2_view(environ)
    return {key: value for key, value in stamp_kernel_settings(environ).items()
            if not (view and AVX2_ENV.get(key) == value)}


def in_avx2_view(environ=os.environ):
    """Whether this process was started with :data:`AVX2_ENV` (by ``--as-avx2``)."""
    return all(environ.get(key) == value for key, value in AVX2_ENV.items())


def as_avx2(argv=None, environ=os.environ, execve=os.execve, features=None):
    """Start the bench again in a process whose environment holds :data:`AVX2_ENV` (NumPy and
    OpenBLAS read theirs when they load); return when this process is that one. Refused on a
    CPU without AVX2 and FMA3, where OpenBLAS's Haswell kernels would stop at an illegal
    instruction."""
    if in_avx2_view(environ):
        return
    found = simd_extensions() if features is None else features
    missing = [name for name in ("AVX2", "FMA3") if name not in found]
    if missing:
        raise ConfigError(f"--as-avx2 runs AVX2 code, and this CPU lacks {' and '.join(missing)}"
                          f" (NumPy found: {simd_summary(found)})")
    argv = sys.argv[1:] if argv is None else argv
    execve(sys.executable, [sys.executable, "-m", "scratchnet", *argv],
           {**environ, **AVX2_ENV})


def main(args):
    if args.as_avx2:
        as_avx2()
    peers = [name for name in PEERS if not (args.no_torch and name == "pytorch")
             and not (args.no_jax and name.startswith("jax"))]
    results = run_bench(configs=args.configs, dtypes=args.dtype, epochs=args.epochs, peers=peers)
    layout = next(iter(results.values()))
    print(f"\nSummary (samples/s; in brackets scratchnet's over the peer's) on "
          f"{layout['cpu']}, {simd_summary(layout['simd'], layout['as_avx2'])}, "
          f"{layout['blas']}:\n")
    print(summary_table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(layout if len(results) == 1 else results, f, indent=1)
            f.write("\n")
    return 0
