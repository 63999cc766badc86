"""Glue between the notebooks and the report: figures, key numbers in JSON, claims, tables."""
import json
import math
import os
from pathlib import Path

import numpy as np

from ..files import REPO, write_atomic

# A claim's mark by its verdict, and a gradient test's target as tables and figures write it.
MARKS = {True: "*holds in this build*", False: "**contradicted by this build**",
         None: "*not checked (a QUICK build)*"}
TARGETS = {"W": "$W$", "b": "$b$", "X": "$X$"}


def show_figure(fig, name, caption, dpi=150):
    """Save a matplotlib figure as ``figures/<name>.png`` (or in ``$SCRATCHNET_FIGURES``), show
    it with its caption in the output's metadata, where the report's templates make it a
    numbered figure, and close it; return the path. ``name``: ``<section>_<what>_<dataset>``."""
    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    path = Path(os.environ.get("SCRATCHNET_FIGURES") or REPO / "figures") / f"{name}.png"
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
    """Merge ``numbers`` into the JSON file ``path`` (created if missing) and return them all,
    with ``stamp`` (what they were computed on); strict JSON: NaN and infinity are null."""
    path = Path(path)
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(_strict(numbers))
    from .stamp import stamp  # here, so that `python -m scratchnet.report.stamp` runs it once

    data["stamp"] = stamp()
    write_atomic(path, json.dumps(data, indent=1, allow_nan=False) + "\n")
    return data


class Claims:
    """The statements of a notebook that depend on its results, each checked by the build:
    ``claims.check(text, holds)`` states a conclusion again with this build's verdict beside it,
    ``holds`` computed from the results. A contradicted claim shows in bold but does not stop
    the build (a user's own parameters may contradict it); with ``quick=True`` (small sizes
    prove nothing) every claim is not checked. ``records()``: ``[{"text", "holds"}]`` for JSON."""

    def __init__(self, quick=False):
        self.quick = bool(quick)
        self._records = []

    def check(self, text, holds):
        """Display ``text`` with its mark and keep it; returns the verdict (None when QUICK)."""
        from IPython.display import Markdown, display

        if not self.quick and not isinstance(holds, (bool, np.bool_)):
            raise TypeError(f"claim {text!r}: holds must be a bool computed from the results, "
                            f"got {holds!r}")
        verdict = None if self.quick else bool(holds)
        self._records.append({"text": text, "holds": verdict})
        display(Markdown(f"Claim: {text}. {MARKS[verdict]}."))
        return verdict

    def records(self):
        return list(self._records)


def _cell(value, digits, fmt=None):
    """The text of one table cell, as :func:`markdown_table` says."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if value is None or isinstance(value, (float, np.floating)):
        return number(value, fmt or f".{digits}g")
    return str(value).replace("|", r"\|")


def markdown_table(headers, rows, align=None, digits=4, fmt=None):
    """A markdown table (the kind that survives into the PDF) from a header row and rows: text
    (``|`` escaped), ints, floats (by the format spec ``fmt``, else to ``digits`` significant
    digits), bools (yes/no), None or NaN (n/a). ``align``: ``l``, ``r`` or ``c`` per column
    (default: text left, numbers right, by the first row)."""
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
    """A markdown table with a row per entry of ``records`` (``{row label: {key: value}}``);
    ``columns`` is a list of keys (each its own header) or ``{header: key}``, missing keys n/a."""
    columns = columns if isinstance(columns, dict) else {key: key for key in columns}
    rows = [[label] + [values.get(key) for key in columns.values()]
            for label, values in records.items()]
    return markdown_table([label_header] + list(columns), rows,
                          align="l" + "r" * len(columns), digits=digits, fmt=fmt)


def data_sources(data):
    """One paragraph saying which data every set came from: ``data`` is ``{name: Dataset}``."""
    parts = [f"**{name}** from the {ds.source} {Path(ds.path).name} (sha256 {ds.sha256[:12]}), "
             f"{ds.m_train} training and {ds.m_val} validation samples, {ds.n_features} "
             f"features, {ds.n_classes} classes" for name, ds in data.items()]
    return "Data: " + "; ".join(parts) + "."


def gradient_summary_table(summaries):
    """The gradient tests of ``{dataset: {target: summary}}`` as one markdown table."""
    keys = ("median_ratio_first", "median_ratio_second", "order_first", "order_second")
    rows = [[name, TARGETS.get(target, target), s["clean_rows_second"],
             *(f"{s[key]:.3f}" for key in keys), s["passes"]]
            for name, tests in summaries.items() for target, s in tests.items()]
    return markdown_table(["data set", "gradient in", "rows above round-off",
                           "median ratio, first", "median ratio, second",
                           "fitted order, first", "fitted order, second", "passes"],
                          rows, align="llrrrrrl")


