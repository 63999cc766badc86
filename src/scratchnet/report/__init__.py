"""Glue between the notebooks and the PDF report: figures with captions, key numbers in JSON.

A notebook calls :func:`show_figure` for every figure: it is saved under ``figures/`` with a
stable name and displayed with its caption in the output's metadata, where the report's LaTeX
template finds it and makes a numbered figure. :func:`record` writes the key numbers of a
notebook to the JSON file beside the executed copy. :class:`Claims` checks the statements
of a conclusion against the results; :func:`markdown_table` and its kin write computed tables.
"""
import json
import math
import os
from pathlib import Path

import numpy as np

from ..files import REPO, write_atomic
from .stamp import stamp


def figures_dir():
    """Folder of the report's figures: ``$SCRATCHNET_FIGURES`` when set, else the repo's ``figures/``."""
    return Path(os.environ.get("SCRATCHNET_FIGURES") or REPO / "figures")


def show_figure(fig, name, caption, dpi=150):
    """Save a matplotlib figure as ``figures/<name>.png``, display it with its caption, close it.

    ``name`` follows ``<section>_<what>_<dataset>``; the caption becomes the figure's caption
    in the PDF. Returns the path of the PNG.
    """
    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    path = figures_dir() / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    display(Image(filename=str(path)), metadata={"image/png": {"caption": caption, "name": name}})
    return path


def _strict(value):
    """``value`` with NumPy scalars and arrays made plain, and NaN or infinity as None (null)."""
    if isinstance(value, dict):
        return {str(key): _strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(item) for item in value]
    if hasattr(value, "tolist"):
        return _strict(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def record(path, **numbers):
    """Merge ``numbers`` into the JSON file ``path`` (created if missing) and return them all.

    The file is strict JSON: NaN and infinity are written as null. It also gets ``stamp``, what
    the numbers were computed on (:func:`scratchnet.report.stamp.stamp`).
    """
    path = Path(path)
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(_strict(numbers))
    data["stamp"] = stamp()
    write_atomic(path, json.dumps(data, indent=1, allow_nan=False) + "\n")
    return data


MARKS = {True: "*holds in this build*", False: "**contradicted by this build**",
         None: "*not checked (a QUICK build)*"}


class Claims:
    """The statements of a notebook that depend on its results, each checked by the build.

    A conclusion is written in markdown by a person; ``claims.check(text, holds)`` states it
    again with the verdict of this build beside it, where ``holds`` is computed from the
    results (``lead > MARGIN``, say). A contradicted claim does not stop the build, since a
    user's own parameters may contradict it: it shows, in bold. With ``quick=True`` (the small
    sizes of a QUICK build prove nothing) every claim is shown and recorded as not checked.
    ``records()`` is the list the results JSON keeps: ``[{"text": ..., "holds": bool | None}]``.
    """

    def __init__(self, quick=False):
        self.quick = bool(quick)
        self._records = []

    def check(self, text, holds):
        """Display ``text`` with its mark and keep it; returns the verdict (None when QUICK)."""
        from IPython.display import Markdown, display

        if not self.quick:
            if not isinstance(holds, (bool, np.bool_)):
                raise TypeError(f"claim {text!r}: holds must be a bool computed from the "
                                f"results, got {holds!r}")
        verdict = None if self.quick else bool(holds)
        self._records.append({"text": text, "holds": verdict})
        display(Markdown(f"Claim: {text}. {MARKS[verdict]}."))
        return verdict

    def records(self):
        return list(self._records)


def _cell(value, digits, fmt=None):
    """Text of one table cell: floats by ``fmt`` (a format spec such as ".1e") or to ``digits``
    significant digits, NaN and None as n/a."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return format(value, fmt or f".{digits}g")
    return str(value).replace("|", r"\|")


def markdown_table(headers, rows, align=None, digits=4, fmt=None):
    """A markdown table (the kind that survives into the PDF) from a header row and rows.

    Cells may be text (``|`` is escaped), ints, floats (by the format spec ``fmt``, else to
    ``digits`` significant digits), bools (yes/no) or None/NaN (n/a). ``align`` is a string of
    ``l``, ``r``, ``c``, one per column (default: text left, numbers right, by the first row).
    """
    headers = [str(h) for h in headers]
    rows = [list(row) for row in rows]
    if any(len(row) != len(headers) for row in rows):
        raise ValueError(f"every row needs {len(headers)} cells, as the header has")
    if align is None:
        first = rows[0] if rows else [""] * len(headers)
        align = "".join("r" if isinstance(v, (int, float, np.number)) and not isinstance(
            v, (bool, np.bool_)) else "l" for v in first)
    if len(align) != len(headers) or set(align) - set("lrc"):
        raise ValueError(f"align needs one of l, r, c per column, got {align!r}")
    cells = [[_cell(v, digits, fmt) for v in row] for row in rows]
    # pandoc gives a wide table's columns the shares of the dashes under their headings: as many
    # as the column's widest cell (or the longest word of its heading) has characters.
    widths = [max([3] + [len(word) for word in head.split()] + [len(row[j]) for row in cells])
              for j, head in enumerate(headers)]
    rule = {"l": ":{}", "r": "{}:", "c": ":{}:"}
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join(rule[a].format("-" * w) for a, w in zip(align, widths)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def number(value, spec=".4f"):
    """``value`` by the format ``spec``, or "n/a" when it is None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, spec)


def percent(fraction, digits=1):
    """A fraction as a percentage: 0.5302 -> '53.0%'."""
    return f"{100 * fraction:.{digits}f}%"


def records_table(records, columns, label_header="", digits=4, fmt=None):
    """A markdown table with one row per entry of ``records`` (``{row label: {key: value}}``):
    ``columns`` is a list of keys (each its own header) or ``{header: key}``; missing keys are
    n/a; floats as in :func:`markdown_table`."""
    if not isinstance(columns, dict):
        columns = {key: key for key in columns}
    rows = [[label] + [values.get(key) for key in columns.values()]
            for label, values in records.items()]
    return markdown_table([label_header] + list(columns), rows,
                          align="l" + "r" * len(columns), digits=digits, fmt=fmt)


def data_sources(data):
    """One paragraph saying which data every set came from: ``data`` is ``{name: Dataset}``."""
    parts = []
    for name, dataset in data.items():
        d = dataset.describe()
        parts.append(f"**{name}** from the {d['source']} {Path(d['path']).name} (sha256 "
                     f"{d['sha256'][:12]}), {d['m_train']} training and {d['m_val']} validation "
                     f"samples, {d['n_features']} features, {d['n_classes']} classes")
    return "Data: " + "; ".join(parts) + "."


TARGETS = {"W": "$W$", "b": "$b$", "X": "$X$"}


def gradient_summary_table(summaries):
    """The gradient tests of ``{dataset: {target: summary}}`` as one markdown table."""
    rows = [[name, TARGETS.get(target, target), s["clean_rows_second"]]
            + [f"{s[key]:.3f}" for key in ("median_ratio_first", "median_ratio_second",
                                            "order_first", "order_second")]
            + [s["passes"]]
            for name, tests in summaries.items() for target, s in tests.items()]
    return markdown_table(["data set", "gradient in", "rows above round-off",
                           "median ratio, first", "median ratio, second",
                           "fitted order, first", "fitted order, second", "passes"],
                          rows, align="llrrrrrl")


