"""Tests of mnist_lessons.data, lesson 01: the MNIST inside the package, files of one's own, and bad data.

No test imports TensorFlow or touches the network.
"""

import hashlib
import json
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
    MnistData,
    describe_dataset,
    load_mnist,
    load_mnist_data,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

# Images per digit in the full MNIST (LeCun, Cortes and Burges), digits 0 to 9.
FULL_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
FULL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# sha256 of the verified file in shared/data/ (its README), which the package ships unchanged.
PACKAGED_FILE_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"


@pytest.fixture(autouse=True)
def no_data_env_var(monkeypatch):
    """A user's MNIST_LESSONS_DATA must not steer the tests; tests that need it set it."""
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def full_data():
    """The package's MNIST, loaded once for the tests that read it."""
    return load_mnist_data()


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


def load_error(source):
    """The DataError message that loading `source` gives."""
    with pytest.raises(DataError) as info:
        load_mnist_data(source)
    return str(info.value)


# --- the full MNIST, inside the package ------------------------------------


def test_packaged_file_is_the_verified_mnist():
    """Is the package's mnist.npz, byte for byte, the verified file of shared/data (sha256)?"""
    assert hashlib.sha256(data.PACKAGED_PATH.read_bytes()).hexdigest() == PACKAGED_FILE_SHA256


def test_packaged_arrays_match_the_published_checksums():
    """Do the package's four arrays hash to the sums recorded in data.py, which shared/data/README.md publishes?"""
    with np.load(data.PACKAGED_PATH, allow_pickle=False) as npz:
        for name in data.ARRAY_NAMES:
            assert hashlib.sha256(npz[name].tobytes()).hexdigest() == data.MNIST_SHA256[name], name


