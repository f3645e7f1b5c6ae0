"""Time grading a class: plain `nbgrader autograde` (one student at a time) against `mnist-lessons autograde-class`.

    python benchmarks/grade_class.py [--students 20] [--lessons 01_load_data 02_preprocess] [--jobs N]

Both run in this one process's run, on two identical course directories made
by classgrading.make_course, with the same synthetic class: a third complete
(the solutions), a third untouched (the release), a third with lesson 02's
one_hot_labels wrong. Prints both times, their ratio, and checks that both
gave every student the same scores.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from mnist_lessons.grading import classgrading
from mnist_lessons.exercises import LESSONS

ROOT = Path(__file__).resolve().parents[1]


def synthetic_class(folder, count, lessons):
    students = {}
    for index in range(count):
        name = f"student{index + 1:02d}"
        target = folder / name
        target.mkdir(parents=True)
        base = ROOT / ("course" if index % 3 == 1 else "solutions") / "mnist"
        for lesson in lessons:
            shutil.copy(base / f"{lesson}.ipynb", target)
        if index % 3 == 2 and "02_preprocess" in lessons:
            path = target / "02_preprocess.ipynb"
            notebook = json.loads(path.read_text())
            for cell in notebook["cells"]:
                if cell["metadata"].get("nbgrader", {}).get("grade_id") == "one_hot_labels":
                    cell["source"] = "def one_hot_labels(labels, num_classes=10):\n    return labels\n"
            path.write_text(json.dumps(notebook))
        students[name] = target
    return students


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--lessons", nargs="+", default=list(LESSONS), choices=list(LESSONS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="grade-class-") as work:
        work = Path(work)
        students = synthetic_class(work / "class", args.students, args.lessons)
        one_at_a_time = classgrading.make_course(work / "nbgrader", args.lessons, students)
        parallel = classgrading.make_course(work / "parallel", args.lessons, students)
        print(f"{args.students} students, lessons {', '.join(args.lessons)}, {os.cpu_count()} cores", flush=True)

        started = time.perf_counter()
        classgrading.nbgrader(one_at_a_time, "autograde", classgrading.ASSIGNMENT)
        sequential = time.perf_counter() - started
        print(f"nbgrader autograde (one at a time): {sequential:7.1f} s", flush=True)

        started = time.perf_counter()
        report = classgrading.autograde_class(parallel, jobs=args.jobs, progress=False)
        driver = time.perf_counter() - started
        print(f"autograde-class --jobs {args.jobs}:        {driver:7.1f} s  ({sequential / driver:.2f}x faster)")

        same = all(classgrading.submission_scores(one_at_a_time, s) == classgrading.submission_scores(parallel, s)
                   for s in students)
        print("same scores for every student:", same, "| failed:", report["failed"] or "none")
        return 0 if same and not report["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
