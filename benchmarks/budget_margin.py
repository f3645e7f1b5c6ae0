"""The grading budgets' margin: an honest submission's cost under load, against the limits it must never reach.

    python benchmarks/budget_margin.py [--hogs 2]

Grades the complete submission (solutions/mnist) with the engine while ``--hogs`` processes spin on the CPU, as
other students' grading would, and prints, per lesson, what its sandboxed children ran (``child_seconds``, the
time ``engine.LESSON_SECONDS`` bounds) and the whole submission's wall time (which ``engine.SUBMISSION_SECONDS``
bounds), beside those limits.
"""

import argparse
import json
import multiprocessing
import os
import time
from pathlib import Path

from mnist_lessons.grading import engine

SUBMISSION = Path(__file__).resolve().parents[1] / "solutions" / "mnist"


def spin():
    while True:
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hogs", type=int, default=2, help="processes spinning beside the grading (default 2)")
    args = parser.parse_args()
    engine.grade_submission(SUBMISSION, ["02_preprocess"])  # the cache's warm-up and the imports, not measured
    hogs = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.hogs)]
    for hog in hogs:
        hog.start()
    try:
        started = time.monotonic()
        result = engine.grade_submission(SUBMISSION)
        wall = time.monotonic() - started
    finally:
        for hog in hogs:
            hog.kill()
    slowest = max(result.lessons.values(), key=lambda lesson: lesson.child_seconds)
    print(json.dumps({
        "hogs": args.hogs, "load_average": os.getloadavg(), "points": f"{result.points}/{result.max_points}",
        "child_seconds": {name: round(lesson.child_seconds, 1) for name, lesson in result.lessons.items()},
        "slowest_lesson": [slowest.lesson, round(slowest.child_seconds, 1), engine.LESSON_SECONDS],
        "submission": [round(wall, 1), engine.SUBMISSION_SECONDS],
    }, indent=1))


if __name__ == "__main__":
    main()
