"""Parameter sweeps: a grid in a YAML file, each point run through a notebook with papermill.

A sweep file names a notebook, parameters fixed for every point, lists of values per varying
parameter (their product is the grid) and seeds (each grid point is repeated per seed)::

    notebook: notebooks/sweeps/train.ipynb
    fixed: {data: peaks, depth: 0, optimizer: momentum, epochs: 20}
    grid:
      lr: [0.01, 0.1, 1.0]
      batch_size: [16, 64, 256]
    seeds: [0, 1]

Every point is executed into ``build/sweeps/<name>/<point>.ipynb`` and its notebook writes
``<point>.json`` (the notebook takes a ``result_path`` parameter). When papermill returns, the
runner writes ``<point>.done.json`` with the point's parameters: a point whose marker matches
is done and is skipped, so an interrupted sweep continues where it stopped. A failing point is
recorded in ``<point>.error.txt`` and does not stop the others; so is a cell that runs over the
time limit (``$SCRATCHNET_CELL_TIMEOUT`` seconds, see :func:`scratchnet.report.pipeline.cell_timeout`).

Points run in a local process pool, or on a Dask distributed scheduler (dask's
concurrent.futures executor) with ``scheduler=ADDRESS``. :func:`aggregate` writes one CSV,
one markdown table and a figure of the final accuracies, mean and spread over seeds.

The runner is not a part of the library: ``scratchnet sweep`` imports it from the checkout
(:func:`scratchnet.cli.load_tool`), as it does the bench.
"""
import csv
import itertools
import json
import math
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchnet.cli.runs import ConfigError, progress_bar, write_json
from scratchnet.files import REPO, one_line
from scratchnet.report.params import check_value, literal_defaults

RESULT_PARAMETER = "result_path"


class SweepError(ConfigError):
    """A sweep file that cannot run: the message is one line and names the file."""


@dataclass
class Sweep:
    """A validated sweep: the grid's points and where their outputs go."""

    name: str
    notebook: Path
    fixed: dict
    grid: dict
    seeds: list
    out_dir: Path

    def points(self):
        """(point id, parameters) for every grid point and seed, in the file's order."""
        keys = list(self.grid)
        points = []
        for values in itertools.product(*(self.grid[key] for key in keys)):
            for seed in self.seeds:
                varying = dict(zip(keys, values))
                if seed is not None:
                    varying["seed"] = seed
                points.append((point_id(varying), {**self.fixed, **varying}))
        return points


def point_id(varying):
    """A file-safe, readable name of a point: ``lr=0.1,batch_size=16,seed=0``."""
    text = ",".join(f"{key}={value}" for key, value in varying.items()) or "point"
    return re.sub(r"[^A-Za-z0-9.,=+_-]+", "-", text)


