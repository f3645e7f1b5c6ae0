"""The autograder's grading side: runs a submission's notebooks in a sandboxed child, then decides each verdict itself.

``pytest autograder/`` uses this module; so can an instructor's script::

    from mnist_lessons.grading import grade_submission
    grade = grade_submission("course/mnist")      # or a learner's folder of the six notebooks
    print(grade.points, "of", grade.max_points)

How a lesson is graded, and why:

1. The notebook is read as data (JSON, at most ``MAX_NOTEBOOK_BYTES``); a
   missing or broken file scores zero for its lesson, with a message, and the
   other lessons are graded as usual.
2. The code to run is put together from two sources. The lesson's set-up
   cells (the locked code cells before its first exercise) come from
   ``solutions/`` (the same as the release's, and never edited by learners),
   so an edited or deleted set-up cell is restored.
   The learner's own cells come from the submission: each exercise's cell,
   found by its nbgrader ``grade_id`` wherever it now is (cells with the same
   id, from a split or a copy, run in their order), and cells the learner
   added. Locked demonstration cells and the check cells are not run: the
   checks are replayed here, and a demonstration does not change a grade.
3. That code runs in a child process (``mnist_lessons.sandbox``) started with
   ``python -I`` in an empty temporary folder, with a scrubbed environment, no
   stdin, output to a file, ``RLIMIT_FSIZE`` against endless output, a memory
   watchdog, and a network namespace of its own where the platform allows.
   Limits: ``FUNCTION_SECONDS`` per graded function, ``NOTEBOOK_SECONDS`` per
   notebook; a child past either is killed with SIGKILL (its whole process
   group), which no signal handler can refuse.
4. The child runs each lesson check with the learner's function wrapped in a
   recorder that writes what came back as data: JSON and ``.npy`` files (read
   here with ``allow_pickle=False``), a Keras model as its JSON config (rebuilt
   here in Keras' ``safe_mode``, which refuses Python lambdas) and weights.
5. Here, in the grader's process, the same check runs again with a stand-in
   for the learner's function that hands back the recorded results. The
   verdict and its message come from that run: nothing the child prints,
   writes elsewhere or concludes counts. A function the child could not
   finish (it hung, crashed the process, or took all the memory) is recorded
   as such, and the child runs again without it, so the rest is graded.
"""

import concurrent.futures
import contextlib
import dataclasses
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from mnist_lessons.checks import LESSONS
from mnist_lessons.coursefiles import autograder_dir, grading_release_dir, solutions_dir
from mnist_lessons.environment import child_env, path_with_scripts

# Where the set-up cells and points come from: notebooks no learner edits (coursefiles says which).
RELEASE_DIR = grading_release_dir()

FUNCTION_SECONDS = 60.0  # a graded function's check takes a few seconds; train_model's the longest
NOTEBOOK_SECONDS = 240.0  # the whole child: cells, every function and Keras' import
MEMORY_BYTES = 6 * 1024**3  # resident memory of the child; MNIST and the model need well under 2 GiB
OUTPUT_BYTES = 4 * 1024**2  # what the child may print; more is "output without end"
MAX_NOTEBOOK_BYTES = 32 * 1024**2  # a lesson notebook with all its plots is well under 1 MB
POLL_SECONDS = 0.05
STUB_MESSAGE = "Exercise not done yet"  # nbgrader_config.py's code stub for an exercise not done


@dataclasses.dataclass
class FunctionGrade:
    """The verdict on one graded function."""

    name: str
    points: float
    max_points: float
    passed: bool
    message: str

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class LessonGrade:
    """The verdicts on one lesson's functions, and what went wrong with the notebook as a whole, if anything."""

    lesson: str
    functions: dict
    notes: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def points(self):
        return sum(grade.points for grade in self.functions.values())

    @property
    def max_points(self):
        return sum(grade.max_points for grade in self.functions.values())

    def as_dict(self):
        return {
            "lesson": self.lesson, "points": self.points, "max_points": self.max_points,
            "notes": self.notes, "seconds": round(self.seconds, 2),
            "functions": {name: grade.as_dict() for name, grade in self.functions.items()},
        }


