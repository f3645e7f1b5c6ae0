"""Make the bundled MNIST sample, mnist_lessons/sample/mnist_sample.npz (used by lesson 01).

A class-stratified 10% of the verified full MNIST: 6,000 training and 1,000
test images, each digit in its original proportion, in the original order.
Also writes mnist_sample.json with each array's sha256, which
mnist_lessons.data checks on every load to catch a damaged install.

    python scripts/make_sample.py [path/to/mnist.npz]

The full set comes from the argument, else MNIST_LESSONS_DATA, else
../shared/data/mnist.npz beside the repository. Running it again gives the
same file, byte for byte.
"""

import argparse
import io
import json
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # use this checkout's mnist_lessons, installed or not

from mnist_lessons import data  # noqa: E402  (after the path fix above)

FRACTION = 0.10  # 6,000 + 1,000 images: enough to train to ~95%, small enough to ship (~1-2 MB)
SEED = 0  # numpy.random.default_rng(0): the course's seed
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "mnist.npz"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps, so rerunning changes no byte


def class_quotas(labels, fraction):
    """How many of each digit to keep: fraction of each class, rounded so the total is exact.

    Largest-remainder rounding: floor every share, then give the missing
    images to the classes with the largest fractional parts (ties: smaller digit).
    """
    counts = np.bincount(labels, minlength=data.NUM_CLASSES)
    shares = counts * fraction
    quotas = np.floor(shares).astype(int)
    missing = int(round(counts.sum() * fraction)) - int(quotas.sum())
    order = sorted(range(len(counts)), key=lambda digit: (-(shares[digit] - quotas[digit]), digit))
    for digit in order[:missing]:
        quotas[digit] += 1
    return quotas


def stratified_indices(labels, fraction, rng):
    """Indices of a class-stratified sample, sorted so the original order is kept."""
    quotas = class_quotas(labels, fraction)
    chosen = [
        rng.choice(np.flatnonzero(labels == digit), size=quota, replace=False)
        for digit, quota in enumerate(quotas)
    ]
    return np.sort(np.concatenate(chosen))


def write_npz(path, arrays):
    """Write arrays as a compressed .npz, like np.savez_compressed but with fixed timestamps."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue(), compresslevel=9)


def make_sample(source, out_path=data.SAMPLE_PATH, fraction=FRACTION, seed=SEED):
    """Draw the sample from the full MNIST at `source` and write the .npz and its .json."""
    full = data.load_mnist_data(source)
    if not full.verified:
        raise SystemExit(f"{source} is not the verified full MNIST: the sample must come from it.")
    rng = np.random.default_rng(seed)
    train = stratified_indices(full.train_labels, fraction, rng)
    test = stratified_indices(full.test_labels, fraction, rng)
    arrays = {
        "x_train": full.train_images[train],
        "y_train": full.train_labels[train],
        "x_test": full.test_images[test],
        "y_test": full.test_labels[test],
    }
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_npz(out_path, arrays)
    record = {
        "description": "Class-stratified sample of MNIST, bundled with mnist_lessons",
        "made_by": "scripts/make_sample.py",
        "fraction": fraction,
        "seed": seed,
        "numpy": np.__version__,  # Generator.choice streams may change between numpy versions
        "shapes": {name: list(array.shape) for name, array in arrays.items()},
        "class_counts": {
            "train": np.bincount(arrays["y_train"], minlength=10).tolist(),
            "test": np.bincount(arrays["y_test"], minlength=10).tolist(),
        },
        "sha256": {name: data._sha256(array) for name, array in arrays.items()},
        "licence": "CC BY-SA 3.0, as MNIST (Yann LeCun, Corinna Cortes, Christopher J.C. Burges)",
    }
    out_path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    return arrays


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "source",
        nargs="?",
        default=os.environ.get(data.DATA_ENV_VAR) or DEFAULT_SOURCE,
        help=f"the full mnist.npz or IDX folder (default: ${data.DATA_ENV_VAR} or {DEFAULT_SOURCE})",
    )
    args = parser.parse_args(argv)
    arrays = make_sample(args.source)
    size = data.SAMPLE_PATH.stat().st_size
    print(
        f"Wrote {data.SAMPLE_PATH} ({size:,} bytes): {len(arrays['y_train']):,} training "
        f"and {len(arrays['y_test']):,} test images."
    )


if __name__ == "__main__":
    main()
