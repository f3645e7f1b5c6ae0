"""Grading a class at scale (grading/workunit.py, grading/classgrading.py): each result written once, a poison
submission given up on, and a real Dask cluster that loses a worker while it grades (issue 29).

The rules are tested in milliseconds on test_instructors.py's small course and fake grading step; the cluster's
tests start real worker processes.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gradebooks
from mnist_lessons.grading import classgrading, processes, workunit
from mnist_lessons.grading.classgrading import ASSIGNMENT
from test_instructors import (EXPECTED, ON_TIME, assignment_gradebook, course, fake,  # noqa: F401 -- fixtures
                              fake_result, graded, scores)

TIME = "2027-01-01T00:00:00"
LATER = "2027-01-02T00:00:00"


def key(time=TIME, digest="d1", student="bob"):
    return student, ASSIGNMENT, time, digest


# ---------------------------------------------------------------- exactly once in the gradebook


def test_the_same_result_twice_is_written_once():
    """Is a result whose key (student, assignment, time, digest) is already written refused as a duplicate, and one
    of the same time with other bytes (a resubmission with no new timestamp.txt) written?"""
    ledger = workunit.Ledger()
    assert ledger.admit(key()) == "write"
    ledger.written(key())
    assert ledger.admit(key()) == "duplicate"
    assert ledger.admit(key(digest="d2")) == "write"
    assert ledger.admit(key(student="ada")) == "write"
    assert ledger.admit(key(time=None)) == "write"  # no timestamp.txt: nbgrader cannot tell, so it is graded


def test_an_older_submissions_result_after_a_newer_ones_is_ignored():
    """Once a newer submission's result is written (in this run, or in the gradebook before it), is an older one's
    refused as stale, and a newer one's still written?"""
    ledger = workunit.Ledger()
    ledger.written(key(LATER))
    assert ledger.admit(key(TIME, "d0")) == "stale"
    assert ledger.admit(key("2027-01-03T00:00:00", "d3")) == "write"
    seeded = workunit.Ledger({("bob", ASSIGNMENT): (LATER, None)})  # the gradebook's time, no digest known
    assert seeded.admit(key(TIME)) == "stale" and seeded.admit(key(LATER)) == "write"


@pytest.mark.parametrize("data_filter", [True, False], ids=["tarfile-filter", "older-3.11"])
def test_a_course_bundle_unpacks_plain_files_only(tmp_path, monkeypatch, data_filter):
    """Does a worker unpack a course bundle's files and folders, and refuse a link in it, with tarfile's data filter
    and, on a Python 3.11 before it (Debian 12's 3.11.2), by the same rule by hand?"""
    import io
    import tarfile

    if not data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)

    def bundle(link):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            config = tarfile.TarInfo("nbgrader_config.py")
            config.size = 5
            tar.addfile(config, io.BytesIO(b"c = 1"))
            if link:
                escape = tarfile.TarInfo("source/escape")
                escape.type, escape.linkname = tarfile.SYMTYPE, "/etc/shadow"
                tar.addfile(escape)
        return buffer.getvalue()

    workunit.unpack_course(bundle(link=False), tmp_path / "plain")
    assert (tmp_path / "plain" / "nbgrader_config.py").read_text() == "c = 1"
    with pytest.raises((ValueError, tarfile.TarError)):
        workunit.unpack_course(bundle(link=True), tmp_path / "linked")
    assert not os.path.lexists(tmp_path / "linked" / "source" / "escape")


def test_the_driver_writes_each_result_once_and_never_an_older_one(course, fake, monkeypatch):
    """When the grading hands the driver bob's result twice, then an older submission of his, does the gradebook take
    the first alone, and does the report say why the older one was not written?"""
    merged = []
    merge = classgrading.merge_result
    monkeypatch.setattr(classgrading, "merge_result",
                        lambda course_, result, *gradebook: merged.append(result) or merge(course_, result, *gradebook))
    names = workunit.release_names(course, ASSIGNMENT)
    newer = workunit.pack_submission(course, "bob", ASSIGNMENT, names)
    (course / "submitted" / "bob" / ASSIGNMENT / "timestamp.txt").write_text("2026-12-31 00:00:00.000000 UTC")
    older = workunit.pack_submission(course, "bob", ASSIGNMENT, names)
    worse = dict(gradebooks.SCORES["bob"], check_load_data=0)

    def results(*_args):
        yield newer.key, fake_result(newer, gradebooks.SCORES["bob"])
        yield newer.key, fake_result(newer, gradebooks.SCORES["bob"])  # Dask ran it twice
        yield older.key, fake_result(older, worse)

    monkeypatch.setattr(classgrading, "_results", results)
    report = classgrading.autograde_class(course, progress=False, only=["bob"])
    assert report["graded"] == ["bob"] and len(merged) == 1
    assert report["failed"] == {"bob": "not written: the gradebook holds a newer submission (2027-01-01T00:00:00) "
                                       "than submitted/bob/mnist/timestamp.txt (2026-12-31T00:00:00)"}
    assert scores(course, "bob") == EXPECTED["bob"]


