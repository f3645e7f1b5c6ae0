"""The class report: an HTML page beside the gradebook, rewritten after each ``autograde-class`` run (instructors).

``class_report(gradebook, assignment, verdicts)`` gathers it as data from
nbgrader's gradebook (scores, late penalties, the notes SaveNotes stored as
comments, the review flags) and the engine's verdicts (kept in each
autograded notebook's metadata, read by ``read_verdicts``); ``render_html``
draws it: the score distribution, per exercise how many students passed, got
it wrong, did not attempt it, hit an error or a time limit, or had no
readable notebook, and a table of students with their scores and notes.
``write_class_report(course)`` writes ``<course>/reports/class-report.html``.
"""

import base64
import html
import io
import json
import re
import statistics
from pathlib import Path

from nbgrader.api import MissingEntry

from mnist_lessons import hints
from mnist_lessons.grading.engine import STUB_MESSAGE
from mnist_lessons.grading.preprocessors import NOTES_HEADING, NOTES_KEY
from mnist_lessons.grading.registry import EXERCISES

REPORT_PATH = Path("reports") / "class-report.html"  # in the course directory, beside gradebook.db
CATEGORIES = ("passed", "wrong", "not attempted", "error", "timeout", "no notebook")
ORDER = {exercise.name: index for index, exercise in enumerate(EXERCISES)}  # the course's order
UNREADABLE = "could not be read as a notebook"  # notebooks.unreadable_note's words
ERRORS = ("It raised", "could not be graded", "earns nothing", "returned something the check could not use")


def verdict_category(message):
    """The category of a failed verdict, from the engine's words (engine.py, checks.py).

    A time limit's message says it "took longer than"; an exercise left as the
    stub raised the stub's NotImplementedError ("Exercise not done yet"); an
    unreadable notebook was graded as the release with notebooks.unreadable_note;
    a crash, a memory blow-up or an exception is an error; the rest is a wrong answer.
    """
    message = message or ""
    if "took longer than" in message:
        return "timeout"
    if UNREADABLE in message:
        return "no notebook"
    if STUB_MESSAGE in message:
        return "not attempted"
    if any(words in message for words in ERRORS):
        return "error"
    return "wrong"


def read_verdicts(course, assignment):
    """{student: {lesson: {exercise: message or None when passed}}} from the autograded notebooks' metadata."""
    verdicts = {}
    for path in sorted(Path(course).glob(f"autograded/*/{assignment}/*.ipynb")):
        student = path.parent.parent.name
        try:
            meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get(NOTES_KEY, {})
        except (OSError, ValueError):
            continue
        verdicts.setdefault(student, {})[path.stem] = {
            name: None if verdict.get("passed") else str(verdict.get("message", ""))
            for name, verdict in meta.get("verdicts", {}).items()
        }
    return verdicts


def stored_notes(submitted_notebook):
    """The notes SaveNotes stored in a submitted notebook's comments, as plain text."""
    notes = []
    for comment in submitted_notebook.comments:
        if NOTES_HEADING in (comment.auto_comment or ""):
            for line in comment.auto_comment.split(NOTES_HEADING, 1)[1].splitlines():
                if line.startswith("- "):
                    notes.append(html.unescape(re.sub(r"\\([\\`*\[\]])", r"\1", line[2:])))
    return list(dict.fromkeys(notes))


def class_report(gradebook, assignment, verdicts=None, hints_seen=None):
    """The class report as data: students (scores, notes, flags, hints seen), per-exercise counts, the distribution.

    ``hints_seen``: {student: {exercise: highest tier}}, from the record the lessons keep beside a learner's
    notebooks (``mnist_lessons.hints``), for an instructor who leaves hints on in a graded class.
    """
    verdicts, hints_seen = verdicts or {}, hints_seen or {}
    try:
        maximum = gradebook.find_assignment(assignment).max_score
    except MissingEntry:
        maximum = 0.0
    students, counts = [], {}
    for submission in sorted(gradebook.assignment_submissions(assignment), key=lambda s: s.student.id):
        student = submission.student.id
        penalty = submission.late_submission_penalty or 0.0
        row = {"student": student, "name": " ".join(filter(None, (submission.student.first_name,
                                                                   submission.student.last_name))),
               "raw_score": submission.score, "late_penalty": penalty, "score": max(0.0, submission.score - penalty),
               "max_score": maximum, "notes": [], "flagged": [],
               "hints_seen": dict(sorted(hints_seen.get(student, {}).items(), key=lambda item: ORDER.get(item[0], 99)))}
        for notebook in sorted(submission.notebooks, key=lambda n: n.name):
            notes = stored_notes(notebook)
            row["notes"] += [note if note.startswith(notebook.name) else f"{notebook.name}: {note}" for note in notes]
            if notebook.flagged:
                row["flagged"].append(notebook.name)
            lesson = verdicts.get(student, {}).get(notebook.name)
            for grade in notebook.grades:
                exercise = grade.name.removeprefix("check_")
                if grade.max_score and grade.score >= grade.max_score:
                    category = "passed"
                elif lesson is None or exercise not in lesson:
                    category = "no notebook"  # nothing graded by the engine: a lesson not submitted
                else:
                    category = verdict_category(lesson[exercise])
                by_category = counts.setdefault((notebook.name, exercise), dict.fromkeys(CATEGORIES, 0))
                by_category[category] += 1
        students.append(row)
    exercises = [{"lesson": lesson, "exercise": exercise, **by_category}
                 for (lesson, exercise), by_category in sorted(counts.items(),
                                                               key=lambda item: (item[0][0], ORDER.get(item[0][1], 99)))]
    scores = [row["score"] for row in students]
    return {
        "assignment": assignment, "max_score": maximum, "students": students, "exercises": exercises,
        "mean": statistics.mean(scores) if scores else None, "median": statistics.median(scores) if scores else None,
    }


