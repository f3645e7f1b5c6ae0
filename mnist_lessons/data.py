"""Loading MNIST, which ships inside the package, or from a file of one's own (lesson 01).

The complete MNIST database of handwritten digits (Yann LeCun, Corinna Cortes
and Christopher J.C. Burges; CC BY-SA 3.0) is ``dataset/mnist.npz`` beside this
module: 60,000 training and 10,000 test images, with no download, so every
learner, online or not, gets the data the lessons describe. Every source goes
through the same checks (shapes, dtypes, labels 0-9 and, for the full set, the
published checksums), so a damaged file fails here with a sentence naming it,
not deep inside training.
"""

import functools
import hashlib
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_ENV_VAR = "MNIST_LESSONS_DATA"  # a path or "sample"; read when source is None

PACKAGED_PATH = Path(__file__).parent / "dataset" / "mnist.npz"  # the complete MNIST, shipped with the package

IMAGE_SHAPE = (28, 28)  # MNIST's size-normalised digits
NUM_CLASSES = 10  # the digits 0 to 9
FULL_SIZES = {"train": 60_000, "test": 10_000}  # LeCun, Cortes and Burges

# sha256 of each array's raw bytes (a.tobytes()) in the complete MNIST,
# from shared/data/README.md, where their agreement with the original IDX files' md5 sums is recorded.
MNIST_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")  # Keras' npz layout
# sha256 of the package's mnist.npz itself, the verified file of shared/data (its README): a file with this digest
# holds exactly the arrays above, which lesson 01's check then knows without reading them (``is_shipped_file``).
PACKAGED_FILE_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"

# The sample: a class-stratified tenth of each split (6,000 + 1,000 images), drawn from the full set
# with numpy.random.default_rng(0), training split first. The checks and the grader train on it, so a
# check answers in seconds; it is drawn on load rather than shipped, and tests hold it to these sums.
SAMPLE_FRACTION = 0.10
SAMPLE_SEED = 0  # the course's seed
SAMPLE_SHA256 = {
    "x_train": "19c0e644edff0bb221a0b06cab5419cb224e8e9e2b237742cd29174b25490ea1",
    "y_train": "b0df9af6927d829b4ab6ddb0abe98c2bde2c65a03be10208d2e2bf6020607fd8",
    "x_test": "c6119a031321c4d31a1b6b5c830c9a14ae974fbaae834433a7d0ef113d99f669",
    "y_test": "b55e26da6ea404c80a1ee8320d42cef7486f3ddbde42c5875fd09edad6d5976a",
}


class DataError(ValueError):
    """MNIST could not be loaded: the message names the file and what is wrong."""


@dataclass(frozen=True, eq=False, repr=False)  # eq=False: comparing arrays with == is ambiguous
class MnistData:
    """The four MNIST arrays and where they came from."""

    train_images: np.ndarray  # (N, 28, 28) uint8
    train_labels: np.ndarray  # (N,) uint8, 0-9
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # short name for metrics.json: "package", "file" or "sample"
    location: str  # what a person reads: the path, or the package's copy
    verified: bool  # True when the arrays match the published MNIST
    path: Path  # the .npz the arrays were read from (for the sample, the one it was drawn from)

    def splits(self):
        """Return ((train_images, train_labels), (test_images, test_labels)), like Keras."""
        return (self.train_images, self.train_labels), (self.test_images, self.test_labels)

    def __repr__(self):
        # Shapes rather than thousands of pixel values.
        return (
            f"MnistData(train={self.train_images.shape}, test={self.test_images.shape}, "
            f"source={self.source!r}, location={self.location!r}, verified={self.verified})"
        )


def load_mnist_data(source=None):
    """Load MNIST as an MnistData, from ``source`` or, when None, ``MNIST_LESSONS_DATA`` or the package's copy.

    ``source`` is the path of a Keras-layout .npz (arrays x_train, y_train,
    x_test, y_test), or "sample" for a class-stratified tenth of the full set.
    """
    if source is not None:
        return _load_source(source)
    env_value = os.environ.get(DATA_ENV_VAR, "").strip()
    if env_value:
        try:
            return _load_source(env_value)
        except DataError as err:
            # Say where the bad path came from: it is not in the learner's code.
            raise DataError(f"{DATA_ENV_VAR} is set to {env_value!r}, but {err}") from err
    return _load_packaged()


def load_mnist(source=None):
    """Load MNIST as ((train_images, train_labels), (test_images, test_labels))."""
    return load_mnist_data(source).splits()


def mnist_npz_path(source=None):
    """Return the path of the checked, Keras-layout mnist.npz that ``load_mnist(source)`` reads.

    Lesson 01 has learners read this file with numpy themselves. For the
    sample it is the full file the sample is drawn from.
    """
    return load_mnist_data(source).path


