"""A learner's progress, read from their own saved lesson notebooks without running them (``mnist-lessons progress``).

Each exercise is one of:

- passed: its check cell's saved output holds the check's ✓ line;
- failed: its check cell's saved output is an error (the check's verdict, or
  an error on the way to it);
- not checked: the exercise is written, but its check has not run since;
- not attempted: its cell still holds the stub the lesson came with.

Nothing is executed and Keras is not imported: the verdicts are the ones the
learner last saw, as saved. The hints seen are read from the record
``checks.hint`` keeps beside the notebooks (``mnist_lessons.hints``).
"""

import dataclasses
from pathlib import Path

from mnist_lessons.checks import PASSED as PASSED_LINE
from mnist_lessons.coursefiles import ASSIGNMENT, CLONE
from mnist_lessons.grading import notebooks
from mnist_lessons.exercises import LESSONS
from mnist_lessons.hints import LAST_HINT, hints_off, read_hints_seen

STUB = 'raise NotImplementedError("Exercise not done yet'  # nbgrader_config.py's ClearSolutions.code_stub
DETAIL_WIDTH = 100  # characters of a failed check's message shown beside it

PASSED, FAILED, NOT_CHECKED, NOT_ATTEMPTED = "passed", "failed", "not checked", "not attempted"
MARKS = {PASSED: "✓", FAILED: "✗", NOT_CHECKED: "?", NOT_ATTEMPTED: "·"}


class ProgressError(ValueError):
    """No lessons to read where the learner pointed: the message says so in one line."""


@dataclasses.dataclass
class ExerciseProgress:
    name: str
    status: str  # one of PASSED, FAILED, NOT_CHECKED, NOT_ATTEMPTED
    detail: str = ""  # for a failure: the first words of what the check said
    hint_tier: int = 0  # the highest tier of hints seen: 0 none, 1-2 hints, 3 the solution


@dataclasses.dataclass
class LessonProgress:
    lesson: str
    path: Path
    exercises: list
    problem: str = ""  # why the notebook could not be read, or that it is missing


def find_lessons_folder(folder=None):
    """The folder holding the learner's lesson notebooks: ``folder`` (or its ``mnist/``), else the usual places."""
    if folder is not None:
        folder = Path(folder)
        if not folder.exists():
            raise ProgressError(f"{folder}: no such folder")
        if not folder.is_dir():
            raise ProgressError(f"{folder} is a file, not a folder: give the folder that holds your lesson notebooks")
        candidates = [folder, folder / ASSIGNMENT]
    else:
        candidates = [Path("."), Path(ASSIGNMENT), Path("course") / ASSIGNMENT, CLONE / "course" / ASSIGNMENT,
                      Path("mnist-course") / ASSIGNMENT]
    for candidate in candidates:
        if any((candidate / f"{lesson}.ipynb").exists() for lesson in LESSONS):
            return candidate
    where = folder if folder is not None else "here, ./mnist, ./course/mnist or ./mnist-course/mnist"
    raise ProgressError(f"no lesson notebooks (01_load_data.ipynb ...) in {where}: "
                        "give the folder that holds your lesson notebooks")


def read_progress(folder):
    """(lessons, hints seen) for the lesson notebooks in ``folder``: a LessonProgress per lesson, in course order."""
    folder = Path(folder)
    seen = read_hints_seen(folder)
    lessons = []
    for lesson, names in LESSONS.items():
        path = folder / f"{lesson}.ipynb"
        problem, notebook = "", None
        try:
            notebook = notebooks.read_notebook(path)
        except FileNotFoundError:
            problem = "missing"
        except notebooks.NotebookError as err:
            problem = f"cannot be read: {err}"
        exercises = []
        for name in names:
            status, detail = exercise_status(notebook, name) if notebook is not None else (NOT_ATTEMPTED, "")
            exercises.append(ExerciseProgress(name, status, detail, seen.get(name, 0)))
        lessons.append(LessonProgress(lesson, path, exercises, problem))
    return lessons


