"""One training run from a configuration dict: what ``scratchnet train`` and the sweep notebook share.

A configuration holds the keys of :data:`DEFAULTS`; the result is a JSON-ready dict with
``config``, ``data`` (name, source, sha256, ...), ``history`` (a record per epoch:
``epoch, lr, train_loss, train_acc, val_loss, val_acc``), ``eval_size``, ``final``
(``train_acc, val_acc, train_loss, val_loss``), ``n_params`` and ``seconds``.
"""
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .data import load_dataset
from .network import make_network
from .optim import make_optimizer, make_schedule
from .train import train

# A good configuration for every course data set, not a toy (see the README).
DEFAULTS = dict(data="peaks", arch="standard", depth=3, width=64, widths=None,
                activation="tanh", optimizer="adam", lr=1e-3, schedule="cosine",
                batch_size=64, epochs=60, weight_decay=0.0, seed=0, eval_size=None,
                dtype="float64")

EPOCH_KEYS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc")


def progress_bar(done, total, text, stream=None, width=30):
    """Rewrite one line on ``stream`` (stderr): ``[####......] text``; end it when done."""
    stream = stream or sys.stderr
    filled = int(width * done / total) if total else width
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {text}")
    if done >= total:
        stream.write("\n")
    stream.flush()


def full_config(config):
    """``config`` completed with the defaults; unknown keys are refused with their names."""
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown configuration keys {unknown}; known: {sorted(DEFAULTS)}")
    return {**DEFAULTS, **config}


def build_network(config, data):
    """The network of a configuration and the Generator its training draws from.

    One seed feeds both through independent streams (SeedSequence.spawn), so the
    initial weights do not depend on how many random numbers the training draws.
    """
    widths = config["widths"]
    if widths is not None and config["arch"] == "resnet":
        raise ValueError("widths is for the standard architecture; a resnet has one width")
    width = list(widths) if widths is not None else config["width"]
    depth = len(widths) if widths is not None else config["depth"]
    seed_net, seed_train = np.random.SeedSequence(config["seed"]).spawn(2)
    net = make_network(config["arch"], data.n_features, data.n_classes, depth, width,
                       config["activation"], seed=np.random.default_rng(seed_net),
                       weight_decay=config["weight_decay"], dtype=config["dtype"])
    return net, np.random.default_rng(seed_train)


def train_network(config, data, callback=None):
    """Train the network of a full configuration on a loaded data set.

    Returns the trained network, its :class:`~scratchnet.train.History` and the seconds the
    training took.
    """
    net, rng = build_network(config, data)
    optimizer = make_optimizer(config["optimizer"], config["lr"])
    schedule = make_schedule(config["schedule"], config["lr"], config["epochs"])
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
            "n_params": net.n_params, "seconds": seconds}


def write_json(data, path):
    """Write ``data`` as JSON to ``path`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
