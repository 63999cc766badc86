"""One training run from a configuration dict: what ``scratchnet train`` and the sweep notebook share.

A configuration holds the keys of :data:`DEFAULTS`; the result is a JSON-ready dict with
``config``, ``data`` (name, source, sha256, ...), ``history`` (a record per epoch:
``epoch, lr, train_loss, train_acc, val_loss, val_acc``), ``eval_size``, ``final``
(``train_acc, val_acc, train_loss, val_loss``), ``n_params``, ``seconds`` and ``stamp`` (what it
ran on, :func:`scratchnet.report.stamp.stamp`).
"""
import json
import math
import sys
import time

import numpy as np

from ..data import load_dataset
from ..files import write_atomic
from ..report.stamp import stamp
from ..network import make_network
from ..optim import make_optimizer, make_schedule
from ..study import seeded
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
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {text}")
    if done >= total:
        stream.write("\n")
    stream.flush()


class ConfigError(ValueError):
    """A configuration that cannot run: the message is one line naming the key and the value."""


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_config(config):
    """Refuse, before anything runs, the values no run can use; return ``config``.

    A non-finite rate would train to NaN and report it as divergence, and a negative seed
    fails deep inside NumPy, so both are caught here with the key that holds them.
    """
    def need(ok, key, what):
        if not ok:
            raise ConfigError(f"{key} must be {what}, got {config[key]!r}")

    number = {key: _is_number(config[key]) and math.isfinite(config[key])
              for key in ("lr", "weight_decay", "momentum")}
    need(number["lr"] and config["lr"] > 0, "lr", "a finite number > 0")
    need(number["weight_decay"] and config["weight_decay"] >= 0, "weight_decay",
         "a finite number >= 0")
    need(number["momentum"] and 0 <= config["momentum"] < 1, "momentum",
         "a finite number in [0, 1)")
    need(_is_int(config["seed"]) and config["seed"] >= 0, "seed", "an integer >= 0")
    for key in ("epochs", "batch_size"):
        need(_is_int(config[key]) and config[key] >= 1, key, "an integer >= 1")
    need(config["dtype"] in ("float32", "float64"), "dtype", "'float32' or 'float64'")
    need(config["eval_size"] is None or (_is_int(config["eval_size"]) and config["eval_size"] >= 1),
         "eval_size", "None or an integer >= 1")
    return config


def full_config(config):
    """``config`` completed with the defaults and checked (:func:`check_config`); unknown keys
    are refused with their names."""
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown configuration keys {unknown}; known: {sorted(DEFAULTS)}")
    return check_config({**DEFAULTS, **config})


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
    """The network of a configuration and the Generator its training draws from.

    One seed feeds both through independent streams (:func:`scratchnet.study.seeded`), so the
    initial weights do not depend on how many random numbers the training draws.
    """
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


def train_network(config, data, callback=None):
    """Train the network of a full configuration on a loaded data set.

    Returns the trained network, its :class:`~scratchnet.train.History` and the seconds the
    training took.
    """
    schedule = checked_schedule(config)
    net, rng = build_network(config, data)
    optimizer = make_optimizer(config["optimizer"], config["lr"], beta=config["momentum"])
    start = time.perf_counter()
    history = train(net, data.Xt, data.Ct, data.Xv, data.Cv, optimizer,
                    epochs=config["epochs"], batch_size=config["batch_size"], rng=rng,
                    schedule=schedule, eval_size=config["eval_size"], callback=callback)
    return net, history, time.perf_counter() - start


def run_training(config, callback=None, quiet=False):
    """Train the configuration's network on its data set; return the result dict."""
    config = full_config(config)
    data = load_dataset(config["data"], quiet=quiet)
    net, history, seconds = train_network(config, data, callback)
    record = history.to_dict()
    per_epoch = [dict(zip(EPOCH_KEYS, values))
                 for values in zip(*(record[key] for key in EPOCH_KEYS))]
    return {"config": config, "data": data.describe(), "history": per_epoch,
            "eval_size": history.eval_size, "final": history.final(),
            "n_params": net.n_params, "seconds": seconds, "stamp": stamp()}


def write_json(data, path):
    """Write ``data`` as JSON to ``path`` atomically, with the mode the umask gives."""
    return write_atomic(path, json.dumps(data, indent=1) + "\n")
