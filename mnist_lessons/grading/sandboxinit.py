"""``mnist_lessons`` as graded code sees it in the grader's sandbox: what a lesson's set-up uses, none of the course's answers.

``sandboxview.py`` copies this file into the sandbox as the package's
``__init__.py``, beside the few modules the sandboxed child itself runs.
There, ``import mnist_lessons as ml`` and ``from mnist_lessons import checks``
still work, so the lessons' set-up cells run as they do in JupyterLab; but
the package's answers to the exercises (``ml.preprocess_images``, ...), its
checks, its hints and their solutions are not there to call, import or read:
each says so when asked for. Nothing in this file is imported by the grader.
"""

import os
import sys
import types
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # as the package's own __init__: TensorFlow's start-up log

PACKAGED_PATH = Path(__file__).parent / "dataset" / "mnist.npz"  # MNIST itself is data, not an answer
ABSENT = ("the course's own answers, checks and hints are not available while your work is graded: "
          "each graded function must do its work itself")


def mnist_npz_path(source=None):
    """The MNIST file lesson 01's set-up names (the package's own; a path given is taken as it is)."""
    return PACKAGED_PATH if source in (None, "sample") else Path(source)


def set_seed(seed):
    """Seed Python, NumPy and Keras, as ``ml.set_seed`` does in a lesson's kernel."""
    from mnist_lessons.backend import set_seed as seed_everything

    seed_everything(seed)


class _Absent(types.ModuleType):
    """A module of the course's that graded code may import but not use: every name in it says why."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def absent(*args, **kwargs):
            raise RuntimeError(f"{self.__name__}.{name}: {ABSENT}.")

        return absent


checks = sys.modules[f"{__name__}.checks"] = _Absent(f"{__name__}.checks")  # set-up cells import it; none calls it


def __getattr__(name):
    raise AttributeError(f"mnist_lessons.{name}: {ABSENT}.")
