"""Instructors' grading with the real nbgrader command line, and `mnist-lessons autograde-class` (grading/classgrading.py).

The course directories here hold lessons 01 and 02 only: the same assignment,
config and checks as the full course, but each student grades in seconds
rather than a minute (the full six lessons are timed by the benchmark).
"""

import csv
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from mnist_lessons.grading import classgrading, processes
from mnist_lessons.grading.classgrading import ASSIGNMENT, nbgrader

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions" / "mnist"
RELEASE = ROOT / "course" / "mnist"
LESSONS = ["01_load_data", "02_preprocess"]
FULL = {"01_load_data": 4.0, "02_preprocess": 4.0}


def grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def make_variant(folder, name, base=SOLUTIONS, change=None):
    """A student's folder: the lessons copied from ``base``, then ``change(notebook_of_02)`` applied."""
    target = folder / name
    target.mkdir(parents=True)
    for lesson in LESSONS:
        shutil.copy(base / f"{lesson}.ipynb", target)
    if change:
        path = target / "02_preprocess.ipynb"
        notebook = json.loads(path.read_text())
        result = change(notebook, path)
        if result is not False:
            path.write_text(json.dumps(notebook))
    return target


def wrong_one_hot(notebook, _path):
    cell = next(cell for cell in notebook["cells"] if grade_id(cell) == "one_hot_labels")
    cell["source"] = "def one_hot_labels(labels, num_classes=10):\n    return labels\n"


def edit_locked(notebook, _path):
    cell = next(cell for cell in notebook["cells"] if grade_id(cell) == "check_one_hot_labels")
    cell["source"] = "print('all good')\n"  # trying to skip the check


def duplicate_check(notebook, _path):
    notebook["cells"].append(next(cell for cell in notebook["cells"] if grade_id(cell) == "check_one_hot_labels"))


def missing(_notebook, path):
    path.unlink()
    return False


CLEAN = {"complete": (SOLUTIONS, None), "untouched": (RELEASE, None), "mixed": (SOLUTIONS, wrong_one_hot)}
# Deleted cells and unreadable notebooks are in the corpus every door grades (test_doors.py).
BROKEN = {"edited": edit_locked, "duplicated": duplicate_check, "missing": missing}
EXPECTED = {  # points per lesson each student must get
    "complete": FULL,
    "untouched": {"01_load_data": 0.0, "02_preprocess": 0.0},
    "mixed": {"01_load_data": 4.0, "02_preprocess": 2.0},  # preprocess_images right, one_hot_labels wrong
    "edited": FULL,  # the locked check cell is restored from the source, and the answer is right
    "duplicated": FULL,  # graded once
    "missing": {"01_load_data": 4.0, "02_preprocess": 0.0},
}


def scores(course, student):
    return {name: score for name, (score, _) in classgrading.submission_scores(course, student).items()}


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    folder = tmp_path_factory.mktemp("students")
    made = {name: make_variant(folder, name, base, change) for name, (base, change) in CLEAN.items()}
    made.update({name: make_variant(folder, name, change=change) for name, change in BROKEN.items()})
    return made


@pytest.fixture(scope="module")
def plain_course(tmp_path_factory, variants, full_mnist_path):
    """The three clean students graded one at a time by plain `nbgrader autograde`, then feedback and export."""
    course = classgrading.make_course(tmp_path_factory.mktemp("plain"), LESSONS,
                                      {name: variants[name] for name in CLEAN})
    nbgrader(course, "autograde", ASSIGNMENT)
    nbgrader(course, "generate_feedback", ASSIGNMENT)
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    return course


@pytest.fixture(scope="module")
def class_course(tmp_path_factory, variants, full_mnist_path):
    """Every student, broken ones included, graded by `mnist-lessons autograde-class`."""
    course = classgrading.make_course(tmp_path_factory.mktemp("class"), LESSONS, variants)
    completed = subprocess.run([sys.executable, "-m", "mnist_lessons.cli", "autograde-class", "--course-dir", str(course),
                                "--jobs", "2"], capture_output=True, text=True, timeout=1200)
    return course, completed


