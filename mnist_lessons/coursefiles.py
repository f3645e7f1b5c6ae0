"""Where the course's own files are: the lessons, the autograder's tests, the nbgrader source (every lesson).

Two ways to have the course, and where each keeps its files:

- a clone of the repository (``pip install -e .``): ``course/mnist/`` (the
  student copy), ``autograder/``, ``solutions/mnist/`` (nbgrader's source) and
  ``nbgrader_config.py`` at its top level;
- an installed wheel (``pip install .``): the student copy and the
  autograder's tests inside the package, as ``mnist_lessons/course/`` and
  ``mnist_lessons/autograder/`` (pyproject.toml maps them there); no
  solutions, which only an instructor's clone needs.

``hand_out`` copies the lessons and the autograder's tests into a learner's
own folder, as a course is handed out, so that the learner's work is never in
the installed package.
"""

import shutil
from pathlib import Path

ASSIGNMENT = "mnist"  # the lessons are the notebooks of one nbgrader assignment
PACKAGE = Path(__file__).resolve().parent
CLONE = PACKAGE.parent  # the repository's root, when the package is used from a clone
FIRST_LESSON = Path(ASSIGNMENT) / "01_load_data.ipynb"  # where a learner starts, inside a course folder


class CourseFilesMissing(RuntimeError):
    """A file of the course is in neither a clone nor the installed package."""


def _first_existing(*folders):
    for folder in folders:
        if folder.is_dir():
            return folder
    raise CourseFilesMissing(
        f"none of {', '.join(str(folder) for folder in folders)} exists: reinstall mnist-lessons"
    )


def lessons_dir():
    """The released lesson notebooks, as a learner first gets them."""
    return _first_existing(CLONE / "course" / ASSIGNMENT, PACKAGE / "course")


def autograder_dir():
    """The autograder's pytest files (``pytest autograder/``)."""
    return _first_existing(CLONE / "autograder", PACKAGE / "autograder")


def grading_release_dir():
    """The notebooks whose set-up cells and points the grader uses: ones no learner edits.

    In a clone, learners may work in ``course/`` itself, so the grader reads
    ``solutions/`` (nbgrader's source, whose set-up cells and points are the
    release's); in a wheel, the package's own, read-only copy of the release.
    """
    return _first_existing(CLONE / "solutions" / ASSIGNMENT, PACKAGE / "course")


def solutions_dir():
    """nbgrader's source notebooks: only in a clone of the repository."""
    folder = CLONE / "solutions" / ASSIGNMENT
    if not folder.is_dir():
        raise CourseFilesMissing(f"{folder} is not there: the nbgrader source is in a clone of the repository only")
    return folder


def nbgrader_config_path():
    """The course's ``nbgrader_config.py``: only in a clone of the repository."""
    path = CLONE / "nbgrader_config.py"
    if not path.is_file():
        raise CourseFilesMissing(f"{path} is not there: the course's nbgrader settings are in a clone of the repository")
    return path


def hand_out(folder):
    """Copy the lessons and the autograder's tests into ``folder`` (``mnist/*.ipynb``, ``autograder/``).

    Nothing already there is overwritten: a learner's work is never replaced.
    Returns the paths copied.
    """
    folder = Path(folder)
    copied = []
    for source, target in ((lessons_dir(), folder / ASSIGNMENT), (autograder_dir(), folder / "autograder")):
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(source.iterdir()):
            if path.suffix in (".ipynb", ".py") and not (target / path.name).exists():
                shutil.copy2(path, target / path.name)
                copied.append(target / path.name)
    return copied
