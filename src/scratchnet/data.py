"""The course data sets: load and check the .mat files (:func:`load_dataset`), or generate
look-alikes, marked by the variable ``scratchnet_lookalike`` (their seed). Every problem with a
file raises :class:`DataError`, one line that names the file."""
import hashlib
import io
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse

from .files import REPO, one_line, write_atomic

DATASETS = {"swissroll": "SwissRollData.mat", "peaks": "PeaksData.mat", "gmm": "GMMData.mat"}
KEYS = ("Yt", "Ct", "Yv", "Cv")
LOOKALIKE_KEY = "scratchnet_lookalike"

# (n_features, n_classes, m_train, m_val) of the course files.
_SHAPES = {"swissroll": (2, 2, 20000, 5000), "peaks": (2, 5, 25000, 6250),
           "gmm": (5, 5, 25000, 6250)}

# The course files have about 1.6-1.9% of their labels moved to another class at random: this
# noise, more than any overlap of the classes, caps the accuracy a classifier can reach.
_LABEL_NOISE = 0.018

# savemat stamps the creation time into the 116-byte header text; a fixed text makes a file's
# bytes, hence its sha256, depend on its contents only (it names write_mat, the writer's old name:
# a new text would change the sha256 of every look-alike).
_MAT_HEADER = b"MATLAB 5.0 MAT-file, Platform: scratchnet, written by scratchnet.data.write_mat"


class DataError(ValueError):
    """A data file that cannot be used: the message is one line and names the file."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded data set, float64, columns are samples: ``Xt`` (n x m) and ``Ct`` (k x m) train,
    ``Xv`` (n x m_v) and ``Cv`` (k x m_v) validate; ``source`` is "course file" or "look-alike",
    ``sha256`` the hex digest of the file's bytes."""

    name: str
    Xt: np.ndarray = field(repr=False)
    Ct: np.ndarray = field(repr=False)
    Xv: np.ndarray = field(repr=False)
    Cv: np.ndarray = field(repr=False)
    source: str
    path: str
    sha256: str

    @property
    def n_features(self):
        return self.Xt.shape[0]

    @property
    def n_classes(self):
        return self.Ct.shape[0]

    @property
    def m_train(self):
        return self.Xt.shape[1]

    @property
    def m_val(self):
        return self.Xv.shape[1]

    def describe(self):
        """JSON-serializable record of which data a result used."""
        keys = ("name", "source", "path", "sha256", "n_features", "n_classes", "m_train", "m_val")
        return {key: getattr(self, key) for key in keys}


def data_dir():
    """Folder of the named data files: ``$SCRATCHNET_DATA`` if set, else the repo's ``data/``."""
    return Path(os.environ.get("SCRATCHNET_DATA") or REPO / "data")


def cache_dir():
    """Per-user folder for look-alikes when :func:`data_dir` is not writable."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scratchnet"


def _assemble(points, rng, m_train):
    """Split the samples ``points[c]`` of each class c into train and validation, add label
    noise, sort by label; return the float32 Yt, Ct, Yv, Cv."""
    k = len(points)
    per_train = m_train // k
    out = {}
    parts = (("Yt", "Ct", slice(0, per_train)), ("Yv", "Cv", slice(per_train, None)))
    for X_key, C_key, part in parts:
        X = np.concatenate([P[:, part] for P in points], axis=1)
        drawn = np.repeat(np.arange(k), [P[:, part].shape[1] for P in points])
        # Moving a label by 1..k-1 classes (mod k) sends it to a uniformly random other class.
        flip = rng.random(drawn.size) < _LABEL_NOISE
        labels = np.where(flip, (drawn + rng.integers(1, k, drawn.size)) % k, drawn)
        order = np.argsort(labels, kind="stable")
        out[X_key] = X[:, order].astype(np.float32)
        out[C_key] = np.eye(k, dtype=np.float32)[:, labels[order]]
    return out


def make_swissroll(seed=0):
    """Two interleaved noisy spirals, as SwissRollData.mat: arm c is ``r = a t`` at angle
    ``t + c pi`` (half a turn apart), ``t`` uniform over about two turns, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    n, k, m_train, m_val = _SHAPES["swissroll"]
    a, length, sigma = 0.082, 13.0, 0.045
    # The second arm starts further out, as in the course file, so the centre is not a tangle.
    starts = (0.0, 2.2)
    per_class = (m_train + m_val) // k
    points = []
    for c in range(k):
        t = starts[c] + length * rng.random(per_class)
        P = a * t * np.stack([np.cos(t + c * np.pi), np.sin(t + c * np.pi)])
        points.append(P + sigma * rng.standard_normal(P.shape))
    return _assemble(points, rng, m_train)