def exercise_status(notebook, name):
    """(status, detail) of the exercise ``name`` in a notebook read as a dict, from its saved cells alone."""
    cells = [cell for cell in notebook["cells"] if isinstance(cell, dict)]
    solutions = [cell for cell in cells if notebooks.grade_id(cell) == name]
    check = next((cell for cell in cells if notebooks.grade_id(cell) == f"check_{name}"), None)
    if not solutions or any(STUB in notebooks.source(cell) for cell in solutions):
        return NOT_ATTEMPTED, ""
    outputs = check.get("outputs") if check is not None else None
    outputs = [output for output in outputs if isinstance(output, dict)] if isinstance(outputs, list) else []
    if not outputs or _ran_after(solutions, check):
        return NOT_CHECKED, ""
    for output in outputs:
        if output.get("output_type") == "error":
            ename, evalue = str(output.get("ename", "")), str(output.get("evalue", ""))
            if ename == "NotImplementedError" and "Exercise not done yet" in evalue:
                return NOT_CHECKED, ""  # the check ran on the stub, before the exercise was written
            return FAILED, _shorten(evalue if ename in ("CheckFailed", "AssertionError") else f"{ename}: {evalue}")
    printed = "".join(_text(output.get("text")) for output in outputs if output.get("output_type") == "stream")
    if PASSED_LINE.format(name=name) in printed:
        return PASSED, ""
    return NOT_CHECKED, ""


def _ran_after(solutions, check):
    """Whether an exercise cell was run after its check (by the saved execution counts): the check is out of date."""
    counts = [cell.get("execution_count") for cell in solutions]
    check_count = check.get("execution_count")
    if not isinstance(check_count, int):
        return False
    return any(isinstance(count, int) and count > check_count for count in counts)


def _text(value):
    if isinstance(value, list):
        return "".join(part for part in value if isinstance(part, str))
    return value if isinstance(value, str) else ""


def _shorten(message):
    line = " ".join(message.split())
    return line if len(line) <= DETAIL_WIDTH else line[: DETAIL_WIDTH - 1].rstrip() + "…"


def next_step(lessons):
    """One line saying what to do next: the first exercise not passed, and which notebook to open."""
    for lesson in lessons:
        if lesson.problem == "missing":
            return (f"Next: {lesson.path} is missing: `mnist-lessons lab` copies a missing lesson back "
                    "(it never overwrites your work).")
        if lesson.problem:
            return f"Next: {lesson.path} {lesson.problem}; open it in JupyterLab, or copy the lesson again."
        for exercise in lesson.exercises:
            where = f"in {lesson.path}"
            if exercise.status == NOT_ATTEMPTED:
                return f"Next: write {exercise.name} {where}."
            if exercise.status == NOT_CHECKED:
                return f"Next: run the check cell under {exercise.name} {where}, then save."
            if exercise.status == FAILED:
                stuck = "" if hints_off(lesson.path.parent) else f' (stuck? checks.hint("{exercise.name}"))'
                return f"Next: fix {exercise.name} {where}; its check cell says what to change{stuck}."
    total = sum(len(lesson.exercises) for lesson in lessons)
    return (f"All {total} exercises pass. To check them as the grader will: "
            "python -m pytest autograder/ from your course folder.")


def format_progress(folder, lessons):
    """The progress report as text: a line per exercise under each lesson, a count, and what to do next."""
    width = max(len(exercise.name) for lesson in lessons for exercise in lesson.exercises)
    lines = [f"Your progress in {folder}, read from your saved notebooks (save them first):", ""]
    for lesson in lessons:
        lines.append(f"{lesson.path.name}" + (f": {lesson.problem}" if lesson.problem else ""))
        for exercise in lesson.exercises:
            line = f"  {MARKS[exercise.status]} {exercise.name:<{width}}  {exercise.status}"
            if exercise.detail:
                line += f": {exercise.detail}"
            if exercise.hint_tier:
                line += "  (solution seen)" if exercise.hint_tier > LAST_HINT else \
                    f"  (hint {exercise.hint_tier} of {LAST_HINT} seen)"
            lines.append(line)
    exercises = [exercise for lesson in lessons for exercise in lesson.exercises]
    passed = sum(exercise.status == PASSED for exercise in exercises)
    hinted = sum(bool(exercise.hint_tier) for exercise in exercises)
    lines += ["", f"{passed} of {len(exercises)} exercises passed; hints seen for {hinted}.", next_step(lessons)]
    return "\n".join(lines)