def _load_source(source):
    """Load an explicit source: "sample" or a path (never falls back)."""
    if isinstance(source, str) and source.strip().lower() == "sample":
        return _load_sample()
    try:
        path = Path(os.fspath(source)).expanduser()
    except TypeError as err:
        raise DataError(f"{source!r} is not a data source: give the path of a mnist.npz, or 'sample'.") from err
    if path.is_dir():
        raise DataError(f"{path} is a folder: give the path of a mnist.npz file in it.")
    if not path.is_file():
        raise DataError(f"{path} does not exist: give the path of a mnist.npz file.")
    named = _read_npz(path)
    where = str(path.absolute())
    verified = _validate(named, where)
    return _make_data(named, source="file", location=where, verified=verified, path=path.absolute())


def _load_packaged():
    """The complete MNIST inside the package, checked against the published checksums."""
    where = f"the copy of MNIST inside mnist_lessons ({PACKAGED_PATH})"
    if not PACKAGED_PATH.is_file():
        raise DataError(f"{PACKAGED_PATH} is missing: the package is damaged; reinstall mnist-lessons.")
    try:
        named = _read_npz(PACKAGED_PATH)
        verified = _validate(named, where)
    except DataError as err:
        raise DataError(f"{err} The package's copy is damaged; reinstall mnist-lessons.") from err
    if not verified:
        raise DataError(f"{PACKAGED_PATH} is not the complete MNIST; reinstall mnist-lessons.")
    return _make_data(named, source="package", location=where, verified=True, path=PACKAGED_PATH)


def _load_sample():
    """A class-stratified tenth of the package's MNIST, the same images every time."""
    full = _load_packaged()
    rng = np.random.default_rng(SAMPLE_SEED)
    train = _stratified_indices(full.train_labels, rng)
    test = _stratified_indices(full.test_labels, rng)
    named = [
        ("x_train", full.train_images[train]), ("y_train", full.train_labels[train]),
        ("x_test", full.test_images[test]), ("y_test", full.test_labels[test]),
    ]
    location = f"a tenth of each digit of {full.location}"
    return _make_data(named, source="sample", location=location, verified=False, path=PACKAGED_PATH)


def _class_quotas(labels):
    """How many of each digit the sample keeps: a tenth of each, rounded so the total is exact.

    Largest-remainder rounding: floor every share, then give the missing images
    to the digits with the largest fractional parts (ties: the smaller digit).
    """
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    shares = counts * SAMPLE_FRACTION
    quotas = np.floor(shares).astype(int)
    missing = int(round(counts.sum() * SAMPLE_FRACTION)) - int(quotas.sum())
    order = sorted(range(len(counts)), key=lambda digit: (-(shares[digit] - quotas[digit]), digit))
    for digit in order[:missing]:
        quotas[digit] += 1
    return quotas


def _stratified_indices(labels, rng):
    """Indices of the sample of one split, sorted so the images keep their original order."""
    chosen = [
        rng.choice(np.flatnonzero(labels == digit), size=quota, replace=False)
        for digit, quota in enumerate(_class_quotas(labels))
    ]
    return np.sort(np.concatenate(chosen))


def _read_npz(path):
    """Return [(name, array)] for x_train, y_train, x_test, y_test in a Keras-layout .npz."""
    try:
        with open(path, "rb") as file:
            head = file.read(6)
    except OSError as err:
        raise DataError(f"{path} cannot be opened ({_short_reason(err)}).") from err
    if head.startswith(b"\x93NUMPY"):  # the .npy magic: one bare array
        raise DataError(f"{path} holds a single array (.npy), not the four arrays of a mnist.npz.")
    if not head.startswith(b"PK"):  # every zip archive, hence every .npz, starts so
        raise DataError(f"{path} is not an .npz file: an .npz is a zip archive, and this file is not one.")
    try:
        with np.load(path, allow_pickle=False) as npz:  # no pickles: an .npz may come from anywhere
            present = list(npz.files)
            missing = [name for name in ARRAY_NAMES if name not in present]
            if missing:
                raise DataError(
                    f"{path} has no array{'s' if len(missing) > 1 else ''} named {', '.join(missing)} "
                    f"(it holds: {', '.join(present) or 'nothing'}); a Keras-layout mnist.npz "
                    "holds x_train, y_train, x_test and y_test."
                )
            return [(name, npz[name]) for name in ARRAY_NAMES]
    except DataError:
        raise  # DataError is a ValueError: let it through unchanged
    except ValueError as err:
        if "allow_pickle" not in str(err):
            raise DataError(f"{path} cannot be read as an .npz ({_short_reason(err)}).") from err
        raise DataError(
            f"{path} holds pickled Python objects, which are not loaded because they can run "
            "code; MNIST's arrays are plain uint8."
        ) from err
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        raise DataError(
            f"{path} is damaged or truncated, perhaps by an interrupted download "
            f"({_short_reason(err)})."
        ) from err