def peaks(x, y):
    """MATLAB's peaks surface ``z(x, y)``, elementwise."""
    return (3 * (1 - x) ** 2 * np.exp(-x ** 2 - (y + 1) ** 2)
            - 10 * (x / 5 - x ** 3 - y ** 5) * np.exp(-x ** 2 - y ** 2)
            - np.exp(-(x + 1) ** 2 - y ** 2) / 3)


def make_peaks(seed=0):
    """Level bands of MATLAB's peaks on [-3, 3]^2, as PeaksData.mat: class c is uniform where z
    falls in the c-th of five equal bands between min z and max z, the classes of one size (so
    the peaks are dense and the wide middle band sparse), then jittered to blur the edges."""
    rng = np.random.default_rng(seed)
    n, k, m_train, m_val = _SHAPES["peaks"]
    sigma = 0.05
    grid = np.linspace(-3.0, 3.0, 601)
    z = peaks(*np.meshgrid(grid, grid))
    inner_edges = np.linspace(z.min(), z.max(), k + 1)[1:-1]
    per_class = (m_train + m_val) // k
    points = [np.empty((2, 0)) for _ in range(k)]
    # Rejection sampling, so each class is uniform on its band; the rarest band covers ~2.7% of
    # the square, so a handful of batches suffice.
    while any(P.shape[1] < per_class for P in points):
        S = rng.uniform(-3.0, 3.0, size=(2, 100_000))
        band = np.digitize(peaks(S[0], S[1]), inner_edges)
        points = [np.hstack([P, S[:, band == c][:, : per_class - P.shape[1]]])
                  for c, P in enumerate(points)]
    points = [P + sigma * rng.standard_normal(P.shape) for P in points]
    return _assemble(points, rng, m_train)


def make_gmm(seed=0):
    """Five overlapping Gaussian mixtures in 5-D, as GMMData.mat: each class mixes three
    components with random means around a random class centre and random covariances."""
    rng = np.random.default_rng(seed)
    n, k, m_train, m_val = _SHAPES["gmm"]
    n_comp = 3
    per_class = (m_train + m_val) // k
    points = []
    for c in range(k):
        centre = 0.4 * rng.standard_normal(n)
        means = centre + 0.45 * rng.standard_normal((n_comp, n))
        comp = rng.choice(n_comp, size=per_class, p=rng.dirichlet(np.full(n_comp, 4.0)))
        P = np.empty((n, per_class))
        for j in range(n_comp):
            idx = np.flatnonzero(comp == j)
            # A random A gives the covariance A A^T: correlated, of random orientation and scale.
            A = rng.uniform(0.2, 0.25) * rng.standard_normal((n, n)) / np.sqrt(n)
            P[:, idx] = means[j][:, None] + A @ rng.standard_normal((n, idx.size))
        points.append(P)
    return _assemble(points, rng, m_train)


GENERATORS = {"swissroll": make_swissroll, "peaks": make_peaks, "gmm": make_gmm}


def write_lookalike(name, directory, *, seed=0):
    """Generate the look-alike of the named set and write it into ``directory``; return its path."""
    arrays = {**GENERATORS[name](seed), LOOKALIKE_KEY: np.array([[seed]], dtype=np.float64)}
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, arrays, do_compression=True, oned_as="column")
    data = _MAT_HEADER.ljust(116) + buffer.getvalue()[116:]
    return write_atomic(Path(directory) / DATASETS[name], data)


def _shape(A):
    return "x".join(str(s) for s in A.shape)


def _as_matrix(name, key, value):
    """Check that ``value`` is a real 2-D numeric matrix; return it as float64."""
    if scipy.sparse.issparse(value):
        value = value.toarray()
    if not isinstance(value, np.ndarray):
        raise DataError(f"{name}: {key} is not a numeric matrix (got {type(value).__name__})")
    if value.dtype.kind == "c":
        raise DataError(f"{name}: {key} is complex; expected a real numeric matrix")
    if value.dtype.kind not in "biuf":
        what = {"U": "text", "S": "text", "O": "a cell array", "V": "a struct"}.get(
            value.dtype.kind, f"dtype {value.dtype}")
        raise DataError(f"{name}: {key} is not a numeric matrix (got {what})")
    if value.ndim != 2:
        raise DataError(f"{name}: {key} is {value.ndim}-D (shape {_shape(value)}); "
                        "expected a 2-D matrix")
    return np.array(value, dtype=np.float64)