@dataclasses.dataclass
class SubmissionGrade:
    folder: str
    lessons: dict

    @property
    def points(self):
        return sum(lesson.points for lesson in self.lessons.values())

    @property
    def max_points(self):
        return sum(lesson.max_points for lesson in self.lessons.values())

    def as_dict(self):
        return {"submission": self.folder, "points": self.points, "max_points": self.max_points,
                "lessons": {name: lesson.as_dict() for name, lesson in self.lessons.items()}}


@dataclasses.dataclass(frozen=True)
class Limits:
    function_seconds: float = FUNCTION_SECONDS
    notebook_seconds: float = NOTEBOOK_SECONDS
    memory_bytes: int = MEMORY_BYTES
    output_bytes: int = OUTPUT_BYTES


def grade_submission(folder, lessons=None, *, release_dir=RELEASE_DIR, limits=Limits(), jobs=None):
    """Grade the lesson notebooks in ``folder`` (all six, or ``lessons``); lessons run side by side."""
    folder = Path(folder)
    lessons = list(lessons or LESSONS)
    jobs = jobs or max(1, min(len(lessons), os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = {lesson: pool.submit(grade_lesson, folder / f"{lesson}.ipynb", lesson,
                                       release_dir=release_dir, limits=limits) for lesson in lessons}
        return SubmissionGrade(str(folder), {lesson: future.result() for lesson, future in futures.items()})


def grade_lesson(path, lesson, *, release_dir=RELEASE_DIR, limits=Limits()):
    """Grade one lesson notebook; never raises for anything the submission does."""
    started = time.perf_counter()
    path = Path(path)
    release = _read_notebook(Path(release_dir) / f"{lesson}.ipynb")  # ours: a failure here is a real error
    points = _points(release, lesson)
    grade = LessonGrade(lesson, {})

    def zero_all(message):
        grade.notes.append(message)
        for name in LESSONS[lesson]:
            grade.functions[name] = FunctionGrade(name, 0, points[name], False, message)
        grade.seconds = time.perf_counter() - started
        return grade

    try:
        submission = _read_notebook(path)
    except FileNotFoundError:
        return zero_all(f"{path.name} is missing from {path.parent}: nothing of lesson {lesson} could be graded.")
    except (ValueError, OSError) as err:
        return zero_all(f"{path.name} could not be read as a notebook ({err}): nothing of lesson {lesson} could be graded.")

    cells, missing = _program(release, submission, lesson)
    for name, note in missing.items():
        grade.notes.append(note)

    recorded, problems = _run_child(cells, lesson, limits)
    grade.notes.extend(problems.pop("_notes", []))

    for name in LESSONS[lesson]:
        if name in problems:
            message = problems[name]
        elif name not in recorded:
            message = missing.get(name) or f"{name} could not be graded: the grading process stopped before it."
        else:
            message = _replay_check(name, recorded[name])
        if message is None:
            grade.functions[name] = FunctionGrade(name, points[name], points[name], True, f"{name}: all checks passed")
        else:
            if name in missing and missing[name] not in message:
                message = f"{missing[name]} {message}"
            grade.functions[name] = FunctionGrade(name, 0, points[name], False, message)
    grade.seconds = time.perf_counter() - started
    return grade


# ---------------------------------------------------------------- reading notebooks as data


def _read_notebook(path):
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"it is {path.stat().st_size:,} bytes, more than a lesson notebook can be")
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"not UTF-8 text: {err.reason}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("it has no list of cells")
    return notebook


def _source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _grade_id(cell):
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None


def _points(release, lesson):
    points = {name: 1.0 for name in LESSONS[lesson]}
    for cell in release["cells"]:
        grade_id = _grade_id(cell)
        if grade_id and grade_id.startswith("check_") and grade_id[6:] in points:
            points[grade_id[6:]] = float(cell["metadata"]["nbgrader"].get("points", 1))
    return points


def _program(release, submission, lesson):
    """The cells the child runs: the release's set-up cells, then the learner's own; and notes on missing exercises."""
    functions = LESSONS[lesson]
    setup = []
    for cell in release["cells"]:
        grade_id = _grade_id(cell)
        if grade_id in functions:
            break  # set-up ends where the first exercise begins
        if cell.get("cell_type") == "code":
            setup.append({"id": grade_id, "source": _source(cell)})
    release_ids = {_grade_id(cell) for cell in release["cells"]}
    own, found = [], set()
    for index, cell in enumerate(submission["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        grade_id = _grade_id(cell)
        if grade_id in functions:
            found.add(grade_id)
            own.append({"id": grade_id, "source": _source(cell)})
        elif grade_id is None or grade_id not in release_ids:
            own.append({"id": f"added cell {index + 1}", "source": _source(cell)})  # the learner's own cell
    missing = {
        name: f"The cell where you write {name} (nbgrader grade_id {name!r}) is missing from the notebook."
        for name in functions if name not in found
    }
    return setup + own, missing


# ---------------------------------------------------------------- the child process


def _run_child(cells, lesson, limits):
    """Run the sandbox until every function is recorded or given up on; return (recorded, problems by function)."""
    recorded, problems = {}, {"_notes": []}
    functions = list(LESSONS[lesson])
    skip = []
    for _ in range(len(cells) + len(functions) + 1):  # each round removes a cell or a function
        outcome = _run_child_once(cells, lesson, functions, skip, limits)
        recorded.update(outcome["recorded"])
        culprit, reason = outcome["culprit"], outcome["reason"]
        if culprit is None:
            break
        if culprit.startswith("cell:"):
            # The process died or hung in a cell: an exercise's cell costs that exercise; a
            # set-up cell or one the learner added is left out, and the rest runs again.
            cell_id = culprit[5:]
            if cell_id in functions:
                problems[cell_id] = f"Running the cell where you write {cell_id} {reason}, so {cell_id} earns nothing."
            problems["_notes"].append(f"The cell {cell_id!r} {reason}; it was left out to grade the rest.")
            cells = [cell for cell in cells if cell["id"] != cell_id]
        else:
            problems[culprit] = f"Grading {culprit} {reason}, so it earns nothing."
        skip = sorted((set(skip) | set(problems) | set(recorded)) - {"_notes"})  # run only what is left
        if all(name in recorded or name in problems for name in functions):
            break
    return recorded, problems


def _run_child_once(cells, lesson, functions, skip, limits):
    with tempfile.TemporaryDirectory(prefix="mnist-grading-") as work:
        work = Path(work)
        out = work / "results"
        out.mkdir()
        home = work / "home"
        home.mkdir()
        request = {"lesson": lesson, "cells": cells, "functions": functions, "skip": skip, "out": str(out)}
        env = {
            "PATH": path_with_scripts(),
            "HOME": str(home),
            "KERAS_HOME": str(home / ".keras"),
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": str(home / "matplotlib"),
            "MNIST_LESSONS_DATA": "sample",  # the checks use the sample; the set-up cells must not download
            "NBGRADER_EXECUTION": "autograde",  # the lessons' short path
            "KERAS_BACKEND": _backend(),  # the same backend as this process: replays must agree
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONHASHSEED": "0",
            "OMP_NUM_THREADS": "1",  # lessons graded side by side share the cores
        }
        log_path = work / "output.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-I", "-m", "mnist_lessons.sandbox"],
                cwd=work, env=env, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one
            )
            try:
                process.stdin.write(json.dumps(request).encode())
                process.stdin.close()
            except BrokenPipeError:
                pass
            reason = _watch(process, out / "progress.jsonl", log_path, limits)
        events = _events(out / "progress.jsonl")
        recorded = {}
        for name in functions:
            if any(e.get("kind") == "call" and e.get("name") == name and e.get("phase") == "end" for e in events):
                recorded[name] = _load_record(out, name)
        culprit = None
        if reason is None and not any(e.get("kind") == "done" for e in events):
            reason = _death_reason(process.returncode)
        if reason is not None:
            culprit = _culprit(events)
            if culprit is None:
                culprit = "cell:set-up"
        return {"recorded": recorded, "culprit": culprit, "reason": reason}


def _watch(process, progress_path, log_path, limits):
    """Wait for the child; kill it when it overruns a limit. Return None, or why it was stopped."""
    started = time.monotonic()
    call_started, current = None, None
    while process.poll() is None:
        now = time.monotonic()
        events = _events(progress_path)
        last = events[-1] if events else None
        if last is not None and last.get("phase") == "start":
            if current != last:
                current, call_started = last, now
        else:
            current, call_started = None, None
        reason = None
        if now - started > limits.notebook_seconds:
            reason = f"took longer than the {limits.notebook_seconds:g} s a whole notebook may take"
        elif call_started is not None and now - call_started > limits.function_seconds:
            reason = f"took longer than {limits.function_seconds:g} s (a loop that never ends?)"
        elif _resident_bytes(process.pid) > limits.memory_bytes:
            reason = f"used more than {limits.memory_bytes / 1024**3:g} GiB of memory"
        elif log_path.stat().st_size > limits.output_bytes:
            reason = f"printed more than {limits.output_bytes / 1024**2:g} MB of output (output without end?)"
        if reason:
            _kill(process)
            return reason
        time.sleep(POLL_SECONDS)
    return None


def _kill(process):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _resident_bytes(pid):
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0  # not Linux, or the process just ended


def _death_reason(returncode):
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.Signals._value2member_map_ else str(-returncode)
        if -returncode == signal.SIGXFSZ:
            return "wrote a file larger than the grader allows"
        return f"crashed the Python process (it was killed by {name})"
    return f"ended the Python process (exit status {returncode}; os._exit or a crash?)"


def _events(path):
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict):
                events.append(event)
    return events


