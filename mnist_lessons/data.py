"""Loading MNIST from a file, from Keras or from the bundled sample (lesson 01).

Every source goes through the same checks (shapes, dtypes, labels 0-9 and,
for the full set, the published checksums), so a damaged download fails here
with a sentence naming the file instead of deep inside training.
"""

import gzip
import hashlib
import json
import os
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_ENV_VAR = "MNIST_LESSONS_DATA"  # a path, "sample" or "keras"; read when source is None

SAMPLE_PATH = Path(__file__).parent / "sample" / "mnist_sample.npz"
# The sample's own array checksums, written by scripts/make_sample.py beside it.
SAMPLE_CHECKSUMS_PATH = SAMPLE_PATH.with_suffix(".json")

IMAGE_SHAPE = (28, 28)  # MNIST's size-normalised digits
NUM_CLASSES = 10  # the digits 0 to 9
FULL_SIZES = {"train": 60_000, "test": 10_000}  # LeCun, Cortes and Burges

# sha256 of each array's raw bytes (a.tobytes()) in the complete MNIST,
# from /work/shared/data/README.md; the same arrays Keras and the IDX files give.
MNIST_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")  # Keras' npz layout

# The original distribution's files, in ARRAY_NAMES order.
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
# IDX magic numbers: two zero bytes, type 0x08 (unsigned byte), number of dimensions.
IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801


class DataError(ValueError):
    """MNIST could not be loaded: the message names the file and what is wrong."""


class DataSourceWarning(UserWarning):
    """MNIST came from the bundled sample because the full set was out of reach."""


@dataclass(frozen=True, eq=False, repr=False)  # eq=False: comparing arrays with == is ambiguous
class MnistData:
    """The four MNIST arrays and where they came from."""

    train_images: np.ndarray  # (N, 28, 28) uint8
    train_labels: np.ndarray  # (N,) uint8, 0-9
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # short name for metrics.json: "file", "keras" or "sample"
    location: str  # what a person reads: the path, the Keras cache or the sample
    verified: bool  # True when the arrays match their published checksums
    path: Path  # the file or folder the arrays were read from

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
    """Load MNIST as an MnistData, from `source` or, when None, the best place available.

    `source` is a path to a Keras-layout .npz or to a folder of the four IDX
    files, "sample" for the bundled sample, or "keras" for Keras alone.
    With None: the environment variable MNIST_LESSONS_DATA if set, else Keras
    (its cache, or a download), else the bundled sample with a DataSourceWarning.
    """
    return _load(source, stacklevel=3)


def load_mnist(source=None):
    """Load MNIST as ((train_images, train_labels), (test_images, test_labels))."""
    return _load(source, stacklevel=3).splits()


def mnist_npz_path(source=None):
    """Return the path of a checked, Keras-layout mnist.npz, found as load_mnist finds its data.

    Lesson 01 has learners read this file with numpy themselves; a folder of
    IDX files is refused, since there is no .npz to read.
    """
    data = _load(source, stacklevel=3)
    if data.path.is_dir():
        raise DataError(
            f"{data.path} is a folder of IDX files, but lesson 01 reads a Keras-layout mnist.npz: "
            f"point {DATA_ENV_VAR} at a mnist.npz instead."
        )
    return data.path


def _load(source, stacklevel):
    # stacklevel: the warning points at the learner's call, not at this module.
    if source is not None:
        return _load_source(source)
    env_value = os.environ.get(DATA_ENV_VAR, "").strip()
    if env_value:
        try:
            return _load_source(env_value)
        except DataError as err:
            # Say where the bad path came from: it is not in the learner's code.
            raise DataError(f"{DATA_ENV_VAR} is set to {env_value!r}, but {err}") from err
    try:
        return _from_keras()
    except DataError:
        raise  # Keras gave arrays and they are wrong: a real problem, not a missing network
    except Exception as err:
        reason = _short_reason(err)
    sample = _load_sample()
    warnings.warn(
        f"Using the bundled MNIST sample ({len(sample.train_labels):,} training and "
        f"{len(sample.test_labels):,} test images): Keras could not download MNIST ({reason}). "
        f"For the full set, connect to the internet or set {DATA_ENV_VAR} to a mnist.npz.",
        DataSourceWarning,
        stacklevel=stacklevel,
    )
    return sample


def _load_source(source):
    """Load an explicit source: "sample", "keras" or a path (never falls back)."""
    if isinstance(source, str) and source.strip().lower() == "sample":
        return _load_sample()
    if isinstance(source, str) and source.strip().lower() == "keras":
        try:
            return _from_keras()
        except DataError:
            raise
        except Exception as err:
            raise DataError(f"Keras could not load MNIST ({_short_reason(err)}).") from err
    try:
        path = Path(os.fspath(source)).expanduser()
    except TypeError as err:
        raise DataError(
            f"{source!r} is not a data source: give a path, 'sample' or 'keras'."
        ) from err
    if path.is_dir():
        named = _read_idx_folder(path)
    elif path.is_file():
        named = _read_npz(path)
    else:
        raise DataError(
            f"{path} does not exist: give the path of a mnist.npz file "
            "or of a folder holding the four MNIST IDX files."
        )
    where = str(path.absolute())
    verified = _validate(named, where)
    return _make_data(named, source="file", location=where, verified=verified, path=path.absolute())


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


