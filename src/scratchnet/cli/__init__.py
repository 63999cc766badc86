"""The command line: ``python -m scratchnet train|gradcheck|data`` (also installed as ``scratchnet``)."""
import argparse
import importlib
import math
import os
import sys
from pathlib import Path

from ..data import DATASETS, DataError, load_dataset, looks_like_path
from ..data import main as data_main
from ..network import ARCHITECTURES, DTYPES
from ..optim import OPTIMIZERS, SCHEDULES
from .runs import (DEFAULTS, ConfigError, build_network, full_config, progress_bar, run_training,
                   write_json)
from ..train import TrainingDiverged
from ..verify import network_gradient_test
from ..files import REPO


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (argparse prints its usage above them)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(kind, text):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {'an integer' if kind is int else 'a number'}: "
                                         f"{text!r}") from None
    # inf and nan parse as floats, and would train to NaN before anything says so.
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _positive(kind):
    def parse(text):
        value = _number(kind, text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


def _non_negative(kind):
    def parse(text):
        value = _number(kind, text)
        if not value >= 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value
    parse.__name__ = f"non-negative {kind.__name__}"
    return parse


def _momentum(text):
    value = _number(float, text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _widths(text):
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"widths must be comma-separated positive integers, e.g. 8,16,32; got {text!r}") from None
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"widths must be positive, got {text!r}")
    return widths


def _data(text):
    # A path goes on to the loader, whose error names what is wrong with the file.
    if text.lower() in DATASETS or looks_like_path(text):
        return text
    raise argparse.ArgumentTypeError(
        f"unknown data set {text!r}: choose one of {', '.join(DATASETS)} or the path of a .mat file")


def _configs(text):
    keys = tuple(key.strip() for key in text.split(","))
    if not keys or any(key not in ("a", "b", "c", "d") for key in keys):
        raise argparse.ArgumentTypeError(f"configurations are among a, b, c, d; got {text!r}")
    return keys


def _dtypes(text):
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",")))
    if not names or any(name not in DTYPES for name in names):
        raise argparse.ArgumentTypeError(
            f"dtypes are among {', '.join(DTYPES)}, comma-separated; got {text!r}")
    return names


def _add_network_arguments(parser):
    parser.add_argument("--data", type=_data, default=DEFAULTS["data"],
                        help="swissroll, peaks, gmm or the path of a .mat file (default: %(default)s)")
    parser.add_argument("--arch", choices=ARCHITECTURES, default=DEFAULTS["arch"])
    parser.add_argument("--depth", type=_positive(int), default=DEFAULTS["depth"],
                        help="hidden layers (residual blocks for a resnet; default: %(default)s)")
    widths = parser.add_mutually_exclusive_group()
    widths.add_argument("--width", type=_positive(int), default=DEFAULTS["width"],
                        help="width of every hidden layer (default: %(default)s)")
    widths.add_argument("--widths", type=_widths,
                        help="comma-separated widths, one per hidden layer (standard only)")
    parser.add_argument("--activation", choices=("tanh", "relu"), default=DEFAULTS["activation"])
    parser.add_argument("--seed", type=_non_negative(int), default=DEFAULTS["seed"])