def _culprit(events):
    """The cell or function that was running when the child stopped."""
    for event in reversed(events):
        if event.get("phase") == "start":
            return event.get("name") if event.get("kind") == "call" else f"cell:{event.get('id')}"
        if event.get("phase") == "end":
            return None
    return None


def _load_record(out, name):
    try:
        record = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        record["_folder"] = out
        record["_arrays"] = {
            file.name: np.load(file, allow_pickle=False) for file in out.glob(f"{name}-*.npy")
        }
        return record
    except (OSError, ValueError) as err:
        return {"error": f"its results could not be read ({err})"}


def _backend():
    from mnist_lessons.backend import chosen_backend

    return chosen_backend()


# ---------------------------------------------------------------- replaying the checks here


class _Replay:
    """Stands in for the learner's function in the grader's own run of a check: hands back what the child recorded."""

    def __init__(self, name, record):
        self.name = name
        self.record = record
        self.calls = {"visible": list(record.get("calls", {}).get("visible", [])),
                      "hidden": list(record.get("calls", {}).get("hidden", []))}
        self.hidden = False
        self.optimizers = {}

    def __call__(self, *args, **kwargs):
        queue = self.calls["hidden" if self.hidden else "visible"]
        if not queue:
            raise RuntimeError("the grading process recorded no result for this call")
        call = queue.pop(0)
        if "missing" in call:
            raise RuntimeError(f"{self.name} is not defined as a function (found {call['missing']})")
        if "answer_key" in call:
            raise RuntimeError(
                f"it is {call['answer_key']}, the course's own answer, handed back: write your own {self.name}"
            )
        raised = call.get("raised")
        if raised:
            if raised.get("answer_key"):
                raise RuntimeError(
                    f"it called {raised['message']}, the course's own answer to this exercise: write your own"
                )
            if raised["type"] == "NotImplementedError":
                raise NotImplementedError(raised["message"])
            raise RuntimeError(f"{raised['type']}: {raised['message']}" if raised["message"] else raised["type"])
        for arg, after in zip(args, call.get("args_after", [])):
            if after is not None:
                self._apply(arg, after)
        return self._decode(call.get("result"), args)

    def _array(self, encoded):
        array = self.record["_arrays"][encoded["file"]]
        return array[()] if encoded.get("scalar") else array

    def _decode(self, value, args):
        kind = value.get("t") if isinstance(value, dict) else None
        if kind == "py":
            return value["v"]
        if kind == "nan":
            return math.nan
        if kind == "ndarray":
            return self._array(value)
        if kind in ("list", "tuple"):
            items = [self._decode(item, ()) for item in value["v"]]
            return items if kind == "list" else tuple(items)
        if kind == "dict":
            return {_hashable(self._decode(k, ())): self._decode(v, ()) for k, v in zip(value["k"], value["v"])}
        if kind == "arg":
            return args[value["i"]]
        if kind == "model":
            return self._model(value)
        if kind == "history":
            keras = _keras()
            history = keras.callbacks.History()
            history.history = {k: list(v) for k, v in value["history"].items()}
            history.epoch = list(range(len(next(iter(history.history.values()), []))))
            history.params = dict(value.get("params", {}))
            return history
        return Unreadable(value.get("what", "a value") if isinstance(value, dict) else "a value")

    def _model(self, encoded):
        keras = _keras()
        try:
            model = keras.saving.deserialize_keras_object(encoded["config"], safe_mode=True)
        except Exception as err:  # noqa: BLE001 -- anything the description holds that Keras refuses
            return Unreadable(f"a Keras model the grader could not rebuild from its description ({_first_line(err)})")
        self._set_weights(model, encoded)
        return model

    def _apply(self, arg, after):
        """Do to the grader's argument what the learner's function did to the child's."""
        if after.get("t") == "ndarray" and isinstance(arg, np.ndarray):
            new = self._array(after)
            if new.shape == arg.shape:
                arg[...] = new
            return
        if after.get("t") != "model":
            return
        keras = _keras()
        config = after["config"].get("compile_config") if isinstance(after.get("config"), dict) else None
        if config and not getattr(arg, "compiled", False):
            try:
                arg.compile_from_config(config)
            except Exception:  # noqa: BLE001 -- settings Keras refuses: the check reports "not compiled"
                pass
            token = after.get("optimizer_id")
            if token is not None and getattr(arg, "optimizer", None) is not None:
                shared = self.optimizers.setdefault(token, arg.optimizer)
                if shared is not arg.optimizer and isinstance(shared, keras.optimizers.Optimizer):
                    arg.optimizer = shared  # one optimizer object for two models, as in the child
        self._set_weights(arg, after)

    def _set_weights(self, model, encoded):
        weights = [self._array(w) for w in encoded.get("weights", [])]
        current = model.get_weights()
        if weights and len(weights) == len(current) and all(w.shape == c.shape for w, c in zip(weights, current)):
            model.set_weights(weights)


