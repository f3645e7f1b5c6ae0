"""Keras, imported once on the faster backend and without TensorFlow's start-up noise (every lesson from 03 on).

Keras fixes its backend when it is first imported, from ``KERAS_BACKEND`` or
else ``~/.keras/keras.json``, which Keras itself fills with "tensorflow" on
its first run. On a CPU the course's model trains about 1.4 times faster on
JAX (0.79 s per epoch against 1.1 s on 2 cores, both with
steps_per_execution=32; see docs/performance.md), and JAX starts
without TensorFlow's several seconds of imports. So when JAX is installed and
nobody chose a backend, ``import_keras`` picks it. A choice of one's own
always wins: ``KERAS_BACKEND=tensorflow`` (the way to repeat a run made on
TensorFlow: the same seed gives other initial weights on another backend), or
a keras.json naming a backend other than Keras' own default. If something
imported Keras before this module, its backend stays.

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
import importlib.util
import os
import re
import sys
import tempfile

# absl's INFO lines look like "I0000 00:00:1795519771.928488    2536 port.cc:153] ...".
_INFO_LINE = re.compile(r"^I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# The second line of cpu_feature_guard's INFO message ("This TensorFlow binary is optimized ..."):
_CPU_FEATURES = re.compile(r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$")

PREFERRED_BACKEND = "jax"  # fastest for the course's model on a CPU (docs/performance.md)
KERAS_DEFAULT_BACKEND = "tensorflow"  # what Keras uses, and writes to keras.json, when nobody chose


_DRAWS = True  # whether this process may draw: False in the grader's processes (``never_draws``)


def import_keras():
    """Return the ``keras`` module, importing it quietly the first time, on ``chosen_backend()``."""
    if "keras" not in sys.modules:
        # Keras reads the variable once, at import: set it now or never.
        os.environ["KERAS_BACKEND"] = chosen_backend()
        with _filtered_stderr(), _without_matplotlib() if not _DRAWS else contextlib.nullcontext():
            importlib.import_module("keras")
    return sys.modules["keras"]


def never_draws():
    """Say that this process draws nothing (the grader's, the process apart): Keras is then imported
    without matplotlib.

    Keras imports ``matplotlib.pyplot`` for its image gallery, if it can: 0.3 to 0.5 s of every grading's critical
    path, in a process that replays checks and never plots.
    """
    global _DRAWS
    _DRAWS = False


@contextlib.contextmanager
def _without_matplotlib():
    """Within: ``import matplotlib`` fails as if it were not installed, unless it is imported already."""
    if "matplotlib" in sys.modules:
        yield
        return
    sys.modules["matplotlib"] = None  # the import system's mark of a module that cannot be imported
    try:
        yield
    finally:
        if sys.modules.get("matplotlib", 0) is None:
            del sys.modules["matplotlib"]


def chosen_backend():
    """The backend the first ``import_keras`` uses: the user's choice, else JAX when installed, else TensorFlow.

    Works without importing Keras, so a parent process can tell which backend
    its children will train on.
    """
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    configured = _keras_json_backend()
    if configured and configured != KERAS_DEFAULT_BACKEND:
        return configured  # a user edited keras.json: their choice
    if importlib.util.find_spec(PREFERRED_BACKEND) is not None:
        return PREFERRED_BACKEND
    return configured or KERAS_DEFAULT_BACKEND


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


def _keras_json_backend():
    """The "backend" of Keras' configuration file, or None; found where Keras looks (KERAS_HOME, else ~/.keras)."""
    import json

    folder = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(folder, "keras.json")) as config:
            return json.load(config).get("backend")
    except (OSError, ValueError, AttributeError):  # missing, unreadable or not a JSON object
        return None


def _is_noise(line):
    line = line.rstrip("\n")
    return bool(_INFO_LINE.match(line) or _CPU_FEATURES.match(line)) or line.strip() == _ABSL_PREAMBLE


def quiet_tensorflow():
    """A context in which TensorFlow may be imported without its INFO lines reaching stderr.

    Keras imports TensorFlow lazily, also on other backends: on JAX,
    ``keras.utils.set_random_seed`` imports it to seed it too, seconds after
    ``import_keras`` returned (``training.set_seed`` avoids that). Wrap such
    calls in this.
    """
    if "tensorflow" in sys.modules:
        return contextlib.nullcontext()  # already loaded: it has said all it says at start-up
    return _filtered_stderr()


@contextlib.contextmanager
def tensorflow_only_if_loaded():
    """A context in which Keras' serialization does not import TensorFlow to test an object against its types.

    ``serialize_keras_object`` (a model's config, ``model.save``) asks
    ``isinstance(obj, tf.TensorShape)`` behind ``tf.available``, a lazy module
    that imports TensorFlow whenever it is installed: 3.8 s on JAX, in every
    grading child that records a model. No object can be one of TensorFlow's
    while TensorFlow is not loaded, so until it is, it counts as not
    available here. Anything that really uses TensorFlow still imports it.
    """
    try:
        from keras.src.utils.module_utils import tensorflow as lazy
    except ImportError:  # another Keras: nothing to keep from loading
        yield
        return
    unasked = "tensorflow" not in sys.modules and getattr(lazy, "_available", True) is None
    if unasked:
        lazy._available = False
    try:
        yield
    finally:
        if unasked and lazy._available is False:
            lazy._available = None  # asked again next time


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


def set_seed(seed):
    """Seed every random source (Python, NumPy, the Keras backend) so that runs repeat.

    The same as ``keras.utils.set_random_seed(seed)``, but on JAX and PyTorch
    without importing TensorFlow: Keras imports it whenever it is installed,
    to seed tf.data too, and that cost 1.7 s in every lesson's kernel. When
    TensorFlow is loaded already, Keras' own function seeds it as well.
    """
    keras = import_keras()
    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    try:
        # Keras internals, the very ones set_random_seed sets (Keras 3.0 to
        # 3.15): the seed it reports, and its global SeedGenerator (used by
        # unseeded keras.random calls), dropped so that it is made afresh
        # from Python's newly seeded generator. test_training compares the
        # two functions, so a Keras that moves them fails a test.
        from keras.src.backend.common import global_state
        from keras.src.random.seed_generator import GLOBAL_SEED_GENERATOR
        from keras.src.utils.rng_utils import GLOBAL_RANDOM_SEED
    except ImportError:  # another Keras: its own function, slow but right
        keras.utils.set_random_seed(seed)
        return
    if not isinstance(seed, int):
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed} (of type {type(seed)})")
    global_state.set_global_attribute(GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(GLOBAL_SEED_GENERATOR, None)
    import random

    import numpy as np

    random.seed(seed)  # Keras draws each initializer's seed from Python's generator
    np.random.seed(seed)  # and shuffles each epoch's batches with NumPy's, on JAX
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)
