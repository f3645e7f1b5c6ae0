"""Tests of mnist_lessons.data, lesson 01: loading MNIST and refusing bad data.

No test imports TensorFlow or touches the network: the Keras path goes through
data._load_keras, which the tests replace.
"""

import gzip
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import mnist_lessons
from mnist_lessons import data
from mnist_lessons.data import (
    DATA_ENV_VAR,
    DataError,
    DataSourceWarning,
    MnistData,
    describe_dataset,
    load_mnist,
    load_mnist_data,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

# Images per digit in the full MNIST (LeCun, Cortes and Burges), digits 0 to 9.
FULL_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
FULL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def no_data_env_var(monkeypatch):
    """A user's MNIST_LESSONS_DATA must not steer the tests; tests that need it set it."""
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def full_data(full_mnist_path):
    """The full MNIST, loaded once for the tests that read it."""
    return load_mnist_data(full_mnist_path)


def small_arrays(n_train=20, n_test=10):
    """Tiny valid MNIST-shaped arrays in Keras' layout, with every digit present."""
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def write_idx(path, array, gz=False):
    """Write one IDX file: magic (0x0000 08 ndim), big-endian sizes, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    payload = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def write_idx_folder(folder, arrays, gz=False, dotted=False):
    folder.mkdir(exist_ok=True)
    for key, stem in zip(data.ARRAY_NAMES, data.IDX_FILES):
        name = stem.replace("-idx", ".idx") if dotted else stem
        write_idx(folder / (name + (".gz" if gz else "")), arrays[key], gz=gz)
    return folder


def load_error(source):
    """The DataError message that loading `source` gives."""
    with pytest.raises(DataError) as info:
        load_mnist_data(source)
    return str(info.value)


# --- the full MNIST --------------------------------------------------------


def test_full_npz_loads_verified(full_data, full_mnist_path):
    """Does the full mnist.npz load with MNIST's shapes, dtypes and known labels, verified?"""
    assert full_data.train_images.shape == (60000, 28, 28)
    assert full_data.train_labels.shape == (60000,)
    assert full_data.test_images.shape == (10000, 28, 28)
    assert full_data.test_labels.shape == (10000,)
    for array in (full_data.train_images, full_data.train_labels, full_data.test_images):
        assert array.dtype == np.uint8
    assert full_data.verified is True
    assert full_data.source == "file"
    assert full_data.location == str(full_mnist_path.absolute())
    assert full_data.train_labels[0] == 5
    assert full_data.test_labels[0] == 7
    assert np.bincount(full_data.train_labels).tolist() == FULL_TRAIN_COUNTS
    assert np.bincount(full_data.test_labels).tolist() == FULL_TEST_COUNTS
    assert describe_dataset(full_data.train_images, full_data.train_labels)["class_counts"][1] == 6742


def test_env_var_path_is_used(full_mnist_path, monkeypatch):
    """Does load_mnist_data() read the file MNIST_LESSONS_DATA points to, without asking Keras?"""
    monkeypatch.setenv(DATA_ENV_VAR, str(full_mnist_path))
    monkeypatch.setattr(data, "_load_keras", _keras_must_not_be_called)
    loaded = load_mnist_data()
    assert loaded.source == "file"
    assert loaded.verified is True
    assert loaded.train_images.shape == (60000, 28, 28)


def test_one_changed_pixel_fails_the_checksum(full_data, tmp_path):
    """Does a full-size set with one pixel changed fail, naming the array and the checksum?"""
    x_train = full_data.train_images.copy()
    x_train[0, 14, 14] ^= 1
    path = write_npz(
        tmp_path / "mnist.npz",
        x_train=x_train,
        y_train=full_data.train_labels,
        x_test=full_data.test_images,
        y_test=full_data.test_labels,
    )
    message = load_error(path)
    assert str(path) in message
    assert "x_train" in message
    assert "differs from the published MNIST" in message
    assert "sha256" in message


def test_make_sample_reproduces_bundled_sample(full_mnist_path, tmp_path):
    """Does scripts/make_sample.py give the bundled sample again, byte for byte?"""
    spec = importlib.util.spec_from_file_location("make_sample", REPO_ROOT / "scripts" / "make_sample.py")
    make_sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_sample)
    out = tmp_path / "mnist_sample.npz"
    make_sample.make_sample(full_mnist_path, out_path=out)
    assert out.read_bytes() == data.SAMPLE_PATH.read_bytes()
    assert json.loads(out.with_suffix(".json").read_text()) == json.loads(
        data.SAMPLE_CHECKSUMS_PATH.read_text()
    )


