"""Grading a class with nbgrader: a course directory built from this repository, and nbgrader's own commands (instructors).

The repository's root is nbgrader's course directory (``nbgrader_config.py``):
``solutions/`` is the source, ``course/`` the release, and students' work goes
to ``submitted/<student>/mnist/``. ``make_course`` builds the same layout in
another folder, for a class of one's own, the tests and the benchmark.
"""

import concurrent.futures
import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

from mnist_lessons.coursefiles import ASSIGNMENT, nbgrader_config_path, solutions_dir
from mnist_lessons.environment import child_env, use_own_scripts
from mnist_lessons.grading import engine, workunit
from mnist_lessons.grading.processes import live_processes, proc_stat, trees
from mnist_lessons.grading.preprocessors import NOTES_KEY
from mnist_lessons.exercises import LESSONS



def nbgrader(course, *args, check=True, tmp=None):
    """Run an ``nbgrader`` command in the course directory ``course``; return the CompletedProcess.

    ``tmp``: the folder for its temporary files (``TMPDIR``), the engine's sandboxes among them.
    """
    completed = run_child([sys.executable, "-m", "nbgrader", *args], cwd=course, tmp=tmp)
    if check and completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"nbgrader {' '.join(args)} failed in {course} (exit status {completed.returncode}):\n{tail}")
    return completed


# ---------------------------------------------------------------- the driver's children, and what a killed one left
#
# Each nbgrader the driver starts runs in a session of its own (so a Ctrl+C in
# the terminal reaches the driver alone) and is kept in _CHILDREN. On SIGTERM,
# SIGINT or SIGHUP the driver stops every child's whole tree of processes,
# the engine's sandboxed children included (they have sessions of their own,
# but are still the children of their nbgrader): first frozen with SIGSTOP, so
# none can fork out of the snapshot, then killed. Each scratch course holds
# OWNER_FILE, naming the process that grades in it; a driver killed with
# SIGKILL cannot clean up, so every run starts by removing the scratch folders
# whose owner is gone, with any process still working in them.

SCRATCH_PREFIX = "autograde-"  # tempfile's prefix of a student's scratch course: /tmp/autograde-<student>-xxxx
OWNER_FILE = ".autograde-owner"  # {"pid", "started", "host"} of the process grading in a scratch course
_CHILDREN = set()
_CHILDREN_LOCK = threading.Lock()
_STOPPING = threading.Event()


class Stopped(Exception):
    """The driver was asked to stop (SIGTERM, SIGINT, SIGHUP): its children are gone, graded students are kept."""

    def __init__(self, signum):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def run_child(command, cwd, tmp=None):
    """Run ``command`` in its own session as one of the driver's children; return the CompletedProcess.

    It dies with the process that started it (util-linux's ``setpriv --pdeathsig``, where there is one): a Dask
    worker killed while it grades takes its nbgrader with it, and that nbgrader its sandboxes (bubblewrap's
    ``--die-with-parent``), while the scheduler grades the student again elsewhere (issue 29).
    """
    if _STOPPING.is_set():
        raise Stopped(signal.SIGTERM)
    setpriv = shutil.which("setpriv") or shutil.which("setpriv", path="/usr/bin:/bin")
    env = child_env(TMPDIR=str(tmp)) if tmp is not None else child_env()
    process = subprocess.Popen([setpriv, "--pdeathsig", "KILL", "--", *command] if setpriv else command, cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True)
    with _CHILDREN_LOCK:
        _CHILDREN.add(process)
    try:
        stdout, stderr = process.communicate(timeout=CHILD_SECONDS)
    except subprocess.TimeoutExpired:  # the engine's own deadline did not end it: nbgrader itself hung
        kill_trees([process.pid])
        stdout, stderr = process.communicate()
        stderr += f"\n[ERROR] nbgrader was stopped after {CHILD_SECONDS:g} s, past the time one student may take"
    except BaseException:
        kill_trees([process.pid])
        process.wait()
        raise
    finally:
        with _CHILDREN_LOCK:
            _CHILDREN.discard(process)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def stop_children():
    """Stop every child the driver started, each with its whole tree of processes; start no more."""
    _STOPPING.set()
    with _CHILDREN_LOCK:
        roots = [process.pid for process in _CHILDREN]
    kill_trees(roots)


