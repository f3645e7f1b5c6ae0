"""The LMS export (grading/export.py), on a gradebook built with nbgrader's API in milliseconds (tests/gradebooks.py)."""

import csv
import subprocess
import sys

from nbgrader.api import Gradebook

from gradebooks import build_gradebook
from mnist_lessons.grading.export import write_lms_csv


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        return reader.fieldnames, {row["student_id"]: row for row in reader}


def test_columns_and_values(tmp_path):
    """Does the export hold one row per student, the LMS id, the score after the late penalty, and per-lesson and per-exercise scores?"""
    with Gradebook(build_gradebook(tmp_path / "gradebook.db")) as gradebook:
        header, rows = read_rows(write_lms_csv(gradebook, tmp_path / "grades.csv"))
    assert header == [
        "Student", "ID", "student_id", "email", "mnist", "mnist late penalty", "mnist raw score", "mnist max score",
        "mnist/01_load_data", "mnist/02_preprocess",
        "mnist/01_load_data/check_load_data", "mnist/01_load_data/check_describe_dataset",
        "mnist/02_preprocess/check_preprocess_images", "mnist/02_preprocess/check_one_hot_labels",
    ]
    assert sorted(rows) == ["ada", "bob", "cyd", "dee"]
    assert rows["ada"]["Student"] == "Lovelace, Ada" and rows["ada"]["ID"] == "1001"
    assert rows["ada"]["email"] == "ada@example.org"
    assert [rows["ada"][key] for key in ("mnist", "mnist late penalty", "mnist raw score", "mnist max score")] == \
        ["8", "0", "8", "8"]
    bob = rows["bob"]
    assert [bob["mnist"], bob["mnist late penalty"], bob["mnist raw score"]] == ["4", "2", "6"]
    assert [bob["mnist/01_load_data"], bob["mnist/02_preprocess"]] == ["4", "2"]
    assert bob["mnist/02_preprocess/check_one_hot_labels"] == "0"
    assert bob["mnist/02_preprocess/check_preprocess_images"] == "2"
    assert rows["cyd"]["Student"] == "cyd" and rows["cyd"]["ID"] == ""
    assert rows["cyd"]["mnist/01_load_data/check_load_data"] == "0" and rows["cyd"]["mnist"] == "2"
    dee = rows["dee"]  # never submitted: zero, details empty
    assert [dee["ID"], dee["mnist"], dee["mnist max score"], dee["mnist/01_load_data"]] == ["1004", "0", "8", ""]


def test_text_a_spreadsheet_would_run_is_escaped(tmp_path):
    """Is a name, id or email that begins like a formula (=, +, -, @) written so that no spreadsheet runs it?"""
    url = build_gradebook(tmp_path / "gradebook.db")
    with Gradebook(url) as gradebook:
        gradebook.add_student("=HYPERLINK(\"http://x\")", first_name="+1", last_name="@SUM(A1)", email="-2+3")
        _, rows = read_rows(write_lms_csv(gradebook, tmp_path / "grades.csv"))
    row = rows["'=HYPERLINK(\"http://x\")"]
    assert row["Student"] == "'@SUM(A1), +1" and row["email"] == "'-2+3"
    assert rows["ada"]["Student"] == "Lovelace, Ada" and row["mnist"] == "0"  # plain text and numbers as they were


def test_nbgrader_export_plugin(tmp_path):
    """Does `nbgrader export --exporter=...LmsExportPlugin` write the same file, for chosen students?"""
    build_gradebook(tmp_path / "gradebook.db")
    completed = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", f"--db=sqlite:///{tmp_path / 'gradebook.db'}",
         "--exporter=mnist_lessons.grading.export.LmsExportPlugin", "--to", str(tmp_path / "lms.csv"),
         "--ExportPlugin.student=['bob', 'dee']"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    _, rows = read_rows(tmp_path / "lms.csv")
    assert sorted(rows) == ["bob", "dee"]
    assert rows["bob"]["mnist"] == "4" and rows["bob"]["ID"] == "1002"