@pytest.mark.parametrize("student", list(CLEAN))
def test_plain_nbgrader_scores(plain_course, student):
    """Does plain `nbgrader autograde` give full marks, zero and the exact partial score, never needing manual grading?"""
    assert scores(plain_course, student) == EXPECTED[student]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{plain_course / 'gradebook.db'}") as gradebook:
        assert not gradebook.find_submission(ASSIGNMENT, student).needs_manual_grade


def test_exported_csv(plain_course):
    """Does `nbgrader export` write each student's total out of 8?"""
    with open(plain_course / "grades.csv", newline="") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file)}
    assert set(rows) == set(CLEAN)
    for student, expected in EXPECTED.items():
        if student in rows:
            assert float(rows[student]["score"]) == sum(expected.values())
            assert float(rows[student]["max_score"]) == 8.0
            assert rows[student]["assignment"] == ASSIGNMENT


def test_feedback_shows_plots_and_hides_hidden_tests(plain_course):
    """Does the students' feedback show their plots, and none of the hidden tests' code?"""
    feedback = plain_course / "feedback" / "mixed" / ASSIGNMENT
    lesson_01 = (feedback / "01_load_data.html").read_text()
    lesson_02 = (feedback / "02_preprocess.html").read_text()
    assert lesson_01.count("data:image/png;base64") >= 3  # the digits, one image, the class counts
    for page in (lesson_01, lesson_02):
        assert "HIDDEN TESTS" not in page and "hidden=True" not in page
    assert "Called one_hot_labels(" in lesson_02  # the failure the student needs to see


def test_autograde_class_matches_nbgrader_and_repairs_broken_work(class_course, plain_course, variants):
    """Does autograde-class give the clean students nbgrader's own scores, and each broken one its expected score with a note?"""
    course, completed = class_course
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    for student in CLEAN:
        assert scores(course, student) == scores(plain_course, student)
    for student in BROKEN:
        assert scores(course, student) == EXPECTED[student], student
        assert classgrading.is_graded(course, student)
    out = completed.stdout
    assert f"Graded {len(EXPECTED)} students" in out
    assert ("note for duplicated: 02_preprocess.ipynb: The locked cell 'check_one_hot_labels' appeared more than "
            "once; only its first copy was kept.") in out
    assert ("note for edited: 02_preprocess.ipynb: The locked cell 'check_one_hot_labels' had been edited; it was "
            "graded as released.") in out
    assert "note for missing: 02_preprocess.ipynb was missing" in out
    # The submitted files themselves are never changed.
    assert json.loads((course / "submitted" / "edited" / ASSIGNMENT / "02_preprocess.ipynb").read_text()) == \
        json.loads((variants["edited"] / "02_preprocess.ipynb").read_text())


def test_class_summary(class_course):
    """Does the summary give the score distribution and the exercises most students missed?"""
    course, completed = class_course
    summary = classgrading.class_summary(course)
    assert summary.splitlines()[0].startswith("6 students graded on mnist: mean 5.7 of 8, median 7, lowest 0, highest 8")
    assert "one_hot_labels (02_preprocess): 3 of 6 students" in summary  # untouched, mixed, missing
    assert summary in completed.stdout


def test_rerun_skips_graded_students(class_course):
    """Does running autograde-class again grade nobody twice?"""
    course, _ = class_course
    report = classgrading.autograde_class(course, progress=False)
    assert report["graded"] == [] and sorted(report["skipped"]) == sorted(EXPECTED)


def test_newer_submission_is_graded_again(class_course):
    """When a student's submission gets a new timestamp.txt (collected again), does the next run grade that student alone, recording the time?"""
    course, _ = class_course
    (course / "submitted" / "mixed" / ASSIGNMENT / "timestamp.txt").write_text("2027-01-02 03:04:05.000000 UTC")
    assert not classgrading.is_graded(course, "mixed")
    report = classgrading.autograde_class(course, progress=False)
    assert report["graded"] == ["mixed"] and "mixed" not in report["skipped"]
    assert scores(course, "mixed") == EXPECTED["mixed"]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert str(gradebook.find_submission(ASSIGNMENT, "mixed").timestamp).startswith("2027-01-02 03:04:05")
    assert classgrading.is_graded(course, "mixed")