@contextlib.contextmanager
def stop_on_signals():
    """While inside: SIGTERM, SIGINT and SIGHUP stop the driver's children, then raise Stopped (main thread only)."""
    _STOPPING.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        stop_children()
        raise Stopped(signum)

    signums = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def kill_trees(roots, rounds=20):
    """Kill ``roots`` and all their descendants: frozen first (SIGSTOP) so that none forks away, then SIGKILL."""
    for _ in range(rounds):
        members = trees(roots)
        if not members:
            return
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in sorted(members | (trees(roots) if sig == signal.SIGKILL else set())):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
        roots = sorted(set(roots) | members)
        time.sleep(0.05)


def _owner():
    return {"pid": os.getpid(), "started": (proc_stat(os.getpid()) or (None, None, None, None))[3],
            "host": socket.gethostname()}


def _owner_alive(owner):
    stat_ = proc_stat(owner.get("pid")) if isinstance(owner.get("pid"), int) else None
    return stat_ is not None and stat_[0] != "Z" and stat_[3] == owner.get("started")


def remove_stale_scratch(root=None):
    """Remove the scratch courses (``<tmp>/autograde-*``) of runs that are gone, killing what still works in them.

    A folder is stale when the process named in its OWNER_FILE, on this host,
    is no longer running. One with no owner file (a run making it, or an older
    version's run) is left alone for as long as grading a student may take.
    Returns the folders removed.
    """
    removed = []
    for folder in sorted(Path(root or tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*")):
        try:
            info = folder.lstat()
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                continue
            owner = json.loads((folder / OWNER_FILE).read_text())
        except FileNotFoundError:
            if time.time() - info.st_mtime < GRADE_SECONDS:
                continue
            owner = None
        except (OSError, ValueError):
            owner = None
        if isinstance(owner, dict) and (owner.get("host") != socket.gethostname() or _owner_alive(owner)):
            continue
        kill_trees(_working_in(folder))
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _working_in(folder):
    """The processes whose working directory, or one of whose arguments, lies in ``folder``."""
    folder, pids = str(folder), []
    for pid in live_processes():
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                args = file.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if cwd == folder or cwd.startswith(folder + os.sep) or any(folder in arg for arg in args):
            pids.append(pid)
    return [pid for pid in pids if pid != os.getpid()]


def _gradebook(path):
    """nbgrader's Gradebook on the database file ``path``; a new one is made with this environment's alembic."""
    from nbgrader.api import Gradebook

    use_own_scripts()
    return Gradebook(f"sqlite:///{path}")


def make_course(folder, lessons=None, submissions=None):
    """Build an nbgrader course directory in ``folder`` holding ``lessons`` (default all of them) of the assignment.

    ``submissions`` maps a student id to a folder of their notebooks, copied to
    ``submitted/<student>/mnist/``. The release is generated with nbgrader
    and the students are added to the gradebook. Returns ``folder``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lessons = list(lessons or LESSONS)
    shutil.copy(nbgrader_config_path(), folder / "nbgrader_config.py")
    source = folder / "solutions" / ASSIGNMENT
    source.mkdir(parents=True)
    for lesson in lessons:
        shutil.copy(solutions_dir() / f"{lesson}.ipynb", source)
    nbgrader(folder, "generate_assignment", ASSIGNMENT, "--force")
    for student, their_folder in (submissions or {}).items():
        target = folder / "submitted" / student / ASSIGNMENT
        target.mkdir(parents=True)
        for lesson in lessons:
            path = Path(their_folder) / f"{lesson}.ipynb"
            if path.exists():
                shutil.copy(path, target)
        nbgrader(folder, "db", "student", "add", student)
    return folder


# A synthetic class, for the bench: the kinds of work a class hands in, in turn.
SYNTHETIC_KINDS = ("complete", "half done", "wrong", "broken")
WRONG_EXERCISE = ("02_preprocess", "one_hot_labels")  # the wrong student's one mistake, where lesson 02 is graded
BROKEN_NOTEBOOK = '{"cells": ['  # JSON cut short, as a notebook saved by a crashing editor


def synthetic_class(folder, count, lessons=None):
    """Write ``count`` students' submissions into ``folder``, one folder each; return {student: (kind, folder)}.

    The kinds take turns (SYNTHETIC_KINDS): complete (the solutions); half done (the first half of the lessons
    solved, the rest as released); wrong (the solutions, but lesson 02's one_hot_labels returns the labels as they
    are); broken (every notebook cut short, unreadable).
    """
    from mnist_lessons.coursefiles import lessons_dir

    lessons = list(lessons or LESSONS)
    students = {}
    for index in range(count):
        kind = SYNTHETIC_KINDS[index % len(SYNTHETIC_KINDS)]
        target = Path(folder) / f"student{index + 1:04d}"
        target.mkdir(parents=True)
        for number, lesson in enumerate(lessons):
            path = target / f"{lesson}.ipynb"
            if kind == "broken":
                path.write_text(BROKEN_NOTEBOOK)
                continue
            solved = kind != "half done" or number < (len(lessons) + 1) // 2
            shutil.copy((solutions_dir() if solved else lessons_dir()) / path.name, path)
            if kind == "wrong" and lesson == WRONG_EXERCISE[0]:
                notebook = json.loads(path.read_text())
                for cell in notebook["cells"]:
                    if cell["metadata"].get("nbgrader", {}).get("grade_id") == WRONG_EXERCISE[1]:
                        cell["source"] = f"def {WRONG_EXERCISE[1]}(labels, num_classes=10):\n    return labels\n"
                path.write_text(json.dumps(notebook))
        students[target.name] = (kind, target)
    return students


def submission_scores(course, student, assignment=ASSIGNMENT):
    """{notebook: (score, max_score)} of a student's graded submission, read from the course's gradebook."""
    with _gradebook(Path(course) / "gradebook.db") as gradebook:
        submission = gradebook.find_submission(assignment, student)
        return {notebook.name: (notebook.score, notebook.max_score) for notebook in submission.notebooks}


# nbgrader's own pipelines, for the benchmark's side-by-side figure: the learner's code in nbgrader's kernel.
STOCK_NBGRADER = """
from nbconvert.exporters import NotebookExporter
from nbgrader.preprocessors import DeduplicateIds, Execute, OverwriteCells
c.Autograde.exporter_class = NotebookExporter
c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata]
c.Autograde.autograde_preprocessors = [Execute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
                                       AssignLatePenalties, CheckCellMetadata]
"""


def autograde_reference_submission(lessons=None, stock=False):
    """Autograde the complete reference submission with ``nbgrader autograde``: a Timed, true when it earns every point.

    This is what grading one student costs an instructor; the benchmark times it, through the course's
    engine and, with ``stock``, through nbgrader's own Execute step. Its ``seconds`` are the command's own:
    the course directory is made before, untimed.
    """
    with tempfile.TemporaryDirectory(prefix="mnist-course-") as folder:
        course = make_course(folder, lessons, {"reference": solutions_dir()})
        if stock:
            with open(course / "nbgrader_config.py", "a") as config:
                config.write(STOCK_NBGRADER)
        started = time.monotonic()
        nbgrader(course, "autograde", ASSIGNMENT, "--student", "reference")
        seconds = time.monotonic() - started
        scores = submission_scores(course, "reference")
        return Timed(bool(scores) and all(score == max_score for score, max_score in scores.values()), seconds)


@dataclasses.dataclass(frozen=True)
class Timed:
    """A tool's result for the benchmark: whether it passed (its truth) and the seconds of its own work."""

    passed: bool
    seconds: float

    def __bool__(self):
        return self.passed


def autograde_reference_submission_stock(lessons=None):
    """``autograde_reference_submission`` through nbgrader's stock pipelines, for the benchmark."""
    return autograde_reference_submission(lessons, stock=True)


# ---------------------------------------------------------------- grading a class in parallel
#
# nbgrader autogrades one submission at a time, in one process that holds the
# gradebook. `autograde_class` grades many at once. The driver packs the
# course once and each submission as it is sent (grading/workunit.py); the
# unit of work, `grade_student`, unpacks both into a private scratch course,
# autogrades the student there with the real `nbgrader autograde`, and
# returns plain data: the grades and the autograded files. The same unit runs
# in the driver's threads or on a Dask cluster (`scheduler=`), whose workers
# need this package and bubblewrap, and no file system in common with the
# driver. Only the driver writes to the course, one student at a time, once
# per submission (workunit.Ledger): first the autograded files (into a
# temporary folder, then renamed into place), then the grades, in one
# gradebook transaction. A run killed midway leaves every student either
# graded completely or not at all as far as `is_graded` is concerned, and
# running it again grades only those left.

GRADE_SECONDS = engine.SUBMISSION_SECONDS  # one student's whole submission: about 9 s through nbgrader on 2 quiet cores
CHILD_SECONDS = GRADE_SECONDS + 600  # a backstop for one nbgrader command: the engine's deadline, then its replays
IN_FLIGHT_PER_THREAD = 2  # submissions sent to a cluster per worker thread: one grading, one queued behind it
# A Dask client keeps its last messages to the scheduler for debugging, each under 1 MB whole: 1,000 by default,
# which here are 1,000 submissions held for nothing (90 MB for notebooks without outputs, measured with
# benchmarks/simulate_class.py). A client of a caller's own keeps its own setting.
CLIENT_LOG_LENGTH = 10


def submitted_students(course, assignment=ASSIGNMENT):
    """The students with a folder in ``submitted/<student>/<assignment>/``, sorted."""
    return sorted(path.parent.name for path in Path(course).glob(f"submitted/*/{assignment}") if path.is_dir())


def grade_student(course_bundle, submission):
    """``grade_one_student``, whose every failure is that student's alone: an error in the result, never a raise."""
    try:
        return grade_one_student(course_bundle, submission)
    except Exception as err:  # noqa: BLE001 -- one student never stops the class
        return {"student": submission.student, "assignment": submission.assignment, "notes": [], "grades": {},
                "files": {}, "timestamp": None, "seconds": 0.0,
                "error": f"grading failed ({type(err).__name__}: {str(err).strip()[:300]})"}


def grade_one_student(course_bundle, submission):
    """Autograde one submission (workunit.Submission) in a scratch course unpacked from ``course_bundle``
    (workunit.pack_course); return the grades and the autograded files as data.

    Only the lesson notebooks, nbgrader's timestamp.txt and submission_secret.txt are taken from the submission. A
    notebook the grader cannot read (notebooks.read_notebook's rule: not a regular file, too large, not JSON) is
    graded as the untouched release, with a note; nbgrader zeroes a missing one. Every other repair is the
    engine's own, inside nbgrader's pipeline, and its notes are collected from the autograded notebooks.
    """
    started = time.monotonic()
    if _STOPPING.is_set():
        raise Stopped(signal.SIGTERM)
    remove_stale_scratch()  # what a worker killed on this machine left, at once rather than at the next run
    student, assignment = submission.student, submission.assignment
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{student}-") as scratch:
        scratch = Path(scratch)
        (scratch / OWNER_FILE).write_text(json.dumps(_owner()))  # whose it is, for remove_stale_scratch
        workunit.unpack_course(course_bundle, scratch)
        notes = workunit.unpack_submission(submission, scratch / "submitted" / student / assignment,
                                           scratch / "course" / assignment)
        # The engine's temporary folders too lie in the scratch course: a grading killed with its worker leaves
        # nothing elsewhere for remove_stale_scratch to miss.
        (scratch / "tmp").mkdir()
        completed = nbgrader(scratch, "autograde", assignment, "--student", student, "--force", check=False,
                             tmp=scratch / "tmp")
        result = {"student": student, "assignment": assignment, "notes": notes, "grades": {}, "files": {},
                  "timestamp": None, "error": None, "seconds": 0.0}
        if completed.returncode != 0:
            lines = [line for line in completed.stderr.splitlines() if "ERROR" in line] or completed.stderr.splitlines()
            result["error"] = "nbgrader autograde failed: " + " ".join(lines[-3:])[-600:]
        else:
            result.update(_read_grades(scratch, student, assignment))
            autograded = scratch / "autograded" / student / assignment
            result["files"] = {str(path.relative_to(autograded)): path.read_bytes()
                               for path in sorted(autograded.rglob("*")) if path.is_file()}
            result["notes"] += _engine_notes(autograded)
        result["seconds"] = time.monotonic() - started
        return result


def _engine_notes(autograded):
    """The notes the engine kept in each autograded notebook's metadata (preprocessors.NOTES_KEY)."""
    notes = []
    for path in sorted(autograded.glob("*.ipynb")):
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get(NOTES_KEY, {})
        notes += [note if note.startswith(path.name) else f"{path.name}: {note}" for note in map(str, meta.get("notes", []))]
    return notes


def _read_grades(scratch, student, assignment):
    with _gradebook(scratch / "gradebook.db") as gradebook:
        submission = gradebook.find_submission(assignment, student)
        grades = {
            notebook.name: {grade.name: {"auto_score": grade.auto_score, "max_score": grade.max_score}
                            for grade in notebook.grades}
            for notebook in submission.notebooks
        }
        # nbgrader's AssignLatePenalties sets each notebook's penalty from the due date and the late policy.
        penalties = {notebook.name: notebook.late_submission_penalty for notebook in submission.notebooks}
        # preprocessors.SaveNotes keeps the grader's notes as comments, and flags a notebook with notes.
        comments = {notebook.name: {comment.name: comment.auto_comment for comment in notebook.comments}
                    for notebook in submission.notebooks}
        flagged = sorted(notebook.name for notebook in submission.notebooks if notebook.flagged)
        return {"grades": grades, "penalties": penalties, "comments": comments, "flagged": flagged,
                "timestamp": submission.timestamp.isoformat() if submission.timestamp else None}


def merge_result(course, result, gradebook=None):
    """Write one student's graded results into the course: the autograded files, then the grades in one transaction.

    ``gradebook``: the course's Gradebook, open for the whole run (each one opened and closed costs the driver
    memory it never gets back, about 0.1 MiB, which a class of thousands adds up); else one is opened for this.
    """
    course = Path(course)
    student, assignment = result["student"], result["assignment"]
    target = course / "autograded" / student / assignment
    staging = target.parent / f".{assignment}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    for relative, content in result["files"].items():
        path = staging / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    if target.exists():
        retired = target.parent / f".{assignment}.old"
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(target, retired)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, target)

    with contextlib.ExitStack() as stack, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's notes on nbgrader's own session handling
        if gradebook is None:
            gradebook = stack.enter_context(_gradebook(course / "gradebook.db"))
        else:
            stack.callback(gradebook.db.rollback)  # after the commit below, nothing; before it, the half-written
        gradebook.update_or_create_student(student)
        timestamp = datetime.datetime.fromisoformat(result["timestamp"]) if result["timestamp"] else None
        gradebook.update_or_create_submission(assignment, student, timestamp=timestamp)
        for notebook, grades in result["grades"].items():
            for name, grade in grades.items():
                row = gradebook.find_grade(name, notebook, assignment, student)
                row.auto_score = grade["auto_score"]
                row.needs_manual_grade = grade["auto_score"] is None
        for notebook, penalty in result.get("penalties", {}).items():  # lost here before: late work counted in full
            gradebook.find_submission_notebook(notebook, assignment, student).late_submission_penalty = penalty
        for notebook, comments in result.get("comments", {}).items():  # the notes, as plain nbgrader keeps them
            for name, text in comments.items():
                gradebook.find_comment(name, notebook, assignment, student).auto_comment = text
        for notebook in result.get("flagged", []):  # set, never cleared: a grader may have flagged it
            gradebook.find_submission_notebook(notebook, assignment, student).flagged = True
        gradebook.db.commit()


