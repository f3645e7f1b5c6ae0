"""What an LMS's downloads hold (grading/lms.py): file names shaped as Canvas and Moodle write them, the time rules,
and nbgrader's zip_collect run in-process on such a zip, in milliseconds (no gradebook: its reading is stood in for)."""

import datetime
import io
import json
import logging
import re
import zipfile

import pytest
from nbgrader.utils import parse_utc

from mnist_lessons.grading import lms

UTC = datetime.timezone.utc
DUE = datetime.datetime(2027, 1, 31, 23, 59, tzinfo=UTC)
EXTRACTED = "/course/downloaded/mnist/extracted/"  # nbgrader hands the collector absolute paths

# As canvas-lms's lib/content_zipper.rb names them: sortable name squashed, LATE, user id, file id, display name.
CANVAS_NAMES = {
    "lovelaceada_1001_55501_01_load_data.ipynb": ("1001", None, "01_load_data.ipynb"),
    "babbagebob_LATE_1002_55502_02_preprocess.ipynb": ("1002", "LATE", "02_preprocess.ipynb"),
    "oneilshaq_1005_55503_06_evaluate (final).ipynb": ("1005", None, "06_evaluate (final).ipynb"),
    "de_la_cruzjuan_1006_55504_01_load_data-1.ipynb": ("1006", None, "01_load_data-1.ipynb"),
    "anon_aB3xY_55505_03_build_model.ipynb": ("anon_aB3xY", None, "03_build_model.ipynb"),
    "LATE_anon_aB3xY_55506_04_compile.ipynb": ("anon_aB3xY", "LATE", "04_compile.ipynb"),
}
# As Moodle's mod/assign writes them: in folders (Moodle 4, and 3 with its trailing _), or flat; blind marking.
MOODLE_NAMES = {
    "Ada Lovelace_123456_assignsubmission_file/01_load_data.ipynb": ("123456", "01_load_data.ipynb"),
    "Ada Lovelace_123456_assignsubmission_file_/02_preprocess.ipynb": ("123456", "02_preprocess.ipynb"),
    "Seán O'Neil-Brown_123457_assignsubmission_file_01_load_data.ipynb": ("123457", "01_load_data.ipynb"),
    "Participant_123458_assignsubmission_file/notebooks/05_train.ipynb": ("123458", "05_train.ipynb"),
}


@pytest.mark.parametrize("name", CANVAS_NAMES)
def test_canvas_file_names(name):
    """Does CANVAS_FILENAME find the user id, the LATE mark and the file's own name in each shape Canvas writes?"""
    groups = re.match(lms.CANVAS_FILENAME, EXTRACTED + "mnist submissions/" + name).groupdict()
    assert (groups["student_id"], groups["late"], groups["file_id"]) == CANVAS_NAMES[name]
    assert re.match(lms.MOODLE_FILENAME, EXTRACTED + name) is None


@pytest.mark.parametrize("name", MOODLE_NAMES)
def test_moodle_file_names(name):
    """Does MOODLE_FILENAME find the participant number and the file's own name in each layout Moodle writes?"""
    groups = re.match(lms.MOODLE_FILENAME, EXTRACTED + "CS101-mnist-42/" + name).groupdict()
    assert (groups["student_id"], groups["file_id"]) == MOODLE_NAMES[name]
    assert re.match(lms.CANVAS_FILENAME, EXTRACTED + name) is None


def test_names_of_neither_lms():
    """Is a file named by neither LMS (a bare notebook, a student's own folder) matched by neither pattern?"""
    for path in ("01_load_data.ipynb", "ada/mnist/01_load_data.ipynb", "ps1_ada_attempt_2027-01-31_01.ipynb"):
        assert re.match(lms.CANVAS_FILENAME, EXTRACTED + path) is None
        assert re.match(lms.MOODLE_FILENAME, EXTRACTED + path) is None


