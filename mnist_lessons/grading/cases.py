"""The calls each check makes, written down as data: what a learner's function is called on in the sandbox.

A check (``mnist_lessons.checks``) calls the learner's function on inputs it
makes and holds what comes back to the course's answers. The answers must
stay out of the sandbox, so the grader first runs each check here, in its
own process, with the course's answer in the learner's place (``Probe``),
and writes down the arguments of every call as data (``sandbox.Encoder``):
arrays, the files a path names, a Keras model as its config and weights (a
model to compile, a compiled one to train, a trained one to evaluate). The
sandboxed child calls the learner's function on exactly those
(``sandbox.Decoder``), and the engine then replays the same check here on
what came back (``engine._Replay``), call for call.

A passing run makes every call a check can make: a learner's function that
fails stops the replay at that call, before any later one. Inputs a check
makes from what an earlier call returned are made here from the course's
answer's result; the checks make none that depend on it.

The cases are made once per machine and version of the course, by the
trusted warm-up of the compilation cache (``compilecache.py``), which keeps
them beside its programs where no sandbox sees them (``save``); a grader
reads them from there (``cases_for(..., folder)``), or, with no cache (on
TensorFlow, or with no sandbox), makes them once per process: the first
lesson that needs them pays a few seconds.
"""

import hashlib
import json
import threading
from pathlib import Path

from mnist_lessons.exercises import BY_NAME
from mnist_lessons.grading.sandbox import Encoder

CHECKS_LOCK = threading.Lock()  # the checks swap sys.stdout and fd 2, and probing swaps two of their helpers
_MADE = {}  # exercise -> (its cases, the blobs they name)
_MADE_LOCK = threading.Lock()  # one thread reads or makes them; only making them waits for the checks' lock
FOLDER = "cases"  # in the compilation cache's folder: {exercise}.json and the blobs, written by its warm-up


class Probe:
    """Stands in for the learner's function while a check runs here: writes each call down, then answers it."""

    def __init__(self, name, answer, encoder):
        self.name = name
        self.answer = answer
        self.encoder = encoder
        self.hidden = False
        self.calls = {"visible": [], "hidden": []}

    def __call__(self, *args, **kwargs):
        call = {"args": [self.encoder.encode(arg) for arg in args],
                "kwargs": {key: self.encoder.encode(value) for key, value in kwargs.items()}}
        self.calls["hidden" if self.hidden else "visible"].append(call)  # written before the answer changes them
        return self.answer(*args, **kwargs)


class Blobs(dict):
    """The arrays and files the cases name, each kept once however many calls share it (the training images)."""

    def __init__(self):
        super().__init__()
        self._names = {}  # digest -> the name it is kept under

    def add(self, name, data):
        digest = hashlib.sha256(data).digest()
        if digest not in self._names:
            self._names[digest] = name
            self[name] = bytes(data)
        return self._names[digest]


class CaseError(Exception):
    """The course's own answer failed its check: a fault of the course's, never of a student's."""


def cases_for(names, folder=None):
    """({exercise: {"visible": [call, ...], "hidden": [call, ...]}}, {blob name: bytes}) for ``names``: read from
    the warmed cache ``folder`` where it holds them, else made here once per process."""
    cases, blobs = {}, {}
    for name in names:
        if name not in _MADE:
            with _MADE_LOCK:
                if name not in _MADE:
                    _MADE[name] = _read(folder, name) or _probe_alone(name, folder)
        cases[name], made = _MADE[name]
        blobs.update(made)
    return cases, blobs


def save(folder, names):
    """Write the cases of ``names`` into the cache ``folder`` (the trusted warm-up's), for graders to read."""
    target = Path(folder) / FOLDER
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        made, blobs = cases_for([name])
        for blob, data in blobs.items():
            (target / blob).write_bytes(data)
        (target / f"{name}.json").write_text(json.dumps({"cases": made[name], "blobs": sorted(blobs)}))


def _read(folder, name):
    """(cases, blobs) of ``name`` as ``save`` wrote them in ``folder``, or None."""
    if folder is None:
        return None
    try:
        saved = json.loads((Path(folder) / FOLDER / f"{name}.json").read_text())
        return saved["cases"], {blob: (Path(folder) / FOLDER / blob).read_bytes() for blob in saved["blobs"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def answer(name):
    """The course's own answer to exercise ``name``: the first of its record's ``answer_key``."""
    return BY_NAME[name].answer()


def _probe_alone(name, folder):
    from mnist_lessons.grading import compilecache

    compilecache.read_in_this_process(folder)  # the checks compile here: the warm-up's programs, where there are any
    with CHECKS_LOCK:
        return _probe(name)


def _probe(name):
    from mnist_lessons import checks

    blobs = Blobs()
    probe = Probe(name, answer(name), Encoder(f"case-{name}", blobs.add, files=True))
    # Only the calls are wanted here, not a verdict on the course's answer: the two helpers that train a
    # network to hold a result to the answer's accuracy are skipped (the replay runs them).
    saved = checks._reference_accuracy, checks._expect_cnn_learns
    checks._reference_accuracy = lambda epochs, batch_size: 0.0
    checks._expect_cnn_learns = lambda call, model: None
    try:
        for hidden in (False, True):
            probe.hidden = hidden
            with checks._quiet():
                getattr(checks, f"check_{name}")(probe, hidden=hidden)
    except Exception as err:  # noqa: BLE001 -- said as the grader's own fault
        raise CaseError(f"the course's own {name} failed its check ({type(err).__name__}: {err})") from err
    finally:
        checks._reference_accuracy, checks._expect_cnn_learns = saved
    return probe.calls, dict(blobs)