class Unreadable:
    """What the grader sees where the learner's function returned something it cannot read as data."""

    def __init__(self, what):
        self.what = what

    def __repr__(self):
        return f"<{self.what}>"


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


_REPLAY_LOCK = threading.Lock()  # checks swap sys.stdout and fd 2 while they run: one at a time


def _replay_check(name, record):
    """Run the lesson's check here against the recorded results; None when it passed, else its message."""
    if "error" in record:
        return f"{name}: {record['error']}"
    with _REPLAY_LOCK:
        return _replay_check_alone(name, record)


def _replay_check_alone(name, record):
    from mnist_lessons import checks

    replay = _Replay(name, record)
    for hidden in (False, True):
        replay.hidden = hidden
        try:
            with checks._quiet():
                getattr(checks, f"check_{name}")(replay, hidden=hidden)
        except NotImplementedError as err:
            return f"{name} is not written yet: it raised NotImplementedError({str(err)!r})."
        except AssertionError as err:
            return ("Hidden test: " if hidden else "") + str(err)
        except Exception as err:  # noqa: BLE001 -- a recorded result that breaks the check itself
            return f"{name} returned something the check could not use ({type(err).__name__}: {_first_line(err)})."
    return None


def _keras():
    from mnist_lessons.backend import import_keras

    return import_keras()


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else ""


def run_self_check(submission=None, lessons=None):
    """Run the learner's whole self-check, ``pytest autograder/``, on ``submission``; True when every test passed.

    The benchmark times this on the complete reference submission (the default).
    """
    folder = autograder_dir()
    tests = [f"{folder.name}/test_{lesson}.py" for lesson in lessons] if lessons else [f"{folder.name}/"]
    submission = submission or solutions_dir()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider", "--submission", str(submission)],
        cwd=folder.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env(),
    )
    return completed.returncode == 0