def test_times_keep_their_minutes_and_zone():
    """Is 23:59 read as 23:59 in each form an LMS or nbgrader writes it, where nbgrader's parse_utc reads 23:00?"""
    assert parse_utc("2027-01-31-23-59-00") == datetime.datetime(2027, 1, 31, 23, 0)  # the issue: dateutil's misreading
    assert lms.parse_time("2027-01-31-23-59-00", "UTC") == DUE
    assert lms.parse_time("2027-01-31T23:59:00Z") == DUE  # Canvas's API
    assert lms.parse_time("2027-01-31T18:59:00-05:00") == DUE
    assert lms.parse_time("2027-01-31 23:59:00.000000 UTC") == DUE  # nbgrader's own timestamp.txt
    assert lms.parse_time("Sunday, 31 January 2027, 11:59 PM", "UTC") == DUE  # Moodle's worksheet
    assert lms.parse_time("Monday, 1 February 2027, 12:59 AM", "Europe/Paris") == DUE  # in the downloader's zone
    assert lms.parse_time("31/01/2027 23:59", "UTC", ("%d/%m/%Y %H:%M",)) == DUE
    assert lms.parse_time("-") is None and lms.parse_time("") is None  # Moodle's "no submission"
    with pytest.raises(ValueError, match="c.LmsCollectorPlugin.timezone"):
        lms.parse_time("Sunday, 31 January 2027, 11:59 PM")
    with pytest.raises(ValueError, match="c.LmsCollectorPlugin.time_format"):
        lms.parse_time("31/01/2027 23:59", "UTC")


def test_time_rules():
    """Does a listed time win, a LATE mark land just after the due date, no mark on it, and nothing say so loudly?"""
    listed, stamped = DUE + datetime.timedelta(hours=3), DUE - datetime.timedelta(days=1)
    assert lms.submission_time(listed, stamped, False, DUE) == (listed, None)
    assert lms.submission_time(None, stamped, None, DUE) == (stamped, None)
    moment, warning = lms.submission_time(None, None, True, DUE)
    assert moment == DUE + datetime.timedelta(seconds=1) and "LATE" in warning
    assert lms.submission_time(None, None, False, DUE) == (DUE, None)
    assert lms.submission_time(None, None, None, DUE) == (None, lms.NO_TIME)
    moment, warning = lms.submission_time(None, None, True, None)
    assert moment is None and "no due date" in warning
    moment, warning = lms.submission_time(stamped, None, True, DUE)  # Canvas's own due date for this student?
    assert moment == stamped and "not after" in warning
    assert lms.missing_time_note(None, DUE.replace(tzinfo=None)) == lms.MISSING_TIME_NOTE
    assert lms.missing_time_note(None, None) is None and lms.missing_time_note(DUE, DUE) is None


def test_submission_lists(tmp_path):
    """Are Moodle's grading worksheet (a BOM, "Participant N", its date format) and Canvas's API JSON read by name?"""
    worksheet = tmp_path / "worksheet.csv"
    worksheet.write_bytes(
        "\ufeffIdentifier,Full name,Email address,Status,Grade,Last modified (submission)\n"
        "Participant 123456,Ada Lovelace,ada@example.org,Submitted for grading,,\"Sunday, 31 January 2027, 11:59 PM\"\n"
        "Participant 123457,Bob Babbage,bob@example.org,No submission,,-\n".encode("utf-8"))
    api = tmp_path / "submissions.json"
    api.write_text(json.dumps([{"user_id": 1001, "submitted_at": "2027-02-01T02:59:00Z", "late": True},
                               {"user_id": 1004, "submitted_at": None}]))
    entries = lms.read_submission_lists([worksheet, api], timezone="UTC")
    assert entries == {"123456": {"time": DUE, "email": "ada@example.org"}, "123457": {"time": None,
                       "email": "bob@example.org"}, "1001": {"time": DUE + datetime.timedelta(hours=3), "email": ""},
                       "1004": {"time": None, "email": ""}}
    assert [lms.lms_key(key) for key in ("Participant 123456", "Teilnehmer/in 7", 1001, "anon_abc12")] == \
        ["123456", "7", "1001", "anon_abc12"]
    (tmp_path / "other.csv").write_text("who,when\nx,2027-01-31\n")
    with pytest.raises(ValueError, match="id_column"):
        lms.read_submission_lists([tmp_path / "other.csv"])
    assert lms.read_submission_lists([tmp_path / "other.csv"], "UTC", id_column="who", time_column="when") == \
        {"x": {"time": datetime.datetime(2027, 1, 31, tzinfo=UTC), "email": ""}}