# --- other good sources ----------------------------------------------------


def test_small_npz_is_allowed_but_not_verified(tmp_path):
    """Does a learner's small subset load, marked as not verified?"""
    arrays = small_arrays()
    loaded = load_mnist_data(write_npz(tmp_path / "subset.npz", **arrays))
    assert loaded.verified is False
    assert loaded.source == "file"
    np.testing.assert_array_equal(loaded.train_images, arrays["x_train"])
    np.testing.assert_array_equal(loaded.test_labels, arrays["y_test"])


def test_load_mnist_returns_keras_style_splits(tmp_path):
    """Does load_mnist return ((train_images, train_labels), (test_images, test_labels))?"""
    arrays = small_arrays()
    path = write_npz(tmp_path / "subset.npz", **arrays)
    (train_images, train_labels), (test_images, test_labels) = load_mnist(str(path))
    np.testing.assert_array_equal(train_images, arrays["x_train"])
    np.testing.assert_array_equal(train_labels, arrays["y_train"])
    np.testing.assert_array_equal(test_images, arrays["x_test"])
    np.testing.assert_array_equal(test_labels, arrays["y_test"])


@pytest.mark.parametrize(
    "gz, dotted",
    [(False, False), (True, False), (False, True), (True, True)],
    ids=["plain", "gzip", "dotted-name", "dotted-name-gzip"],
)
def test_idx_folder_round_trip(tmp_path, gz, dotted):
    """Does a folder of IDX files, gzipped or not, give back the arrays written into it?"""
    arrays = small_arrays()
    folder = write_idx_folder(tmp_path / "mnist", arrays, gz=gz, dotted=dotted)
    loaded = load_mnist_data(folder)
    assert loaded.source == "file"
    assert loaded.verified is False
    for key, array in zip(data.ARRAY_NAMES, [a for split in loaded.splits() for a in split]):
        np.testing.assert_array_equal(array, arrays[key])
        assert array.dtype == np.uint8
        assert array.flags.writeable


def test_sample_is_a_stratified_tenth():
    """Is the bundled sample 6,000 + 1,000 images with each digit at 10% of MNIST's count, give or take 1?"""
    sample = load_mnist_data("sample")
    assert sample.source == "sample"
    assert sample.verified is True
    assert str(data.SAMPLE_PATH) in sample.location
    assert sample.train_images.shape == (6000, 28, 28)
    assert sample.test_images.shape == (1000, 28, 28)
    for labels, full_counts in ((sample.train_labels, FULL_TRAIN_COUNTS), (sample.test_labels, FULL_TEST_COUNTS)):
        counts = np.bincount(labels, minlength=10)
        for digit, (count, full) in enumerate(zip(counts, full_counts)):
            assert abs(count - full / 10) <= 1, f"digit {digit}: {count} in the sample, {full} in MNIST"


def test_sample_file_is_small():
    """Is the bundled sample small enough to ship with the package (under 2 MB)?"""
    assert data.SAMPLE_PATH.stat().st_size < 2_000_000


def test_damaged_sample_is_caught(tmp_path, monkeypatch):
    """Does a sample whose arrays no longer match its recorded checksums fail, saying to reinstall?"""
    sample = load_mnist_data("sample")
    x_test = sample.test_images.copy()
    x_test[0, 0, 0] ^= 1
    damaged = write_npz(
        tmp_path / "mnist_sample.npz",
        x_train=sample.train_images,
        y_train=sample.train_labels,
        x_test=x_test,
        y_test=sample.test_labels,
    )
    shutil.copy(data.SAMPLE_CHECKSUMS_PATH, tmp_path / "mnist_sample.json")
    monkeypatch.setattr(data, "SAMPLE_PATH", damaged)
    monkeypatch.setattr(data, "SAMPLE_CHECKSUMS_PATH", tmp_path / "mnist_sample.json")
    message = load_error("sample")
    assert "x_test" in message
    assert str(damaged) in message
    assert "reinstall" in message


def test_sample_json_matches_sample():
    """Does the sample's .json record the sha256 of the arrays actually in the .npz?"""
    recorded = json.loads(data.SAMPLE_CHECKSUMS_PATH.read_text())["sha256"]
    with np.load(data.SAMPLE_PATH) as npz:
        for name in data.ARRAY_NAMES:
            assert hashlib.sha256(npz[name].tobytes()).hexdigest() == recorded[name]


