"""Instructors' grading: the rules of `mnist-lessons autograde-class` (grading/classgrading.py), each in a fraction of
a second, and one class through the real nbgrader command line by both doors.

Which students a run grades, a regrade, a killed run, the Dask path, the merge
into the gradebook and what the command prints are bookkeeping: each is tested
on a small course made in milliseconds (tests/gradebooks.py's assignment, each
student's submitted/ folder), with a fake in place of the one expensive step,
``grade_one_student``, which runs `nbgrader autograde` on a student in a
scratch course. What only nbgrader shows runs for real: here, one class of
late, broken and tampered work through plain nbgrader and autograde-class; in
tests/test_doors.py, the corpus through every door, with its feedback and
nbgrader's export.
"""

import copy
import csv
import hashlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

import gradebooks
from mnist_lessons.grading import classgrading, processes, workunit
from mnist_lessons.grading.classgrading import ASSIGNMENT, nbgrader
from mnist_lessons.grading.preprocessors import NOTES_KEY, missing_note

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions" / "mnist"
STUDENTS = ("ada", "bob", "cyd")  # scored as in tests/gradebooks.py: 8, 6 and 2 of 8
EXPECTED = {"ada": {"01_load_data": 4.0, "02_preprocess": 4.0}, "bob": {"01_load_data": 4.0, "02_preprocess": 2.0},
            "cyd": {"01_load_data": 2.0, "02_preprocess": 0.0}}
ON_TIME = "2027-01-01 00:00:00.000000 UTC"
EDITED = "02_preprocess.ipynb: The locked cell 'check_one_hot_labels' had been edited; it was graded as released."


def scores(course, student):
    return {name: score for name, (score, _) in classgrading.submission_scores(course, student).items()}


def small_course(folder, gradebook, students=STUDENTS):
    """A course directory in milliseconds: nbgrader_config.py, a copy of ``gradebook`` (the assignment), its lessons as
    source and release, a submitted/
    folder per student, each with a timestamp.txt but cyd's (a submission copied in by hand, not `nbgrader collect`)."""
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    shutil.copy(gradebook, folder / "gradebook.db")
    for release in ("solutions", "course"):  # the source and release the bundle carries
        (folder / release / ASSIGNMENT).mkdir(parents=True)
        for lesson in gradebooks.LESSONS:
            shutil.copy(SOLUTIONS / f"{lesson}.ipynb", folder / release / ASSIGNMENT)
    for student in students:
        submitted = folder / "submitted" / student / ASSIGNMENT
        submitted.mkdir(parents=True)
        if student != "cyd":
            (submitted / "timestamp.txt").write_text(ON_TIME)
    return folder


def fake_result(submission, points, notes=()):
    """What grade_one_student returns for ``submission`` when its checks score ``points`` ({check id: points})."""
    assignment = submission.assignment
    grades = {lesson: {f"check_{name}": {"auto_score": points[f"check_{name}"], "max_score": 2} for name in names}
              for lesson, names in gradebooks.LESSONS.items()}
    verdicts = {lesson: {name: {"passed": points[f"check_{name}"] == 2,
                                "message": f"Called {name}(...): not what its check expected."}
                         for name in names} for lesson, names in gradebooks.LESSONS.items()}
    return {"student": submission.student, "assignment": assignment, "notes": list(notes),
            "grades": grades, "penalties": {}, "comments": {}, "flagged": [],
            "files": {f"{lesson}.ipynb": json.dumps({"cells": [], "metadata": {NOTES_KEY: {"verdicts": verdict}},
                                                     "nbformat": 4, "nbformat_minor": 5}).encode()
                      for lesson, verdict in verdicts.items()},
            # nbgrader reads the time from timestamp.txt
            "timestamp": workunit.submission_time(submission.timestamp), "error": None, "seconds": 0.0}