def test_a_submission_older_than_the_gradebooks_is_not_sent_to_be_graded(course, fake, monkeypatch):
    """When submitted/ holds an older submission than the one the gradebook has graded (copied back by hand, say),
    is it left out before grading, every run, with the reason, rather than graded and then refused?"""
    classgrading.autograde_class(course, progress=False)
    (course / "submitted" / "bob" / ASSIGNMENT / "timestamp.txt").write_text("2026-12-31 00:00:00.000000 UTC")
    sent = []
    results = classgrading._results
    monkeypatch.setattr(classgrading, "_results",
                        lambda course_, students, *rest: sent.extend(students) or results(course_, students, *rest))
    for _ in range(2):
        report = classgrading.autograde_class(course, progress=False)
        assert "bob" not in sent and report["graded"] == []
        assert report["failed"] == {"bob": "not written: the gradebook holds a newer submission (2027-01-01T00:00:00) "
                                           "than submitted/bob/mnist/timestamp.txt (2026-12-31T00:00:00)"}
    assert scores(course, "bob") == EXPECTED["bob"]


# ---------------------------------------------------------------- a submission that kills its workers


class KilledWorker(Exception):
    """distributed.KilledWorker's shape: (task, last worker, allowed failures), without a scheduler to make one."""

    def __init__(self, task, last_worker, allowed_failures):
        super().__init__(task, last_worker, allowed_failures)
        self.last_worker, self.allowed_failures = last_worker, allowed_failures


def test_a_submission_that_killed_its_workers_is_not_graded_and_says_why():
    """When Dask gives up on a submission (KilledWorker), is it reported not graded, with no grade, saying how many
    tries it had and how to grade it alone; and a lost cluster put down to the grader, not the student?"""
    worker = type("WorkerState", (), {"address": "tcp://10.0.0.7:40123"})()
    poisoned = workunit.lost_result(key(), KilledWorker("grade_student-1", worker, 3))
    assert poisoned["grades"] == {} and poisoned["files"] == {} and poisoned["student"] == "bob"
    assert poisoned["error"] == ("the worker grading this submission died each time it was tried (4 times, the last "
                                 "on tcp://10.0.0.7:40123), so it was given up on and the class went on; grade it "
                                 "alone to see why: nbgrader autograde mnist --student bob")
    lost = workunit.lost_result(key(), OSError("Timed out trying to connect to tcp://10.0.0.7:40123"))
    assert lost["grades"] == {} and "a fault of the grader's, not the student's; run again" in lost["error"]


def poison_unit(course_bundle, submission):
    """In place of grade_student on a worker process: bob's submission kills the worker, the others are graded."""
    if submission.student == "bob":
        os.kill(os.getpid(), signal.SIGKILL)
    return fake_result(submission, gradebooks.SCORES[submission.student])


def test_a_poison_submission_is_tried_a_bounded_number_of_times(course, monkeypatch):
    """On a cluster of worker processes, when one submission kills every worker that grades it, is it tried
    allowed-failures + 1 times, then reported not graded, and the rest of the class graded?"""
    distributed = pytest.importorskip("dask.distributed", reason="Dask's distributed scheduler is not installed")
    import dask

    monkeypatch.setattr(classgrading, "grade_student", poison_unit)  # pickled by name: test_scale.poison_unit
    settings = {"distributed.scheduler.allowed-failures": 1,
                "distributed.scheduler.worker-saturation": 1.0}  # only the task that runs is blamed for a death
    with dask.config.set(settings), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address="127.0.0.1:0") as cluster, distributed.Client(cluster) as client:
        report = classgrading.autograde_class(course, scheduler=client, progress=False)
        assert "bob" in report["failed"] and "bob" not in report["graded"]
        assert report["failed"]["bob"].startswith("the worker grading this submission died each time it was tried "
                                                  "(2 times")
        # A classmate whose task waited on a worker that died may be given up on with it: Dask blames every task the
        # worker held (docs/cluster.md). Never a zero: reported not graded, and the next run grades them.
        assert set(report["graded"]) | set(report["failed"]) == {"ada", "bob", "cyd"}
        assert graded(course) == sorted(report["graded"])
        again = classgrading.autograde_class(course, scheduler=client, progress=False)
    assert list(again["failed"]) == ["bob"] and graded(course) == ["ada", "cyd"]
    with pytest.raises(Exception, match="No such submission"):
        scores(course, "bob")  # no zero written


