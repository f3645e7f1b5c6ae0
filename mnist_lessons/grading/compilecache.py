"""The grader's compilation cache: the XLA programs the checks run, compiled once per machine, not once per student.

On the JAX backend most of a graded lesson's time went to XLA compiling the
same small programs for every student (a training step, an evaluation: 30
compilations, 8 s of lesson 06's 20 s). JAX keeps compiled programs in a
persistent cache (``jax_compilation_cache_dir``), keyed by the program, the
compiler's options and the JAX version.

A compiled program is native code, so learner code must never write one that
the grading of another student would load. So:

- the cache is written only by a trusted process that runs the checks on
  the course's own answers (``python -m mnist_lessons.grading.compilecache``),
  and then the course's answers on the cases a grading child calls the
  learner's functions on (``cases.py``), rebuilt as the child rebuilds them,
  once per cache folder, started by the grader before its first child: a
  child then compiles neither the checks' programs nor its calls' training;
- the sandboxed child gets the programs read-only (``isolation.confine``),
  and nothing else of the folder: the checks' briefly trained network is
  kept beside them (``trained_weights``), out of its sight; what it
  compiles beyond the cache it compiles for itself and cannot keep;
- where the child is not confined (no bubblewrap), no cache is used at all;
- the process apart (``apart.py``), which replays the checks that compile
  on what the child recorded, reads the cache too and never adds to it
  (``NEVER_WRITE_SECONDS``): the replay of a correct answer compiles the
  warm-up's programs again (lesson 08's replay compiled 25 programs in
  7.2 s); so does the grader's own process where it makes the cases itself
  (``read_in_this_process``). Neither writes, so graders running side by
  side never see each other's half-written entries.

The folder is ``$MNIST_LESSONS_XLA_CACHE``, or one under the user's cache
folder named for the JAX version and this CPU (a program compiled for one
CPU's vector extensions must not run on another's).

A learner's own processes get a cache of their own (``own_variables``): the
kernels ``mnist-lessons lab`` starts, and ``mnist-lessons train``. Without it
every kernel compiled the same programs again at every start (each weight's
initializer, the training step): 1.1 s of issue 14's start-up line. Only the
user's own code writes that folder; a grading child never sees it, since the
engine gives the child an environment of its own making, and the grader's
cache above.
"""

import contextlib
import fcntl
import functools
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from mnist_lessons.environment import child_env
from mnist_lessons.exercises import COMPILING
from mnist_lessons.grading import isolation

FOLDER_VARIABLE = "MNIST_LESSONS_XLA_CACHE"  # where the cache is kept ("none": no cache)
READY_FILE = "warmed"  # written once the trusted warm-up has run here, naming the checks it ran
WARMUP_SECONDS = 900  # the checks on the course's answers and the cases: about a minute on 2 cores
TRAINED_WEIGHTS_FILE = "trained_weights.npz"  # the checks' briefly trained network, saved by the warm-up
PROGRAMS = "programs"  # the folder of compiled programs in the cache folder: all a sandbox sees of it
NEVER_WRITE_SECONDS = 1e9  # a compilation this slow is never stored: reads only, for the grader's own process
# What READY_FILE says, with a digest of the course's code and lessons (ready_text): a cache warmed by other
# checks, another compile_model or other lessons (an older version) is warmed again.
READY_TEXT = (f"the checks of {', '.join(COMPILING)} ran on the course's answers with this cache, and saved "
              f"{TRAINED_WEIGHTS_FILE}; then the answers on every exercise's cases, as a grading child calls them, "
              "and saved the cases\n")
_LOCK = threading.Lock()  # lessons graded side by side wait for one warm-up


def ready(backend):
    """The warmed cache folder the child may read, or None (another backend, no sandbox, or turned off)."""
    if backend != "jax" or os.environ.get(FOLDER_VARIABLE, "").lower() == "none":
        return None
    if isolation.bubblewrap()[0] is None:
        return None  # an unconfined child could write into the cache that later students load
    folder = cache_folder()
    with _LOCK:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / ".lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # other graders on this machine (autograde-class's nbgraders)
                if not _is_warmed(folder):
                    _warm(folder)
                programs(folder).mkdir(exist_ok=True)  # what the sandbox sees of the cache, even before a warm-up
        except OSError:
            return None
    return folder if _is_warmed(folder) else None


def _is_warmed(folder):
    try:
        return (folder / READY_FILE).read_text() == ready_text()
    except (OSError, UnicodeDecodeError):
        return False


