"""Glue between the notebooks and the PDF report: figures with captions, key numbers in JSON.

A notebook calls :func:`show_figure` for every figure: it is saved under ``figures/`` with a
stable name and displayed with its caption in the output's metadata, where the report's LaTeX
template finds it and makes a numbered figure. :func:`record` writes the key numbers of a
notebook to the JSON file beside the executed copy.
"""
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


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


def record(path, **numbers):
    """Merge ``numbers`` into the JSON file ``path`` (created if missing) and return them all."""
    path = Path(path)
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(numbers)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=float) + "\n")
    return data
