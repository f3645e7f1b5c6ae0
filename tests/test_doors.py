"""One grader behind every door: the corpus (tests/corpus.py) graded once per session through each, verdict by verdict.

Doors: the engine as ``pytest autograder/`` calls it, plain ``nbgrader
autograde``, ``mnist-lessons autograde-class``, and, for honest work only, the
check cell run in the learner's own kernel (the honour system, which a
cheater can fool in their own notebook and nowhere else). The plain door's
course then gives what nbgrader makes of the grades: the feedback and the export.
"""

import csv
import json

import nbformat
import pytest

from mnist_lessons.grading import classgrading, engine
from mnist_lessons.grading.marksubmittedoutput import NOTE
from mnist_lessons.exercises import BY_NAME, LESSONS

import corpus


def _expected(submission):
    return corpus.expected(submission, lambda lesson: LESSONS[lesson])


@pytest.fixture(scope="session")
def submissions(tmp_path_factory):
    return corpus.build(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def pytest_door(submissions):
    """{submission: SubmissionGrade}, as `pytest autograder/` grades each."""
    return {name: engine.grade_submission(folder, corpus.LESSONS) for name, folder in submissions.items()}


def _gradebook_verdicts(course, student):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(classgrading.ASSIGNMENT, student)
        verdicts = {notebook.name: {grade.name.removeprefix("check_"): grade.auto_score == grade.max_score
                                    for grade in notebook.grades} for notebook in submission.notebooks}
    return {lesson: verdicts.get(lesson, {}) for lesson in corpus.LESSONS}


@pytest.fixture(scope="session")
def nbgrader_door(submissions, tmp_path_factory):
    """(course, {submission: verdicts}) after one plain `nbgrader autograde` of the whole corpus."""
    course = classgrading.make_course(tmp_path_factory.mktemp("plain"), corpus.LESSONS, submissions)
    classgrading.nbgrader(course, "autograde", classgrading.ASSIGNMENT, check=False)
    return course, {name: _gradebook_verdicts(course, name) for name in submissions}


@pytest.fixture(scope="session")
def class_door(submissions, tmp_path_factory):
    """(report, {submission: verdicts}) after `autograde-class` on the whole corpus."""
    course = classgrading.make_course(tmp_path_factory.mktemp("class"), corpus.LESSONS, submissions)
    report = classgrading.autograde_class(course, progress=False)
    return report, {name: _gradebook_verdicts(course, name) for name in submissions}


def _pytest_verdicts(grade):
    return {lesson: {name: verdict.passed for name, verdict in result.functions.items()}
            for lesson, result in grade.lessons.items()}


@pytest.mark.parametrize("submission", sorted(corpus.SUBMISSIONS))
def test_pytest_door_gives_each_expected_verdict(pytest_door, submission):
    """Does the engine, as `pytest autograder/` calls it, pass and fail exactly what the corpus expects?"""
    assert _pytest_verdicts(pytest_door[submission]) == _expected(submission)


@pytest.mark.parametrize("submission", sorted(corpus.SUBMISSIONS))
def test_plain_nbgrader_gives_the_same_verdicts(nbgrader_door, pytest_door, submission):
    """Does plain `nbgrader autograde` record, check cell by check cell, the verdicts the pytest door gives?"""
    _, verdicts = nbgrader_door
    assert verdicts[submission] == _pytest_verdicts(pytest_door[submission]) == _expected(submission)


@pytest.mark.parametrize("submission", sorted(corpus.SUBMISSIONS))
def test_autograde_class_gives_the_same_verdicts(class_door, pytest_door, submission):
    """Does `autograde-class` record the verdicts the pytest door gives, never failing a student?"""
    report, verdicts = class_door
    assert report["failed"] == {}
    assert verdicts[submission] == _pytest_verdicts(pytest_door[submission]) == _expected(submission)


def test_messages_are_the_same_in_pytest_and_nbgrader(nbgrader_door, pytest_door):
    """Does each failing check cell in nbgrader's autograded notebook carry the pytest door's own message?"""
    course, _ = nbgrader_door
    for submission, grade in pytest_door.items():
        for lesson, result in grade.lessons.items():
            path = course / "autograded" / submission / classgrading.ASSIGNMENT / f"{lesson}.ipynb"
            cells = {cell["metadata"].get("nbgrader", {}).get("grade_id"): cell
                     for cell in json.loads(path.read_text())["cells"]}
            for name, verdict in result.functions.items():
                outputs = cells[BY_NAME[name].check_id]["outputs"]
                errors = [output["evalue"] for output in outputs if output["output_type"] == "error"]
                assert errors == ([] if verdict.passed else [verdict.message]), (submission, name)


def test_autograded_notebook_keeps_the_learners_output(nbgrader_door):
    """Does the autograded notebook show what the learner's own run of their cells printed and drew (the %%time
    line, the plots), said to be theirs, not the grader's?"""
    course, _ = nbgrader_door
    folder = course / "autograded" / "right-in-other-forms" / classgrading.ASSIGNMENT
    cells = nbformat.read(folder / "01_load_data.ipynb", as_version=4).cells
    load_data = next(cell for cell in cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "load_data")
    assert "Wall time" in "".join(output.get("text", "") for output in load_data.outputs)
    assert any("image/png" in output.get("data", {}) for cell in cells for output in cell.get("outputs", []))
    assert cells[0].source == NOTE, cells[0].source


def test_nbgrader_export_and_no_manual_grading(nbgrader_door):
    """Does `nbgrader export` write each submission's total (the points of what it passed, out of the corpus's), with
    nothing left waiting for manual grading?"""
    from nbgrader.api import Gradebook

    course, _ = nbgrader_door
    classgrading.nbgrader(course, "export", "--to", str(course / "grades.csv"))
    with open(course / "grades.csv", newline="") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file)}
    assert sorted(rows) == sorted(corpus.SUBMISSIONS)
    maximum = sum(BY_NAME[name].points for lesson in corpus.LESSONS for name in LESSONS[lesson])
    for submission, row in rows.items():
        earned = sum(BY_NAME[name].points for verdicts in _expected(submission).values()
                     for name, passed in verdicts.items() if passed)
        assert (float(row["score"]), float(row["max_score"]), row["assignment"]) == \
            (earned, maximum, classgrading.ASSIGNMENT), submission
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert [gradebook.find_submission(classgrading.ASSIGNMENT, submission).needs_manual_grade
                for submission in sorted(rows)] == [False] * len(rows)


