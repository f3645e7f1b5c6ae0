"""`pytest autograder/`: grades the lesson notebooks of a submission, one test per graded function.

    pytest autograder/                               # every lesson in course/mnist
    pytest autograder/test_02_preprocess.py          # one lesson
    pytest autograder/ --submission ~/my-work        # another folder holding the same notebook files
    pytest autograder/ --grades-json grades.json     # the same results as data, for instructors

The notebooks are read as data and run in a sandboxed child process
(mnist_lessons/grading/engine.py says how and why); this process never imports the
submission's code, so nothing in the submission's folder (a conftest.py, a
pytest.ini) takes part in the run. The lessons selected run side by side,
once per session; each test then reports its function's verdict.
"""

import json
from pathlib import Path

import pytest

from mnist_lessons.grading import engine
from mnist_lessons.exercises import LESSONS

HERE = Path(__file__).resolve().parents[1]  # a clone of the repository, or a learner's copy of the course
# The lessons beside these tests: course/mnist/ in a clone, mnist/ in the copy `mnist-lessons lab` hands out.
DEFAULT_SUBMISSION = next((folder for folder in (HERE / "course" / "mnist", HERE / "mnist") if folder.is_dir()),
                          HERE / "course" / "mnist")


def pytest_addoption(parser):
    group = parser.getgroup("mnist-lessons", "the course's autograder")
    group.addoption("--submission", metavar="DIR", default=str(DEFAULT_SUBMISSION),
                    help=f"folder holding the lesson notebooks to grade (default {DEFAULT_SUBMISSION})")
    group.addoption("--grades-json", metavar="FILE",
                    help="also write the grades as JSON: per lesson and function, passed, points, message; the total")


def pytest_configure(config):
    folder = Path(config.getoption("--submission")).expanduser()
    if not folder.is_dir():
        raise pytest.UsageError(f"--submission {folder}: no such folder (it should hold the lesson notebooks)")
    config.stash[_FOLDER] = folder.resolve()


LESSON_COLUMN = 16  # characters of the points table's first column, at least: the lesson's name, or "total"

_FOLDER = pytest.StashKey()
_LESSONS = pytest.StashKey()
_GRADE = pytest.StashKey()


def pytest_generate_tests(metafunc):
    """One test per graded function of the module's lesson, named for it (the registry lists them)."""
    if "exercise" in metafunc.fixturenames:
        lesson = metafunc.module.LESSON
        metafunc.parametrize("exercise", LESSONS[lesson], ids=list(LESSONS[lesson]))


def pytest_collection_modifyitems(config, items):
    """Note which lessons the selected tests need, so that they are graded together."""
    config.stash[_LESSONS] = sorted({item.module.LESSON for item in items if hasattr(item.module, "LESSON")})


@pytest.fixture(scope="session")
def submission_grade(request):
    config = request.config
    try:
        grade = engine.grade_submission(config.stash[_FOLDER], config.stash.get(_LESSONS, None) or list(LESSONS))
    except engine.GradingError as err:  # the grader's fault or the machine's, never the learner's: no verdict
        pytest.exit(f"Your work could not be graded, through no fault of yours: {err}", returncode=3)
    config.stash[_GRADE] = grade
    return grade


@pytest.fixture
def verdict(request, submission_grade):
    """verdict(name): fail the test with the grader's message unless the function passed."""
    lesson = request.module.LESSON

    def check(name):
        __tracebackhide__ = True
        result = submission_grade.lessons[lesson].functions[name]
        if not result.passed:
            pytest.fail(result.message, pytrace=False)

    return check


def pytest_terminal_summary(terminalreporter, config):
    grade = config.stash.get(_GRADE, None)
    if grade is None:
        return
    write = terminalreporter.write_line
    terminalreporter.section("points per lesson")
    width = max([LESSON_COLUMN, *map(len, grade.lessons)])  # 07_draw_your_digit is longer than the others
    for lesson, result in grade.lessons.items():
        write(f"{lesson:{width}s} {result.points:4g} / {result.max_points:g}")
        for note in result.notes:
            write(f"{'':{width}s} note: {note}")
    write(f"{'total':{width}s} {grade.points:4g} / {grade.max_points:g}   ({grade.folder})")
    path = config.getoption("--grades-json")
    if path:
        Path(path).write_text(json.dumps(grade.as_dict(), indent=2) + "\n")
        write(f"grades written to {path}")