def test_env_var_sample_gives_sample_without_warning(monkeypatch):
    """Does MNIST_LESSONS_DATA=sample give the sample quietly, without asking Keras?"""
    monkeypatch.setenv(DATA_ENV_VAR, "sample")
    monkeypatch.setattr(data, "_load_keras", _keras_must_not_be_called)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_mnist_data().source == "sample"


def test_package_exports_data_names():
    """Are the data names importable from mnist_lessons itself?"""
    assert mnist_lessons.load_mnist_data is load_mnist_data
    assert mnist_lessons.MnistData is MnistData
    assert mnist_lessons.DataError is DataError


def test_loading_does_not_import_keras():
    """Does loading the sample leave Keras and TensorFlow unimported (they take seconds)?"""
    code = (
        "import sys, mnist_lessons; mnist_lessons.load_mnist_data('sample'); "
        "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# --- Keras -----------------------------------------------------------------


def _keras_must_not_be_called():
    raise AssertionError("Keras was asked for MNIST, but another source should have been used")


def _keras_offline():
    raise Exception("URL fetch failure on https://storage.googleapis.com/mnist.npz: [Errno -3] no network")


def test_keras_success_is_used(monkeypatch):
    """With no env var, does load_mnist_data() use what Keras returns, labelled "keras"?"""
    arrays = small_arrays()
    monkeypatch.setattr(
        data,
        "_load_keras",
        lambda: ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_mnist_data()
    assert loaded.source == "keras"
    assert "Keras cache" in loaded.location
    np.testing.assert_array_equal(loaded.train_images, arrays["x_train"])


def test_keras_failure_falls_back_to_sample_with_one_warning(monkeypatch):
    """When Keras cannot download, is the sample used, with exactly one warning pointing at the caller?"""
    monkeypatch.setattr(data, "_load_keras", _keras_offline)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_mnist_data()
    assert loaded.source == "sample"
    assert len(caught) == 1
    warning = caught[0]
    assert warning.category is DataSourceWarning
    message = str(warning.message)
    assert "\n" not in message
    assert "6,000 training and 1,000 test images" in message
    assert "URL fetch failure" in message
    assert DATA_ENV_VAR in message
    assert warning.filename == __file__  # stacklevel: the learner's line, not data.py


def test_load_mnist_fallback_warning_points_at_caller(monkeypatch):
    """Does load_mnist's fallback warning also point at the caller's line?"""
    monkeypatch.setattr(data, "_load_keras", _keras_offline)
    with pytest.warns(DataSourceWarning) as caught:
        load_mnist()
    assert len(caught) == 1
    assert caught[0].filename == __file__


def test_explicit_keras_failure_is_an_error(monkeypatch):
    """Does source="keras" raise a DataError when Keras fails, instead of falling back?"""
    monkeypatch.setattr(data, "_load_keras", _keras_offline)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        message = load_error("keras")
    assert "Keras could not load MNIST" in message
    assert "URL fetch failure" in message


def test_env_var_keras_failure_is_an_error(monkeypatch):
    """Does MNIST_LESSONS_DATA=keras raise when Keras fails, naming the variable?"""
    monkeypatch.setenv(DATA_ENV_VAR, "keras")
    monkeypatch.setattr(data, "_load_keras", _keras_offline)
    message = load_error(None)
    assert DATA_ENV_VAR in message
    assert "Keras could not load MNIST" in message


def test_bad_keras_arrays_are_an_error(monkeypatch):
    """If Keras returns malformed arrays, is that an error rather than a quiet fallback?"""
    arrays = small_arrays()
    monkeypatch.setattr(
        data,
        "_load_keras",
        lambda: ((arrays["x_train"].astype(np.float32), arrays["y_train"]), (arrays["x_test"], arrays["y_test"])),
    )
    message = load_error(None)
    assert "Keras cache" in message
    assert "float32" in message


# --- bad files -------------------------------------------------------------


def test_truncated_npz(tmp_path):
    """Does a truncated npz fail with a message naming the file?"""
    path = write_npz(tmp_path / "mnist.npz", **small_arrays())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    message = load_error(path)
    assert str(path) in message
    assert "damaged or truncated" in message


def test_not_a_zip(tmp_path):
    """Does a file that is not a zip archive fail, saying it is not an .npz?"""
    path = tmp_path / "mnist.npz"
    path.write_text("<html>404 Not Found</html>")
    message = load_error(path)
    assert str(path) in message
    assert "not an .npz file" in message


def test_npy_instead_of_npz(tmp_path):
    """Does a single-array .npy fail, saying it is not the four arrays of a mnist.npz?"""
    path = tmp_path / "x_train.npy"
    np.save(path, small_arrays()["x_train"])
    message = load_error(path)
    assert str(path) in message
    assert "single array" in message


def test_missing_array(tmp_path):
    """Does an npz without y_test fail, naming the missing array?"""
    arrays = small_arrays()
    del arrays["y_test"]
    path = write_npz(tmp_path / "mnist.npz", **arrays)
    message = load_error(path)
    assert str(path) in message
    assert "has no array named y_test" in message


def test_pickled_object_array_is_refused(tmp_path):
    """Is an npz holding pickled objects refused (allow_pickle=False), with the file named?"""
    arrays = small_arrays()
    arrays["y_test"] = np.array([object()] * 10, dtype=object)
    path = write_npz(tmp_path / "mnist.npz", **arrays)
    message = load_error(path)
    assert str(path) in message
    assert "pickled Python objects" in message


def test_damaged_deflate_data(tmp_path):
    """Does an npz whose compressed bytes are damaged fail, naming the file, without a zlib traceback?"""
    path = tmp_path / "mnist.npz"
    np.savez_compressed(path, **small_arrays())
    raw = bytearray(path.read_bytes())
    raw[200:260] = b"\xff" * 60  # inside x_train's compressed data
    path.write_bytes(bytes(raw))
    message = load_error(path)
    assert str(path) in message
    assert "damaged or truncated" in message


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("x_train", np.zeros((20, 784), np.uint8), "x_train in {path} has shape (20, 784), expected (N, 28, 28)"),
        ("x_test", np.zeros((10, 28, 28), np.float64), "x_test in {path} has dtype float64, expected uint8"),
        ("x_train", np.zeros((20, 28, 28), np.int64), "x_train in {path} has dtype int64, expected uint8"),
        ("y_train", np.zeros(20, np.int64), "y_train in {path} has dtype int64, expected uint8"),
        ("y_test", np.zeros((10, 1), np.uint8), "y_test in {path} has shape (10, 1), expected (N,)"),
        ("y_train", np.full(20, 10, np.uint8), "y_train in {path} holds the label 10 (at index 0)"),
        ("y_test", np.zeros(9, np.uint8), "{path} has 10 images in x_test but 9 labels in y_test"),
        ("x_train", np.zeros((0, 28, 28), np.uint8), "x_train in {path} holds no images"),
    ],
    ids=[
        "flat-images",
        "float-images",
        "int64-images",
        "int64-labels",
        "2d-labels",
        "label-10",
        "count-mismatch",
        "empty",
    ],
)
def test_bad_arrays(tmp_path, key, value, expected):
    """Does each malformed array fail with a message naming the file, the array and the problem?"""
    arrays = small_arrays()
    arrays[key] = value
    path = write_npz(tmp_path / "mnist.npz", **arrays)
    assert expected.format(path=path.absolute()) in load_error(path)


