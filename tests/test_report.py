"""The class report (grading/report.py), on a gradebook built with nbgrader's API in milliseconds (tests/gradebooks.py)."""

import json
import os

import pytest
from nbgrader.api import Gradebook

from gradebooks import build_gradebook
from mnist_lessons.grading.preprocessors import missing_note, store_notes
from mnist_lessons.grading.report import (NOT_SUBMITTED, class_report, read_hints_seen, read_verdicts, render_html, verdict_category,
                                          write_class_report)

STUB = "describe_dataset is not written yet: it raised NotImplementedError('Exercise not done yet: replace this line')."
TIMEOUT = ("Running the cell where you write load_data took longer than 60 s (a loop that never ends?), so "
           "load_data earns nothing.")
RAISED = "Called preprocess_images(images). It raised ValueError: cannot reshape"
WRONG = "Called one_hot_labels(labels). The function returned an array of shape (3,), but the check expected (3, 10)."
VERDICTS = {  # what the engine said of each failed exercise; passed ones are None
    "ada": {"01_load_data": {"load_data": None, "describe_dataset": STUB},
            "02_preprocess": {"preprocess_images": RAISED, "one_hot_labels": None}},
    "bob": {"01_load_data": {"load_data": None, "describe_dataset": None},
            "02_preprocess": {"preprocess_images": None, "one_hot_labels": WRONG}},
    "cyd": {"01_load_data": {"load_data": TIMEOUT, "describe_dataset": None}},  # 02 was not submitted
}


@pytest.mark.parametrize("message, category", [
    (STUB, "not attempted"), (TIMEOUT, "timeout"), (RAISED, "error"), (WRONG, "wrong"),
    ("02_preprocess.ipynb could not be read as a notebook (it is not valid JSON): it was graded as the untouched "
     "release, which earns no points.", "no notebook"),
    ("one_hot_labels could not be graded: the grading process used more than 6 GiB of memory.", "error"),
    ("Grading train_model took longer than the 240 s a whole notebook may take, so it earns nothing.", "timeout"),
])
def test_verdict_category(message, category):
    """Is each of the engine's messages counted in the category its words say?"""
    assert verdict_category(message) == category


@pytest.fixture
def gradebook(tmp_path):
    with Gradebook(build_gradebook(tmp_path / "gradebook.db")) as gradebook:
        for name, lesson in (("describe_dataset", "01_load_data"), ("preprocess_images", "02_preprocess")):
            gradebook.find_grade(f"check_{name}", lesson, "mnist", "ada").auto_score = 0  # ada: a stub, a crash
        store_notes(gradebook, "mnist", "cyd", "02_preprocess", [missing_note("02_preprocess")])
        store_notes(gradebook, "mnist", "bob", "02_preprocess", ["<b>edited</b> the check_one_hot_labels cell"])
        yield gradebook


def test_counts_per_exercise(gradebook):
    """Does the report count, per exercise, passed, wrong, not attempted, error, timeout and no notebook apart?"""
    report = class_report(gradebook, "mnist", VERDICTS)
    counts = {row["exercise"]: {key: value for key, value in row.items()
                                if value and key not in ("lesson", "exercise", "failures")}
              for row in report["exercises"]}
    assert counts == {
        "load_data": {"passed": 2, "timeout": 1},
        "describe_dataset": {"passed": 2, "not attempted": 1},
        "preprocess_images": {"passed": 1, "error": 1, "no notebook": 1},
        "one_hot_labels": {"passed": 1, "wrong": 1, "no notebook": 1},
    }
    assert [row["exercise"] for row in report["exercises"]] == [
        "load_data", "describe_dataset", "preprocess_images", "one_hot_labels"]


def test_students_scores_and_notes(gradebook):
    """Does the students' table hold each score after the late penalty, the stored notes and the review flags?"""
    students = {row["student"]: row for row in class_report(gradebook, "mnist", VERDICTS)["students"]}
    assert sorted(students) == ["ada", "bob", "cyd"]  # dee never submitted
    assert (students["bob"]["score"], students["bob"]["raw_score"], students["bob"]["late_penalty"]) == (4, 6, 2)
    assert students["cyd"]["notes"] == ["02_preprocess.ipynb was missing: nothing of it could be graded."]
    assert students["cyd"]["flagged"] == ["02_preprocess"] and students["ada"]["flagged"] == []
    assert students["bob"]["notes"] == ["02_preprocess: <b>edited</b> the check_one_hot_labels cell"]


def test_html_page(gradebook, tmp_path):
    """Is the page self-contained (the plot inline), with the counts, and the notes as text, never as HTML?"""
    page = render_html(class_report(gradebook, "mnist", VERDICTS))
    assert page.count("data:image/png;base64,") == 1
    assert "<th>not attempted</th>" in page and "<th>timeout</th>" in page
    assert "&lt;b&gt;edited&lt;/b&gt;" in page and "<b>edited" not in page
    assert "flagged: 02_preprocess" in page


def test_written_beside_the_gradebook_from_autograded_notebooks(gradebook, tmp_path):
    """Does write_class_report read the verdicts the autograded notebooks keep, and write reports/class-report.html?"""
    folder = tmp_path / "autograded" / "cyd" / "mnist"
    folder.mkdir(parents=True)
    verdicts = {"load_data": {"passed": False, "message": TIMEOUT}, "describe_dataset": {"passed": True, "message": ""}}
    (folder / "01_load_data.ipynb").write_text(json.dumps({"cells": [], "metadata": {"mnist_lessons": {
        "verdicts": verdicts}}}))
    assert read_verdicts(tmp_path, "mnist") == {"cyd": {"01_load_data": {"load_data": TIMEOUT,
                                                                          "describe_dataset": None}}}
    path = write_class_report(tmp_path, "mnist", gradebook)
    assert path == tmp_path / "reports" / "class-report.html" and "Class report: mnist" in path.read_text()


