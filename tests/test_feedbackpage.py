"""The grades summary atop each feedback page (grading/feedbackpage.py), on a gradebook built in milliseconds
(tests/gradebooks.py), rendered as nbgrader's pages render markdown (grading/safemarkdown.py)."""

import json

import pytest
from nbgrader.api import Gradebook

from gradebooks import build_gradebook
from mnist_lessons.grading.feedbackpage import markdown_text, read_lesson_verdicts, student_summary, summary_markdown
from mnist_lessons.grading.preprocessors import store_notes
from mnist_lessons.grading.safemarkdown import markdown2html

EVIL = "<img src=x onerror=alert(1)> [click](javascript:alert(1)) ![x](http://example.com/t.png) **bold** &amp;"
WRONG = "Called one_hot_labels(labels). The function returned an array of shape (3,), but the check expected (3, 10)."


def _render(markdown):
    return markdown2html({}, markdown)


@pytest.fixture
def gradebook(tmp_path):
    with Gradebook(build_gradebook(tmp_path / "gradebook.db")) as gradebook:
        store_notes(gradebook, "mnist", "bob", "02_preprocess", [EVIL])
        yield gradebook


def test_learner_words_render_as_the_same_text():
    """Does a message or note render as exactly its text: no tag, link, image or emphasis of its own?"""
    page = _render(markdown_text(EVIL))
    assert "<img" not in page and "<a " not in page and "<strong>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; [click](javascript:alert(1))" in page and "**bold** &amp;amp;" in page


def test_summary_of_every_lesson_with_links_and_the_late_penalty(gradebook):
    """Does bob's page say his total after the penalty, each lesson's score and verdicts, his notes as text, and
    link the other lesson's page but not its own?"""
    verdicts = {"01_load_data": {"load_data": None, "describe_dataset": None},
                "02_preprocess": {"preprocess_images": None, "one_hot_labels": WRONG}}
    summary = student_summary(gradebook, "mnist", "bob", verdicts)
    assert (summary["score"], summary["raw_score"], summary["late_penalty"]) == (4, 6, 2)
    page = _render(summary_markdown(summary, current="01_load_data"))
    assert "Your grades in mnist: 4 of 8" in page and "2 points off" in page
    assert "<strong>01_load_data</strong> (this page)" in page and 'href="01_load_data.html"' not in page
    assert '<strong><a href="02_preprocess.html">02_preprocess</a></strong>: 2 of 4' in page
    assert "one_hot_labels: Called one_hot_labels(labels)" in page and "load_data: passed" in page
    assert "<img" not in page and "javascript" not in page.split("note:")[0]
    assert "note: &lt;img src=x" in page


def test_a_lesson_not_handed_in_or_unreadable_is_said_so(gradebook):
    """Is a lesson with no autograded notebook said to be not handed in, with no link, and an unreadable one said so?"""
    unreadable = "01_load_data.ipynb could not be read as a notebook (it is not valid JSON): graded as the release."
    summary = student_summary(gradebook, "mnist", "cyd",
                              {"01_load_data": {"load_data": unreadable, "describe_dataset": unreadable}})
    page = _render(summary_markdown(summary, current="01_load_data"))
    assert "<strong>02_preprocess</strong>: not handed in" in page and "02_preprocess.html" not in page
    assert "the notebook could not be read" in page
    with pytest.raises(ValueError, match="dee has no graded submission of mnist"):
        student_summary(gradebook, "mnist", "dee", {})


def test_verdicts_read_from_the_autograded_notebooks(tmp_path):
    """Are the verdicts read from each autograded notebook's metadata, a broken file skipped?"""
    (tmp_path / "01_load_data.ipynb").write_text(json.dumps({"cells": [], "metadata": {"mnist_lessons": {
        "verdicts": {"load_data": {"passed": True}, "describe_dataset": {"passed": False, "message": WRONG}}}}}))
    (tmp_path / "02_preprocess.ipynb").write_text("{")
    assert read_lesson_verdicts(tmp_path) == {"01_load_data": {"load_data": None, "describe_dataset": WRONG}}