def _utc_naive(moment):
    """A datetime as naive UTC, the way nbgrader's gradebook stores it, so two can be compared."""
    if moment is not None and moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def submitted_timestamp(course, student, assignment=ASSIGNMENT):
    """The time in ``submitted/<student>/<assignment>/timestamp.txt`` (written by ``nbgrader collect``), or None."""
    from nbgrader.utils import parse_utc

    path = Path(course) / "submitted" / student / assignment / "timestamp.txt"
    try:
        return _utc_naive(parse_utc(path.read_text().strip()))
    except (OSError, ValueError, OverflowError):
        return None  # no file, or one nbgrader cannot read either: nbgrader then keeps the gradebook's time


def is_graded(course, student, assignment=ASSIGNMENT, gradebook=None):
    """Whether the student's current submission is in the gradebook with every grade set, and its files in place.

    "Current": when the submission has a ``timestamp.txt`` (a re-collected,
    newer submission), the gradebook must hold that same time; without one,
    nbgrader cannot tell a resubmission apart, and ``--force`` grades again. ``gradebook``: as merge_result's.
    """
    from nbgrader.api import MissingEntry

    course = Path(course)
    if not (course / "autograded" / student / assignment).is_dir():
        return False
    with contextlib.nullcontext(gradebook) if gradebook is not None else _gradebook(course / "gradebook.db") \
            as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return False
        submitted = submitted_timestamp(course, student, assignment)
        if submitted is not None and _utc_naive(submission.timestamp) != submitted:
            return False  # graded, but an earlier submission
        return bool(submission.notebooks) and all(
            grade.auto_score is not None or grade.manual_score is not None
            for notebook in submission.notebooks for grade in notebook.grades
        )


