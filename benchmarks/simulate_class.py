"""Simulate grading a large class on a local Dask cluster: the driver's wall time and peak memory (issue 29).

    python benchmarks/simulate_class.py [--students 1000] [--workers 2] [--threads 2] [--reports] [--grade]

The class is classgrading.synthetic_class's four kinds of student repeated
(hard links to four students' files); the course is made by
classgrading.make_course with every lesson. Each submission goes through
autograde-class's real path: packed on the driver, sent to a `dask worker` process,
merged into the gradebook by the driver (the reports at the end only with
``--reports``, and timed apart). Only
the grading itself is a stand-in (``stand_in``: full marks for every readable
notebook, its autograded files as large as the submitted ones), so that what
is measured is the driver's side, not nbgrader's. Prints the wall time, the
driver's peak resident memory, and its resident memory after every tenth of
the class: flat when the driver holds only what it must write. With ``--grade``
there is no stand-in: every student is graded for real, with nbgrader and the
course's engine, and the figures are the class's own (students an hour).
"""

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tracemalloc
from pathlib import Path

from mnist_lessons.grading import classgrading, processes

CLUSTER_SECONDS = 120  # to start a scheduler and its workers: a few seconds on a loaded 2-core machine
DIE_WITH_DRIVER = ("setpriv", "--pdeathsig", "KILL", "--") if shutil.which("setpriv") else ()  # even on SIGKILL
LOOPBACK_HTTP = ("--no-dashboard", "--dashboard-address", "127.0.0.1:0")  # Dask serves HTTP even without a dashboard