class FakeGrading:
    """In place of grade_one_student: each student's result, as the real one returns it, at once, from ``scores``."""

    def __init__(self):
        self.scores = copy.deepcopy(gradebooks.SCORES)  # student -> {check id: points}
        self.notes = {}  # student -> the notes grading them gives
        self.fail = {}  # student -> the exception grading them raises
        self.calls = []  # the students graded, in order
        self.places = []  # (SHA-256 of the course bundle given, on a Dask worker?) of each call

    def __call__(self, course_bundle, submission):
        distributed = sys.modules.get("distributed")
        try:
            on_dask = distributed is not None and distributed.get_worker() is not None
        except ValueError:  # not in a worker
            on_dask = False
        self.calls.append(submission.student)
        self.places.append((hashlib.sha256(course_bundle).hexdigest(), on_dask))
        if submission.student in self.fail:
            raise self.fail[submission.student]
        return fake_result(submission, self.scores[submission.student], self.notes.get(submission.student, []))


@pytest.fixture
def fake(monkeypatch):
    grading = FakeGrading()
    monkeypatch.setattr(classgrading, "grade_one_student", grading)
    return grading


@pytest.fixture(scope="module")
def assignment_gradebook(tmp_path_factory):
    """A gradebook holding tests/gradebooks.py's assignment alone, made once: nbgrader runs alembic, for seconds, to make one."""
    path = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    gradebooks.build_assignment(path)
    return path


@pytest.fixture
def course(tmp_path, assignment_gradebook):
    return small_course(tmp_path / "course", assignment_gradebook)


def graded(course):
    return [student for student in STUDENTS if classgrading.is_graded(course, student)]


# ---------------------------------------------------------------- the rules, with a fake grading step


def test_grades_everyone_once_and_nobody_twice(course, fake):
    """Does autograde-class grade each submitted student, and a second run grade nobody, timestamp.txt or not?"""
    report = classgrading.autograde_class(course, jobs=2, progress=False)
    assert sorted(report["graded"]) == list(STUDENTS) and report["skipped"] == [] and report["failed"] == {}
    assert graded(course) == list(STUDENTS)
    assert {student: scores(course, student) for student in STUDENTS} == EXPECTED
    again = classgrading.autograde_class(course, jobs=2, progress=False)
    assert again["graded"] == [] and again["skipped"] == list(STUDENTS)
    assert sorted(fake.calls) == list(STUDENTS)


def test_newer_submission_is_graded_again(course, fake):
    """When a student's submission gets a new timestamp.txt (collected again), does the next run grade that student
    alone, replacing the grades and recording the time?"""
    classgrading.autograde_class(course, progress=False)
    (course / "submitted" / "bob" / ASSIGNMENT / "timestamp.txt").write_text("2027-01-02 03:04:05.000000 UTC")
    fake.scores["bob"]["check_one_hot_labels"] = 2  # the new submission is right
    assert graded(course) == ["ada", "cyd"]
    report = classgrading.autograde_class(course, progress=False)
    assert report["graded"] == ["bob"] and report["skipped"] == ["ada", "cyd"]
    assert scores(course, "bob") == {"01_load_data": 4.0, "02_preprocess": 4.0}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert str(gradebook.find_submission(ASSIGNMENT, "bob").timestamp).startswith("2027-01-02 03:04:05")
    assert graded(course) == list(STUDENTS)