def test_hints_seen_from_the_submissions(gradebook, tmp_path):
    """Does the report show the hints each student saw, read from their submission as data (a FIFO never waits)?"""
    for student, content in {"ada": {"hints_seen": {"one_hot_labels": 3, "preprocess_images": 1}},
                             "bob": {"hints_seen": {"not_an_exercise": 2, "load_data": "many"}}}.items():
        folder = tmp_path / "submitted" / student / "mnist"
        folder.mkdir(parents=True)
        (folder / ".mnist-lessons-hints.json").write_text(json.dumps(content))
    cyd = tmp_path / "submitted" / "cyd" / "mnist"
    cyd.mkdir(parents=True)
    os.mkfifo(cyd / ".mnist-lessons-hints.json")
    seen = read_hints_seen(tmp_path, "mnist")
    assert seen == {"ada": {"one_hot_labels": 3, "preprocess_images": 1}}
    students = {row["student"]: row for row in class_report(gradebook, "mnist", VERDICTS, seen)["students"]}
    assert list(students["ada"]["hints_seen"].items()) == [("preprocess_images", 1), ("one_hot_labels", 3)]
    assert students["bob"]["hints_seen"] == {}
    page = render_html(class_report(gradebook, "mnist", VERDICTS, seen))
    assert "<th>hints seen</th>" in page and "preprocess_images: 1, one_hot_labels: the solution" in page


def test_failures_grouped_by_message(gradebook):
    """Does each exercise say who failed it with which message, the most common message first, a lesson not handed
    in said so?"""
    report = class_report(gradebook, "mnist", VERDICTS)
    failures = {row["exercise"]: row["failures"] for row in report["exercises"]}
    assert failures["load_data"] == [{"message": TIMEOUT, "students": ["cyd"]}]
    assert failures["one_hot_labels"] == [{"message": WRONG, "students": ["bob"]},  # as many: in the message's order
                                          {"message": NOT_SUBMITTED, "students": ["cyd"]}]
    assert failures["describe_dataset"] == [{"message": STUB, "students": ["ada"]}]


def test_lessons_and_lateness_per_student(gradebook):
    """Does each student's row hold each lesson's score, a lesson not handed in said so, and how late they were?"""
    students = {row["student"]: row for row in class_report(gradebook, "mnist", VERDICTS)["students"]}
    assert students["bob"]["lessons"]["02_preprocess"] == {"score": 2, "max_score": 4, "submitted": True}
    assert students["cyd"]["lessons"]["02_preprocess"]["submitted"] is False
    assert students["bob"]["seconds_late"] == 3 * 3600 and students["ada"]["seconds_late"] == 0
    page = render_html(class_report(gradebook, "mnist", VERDICTS, feedback={"bob": ["02_preprocess", "01_load_data"]}))
    assert "<th>01_load_data</th>" in page and "not submitted" in page and "3 h 0 min" in page
    assert "href='../feedback/bob/mnist/01_load_data.html'" in page


def test_page_is_inert_whatever_the_learner_wrote(gradebook):
    """Is everything learner-derived (messages, copied code, names) escaped, with no script and a policy that runs
    none?"""
    evil = "<script>alert(1)</script>"
    verdicts = {**VERDICTS, "bob": {"01_load_data": {"load_data": None, "describe_dataset": None},
                                    "02_preprocess": {"preprocess_images": None, "one_hot_labels": evil}}}
    flags = [{"exercise": "one_hot_labels", "lesson": "02_preprocess", "compared": 2, "groups": [["ada", "bob"]],
              "pairs": [{"students": ("ada", "bob"), "similarity": 0.9, "code": (evil, evil + "x"),
                         "marks": ([(0, 8)], [(8, 20)])}],
              "solution": [{"student": "bob", "similarity": 1.0, "code": evil, "marks": [(2, 5)],
                            "solution": "def one_hot_labels(): ...", "solution_marks": []}]}]
    page = render_html(class_report(gradebook, "mnist", verdicts, similarity=flags))
    assert "<script" not in page and "</script" not in page and page.count("alert(1)") == 4
    assert "default-src 'none'" in page
    assert "<mark>&lt;script&gt;</mark>" in page  # the copied slice marked inside the escaped code


def test_copying_flags_in_the_page(gradebook):
    """Are the flagged pairs and the matches with the course's answer shown side by side, with the groups?"""
    flags = [{"exercise": "describe_dataset", "lesson": "01_load_data", "compared": 3, "groups": [["ada", "bob"]],
              "pairs": [{"students": ("ada", "bob"), "similarity": 0.95, "code": ("a = 1", "b = 1"),
                         "marks": ([], [])}], "solution": []}]
    page = render_html(class_report(gradebook, "mnist", VERDICTS, similarity=flags))
    assert "describe_dataset (01_load_data)" in page and "95%" in page
    assert "<td><pre>a = 1</pre></td><td><pre>b = 1</pre></td>" in page
    assert "None.</p>" in render_html(class_report(gradebook, "mnist", VERDICTS))


def test_terminal_summary_uses_scores_after_late_penalties(gradebook, tmp_path):
    """Does the terminal summary give the scores the report gives, after late penalties (bob: 6 less 2; ada lost 4)?"""
    from mnist_lessons.grading.classgrading import class_summary

    report = class_report(gradebook, "mnist", VERDICTS)
    assert sorted(row["score"] for row in report["students"]) == [2, 4, 4]
    assert class_summary(tmp_path, "mnist").splitlines()[0] == (
        f"3 students graded on mnist: mean {report['mean']:.1f} of 8, median {report['median']:g}, lowest 2, highest 4")