def autograde_class(course, assignment=ASSIGNMENT, *, jobs=None, scheduler=None, force=False, progress=True,
                    only=None):
    """Autograde every submitted student in parallel; return {"graded": [...], "skipped": [...], "failed": {...}, "notes": {...}}.

    ``only``: regrade just these students (graded again even if graded already).
    """
    from tqdm import tqdm

    course = Path(course).resolve()  # on the driver: a worker's own folder is not this one (issue 29)
    students = submitted_students(course, assignment)
    if only is not None:
        unknown = sorted(set(only) - set(students))
        if unknown:
            raise ValueError(f"no submission in {course / 'submitted'}/<student>/{assignment}/ for {', '.join(unknown)}")
        students, force = [student for student in students if student in set(only)], True
    with _gradebook(course / "gradebook.db") as gradebook:
        todo = [student for student in students if force or not is_graded(course, student, assignment, gradebook)]
    report = {"graded": [], "skipped": [s for s in students if s not in todo], "failed": {}, "notes": {}, "seconds": 0.0}
    ledger = workunit.Ledger(_held_submissions(course, assignment))
    # A submission older than the one the gradebook holds would be graded, then refused (below): not sent at all.
    for student in todo:
        moment = workunit.submitted_time(course, student, assignment)
        if ledger.admit((student, assignment, moment, None)) == "stale":
            report["failed"][student] = _stale_note(ledger, student, assignment, moment)
    todo = [student for student in todo if student not in report["failed"]]
    started = time.monotonic()
    remove_stale_scratch()  # what a run killed with SIGKILL left behind
    bar = tqdm(total=len(todo), desc=f"autograding {assignment}", unit="student", disable=not progress)
    with stop_on_signals(), _gradebook(course / "gradebook.db") as gradebook:
        results = _results(course, todo, assignment, jobs, scheduler)
        try:
            for key, result in results:
                student = result["student"]
                verdict = ledger.admit(key) if not result["error"] else None
                if verdict is None:
                    report["failed"][student] = result["error"]
                elif verdict == "write":
                    merge_result(course, result, gradebook)
                    ledger.written(key)
                    report["graded"].append(student)
                elif verdict == "stale":  # written nowhere: the gradebook's newer submission stays
                    report["failed"][student] = _stale_note(ledger, student, assignment, key[2])
                if result["notes"] and verdict != "duplicate":
                    report["notes"][student] = result["notes"]
                bar.update(verdict != "duplicate")
        finally:
            results.close()  # on a stop: the children are gone; wait for the threads, start no more
            bar.close()
    remove_stale_scratch()  # a lost worker's, on this machine, where no later unit of work ran to remove it
    report["seconds"] = time.monotonic() - started
    report.update(write_reports(course, assignment))
    return report