def build_parser():
    parser = _Parser(
        prog="scratchnet", description="Deep learning from scratch in NumPy.")
    commands = parser.add_subparsers(dest="command", required=True)

    tr = commands.add_parser("train", help="train a network on a data set",
                             formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_network_arguments(tr)
    tr.add_argument("--optimizer", choices=OPTIMIZERS, default=DEFAULTS["optimizer"])
    tr.add_argument("--lr", type=_positive(float), default=DEFAULTS["lr"], help="learning rate")
    tr.add_argument("--schedule", choices=SCHEDULES, default=DEFAULTS["schedule"])
    tr.add_argument("--batch-size", type=_positive(int), default=DEFAULTS["batch_size"])
    tr.add_argument("--epochs", type=_positive(int), default=DEFAULTS["epochs"])
    tr.add_argument("--weight-decay", type=_non_negative(float), default=DEFAULTS["weight_decay"])
    tr.add_argument("--momentum", type=_momentum, default=DEFAULTS["momentum"],
                    help="momentum beta of the momentum and nesterov optimizers")
    tr.add_argument("--dtype", choices=DTYPES, default=DEFAULTS["dtype"],
                    help="precision of the training (the gradient tests are float64 always)")
    tr.add_argument("--eval-size", type=_positive(int), default=None,
                    help="measure the per-epoch figures on a random subsample of this size "
                         "(default: the whole sets)")
    tr.add_argument("--out", help="write config, data, history and final figures to this JSON file")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")

    gc = commands.add_parser("gradcheck", help="gradient test of a whole network",
                             formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_network_arguments(gc)
    gc.add_argument("--batch", type=_positive(int), default=32, help="samples in the test batch")
    gc.add_argument("--eps0", type=_positive(float), default=0.1)
    gc.add_argument("--rows", type=_positive(int), default=16, help="halvings of eps")

    commands.add_parser("data", help="make sure the three data sets exist (generate look-alikes)")

    bench = commands.add_parser(
        "bench", help="samples per second of a training epoch, against PyTorch and JAX "
        "when they are importable", description="Samples per second of a training epoch of "
        "four configurations, in scratchnet and, each in a process of its own, an epoch of "
        "each in turn, in PyTorch and JAX (a jitted step per mini-batch, and the whole epoch "
        "under lax.scan) when they are importable (make bench-peers installs them).")
    bench.add_argument("--json", help="write the figures to this JSON file: the layout of "
                       "one dtype, or {dtype: layout} for several")
    bench.add_argument("--epochs", type=_positive(int), default=5,
                       help="epochs timed after a warm-up (the median counts)")
    bench.add_argument("--configs", type=_configs, default=("a", "b", "c", "d"),
                       help="comma-separated configurations among a, b, c, d")
    bench.add_argument("--dtype", type=_dtypes, default=DTYPES,
                       help="float32, float64 or both, comma-separated (default: both)")
    bench.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    bench.add_argument("--no-jax", action="store_true",
                       help="skip the JAX comparisons (jitted step and scanned epoch)")

    sw = commands.add_parser("sweep", help="run a grid of parameters through a notebook "
                             "with papermill (resumable), then aggregate")
    sw.add_argument("file", help="the sweep file (YAML), e.g. sweeps/softmax_lr_batch.yaml")
    sw.add_argument("--workers", type=_positive(int), default=None,
                    help="local worker processes (default: one per core)")
    sw.add_argument("--scheduler", help="address of a Dask distributed scheduler to run the "
                    "points on instead, e.g. tcp://127.0.0.1:8786")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _config(args):
    """The run configuration (see scratchnet.cli.runs.DEFAULTS) of parsed arguments."""
    return {key: getattr(args, key) for key in DEFAULTS if hasattr(args, key)}


class _Progress:
    """One line on stderr, rewritten every epoch (only on a terminal)."""

    def __init__(self, epochs, enabled):
        self.epochs, self.enabled = epochs, enabled

    def __call__(self, epoch, history):
        if not self.enabled:
            return
        progress_bar(epoch, self.epochs, f"epoch {epoch}/{self.epochs} train "
                     f"{history.train_acc[-1]:.4f} val {history.val_acc[-1]:.4f}")


def run_train(args):
    progress = _Progress(args.epochs, enabled=not args.quiet and sys.stderr.isatty())
    result = run_training(_config(args), callback=progress)
    final = result["final"]
    print(f"{result['data']['name']}: train accuracy {final['train_acc']:.4f}, validation "
          f"accuracy {final['val_acc']:.4f} after {args.epochs} epochs "
          f"({result['seconds']:.1f} s)")
    if args.out:
        write_json(result, args.out)
    return 0


def run_gradcheck(args):
    data = load_dataset(args.data)
    # Whatever precision training uses, derivatives are checked in float64.
    config = full_config({**_config(args), "dtype": "float64"})
    net, rng = build_network(config, data)
    batch = rng.choice(data.Xt.shape[1], size=min(args.batch, data.Xt.shape[1]), replace=False)
    result = network_gradient_test(net, data.Xt[:, batch], data.Ct[:, batch], rng,
                                   eps0=args.eps0, K=args.rows)
    print(f"gradient test of a {args.arch} network, depth {len(net.layers)} layers, "
          f"{net.n_params} parameters, on {len(batch)} samples of {data.name}")
    print(result.format())
    verdict = "passes" if result.passes() else "FAILS"
    print(f"fitted order: first {result.order('first'):.3f}, second "
          f"{result.order('second'):.3f} over {result.clean_rows()} rows above round-off: {verdict}")
    return 0 if result.passes() else 1


def _writable(path):
    """None when a file can be written at ``path``, else why not (checked before training, so
    a run is not lost at its end)."""
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


# The commands whose code lives in the checkout beside the package, not in the library:
# command -> (folder, module).
TOOLS = {"bench": ("benchmarks", "bench"), "sweep": ("sweeps", "runner")}


def load_tool(command):
    """The module of ``command`` (the bench, the sweep runner), from the checkout's folder."""
    folder, name = TOOLS[command]
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
    problem = _writable(args.out) if getattr(args, "out", None) else None
    if problem:
        parser.error(f"argument --out: cannot write {args.out}: {problem}")
    try:
        if args.command == "train":
            return run_train(args)
        if args.command == "gradcheck":
            return run_gradcheck(args)
        if args.command in TOOLS:
            return load_tool(args.command).main(args)
        return data_main([])
    except (DataError, ConfigError) as error:
        print(f"scratchnet: error: {error}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"scratchnet: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
