"""Fixtures shared by the test files."""

import os
from pathlib import Path

import pytest

from mnist_lessons.data import DATA_ENV_VAR


@pytest.fixture(scope="session")
def full_mnist_path():
    """Path of the complete, verified mnist.npz; skips the test when it is not on this machine.

    MNIST_LESSONS_DATA when it names a file, else ../shared/data/mnist.npz beside the
    repository. Tests never download MNIST.
    """
    value = os.environ.get(DATA_ENV_VAR, "").strip()
    if value and value.lower() not in ("sample", "keras"):
        path = Path(value).expanduser()
    else:
        path = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"
    if not path.is_file():
        pytest.skip(f"the full MNIST is not at {path} (set {DATA_ENV_VAR} to a mnist.npz)")
    return path