def _check_orientation(name, Y, C, Y_key, C_key):
    """Check that ``Y`` (n x m) and ``C`` (k x m) share their sample count m, the columns."""
    if Y.shape[1] == C.shape[1]:
        return
    hint = "the course format has samples as columns (transpose it)"
    if Y.shape[0] == C.shape[0] and Y.shape[0] > Y.shape[1]:
        raise DataError(f"{name}: {Y_key} ({_shape(Y)}) and {C_key} ({_shape(C)}) are stored "
                        "samples x features; the course format has samples as columns "
                        "(transpose them)")
    if Y.shape[0] == C.shape[1] and Y.shape[0] > Y.shape[1]:
        raise DataError(f"{name}: {Y_key} ({_shape(Y)}) is stored samples x features; {hint}")
    if C.shape[0] == Y.shape[1] and C.shape[0] > C.shape[1]:
        raise DataError(f"{name}: {C_key} ({_shape(C)}) is stored samples x classes; {hint}")
    raise DataError(f"{name}: labels {C_key} have {C.shape[1]} samples "
                    f"but features {Y_key} have {Y.shape[1]}")


def validate(contents, name):
    """Check the variables of a course-format file; return float64 (Yt, Ct, Yv, Cv), or raise
    :class:`DataError`, naming the file ``name``, at the first problem found."""
    missing = [key for key in KEYS if key not in contents]
    if missing:
        raise DataError(f"{name}: missing {', '.join(missing)} "
                        f"(the course format has {', '.join(KEYS)})")
    Yt, Ct, Yv, Cv = (_as_matrix(name, key, contents[key]) for key in KEYS)
    for Y, C, Y_key, C_key, which in ((Yt, Ct, "Yt", "Ct", "training"),
                                      (Yv, Cv, "Yv", "Cv", "validation")):
        _check_orientation(name, Y, C, Y_key, C_key)
        if Y.shape[1] == 0:
            raise DataError(f"{name}: the {which} set is empty "
                            f"({Y_key} is {_shape(Y)}, 0 samples)")
    if Yt.shape[0] == 0:
        raise DataError(f"{name}: Yt has no features ({_shape(Yt)}: 0 rows); expected n x m "
                        "with n >= 1")
    for what, T, V, T_key, V_key in (("features", Yt, Yv, "Yt", "Yv"),
                                     ("classes", Ct, Cv, "Ct", "Cv")):
        if T.shape[0] != V.shape[0]:
            raise DataError(f"{name}: training has {T.shape[0]} {what} ({T_key} {_shape(T)}) "
                            f"but validation has {V.shape[0]} ({V_key} {_shape(V)})")
    for key, C in (("Ct", Ct), ("Cv", Cv)):
        bad = ~(((C == 0) | (C == 1)).all(axis=0) & (C.sum(axis=0) == 1))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError(f"{name}: {key} is not one-hot: {int(bad.sum())} of {C.shape[1]} "
                            f"columns (first: column {first}, 0-based) are not exactly one 1 and "
                            "the rest 0")
    # One class is learnt perfectly by a constant: its "100%" would say nothing.
    k = Ct.shape[0]
    if k < 2:
        raise DataError(f"{name}: Ct has {k} row(s), so {k} class(es); a classifier needs at "
                        "least two")
    present = np.flatnonzero(Ct.any(axis=1))
    if present.size < 2:
        raise DataError(f"{name}: every training label is class {int(present[0])} (0-based, of "
                        f"the {k} rows of Ct); a classifier needs at least two classes among "
                        "the training labels")
    for key, Y in (("Yt", Yt), ("Yv", Yv)):
        finite = np.isfinite(Y)
        if not finite.all():
            counts = {"NaN": int(np.isnan(Y).sum()), "infinite": int(np.isinf(Y).sum())}
            what = " and ".join(f"{count} {kind}" for kind, count in counts.items() if count)
            first = int(np.flatnonzero(~finite.all(axis=0))[0])
            raise DataError(f"{name}: {key} has {what} value(s) (first: column {first}, "
                            "0-based); features must be finite")
    return Yt, Ct, Yv, Cv


