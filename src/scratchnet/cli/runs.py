"""One training run from a configuration dict (the keys of :data:`DEFAULTS`): what ``scratchnet
train`` and the sweep notebook share. The result is a JSON-ready dict: ``config``, ``data`` (name,
source, sha256, ...), ``history`` (a record of :data:`EPOCH_KEYS` per epoch), ``eval_size``,
``final`` (the last epoch's accuracies and losses), ``n_params``, ``seconds`` and ``stamp``."""
import json
import math
import sys

import numpy as np

from ..data import load_dataset
from ..files import write_atomic
from ..network import make_network
from ..optim import make_optimizer, make_schedule
from ..report.stamp import stamp
from ..study import seeded, timed
from ..train import train

# A good configuration for every course data set, not a toy (see the README).
DEFAULTS = dict(data="peaks", arch="standard", depth=3, width=64, widths=None,
                activation="tanh", optimizer="adam", lr=1e-3, schedule="cosine",
                batch_size=64, epochs=60, weight_decay=0.0, momentum=0.9, seed=0,
                eval_size=None, dtype="float32")

EPOCH_KEYS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc")


def progress_bar(done, total, text, stream=None, width=30):
    """Rewrite one line on ``stream`` (stderr): ``[####......] text``; end it when done."""
    stream = stream or sys.stderr
    filled = int(width * done / total) if total else width
    end = "\n" if done >= total else ""
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {text}{end}")
    stream.flush()


class ConfigError(ValueError):
    """A configuration that cannot run: the message is one line naming the key and the value."""


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_finite(value):
    return (_is_int(value) or isinstance(value, (float, np.floating))) and math.isfinite(value)


def full_config(config):
    """``config`` completed with the defaults and checked: unknown keys refused by name, and,
    before anything runs, the values no run can use (a non-finite rate would train to NaN and
    look like divergence; a negative seed would fail in NumPy)."""
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown configuration keys {unknown}; known: {sorted(DEFAULTS)}")
    config = {**DEFAULTS, **config}

    def need(key, ok, what):
        if not ok(config[key]):
            raise ConfigError(f"{key} must be {what}, got {config[key]!r}")

    need("lr", lambda v: _is_finite(v) and v > 0, "a finite number > 0")
    need("weight_decay", lambda v: _is_finite(v) and v >= 0, "a finite number >= 0")
    need("momentum", lambda v: _is_finite(v) and 0 <= v < 1, "a finite number in [0, 1)")
    need("seed", lambda v: _is_int(v) and v >= 0, "an integer >= 0")
    for key in ("epochs", "batch_size"):
        need(key, lambda v: _is_int(v) and v >= 1, "an integer >= 1")
    need("dtype", lambda v: v in ("float32", "float64"), "'float32' or 'float64'")
    need("eval_size", lambda v: v is None or (_is_int(v) and v >= 1), "None or an integer >= 1")
    return config


def checked_schedule(config):
    """The learning-rate schedule of a configuration, refused when it leaves the finite
    numbers at some epoch: the error names the rate that was given, not the NaN it became."""
    schedule = make_schedule(config["schedule"], config["lr"], config["epochs"])
    for epoch in range(config["epochs"]):
        rate = schedule(epoch)
        if not (math.isfinite(rate) and rate > 0):
            raise ConfigError(f"lr {config['lr']!r} with the {config['schedule']} schedule "
                              f"becomes {rate} at epoch {epoch + 1}; give a smaller lr")
    return schedule


def build_network(config, data):
    """The network of a configuration and the Generator its training draws from: independent
    streams of one seed (:func:`scratchnet.study.seeded`)."""
    widths = config["widths"]
    if widths is not None and config["arch"] == "resnet":
        raise ValueError("widths is for the standard architecture; a resnet has one width")
    width = list(widths) if widths is not None else config["width"]
    depth = len(widths) if widths is not None else config["depth"]
    init_rng, train_rng = seeded(config["seed"])
    net = make_network(config["arch"], data.n_features, data.n_classes, depth, width,
                       config["activation"], seed=init_rng,
                       weight_decay=config["weight_decay"], dtype=config["dtype"])
    return net, train_rng


def run_training(config, callback=None, quiet=False):
    """Train the configuration's network on its data set; return the result dict."""
    config = full_config(config)
    data = load_dataset(config["data"], quiet=quiet)
    schedule = checked_schedule(config)
    net, rng = build_network(config, data)
    optimizer = make_optimizer(config["optimizer"], config["lr"], beta=config["momentum"])
    history, seconds, _ = timed(train, net, data.Xt, data.Ct, data.Xv, data.Cv, optimizer,
                                epochs=config["epochs"], batch_size=config["batch_size"], rng=rng,
                                schedule=schedule, eval_size=config["eval_size"], callback=callback)
    per_epoch = [dict(zip(EPOCH_KEYS, values))
                 for values in zip(*(getattr(history, key) for key in EPOCH_KEYS))]
    return {"config": config, "data": data.describe(), "history": per_epoch,
            "eval_size": history.eval_size, "final": history.final(),
            "n_params": net.n_params, "seconds": seconds, "stamp": stamp()}


def write_json(data, path):
    """Write ``data`` as JSON to ``path`` atomically, with the mode the umask gives."""
    return write_atomic(path, json.dumps(data, indent=1) + "\n")