def test_the_shipped_file_is_known_by_its_digest(tmp_path):
    """Is the package's own file recognised by its digest, and a copy with one byte changed, or no file, not?"""
    assert data.PACKAGED_FILE_SHA256 == PACKAGED_FILE_SHA256
    assert data.is_shipped_file(data.PACKAGED_PATH)
    changed = bytearray(data.PACKAGED_PATH.read_bytes())
    changed[len(changed) // 2] ^= 1
    (tmp_path / "mnist.npz").write_bytes(changed)
    assert not data.is_shipped_file(tmp_path / "mnist.npz")
    assert not data.is_shipped_file(tmp_path / "absent.npz")


def test_published_arrays_are_known_by_shape_dtype_and_bytes(full_data):
    """Are the four arrays recognised as MNIST's published ones, and one with a pixel changed, a wider dtype, a
    row less, or a list, not?"""
    arrays = dict(zip(data.ARRAY_NAMES, (full_data.train_images, full_data.train_labels, full_data.test_images,
                                         full_data.test_labels)))
    assert all(data.is_published_array(key, array) for key, array in arrays.items())
    assert data.is_published_array("x_test", np.asfortranarray(arrays["x_test"]))  # the same values, other layout
    changed = arrays["x_test"].copy()
    changed[0, 14, 14] ^= 1
    assert not data.is_published_array("x_test", changed)
    assert not data.is_published_array("y_test", arrays["y_test"].astype(np.int64))
    assert not data.is_published_array("y_test", arrays["y_test"][:-1])
    assert not data.is_published_array("y_test", arrays["y_test"].tolist())


def test_default_is_the_full_mnist_from_the_package(full_data):
    """With nothing set, does load_mnist_data() give the whole MNIST from the package, verified and quiet?"""
    assert full_data.source == "package"
    assert full_data.path == data.PACKAGED_PATH
    assert str(data.PACKAGED_PATH) in full_data.location
    assert full_data.train_images.shape == (60000, 28, 28)
    assert full_data.train_labels.shape == (60000,)
    assert full_data.test_images.shape == (10000, 28, 28)
    assert full_data.test_labels.shape == (10000,)
    for array in (full_data.train_images, full_data.train_labels, full_data.test_images):
        assert array.dtype == np.uint8
    assert full_data.verified is True
    assert full_data.train_labels[0] == 5
    assert full_data.test_labels[0] == 7
    assert np.bincount(full_data.train_labels).tolist() == FULL_TRAIN_COUNTS
    assert np.bincount(full_data.test_labels).tolist() == FULL_TEST_COUNTS
    assert describe_dataset(full_data.train_images, full_data.train_labels)["class_counts"][1] == 6742


def test_default_load_warns_nothing():
    """Does the default load raise no warning at all (nothing for a lesson's stderr)?"""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_mnist()


def test_a_damaged_packaged_copy_says_reinstall(tmp_path, monkeypatch, full_data):
    """Does a package whose MNIST no longer matches its checksums fail, naming the file and saying to reinstall?"""
    x_test = full_data.test_images.copy()
    x_test[0, 0, 0] ^= 1
    damaged = write_npz(tmp_path / "mnist.npz", x_train=full_data.train_images, y_train=full_data.train_labels,
                        x_test=x_test, y_test=full_data.test_labels)
    monkeypatch.setattr(data, "PACKAGED_PATH", damaged)
    message = load_error(None)
    assert "x_test" in message and "differs from the published MNIST" in message
    assert "reinstall" in message


def test_env_var_path_is_used(full_mnist_path, monkeypatch):
    """Does load_mnist_data() read the file MNIST_LESSONS_DATA points to?"""
    monkeypatch.setenv(DATA_ENV_VAR, str(full_mnist_path))
    loaded = load_mnist_data()
    assert loaded.source == "file"
    assert loaded.verified is True
    assert loaded.location == str(full_mnist_path.absolute())
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


def test_mnist_npz_path_is_the_file_read(tmp_path):
    """Does mnist_npz_path name the package's file by default, and an explicit file when given one?"""
    assert data.mnist_npz_path() == data.PACKAGED_PATH
    path = write_npz(tmp_path / "subset.npz", **small_arrays())
    assert data.mnist_npz_path(path) == path.absolute()


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


def test_sample_is_a_stratified_tenth():
    """Is the sample 6,000 + 1,000 images with each digit at 10% of MNIST's count, give or take 1?"""
    sample = load_mnist_data("sample")
    assert sample.source == "sample"
    assert sample.train_images.shape == (6000, 28, 28)
    assert sample.test_images.shape == (1000, 28, 28)
    for labels, full_counts in ((sample.train_labels, FULL_TRAIN_COUNTS), (sample.test_labels, FULL_TEST_COUNTS)):
        counts = np.bincount(labels, minlength=10)
        for digit, (count, full) in enumerate(zip(counts, full_counts)):
            assert abs(count - full / 10) <= 1, f"digit {digit}: {count} in the sample, {full} in MNIST"


def test_sample_is_the_same_images_every_time():
    """Does the sample drawn from the package hash to the sums recorded when the checks were calibrated on it?

    The draw uses numpy's Generator; a numpy whose stream changed would fail here, not quietly move the checks.
    """
    sample = load_mnist_data("sample")
    arrays = dict(zip(data.ARRAY_NAMES, (sample.train_images, sample.train_labels,
                                         sample.test_images, sample.test_labels)))
    for name, array in arrays.items():
        assert hashlib.sha256(array.tobytes()).hexdigest() == data.SAMPLE_SHA256[name], name


def test_env_var_sample_gives_sample_without_warning(monkeypatch):
    """Does MNIST_LESSONS_DATA=sample give the sample quietly?"""
    monkeypatch.setenv(DATA_ENV_VAR, "sample")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_mnist_data().source == "sample"


def test_package_exports_data_names():
    """Are the data names importable from mnist_lessons itself?"""
    assert mnist_lessons.load_mnist_data is load_mnist_data
    assert mnist_lessons.MnistData is MnistData
    assert mnist_lessons.DataError is DataError


def test_loading_does_not_import_keras():
    """Does loading MNIST leave Keras and TensorFlow unimported (they take seconds)?"""
    code = (
        "import sys, mnist_lessons; mnist_lessons.load_mnist_data(); "
        "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


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


def test_folder_is_refused(tmp_path):
    """Does a folder (say, of the original IDX files) fail, asking for a mnist.npz?"""
    message = load_error(tmp_path)
    assert f"{tmp_path} is a folder" in message and "mnist.npz" in message


def test_missing_file_from_env_var(tmp_path, monkeypatch):
    """Does a bad MNIST_LESSONS_DATA fail (never fall back), naming the variable and the path?"""
    path = tmp_path / "mnist.npz"
    monkeypatch.setenv(DATA_ENV_VAR, str(path))
    message = load_error(None)
    assert DATA_ENV_VAR in message
    assert f"{path} does not exist" in message


def test_source_of_wrong_type():
    """Does a source that is neither a path nor a name fail with a DataError?"""
    assert "not a data source" in load_error(42)


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
