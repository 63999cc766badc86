"""What a result was computed on: the versions, the BLAS, the CPU, the commit and the data.

Every results JSON and the title page carry it: speed, and even float64 results in their last
digits, depend on the BLAS, its kernel and the vector extensions NumPy dispatches to."""
import functools
import hashlib
import os
import platform
import re
import subprocess
from pathlib import Path

import numpy
import scipy.io

from ..data import DATASETS, LOOKALIKE_KEY, cache_dir, data_dir
from ..files import REPO


def _git(repo, *args):
    """What ``git -C repo ARGS...`` prints, stripped; None when git cannot run."""
    try:
        return subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def git_repository(repo=REPO):
    """Where the source lives: the ``origin`` remote's address, else the checkout's folder."""
    url = _git(repo, "config", "--get", "remote.origin.url")
    return None if url is None else (url or str(repo))


def cpu_model():
    """The CPU's model name (from /proc/cpuinfo on Linux, else what platform knows)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    for key in ("model name", "Model", "cpu model", "Processor"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", text, re.M)
        if match:
            return " ".join(match.group(1).split())
    return platform.processor() or platform.machine() or "unknown"


def simd():
    """NumPy's SIMD extensions (as ``numpy.show_runtime``): baseline, targets found or not."""
    try:
        from numpy._core._multiarray_umath import (__cpu_baseline__, __cpu_dispatch__,
                                                   __cpu_features__)
    except ImportError:
        return {"baseline": [], "found": [], "not_found": []}
    return {"baseline": list(__cpu_baseline__),
            "found": [f for f in __cpu_dispatch__ if __cpu_features__.get(f)],
            "not_found": [f for f in __cpu_dispatch__ if not __cpu_features__.get(f)]}


def blas():
    """Every BLAS loaded in the process (threadpoolctl), with the package that ships it."""
    # SciPy loads its own BLAS only with scipy.linalg: import it so that one is seen too.
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_info

    found = []
    for lib in (lib for lib in threadpool_info() if lib.get("user_api") == "blas"):
        path = lib.get("filepath") or ""
        package = next((p for p in ("numpy", "scipy") if f"{os.sep}{p}." in path
                        or f"{os.sep}{p}{os.sep}" in path), None)
        found.append({"name": lib.get("internal_api"), "version": lib.get("version"),
                      "kernel": lib.get("architecture"), "threads": lib.get("num_threads"),
                      "threading": lib.get("threading_layer"), "package": package,
                      "file": Path(path).name})
    # threadpoolctl lists the libraries in the order they were loaded, which varies.
    return sorted(found, key=lambda lib: (lib["package"] or "", lib["file"]))


# Variables that choose which kernels NumPy and OpenBLAS run, read once as they load. Some
# machines set OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for every process (older OpenBLAS builds
# went wrong on their CPU), and the kernel named beside the BLAS is then theirs.
KERNEL_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "NPY_DISABLE_CPU_FEATURES",
                    "NPY_ENABLE_CPU_FEATURES")


def kernel_settings(environ=os.environ):
    """The :data:`KERNEL_VARIABLES` set (not empty) in ``environ``."""
    return {key: environ[key] for key in KERNEL_VARIABLES if environ.get(key)}


def settings_text(settings):
    """``{"OPENBLAS_CORETYPE": "Haswell"}`` as ``OPENBLAS_CORETYPE=Haswell``, as a shell sets it."""
    return " ".join(f"{key}={value}" for key, value in settings.items())


@functools.lru_cache(maxsize=None)
def _sha256(path, size, mtime_ns):
    """The hex sha256 of the file ``path``, once per version of it (its size and mtime)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def data_files():
    """Each data set's file, its sha256 and source (course file or look-alike); None if none yet."""
    files = dict.fromkeys(DATASETS)
    for name, file in DATASETS.items():
        path = next((p for p in (data_dir() / file, cache_dir() / file) if p.is_file()), None)
        if path is None:
            continue
        try:
            names = [entry[0] for entry in scipy.io.whosmat(str(path))]
            source = "look-alike" if LOOKALIKE_KEY in names else "course file"
        except Exception:  # an unreadable file is still stamped by its bytes
            source = "unreadable"
        st = path.stat()
        files[name] = {"file": str(path.resolve()),
                       "sha256": _sha256(str(path), st.st_size, st.st_mtime_ns), "source": source}
    return files


def stamp():
    """A JSON-ready record of what this process computes on."""
    return {"python": f"{platform.python_version()} ({platform.python_implementation()})",
            "numpy": numpy.__version__, "scipy": scipy.__version__, "blas": blas(),
            "kernel_settings": kernel_settings(),
            "cpu": {"model": cpu_model(), "machine": platform.machine(), "cores": os.cpu_count(),
                    "simd": simd()},
            "platform": platform.platform(),
            "commit": _git(REPO, "describe", "--always", "--dirty", "--abbrev=10") or None,
            "data": data_files()}


def environment(record):
    """The part of a stamp that must agree for two results to be comparable: everything but
    the commit and the BLAS thread counts (which a build sets per process)."""
    blas = [{k: v for k, v in lib.items() if k != "threads"} for lib in record["blas"]]
    return {**{k: v for k, v in record.items() if k != "commit"}, "blas": blas}


def _blas_text(lib):
    parts = [f"{lib['name'] or 'unknown'} {lib['version'] or ''}".strip(),
             lib.get("kernel") and f"{lib['kernel']} kernel", lib.get("threading")]
    text = ", ".join(part for part in parts if part)
    return f"{text} (of {lib['package']})" if lib.get("package") else text


def stamp_lines(record, threads=None):
    """(label, text) pairs of a stamp for a title page; ``threads`` overrides the BLAS thread
    counts (those of the processes that computed the numbers, not of the one that prints)."""
    cpu, vector = record["cpu"], record["cpu"]["simd"]
    libs = "; ".join(_blas_text(lib) for lib in record["blas"]) or "none found"
    if threads is None:
        threads = sorted({lib["threads"] for lib in record["blas"] if lib.get("threads")})
    if threads:
        libs += f"; {', '.join(map(str, threads))} BLAS thread(s)"
    settings = record.get("kernel_settings")
    if settings:
        libs += f"; kernels chosen by {settings_text(settings)}"
    extensions = (f"baseline {' '.join(vector['baseline']) or 'none'}; "
                  f"found {' '.join(vector['found']) or 'none'}")
    if vector["not_found"]:
        extensions += f"; not found {' '.join(vector['not_found'])}"
    lines = [("Python", record["python"]), ("NumPy", record["numpy"]), ("SciPy", record["scipy"]),
             ("BLAS", libs), ("CPU", f"{cpu['model']}, {cpu['machine']}, {cpu['cores']} cores"),
             ("Vector extensions (NumPy)", extensions),
             ("Commit", record["commit"] or "unknown (not a git checkout)")]
    for name, entry in record["data"].items():
        text = (f"{Path(entry['file']).name}, {entry['source']}, sha256 {entry['sha256']}"
                if entry else "no file yet")
        lines.append((f"Data: {name}", text))
    return lines


if __name__ == "__main__":  # python -m scratchnet.report.stamp prints this environment's stamp
    for label, text in stamp_lines(stamp()):
        print(f"{label + ':':<27} {text}")
