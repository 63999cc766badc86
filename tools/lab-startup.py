"""IPython start-up file for `make lab`: start every kernel in the repo root, as papermill does.

The notebooks use repo-relative paths (results_path = "build/notebooks/<stem>.json"); a kernel
JupyterLab starts in notebooks/ would write them under notebooks/build/ instead.
"""
import importlib.util
import os
from pathlib import Path

_spec = importlib.util.find_spec("scratchnet")
if _spec is not None and _spec.origin:
    os.chdir(Path(_spec.origin).resolve().parents[2])