def load_sweep(path, out_root=None):
    """Read and check a sweep file; raise SweepError (one line) before anything runs."""
    import yaml
    from papermill import inspect_notebook

    path = Path(path)
    where = path.name
    try:
        spec = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"{path}: no such sweep file") from None
    except (OSError, yaml.YAMLError) as error:
        raise SweepError(f"{where}: not a readable YAML file ({one_line(error, 200)})") from None
    if not isinstance(spec, dict):
        raise SweepError(f"{where}: expected a mapping with notebook, fixed, grid and seeds")
    unknown = sorted(set(spec) - {"notebook", "name", "fixed", "grid", "seeds"})
    if unknown:
        raise SweepError(f"{where}: unknown keys {unknown}; "
                         "expected notebook, name, fixed, grid, seeds")
    if "notebook" not in spec:
        raise SweepError(f"{where}: no notebook named")
    notebook = Path(spec["notebook"])
    if not notebook.is_absolute():
        notebook = REPO / notebook
    if not notebook.is_file():
        raise SweepError(f"{where}: notebook {spec['notebook']} does not exist")
    fixed = spec.get("fixed") or {}
    grid = spec.get("grid") or {}
    if not isinstance(fixed, dict) or not isinstance(grid, dict):
        raise SweepError(f"{where}: fixed and grid must be mappings of parameter names")
    for key, values in grid.items():
        if not isinstance(values, list):
            raise SweepError(f"{where}: grid parameter {key} must be a list of values")
        if not values:
            raise SweepError(f"{where}: grid parameter {key} has an empty list of values")
    seeds = spec.get("seeds", [None])
    if not isinstance(seeds, list) or not seeds:
        raise SweepError(f"{where}: seeds must be a non-empty list")
    both = sorted(set(fixed) & set(grid))
    if both:
        raise SweepError(f"{where}: {both} both fixed and in the grid")
    known = set(inspect_notebook(str(notebook)))
    if not known:
        raise SweepError(f"{where}: notebook {spec['notebook']} has no cell tagged parameters")
    used = set(fixed) | set(grid) | ({"seed"} if seeds != [None] else set())
    unknown = sorted(used - known)
    if unknown:
        raise SweepError(f"{where}: unknown parameter {', '.join(unknown)} for "
                         f"{notebook.name} (it takes {', '.join(sorted(known))})")
    if RESULT_PARAMETER not in known:
        raise SweepError(f"{where}: notebook {notebook.name} has no {RESULT_PARAMETER} parameter")
    defaults = parameter_defaults(notebook)
    values = [(key, value) for key, value in fixed.items()]
    values += [(key, value) for key, grid_values in grid.items() for value in grid_values]
    values += [("seed", seed) for seed in seeds if seed is not None]
    for key, value in values:
        message = check_value(key, value, defaults.get(key))
        if message:
            raise SweepError(f"{where}: {message.split('; ')[0]}")
    name = spec.get("name") or path.stem
    out_root = Path(out_root) if out_root is not None else REPO / "build" / "sweeps"
    return Sweep(name, notebook, fixed, grid, seeds, out_root / name)


def parameter_defaults(notebook):
    """The literal defaults of the notebook's cell tagged ``parameters`` (empty if none)."""
    from scratchnet.report.pipeline import read_notebook

    for cell in read_notebook(notebook).cells:
        if "parameters" in cell.metadata.get("tags", []):
            return literal_defaults(cell.source) or {}
    return {}


def is_done(out_dir, pid, params):
    """True when the point's marker exists and records the same parameters."""
    try:
        marker = json.loads((Path(out_dir) / f"{pid}.done.json").read_text())
    except (OSError, ValueError):
        return False
    return marker.get("parameters") == params and (Path(out_dir) / f"{pid}.json").is_file()


def run_point(notebook, out_dir, pid, params, cwd, timeout=None):
    """Execute one point with papermill, each cell limited to ``timeout`` seconds (default
    :func:`scratchnet.report.pipeline.cell_timeout`); return (pid, error or None, seconds). Never
    raises."""
    from scratchnet.report.pipeline import cell_timeout, describe_failure, execute, read_notebook

    # One BLAS thread per point: the points are the parallelism, and a point's numbers must not
    # depend on where it ran (Dask's workers are limited to one thread; the kernel inherits this).
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    error_file = out_dir / f"{pid}.error.txt"
    error_file.unlink(missing_ok=True)
    start = time.perf_counter()
    executed = out_dir / f"{pid}.ipynb"
    try:
        timeout = cell_timeout() if timeout is None else timeout
        execute(notebook, executed, {**params, RESULT_PARAMETER: str(out_dir / f"{pid}.json")},
                cwd, timeout)
        if not (out_dir / f"{pid}.json").is_file():
            raise RuntimeError(f"the notebook wrote no {pid}.json")
    except Exception as error:  # a point's failure is data for the sweep, not a crash
        message = describe_failure(notebook, error, read_notebook(notebook), partial=executed,
                                   timeout=timeout)
        error_file.write_text(message + "\n")
        return pid, message, time.perf_counter() - start
    seconds = time.perf_counter() - start
    write_json({"parameters": params, "seconds": seconds}, out_dir / f"{pid}.done.json")
    return pid, None, seconds


