"""Tests of scratchnet.data: the look-alike generators, loading, and every bad-file case."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from scratchnet import data
from scratchnet.data import DataError, load_dataset

# (n_features, n_classes, m_train, m_val) of the course files, written out independently here.
COURSE_SHAPES = {
    "swissroll": (2, 2, 20000, 5000),
    "peaks": (2, 5, 25000, 6250),
    "gmm": (5, 5, 25000, 6250),
}
# Loose boxes around the course files' values, per feature.
VALUE_RANGES = {"swissroll": (-1.4, 1.4), "peaks": (-3.4, 3.4), "gmm": (-4.0, 4.0)}


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """Point data_dir() and cache_dir() into tmp_path, so no test writes to the repo's data/."""
    folder = tmp_path / "data"
    monkeypatch.setenv("SCRATCHNET_DATA", str(folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return folder


@pytest.fixture(scope="module")
def generated():
    """Each generator's output for seed 0, computed once for the module."""
    return {name: make(0) for name, make in data.GENERATORS.items()}


def small_set(m=12, m_val=6, n=3, k=4, seed=0):
    """A valid course-format dict, small: Yt n x m, Ct k x m, Yv n x m_val, Cv k x m_val."""
    rng = np.random.default_rng(seed)
    return {
        "Yt": rng.standard_normal((n, m)),
        "Ct": np.eye(k)[:, np.arange(m) % k],
        "Yv": rng.standard_normal((n, m_val)),
        "Cv": np.eye(k)[:, np.arange(m_val) % k],
    }


def assert_data_error(path, *words):
    """Load ``path``, expect DataError; its one-line message names the file and ``words``."""
    with pytest.raises(DataError) as info:
        load_dataset(str(path))
    message = str(info.value)
    assert Path(path).name in message, f"file name missing from: {message!r}"
    assert "\n" not in message, f"message is not one line: {message!r}"
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} missing from: {message!r}"
    return message


def test_data_dir_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHNET_DATA", str(tmp_path / "x"))
    assert data.data_dir() == tmp_path / "x"
    monkeypatch.setenv("SCRATCHNET_DATA", "")
    assert data.data_dir() == Path(data.__file__).resolve().parents[2] / "data"
    monkeypatch.delenv("SCRATCHNET_DATA")
    assert data.data_dir().name == "data"


def test_registries_agree():
    assert set(data.DATASETS) == set(data.GENERATORS) == set(COURSE_SHAPES)
    assert data.DATASETS == {"swissroll": "SwissRollData.mat", "peaks": "PeaksData.mat",
                             "gmm": "GMMData.mat"}


@pytest.mark.parametrize("name", sorted(COURSE_SHAPES))
def test_generator_shapes_and_dtypes(name, generated):
    n, k, m, m_val = COURSE_SHAPES[name]
    arrays = generated[name]
    assert set(arrays) == {"Yt", "Ct", "Yv", "Cv"}
    expected = {"Yt": (n, m), "Ct": (k, m), "Yv": (n, m_val), "Cv": (k, m_val)}
    for key, shape in expected.items():
        assert arrays[key].shape == shape, f"{name} {key}: {arrays[key].shape} != {shape}"
        assert arrays[key].dtype == np.float32, f"{name} {key}: dtype {arrays[key].dtype}"


@pytest.mark.parametrize("name", sorted(COURSE_SHAPES))
def test_generator_labels_one_hot_sorted_balanced(name, generated):
    arrays = generated[name]
    for key in ("Ct", "Cv"):
        C = arrays[key]
        k, m = C.shape
        assert np.all((C == 0) | (C == 1)) and np.all(C.sum(axis=0) == 1), f"{name} {key}"
        labels = C.argmax(axis=0)
        assert np.all(np.diff(labels) >= 0), f"{name} {key} is not sorted by class"
        counts = np.bincount(labels, minlength=k)
        # Label noise moves ~2% of the labels, so counts are near m / k, not equal.
        assert np.all(np.abs(counts - m / k) <= 0.03 * m / k), f"{name} {key} counts {counts}"


@pytest.mark.parametrize("name", sorted(COURSE_SHAPES))
def test_generator_value_ranges(name, generated):
    low, high = VALUE_RANGES[name]
    for key in ("Yt", "Yv"):
        Y = generated[name][key]
        assert np.all(np.isfinite(Y)), f"{name} {key} has non-finite values"
        assert low <= Y.min() and Y.max() <= high, (
            f"{name} {key} spans [{Y.min():.2f}, {Y.max():.2f}], outside [{low}, {high}]")
        std = Y.std(axis=1)
        assert np.all((0.3 < std) & (std < 2.0)), f"{name} {key} feature stds {std}"


@pytest.mark.parametrize("name", sorted(COURSE_SHAPES))
def test_generator_deterministic_by_seed(name, generated):
    make = data.GENERATORS[name]
    again, other = make(0), make(1)
    for key in ("Yt", "Ct", "Yv", "Cv"):
        np.testing.assert_array_equal(again[key], generated[name][key], err_msg=f"{name} {key}")
    assert not np.array_equal(other["Yt"], generated[name]["Yt"]), f"{name}: seeds 0, 1 agree"


def test_generators_leave_global_random_state_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    data.make_swissroll(0)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_named_lookalike_round_trip(isolated_dirs, capsys):
    ds = load_dataset("Peaks")
    err = capsys.readouterr().err
    path = isolated_dirs / "PeaksData.mat"
    assert err == (f"generated a look-alike of PeaksData.mat in {isolated_dirs}; "
                   "put the course file there to use it\n")
    assert path.is_file()
    assert ds.name == "peaks" and ds.source == "look-alike"
    assert ds.path == str(path.resolve())
    assert ds.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    for A in (ds.Xt, ds.Ct, ds.Xv, ds.Cv):
        assert A.dtype == np.float64
    n, k, m, m_val = COURSE_SHAPES["peaks"]
    assert (ds.n_features, ds.n_classes, ds.m_train, ds.m_val) == (n, k, m, m_val)
    np.testing.assert_array_equal(ds.Xt, data.make_peaks(0)["Yt"].astype(np.float64))

    again = load_dataset("peaks")
    assert capsys.readouterr().err == "", "a second load must not announce again"
    assert again.source == "look-alike" and again.sha256 == ds.sha256
    np.testing.assert_array_equal(again.Cv, ds.Cv)


def test_quiet_generation_prints_nothing(isolated_dirs, capsys):
    ds = load_dataset("swissroll", quiet=True)
    assert capsys.readouterr().err == ""
    assert ds.source == "look-alike"


def test_lookalike_file_bytes_are_reproducible(tmp_path):
    first = data.write_lookalike("swissroll", tmp_path / "a")
    second = data.write_lookalike("swissroll", tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert not list((tmp_path / "a").glob("*.tmp")), "temporary file left behind"


def test_missing_named_file_without_generation(isolated_dirs):
    with pytest.raises(DataError) as info:
        load_dataset("gmm", generate=False)
    message = str(info.value)
    assert "GMMData.mat" in message and "not found" in message and "\n" not in message
    assert not (isolated_dirs / "GMMData.mat").exists()


def test_unknown_name_lists_known_names():
    with pytest.raises(DataError) as info:
        load_dataset("mnist")
    message = str(info.value)
    assert "mnist" in message and "\n" not in message
    for name in data.DATASETS:
        assert name in message


def test_load_by_path(tmp_path):
    path = tmp_path / "mine.mat"
    arrays = small_set()
    scipy.io.savemat(path, arrays)
    for spec in (str(path), path):
        ds = load_dataset(spec)
        assert ds.name == "mine" and ds.source == "course file"
        np.testing.assert_array_equal(ds.Xt, arrays["Yt"])
        np.testing.assert_array_equal(ds.Cv, arrays["Cv"])
        assert ds.Xt.dtype == np.float64


def test_describe_is_json_serializable(tmp_path):
    path = tmp_path / "mine.mat"
    scipy.io.savemat(path, small_set(m=8, m_val=4, n=3, k=2))
    record = load_dataset(path).describe()
    assert json.loads(json.dumps(record)) == record
    assert record == {"name": "mine", "source": "course file", "path": str(path.resolve()),
                      "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                      "n_features": 3, "n_classes": 2, "m_train": 8, "m_val": 4}


def test_unwritable_data_dir_falls_back_to_cache(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SCRATCHNET_DATA", str(blocker / "data"))
    ds = load_dataset("swissroll")
    cached = tmp_path / "cache" / "scratchnet" / "SwissRollData.mat"
    assert ds.source == "look-alike" and ds.path == str(cached.resolve())
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(cached.parent) in err and "not writable" in err
    assert load_dataset("swissroll").sha256 == ds.sha256
    assert capsys.readouterr().err == "", "the cached look-alike is reused silently"


def test_ensure_datasets_and_main(isolated_dirs, capsys):
    records = data.ensure_datasets(quiet=True)
    assert set(records) == set(data.DATASETS)
    for name, record in records.items():
        assert record["source"] == "look-alike"
        assert (isolated_dirs / data.DATASETS[name]).is_file()
        n, k, m, m_val = COURSE_SHAPES[name]
        assert (record["n_features"], record["n_classes"], record["m_train"],
                record["m_val"]) == (n, k, m, m_val)
    capsys.readouterr()
    assert data.main([]) == 0
    out, err = capsys.readouterr()
    assert err == "" and len(out.splitlines()) == 3
    assert data.main([str(isolated_dirs / "nothere.mat")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and "nothere.mat" in err


def without(arrays, *keys):
    return {key: value for key, value in arrays.items() if key not in keys}


def replaced(arrays, **changes):
    return {**arrays, **changes}


def _one_hot_broken():
    arrays = small_set()
    arrays["Ct"][:, 3] = [1, 1, 0, 0]
    return arrays


def _one_hot_fractional():
    arrays = small_set()
    arrays["Cv"][:, 0] = [0.5, 0.5, 0, 0]
    return arrays


def _one_hot_empty_column():
    arrays = small_set()
    arrays["Ct"][:, 5] = 0
    return arrays


def _nan_in_train():
    arrays = small_set()
    arrays["Yt"][1, 4] = np.nan
    return arrays


def _inf_in_val():
    arrays = small_set()
    arrays["Yv"][0, 2] = np.inf
    return arrays


def _samples_as_rows():
    # Both matrices of the training set written samples x features, as Python users often do.
    arrays = small_set(m=40)
    return replaced(arrays, Yt=arrays["Yt"].T, Ct=arrays["Ct"].T)


BAD_SETS = {
    "missing_Cv": (lambda: without(small_set(), "Cv"), ["missing", "Cv"]),
    "missing_val": (lambda: without(small_set(), "Yv", "Cv"), ["missing", "Yv", "Cv"]),
    "three_d": (lambda: replaced(small_set(), Yt=np.zeros((3, 12, 2))), ["Yt", "3-D", "2-D"]),
    "train_counts": (lambda: replaced(small_set(), Ct=small_set(m=11)["Ct"]),
                     ["Ct", "11 samples", "Yt", "12"]),
    "val_counts": (lambda: replaced(small_set(), Yv=small_set(m_val=7)["Yv"]),
                   ["Cv", "Yv", "samples"]),
    "feature_counts": (lambda: replaced(small_set(), Yv=small_set(n=2)["Yv"]),
                       ["features", "Yt", "Yv"]),
    "class_counts": (lambda: replaced(small_set(), Cv=small_set(k=3)["Cv"]),
                     ["classes", "Ct", "Cv"]),
    "one_hot_two_ones": (_one_hot_broken, ["Ct", "one-hot", "column 3"]),
    "one_hot_fraction": (_one_hot_fractional, ["Cv", "one-hot"]),
    "one_hot_no_one": (_one_hot_empty_column, ["Ct", "one-hot", "column 5"]),
    "nan": (_nan_in_train, ["Yt", "NaN"]),
    "inf": (_inf_in_val, ["Yv", "infinite"]),
    "empty_train": (lambda: replaced(small_set(), Yt=np.zeros((3, 0)), Ct=np.zeros((4, 0))),
                    ["training", "empty"]),
    "empty_val": (lambda: replaced(small_set(), Yv=np.zeros((3, 0)), Cv=np.zeros((4, 0))),
                  ["validation", "empty"]),
    "samples_as_rows": (_samples_as_rows, ["samples x features", "transpose"]),
    "features_transposed": (lambda: replaced(small_set(m=40), Yt=small_set(m=40)["Yt"].T),
                            ["Yt", "samples x features", "transpose"]),
    "labels_transposed": (lambda: replaced(small_set(m=40), Ct=small_set(m=40)["Ct"].T),
                          ["Ct", "samples x classes", "transpose"]),
    "text": (lambda: replaced(small_set(), Yt="hello"), ["Yt", "not a numeric matrix"]),
    "cell": (lambda: replaced(small_set(), Ct=np.array([[1, "a"]], dtype=object)),
             ["Ct", "not a numeric matrix"]),
    "struct": (lambda: replaced(small_set(), Yv={"a": 1.0}), ["Yv", "not a numeric matrix"]),
    "complex": (lambda: replaced(small_set(), Yt=small_set()["Yt"] * 1j), ["Yt", "complex"]),
    "one_class": (lambda: replaced(small_set(k=1), Cv=np.ones((1, 6))), ["Ct", "1 class",
                                                                          "at least two"]),
    "one_class_present": (lambda: replaced(small_set(), Ct=np.eye(4)[:, [2] * 12]),
                          ["every training label is class 2", "at least two"]),
    "no_features": (lambda: replaced(small_set(), Yt=np.zeros((0, 12)), Yv=np.zeros((0, 6))),
                    ["Yt", "no features"]),
}


@pytest.mark.parametrize("case", sorted(BAD_SETS))
def test_bad_contents_raise_data_error(case, tmp_path):
    make, words = BAD_SETS[case]
    path = tmp_path / f"bad_{case}.mat"
    scipy.io.savemat(path, make())
    assert_data_error(path, *words)


def test_not_a_mat_file(tmp_path):
    path = tmp_path / "notes.mat"
    path.write_text("these are not the matrices you are looking for\n")
    assert_data_error(path, "not a readable .mat file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mat"
    path.write_bytes(b"")
    assert_data_error(path, "empty")


@pytest.mark.parametrize("keep", [0.5, 0.9, 130])
def test_truncated_file(tmp_path, keep):
    good = tmp_path / "good.mat"
    arrays = small_set(m=400, m_val=100)
    scipy.io.savemat(good, arrays, do_compression=True)
    raw = good.read_bytes()
    cut = tmp_path / "cut.mat"
    cut.write_bytes(raw[: int(keep * len(raw)) if keep < 1 else keep])
    assert_data_error(cut, "truncated")


def test_missing_path(tmp_path):
    assert_data_error(tmp_path / "nowhere.mat", "no such file")


def test_folder_instead_of_file(tmp_path):
    folder = tmp_path / "folder.mat"
    folder.mkdir()
    assert_data_error(folder, "folder")


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


# Read at import, before the autouse fixture redirects SCRATCHNET_DATA into tmp_path.
REAL_DIR = str(data.data_dir())


@pytest.mark.parametrize("name", sorted(COURSE_SHAPES))
def test_course_file_loads(name, monkeypatch):
    if not (Path(REAL_DIR) / data.DATASETS[name]).is_file():
        pytest.skip(f"no {data.DATASETS[name]} in {REAL_DIR} (set $SCRATCHNET_DATA to its folder)")
    monkeypatch.setenv("SCRATCHNET_DATA", REAL_DIR)
    ds = load_dataset(name, generate=False)
    if ds.source == "look-alike":
        pytest.skip(f"{ds.path} is a look-alike, not the course file")
    n, k, m, m_val = COURSE_SHAPES[name]
    assert ds.source == "course file"
    assert ds.Xt.shape == (n, m) and ds.Ct.shape == (k, m)
    assert ds.Xv.shape == (n, m_val) and ds.Cv.shape == (k, m_val)
    for A in (ds.Xt, ds.Ct, ds.Xv, ds.Cv):
        assert A.dtype == np.float64
    assert len(ds.sha256) == 64 and set(ds.sha256) <= set("0123456789abcdef")


@pytest.mark.parametrize("variation", ["int8 labels", "uint8 labels", "int64 labels",
                                       "logical labels", "float64 features", "int features",
                                       "float32 everything"])
def test_valid_variations_of_a_file_load_and_train(variation, tmp_path):
    from scratchnet.cli.runs import run_training

    arrays = small_set(m=40, m_val=12, n=2, k=2)
    casts = {"int8 labels": ("C", np.int8), "uint8 labels": ("C", np.uint8),
             "int64 labels": ("C", np.int64), "logical labels": ("C", bool),
             "float64 features": ("Y", np.float64), "int features": ("Y", np.int32),
             "float32 everything": ("YC", np.float32)}
    which, dtype = casts[variation]
    arrays = {key: value.astype(dtype) if key[0] in which else value
              for key, value in arrays.items()}
    path = tmp_path / "variation.mat"
    scipy.io.savemat(path, arrays)
    loaded = load_dataset(str(path))
    assert loaded.Xt.dtype == np.float64 and loaded.Ct.dtype == np.float64
    result = run_training({"data": str(path), "depth": 1, "width": 4, "epochs": 2,
                           "batch_size": 8}, quiet=True)
    assert len(result["history"]) == 2 and 0 <= result["final"]["val_acc"] <= 1
