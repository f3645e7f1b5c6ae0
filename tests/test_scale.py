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
from test_instructors import (EXPECTED, ON_TIME, STUDENTS, assignment_gradebook, course, fake,  # noqa: F401 -- fixtures
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


def test_the_driver_writes_each_result_once_and_never_an_older_one(course, fake, monkeypatch):
    """When the grading hands the driver bob's result twice, then an older submission of his, does the gradebook take
    the first alone, and does the report say why the older one was not written?"""
    merged = []
    merge = classgrading.merge_result
    monkeypatch.setattr(classgrading, "merge_result", lambda course_, result: merged.append(result) or merge(course_, result))
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
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                     host="127.0.0.1") as cluster, distributed.Client(cluster) as client:
        report = classgrading.autograde_class(course, scheduler=client, progress=False)
    assert sorted(report["graded"]) == ["ada", "cyd"] and list(report["failed"]) == ["bob"]
    assert report["failed"]["bob"].startswith("the worker grading this submission died each time it was tried (2 times")
    assert graded(course) == ["ada", "cyd"]
    with pytest.raises(Exception, match="No such submission"):
        scores(course, "bob")  # no zero written