@dataclass
class Outcome:
    """What a sweep did: points run, skipped (already done) and failed (pid -> error)."""

    ran: list
    skipped: list
    failed: dict


def run_sweep(sweep, workers=None, scheduler=None, progress=None, log=None, timeout=None):
    """Run every point of ``sweep`` that is not done, each cell limited to ``timeout`` seconds;
    return an :class:`Outcome`."""
    log = log or (lambda text: print(text, file=sys.stderr))
    todo, skipped = [], []
    for pid, params in sweep.points():
        (skipped if is_done(sweep.out_dir, pid, params) else todo).append((pid, params))
    if skipped:
        log(f"{sweep.name}: {len(skipped)} of {len(skipped) + len(todo)} points already done")
    outcome = Outcome(ran=[], skipped=[pid for pid, _ in skipped], failed={})
    if not todo:
        return outcome
    bar = _Bar(len(todo), enabled=sys.stderr.isatty() if progress is None else progress)
    args = [(sweep.notebook, sweep.out_dir, pid, params, REPO, timeout) for pid, params in todo]
    if scheduler:
        from distributed import Client

        with Client(scheduler) as client, client.get_executor() as executor:
            _collect(executor, _ByValue(run_point), args, outcome, bar)
    else:
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as executor:
            _collect(executor, run_point, args, outcome, bar)
    return outcome


class _ByValue:
    """``fn``, pickled whole: Dask's scheduler and workers have scratchnet but not this file on
    their path, so they could not import it by name."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        return self.fn(*args)

    def __reduce__(self):
        import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])
        return cloudpickle.loads, (cloudpickle.dumps(self.fn),)


def _collect(executor, fn, args, outcome, bar):
    futures = [executor.submit(fn, *a) for a in args]
    for future in as_completed(futures):
        pid, error, _ = future.result()
        outcome.ran.append(pid)
        if error is not None:
            outcome.failed[pid] = error
        bar.update(len(outcome.failed))


class _Bar:
    """A one-line progress bar on stderr (only when enabled, i.e. on a terminal)."""

    def __init__(self, total, enabled):
        self.total, self.done, self.enabled = total, 0, enabled

    def update(self, failed):
        self.done += 1
        if self.enabled:
            progress_bar(self.done, self.total, f"{self.done}/{self.total} points"
                         + (f", {failed} failed" if failed else ""))


def collect_results(sweep):
    """(parameters, result dict) of every done point, in the grid's order."""
    rows = []
    for pid, params in sweep.points():
        if is_done(sweep.out_dir, pid, params):
            rows.append((params, json.loads((sweep.out_dir / f"{pid}.json").read_text())))
    return rows


SUMMARY_METRICS = ("train_acc", "val_acc")