def _validate(named, where):
    """Check the four (name, array) pairs; return True when they are the verified full MNIST."""
    for (image_name, images), (label_name, labels) in (named[0:2], named[2:4]):
        if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
            raise DataError(
                f"{image_name} in {where} has shape {images.shape}, expected (N, 28, 28): "
                "one 28x28 image per entry."
            )
        if images.dtype != np.uint8:
            raise DataError(
                f"{image_name} in {where} has dtype {images.dtype}, expected uint8 "
                "(whole-number pixels 0-255, as MNIST stores them)."
            )
        if labels.ndim != 1:
            raise DataError(
                f"{label_name} in {where} has shape {labels.shape}, expected (N,): one label per image."
            )
        if labels.dtype != np.uint8:
            raise DataError(
                f"{label_name} in {where} has dtype {labels.dtype}, expected uint8 (digits 0-9)."
            )
        if len(images) == 0:
            raise DataError(f"{image_name} in {where} holds no images.")
        if len(images) != len(labels):
            raise DataError(
                f"{where} has {len(images):,} images in {image_name} but {len(labels):,} labels "
                f"in {label_name}: each image needs exactly one label."
            )
        bad = np.flatnonzero(labels >= NUM_CLASSES)  # uint8 cannot be negative
        if bad.size:
            raise DataError(
                f"{label_name} in {where} holds the label {labels[bad[0]]} (at index {bad[0]}), "
                "but MNIST labels are the digits 0 to 9."
            )
    return _verify_checksums(named, where)


def _verify_checksums(named, where):
    """Compare full-size splits with the published sha256; smaller subsets are left unverified."""
    verified = True
    for split, pairs in (("train", named[0:2]), ("test", named[2:4])):
        if len(pairs[0][1]) != FULL_SIZES[split]:
            verified = False  # a learner's subset: allowed, but not the published set
            continue
        for key, (name, array) in zip((f"x_{split}", f"y_{split}"), pairs):
            found = _sha256(array)
            if found != MNIST_SHA256[key]:
                raise DataError(
                    f"{name} in {where} differs from the published MNIST (sha256 {found[:12]}..., "
                    f"expected {MNIST_SHA256[key][:12]}...): the file is corrupt or not MNIST."
                )
    return verified


def _sha256(array):
    # Hash of the raw bytes in C order, as the published checksums are taken.
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def published_shape(key):
    """The shape of MNIST's published array ``key`` ("x_train", "y_train", "x_test" or "y_test")."""
    size = FULL_SIZES[key.removeprefix("x_").removeprefix("y_")]
    return (size, *IMAGE_SHAPE) if key.startswith("x_") else (size,)


def is_published_array(key, array):
    """Whether ``array`` holds exactly MNIST's published array ``key``: its shape, dtype (uint8) and bytes."""
    return (isinstance(array, np.ndarray) and array.shape == published_shape(key) and array.dtype == np.uint8
            and _sha256(array) == MNIST_SHA256[key])


@functools.lru_cache(maxsize=None)
def is_shipped_file(path):
    """Whether ``path`` is, byte for byte, the mnist.npz the package ships (11 MB hashed: about 10 ms)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return False
    return digest.hexdigest() == PACKAGED_FILE_SHA256


def _make_data(named, source, location, verified, path):
    arrays = [array for _, array in named]
    return MnistData(*arrays, source=source, location=location, verified=verified, path=path)


def _short_reason(err, limit=160):
    """One line about an exception, short enough to sit inside a sentence."""
    name = type(err).__name__
    if name == "error":  # zlib.error and the like: the bare name says nothing
        name = f"{type(err).__module__}.{name}"
    lines = str(err).strip().splitlines()
    if not lines:
        return name
    text = lines[0] if type(err) is Exception else f"{name}: {lines[0]}"
    if len(text) > limit:
        # Keep both ends: the cause is often last.
        text = text[: limit // 3] + " ... " + text[-(limit - limit // 3 - 5) :]
    return text


def describe_dataset(images, labels):
    """Summarise images and labels: count, image shape, dtype, pixel range and count per digit."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    counts = np.bincount(labels.ravel().astype(np.int64), minlength=NUM_CLASSES)
    return {
        "num_images": int(images.shape[0]),
        "image_shape": tuple(int(n) for n in images.shape[1:]),
        "dtype": str(images.dtype),
        "pixel_min": int(images.min()) if images.size else None,  # None: no pixels to look at
        "pixel_max": int(images.max()) if images.size else None,
        "class_counts": {digit: int(counts[digit]) for digit in range(NUM_CLASSES)},
    }