def test_missing_file(tmp_path):
    """Does a path that does not exist fail, naming the path?"""
    path = tmp_path / "nowhere" / "mnist.npz"
    message = load_error(path)
    assert f"{path} does not exist" in message


def test_missing_file_from_env_var(tmp_path, monkeypatch):
    """Does a bad MNIST_LESSONS_DATA fail (never fall back), naming the variable and the path?"""
    path = tmp_path / "mnist.npz"
    monkeypatch.setenv(DATA_ENV_VAR, str(path))
    monkeypatch.setattr(data, "_load_keras", _keras_must_not_be_called)
    message = load_error(None)
    assert DATA_ENV_VAR in message
    assert f"{path} does not exist" in message


def test_source_of_wrong_type():
    """Does a source that is neither a path nor a name fail with a DataError?"""
    assert "not a data source" in load_error(42)


def test_missing_idx_file(tmp_path):
    """Does an IDX folder without t10k-labels fail, naming the folder and the missing file?"""
    folder = write_idx_folder(tmp_path / "mnist", small_arrays(), gz=True)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    message = load_error(folder)
    assert str(folder) in message
    assert "no t10k-labels-idx1-ubyte file" in message


def test_wrong_idx_magic(tmp_path):
    """Does a labels file in place of an images file fail, giving the magic found and expected?"""
    folder = write_idx_folder(tmp_path / "mnist", small_arrays())
    shutil.copy(folder / "train-labels-idx1-ubyte", folder / "train-images-idx3-ubyte")
    message = load_error(folder)
    assert str(folder / "train-images-idx3-ubyte") in message
    assert "found 0x00000801, expected 0x00000803" in message