def summarize(sweep):
    """One row per grid point: its parameters, n seeds, mean and spread of the final accuracies
    and the mean seconds per run."""
    groups = {}
    for params, result in collect_results(sweep):
        key = tuple(params[k] for k in sweep.grid)
        groups.setdefault(key, []).append(result)
    rows = []
    for key, results in groups.items():
        row = dict(zip(sweep.grid, key))
        row["seeds"] = len(results)
        for metric in SUMMARY_METRICS:
            values = np.array([r["final"][metric] for r in results])
            row[f"{metric}_mean"] = float(values.mean())
            row[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        row["seconds"] = float(np.mean([r["seconds"] for r in results]))
        rows.append(row)
    return rows


def aggregate(sweep):
    """Write summary.csv, summary.md and summary.png into the sweep's folder; return the rows."""
    rows = summarize(sweep)
    if not rows:
        return rows
    columns = list(rows[0])
    with open(sweep.out_dir / "summary.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    (sweep.out_dir / "summary.md").write_text(markdown_summary(sweep, rows) + "\n")
    fig = summary_figure(sweep, rows)
    if fig is not None:
        fig.savefig(sweep.out_dir / "summary.png", dpi=120, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
    return rows


def markdown_summary(sweep, rows):
    """The rows as a markdown table, accuracies as percentages with their spread over seeds."""
    head = list(sweep.grid) + ["seeds", "train acc", "val acc", "seconds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [str(row[k]) for k in sweep.grid] + [str(row["seeds"])]
        cells += [f"{100 * row[f'{m}_mean']:.2f} ± {100 * row[f'{m}_std']:.2f}"
                  for m in SUMMARY_METRICS]
        cells.append(f"{row['seconds']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_figure(sweep, rows, metric="val_acc"):
    """A heatmap of the mean final accuracy for two varying parameters, lines for one;
    None for other grids."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(sweep.grid)
    label = {"val_acc": "final validation accuracy", "train_acc": "final train accuracy"}[metric]
    if len(keys) == 1:
        (key,) = keys
        fig, ax = plt.subplots(figsize=(5, 3.2))
        x = [row[key] for row in rows]
        numeric = all(isinstance(v, (int, float)) for v in x)
        positions = x if numeric else range(len(x))
        ax.errorbar(positions, [r[f"{metric}_mean"] for r in rows],
                    yerr=[r[f"{metric}_std"] for r in rows], marker="o", capsize=3)
        if numeric and min(x) > 0 and max(x) / min(x) >= 100:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(list(positions), [str(v) for v in x])
        ax.set_xlabel(key)
        ax.set_ylabel(label)
    elif len(keys) == 2:
        rows_key, cols_key = keys
        values = {(r[rows_key], r[cols_key]): r[f"{metric}_mean"] for r in rows}
        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(sweep.grid[cols_key]),
                                        1.0 + 0.6 * len(sweep.grid[rows_key])))
        grid = np.array([[values.get((a, b), math.nan) for b in sweep.grid[cols_key]]
                         for a in sweep.grid[rows_key]])
        image = ax.imshow(grid, cmap="viridis", aspect="auto")
        for (i, j), value in np.ndenumerate(grid):
            if not math.isnan(value):
                ax.text(j, i, f"{100 * value:.1f}", ha="center", va="center", color="w")
        ax.set_xticks(range(grid.shape[1]), [str(v) for v in sweep.grid[cols_key]])
        ax.set_yticks(range(grid.shape[0]), [str(v) for v in sweep.grid[rows_key]])
        ax.set_xlabel(cols_key)
        ax.set_ylabel(rows_key)
        fig.colorbar(image, ax=ax, label=label)
    else:
        return None
    ax.set_title(f"{sweep.name}: {label}, mean over seeds")
    return fig


def main(args):
    """``scratchnet sweep FILE``: run, then aggregate; exit 1 when a point failed."""
    from scratchnet.report.pipeline import PipelineError, cell_timeout

    sweep = load_sweep(args.file)
    try:
        timeout = cell_timeout()
    except PipelineError as error:
        raise SweepError(str(error)) from None
    start = time.perf_counter()
    outcome = run_sweep(sweep, workers=args.workers, scheduler=args.scheduler,
                        progress=False if args.quiet else None, timeout=timeout)
    rows = aggregate(sweep)
    where = sweep.out_dir.relative_to(REPO) if sweep.out_dir.is_relative_to(REPO) else sweep.out_dir
    print(f"{sweep.name}: ran {len(outcome.ran)} points, skipped {len(outcome.skipped)} already "
          f"done, {len(outcome.failed)} failed, in {time.perf_counter() - start:.1f} s; "
          f"{len(rows)} grid points summarised in {where}/summary.md")
    for pid, error in outcome.failed.items():
        print(f"failed: {pid}: {error} (see {where}/{pid}.ipynb)", file=sys.stderr)
    return 1 if outcome.failed else 0
