"""Feedback a student can read, from a real graded submission: lessons run in a kernel as a learner runs them,
graded by nbgrader with hints off, and ``nbgrader generate_feedback``'s pages decoded picture by picture."""

import base64
import re

import nbformat
import pytest

from mnist_lessons.coursefiles import solutions_dir
from mnist_lessons.grading import classgrading

RUN = ("01_load_data", "02_preprocess")  # lessons whose cells draw the package's own figures (ml.plot_*)
LESSONS = (*RUN, "03_build_model")  # 03 is not handed in
GRADED_CLASS = """
c.ClearHints.enabled = True
from mnist_lessons.grading.feedbackpage import AddGradesSummary
c.GenerateFeedback.preprocessors = [*c.GenerateFeedback.preprocessors, AddGradesSummary]
"""
IMAGE = re.compile(r"""data:image/(png|jpeg);base64,([^"'\s)]*)""")
SIGNATURES = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff"}


def broken_images(page):
    """The data: images of an HTML page that are not base64 of the PNG or JPEG they say they are."""
    broken = []
    for kind, data in IMAGE.findall(page):
        try:
            ok = base64.b64decode(data, validate=True).startswith(SIGNATURES[kind])
        except ValueError:
            ok = False
        if not ok:
            broken.append(data[:40])
    return broken


def test_broken_images_are_found():
    """Does the check find an image embedded as Python's repr of its bytes, as the issue saw, and pass a real one?"""
    good = base64.b64encode(SIGNATURES["png"] + b"rest").decode()
    assert broken_images(f"<img src='data:image/png;base64,{good}'>") == []
    assert len(broken_images("<img src=\"data:image/png;base64,b'\\x89PNG\\r\\n'\">")) == 1
    assert broken_images(f"<img src='data:image/jpeg;base64,{good}'>") == [good[:40]]


@pytest.fixture(scope="module")
def feedback(tmp_path_factory):
    """{lesson: its feedback page} of a student who ran lessons 01 and 02 in a kernel and handed in those two."""
    from nbclient import NotebookClient

    root = tmp_path_factory.mktemp("feedback")
    ran = root / "ran"
    ran.mkdir()
    for lesson in RUN:
        notebook = nbformat.read(solutions_dir() / f"{lesson}.ipynb", as_version=4)
        NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(ran)}}).execute(env={"MNIST_LESSONS_DATA": "sample"})
        nbformat.write(notebook, ran / f"{lesson}.ipynb")
    course = classgrading.make_course(root / "course", LESSONS, {"ada": ran})
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(GRADED_CLASS)
    classgrading.nbgrader(course, "generate_assignment", classgrading.ASSIGNMENT, "--force")
    classgrading.nbgrader(course, "autograde", classgrading.ASSIGNMENT)
    classgrading.nbgrader(course, "generate_feedback", classgrading.ASSIGNMENT)
    folder = course / "feedback" / "ada" / classgrading.ASSIGNMENT
    return {path.stem: path.read_text(encoding="utf-8") for path in folder.glob("*.html")}


def test_every_plot_renders(feedback):
    """Is every picture of the learner's own run (the package's figures) a real PNG or JPEG in the feedback?"""
    assert sorted(feedback) == list(RUN)
    assert len(IMAGE.findall(feedback["01_load_data"])) >= 3  # the digits, one image, the class counts
    for lesson, page in feedback.items():
        assert broken_images(page) == [], lesson


def test_no_hint_or_solution_cells_with_hints_off(feedback):
    """With ClearHints on, does graded feedback have no "Stuck?" cell and offer no hint or solution?"""
    for lesson, page in feedback.items():
        for words in ("Stuck?", "checks.hint(", "checks.solution("):
            assert words not in page, (lesson, words)


def test_each_page_opens_on_the_whole_assignment(feedback):
    """Does each page open on the student's grades: every lesson, links to the other pages, 03 said not handed in?"""
    for lesson, page in feedback.items():
        summary = page[page.index("Your grades in mnist"):]
        other = next(name for name in RUN if name != lesson)
        assert f'<a href="{other}.html">{other}</a>' in summary and "(this page)" in summary
        assert "<strong>03_build_model</strong>: not handed in" in summary
        assert summary.index("Your grades") < summary.index("03_build_model")