def zip_collect(root, files, monkeypatch, roster=None, **settings):
    """Run nbgrader's zip_collect in-process on a zip of ``files`` with the LMS collector; return its log."""
    from nbgrader.apps import ZipCollectApp

    release = root / "course" / "mnist"
    release.mkdir(parents=True)
    for lesson in ("01_load_data", "02_preprocess"):
        (release / f"{lesson}.ipynb").write_text("{}")
    archive = root / "downloaded" / "mnist" / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "submissions.zip", "w") as zipped:
        for name, text in files.items():
            zipped.writestr(name, text)
    found = {"due": DUE, "by_lms_id": {}, "by_email": {}, **(roster or {})}
    monkeypatch.setattr(lms.LmsCollectorPlugin, "_read_gradebook", staticmethod(lambda coursedir: found))
    monkeypatch.chdir(root)  # no nbgrader_config.py here: only these settings
    app = ZipCollectApp()
    app.initialize(["mnist", f"--CourseDirectory.root={root}", "--CourseDirectory.release_directory=course",
                    "--ZipCollectApp.collector_plugin=mnist_lessons.grading.lms.LmsCollectorPlugin",
                    *(f"--LmsCollectorPlugin.{key}={value}" for key, value in settings.items())])
    log = io.StringIO()
    app.log.addHandler(logging.StreamHandler(log))
    try:
        app.start()
    finally:
        ZipCollectApp.clear_instance()
    return log.getvalue()


def submitted(root, student):
    folder = root / "submitted" / student / "mnist"
    return sorted(path.name for path in folder.iterdir()), parse_utc((folder / "timestamp.txt").read_text())


def test_zip_collect_from_canvas(tmp_path, monkeypatch):
    """From Canvas's zip with no list: is each student collected under their roster id (else Canvas's), a renamed
    notebook under its own name, on time at the due date, LATE just after it, with a warning for the late one?"""
    log = zip_collect(tmp_path, {
        "lovelaceada_1001_55501_01_load_data.ipynb": "{}",
        "lovelaceada_1001_55502_02_preprocess-1.ipynb": "{}",
        "babbagebob_LATE_1002_55503_01_load_data.ipynb": "{}",
        "babbagebob_LATE_1002_55504_notes.txt": "not a notebook",
    }, monkeypatch, roster={"by_lms_id": {"1001": "ada"}})
    assert submitted(tmp_path, "ada") == (["01_load_data.ipynb", "02_preprocess.ipynb", "timestamp.txt"],
                                          DUE.replace(tzinfo=None))
    assert submitted(tmp_path, "1002") == (["01_load_data.ipynb", "timestamp.txt"],
                                           DUE.replace(tzinfo=None) + datetime.timedelta(seconds=1))
    assert "1002: marked LATE by Canvas, with no time" in log and "ada:" not in log


def test_zip_collect_from_moodle(tmp_path, monkeypatch):
    """From Moodle's zip with its grading worksheet: are the worksheet's times recorded (the student found on the
    roster by email), and is a student the worksheet does not list collected with a loud warning and no time?"""
    (tmp_path / "worksheet.csv").write_text(
        "Identifier,Full name,Email address,Last modified (submission)\n"
        "Participant 123456,Ada Lovelace,ada@example.org,\"Monday, 1 February 2027, 2:59 AM\"\n")
    log = zip_collect(tmp_path, {
        "Ada Lovelace_123456_assignsubmission_file/01_load_data.ipynb": "{}",
        "Bob Babbage_123457_assignsubmission_file/01_load_data.ipynb": "{}",
    }, monkeypatch, roster={"by_email": {"ada@example.org": "ada"}},
        submission_lists="worksheet.csv", timezone="UTC")
    assert submitted(tmp_path, "ada") == (["01_load_data.ipynb", "timestamp.txt"],
                                          datetime.datetime(2027, 2, 1, 2, 59))
    assert sorted(path.name for path in (tmp_path / "submitted" / "123457" / "mnist").iterdir()) == \
        ["01_load_data.ipynb"]  # no timestamp.txt: nbgrader records no time
    assert f"123457: {lms.NO_TIME}" in log
