"""Keras, imported once without TensorFlow's start-up noise (every lesson from 03 on).

TensorFlow writes a few INFO lines ("oneDNN custom operations are on", "Could
not find cuda drivers") straight to file descriptor 2 while it loads, before
its logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them. In a
notebook they land in the cell's stderr, and nbgrader scores a test cell that
writes to stderr as zero. So the first import of Keras runs with fd 2 sent to a
temporary file, and afterwards every line that is not one of those INFO
notices is written back: warnings and errors still show.
"""

import contextlib
import importlib
import os
import re
import sys
import tempfile

# absl's INFO lines look like "I0000 00:00:1795519771.928488    2536 port.cc:153] ...".
_INFO_LINE = re.compile(r"^I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def import_keras():
    """Return the ``keras`` module, importing it quietly the first time."""
    if "keras" not in sys.modules:
        with _filtered_stderr():
            importlib.import_module("keras")
    return sys.modules["keras"]


def backend_name():
    """The name of the Keras backend in use: "tensorflow", "jax" or "torch"."""
    return import_keras().backend.backend()


def library_versions():
    """Versions of the libraries a result depends on, for metrics and bug reports."""
    import platform

    import matplotlib
    import numpy

    from mnist_lessons import __version__

    keras = import_keras()
    versions = {
        "python": platform.python_version(),
        "mnist_lessons": __version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "matplotlib": matplotlib.__version__,
    }
    backend = keras.backend.backend()
    versions[backend] = importlib.import_module(backend).__version__
    return versions


def _is_noise(line):
    return bool(_INFO_LINE.match(line)) or line.strip() == _ABSL_PREAMBLE


@contextlib.contextmanager
def _filtered_stderr():
    """Send fd 2 to a temporary file; on exit, replay all but the INFO noise."""
    try:
        sys.stderr.flush()
        saved_fd = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (some embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except ValueError:
                pass
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True)
                if not _is_noise(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