def test_feedback_shows_plots_and_hides_hidden_tests(nbgrader_door):
    """Does the feedback `nbgrader generate_feedback` writes show the learner's plots and failures, and none of the
    hidden tests' code?"""
    course, _ = nbgrader_door
    classgrading.nbgrader(course, "generate_feedback", classgrading.ASSIGNMENT, "--student", "wrong")
    folder = course / "feedback" / "wrong" / classgrading.ASSIGNMENT
    pages = {lesson: (folder / f"{lesson}.html").read_text() for lesson in corpus.LESSONS}
    assert pages["01_load_data"].count("data:image/png;base64") >= 3  # the digits, one image, the class counts
    for page in pages.values():
        assert "HIDDEN TESTS" not in page and "hidden=True" not in page
    assert "Called preprocess_images(" in pages["02_preprocess"]  # the failure the learner needs to see


def _notes(grade_or_notes):
    return " ".join(grade_or_notes)


def test_the_answers_reached_from_a_notebook_are_not_there(pytest_door):
    """Does each route the cheater took to the course's answers end in a function that is not there, saying so?"""
    lessons = pytest_door["cheater"].lessons
    for lesson, name in (("01_load_data", "load_data"), ("01_load_data", "describe_dataset"),
                         ("06_evaluate", "confusion_matrix")):
        assert "is not defined as a function" in lessons[lesson].functions[name].message, name
    assert "not available while your work is graded" in lessons["03_build_model"].functions["build_model"].message


def test_exit_costs_one_function(pytest_door):
    """Does os._exit inside build_model cost build_model alone, with the reason, the rest of the student graded?"""
    grade = pytest_door["broken"]
    assert "os._exit" in grade.lessons["03_build_model"].functions["build_model"].message
    assert grade.lessons["06_evaluate"].points == grade.lessons["06_evaluate"].max_points


def test_repairs_are_the_same_notes_in_every_door(pytest_door, class_door):
    """Are a deleted check cell, an edited locked cell and an unreadable notebook noted alike by pytest and autograde-class?"""
    pytest_notes = _notes(pytest_door["broken"].lessons["02_preprocess"].notes)
    assert "'check_one_hot_labels' (a locked cell) had been deleted" in pytest_notes
    assert "'check_preprocess_images' had been edited" in pytest_notes
    assert "not valid JSON" in _notes(pytest_door["broken"].lessons["01_load_data"].notes)
    report, _ = class_door
    class_notes = _notes(report["notes"]["broken"])
    for words in ("'check_one_hot_labels' (a locked cell) had been deleted", "'check_preprocess_images' had been edited",
                  "01_load_data.ipynb could not be read as a notebook (it is not valid JSON"):
        assert words in class_notes


@pytest.mark.parametrize("submission", corpus.HONEST)
def test_the_check_cell_agrees_on_honest_work(submissions, submission, tmp_path):
    """In the learner's own kernel, does each check cell pass or fail as the grader decides, for honest work?"""
    from nbclient import NotebookClient

    for lesson in corpus.LESSONS:
        notebook = nbformat.read(submissions[submission] / f"{lesson}.ipynb", as_version=4)
        NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        verdicts = {}
        for cell in notebook.cells:
            key = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            if key.removeprefix("check_") in LESSONS[lesson] and key.startswith("check_"):
                errors = [output for output in cell.outputs if output.output_type == "error"]
                verdicts[key.removeprefix("check_")] = not errors
                for error in errors:  # the verdict alone, as a learner reads it: no traceback through checks.py
                    assert error.ename == "CheckFailed" and len(error.traceback) <= 8, error.traceback
                    assert error.traceback[1].startswith("Called ") and "checks.py" not in "".join(error.traceback)
        assert verdicts == _expected(submission)[lesson], lesson


def test_lessons_outside_the_corpus_earn_every_point_through_nbgrader():
    """Do the lessons the corpus leaves out for speed (04, 05, 07 and 08, whose demonstrations train), completed as in
    solutions/, earn every point through the real `nbgrader autograde`, every cell running in the engine?"""
    rest = [lesson for lesson in LESSONS if lesson not in corpus.LESSONS]
    assert rest, "the corpus covers every lesson: this test has nothing left to grade"
    assert classgrading.autograde_reference_submission(rest)
