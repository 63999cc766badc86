"""The command line: ``scratchnet train|gradcheck|data|bench|sweep`` (or python -m scratchnet)."""
import argparse
import importlib
import math
import os
import sys
from pathlib import Path

from ..data import DATASETS, DataError, load_dataset, looks_like_path, main as data_main
from ..files import REPO
from ..network import ARCHITECTURES, DTYPES
from ..optim import OPTIMIZERS, SCHEDULES
from ..train import TrainingDiverged
from ..verify import network_gradient_test
from .runs import (DEFAULTS, ConfigError, build_network, full_config, progress_bar, run_training,
                   write_json)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (argparse prints its usage above them)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(kind, ok, what):
    """A parser of finite ``kind`` numbers that refuses the ones not ``ok``: "must be ``what``"."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {'an integer' if kind is int else 'a number'}: "
                                             f"{text!r}") from None
        # inf and nan parse as floats, and would train to NaN before anything says so.
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    return parse


_positive_int = _number(int, lambda value: value > 0, "positive")
_positive_float = _number(float, lambda value: value > 0, "positive")
_non_negative_int = _number(int, lambda value: value >= 0, ">= 0")
_non_negative_float = _number(float, lambda value: value >= 0, ">= 0")
_momentum = _number(float, lambda value: 0 <= value < 1, "in [0, 1)")


def _widths(text):
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("widths must be comma-separated positive integers, "
                                         f"e.g. 8,16,32; got {text!r}") from None
    if min(widths) < 1:
        raise argparse.ArgumentTypeError(f"widths must be positive, got {text!r}")
    return widths


def _data(text):
    # A path goes on to the loader, whose error names what is wrong with the file.
    if text.lower() in DATASETS or looks_like_path(text):
        return text
    raise argparse.ArgumentTypeError(f"unknown data set {text!r}: choose one of "
                                     f"{', '.join(DATASETS)} or the path of a .mat file")


def _among(choices, what):
    """A parser of comma-separated names among ``choices``, each kept once, in the order given."""
    def parse(text):
        names = tuple(dict.fromkeys(name.strip() for name in text.split(",")))
        if any(name not in choices for name in names):
            raise argparse.ArgumentTypeError(f"{what}; got {text!r}")
        return names
    return parse


def build_parser():
    parser = _Parser(prog="scratchnet", description="Deep learning from scratch in NumPy.")
    commands = parser.add_subparsers(dest="command", required=True)
    network = argparse.ArgumentParser(add_help=False)
    network.add_argument("--data", type=_data, default=DEFAULTS["data"],
                         help="swissroll, peaks, gmm or the path of a .mat file")
    network.add_argument("--arch", choices=ARCHITECTURES, default=DEFAULTS["arch"])
    network.add_argument("--depth", type=_positive_int, default=DEFAULTS["depth"],
                         help="hidden layers (residual blocks for a resnet)")
    widths = network.add_mutually_exclusive_group()
    widths.add_argument("--width", type=_positive_int, default=DEFAULTS["width"],
                        help="width of every hidden layer")
    widths.add_argument("--widths", type=_widths,
                        help="comma-separated widths, one per hidden layer (standard only)")
    network.add_argument("--activation", choices=("tanh", "relu"), default=DEFAULTS["activation"])
    network.add_argument("--seed", type=_non_negative_int, default=DEFAULTS["seed"])
    with_defaults = dict(parents=[network], formatter_class=argparse.ArgumentDefaultsHelpFormatter)

    tr = commands.add_parser("train", help="train a network on a data set", **with_defaults)
    tr.add_argument("--optimizer", choices=OPTIMIZERS, default=DEFAULTS["optimizer"])
    tr.add_argument("--lr", type=_positive_float, default=DEFAULTS["lr"], help="learning rate")
    tr.add_argument("--schedule", choices=SCHEDULES, default=DEFAULTS["schedule"])
    tr.add_argument("--batch-size", type=_positive_int, default=DEFAULTS["batch_size"])
    tr.add_argument("--epochs", type=_positive_int, default=DEFAULTS["epochs"])
    tr.add_argument("--weight-decay", type=_non_negative_float, default=DEFAULTS["weight_decay"])
    tr.add_argument("--momentum", type=_momentum, default=DEFAULTS["momentum"],
                    help="momentum beta of the momentum and nesterov optimizers")
    tr.add_argument("--dtype", choices=DTYPES, default=DEFAULTS["dtype"],
                    help="precision of the training (the gradient tests are float64 always)")
    tr.add_argument("--eval-size", type=_positive_int, default=None, help="measure the "
                    "per-epoch figures on a random subsample of this size (None: the whole sets)")
    tr.add_argument("--out", help="write config, data, history and final figures to this JSON file")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(run=run_train)

    gc = commands.add_parser("gradcheck", help="gradient test of a whole network", **with_defaults)
    gc.add_argument("--batch", type=_positive_int, default=32, help="samples in the test batch")
    gc.add_argument("--eps0", type=_positive_float, default=0.1)
    gc.add_argument("--rows", type=_positive_int, default=16, help="halvings of eps")
    gc.set_defaults(run=run_gradcheck)

    data = commands.add_parser("data", help="make sure the three data sets exist (generate "
                               "look-alikes)")
    data.set_defaults(run=lambda args: data_main([]))

    bench = commands.add_parser(
        "bench", help="samples per second of a training epoch, against PyTorch and JAX "
        "when they are importable", description="Samples per second of a training epoch of "
        "four configurations, in scratchnet and, each in a process of its own, an epoch of "
        "each in turn, in PyTorch and JAX (a jitted step per mini-batch, and the whole epoch "
        "under lax.scan) when they are importable (make bench-peers installs them).")
    bench.add_argument("--json", help="write the figures to this JSON file: the layout of "
                       "one dtype, or {dtype: layout} for several")
    bench.add_argument("--epochs", type=_positive_int, default=5,
                       help="epochs timed after a warm-up (the median counts)")
    bench.add_argument("--configs", default=("a", "b", "c", "d"), type=_among(
                           ("a", "b", "c", "d"), "configurations are among a, b, c, d"),
                       help="comma-separated configurations among a, b, c, d")
    bench.add_argument("--dtype", default=DTYPES, type=_among(
                           DTYPES, f"dtypes are among {', '.join(DTYPES)}, comma-separated"),
                       help="float32, float64 or both, comma-separated (default: both)")
    bench.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    bench.add_argument("--no-jax", action="store_true",
                       help="skip the JAX comparisons (jitted step and scanned epoch)")
    bench.add_argument("--as-avx2", action="store_true",
                       help="switch off the AVX-512 code of NumPy, OpenBLAS, PyTorch and XLA, "
                       "the nearest an AVX-512 CPU comes to one with AVX2 only")

    sw = commands.add_parser("sweep", help="run a grid of parameters through a notebook "
                             "with papermill (resumable), then aggregate")
    sw.add_argument("file", help="the sweep file (YAML), e.g. sweeps/softmax_lr_batch.yaml")
    sw.add_argument("--workers", type=_positive_int, default=None,
                    help="local worker processes (default: one per core)")
    sw.add_argument("--scheduler", help="address of a Dask distributed scheduler to run the "
                    "points on instead, e.g. tcp://127.0.0.1:8786")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    for tool in (bench, sw):
        tool.set_defaults(run=lambda args: load_tool(args.command).main(args))
    return parser


def _config(args):
    """The run configuration (see scratchnet.cli.runs.DEFAULTS) of parsed arguments."""
    return {key: getattr(args, key) for key in DEFAULTS if hasattr(args, key)}


def run_train(args):
    def progress(epoch, history):
        progress_bar(epoch, args.epochs, f"epoch {epoch}/{args.epochs} train "
                     f"{history.train_acc[-1]:.4f} val {history.val_acc[-1]:.4f}")

    # One line on stderr, rewritten every epoch, only on a terminal.
    show = not args.quiet and sys.stderr.isatty()
    result = run_training(_config(args), callback=progress if show else None)
    final = result["final"]
    print(f"{result['data']['name']}: train accuracy {final['train_acc']:.4f}, validation "
          f"accuracy {final['val_acc']:.4f} after {args.epochs} epochs ({result['seconds']:.1f} s)")
    if args.out:
        write_json(result, args.out)
    return 0


def run_gradcheck(args):
    data = load_dataset(args.data)
    # Whatever precision training uses, derivatives are checked in float64.
    config = full_config({**_config(args), "dtype": "float64"})
    net, rng = build_network(config, data)
    batch = rng.choice(data.m_train, size=min(args.batch, data.m_train), replace=False)
    result = network_gradient_test(net, data.Xt[:, batch], data.Ct[:, batch], rng,
                                   eps0=args.eps0, K=args.rows)
    print(f"gradient test of a {args.arch} network, depth {len(net.layers)} layers, "
          f"{net.n_params} parameters, on {len(batch)} samples of {data.name}")
    print(result.format())
    verdict = "passes" if result.passes() else "FAILS"
    print(f"fitted order: first {result.order('first'):.3f}, second {result.order('second'):.3f}"
          f" over {result.clean_rows()} rows above round-off: {verdict}")
    return 0 if result.passes() else 1


def _writable(path):
    """None when a file can be written at ``path``, else why not (before training, not after)."""
    path = Path(path)
    if path.is_dir():
        return "it is a folder"
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if folder is None or not folder.is_dir():
        return f"{folder} is not a folder"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"cannot create {path.parent} ({error.strerror})"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return f"{path.parent} is not writable"
    return None


def load_tool(command):
    """The module of a command whose code lives in the checkout, not in the library."""
    folder, name = {"bench": ("benchmarks", "bench"), "sweep": ("sweeps", "runner")}[command]
    path = REPO / folder
    if not (path / f"{name}.py").is_file():
        raise ConfigError(f"the {command} lives in a source checkout's {folder}/ folder, and "
                          f"{path} has no {name}.py: run scratchnet {command} from a clone")
    if str(path) not in sys.path:
        # on sys.path, not loaded from a file: spawned processes import it by name
        sys.path.insert(0, str(path))
    return importlib.import_module(name)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "widths", None) is not None and args.arch == "resnet":
        parser.error("argument --widths: for the standard architecture; a resnet has one --width")
    if getattr(args, "out", None) and (problem := _writable(args.out)):
        parser.error(f"argument --out: cannot write {args.out}: {problem}")
    try:
        return args.run(args)
    except (DataError, ConfigError, TrainingDiverged) as error:
        print(f"scratchnet: error: {error}", file=sys.stderr)
        return 1 if isinstance(error, TrainingDiverged) else 2