def _stale_note(ledger, student, assignment, moment):
    return (f"not written: the gradebook holds a newer submission ({ledger.held[(student, assignment)][0]}) than "
            f"submitted/{student}/{assignment}/timestamp.txt ({moment})")


def write_reports(course, assignment=ASSIGNMENT):
    """Write the class report and the LMS files into ``<course>/reports/``: {"report", "export" (the detail),
    "canvas", "moodle": their paths, "lms_warnings": a line per student the LMS files cannot place}."""
    from mnist_lessons.grading.export import lms_warnings, write_lms_files
    from mnist_lessons.grading.report import write_class_report

    with _gradebook(Path(course) / "gradebook.db") as gradebook:
        page = write_class_report(course, assignment, gradebook)
        files = write_lms_files(gradebook, page.parent, [assignment], detail_name="grades-lms.csv")
        warnings = lms_warnings(gradebook, [assignment])
    return {"report": page, "export": files["detail"], "canvas": files["canvas"], "moodle": files["moodle"],
            "lms_warnings": warnings}


def _held_submissions(course, assignment):
    """{(student, assignment): (time as naive UTC ISO or None, None)}: what the gradebook holds, seeding the Ledger."""
    from nbgrader.api import Assignment, Student, SubmittedAssignment

    with _gradebook(Path(course) / "gradebook.db") as gradebook:
        rows = (gradebook.db.query(Student.id, SubmittedAssignment.timestamp)
                .join(SubmittedAssignment.student).join(SubmittedAssignment.assignment)
                .filter(Assignment.name == assignment).all())
    return {(student, assignment): (moment.isoformat() if moment else None, None) for student, moment in rows}


