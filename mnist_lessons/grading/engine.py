"""The grading engine behind every door: runs a lesson notebook's code in a sandboxed child, then decides each verdict itself.

The three doors use it the same way: the learner's check cell gives the same
verdict by running the same checks in the learner's own kernel (honour
system); ``pytest autograder/`` calls ``grade_submission``; nbgrader starts
``GradedAhead`` at a student's first notebook and calls ``grade_notebook`` at each,
from the preprocessor that takes the place of its Execute step
(``preprocessors.py``)::

    from mnist_lessons.grading.engine import grade_submission
    grade = grade_submission("course/mnist")      # or a learner's folder of the lesson notebooks
    print(grade.points, "of", grade.max_points)

How a lesson is graded, and why:

1. The notebook is read as data (``notebooks.read_notebook``: a regular file,
   bounded in size); a missing or broken one scores zero for its lesson, with
   a note, and the other lessons are graded as usual. It is repaired against
   the release by one rule (``notebooks.repair``), the same in every door.
2. Its code cells run in a child process (``sandbox.py``), in IPython's own
   shell, in order: set-up cells, the learner's exercises and cells of their
   own. Demonstrations and check cells never run there, in any door: the
   autograded notebook keeps the outputs of the learner's own run
   (``preprocessors.py``), so every door runs the same and costs the same.
3. The child is forked from the submission's fork server
   (``forkserver.py``), started with ``python -I`` in an empty folder, with
   a scrubbed environment, inside bubblewrap (``isolation.py``): as nobody,
   on a read-only view of only what it needs, with no network and its own
   PID namespace. Its copy of the course package (``sandboxview.py``) holds
   none of the course's answers, checks, hints or trained networks. The
   server imports Keras once for all of a student's lessons, which run side
   by side as its children; a lesson whose child does not end cleanly there
   is graded again in a server of its own (``_run_child``). Where bubblewrap
   cannot run, every grade says "graded without isolation". Limits, watched
   from here: ``FUNCTION_SECONDS`` per graded function, ``CELL_SECONDS`` per
   cell, ``NOTEBOOK_SECONDS`` per run, ``LESSON_SECONDS`` per lesson,
   memory, number of processes, output, and bytes written to its folder
   (``RLIMIT_FSIZE`` per file, set before any learner code). A child past
   one is killed with SIGKILL, with every process it started, which no
   handler can refuse.
4. The child calls each graded function on the cases the grader wrote down
   as data (``cases.py``: the calls each check makes, made here with the
   course's own answer), and records what came back as data: JSON and
   ``.npy`` files, sent down a pipe of its own into a folder only this
   process sees (``channel.py``; read here with ``allow_pickle=False``), a
   Keras model as its JSON config (rebuilt in Keras' ``safe_mode``, which
   refuses Python lambdas, and only once its layers are the course's and its
   size bounded: ``_model_problem``) and weights.
5. The check runs again with a stand-in for the learner's function that
   hands back the recorded results (``_Replay``): here, in the grader's
   process, or, for the checks that build, train or run a network
   (``Exercise.compiles``), in the process apart (``apart.py``), a process of
   the grader's that runs no learner code, forks a child per replay and is
   bounded in memory and time, so that this process needs no Keras.
   The verdict and its message come from that run: nothing the child
   prints, writes elsewhere or concludes counts. A function the child could
   not finish (it hung, crashed the process, or took all the memory) is
   recorded as such, and the child runs again without it, so the rest is
   graded.
6. A fault of the grader's or the machine's (the sandbox cannot start, the
   course's own answer fails its check) is never a student's zero: grading
   stops with ``GradingError``, naming the cause, and writes no grade.
"""

import atexit
import concurrent.futures
import contextlib
import dataclasses
import functools
import gc
import hashlib
import io
import itertools
import json
import math
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from mnist_lessons.backend import never_draws
from mnist_lessons.checks import PASSED
from mnist_lessons.coursefiles import autograder_dir, grading_release_dir, solutions_dir
from mnist_lessons.environment import child_env, path_with_scripts
from mnist_lessons.grading import apart
from mnist_lessons.grading import cases as exercise_cases
from mnist_lessons.grading import channel, compilecache, forkserver, notebooks, sandbox, sandboxview
from mnist_lessons.grading.processes import resident_bytes
from mnist_lessons.exercises import BY_NAME, LESSONS, ON_TRAINED_NETWORK, exercises_of

# Budgets that follow the course's own cost (docs/performance.md measures the margin): an honest lesson's children
# run 1 to 5 s, under 8 s with six busy processes beside them on 2 cores, and a complete student takes 10 to 40 s;
# a submission whose every cell loops forever costs at most LESSON_SECONDS a lesson and SUBMISSION_SECONDS in all.
FUNCTION_SECONDS = 60.0  # one graded function's calls: train_model's, the longest, take a few seconds
CELL_SECONDS = 60.0  # one cell: the lessons' set-up cells and a learner's own take under a second in grading
NOTEBOOK_SECONDS = 120.0  # one run of the child: cells, every function and Keras' import
LESSON_SECONDS = 120.0  # the lesson's children together, the reruns after a crash or a hang included
SUBMISSION_SECONDS = 300.0  # a student's lessons together, from the first start to the last verdict
MEMORY_BYTES = 6 * 1024**3  # resident memory of the child; MNIST and the model need well under 2 GiB
OUTPUT_BYTES = 4 * 1024**2  # what the child may print outside the cells; more is "output without end"
MAX_RESULTS_BYTES = 384 * 1024**2  # all one child may send the grader (channel.py): records, progress
MAX_RESULT_FILES = 10_000  # files it may send; the checks' records are a few dozen
READER_SECONDS = 10.0  # how long the grader waits, once a child is killed, for its pipes to close
MAX_PROGRESS_BYTES = 4 * 1024**2  # the child's progress events: a few lines a cell
MAX_RECORD_BYTES = 256 * 1024**2  # one function's recorded results, arrays included (the sample is 47 MB)
MAX_ARRAYS = 1_000  # arrays one function's record may hold; the checks' calls return a few dozen
POLL_SECONDS = 0.05
TREE_POLLS = 10  # which processes the child runs, rescanned every 10th poll (a scan of /proc, ~3 ms)
MAX_PROCESSES = 32  # the child and what it starts; a lesson starts none of its own
SCRATCH_BYTES = 1024**3  # all a student's lessons write to their sandbox's /tmp (a tmpfs, so memory): a few MB
SCRATCH_ENTRIES = 10_000  # files the folder may hold; counting more would itself be a way to stall the grader
SCRATCH_DEPTH = 32  # folders within folders; deeper is no lesson's doing, and outgrows paths and recursion
MAX_THREADS = max(1024, 16 * (os.cpu_count() or 1))  # XLA's and TensorFlow's pools: a few per core
MAX_RECORD_JSON_BYTES = 8 * 1024**2  # one function's record less its arrays: plain numbers and names
STUB_MESSAGE = "Exercise not done yet"  # nbgrader_config.py's code stub for an exercise not done
# Lessons are started the longest first, so that the two graded side by side end together rather than one
# core waiting for the last long lesson: seconds per lesson graded one at a time on 2 cores, 2026-12-02 14:00,
# were 10.1 (06), 5.3 (08), 4.2 (05), 3.8 (04), 2.7 (03), 2.3 (01), 0.9 (02) and 0.9 (07). A lesson not listed
# starts after these.
LONGEST_FIRST = ("06_evaluate", "08_convnet", "05_train", "04_compile", "03_build_model", "01_load_data",
                 "02_preprocess", "07_draw_your_digit")