def test_regrade_one_student(course, fake, capsys):
    """Does `autograde-class --student` regrade just the students named, graded or not, and refuse one with no
    submission, in one line?"""
    from mnist_lessons.cli import main

    classgrading.autograde_class(course, progress=False)
    fake.calls.clear()
    report = classgrading.autograde_class(course, progress=False, only=["bob"])
    assert report["graded"] == ["bob"] and report["skipped"] == [] and fake.calls == ["bob"]
    assert main(["autograde-class", "--course-dir", str(course), "--student", "cyd,ada"]) == 0
    assert sorted(fake.calls) == ["ada", "bob", "cyd"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["autograde-class", "--course-dir", str(course), "--student", "bob,nobody"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"mnist-lessons: error: --student: no submission in {course / 'submitted'}/<student>/mnist/ for nobody"]
    assert len(fake.calls) == 3  # nobody graded


class Killed(BaseException):
    """The driver killed (SIGKILL) at this point: nothing after it runs, nothing catches it."""


def _killed(*_args, **_kwargs):
    raise Killed()


KILL_POINTS = {  # where, in writing one student's results into the course, the driver dies
    "writing the files": (classgrading.os, "replace"),  # staged, not yet in place
    "adding the submission": (Gradebook, "update_or_create_submission"),  # files in place, no gradebook entry
    "setting the grades": (Gradebook, "find_grade"),  # the submission in the gradebook (nbgrader commits it), no grades
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_run_resumes(course, fake, monkeypatch, point):
    """Killed midway through writing a student's results, does a run leave that student ungraded rather than
    half-graded, the one before graded in full, and does the next run grade only the rest?"""
    merge, merged = classgrading.merge_result, []

    def merge_then_die(course_, result, *gradebook):
        merged.append(result["student"])
        if len(merged) == 1:
            return merge(course_, result, *gradebook)
        with monkeypatch.context() as dying:
            dying.setattr(*KILL_POINTS[point], _killed)
            return merge(course_, result, *gradebook)

    monkeypatch.setattr(classgrading, "merge_result", merge_then_die)
    with pytest.raises(Killed):
        classgrading.autograde_class(course, jobs=1, progress=False)
    monkeypatch.setattr(classgrading, "merge_result", merge)
    done = merged[:1]
    assert graded(course) == done and scores(course, done[0]) == EXPECTED[done[0]]
    report = classgrading.autograde_class(course, progress=False)
    assert report["skipped"] == done and sorted(report["graded"]) == sorted(set(STUDENTS) - set(done))
    assert graded(course) == list(STUDENTS)
    assert {student: scores(course, student) for student in STUDENTS} == EXPECTED
    assert sorted(path.name for path in course.glob("autograded/*/*")) == [ASSIGNMENT] * 3  # no staging left


def _bundled_config(course):
    """SHA-256 of the course bundle autograde-class packs, and the nbgrader_config.py it carries."""
    bundle = workunit.pack_course(course, ASSIGNMENT)
    with tempfile.TemporaryDirectory() as folder:
        workunit.unpack_course(bundle, folder)
        return (Path(folder) / "nbgrader_config.py").read_bytes()


def test_dask_scheduler_runs_the_same_unit_of_work(course, fake):
    """Given a Dask client, does autograde-class run each student's unit of work on the cluster's workers, given the
    course as one bundle of bytes (no path), and merge the same grades?"""
    distributed = pytest.importorskip("dask.distributed", reason="Dask's distributed scheduler is not installed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address="127.0.0.1:0") as cluster, \
            distributed.Client(cluster) as client:
        report = classgrading.autograde_class(course, scheduler=client, progress=False)
    assert sorted(report["graded"]) == list(STUDENTS)
    assert len(fake.places) == 3 and len(set(fake.places)) == 1 and fake.places[0][1] is True  # one bundle, on Dask
    assert _bundled_config(course) == (course / "nbgrader_config.py").read_bytes()
    assert {student: scores(course, student) for student in STUDENTS} == EXPECTED


def test_a_relative_course_folder_reaches_the_workers_as_the_drivers(course, fake, monkeypatch):
    """Is a relative --course-dir read on the driver, so that every worker, whatever its own folder, grades the
    driver's course (a real cluster's workers said "FileNotFoundError nbgrader_config.py" for every student)?"""
    distributed = pytest.importorskip("dask.distributed", reason="Dask's distributed scheduler is not installed")
    monkeypatch.chdir(course.parent)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address="127.0.0.1:0") as cluster, \
            distributed.Client(cluster) as client:
        report = classgrading.autograde_class(Path(course.name), scheduler=client, progress=False)
    assert sorted(report["graded"]) == list(STUDENTS)
    assert [on_dask for _, on_dask in fake.places] == [True] * 3
    assert {student: scores(course, student) for student in STUDENTS} == EXPECTED


def test_one_students_failure_costs_that_student_alone(course, fake, capsys):
    """When grading a student fails, are the others graded, that one reported NOT GRADED (exit status 1) and left
    for the next run?"""
    from mnist_lessons.cli import main

    fake.fail["bob"] = RuntimeError("nbgrader crashed")
    assert main(["autograde-class", "--course-dir", str(course)]) == 1
    assert "  NOT GRADED bob: grading failed (RuntimeError: nbgrader crashed)\n" in capsys.readouterr().out
    assert graded(course) == ["ada", "cyd"]
    del fake.fail["bob"]
    assert classgrading.autograde_class(course, progress=False)["graded"] == ["bob"]


def test_class_summary(course, fake):
    """Does the summary give the score distribution and the exercises most students missed?"""
    assert classgrading.class_summary(course) == "No graded submissions of mnist yet."
    classgrading.autograde_class(course, progress=False)
    assert classgrading.class_summary(course).splitlines() == [
        "3 students graded on mnist: mean 5.3 of 8, median 6, lowest 2, highest 8",  # ada 8, bob 6, cyd 2
        "    0.0 -   1.6 |  0",
        "    1.6 -   3.2 | # 1",
        "    3.2 -   4.8 |  0",
        "    4.8 -   6.4 | # 1",
        "    6.4 -   8.0 | # 1",
        "Exercises most often missed:",
        "  one_hot_labels (02_preprocess): 2 of 3 students",
        "  load_data (01_load_data): 1 of 3 students",
        "  preprocess_images (02_preprocess): 1 of 3 students",
    ]


def test_command_prints_count_notes_summary_and_reports(course, fake, capsys):
    """Does `mnist-lessons autograde-class` print how many it graded and skipped, each student's notes, the class
    summary and where the class report and LMS export are?"""
    from mnist_lessons.cli import main

    fake.notes["bob"] = [EDITED]
    assert main(["autograde-class", "--course-dir", str(course), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Graded 3 students in ") and "skipped" not in out.splitlines()[0]
    assert f"\n  note for bob: {EDITED}\n" in out
    assert classgrading.class_summary(course) in out
    reports = course / "reports"
    assert (f"Class report: {reports / 'class-report.html'}\nGrades for an LMS: {reports / 'grades-canvas.csv'} "
            f"(Canvas), {reports / 'grades-moodle.csv'} (Moodle); each lesson and exercise: "
            f"{reports / 'grades-lms.csv'}\n") in out
    assert (reports / "grades-canvas.csv").read_text().splitlines()[0] == \
        "Student,ID,SIS User ID,SIS Login ID,Section,mnist"
    with open(reports / "grades-lms.csv", newline="") as file:
        assert {row["student_id"]: row["mnist"] for row in csv.DictReader(file)} == {"ada": "8", "bob": "6", "cyd": "2"}
    assert main(["autograde-class", "--course-dir", str(course)]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("; 3 already graded, skipped")


def test_merge_keeps_penalty_notes_and_flag(course, fake):
    """Does merging a student's result keep nbgrader's late penalty, the notes as comments and the flag, so that the
    LMS export counts the penalty, and does a regrade leave a flag set?"""
    result = fake_result(workunit.pack_submission(course, "bob", ASSIGNMENT, []), gradebooks.SCORES["bob"])
    notes = f"**Notes from the grader**\n\n- {EDITED}"
    result.update(penalties={"01_load_data": 0.0, "02_preprocess": 2.0}, flagged=["02_preprocess"],
                  comments={"02_preprocess": {"one_hot_labels": notes}})
    classgrading.merge_result(course, result)
    classgrading.merge_result(course, {**result, "flagged": []})  # regraded, flagging nothing
    export = classgrading.write_reports(course)["export"]
    with open(export, newline="") as file:
        bob = next(row for row in csv.DictReader(file) if row["student_id"] == "bob")
    assert [bob[key] for key in ("mnist", "mnist late penalty", "mnist raw score", "mnist/02_preprocess",
                                 "mnist/02_preprocess/check_one_hot_labels")] == ["4", "2", "6", "2", "0"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert gradebook.find_comment("one_hot_labels", "02_preprocess", ASSIGNMENT, "bob").auto_comment == notes
        assert gradebook.find_submission_notebook("02_preprocess", ASSIGNMENT, "bob").flagged
        assert not gradebook.find_submission_notebook("01_load_data", ASSIGNMENT, "bob").flagged


def test_submission_is_taken_as_data(course):
    """Does a submission travel as data: its lesson notebooks, timestamp.txt and submission_secret.txt byte for byte,
    nothing else, a note for a lesson that is missing, and the same digest for the same bytes?"""
    submitted, target = course / "submitted" / "ada" / ASSIGNMENT, course.parent / "scratch"
    shutil.copy(SOLUTIONS / "01_load_data.ipynb", submitted)  # 02_preprocess.ipynb not handed in
    (submitted / "submission_secret.txt").write_text("ab" * 64)  # nbgrader submit's; release_feedback needs it
    (submitted / "helper.py").write_text("print('not a lesson')")
    names = workunit.release_names(course, ASSIGNMENT)
    submission = workunit.pack_submission(course, "ada", ASSIGNMENT, names)
    release = course / "course" / ASSIGNMENT
    assert workunit.unpack_submission(submission, target, release) == [missing_note("02_preprocess")]
    assert sorted(path.name for path in target.iterdir()) == ["01_load_data.ipynb", "submission_secret.txt",
                                                            "timestamp.txt"]
    assert (target / "01_load_data.ipynb").read_bytes() == (SOLUTIONS / "01_load_data.ipynb").read_bytes()
    assert (target / "timestamp.txt").read_text() == ON_TIME
    assert (target / "submission_secret.txt").read_text() == "ab" * 64
    assert submission.key == ("ada", ASSIGNMENT, "2027-01-01T00:00:00", submission.digest)
    assert workunit.pack_submission(course, "ada", ASSIGNMENT, names).digest == submission.digest
    (submitted / "01_load_data.ipynb").write_text("{}")
    assert workunit.pack_submission(course, "ada", ASSIGNMENT, names).digest != submission.digest


def test_the_bundle_carries_what_nbgrader_needs_and_no_submission(course):
    """Does the course bundle hold nbgrader_config.py, the source and release and a gradebook, and nothing of
    submitted/?"""
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(workunit.pack_course(course, ASSIGNMENT))) as tar:
        names = sorted(tar.getnames())
    lessons = [f"{folder}/{ASSIGNMENT}/{lesson}.ipynb" for folder in ("course", "solutions")
               for lesson in gradebooks.LESSONS]
    assert names == sorted([f"course/{ASSIGNMENT}", "gradebook.db", "nbgrader_config.py",
                            f"solutions/{ASSIGNMENT}", *lessons])


def test_engine_notes_name_their_notebook(tmp_path):
    """Are the notes the engine keeps in each autograded notebook collected, each starting with the notebook's name?"""
    unreadable = "01_load_data.ipynb could not be read as a notebook (it is not valid JSON)"
    for lesson, notes in (("01_load_data", [unreadable]), ("02_preprocess", [EDITED.split(": ", 1)[1]])):
        (tmp_path / f"{lesson}.ipynb").write_text(json.dumps({"cells": [], "metadata": {NOTES_KEY: {"notes": notes}}}))
    assert classgrading._engine_notes(tmp_path) == [unreadable, EDITED]


# ---------------------------------------------------------------- one class through the real nbgrader


def make_student(folder, name, change=None):
    """A student's folder: lesson 02 of the solutions, then ``change(notebook, path)`` applied (False: it wrote the file)."""
    target = folder / name
    target.mkdir(parents=True)
    path = target / "02_preprocess.ipynb"
    shutil.copy(SOLUTIONS / path.name, path)
    if change:
        notebook = json.loads(path.read_text())
        if change(notebook, path) is not False:
            path.write_text(json.dumps(notebook))
    return target


def grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def tamper(notebook, _path):
    """Skip the check of one_hot_labels by editing its locked cell; run preprocess_images's check twice for double points."""
    cells = notebook["cells"]
    check = next(cell for cell in cells if grade_id(cell) == "check_one_hot_labels")
    check["source"] = "print('all good')\n"
    cells.append(copy.deepcopy(next(cell for cell in cells if grade_id(cell) == "check_preprocess_images")))


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
    """A late student, a broken notebook and edited and duplicated check cells, through plain nbgrader and
    autograde-class: are the late penalty, the notes (gradebook, flag, feedback), the export's columns and the report's
    counts right, the hidden tests kept from the feedback, submission_secret.txt in autograded/ for release_feedback
    and the submissions unchanged; does a killed run leave
    nothing running, and a finished one leave every student graded, for the next run to skip?"""
    from mnist_lessons.grading import isolation

    isolated = isolation.bubblewrap()[0] is not None
    students = {name: make_student(tmp_path / "students", name, change=change)
                for name, change in (("late", None), ("broken", broken_json), ("tamperer", tamper))}
    edited = "The locked cell 'check_one_hot_labels' had been edited; it was graded as released."
    twice = "The locked cell 'check_preprocess_images' appeared more than once; only its first copy was kept."
    # One course made, then copied for the second door: the same gradebook, release and submissions.
    built = classgrading.make_course(tmp_path / "plain", ["02_preprocess"], students)
    with open(built / "nbgrader_config.py", "a") as config:
        config.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    nbgrader(built, "db", "assignment", "add", ASSIGNMENT, "--duedate=2027-01-01 00:00:00 UTC")
    for student in students:
        when = "03:00:00" if student == "late" else "00:00:00"
        (built / "submitted" / student / ASSIGNMENT / "timestamp.txt").write_text(f"2027-01-01 {when}.000000 UTC")
    # nbgrader submit's secret, which release_feedback reads from autograded/ (it crashed after autograde-class)
    (built / "submitted" / "late" / ASSIGNMENT / "submission_secret.txt").write_text("5e" * 64)
    shutil.copytree(built, tmp_path / "class")
    for door in ("plain", "class"):
        course = tmp_path / door
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
                assert (f"<tr><td>02_preprocess</td><td><a href='#exercise-{exercise}'>{exercise}</a></td>"
                        "<td class='n'>2</td><td class='n'>0</td>"
                        "<td class='n'>0</td><td class='n'>0</td><td class='n'>0</td><td class='n'>1</td></tr>") in report
            # nbgrader's record of each submission (its timestamp.txt, every grade) is what is_graded asks for.
            assert [classgrading.is_graded(course, student) for student in students] == [True] * 3
            again = classgrading.autograde_class(course, progress=False)
            assert again["graded"] == [] and sorted(again["skipped"]) == sorted(students)
        nbgrader(course, "generate_feedback", ASSIGNMENT)
        nbgrader(course, "export", "--exporter=mnist_lessons.grading.export.LmsExportPlugin", "--to",
                 str(course / "lms.csv"))
        with open(course / "lms.csv", newline="") as file:
            rows = {row["student_id"]: row for row in csv.DictReader(file)}
        assert [rows["late"][key] for key in ("mnist", "mnist late penalty", "mnist raw score", "mnist/02_preprocess",
                                              "mnist/02_preprocess/check_one_hot_labels")] == ["0", "4", "4", "4", "2"]
        assert rows["tamperer"]["mnist"] == "4"  # the edited check restored, the duplicated one graded once
        assert rows["broken"]["mnist"] == "0" and rows["broken"]["mnist/02_preprocess/check_preprocess_images"] == "0"
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            notebook = {student: gradebook.find_submission_notebook("02_preprocess", ASSIGNMENT, student)
                        for student in students}
            # Every notebook graded without the sandbox carries that note, so is flagged: the late one too.
            assert [notebook[student].flagged for student in students] == [not isolated, True, True], door
            assert [gradebook.find_submission(ASSIGNMENT, student).needs_manual_grade for student in students] == \
                [False] * 3
            assert edited in gradebook.find_comment("one_hot_labels", "02_preprocess", ASSIGNMENT, "tamperer").comment
            assert twice in gradebook.find_comment("preprocess_images", "02_preprocess", ASSIGNMENT, "tamperer").comment
            assert "could not be read as a notebook" in \
                gradebook.find_comment("preprocess_images", "02_preprocess", ASSIGNMENT, "broken").comment
        feedback = {student: (course / "feedback" / student / ASSIGNMENT / "02_preprocess.html").read_text()
                    for student in students}
        assert "had been edited; it was graded as released." in feedback["tamperer"]
        assert "appeared more than once; only its first copy was kept." in feedback["tamperer"]
        assert "could not be read as a notebook (it is not valid JSON" in feedback["broken"]
        assert ("Notes from the grader" in feedback["late"]) == (not isolated)
        assert "Late submission penalty" in feedback["late"]
        for page in feedback.values():
            assert "HIDDEN TESTS" not in page and "hidden=True" not in page
        assert (course / "autograded" / "late" / ASSIGNMENT / "submission_secret.txt").read_text() == "5e" * 64
        for student, folder in students.items():  # the submitted files themselves are never changed
            submitted = course / "submitted" / student / ASSIGNMENT / "02_preprocess.ipynb"
            assert submitted.read_bytes() == (folder / "02_preprocess.ipynb").read_bytes(), (door, student)


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