def _results(course, students, assignment, jobs, scheduler):
    """Grade ``students``, yielding (key, result) as each is ready: on a Dask cluster, or in the driver's threads.

    The course is packed once; each submission is packed as it is sent, and only a window of them is in flight,
    so that the driver holds what it must write and no more, whatever the size of the class.
    """
    if not students:
        return
    bundle = workunit.pack_course(course, assignment)
    units = _units(course, students, assignment, workunit.release_names(course, assignment))
    if scheduler is not None:
        yield from _results_on_dask(bundle, units, scheduler)
        return
    jobs = min(jobs or os.cpu_count() or 1, len(students))
    # Threads, not processes: each unit's work is an nbgrader child process, and forking a
    # process that has imported JAX or TensorFlow (as a test run or a notebook has) can deadlock.
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    running = {}
    try:
        for key, unit in units:
            if isinstance(unit, dict):  # a submission that could not be read
                yield key, unit
                continue
            running[pool.submit(grade_student, bundle, unit)] = key
            while len(running) >= jobs:
                done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    yield running.pop(future), future.result()
        for future in concurrent.futures.as_completed(list(running)):
            yield running.pop(future), future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _units(course, students, assignment, names):
    """(key, workunit.Submission) per student, packed as it is asked for; (None, an error result) where the
    submission cannot be read on the driver."""
    for student in students:
        try:
            submission = workunit.pack_submission(course, student, assignment, names)
        except OSError as err:
            yield None, {"student": student, "assignment": assignment, "notes": [], "grades": {}, "files": {},
                         "timestamp": None, "seconds": 0.0,
                         "error": f"submitted/{student}/{assignment}/ could not be read ({err})"}
            continue
        yield submission.key, submission