def load_file(path, name=None):
    """Read and validate the .mat file ``path``; return a :class:`Dataset` (float64)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a .mat file") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read it ({one_line(err.strerror or err)})") from None
    if not data:
        raise DataError(f"{path.name}: empty file (0 bytes); expected a MATLAB .mat file")
    try:
        contents = scipy.io.loadmat(io.BytesIO(data))
    except NotImplementedError:
        raise DataError(f"{path.name}: a MATLAB v7.3 (HDF5) file, which scipy cannot read; "
                        "save it with -v7") from None
    except Exception as err:
        # A damaged file can fail anywhere inside scipy's parser (ValueError, TypeError,
        # zlib.error, struct.error, ...): every one of them means "not a usable .mat file".
        reason = one_line(err) or type(err).__name__
        raise DataError(f"{path.name}: not a readable .mat file, or truncated ({reason})") from None
    Yt, Ct, Yv, Cv = validate(contents, path.name)
    if name is None:
        known = {file.lower(): key for key, file in DATASETS.items()}
        name = known.get(path.name.lower(), path.stem)
    source = "look-alike" if LOOKALIKE_KEY in contents else "course file"
    return Dataset(name=name, Xt=Yt, Ct=Ct, Xv=Yv, Cv=Cv, source=source,
                   path=str(path.resolve()), sha256=hashlib.sha256(data).hexdigest())


def looks_like_path(text):
    """True when ``text`` names a file rather than a data set: a separator, .mat, or a file."""
    return os.sep in text or "/" in text or text.lower().endswith(".mat") or Path(text).is_file()


def _generate(name, quiet):
    """Write the look-alike of the named set to data_dir(), else (not writable) to cache_dir(),
    where one already there is reused; return its path."""
    file = DATASETS[name]
    target = data_dir()
    try:
        path = write_lookalike(name, target)
        note = f"generated a look-alike of {file} in {target}; put the course file there to use it"
    except OSError as err:
        fallback = cache_dir()
        if (fallback / file).is_file():
            return fallback / file
        try:
            path = write_lookalike(name, fallback)
        except OSError as err2:
            raise DataError(f"{file}: not found in {target}, and a look-alike could be written "
                            f"neither there ({one_line(err)}) nor in {fallback} "
                            f"({one_line(err2)})") from None
        note = (f"generated a look-alike of {file} in {fallback} because {target} is not "
                f"writable ({one_line(err)}); put the course file in {target} to use it")
    if not quiet:
        print(note, file=sys.stderr)
    return path


def load_dataset(name_or_path, *, generate=True, quiet=False):
    """Load a named set ("swissroll", "peaks", "gmm", any case) or a .mat file by path as a
    :class:`Dataset`; a named set missing from :func:`data_dir` is generated as a look-alike
    (:func:`_generate`) when ``generate``, with one line on stderr unless ``quiet``."""
    text = os.fspath(name_or_path)
    key = text.lower()
    if not isinstance(name_or_path, os.PathLike) and key in DATASETS:
        path = data_dir() / DATASETS[key]
        if path.is_file():
            return load_file(path, name=key)
        if not generate:
            raise DataError(f"{DATASETS[key]}: not found in {data_dir()}; put the course file "
                            "there, or allow generating a look-alike")
        return load_file(_generate(key, quiet), name=key)
    if isinstance(name_or_path, os.PathLike) or looks_like_path(text):
        return load_file(text)
    raise DataError(f"{text}: unknown data set; expected one of {', '.join(DATASETS)} "
                    "or a path to a .mat file")


def ensure_datasets(quiet=False):
    """Make sure the three named sets exist (generating missing ones); return name -> describe()."""
    return {name: load_dataset(name, quiet=quiet).describe() for name in DATASETS}


def main(argv=None):
    """``python -m scratchnet.data [NAME_OR_PATH ...]``: check the sets, one line each."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        records = ([load_dataset(arg).describe() for arg in argv] if argv
                   else list(ensure_datasets().values()))
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for r in records:
        print(f"{r['name']:<10} {r['source']:<11}  train {r['n_features']}x{r['m_train']}  "
              f"val {r['n_features']}x{r['m_val']}  {r['n_classes']} classes  "
              f"sha256 {r['sha256'][:12]}  {r['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
