"""A small class in nbgrader's gradebook, built with nbgrader's own API in milliseconds, for the export, notes and report tests.

Two lessons of the course (01: load_data 2 + describe_dataset 2; 02:
preprocess_images 2 + one_hot_labels 2, 8 points in all) and four students:

- ``ada``: everything right, an LMS id, on time;
- ``bob``: lesson 02's one_hot_labels wrong, 3 h late with a penalty of 2;
- ``cyd``: lesson 02 missing, and load_data timed out;
- ``dee``: on the roster, never submitted.
"""

import datetime
import warnings

from nbgrader.api import Gradebook

from mnist_lessons.environment import use_own_scripts

LESSONS = {"01_load_data": ["load_data", "describe_dataset"], "02_preprocess": ["preprocess_images", "one_hot_labels"]}
DUE = datetime.datetime(2027, 1, 31, 23, 59)
SCORES = {  # student -> {check id: score}, None for a lesson not submitted
    "ada": {"check_load_data": 2, "check_describe_dataset": 2, "check_preprocess_images": 2, "check_one_hot_labels": 2},
    "bob": {"check_load_data": 2, "check_describe_dataset": 2, "check_preprocess_images": 2, "check_one_hot_labels": 0},
    "cyd": {"check_load_data": 0, "check_describe_dataset": 2, "check_preprocess_images": 0, "check_one_hot_labels": 0},
}
PENALTIES = {"bob": {"02_preprocess": 2.0}}


def build_assignment(path):
    """Write the assignment above alone into a new gradebook at ``path``; return its URL.

    Its lessons, exercises and check cells, no students: what ``nbgrader generate_assignment`` leaves in a
    course's gradebook, for tests that grade a class of their own (tests/test_instructors.py).
    """
    use_own_scripts()  # nbgrader makes a new database with alembic
    url = f"sqlite:///{path}"
    with Gradebook(url) as gradebook, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's notes on nbgrader's own session handling
        gradebook.add_assignment("mnist", duedate=DUE)
        for lesson, names in LESSONS.items():
            gradebook.add_notebook(lesson, "mnist")
            for name in names:
                gradebook.add_solution_cell(name, lesson, "mnist")
                gradebook.add_grade_cell(f"check_{name}", lesson, "mnist", max_score=2, cell_type="code")
    return url


def build_gradebook(path):
    """Write the class above into a new gradebook at ``path`` (a .db file); return its URL."""
    url = build_assignment(path)
    with Gradebook(url) as gradebook, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's notes on nbgrader's own session handling
        gradebook.add_student("ada", first_name="Ada", last_name="Lovelace", lms_user_id="1001",
                              email="ada@example.org")
        gradebook.add_student("bob", first_name="Bob", last_name="Babbage", lms_user_id="1002")
        gradebook.add_student("cyd")
        gradebook.add_student("dee", lms_user_id="1004")
        for student, scores in SCORES.items():
            late = datetime.timedelta(hours=3) if student == "bob" else -datetime.timedelta(days=1)
            gradebook.add_submission("mnist", student, timestamp=DUE + late)
            for lesson, names in LESSONS.items():
                for name in names:
                    grade = gradebook.find_grade(f"check_{name}", lesson, "mnist", student)
                    grade.auto_score, grade.needs_manual_grade = scores[f"check_{name}"], False
            for lesson, penalty in PENALTIES.get(student, {}).items():
                gradebook.find_submission_notebook(lesson, "mnist", student).late_submission_penalty = penalty
        gradebook.db.commit()
    return url