def test_truncated_idx(tmp_path):
    """Does an IDX file shorter than its header promises fail, saying it is truncated?"""
    folder = write_idx_folder(tmp_path / "mnist", small_arrays())
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    message = load_error(folder)
    assert str(path) in message
    assert "is truncated" in message
    assert "7,840 bytes" in message  # 10 images of 28x28


def test_idx_cut_inside_header(tmp_path):
    """Does an IDX file that ends inside its header fail, naming the file?"""
    folder = write_idx_folder(tmp_path / "mnist", small_arrays())
    path = folder / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:6])
    message = load_error(folder)
    assert str(path) in message
    assert "truncated" in message


def test_corrupt_gzip(tmp_path):
    """Does a damaged .gz fail, naming the file and saying it is not a readable gzip file?"""
    folder = write_idx_folder(tmp_path / "mnist", small_arrays(), gz=True)
    path = folder / "train-images-idx3-ubyte.gz"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    message = load_error(folder)
    assert str(path) in message
    assert "not a readable gzip file" in message


def test_idx_checks_reach_validation(tmp_path):
    """Are IDX arrays validated too: a label 12 named by its file?"""
    arrays = small_arrays()
    arrays["y_train"][3] = 12
    folder = write_idx_folder(tmp_path / "mnist", arrays)
    message = load_error(folder)
    assert "train-labels-idx1-ubyte" in message
    assert "holds the label 12 (at index 3)" in message


# --- describe_dataset ------------------------------------------------------


def test_describe_dataset_on_tiny_arrays():
    """Does describe_dataset give the exact summary of three hand-made images?"""
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    images[0, 0, 0] = 3
    images[2, 27, 27] = 250
    labels = np.array([7, 0, 7], dtype=np.uint8)
    assert describe_dataset(images, labels) == {
        "num_images": 3,
        "image_shape": (28, 28),
        "dtype": "uint8",
        "pixel_min": 0,
        "pixel_max": 250,
        "class_counts": {0: 1, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 2, 8: 0, 9: 0},
    }


def test_describe_dataset_returns_plain_python_types():
    """Are describe_dataset's numbers plain ints, ready for json.dumps?"""
    summary = describe_dataset(*load_mnist_data("sample").splits()[1])
    json.dumps(summary)  # raises on numpy integers
    assert summary["num_images"] == 1000
    assert sum(summary["class_counts"].values()) == 1000
    assert all(type(count) is int for count in summary["class_counts"].values())


def test_missing_keras_falls_back_saying_so(monkeypatch):
    """Without Keras installed, does the fallback warning say so in plain words?"""

    def no_keras():
        raise ModuleNotFoundError("No module named 'keras'")

    monkeypatch.setattr(data, "_load_keras", no_keras)
    with pytest.warns(DataSourceWarning, match="Keras is not installed"):
        assert load_mnist_data().source == "sample"


def test_mnist_npz_path_of_each_source(tmp_path, monkeypatch):
    """Does mnist_npz_path give the npz that was read: a given file, the sample, or Keras' cache?"""
    arrays = small_arrays()
    npz = write_npz(tmp_path / "small.npz", **arrays)
    assert data.mnist_npz_path(npz) == npz.absolute()
    assert data.mnist_npz_path("sample") == data.SAMPLE_PATH
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setattr(
        data, "_load_keras",
        lambda: ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])),
    )
    assert data.mnist_npz_path() == tmp_path / "keras-home" / "datasets" / "mnist.npz"


def test_mnist_npz_path_refuses_an_idx_folder(tmp_path):
    """Is a folder of IDX files refused by name, since lesson 01 reads an npz?"""
    write_idx_folder(tmp_path, small_arrays())
    with pytest.raises(data.DataError, match="folder of IDX files"):
        data.mnist_npz_path(tmp_path)
