"""Grading a class with nbgrader: a course directory built from this repository, and nbgrader's own commands (instructors).

The repository's root is nbgrader's course directory (``nbgrader_config.py``):
``solutions/`` is the source, ``course/`` the release, and students' work goes
to ``submitted/<student>/mnist/``. ``make_course`` builds the same layout in
another folder, for a class of one's own, the tests and the benchmark.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mnist_lessons.checks import LESSONS

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "mnist"  # the six lessons are the notebooks of one nbgrader assignment


def nbgrader(course, *args, check=True):
    """Run an ``nbgrader`` command in the course directory ``course``; return the CompletedProcess."""
    completed = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
    )
    if check and completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"nbgrader {' '.join(args)} failed in {course} (exit status {completed.returncode}):\n{tail}")
    return completed


def make_course(folder, lessons=None, submissions=None):
    """Build an nbgrader course directory in ``folder`` holding ``lessons`` (default all six) of the assignment.

    ``submissions`` maps a student id to a folder of their notebooks, copied to
    ``submitted/<student>/mnist/``. The release is generated with nbgrader
    and the students are added to the gradebook. Returns ``folder``.
    """
    folder = Path(folder)
    lessons = list(lessons or LESSONS)
    shutil.copy(REPO_ROOT / "nbgrader_config.py", folder / "nbgrader_config.py")
    source = folder / "solutions" / ASSIGNMENT
    source.mkdir(parents=True)
    for lesson in lessons:
        shutil.copy(REPO_ROOT / "solutions" / ASSIGNMENT / f"{lesson}.ipynb", source)
    nbgrader(folder, "generate_assignment", ASSIGNMENT, "--force")
    for student, notebooks in (submissions or {}).items():
        target = folder / "submitted" / student / ASSIGNMENT
        target.mkdir(parents=True)
        for lesson in lessons:
            path = Path(notebooks) / f"{lesson}.ipynb"
            if path.exists():
                shutil.copy(path, target)
        nbgrader(folder, "db", "student", "add", student)
    return folder


def submission_scores(course, student, assignment=ASSIGNMENT):
    """{notebook: (score, max_score)} of a student's graded submission, read from the course's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(course) / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(assignment, student)
        return {notebook.name: (notebook.score, notebook.max_score) for notebook in submission.notebooks}


def autograde_reference_submission(lessons=None):
    """Autograde the complete reference submission with ``nbgrader autograde``; True when it earns every point.

    This is what grading one student costs an instructor; the benchmark times it.
    """
    with tempfile.TemporaryDirectory(prefix="mnist-course-") as folder:
        course = make_course(folder, lessons, {"reference": REPO_ROOT / "solutions" / ASSIGNMENT})
        nbgrader(course, "autograde", ASSIGNMENT, "--student", "reference")
        scores = submission_scores(course, "reference")
        return bool(scores) and all(score == max_score for score, max_score in scores.values())