# ---------------------------------------------------------------- a real cluster loses a worker while it grades

DASK = Path(sys.executable).with_name("dask")  # the environment's own `dask` command
CLUSTER_SECONDS = 120  # to start a scheduler and two workers, on a loaded 2-core machine a few seconds
LOOPBACK_HTTP = ("--no-dashboard", "--dashboard-address", "127.0.0.1:0")  # Dask serves HTTP even without a dashboard
CLASS_SECONDS = 900  # three students of one lesson, one of them twice: about 1 to 2 minutes on 2 cores


def _wait(what, done, seconds):
    """Poll ``done()`` until it returns something true, at most ``seconds``; return it."""
    deadline = time.monotonic() + seconds
    while not (value := done()):
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.1)
    return value


def _alive(pid):
    stat = processes.proc_stat(pid)
    return stat is not None and stat[0] != "Z"


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().decode(errors="replace").split("\0")
    except OSError:
        return []


def _wrong_one_hot(notebook, _path):
    """lesson 02's one_hot_labels returns the labels as they are: 2 of the lesson's 4 points."""
    for cell in notebook["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "one_hot_labels":
            cell["source"] = "def one_hot_labels(labels, num_classes=10):\n    return labels\n"


@pytest.fixture
def dask_cluster(tmp_path):
    """A real `dask scheduler` and two `dask worker --no-nanny` processes on 127.0.0.1, a thread each, their
    scratch in a TMPDIR of their own: {"address", "workers": [Popen], "scratch": Path, "env"}; all stopped after."""
    pytest.importorskip("dask.distributed", reason="Dask's distributed scheduler is not installed")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    started = []

    def start(*args):
        started.append(subprocess.Popen([str(DASK), *args], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True))
        return started[-1]

    try:
        scheduler_file = tmp_path / "scheduler.json"
        start("scheduler", "--host", "127.0.0.1", "--port", "0", *LOOPBACK_HTTP,
              "--scheduler-file", str(scheduler_file))
        address = _wait("the scheduler's file", lambda: scheduler_file.exists() and json.loads(
            scheduler_file.read_text() or "{}").get("address"), CLUSTER_SECONDS)
        workers = [start("worker", address, "--no-nanny", "--nthreads", "1", "--host", "127.0.0.1", *LOOPBACK_HTTP,
                         "--name", f"w{index}", "--local-directory", str(tmp_path / f"w{index}"))
                   for index in range(2)]
        from dask.distributed import Client

        with Client(address, timeout=CLUSTER_SECONDS) as client:
            client.wait_for_workers(2, timeout=CLUSTER_SECONDS)
        yield {"address": address, "workers": workers, "scratch": scratch, "env": env}
    finally:
        classgrading.kill_trees([process.pid for process in started])
        for process in started:
            process.wait()


def test_a_worker_killed_while_it_grades_leaves_every_student_graded_once(tmp_path, dask_cluster):
    """With a real scheduler and two workers, and the class's course given by a relative --course-dir: when one
    worker is killed with SIGKILL while its nbgrader grades, is every student graded once with the score they earned,
    is no process of the dead worker's grading left running, and no scratch folder left behind?"""
    from test_instructors import make_student

    students = {name: make_student(tmp_path / "students", name, change=change)
                for name, change in (("ada", None), ("bob", _wrong_one_hot), ("cyd", None))}
    course = classgrading.make_course(tmp_path / "course", ["02_preprocess"], students)
    for student in students:
        (course / "submitted" / student / ASSIGNMENT / "timestamp.txt").write_text(ON_TIME)
    (course / "submitted" / "ada" / ASSIGNMENT / "submission_secret.txt").write_text("5e" * 64)
    driver = subprocess.Popen([sys.executable, "-m", "mnist_lessons.cli", "autograde-class", "--course-dir", "course",
                               "--scheduler", dask_cluster["address"]], cwd=tmp_path, env=dask_cluster["env"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        def grading_worker():  # a worker whose nbgrader's sandbox runs: (worker, its grading processes)
            for worker in dask_cluster["workers"]:
                tree = processes.trees([worker.pid]) - {worker.pid}
                if any("grading.forkserver" in arg for pid in tree for arg in _cmdline(pid)):
                    return worker, tree
            assert driver.poll() is None, driver.communicate()
            return None

        worker, grading = _wait("a worker grading", grading_worker, CLASS_SECONDS)
        grading = processes.trees([worker.pid]) - {worker.pid}  # what it started since, too
        worker.kill()
        worker.wait()
        out, err = driver.communicate(timeout=CLASS_SECONDS)
    finally:
        classgrading.kill_trees([driver.pid])
    assert driver.returncode == 0, out[-3000:] + err[-3000:]
    assert out.startswith("Graded 3 students in ") and "NOT GRADED" not in out
    assert {student: scores(course, student) for student in students} == {
        "ada": {"02_preprocess": 4.0}, "bob": {"02_preprocess": 2.0}, "cyd": {"02_preprocess": 4.0}}
    assert (course / "autograded" / "ada" / ASSIGNMENT / "submission_secret.txt").read_text() == "5e" * 64
    assert _wait("the dead worker's grading to end", lambda: not any(_alive(pid) for pid in grading), 30)
    assert sorted(dask_cluster["scratch"].glob(f"{classgrading.SCRATCH_PREFIX}*")) == []
    assert sorted(dask_cluster["scratch"].glob("mnist-grading-*")) == []  # the engine's, of the nbgrader killed


# ---------------------------------------------------------------- the bench's class


def test_the_bench_reports_a_class_in_students_an_hour_a_core():
    """Does `bench --only class` parse, write results-class-latest.json, and show each door's students an hour a
    core, with what was not graded and scores that differ between the doors?"""
    import argparse

    from mnist_lessons import bench

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert parser.parse_args(["--only", "class"]).only == ["class"]
    assert bench.default_out(["class"]) == Path("benchmarks/results-class-latest.json")
    door = {"seconds": 120.0, "students_per_hour_per_core": 60.0, "graded": 4, "failed": {}}
    result = {"students": 4, "kinds": {"s1": "complete", "s2": "half done", "s3": "wrong", "s4": "broken"},
              "lessons": "all", "cores": 2, "local": door,
              "cluster": {**door, "seconds": 144.0, "students_per_hour_per_core": 50.0, "workers": 2,
                          "failed": {"s4": "the cluster lost this student's grading"}},
              "scores": {}, "same_scores": False}
    results = {"created": "2026-12-07T00:00:00+00:00", "machine": {"cpu": "AMD EPYC", "cores": 2}, "class": result}
    rows = bench.format_table(results).splitlines()[3:]
    assert rows == [
        "autograde-class, a class (complete, half done, wrong, broken)  "
        "4 students here in 120.0 s: 60.0 students an hour a core",
        "the same class on a Dask cluster                               "
        "4 students on a local Dask cluster of 2 worker processes in 144.0 s: 50.0 students an hour a core; "
        "1 NOT GRADED; scores DIFFER from the local run's"]
    assert bench._class_figure({"error": "OSError: no room"}, "local") == "failed: OSError: no room"


def test_the_bench_grades_a_synthetic_class_here_and_on_a_cluster():
    """Does the bench's class part grade the four kinds of student (one lesson, --tiny) in both doors, every one of
    them, with the scores each earned, the same in both?"""
    pytest.importorskip("dask.distributed", reason="Dask's distributed scheduler is not installed")
    from mnist_lessons import bench

    result = bench._bench_class(tiny=True)
    assert "error" not in result, result
    assert sorted(result["kinds"].values()) == sorted(classgrading.SYNTHETIC_KINDS)
    assert [result[door]["graded"] for door in ("local", "cluster")] == [4, 4]
    earned = {"complete": 4.0, "half done": 4.0, "wrong": 2.0, "broken": 0.0}  # of lesson 02's 4 points
    assert {student: result["kinds"][student] for student in result["scores"]} == result["kinds"]
    assert all(result["scores"][student] == earned[kind] for student, kind in result["kinds"].items()), result
    assert result["same_scores"] and result["local"]["students_per_hour_per_core"] > 0