@functools.cache
def ready_text():
    """READY_TEXT and the digest of what decides the programs compiled: the package's code, the lessons' release."""
    import mnist_lessons
    from mnist_lessons.coursefiles import grading_release_dir

    digest = hashlib.sha256()
    package = Path(mnist_lessons.__file__).resolve().parent
    for path in sorted([*package.rglob("*.py"), *Path(grading_release_dir()).glob("*.ipynb")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{READY_TEXT}course {digest.hexdigest()[:16]}\n"


def programs(folder):
    """The compiled programs of the cache ``folder``: the one part of it a sandbox sees, read-only."""
    return Path(folder) / PROGRAMS


def child_variables(folder):
    """The environment that points the child's JAX at the cache, for every program, however quick to compile."""
    return {"JAX_COMPILATION_CACHE_DIR": str(programs(folder)), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}


def read_in_this_process(folder):
    """Let this (trusted, grading) process's JAX read the warmed cache ``folder``, and write nothing to it.

    Set in JAX's config, not the environment, so that no process this one
    starts inherits it. JAX settles on its cache at its first compilation:
    in a process that compiled before (a test run calling the grader), this
    changes nothing.
    """
    if folder is None:
        return
    with _LOCK:
        import jax

        jax.config.update("jax_compilation_cache_dir", str(programs(folder)))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", NEVER_WRITE_SECONDS)


def trained_weights(folder):
    """The warm-up's saved weights of the checks' briefly trained network in the cache ``folder``, or None."""
    if folder is None:
        return None
    path = Path(folder) / TRAINED_WEIGHTS_FILE
    return path if path.is_file() else None


def own_variables(env=None):
    """The environment that gives a learner's own kernels, and ``mnist-lessons train``, a compilation cache of their own.

    Empty where the user chose a JAX cache of their own (``JAX_COMPILATION_CACHE_DIR``) or turned caches off
    (``MNIST_LESSONS_XLA_CACHE=none``). Every program is kept, however quick to compile: the initializers are
    many programs of milliseconds each. No size cap: the lessons' programs take under a megabyte (688 kB after
    every lesson ran), and JAX's cap needs the ``filelock`` package, without which every read of the cache
    warns on stderr.
    """
    env = os.environ if env is None else env
    if env.get("JAX_COMPILATION_CACHE_DIR") or env.get(FOLDER_VARIABLE, "").lower() == "none":
        return {}
    return {"JAX_COMPILATION_CACHE_DIR": str(own_folder(env)), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


@contextlib.contextmanager
def own_cache():
    """While JAX is first imported in this process (it reads these settings then), the learner's own cache.

    The environment is put back after, so that the processes this one starts,
    and the code that runs on in it (a test calling ``main()``), do not inherit it.
    """
    variables = own_variables() if "jax" not in sys.modules else {}
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def own_folder(env=None):
    """The learner's own cache: beside the grader's, named apart."""
    return _default_folder("own-xla", os.environ if env is None else env)


def cache_folder():
    chosen = os.environ.get(FOLDER_VARIABLE)
    if chosen:
        return Path(chosen)
    return _default_folder("xla", os.environ)


def _default_folder(kind, env):
    """A cache folder under the user's cache folder, named for its kind, the JAX version and this CPU (JAX not imported)."""
    import importlib.metadata

    try:
        version = importlib.metadata.version("jax")
    except importlib.metadata.PackageNotFoundError:
        version = "none"
    base = Path(env.get("XDG_CACHE_HOME") or Path(env.get("HOME") or Path.home()) / ".cache")
    return base / "mnist-lessons" / f"{kind}-{version}-{_cpu_key()}"


def _cpu_key():
    """A short digest of this CPU's model and flags (its vector extensions among them)."""
    model, flags = "", ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = value.strip()
    return hashlib.sha256(f"{model}|{flags}|{os.uname().machine}".encode()).hexdigest()[:12]


def _warm(folder):
    """Run the warm-up in a process of its own, trusted: it runs no learner code."""
    env = child_env()
    env.update(child_variables(folder), KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0",
               OMP_NUM_THREADS="1", NBGRADER_EXECUTION="autograde")
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        completed = subprocess.run([sys.executable, "-I", "-m", "mnist_lessons.grading.compilecache", str(folder)],
                                   env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=WARMUP_SECONDS)
        if completed.returncode == 0:
            (folder / READY_FILE).write_text(ready_text())


def main():
    """Run the checks that compile, on the course's own answers, visible and hidden, filling the cache; then
    save the checks' briefly trained network beside the programs (``trained_weights``); then call each answer
    on its exercise's cases as a grading child calls the learner's function (``_warm_cases``)."""
    import warnings

    warnings.simplefilter("ignore")
    from mnist_lessons import checks
    from mnist_lessons.grading.cases import answer

    for name in COMPILING:
        for hidden in (False, True):
            with checks._quiet():
                getattr(checks, f"check_{name}")(answer(name), hidden=hidden)
    with checks._quiet():
        checks._save_trained_weights(Path(sys.argv[1]) / TRAINED_WEIGHTS_FILE)
    _warm_cases()
    from mnist_lessons.grading import cases
    from mnist_lessons.exercises import BY_NAME

    cases.save(sys.argv[1], BY_NAME)  # beside the programs, out of the sandbox's sight: graders read them


def _warm_cases():
    """Each exercise's cases, rebuilt from data as the child rebuilds them, and its solution (the lessons' own,
    as a learner writes it: its record's ``solution``) called on them as the child calls a learner's function."""
    import numpy as np
    from PIL import Image

    from mnist_lessons import checks
    from mnist_lessons.backend import import_keras
    from mnist_lessons.grading import sandbox
    from mnist_lessons.grading.cases import cases_for
    from mnist_lessons.exercises import EXERCISES

    with tempfile.TemporaryDirectory() as folder:
        for exercise in EXERCISES:
            made, blobs = cases_for([exercise.name])
            decoder = sandbox.Decoder(blobs, Path(folder) / exercise.name)
            namespace = {"np": np, "keras": import_keras(), "Image": Image, "MNIST_PATH": None}
            exec(exercise.solution, namespace)  # trusted: the course's own solution, in the warm-up
            for call in made[exercise.name]["visible"] + made[exercise.name]["hidden"]:
                args = [decoder.decode(value) for value in call["args"]]
                kwargs = {key: decoder.decode(value) for key, value in call["kwargs"].items()}
                with checks._quiet(), contextlib.suppress(Exception):
                    namespace[exercise.name](*args, **kwargs)


if __name__ == "__main__":
    main()
