"""Fixtures shared by the test files."""

import os
from pathlib import Path

import pytest

from mnist_lessons.data import DATA_ENV_VAR, PACKAGED_PATH


@pytest.fixture(scope="session")
def full_mnist_path():
    """Path of a complete, verified mnist.npz: MNIST_LESSONS_DATA when it names a file, else the package's own."""
    value = os.environ.get(DATA_ENV_VAR, "").strip()
    path = Path(value).expanduser() if value and value.lower() != "sample" else PACKAGED_PATH
    if not path.is_file():
        pytest.fail(f"{DATA_ENV_VAR} names {path}, which is not a file")
    return path