def _results_on_dask(bundle, units, scheduler):
    """``_results`` on a Dask cluster: the course sent to each worker once, each submission a task."""
    try:
        import dask
        from dask.distributed import Client, as_completed
    except ImportError:
        raise RuntimeError("--scheduler needs Dask's distributed scheduler: pip install 'dask[distributed]'") from None
    own = not isinstance(scheduler, Client)
    try:
        with dask.config.set({"distributed.admin.low-level-log-length": CLIENT_LOG_LENGTH}):
            client = Client(scheduler) if own else scheduler
    except (OSError, ValueError) as err:  # TimeoutError is an OSError
        raise RuntimeError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({err})") from None
    try:
        # The course as a task's result, not scattered data: Dask copies it once to each worker that grades, and
        # computes it again from the task (held by the scheduler) when the workers holding it are lost, where
        # scattered data lost with its last worker fails every task that needs it.
        course = client.submit(workunit.hold, bundle, key=f"mnist-lessons-course-{hashlib.sha256(bundle).hexdigest()}")
        finished, keys, ready = as_completed(), {}, []

        def fill():
            window = IN_FLIGHT_PER_THREAD * max(1, sum(client.nthreads().values()))
            while finished.count() < window:
                key, unit = next(units, (None, None))
                if unit is None:
                    return
                if isinstance(unit, dict):
                    ready.append((key, unit))
                    continue
                future = client.submit(grade_student, course, unit, pure=False)
                keys[future] = key
                finished.add(future)

        fill()
        while ready or finished.count():
            while ready:
                yield ready.pop()
            if not finished.count():
                break
            future = next(finished)
            key = keys.pop(future)
            try:
                result = future.result()
            except Exception as err:  # noqa: BLE001 -- KilledWorker (a poison submission) or a lost cluster
                result = workunit.lost_result(key, err)
            future.release()
            yield key, result
            fill()
    finally:
        if own:
            client.close()