def test_regrade_one_student(class_course, capsys):
    """Does `autograde-class --student` regrade just that student, and refuse one with no submission, in one line?"""
    from mnist_lessons.cli import main

    course, _ = class_course
    report = classgrading.autograde_class(course, progress=False, only=["mixed"])
    assert report["graded"] == ["mixed"] and report["skipped"] == []
    assert scores(course, "mixed") == EXPECTED["mixed"]
    with pytest.raises(SystemExit) as exit_:
        main(["autograde-class", "--course-dir", str(course), "--student", "mixed,nobody"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"mnist-lessons: error: --student: no submission in {course / 'submitted'}/<student>/mnist/ for nobody"]


def test_killed_run_resumes(tmp_path, variants, full_mnist_path):
    """Killed midway, does a run leave no half-written grades, and does the next run grade only the rest?"""
    students = {name: variants[name] for name in ("complete", "mixed", "untouched")}
    course = classgrading.make_course(tmp_path, LESSONS, students)
    process = subprocess.Popen([sys.executable, "-m", "mnist_lessons.cli", "autograde-class", "--course-dir",
                                str(course), "--jobs", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 300
    while not any(classgrading.is_graded(course, student) for student in students):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    import os
    import signal

    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done = [student for student in students if classgrading.is_graded(course, student)]
    assert 1 <= len(done) < len(students)
    for student in done:
        assert scores(course, student) == EXPECTED[student]  # complete, not half-written
    report = classgrading.autograde_class(course, progress=False)
    assert sorted(report["skipped"]) == sorted(done)
    assert sorted(report["graded"]) == sorted(set(students) - set(done))
    for student in students:
        assert scores(course, student) == EXPECTED[student]


def test_dask_local_cluster(tmp_path, variants, full_mnist_path):
    """Does the same unit of work run on Dask's distributed scheduler, giving the same grades?"""
    distributed = pytest.importorskip("dask.distributed", reason="Dask's distributed scheduler is not installed")
    students = {name: variants[name] for name in ("complete", "mixed")}
    course = classgrading.make_course(tmp_path, LESSONS, students)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        report = classgrading.autograde_class(course, scheduler=client, progress=False)
    assert sorted(report["graded"]) == sorted(students)
    for student in students:
        assert scores(course, student) == EXPECTED[student]


def broken_json(_notebook, path):
    path.write_text('{"cells": [')
    return False


def _driver_scratch(pid):
    """The scratch courses (tempdir/autograde-*) the process ``pid`` grades in."""
    folders = []
    for folder in Path(tempfile.gettempdir()).glob(f"{classgrading.SCRATCH_PREFIX}*"):
        try:
            if json.loads((folder / classgrading.OWNER_FILE).read_text())["pid"] == pid:
                folders.append(folder)
        except (OSError, ValueError, KeyError):
            continue
    return folders


def _kill_a_run(course):
    """Start autograde-class, SIGTERM it once a student's nbgrader runs the engine's child; return (status, processes, folders) left."""
    driver = subprocess.Popen([sys.executable, "-m", "mnist_lessons.cli", "autograde-class", "--course-dir",
                               str(course), "--jobs", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while len(processes.trees([driver.pid])) < 3:  # the driver, nbgrader, the engine's child
            assert driver.poll() is None and time.monotonic() < deadline, driver.stderr.read()[-2000:]
            time.sleep(0.1)
        members = processes.trees([driver.pid]) - {driver.pid}
        assert _driver_scratch(driver.pid)
        driver.send_signal(signal.SIGTERM)
        status = driver.wait(60)
        time.sleep(0.5)
        return status, [pid for pid in members if processes.proc_stat(pid) not in (None,)
                        and processes.proc_stat(pid)[0] != "Z"], _driver_scratch(driver.pid)
    finally:
        driver.kill()


def test_late_broken_and_tamperer_through_both_doors(tmp_path):
    """A late student, a broken notebook and an edited check cell, through plain nbgrader and autograde-class: are the
    late penalty, the notes (gradebook, flag, feedback), the export's columns and the report's counts right, and does a
    killed run leave nothing running?"""
    from nbgrader.api import Gradebook

    from mnist_lessons.grading import isolation

    isolated = isolation.bubblewrap()[0] is not None
    students = {name: make_variant(tmp_path / "students", name, change=change)
                for name, change in (("late", None), ("broken", broken_json), ("tamperer", edit_locked))}
    edited = "The locked cell 'check_one_hot_labels' had been edited; it was graded as released."
    for door in ("plain", "class"):
        course = classgrading.make_course(tmp_path / door, ["02_preprocess"], students)
        with open(course / "nbgrader_config.py", "a") as config:
            config.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
        nbgrader(course, "db", "assignment", "add", ASSIGNMENT, "--duedate=2027-01-01 00:00:00 UTC")
        for student in students:
            when = "03:00:00" if student == "late" else "00:00:00"
            (course / "submitted" / student / ASSIGNMENT / "timestamp.txt").write_text(f"2027-01-01 {when}.000000 UTC")
        if door == "plain":
            nbgrader(course, "autograde", ASSIGNMENT)
        else:
            status, running, folders = _kill_a_run(course)
            assert (status, running, folders) == (128 + signal.SIGTERM, [], [])
            completed = subprocess.run([sys.executable, "-m", "mnist_lessons.cli", "autograde-class", "--course-dir",
                                        str(course)], capture_output=True, text=True, timeout=1200)
            assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
            assert f"Class report: {course / 'reports' / 'class-report.html'}" in completed.stdout
            report = (course / "reports" / "class-report.html").read_text()
            for exercise in ("preprocess_images", "one_hot_labels"):  # passed, wrong, not attempted, error, timeout, no notebook
                assert (f"<tr><td>02_preprocess</td><td>{exercise}</td><td class='n'>2</td><td class='n'>0</td>"
                        "<td class='n'>0</td><td class='n'>0</td><td class='n'>0</td><td class='n'>1</td></tr>") in report
        nbgrader(course, "generate_feedback", ASSIGNMENT)
        nbgrader(course, "export", "--exporter=mnist_lessons.grading.export.LmsExportPlugin", "--to",
                 str(course / "lms.csv"))
        with open(course / "lms.csv", newline="") as file:
            rows = {row["student_id"]: row for row in csv.DictReader(file)}
        assert [rows["late"][key] for key in ("mnist", "mnist late penalty", "mnist raw score", "mnist/02_preprocess",
                                              "mnist/02_preprocess/check_one_hot_labels")] == ["0", "4", "4", "4", "2"]
        assert rows["tamperer"]["mnist"] == "4" and rows["broken"]["mnist/02_preprocess/check_preprocess_images"] == "0"
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            notebook = {student: gradebook.find_submission_notebook("02_preprocess", ASSIGNMENT, student)
                        for student in students}
            # Every notebook graded without the sandbox carries that note, so is flagged: the late one too.
            assert [notebook[student].flagged for student in students] == [not isolated, True, True], door
            assert edited in gradebook.find_comment("one_hot_labels", "02_preprocess", ASSIGNMENT, "tamperer").comment
            assert "could not be read as a notebook" in \
                gradebook.find_comment("preprocess_images", "02_preprocess", ASSIGNMENT, "broken").comment
        feedback = {student: (course / "feedback" / student / ASSIGNMENT / "02_preprocess.html").read_text()
                    for student in students}
        assert "had been edited; it was graded as released." in feedback["tamperer"]
        assert "could not be read as a notebook (it is not valid JSON" in feedback["broken"]
        assert ("Notes from the grader" in feedback["late"]) == (not isolated)
        assert "Late submission penalty" in feedback["late"]


def test_release_keeps_to_the_course_directory(tmp_path):
    """Does `nbgrader release_assignment` release into the course's own exchange/, not the system's?"""
    course = classgrading.make_course(tmp_path, ["02_preprocess"])
    nbgrader(course, "release_assignment", ASSIGNMENT)
    assert (course / "exchange" / "mnist-lessons" / "outbound" / ASSIGNMENT / "02_preprocess.ipynb").is_file()


def test_autograde_class_usage_errors(tmp_path, capsys):
    """Does autograde-class outside a course directory, or with no submissions, exit 2 with one line?"""
    from mnist_lessons.cli import main

    for argv, message in ((["autograde-class", "--course-dir", str(tmp_path)], "no nbgrader_config.py there"),):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["autograde-class", "--course-dir", str(tmp_path)])
    assert exit_.value.code == 2 and "no submissions in" in capsys.readouterr().err
