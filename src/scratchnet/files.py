"""Files: the checkout, one-line messages about them, and writing them whole: a temporary file
beside the target, then a rename, with the mode the umask gives (``mkstemp`` creates 0600, which
would leave a result readable by its owner only)."""
import os
import re
import tempfile
import threading
from pathlib import Path

# The source checkout: the report's templates, figures/, data/ and build/ live beside src/.
REPO = Path(__file__).resolve().parents[2]

_lock = threading.Lock()


def one_line(text, limit=160):
    """``text`` (an error, say) on one line: whitespace collapsed, cut to ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def umask():
    """The process's umask, read without changing it where Linux tells it."""
    try:
        match = re.search(r"^Umask:\s*([0-7]+)", Path("/proc/self/status").read_text(), re.M)
    except OSError:
        match = None
    if match:
        return int(match.group(1), 8)
    # Elsewhere: set it and set it back, under a lock so that our threads cannot leave it at 0.
    with _lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def write_atomic(path, data):
    """Write ``data`` (bytes or text) to ``path`` in one step, never truncated; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def copy_atomic(src, path):
    """Copy the file ``src`` to ``path`` in one step (as :func:`write_atomic`)."""
    return write_atomic(path, Path(src).read_bytes())