def class_summary(course, assignment=ASSIGNMENT):
    """A text summary of the class: each score's distribution and the exercises most students missed.

    Scores are after late penalties, as in the class report and the LMS files."""
    lines = []
    with _gradebook(Path(course) / "gradebook.db") as gradebook:
        submissions = gradebook.assignment_submissions(assignment)
        if not submissions:
            return f"No graded submissions of {assignment} yet."
        maximum = submissions[0].max_score
        scores = sorted((max(0.0, submission.score - (submission.late_submission_penalty or 0.0)),
                         submission.student.id) for submission in submissions)
        missed = {}
        for submission in submissions:
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.score < grade.max_score:
                        missed.setdefault((notebook.name, grade.name), []).append(submission.student.id)
    values = [score for score, _ in scores]
    lines.append(f"{len(values)} students graded on {assignment}: mean {statistics.mean(values):.1f} of "
                 f"{maximum:g}, median {statistics.median(values):g}, lowest {values[0]:g}, highest {values[-1]:g}")
    bins = 5
    width = maximum / bins if maximum else 1
    for index in range(bins):
        low, high = index * width, (index + 1) * width
        count = sum(low <= value < high or (index == bins - 1 and value == high) for value in values)
        lines.append(f"  {low:5.1f} - {high:5.1f} | {'#' * count} {count}")
    if missed:
        lines.append("Exercises most often missed:")
        for (notebook, name), who in sorted(missed.items(), key=lambda item: (-len(item[1]), item[0]))[:5]:
            lines.append(f"  {name.removeprefix('check_')} ({notebook}): {len(who)} of {len(values)} students")
    return "\n".join(lines)