def stand_in(course_bundle, submission):
    """In place of classgrading.grade_student, on a worker: every grade cell of every readable notebook earns its
    points; the autograded files are the submitted bytes. Defined in __main__, so Dask sends it by value."""
    cells = {}
    with tarfile.open(fileobj=io.BytesIO(course_bundle), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.name.startswith(f"course/{submission.assignment}/") and member.name.endswith(".ipynb"):
                notebook = json.load(tar.extractfile(member))
                cells[Path(member.name).stem] = {
                    cell["metadata"]["nbgrader"]["grade_id"]: cell["metadata"]["nbgrader"].get("points", 0)
                    for cell in notebook["cells"] if cell.get("metadata", {}).get("nbgrader", {}).get("grade")}
    handed_in = {Path(name).stem: payload for name, kind, payload in submission.notebooks if kind == "file"}
    grades = {}
    for lesson, points in cells.items():
        try:
            readable = lesson in handed_in and bool(json.loads(handed_in[lesson]).get("cells"))
        except ValueError:
            readable = False
        grades[lesson] = {grade_id: {"auto_score": float(score) if readable else 0.0, "max_score": float(score)}
                          for grade_id, score in points.items()}
    from mnist_lessons.grading.workunit import submission_time

    return {"student": submission.student, "assignment": submission.assignment, "notes": [], "grades": grades,
            "penalties": {}, "comments": {}, "flagged": [],
            "files": {f"{lesson}.ipynb": payload for lesson, payload in handed_in.items()},
            "timestamp": submission_time(submission.timestamp), "error": None, "seconds": 0.0}


@contextlib.contextmanager
def _cluster(work, workers, threads):
    """A `dask scheduler` and ``workers`` `dask worker` processes on 127.0.0.1, so that the driver's memory is its
    own (Dask's LocalCluster keeps its scheduler in the driver's process); yields the scheduler's address."""
    dask = Path(sys.executable).with_name("dask")
    started = []
    try:
        scheduler_file = work / "scheduler.json"
        started.append(subprocess.Popen([*DIE_WITH_DRIVER, dask, "scheduler", "--host", "127.0.0.1", "--port", "0", *LOOPBACK_HTTP,
                                         "--scheduler-file", scheduler_file], stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + CLUSTER_SECONDS
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the scheduler wrote no {scheduler_file} within {CLUSTER_SECONDS} s")
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for index in range(workers):
            started.append(subprocess.Popen([*DIE_WITH_DRIVER, dask, "worker", address, "--nthreads", str(threads), "--host",
                                             "127.0.0.1", *LOOPBACK_HTTP, "--local-directory", work / f"w{index}"],
                                            stderr=subprocess.DEVNULL))
        yield address
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the local cluster")
    parser.add_argument("--threads", type=int, default=2, help="threads per worker")
    parser.add_argument("--reports", action="store_true",
                        help="write the class report and LMS files too, timed apart (the grading's figures exclude them)")
    parser.add_argument("--grade", action="store_true",
                        help="grade every student for real (nbgrader and the engine) instead of the stand-in")
    args = parser.parse_args(argv)
    from dask.distributed import Client

    with tempfile.TemporaryDirectory(prefix="simulate-class-") as work:
        work = Path(work)
        kinds = classgrading.synthetic_class(work / "kinds", len(classgrading.SYNTHETIC_KINDS))
        course = classgrading.make_course(work / "course", None, {})
        for index in range(args.students):
            _, source = list(kinds.values())[index % len(kinds)]
            target = course / "submitted" / f"student{index + 1:05d}" / classgrading.ASSIGNMENT
            target.mkdir(parents=True)
            for path in source.iterdir():
                os.link(path, target / path.name)
            (target / "timestamp.txt").write_text("2027-01-01 00:00:00.000000 UTC")
        if not args.grade:
            classgrading.grade_student = stand_in  # the one stand-in: everything else is autograde-class's own
        samples = []
        merge = classgrading.merge_result

        def merge_and_sample(course_, result, *gradebook):
            merge(course_, result, *gradebook)
            merge_and_sample.count += 1
            if merge_and_sample.count % max(1, args.students // 10) == 0:
                samples.append((merge_and_sample.count, processes.resident_bytes([os.getpid()])))
                if tracemalloc.is_tracing():
                    print(merge_and_sample.count, "traced MiB", tracemalloc.get_traced_memory()[0] / 2**20, flush=True)

        merge_and_sample.count = 0
        classgrading.merge_result = merge_and_sample
        write_reports, reports = classgrading.write_reports, {}

        def timed_reports(course_, assignment):  # the class report and LMS files, timed apart; skipped unless asked
            reports["merged"] = time.perf_counter()
            reports["peak_before"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            if not args.reports:
                return {"report": None, "export": None, "canvas": None, "moodle": None, "lms_warnings": []}
            return write_reports(course_, assignment)

        classgrading.write_reports = timed_reports
        with _cluster(work, args.workers, args.threads) as address:
            with Client(address) as client:
                client.wait_for_workers(args.workers, timeout=CLUSTER_SECONDS)
            started = time.perf_counter()  # the driver makes its own client, as `--scheduler ADDRESS` does
            report = classgrading.autograde_class(course, scheduler=address, progress=False)
            seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux gives KiB
        graded_seconds = reports["merged"] - started
        print(f"{len(report['graded'])} of {args.students} students graded, {len(report['failed'])} not, on "
              f"{args.workers} worker processes of {args.threads} threads, {os.cpu_count()} cores: "
              f"{graded_seconds:.0f} s to the last write"
              + (f", {seconds - graded_seconds:.0f} s more for the reports" if args.reports else " (reports skipped)")
              + (f"; graded for real: {len(report['graded']) * 3600 / graded_seconds:.0f} students an hour"
                 if args.grade else ""))
        print(f"driver's peak resident memory: {reports['peak_before'] / 2**20:.0f} MiB to the last write"
              + (f", {peak / 2**20:.0f} MiB with the reports" if args.reports else "")
              + "; after each tenth of the class: "
              + ", ".join(f"{count}: {rss / 2**20:.0f}" for count, rss in samples) + " MiB")
        shutil.rmtree(work, ignore_errors=True)
    return 0 if not report["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