def _read_idx_folder(folder):
    """Return [(file name, array)] for the four IDX files of the original distribution."""
    named = []
    for stem in IDX_FILES:
        path = _find_idx_file(folder, stem)
        magic = IDX_IMAGES_MAGIC if "images" in stem else IDX_LABELS_MAGIC
        named.append((path.name, _read_idx_file(path, magic)))
    return named


def _find_idx_file(folder, stem):
    # Accept gzipped or not, and the common "train-images.idx3-ubyte" spelling.
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(
        f"{folder} has no {stem} file (or {stem}.gz): an MNIST folder holds "
        f"{', '.join(IDX_FILES[:-1])} and {IDX_FILES[-1]}, gzipped or not."
    )


def _read_idx_file(path, expected_magic):
    """Read one IDX file (gzipped or not) into a uint8 array, checking its header."""
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz" or raw[:2] == b"\x1f\x8b":  # gzip's own magic bytes
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(
            f"{path} is not a readable gzip file ({_short_reason(err)}): "
            "it is damaged or truncated; download it again."
        ) from err
    if len(raw) < 4:
        raise DataError(f"{path} is too short ({len(raw)} bytes) to be an IDX file.")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        kind = "images" if expected_magic == IDX_IMAGES_MAGIC else "labels"
        raise DataError(
            f"{path} does not start with the IDX magic number for {kind}: "
            f"found 0x{magic:08X}, expected 0x{expected_magic:08X}."
        )
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim  # magic, then one big-endian 32-bit size per dimension
    if len(raw) < header_size:
        raise DataError(f"{path} is truncated: it ends inside its IDX header.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    found = len(raw) - header_size
    if found != expected:
        problem = "is truncated" if found < expected else "has extra bytes"
        raise DataError(
            f"{path} {problem}: its header promises {expected:,} bytes of data "
            f"for shape {shape}, but {found:,} follow."
        )
    # copy(): frombuffer over bytes is read-only, and learners may edit arrays.
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape).copy()


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


def _load_keras():
    """Return Keras' ((x_train, y_train), (x_test, y_test)); tests replace this function."""
    from mnist_lessons.backend import import_keras  # here only: importing TensorFlow takes seconds

    return import_keras().datasets.mnist.load_data()


def _from_keras():
    (x_train, y_train), (x_test, y_test) = _load_keras()
    named = list(zip(ARRAY_NAMES, (x_train, y_train, x_test, y_test)))
    path = _keras_cache_path()
    location = f"Keras cache ({path})"
    verified = _validate(named, location)
    return _make_data(named, source="keras", location=location, verified=verified, path=path)


def _keras_cache_path():
    """Where keras.datasets.mnist.load_data keeps mnist.npz (keras.utils.get_file's rule)."""
    home = Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser()
    if not os.access(home, os.W_OK) and not os.access(home.parent, os.W_OK):
        home = Path(tempfile.gettempdir()) / ".keras"  # get_file's fallback for a read-only home
    return home / "datasets" / "mnist.npz"


def _load_sample():
    """Load the bundled sample and check it against the checksums made with it."""
    location = f"bundled sample ({SAMPLE_PATH})"
    if not SAMPLE_PATH.is_file() or not SAMPLE_CHECKSUMS_PATH.is_file():
        raise DataError(
            f"The bundled sample is missing ({SAMPLE_PATH} or its .json): reinstall mnist_lessons."
        )
    named = _read_npz(SAMPLE_PATH)
    _validate(named, location)
    try:
        recorded = json.loads(SAMPLE_CHECKSUMS_PATH.read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(
            f"{SAMPLE_CHECKSUMS_PATH} cannot be read ({_short_reason(err)}): reinstall mnist_lessons."
        ) from err
    for name, array in named:
        if _sha256(array) != recorded.get(name):
            raise DataError(
                f"{name} in {SAMPLE_PATH} differs from the checksum recorded when the sample "
                "was made: the installed file is damaged; reinstall mnist_lessons."
            )
    return _make_data(named, source="sample", location=location, verified=True, path=SAMPLE_PATH)


def _make_data(named, source, location, verified, path):
    arrays = [array for _, array in named]
    return MnistData(*arrays, source=source, location=location, verified=verified, path=path)


def _short_reason(err, limit=160):
    """One line about an exception, short enough to sit inside a sentence."""
    if isinstance(err, ImportError):
        return "Keras is not installed"
    name = type(err).__name__
    if name == "error":  # zlib.error and the like: the bare name says nothing
        name = f"{type(err).__module__}.{name}"
    lines = str(err).strip().splitlines()
    if not lines:
        return name
    text = lines[0] if type(err) is Exception else f"{name}: {lines[0]}"
    if len(text) > limit:
        # Keep both ends: the cause ("Name or service not known") is often last.
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