def score_plot(scores, maximum):
    """A histogram of the scores as a PNG, base64-encoded for an <img> in the page."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 2.6), dpi=100)
    axes = figure.subplots()
    top = max(maximum, max(scores, default=0), 1)
    axes.hist(scores, bins=[i * top / 10 for i in range(11)], color="#3b6ea8", edgecolor="white")
    axes.set_xlim(0, top)
    axes.set_xlabel(f"score (of {maximum:g}, after late penalties)")
    axes.set_ylabel("students")
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.notes { max-width: 40em; overflow-wrap: anywhere; }
ul { margin: 0; padding-left: 1.2em; }
.flag { color: #b03a2e; font-weight: bold; }
"""


def render_html(report):
    """The report as one self-contained HTML page."""
    e = html.escape
    a, maximum = report["assignment"], report["max_score"]
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Class report: {e(a)}</title>"
             f"<style>{STYLE}</style></head><body>", f"<h1>Class report: {e(a)}</h1>"]
    if not report["students"]:
        parts.append("<p>No graded submissions yet.</p></body></html>")
        return "\n".join(parts)
    parts.append(f"<p>{len(report['students'])} students graded; mean {report['mean']:.1f} of {maximum:g}, "
                 f"median {report['median']:g}.</p>")
    parts.append(f"<img alt='score distribution' src='data:image/png;base64,"
                 f"{score_plot([row['score'] for row in report['students']], maximum)}'>")
    parts.append("<h2>Exercises</h2><table><tr><th>lesson</th><th>exercise</th>"
                 + "".join(f"<th>{e(category)}</th>" for category in CATEGORIES) + "</tr>")
    for row in report["exercises"]:
        parts.append(f"<tr><td>{e(row['lesson'])}</td><td>{e(row['exercise'])}</td>"
                     + "".join(f"<td class='n'>{row[category]}</td>" for category in CATEGORIES) + "</tr>")
    parts.append("</table>")
    parts.append("<h2>Students</h2><table><tr><th>student</th><th>name</th><th>score</th><th>raw</th>"
                 "<th>late penalty</th><th>review</th><th>hints seen</th><th>notes</th></tr>")
    for row in report["students"]:
        flagged = ", ".join(row["flagged"])
        notes = "".join(f"<li>{e(note)}</li>" for note in row["notes"])
        parts.append(f"<tr id='{e(row['student'])}'><td>{e(row['student'])}</td><td>{e(row['name'])}</td>"
                     f"<td class='n'>{row['score']:g} / {maximum:g}</td><td class='n'>{row['raw_score']:g}</td>"
                     f"<td class='n'>{row['late_penalty']:g}</td>"
                     f"<td class='flag'>{'flagged: ' + e(flagged) if flagged else ''}</td>"
                     f"<td>{e(_hints_text(row['hints_seen']))}</td>"
                     f"<td class='notes'>{'<ul>' + notes + '</ul>' if notes else ''}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts)


def _hints_text(seen):
    """"preprocess_images: 2, one_hot_labels: the solution" for {exercise: highest tier seen}."""
    return ", ".join(f"{name}: {'the solution' if tier == 3 else tier}" for name, tier in seen.items())


def read_hints_seen(course, assignment):
    """{student: {exercise: highest tier}} from the hints records handed in with the submissions, read as data."""
    seen = {}
    for folder in sorted(Path(course).glob(f"submitted/*/{assignment}")):
        record = hints.read_hints_seen(folder)
        if record:
            seen[folder.parent.name] = record
    return seen


def write_class_report(course, assignment, gradebook):
    """Write ``<course>/reports/class-report.html`` from ``gradebook`` and the autograded notebooks; return its path."""
    path = Path(course) / REPORT_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    page = render_html(class_report(gradebook, assignment, read_verdicts(course, assignment),
                                    read_hints_seen(course, assignment)))
    partial = path.with_suffix(".partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(path)
    return path
