"""The LMS export (grading/export.py): Canvas's and Moodle's import files and the detail, on records in milliseconds
and on a gradebook built once with nbgrader's API (tests/gradebooks.py) and copied for each test."""

import csv
import shutil
import warnings
from types import SimpleNamespace

import pytest
from nbgrader.api import Gradebook

from gradebooks import DUE, build_gradebook
from mnist_lessons.grading import export, lms


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    return rows[0], rows[1:]


def by_column(path, key):
    header, rows = read_csv(path)
    return header, {row[header.index(key)]: dict(zip(header, row)) for row in rows}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """tests/gradebooks.py's class, made once: nbgrader runs alembic, for seconds, to make a gradebook."""
    path = tmp_path_factory.mktemp("template") / "gradebook.db"
    build_gradebook(path)
    return path


@pytest.fixture
def gradebook(template, tmp_path):
    """The class, and eve: submitted with no time (an LMS download without one), against the due date."""
    shutil.copy(template, tmp_path / "gradebook.db")
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLAlchemy's notes on nbgrader's own session handling
            gradebook.add_student("eve", first_name="Eve", last_name="Noether", lms_user_id="1005")
            gradebook.add_submission("mnist", "eve")
        yield gradebook


def record(student, name, lms_id, email, score):
    return {"Student": name, "ID": lms_id, "student_id": student, "email": email, "scores": {"mnist": score},
            "detail": {}, "notes": []}


def test_import_files_have_the_lms_columns_and_no_others():
    """Are Canvas's file Student, ID, SIS User ID, SIS Login ID, Section and one column per assignment, and Moodle's
    Email address, ID and one column per assignment, with nothing Canvas would offer as a new assignment?"""
    layout = [(SimpleNamespace(name="mnist"), [("01_load_data", ["check_load_data"])])]
    records = [record("ada", "Lovelace, Ada", "1001", "ada@example.org", "8"), record("cyd", "cyd", "cyd", "", "2")]
    assert export.canvas_rows(layout, records) == (
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "mnist"],
        [["Lovelace, Ada", "1001", "", "", "", "8"], ["cyd", "cyd", "", "", "", "2"]])
    assert export.moodle_rows(layout, records) == (
        ["Email address", "ID", "mnist"], [["ada@example.org", "1001", "8"], ["", "cyd", "2"]])
    header, _ = export.detail_rows(layout, records)
    assert header == ["Student", "ID", "student_id", "email", "mnist", "mnist late penalty", "mnist raw score",
                      "mnist max score", "mnist submitted", "mnist/01_load_data", "mnist/01_load_data/check_load_data",
                      "notes"]


def test_files_from_the_gradebook(gradebook, tmp_path):
    """From the gradebook: the score after the late penalty in every file, the roster's names and LMS ids, a student
    not on the roster under its nbgrader id with a note, and a note where no time let the due date apply?"""
    files = export.write_lms_files(gradebook, tmp_path)
    assert sorted(path.name for path in files.values()) == ["grades-canvas.csv", "grades-detail.csv",
                                                            "grades-moodle.csv"]
    header, canvas = by_column(files["canvas"], "ID")
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "mnist"]
    assert {key: (row["Student"], row["mnist"]) for key, row in canvas.items()} == {
        "1001": ("Lovelace, Ada", "8"), "1002": ("Babbage, Bob", "4"), "cyd": ("cyd", "2"),
        "1004": ("dee", "0"), "1005": ("Noether, Eve", "0")}
    header, moodle = read_csv(files["moodle"])
    assert header == ["Email address", "ID", "mnist"] and moodle[0] == ["ada@example.org", "1001", "8"]
    header, detail = by_column(files["detail"], "student_id")
    bob = detail["bob"]
    assert [bob[key] for key in ("mnist", "mnist late penalty", "mnist raw score", "mnist max score",
                                 "mnist/02_preprocess", "mnist/02_preprocess/check_one_hot_labels")] == \
        ["4", "2", "6", "8", "2", "0"]
    assert bob["mnist submitted"] == "2027-02-01 02:59:00 UTC" and bob["notes"] == ""
    assert detail["cyd"]["notes"] == export.NOT_ON_ROSTER and detail["dee"]["notes"] == ""
    assert detail["eve"]["notes"] == f"mnist: {lms.MISSING_TIME_NOTE}" and detail["eve"]["mnist submitted"] == ""
    assert [detail["dee"][key] for key in ("mnist", "mnist max score", "mnist/01_load_data")] == ["0", "8", ""]
    assert export.lms_warnings(gradebook) == [f"cyd: {export.NOT_ON_ROSTER}", f"eve: mnist: {lms.MISSING_TIME_NOTE}"]
    assert gradebook.find_assignment("mnist").duedate == DUE


def test_text_a_spreadsheet_would_run_is_escaped_in_every_file(gradebook, tmp_path):
    """Is a name, id or email that begins like a formula (=, +, -, @) written so that no spreadsheet runs it, in each
    of the three files, and a score left a number?"""
    gradebook.add_student("=HYPERLINK(\"http://x\")", first_name="+1", last_name="@SUM(A1)", email="-2+3",
                          lms_user_id="=1+1")
    files = export.write_lms_files(gradebook, tmp_path)
    _, canvas = by_column(files["canvas"], "ID")
    assert canvas["'=1+1"]["Student"] == "'@SUM(A1), +1" and canvas["'=1+1"]["mnist"] == "0"
    _, moodle = by_column(files["moodle"], "ID")
    assert moodle["'=1+1"]["Email address"] == "'-2+3"
    _, detail = by_column(files["detail"], "student_id")
    assert detail["'=HYPERLINK(\"http://x\")"]["email"] == "'-2+3"
    assert detail["ada"]["Student"] == "Lovelace, Ada"  # plain text as it was


def test_nbgrader_export_plugin(gradebook, tmp_path, monkeypatch, caplog):
    """Does `nbgrader export --exporter=...LmsExportPlugin --to FILE` write the detail to FILE and the imports beside
    it, for the students chosen, and warn about a student not on the roster?"""
    from nbgrader.apps import ExportApp

    gradebook.db.commit()
    monkeypatch.chdir(tmp_path)  # no nbgrader_config.py here
    app = ExportApp()
    app.initialize([f"--db=sqlite:///{tmp_path / 'gradebook.db'}", "--to", str(tmp_path / "lms.csv"),
                    "--exporter=mnist_lessons.grading.export.LmsExportPlugin", "--ExportPlugin.student", "bob",
                    "--ExportPlugin.student", "cyd"])
    try:
        with caplog.at_level("WARNING"):
            app.log.addHandler(caplog.handler)
            app.start()
    finally:
        ExportApp.clear_instance()
    _, detail = by_column(tmp_path / "lms.csv", "student_id")
    assert sorted(detail) == ["bob", "cyd"] and detail["bob"]["mnist"] == "4" and detail["bob"]["ID"] == "1002"
    _, canvas = read_csv(tmp_path / "grades-canvas.csv")
    assert [row[1] for row in canvas] == ["1002", "cyd"]
    assert f"cyd: {export.NOT_ON_ROSTER}" in caplog.text
    with pytest.raises(ValueError, match="import file"):
        export.write_lms_files(gradebook, tmp_path, detail_name=export.CANVAS_FILE)