# nbgrader's door takes the lessons' outcomes in the order of their notebooks, and each notebook's own steps run as
# soon as its outcome is there: so its lessons start in that order, but for lesson 08, first, whose network is then
# trained apart while the others are graded, the longest chain of the grading (GradedAhead).
NBGRADER_ORDER = ("08_convnet", "01_load_data", "02_preprocess", "03_build_model", "04_compile", "05_train",
                  "06_evaluate", "07_draw_your_digit")


class GradingError(Exception):
    """Grading could not be done, through no fault of the student's: no grade may be written; a rerun grades."""


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
    child_seconds: float = 0.0  # what its sandboxed children ran, the time LESSON_SECONDS bounds

    @property
    def points(self):
        return sum(grade.points for grade in self.functions.values())

    @property
    def max_points(self):
        return sum(grade.max_points for grade in self.functions.values())

    def as_dict(self):
        return {
            "lesson": self.lesson, "points": self.points, "max_points": self.max_points,
            "notes": self.notes, "seconds": round(self.seconds, 2), "child_seconds": round(self.child_seconds, 2),
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
    cell_seconds: float = CELL_SECONDS
    notebook_seconds: float = NOTEBOOK_SECONDS
    lesson_seconds: float = LESSON_SECONDS
    submission_seconds: float = SUBMISSION_SECONDS
    deadline: float = None  # time.monotonic() by which the whole submission must be graded (set by grade_submission)
    lesson_left: float = None  # of lesson_seconds, what this run of the lesson's child may still spend (_run_child)
    memory_bytes: int = MEMORY_BYTES
    output_bytes: int = OUTPUT_BYTES


def grade_submission(folder, lessons=None, *, release_dir=None, limits=Limits(), jobs=None):
    """Grade the lesson notebooks in ``folder`` (all of them, or ``lessons``) side by side, in one sandbox."""
    folder = Path(folder)
    lessons = list(lessons or LESSONS)
    limits = _with_deadline(limits)
    grades, readable = {}, {}
    for lesson in lessons:
        submission, grade = read_submitted(folder / f"{lesson}.ipynb", lesson)
        if grade is not None:
            grades[lesson] = grade
        else:
            readable[lesson] = submission
    grades.update(side_by_side(
        readable, jobs, lambda lesson, submission, sandboxes: grade_notebook(
            submission, lesson, release=read_release(lesson, release_dir), limits=limits, sandboxes=sandboxes)[0]))
    return SubmissionGrade(str(folder), {lesson: grades[lesson] for lesson in lessons})


def grade_lesson(path, lesson, *, release_dir=None, limits=Limits()):
    """Grade one lesson notebook file (the pytest door); never raises for anything the submission does."""
    submission, grade = read_submitted(Path(path), lesson)
    if grade is not None:
        return grade
    grade, _ = grade_notebook(submission, lesson, release=read_release(lesson, release_dir), limits=limits)
    return grade


def read_submitted(path, lesson):
    """(the notebook at ``path``, None), or (None, the zero grade of a lesson whose notebook is missing or unreadable)."""
    try:
        return notebooks.read_notebook(path), None
    except FileNotFoundError:
        return None, zero_lesson(lesson, f"{path.name} is missing from {path.parent}: nothing of lesson {lesson} "
                                         "could be graded.")
    except notebooks.NotebookError as err:
        return None, zero_lesson(lesson, notebooks.unreadable_note(path.name, err))


def read_release(lesson, release_dir=None):
    """The released notebook of ``lesson``, whose cells the repairs put back (ours: a failure is a real error)."""
    return notebooks.read_notebook(Path(release_dir or grading_release_dir()) / f"{lesson}.ipynb")


def zero_lesson(lesson, message):
    """The grade of a lesson that could not be run at all: every function zero, with ``message``."""
    grade = LessonGrade(lesson, {}, notes=[message])
    for exercise in exercises_of(lesson):
        grade.functions[exercise.name] = FunctionGrade(exercise.name, 0, exercise.points, False, message)
    return grade


def side_by_side(items, jobs, grade, settled=None, order=LONGEST_FIRST):
    """{lesson: grade(lesson, item, sandboxes)} for each of ``items`` ({lesson: ...}), in one set of Sandboxes.

    Every lesson has a thread, but at most ``jobs`` (default: a core each) have a child running, taking
    their turn longest first (``Turns``): a lesson's replays, here or in the process apart, then overlap
    the next lessons' children, and no core waits for them. ``settled(lesson, future)``, if given, is called
    as each lesson's grading ends, with its future, before the others have.
    """
    if not items:
        return {}
    jobs = jobs or max(1, min(len(items), os.cpu_count() or 1))
    started = sorted(items, key=lambda lesson: order.index(lesson) if lesson in order else len(order))
    turns = Turns(started, jobs)

    def grade_in_turn(lesson):
        try:
            return grade(lesson, items[lesson], sandboxes)
        finally:
            turns.leave(lesson)  # a lesson that never ran a child (past the deadline, or an error) holds no one up

    # The process apart, then the shared server, start first: each imports Keras (about 1.4 s), and every lesson
    # waits for the server, while this process's own preparations need neither.
    apart_too = any(BY_NAME[name].compiles for lesson in items for name in LESSONS.get(lesson, ()))
    with Sandboxes(shared=len(items) > 1, turns=turns, start=True, apart_too=apart_too) as sandboxes:
        with concurrent.futures.ThreadPoolExecutor(len(items)) as pool:
            futures = {lesson: pool.submit(grade_in_turn, lesson) for lesson in started}
            if settled is not None:
                for lesson, future in futures.items():
                    future.add_done_callback(functools.partial(settled, lesson))
            return {lesson: futures[lesson].result() for lesson in items}


class Turns:
    """At most ``jobs`` children running at once, their lessons' first runs in ``order``; a rerun waits for a place."""

    def __init__(self, order=(), jobs=math.inf):
        self.waiting = list(order)
        self.free = jobs
        self._condition = threading.Condition()

    @contextlib.contextmanager
    def turn(self, lesson):
        with self._condition:
            first = lesson in self.waiting
            self._condition.wait_for(lambda: self.free > 0 and (not first or self.waiting[0] == lesson))
            if first:
                self.waiting.remove(lesson)
                self._condition.notify_all()  # the next lesson in order may take a free place now, beside this one
            self.free -= 1
        try:
            yield
        finally:
            with self._condition:
                self.free += 1
                self._condition.notify_all()

    def leave(self, lesson):
        """``lesson`` will run no child (any more): the lessons after it need not wait for its turn."""
        with self._condition:
            if lesson in self.waiting:
                self.waiting.remove(lesson)
                self._condition.notify_all()


def _with_deadline(limits):
    if limits.deadline is None:
        return dataclasses.replace(limits, deadline=time.monotonic() + limits.submission_seconds)
    return limits


@dataclasses.dataclass
class Outcome:
    """What grading one notebook's code decided: each function's message (None: passed), and the notes."""

    messages: dict
    notes: list
    seconds: float = 0.0  # what its sandboxed children ran


class GradedAhead:
    """The notebooks of one submission, graded side by side in the background, for grade_notebook (``graded``).

    nbgrader grades a student's notebooks one after another; its door starts this at the first of them
    (``preprocessors.GradeInSandbox``), so that all run at once in one sandbox, and each notebook takes its
    own outcome as soon as its lesson is graded (``take``): nbgrader's own steps for the first notebooks then
    run while the last lessons are still being graded, not after them. ``submissions``: {lesson: (notebook,
    release)}. An outcome is used only for a notebook whose program (the code it runs, cell by cell) is the
    same as the one graded here.

    A lesson that could not be graded here through a fault of the grader's raises at ``take``: a
    GradingError for its notebook, so that nbgrader stops with the cause; another error, so that the
    notebook is graded on its own.
    """

    def __init__(self, submissions, *, limits=Limits(), jobs=None, finished=None):
        self.limits = _with_deadline(limits)
        self.started = time.monotonic()
        self.failed = {}  # lesson -> the error, other than a GradingError, that kept it from being graded here
        self.used = set()  # the lessons whose outcome a notebook took: the others were graded on their own
        self._outcomes = {lesson: concurrent.futures.Future() for lesson in submissions}
        self._taken = set()
        self._finished = finished  # called with the seconds the grading took, once its sandboxes are gone
        # The sandbox's server is launched from this thread, which lives as long as the grading (Server.launch). It
        # is no daemon: a process that exits before every notebook took its outcome first lets it end and clean up.
        self._thread = threading.Thread(target=self._grade, args=(submissions, jobs), name="graded-ahead")
        self._thread.start()

    def _grade(self, submissions, jobs):
        def grade(lesson, item, sandboxes):
            submission, release = item
            cells, _ = notebooks.repair(submission, release)
            program = _program(cells, lesson, release)
            return program_key(lesson, program), _grade_program(program, lesson, self.limits, sandboxes)

        def settled(lesson, future):
            if future.exception() is not None:
                self._outcomes[lesson].set_exception(future.exception())
            else:
                self._outcomes[lesson].set_result(future.result())

        try:
            side_by_side(submissions, jobs, grade, settled, order=NBGRADER_ORDER)
        except BaseException as err:  # noqa: BLE001 -- before any lesson ran (the sandbox): each notebook says so
            for outcome in self._outcomes.values():
                if not outcome.done():
                    outcome.set_exception(err)
        if self._finished is not None:
            self._finished(time.monotonic() - self.started)

    def take(self, lesson, key):
        """The Outcome of ``lesson``'s notebook, once graded, when its program's digest is ``key``; else None.

        Raises the GradingError that kept the lesson from being graded; another error is kept in ``failed``,
        and the notebook is then graded on its own. Once every lesson's outcome is taken, waits for the
        grading to end.
        """
        if lesson not in self._outcomes:
            return None
        try:
            graded_key, outcome = self._outcomes[lesson].result()
        except GradingError:
            raise
        except Exception as err:  # noqa: BLE001 -- a fault of the grader's in this lesson: graded again on its own
            self.failed[lesson] = err
            graded_key, outcome = None, None
        finally:
            self._taken.add(lesson)
            if self._taken >= set(self._outcomes):
                self.wait()
        if graded_key != key:
            return None
        self.used.add(lesson)
        return outcome

    def wait(self):
        """Wait until the grading has ended and its sandboxes are gone."""
        self._thread.join()


def program_key(lesson, program):
    """A digest of what a notebook's child would run: the same key, the same outcome."""
    text = json.dumps([lesson, program], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def grade_notebook(submission, lesson, *, release, limits=Limits(), repaired=(), sandboxes=None, graded=None):
    """Grade one notebook (a dict); return (LessonGrade, repaired cells).

    ``repaired``: the notes of a repair made before (nbgrader's door repairs in
    its sanitizing stage), which this one, of a repaired notebook, cannot see.
    ``sandboxes``: the submission's sandboxes (``grade_submission``); else one of its own.
    ``graded``: a GradedAhead; the outcome of this notebook's program is taken from it, and run no more.
    """
    started = time.perf_counter()
    cells, notes = notebooks.repair(submission, release)
    notes = list(dict.fromkeys([*repaired, *notes]))
    program = _program(cells, lesson, release)
    outcome = graded.take(lesson, program_key(lesson, program)) if graded is not None else None
    if outcome is None:
        with contextlib.ExitStack() as stack:
            if sandboxes is None:
                sandboxes = stack.enter_context(Sandboxes(shared=False))
            outcome = _grade_program(program, lesson, limits, sandboxes)
    grade = LessonGrade(lesson, {}, notes=list(dict.fromkeys([*notes, *outcome.notes])), child_seconds=outcome.seconds)
    for exercise in exercises_of(lesson):
        name = exercise.name
        message = outcome.messages[name]
        passed = message is None
        if not passed and notebooks.deleted_note(name, True) in notes:
            message = f"{notebooks.deleted_note(name, True)} {message}"
        grade.functions[name] = FunctionGrade(name, exercise.points if passed else 0, exercise.points, passed,
                                              PASSED.format(name=name) if passed else message)
    grade.seconds = time.perf_counter() - started
    return grade, cells


def _grade_program(program, lesson, limits, sandboxes):
    """Run ``program`` in the sandbox and replay each check here on what it recorded: the Outcome."""
    run = _run_child(program, lesson, limits, sandboxes)
    messages = {}
    for exercise in exercises_of(lesson):
        name = exercise.name
        if name in run.problems:
            messages[name] = run.problems[name]
        elif name not in run.recorded:
            messages[name] = f"{name} could not be graded: the grading process stopped before it."
        else:
            messages[name] = _replay_check(name, run.recorded[name], sandboxes)
    return Outcome(messages, run.notes, run.seconds)


def _program(cells, lesson, release):
    """The code cells the child runs, in order: the set-up, the exercises and the learner's own cells; not the
    demonstrations, which change no grade, nor the checks, whose verdicts are the grader's."""
    checks = {BY_NAME[name].check_id for name in LESSONS[lesson]}
    released = [notebooks.grade_id(cell) for cell in release["cells"]]
    first_exercise = min((released.index(name) for name in LESSONS[lesson] if name in released), default=0)
    setup = {key for key in released[:first_exercise] if key}
    program = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        key = notebooks.grade_id(cell)
        if key in checks:
            continue
        locked = key is not None and not notebooks.is_exercise(cell)
        if locked and key not in setup:
            continue  # a demonstration
        program.append({"id": key or f"added cell {index + 1}", "index": index, "source": cell["source"]})
    return program


# ---------------------------------------------------------------- the child process


@dataclasses.dataclass
class _ChildRun:
    recorded: dict = dataclasses.field(default_factory=dict)  # function -> its record
    problems: dict = dataclasses.field(default_factory=dict)  # function -> why it earns nothing
    notes: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0  # the lesson's children's run time, waiting for a turn not counted


def _run_child(program, lesson, limits, sandboxes):
    """Run the sandbox until every function is recorded or given up on, within the lesson's time budget."""
    run = _ChildRun()
    functions = list(LESSONS[lesson])
    skip = []
    alone = not sandboxes.shared
    spent = 0.0  # seconds the lesson's children have run: waiting for a turn behind other lessons is not counted
    while True:
        if limits.deadline is not None and time.monotonic() >= limits.deadline:
            _give_up(run, functions, _past_deadline(limits))
            break
        outcome = _run_child_once(sandboxes, alone, program, lesson, functions, skip,
                                  dataclasses.replace(limits, lesson_left=limits.lesson_seconds - spent))
        spent += outcome["seconds"]
        run.seconds = spent
        run.recorded.update(outcome["recorded"])
        for note in outcome["notes"]:
            if note not in run.notes:
                run.notes.append(note)
        culprit, reason = outcome["culprit"], outcome["reason"]
        if culprit is None:
            break
        if not alone:
            # In the sandbox the student's lessons share, another of them could have stopped this one (a
            # signal, a full /tmp): graded again in a sandbox of its own, what goes wrong is its own doing.
            # What it recorded stands: no other lesson can write its results.
            alone = True
            skip = sorted(set(skip) | set(run.recorded))
        else:
            ids = [entry["id"] for entry in program]
            if culprit.startswith("cell:") and culprit[5:] in ids:
                # The process died or hung in a cell: an exercise's cell costs that exercise; a
                # set-up cell or one the learner added is left out, and the rest runs again.
                cell_id = culprit[5:]
                if cell_id in functions:
                    run.problems[cell_id] = (f"Running the cell where you write {cell_id} {reason}, so {cell_id} "
                                             "earns nothing.")
                run.notes.append(f"The cell {cell_id!r} {reason}; it was left out to grade the rest.")
                program = [entry for entry in program if entry["id"] != cell_id]
            elif culprit in functions and culprit not in skip:
                run.problems[culprit] = f"Grading {culprit} {reason}, so it earns nothing."
            else:  # nothing to leave out that would let another run get further
                _give_up(run, functions, f"the grading process {reason}")
                break
            skip = sorted(set(skip) | set(run.problems) | set(run.recorded))  # run only what is left
        if all(name in run.recorded or name in run.problems for name in functions):
            break
        if spent >= limits.lesson_seconds:
            _give_up(run, functions, f"grading the lesson took longer than the {limits.lesson_seconds:g} s it may "
                                     "take in all (cells that hang, one after another?)")
            break
    return run


def _past_deadline(limits):
    return (f"grading the student's whole submission took longer than the {limits.submission_seconds:g} s it "
            "may take in all")


def _give_up(run, functions, why):
    """Zero every function not yet recorded or failed, saying why."""
    for name in functions:
        if name not in run.recorded and name not in run.problems:
            run.problems[name] = f"{name} could not be graded: {why}."


def _run_child_once(sandboxes, alone, program, lesson, functions, skip, limits):
    """One run of a child, in the submission's shared sandbox or, ``alone``, in the lesson's own; in its turn."""
    with sandboxes.turns.turn(lesson):
        started = time.monotonic()
        outcome = _run_child_in_turn(sandboxes, alone, program, lesson, functions, skip, limits)
        return outcome | {"seconds": time.monotonic() - started}


def _run_child_in_turn(sandboxes, alone, program, lesson, functions, skip, limits):
    try:
        server = sandboxes.server(lesson, alone)
    except forkserver.ServerError as err:
        if alone or not sandboxes.shared:  # before any learner code ran in it: the machine's fault, or ours
            raise GradingError(f"the grader's sandbox could not start ({err})") from None
        return {"recorded": {}, "culprit": "cell:set-up", "reason": f"could not start ({err})", "notes": []}
    private = sandboxes.private_folder(lesson)
    try:
        return _run_child_in(server, private, program, lesson, functions, skip, limits, sandboxes)
    finally:
        forkserver.remove_tree(private)


def _run_child_in(server, private, program, lesson, functions, skip, limits, sandboxes):
    """Fork a child of ``server``, watch it, and read what it sent into ``private``, a folder only we see."""
    out = private / "results"
    out.mkdir()
    cases, blobs = _cases([name for name in functions if name not in skip], sandboxes.cache)
    request = sandbox.request_bytes({"lesson": lesson, "cells": program, "functions": functions, "skip": skip,
                                     "cases": cases}, blobs)
    try:
        child = server.fork(lesson)
    except forkserver.ServerError as err:
        if not sandboxes.shared:
            raise GradingError(f"the grader's sandbox could not start a lesson ({err})") from None
        return {"recorded": {}, "culprit": "cell:set-up", "reason": f"could not start ({err})",
                "notes": [server.note] if server.note else []}
    receiver = channel.Receiver(child.results, str(out), max_bytes=MAX_RESULTS_BYTES, max_files=MAX_RESULT_FILES)
    output = _Output(child.output, private / "output.log", limits.output_bytes)
    threading.Thread(target=_send_request, args=(child.request, request), daemon=True).start()
    try:
        # Confined, what the child writes goes to its sandbox's own /tmp, capped in size by the kernel;
        # unconfined, to a folder of ours, watched here.
        reason = _watch(child, out / "progress.jsonl", output, limits, None if server.confined else server.area)
    finally:
        child.kill()  # it and whatever it started, even after a clean exit
        receiver.join(READER_SECONDS)
        output.join(READER_SECONDS)
    events = _events(out / "progress.jsonl")
    recorded = {}
    for name in functions:
        if any(e.get("kind") == "call" and e.get("name") == name and e.get("phase") == "end" for e in events):
            recorded[name] = _load_record(out, name)
    culprit = None
    if reason is None and not any(e.get("kind") == "done" for e in events):
        if receiver.problem is not None:
            reason = f"sent the grader results it could not read ({receiver.problem})"
        elif child.returncode is None:
            reason = "stopped with the sandbox it ran in (its server was killed?)"
        else:
            reason = _death_reason(child.returncode)
    if reason is not None:
        culprit = _culprit(events)
        if culprit is None:
            culprit = "cell:set-up"
    notes = [server.note] if server.note else []
    return {"recorded": recorded, "culprit": culprit, "reason": reason, "notes": notes}


def _send_request(descriptor, request):
    """Write the request's bytes down the child's pipe (a thread: it is larger than the pipe holds), then close it."""
    try:
        data = memoryview(request)
        while data:
            data = data[os.write(descriptor, data):]
    except OSError:
        pass  # the child is gone: its run says why
    finally:
        os.close(descriptor)


class _Output:
    """What the child prints, read from its pipe into a file by a thread: at most ``limit`` bytes are kept, and
    ``size`` counts them all, so that output without end is seen (and the child never blocks on a full pipe)."""

    def __init__(self, descriptor, path, limit):
        self.descriptor, self.path, self.limit = descriptor, path, limit
        self.size = 0
        self._thread = threading.Thread(target=self._run, name="output-reader", daemon=True)
        self._thread.start()

    def _run(self):
        try:
            with open(self.path, "wb") as file:
                while True:
                    chunk = os.read(self.descriptor, 1024 * 1024)
                    if not chunk:
                        break
                    if self.size <= self.limit:
                        file.write(chunk[:self.limit + 1 - self.size])
                    self.size += len(chunk)
        finally:
            os.close(self.descriptor)

    def join(self, timeout):
        self._thread.join(timeout)


class Sandboxes:
    """The fork servers (``forkserver.py``) that grade one submission, the folders of their children, and the
    process apart where the checks that need Keras are replayed (``apart.py``).

    ``shared``: the lessons share one server (started at the first fork), each
    graded again in a server of its own when its run does not end cleanly
    (``_run_child``); else every lesson has its own from the start. The
    servers' sandboxes see only the folders made for their children.
    ``start``: launch the shared server now, and the process apart too with
    ``apart_too``, rather than at their first use.
    """

    def __init__(self, shared, turns=None, start=False, apart_too=False):
        _exit_quickly()
        never_draws()  # should this process import Keras (the cases made here, with no cache): without matplotlib
        self.shared = shared
        self.turns = turns or Turns()  # which children may run now (side_by_side)
        self.backend = _backend()  # the same backend as this process: replays must agree
        self.cache = compilecache.ready(self.backend)  # programs the checks compile, compiled once, read-only
        self.root = Path(tempfile.mkdtemp(prefix="mnist-grading-"))
        self.private = self.root / "grader"  # what only the grader sees: what each child sent, its output
        self.private.mkdir()
        self.package = sandboxview.make(self.root / "package")  # the package as the sandbox sees it: no answers
        self._servers = {}  # None (the shared one) or a lesson -> Server
        self._lock = threading.Lock()
        self._count = itertools.count(1)
        self._launched = None  # the shared server, launched here (``start``) and not yet waited for
        self.apart = None  # the process apart (``apart.Server``), where the checks that need Keras are replayed
        self._apart_lock = threading.Lock()  # not the servers' lock, which a server's start holds for seconds
        try:
            if start and apart_too:
                self._apart()
            if start and shared:  # from this thread, which outlives it (Server.launch)
                self._launched = self._new_server().launch()
        except BaseException:
            self.close()
            raise

    def server(self, lesson, alone):
        """The running server for ``lesson``: the shared one, or (``alone``) the lesson's own; started if need be."""
        key = lesson if alone or not self.shared else None
        with self._lock:
            if key is None and self._launched is not None:
                launched, self._launched = self._launched, None
                self._servers[None] = launched.ready()  # raises as a start made here would
            server = self._servers.pop(key, None)
            if server is not None and not server.alive:
                server.close()
                server = None
            if server is None:
                server = self._new_server().start()
            self._servers[key] = server  # only once it started: a server that could not is not kept
            return server

    def _new_server(self):
        number = next(self._count)
        area = self.root / f"sandbox-{number}"  # where it writes if it runs unconfined
        area.mkdir()
        read_only = [compilecache.programs(self.cache)] if self.cache is not None else []
        return forkserver.Server(self._environment(), work_bytes=SCRATCH_BYTES, area=area, package=self.package,
                                 read_only=read_only, keras=self.backend == "jax",
                                 log=self.private / f"server-{number}.log")

    def replay_apart(self, name, record):
        """The message of ``name``'s check replayed in the process apart on ``record`` (None: passed)."""
        try:
            return self._apart().verdict(name, record)
        except apart.Stopped as err:
            return f"{name}: the grader stopped checking what it returned: {err}."
        except apart.Failed as err:
            raise GradingError(f"the grader could not replay {name}'s check apart: {err}") from None

    def _apart(self):
        with self._apart_lock:
            if self.apart is None:
                folder = self.private / "apart"
                folder.mkdir()
                env = child_env()
                # One BLAS thread, as in the warm-up and the sandbox: NumPy's pool, started at import, is a thread
                # the server's forks would not copy (XLA's own threads start in each child, after the fork).
                env.update(KERAS_BACKEND=self.backend, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
                if self.cache is not None:  # reads the programs the warm-up compiled, adds none
                    env.update(JAX_COMPILATION_CACHE_DIR=str(compilecache.programs(self.cache)),
                               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=str(compilecache.NEVER_WRITE_SECONDS))
                self.apart = apart.Server(env, folder, compilecache.trained_weights(self.cache)).launch()
            return self.apart

    def private_folder(self, lesson):
        """A new folder, seen by the grader alone, for what a child of ``lesson`` sends and prints."""
        folder = self.private / f"{lesson}-{next(self._count)}"
        folder.mkdir()
        return folder

    def _environment(self):
        env = {
            "PATH": path_with_scripts(),
            "MPLBACKEND": "Agg",
            "NBGRADER_EXECUTION": "autograde",  # the lessons' short path
            "KERAS_BACKEND": self.backend,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONHASHSEED": "0",
            "OMP_NUM_THREADS": "1",  # lessons graded side by side share the cores
            "MNIST_LESSONS_DATA": "sample",  # no one reads the set-up cells' outputs: a tenth of MNIST is quicker
        }
        if self.cache is not None:
            env.update(compilecache.child_variables(self.cache))
        return env

    def close(self):
        with self._lock:
            if self._launched is not None:  # launched for a fork that never came
                self._launched.close()
                self._launched = None
            for server in self._servers.values():
                server.close()
            self._servers.clear()
        with self._apart_lock:
            if self.apart is not None:
                self.apart.close()
        forkserver.remove_tree(self.root)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@functools.cache
def _exit_quickly():
    """Skip the collector's passes over what grading left in memory, when this process exits.

    A process that graded holds Keras, JAX and the checks' arrays: the interpreter's last collections walk them
    for 0.5 to 1 s at exit (each door's process), to free memory that goes back with the process. Frozen at exit
    (``atexit`` runs before those passes), they are skipped; what reference counts free is freed as before, so
    files are still flushed and closed.
    """
    atexit.register(gc.freeze)


_WEIGHTS_LOADED = set()  # the saved trained networks this process's checks use already


def _cases(functions, cache):
    """The cases ``functions`` are called on in the child, and their blobs (``cases.py``); a fault there is ours.

    The checks of lesson 06 call the learner's functions on the checks' briefly trained network: trained once
    per machine by the cache's warm-up, which saved its weights where no sandbox sees them, else once here.
    """
    from mnist_lessons import checks

    saved = compilecache.trained_weights(cache)
    if saved is not None and set(ON_TRAINED_NETWORK) & set(functions) and saved not in _WEIGHTS_LOADED:
        with exercise_cases.CHECKS_LOCK:
            checks._load_trained_weights(saved)
            _WEIGHTS_LOADED.add(saved)
    try:
        return exercise_cases.cases_for(functions, cache)
    except exercise_cases.CaseError as err:
        raise GradingError(str(err)) from None


def _watch(child, progress_path, output, limits, work):
    """Wait for the child to end; kill it when it overruns a limit. Return None, or why it was stopped."""
    started = time.monotonic()
    call_started, current = None, None
    first_started = {}  # (kind, name) -> when its first start was seen: a repeated "start" restarts no clock
    polls = 0
    members, threads, hidden = [child.pid], 1, 0
    while not child.ended():
        now = time.monotonic()
        polls += 1
        rescan = polls % TREE_POLLS == 1
        if rescan:
            members = sorted(child.members())
            threads, hidden = _threads_and_hidden_bytes(members)
        events = _events(progress_path)
        last = events[-1] if events else None
        if last is not None and last.get("phase") == "start":
            current = last
            call_started = first_started.setdefault((str(last.get("kind")), str(last.get("name", last.get("id")))), now)
        else:
            current, call_started = None, None
        reason = None
        if now - started > limits.notebook_seconds:
            reason = f"took longer than the {limits.notebook_seconds:g} s a whole notebook may take"
        elif limits.lesson_left is not None and now - started > limits.lesson_left:
            reason = (f"ran past the end of the {limits.lesson_seconds:g} s the lesson may take in all (cells that "
                      "hang, one after another?)")
        elif limits.deadline is not None and now > limits.deadline:
            reason = f"ran past the end of the {limits.submission_seconds:g} s the whole submission may take"
        elif call_started is not None and now - call_started > _limit_of(current, limits):
            reason = f"took longer than {_limit_of(current, limits):g} s (a loop that never ends?)"
        elif resident_bytes(members) + hidden > limits.memory_bytes:
            reason = f"used more than {limits.memory_bytes / 1024**3:g} GiB of memory (or of files it hid)"
        elif len(members) > MAX_PROCESSES:
            reason = f"started more than {MAX_PROCESSES} processes"
        elif threads > MAX_THREADS:
            reason = f"started more than {MAX_THREADS} threads"
        elif rescan and work is not None and _folder_bytes(work) > SCRATCH_BYTES:
            reason = (f"filled its folder (more than {SCRATCH_BYTES / 1024**3:g} GiB, or {SCRATCH_ENTRIES:,} "
                      "files)")
        elif output.size > limits.output_bytes:
            reason = f"printed more than {limits.output_bytes / 1024**2:g} MB of output (output without end?)"
        if reason:
            child.kill()
            return reason
        time.sleep(POLL_SECONDS)
    return None


def _limit_of(event, limits):
    return limits.function_seconds if event.get("kind") == "call" else limits.cell_seconds


def _folder_bytes(folder):
    """Bytes in the files under ``folder``: infinite past SCRATCH_ENTRIES files or SCRATCH_DEPTH levels.

    Walked by folder descriptors, never by path, so that no path is too long to follow and no link is followed.
    """
    total, seen = 0, 0
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        stack = [(os.open(folder, flags), 0)]
    except OSError:
        return math.inf  # the folder replaced or taken away: not what any lesson does
    try:
        while stack:
            descriptor, depth = stack.pop()
            try:
                with os.scandir(descriptor) as entries:
                    for entry in entries:
                        seen += 1
                        if seen > SCRATCH_ENTRIES:
                            return math.inf
                        if entry.is_dir(follow_symlinks=False):
                            if depth + 1 > SCRATCH_DEPTH:
                                return math.inf
                            stack.append((os.open(entry.name, flags, dir_fd=descriptor), depth + 1))
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue  # removed while we looked
            finally:
                os.close(descriptor)
    except OSError:
        return math.inf  # a folder we cannot read is not one a lesson makes
    finally:
        for descriptor, _ in stack:
            os.close(descriptor)
    return total


def _threads_and_hidden_bytes(pids):
    """Threads of these processes, and bytes of the files they hold open but left nameless (deleted, memfd).

    Such files count against memory: tmpfs and memfd pages are memory no process's resident size shows.
    """
    threads, hidden, seen = 0, 0, set()
    for pid in pids:
        try:
            threads += len(os.listdir(f"/proc/{pid}/task"))
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                info = os.stat(f"/proc/{pid}/fd/{descriptor}")  # the open file itself, named or not
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_nlink == 0 and (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                hidden += info.st_size
    return threads, hidden


def _death_reason(returncode):
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.Signals._value2member_map_ else str(-returncode)
        if -returncode == signal.SIGXFSZ:
            return "wrote a file larger than the grader allows"
        return f"crashed the Python process (it was killed by {name})"
    return f"ended the Python process (exit status {returncode}; os._exit or a crash?)"


def _events(path):
    try:
        lines = notebooks.read_bounded(path, MAX_PROGRESS_BYTES).decode("utf-8", errors="replace").splitlines()
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
            return str(event.get("name")) if event.get("kind") == "call" else f"cell:{event.get('id')}"
        if event.get("phase") == "end":
            return None
    return None


def _load_record(out, name):
    """What the child recorded for one function, read within bounds; {"error": ...} when it cannot be."""
    budget = MAX_RECORD_BYTES
    try:
        raw = notebooks.read_bounded(out / f"{name}.json", MAX_RECORD_JSON_BYTES)
        record = json.loads(raw.decode("utf-8"))
        calls = record.get("calls") if isinstance(record, dict) else None
        if not (isinstance(calls, dict) and all(isinstance(calls.get(key, []), list) for key in ("visible", "hidden"))):
            raise ValueError("they are not a record of calls")
        record["_arrays"] = {}
        budget -= len(raw)
        for file in sorted(out.glob(f"{name}-*.npy"))[:MAX_ARRAYS]:
            data = notebooks.read_bounded(file, budget)
            budget -= len(data)
            record["_arrays"][file.name] = _load_array(data)
        return record
    except Exception as err:  # noqa: BLE001 -- whatever the child wrote, a zero for this function, never a crash
        return {"error": f"its results could not be read ({type(err).__name__}: {_first_line(err)})"}


def _load_array(data):
    """An .npy file's array, read only if its header promises no more than the bytes that are there."""
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ValueError(f"an .npy file of version {version}, which the recorder never writes")
    if dtype.hasobject or math.prod(shape) * dtype.itemsize > len(data) - stream.tell():
        raise ValueError(f"an array file whose header claims more than it holds ({shape}, {dtype})")
    stream.seek(0)
    return np.load(stream, allow_pickle=False)


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
        self.models = {}  # model_id -> the model rebuilt for it

    def __call__(self, *args, **kwargs):
        queue = self.calls["hidden" if self.hidden else "visible"]
        if not queue:
            raise RuntimeError("the grading process recorded no result for this call")
        call = queue.pop(0)
        if "missing" in call:
            raise RuntimeError(f"{self.name} is not defined as a function (found {call['missing']})")
        raised = call.get("raised")
        if raised:
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
        if kind == "scalar":
            try:
                dtype = np.dtype(str(value.get("d")))
                if dtype.kind in "biuf" and isinstance(value.get("v"), (bool, int, float)):
                    return dtype.type(value["v"])
            except (TypeError, ValueError, OverflowError):
                pass
            return Unreadable("a NumPy number the grader could not read")
        if kind == "dtype":
            try:
                return np.dtype(str(value.get("v")))
            except (TypeError, ValueError):
                return Unreadable("a dtype the grader could not read")
        if kind == "ndarray":
            return self._array(value)
        if kind in ("list", "tuple"):
            items = [self._decode(item, ()) for item in value["v"]]
            return items if kind == "list" else tuple(items)
        if kind == "dict":
            return {sandbox.hashable(self._decode(k, ())): self._decode(v, ()) for k, v in zip(value["k"], value["v"])}
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
        token = encoded.get("model_id")
        if type(token) is int and token in self.models:
            return self.models[token]
        model = self._build_model(encoded)
        if type(token) is int:
            self.models[token] = model
        return model

    def _build_model(self, encoded):
        keras = _keras()
        problem = _model_problem(encoded.get("config"))
        if problem:
            return Unreadable(problem, refused_model=True)
        try:
            model = keras.saving.deserialize_keras_object(encoded["config"], safe_mode=True)
        except Exception as err:  # noqa: BLE001 -- anything the description holds that Keras refuses
            return Unreadable(f"a Keras model the grader could not rebuild from its description ({_first_line(err)})",
                              refused_model=True)
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


def _model_problem(config):
    """Why the grader will not build the model ``config`` describes, or None: checked before anything is allocated.

    Every layer must be one the course's networks are made of (``COURSE_LAYERS``), in a Sequential or
    Functional model, and the whole hold at most ``MAX_PARAMETERS`` weights and cost at most
    ``MAX_MULTIPLY_ADDS`` an image, counted from the description (``_size``): a description that claims
    huge layers, or layers that cost time without weights (``UpSampling2D``, wide convolutions), is refused
    here, not built and trained in the grader's process.
    """
    if not isinstance(config, dict) or config.get("class_name") not in ("Sequential", "Functional"):
        return "something other than a Keras Sequential or Functional model"
    layers = config.get("config", {}).get("layers") if isinstance(config.get("config"), dict) else None
    if not isinstance(layers, list):
        return "a Keras model whose description lists no layers"
    kinds = [layer.get("class_name") if isinstance(layer, dict) else None for layer in layers]
    others = sorted({str(kind) for kind in kinds if kind not in COURSE_LAYERS})
    if others:
        return (f"a Keras model with layers no network of the course has ({', '.join(others[:3])}); "
                f"the grader builds only {', '.join(COURSE_LAYERS[1:])}")
    if _largest_size(config) > MAX_LAYER_SIZE:
        return f"a Keras model with a layer larger than the grader builds ({MAX_LAYER_SIZE:,} units)"
    size = _size(config, layers)
    if size is None:
        return "a Keras model whose layers' sizes the grader could not read from its description"
    parameters, multiply_adds = size
    if parameters > MAX_PARAMETERS:
        return f"a Keras model of more than {MAX_PARAMETERS:,} weights, the most the grader builds"
    if multiply_adds > MAX_MULTIPLY_ADDS:
        return (f"a Keras model of more than {MAX_MULTIPLY_ADDS:,} multiply-adds an image, the most the grader "
                "trains")
    return None


COURSE_LAYERS = ("InputLayer", "Dense", "Reshape", "Conv2D", "MaxPooling2D", "Flatten", "Dropout")
MAX_PARAMETERS = 4_000_000  # weights of a model the grader builds: the course's largest has 407,050
MAX_MULTIPLY_ADDS = 4_000_000  # an image's forward pass: lesson 03's network 407k, LeNet-5 about 420k
UNBUILT_INPUT = 784  # a model built without an input shape: the checks build it for the course's pixels


def _size(config, layers):
    """(weights, multiply-adds an image) of a chain of the course's layers, from its description: the input's
    shape, layer by layer. Counting stops past either bound.

    None when a size is missing or not a whole number. A Functional model's layers are taken in the order
    listed: with no layer that joins two inputs among the course's, its graph is that chain.
    """
    def ints(values):
        return [v for v in values if type(v) is int and v > 0] if isinstance(values, list) else []

    shape = None
    build = config.get("build_config", {}) if isinstance(config.get("build_config"), dict) else {}
    if isinstance(build.get("input_shape"), list):
        shape = ints(build["input_shape"][1:])
    total = work = 0
    for layer in layers:
        kind, settings = layer.get("class_name"), layer.get("config")
        if not isinstance(settings, dict):
            return None
        if kind == "InputLayer":
            given = settings.get("batch_shape") or settings.get("batch_input_shape")
            shape = ints(given[1:]) if isinstance(given, list) else None
            continue
        if kind == "Dropout":
            continue
        if not shape:
            given = settings.get("batch_shape") or settings.get("batch_input_shape")
            shape = ints(given[1:]) if isinstance(given, list) else [UNBUILT_INPUT]
        if kind == "Dense":
            units = settings.get("units")
            if type(units) is not int or units < 1:
                return None
            total += shape[-1] * units + (units if settings.get("use_bias", True) else 0)
            work += math.prod(shape) * units
            shape = [*shape[:-1], units]
        elif kind == "Flatten":
            shape = [math.prod(shape)]
        elif kind == "Reshape":
            target = ints(settings.get("target_shape"))
            if not target or math.prod(target) != math.prod(shape):
                return None
            shape = target
        elif kind in ("Conv2D", "MaxPooling2D"):
            if len(shape) != 3:
                return None
            window = ints(settings.get("kernel_size" if kind == "Conv2D" else "pool_size"))
            strides = ints(settings.get("strides")) or window
            if len(window) != 2 or len(strides) != 2 or ints(settings.get("dilation_rate", [1, 1])) != [1, 1]:
                return None
            same = settings.get("padding") == "same"
            sides = [-(-side // step) if same else (side - size) // step + 1
                     for side, size, step in zip(shape[:2], window, strides)]
            if min(sides) < 1:
                return None
            channels = shape[2]
            if kind == "Conv2D":
                filters = settings.get("filters")
                if type(filters) is not int or filters < 1:
                    return None
                total += window[0] * window[1] * shape[2] * filters + (filters if settings.get("use_bias", True) else 0)
                work += math.prod(sides) * window[0] * window[1] * shape[2] * filters
                channels = filters
            shape = [*sides, channels]
        if total > MAX_PARAMETERS or work > MAX_MULTIPLY_ADDS:
            break
    return total, work


def _largest_size(config):
    """The largest layer size a model's description asks for (units, filters, input dimensions), found without recursion."""
    largest, stack = 0, [config]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if key in SIZE_KEYS and type(item) is int:
                    largest = max(largest, item)
                elif key in SHAPE_KEYS and isinstance(item, list):
                    largest = max([largest] + [dim for dim in item if type(dim) is int])
                else:
                    stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
    return largest


MAX_LAYER_SIZE = 65_536  # units or input size of any layer the grader rebuilds; the course's largest is 784
SIZE_KEYS = ("units", "filters", "input_dim", "output_dim")
SHAPE_KEYS = ("batch_shape", "batch_input_shape", "shape", "input_shape", "build_input_shape")


class Unreadable:
    """What the grader sees where the learner's function returned something it cannot read as data."""

    def __init__(self, what, refused_model=False):
        self.what = what
        self.grader_description = what  # how checks._summary names it in a message
        self.refused_model = refused_model  # a Keras model the grader would not build: the checks say so

    def __repr__(self):
        return f"<{self.what}>"




def _replay_check(name, record, sandboxes):
    """Run the lesson's check against the recorded results; None when it passed, else its message.

    The checks that need Keras (``Exercise.compiles``) run in the process apart (``apart.py``), so that nothing
    a learner's function returned is built, trained or run here; the others here, one at a time.
    """
    from mnist_lessons import checks

    if "error" in record:
        return f"{name}: {record['error']}"
    if BY_NAME[name].compiles:
        return sandboxes.replay_apart(name, record)
    with exercise_cases.CHECKS_LOCK:  # checks swap sys.stdout and fd 2 while they run: one at a time
        return _verdict(name, _Replay(name, record), checks)


def _verdict(name, replay, checks):
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
