"""The class report: an HTML page beside the gradebook, rewritten after each ``autograde-class`` run (instructors).

``class_report(gradebook, assignment, verdicts)`` gathers it as data from
nbgrader's gradebook (scores, late penalties and lateness, the notes SaveNotes
stored as comments, the review flags), the engine's verdicts (kept in each
autograded notebook's metadata, read by ``read_verdicts``), the feedback pages
written and the copying flags (``similarity.py``); ``render_html`` draws it as
one static page with no script, for a class of hundreds: the score
distribution; per exercise the counts (passed, wrong, not attempted, error,
time limit, no readable notebook) and, folded, who failed it with which
message, grouped by message; the lowest, late and flagged students; the
copying flags side by side; a row per student with each lesson's score and a
link to their feedback. ``write_class_report(course)`` writes
``<course>/reports/class-report.html``.
"""

import base64
import html
import io
import json
import re
import statistics
import urllib.parse
from pathlib import Path

from nbgrader.api import MissingEntry

from mnist_lessons import hints
from mnist_lessons.grading import notebooks
from mnist_lessons.grading.engine import STUB_MESSAGE
from mnist_lessons.grading.preprocessors import NOTES_HEADING, NOTES_KEY
from mnist_lessons.exercises import EXERCISES

REPORT_PATH = Path("reports") / "class-report.html"  # in the course directory, beside gradebook.db
CATEGORIES = ("passed", "wrong", "not attempted", "error", "timeout", "no notebook")
ORDER = {exercise.name: index for index, exercise in enumerate(EXERCISES)}  # the course's order
UNREADABLE = "could not be read as a notebook"  # notebooks.unreadable_note's words
MAX_VERDICTS_BYTES = 32 * 1024**2  # an autograded notebook, read for its verdicts only
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
        lesson = lesson_verdicts(path)
        if lesson is not None:
            verdicts.setdefault(path.parent.parent.name, {})[path.stem] = lesson
    return verdicts


def lesson_verdicts(path):
    """{exercise: message, or None when passed} from one autograded notebook's metadata, read as data (the engine's
    verdicts, preprocessors.SaveNotes); None when it cannot be read."""
    try:
        meta = json.loads(notebooks.read_bounded(path, MAX_VERDICTS_BYTES))["metadata"][NOTES_KEY]
        return {str(name): None if verdict.get("passed") else str(verdict.get("message", ""))
                for name, verdict in meta.get("verdicts", {}).items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def stored_notes(submitted_notebook):
    """The notes SaveNotes stored in a submitted notebook's comments, as plain text."""
    notes = []
    for comment in submitted_notebook.comments:
        if NOTES_HEADING in (comment.auto_comment or ""):
            for line in comment.auto_comment.split(NOTES_HEADING, 1)[1].splitlines():
                if line.startswith("- "):
                    notes.append(html.unescape(re.sub(r"\\([\\`*\[\]])", r"\1", line[2:])))
    return list(dict.fromkeys(notes))


NOT_SUBMITTED = "not submitted: no notebook of this lesson was handed in"


def class_report(gradebook, assignment, verdicts=None, hints_seen=None, feedback=None, similarity=None):
    """The class report as data: students (scores per lesson, lateness, notes, flags, hints seen, feedback pages),
    per-exercise counts and failures grouped by message, the distribution, and the copying flags.

    ``hints_seen``: {student: {exercise: highest tier}}, from the record the lessons keep beside a learner's
    notebooks (``mnist_lessons.hints``), for an instructor who leaves hints on in a graded class.
    ``feedback``: {student: [lessons with a feedback page]}. ``similarity``: ``similarity.similarity_flags``.
    """
    verdicts, hints_seen, feedback = verdicts or {}, hints_seen or {}, feedback or {}
    try:
        maximum = gradebook.find_assignment(assignment).max_score
    except MissingEntry:
        maximum = 0.0
    students, counts, failures, lessons = [], {}, {}, set()
    for submission in sorted(gradebook.assignment_submissions(assignment), key=lambda s: s.student.id):
        student = submission.student.id
        penalty = submission.late_submission_penalty or 0.0
        row = {"student": student, "name": " ".join(filter(None, (submission.student.first_name,
                                                                   submission.student.last_name))),
               "raw_score": submission.score, "late_penalty": penalty, "score": max(0.0, submission.score - penalty),
               "seconds_late": submission.total_seconds_late or 0.0,
               "max_score": maximum, "notes": [], "flagged": [], "lessons": {},
               "feedback": sorted(feedback.get(student, [])),
               "hints_seen": dict(sorted(hints_seen.get(student, {}).items(), key=lambda item: ORDER.get(item[0], 99)))}
        for notebook in sorted(submission.notebooks, key=lambda n: n.name):
            lessons.add(notebook.name)
            notes = stored_notes(notebook)
            row["notes"] += [note if note.startswith(notebook.name) else f"{notebook.name}: {note}" for note in notes]
            if notebook.flagged:
                row["flagged"].append(notebook.name)
            lesson = verdicts.get(student, {}).get(notebook.name)
            row["lessons"][notebook.name] = {"score": notebook.score, "max_score": notebook.max_score,
                                             "submitted": lesson is not None}
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
                if category != "passed":
                    message = (lesson or {}).get(exercise) or NOT_SUBMITTED
                    failures.setdefault((notebook.name, exercise), {}).setdefault(message, []).append(student)
        students.append(row)
    course_order = sorted(counts, key=lambda key: (key[0], ORDER.get(key[1], 99)))
    exercises = [{"lesson": lesson, "exercise": exercise, **counts[(lesson, exercise)],
                  "failures": [{"message": message, "students": who} for message, who in
                               sorted(failures.get((lesson, exercise), {}).items(), key=lambda item: (-len(item[1]),
                                                                                                      item[0]))]}
                 for lesson, exercise in course_order]
    scores = [row["score"] for row in students]
    return {
        "assignment": assignment, "max_score": maximum, "students": students, "exercises": exercises,
        "lessons": sorted(lessons), "similarity": similarity or [],
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
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 80em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.notes, td.message { max-width: 40em; overflow-wrap: anywhere; }
ul { margin: 0; padding-left: 1.2em; }
details { margin: 0.4em 0; }
summary { cursor: pointer; }
pre { margin: 0; white-space: pre-wrap; font-size: 0.85em; max-width: 38em; }
mark { background: #fde2a1; }
.flag { color: #b03a2e; font-weight: bold; }
"""
LOWEST = 30  # how many of the lowest scores the page lists apart
SIDE_BY_SIDE = 20  # flagged pairs shown side by side per exercise; the rest are named


def render_html(report):
    """The report as one self-contained, inert HTML page: no script, every name, note and message escaped.

    Sorting and filtering need no script: the exercises fold open on their failures, grouped by message with
    the students who got each; the lowest scores, the late and the flagged students are listed apart; the
    browser's find does the rest, and the LMS detail CSV beside this page sorts in any spreadsheet.
    """
    e = html.escape
    a, maximum = report["assignment"], report["max_score"]
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
             f"<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; "
             f"style-src 'unsafe-inline'\"><title>Class report: {e(a)}</title>"
             f"<style>{STYLE}</style></head><body>", f"<h1>Class report: {e(a)}</h1>"]
    if not report["students"]:
        parts.append("<p>No graded submissions yet.</p></body></html>")
        return "\n".join(parts)
    students = report["students"]
    parts.append(f"<p>{len(students)} students graded; mean {report['mean']:.1f} of {maximum:g}, "
                 f"median {report['median']:g} (scores after late penalties).</p>")
    parts.append(f"<img alt='score distribution' src='data:image/png;base64,"
                 f"{score_plot([row['score'] for row in students], maximum)}'>")
    parts.append("<nav><a href='#exercises'>Exercises</a> · <a href='#attention'>Lowest, late, flagged</a> · "
                 "<a href='#copying'>Copying flags</a> · <a href='#students'>Students</a></nav>")
    parts += _exercises_html(report["exercises"])
    parts += _attention_html(students, maximum)
    parts += _similarity_html(report["similarity"])
    parts += _students_html(report, maximum)
    parts.append("</body></html>")
    return "\n".join(parts)


def _student_link(student):
    return f"<a href='#student-{html.escape(student)}'>{html.escape(student)}</a>"


def _exercises_html(exercises):
    e = html.escape
    parts = ["<h2 id='exercises'>Exercises</h2><table><tr><th>lesson</th><th>exercise</th>"
             + "".join(f"<th>{e(category)}</th>" for category in CATEGORIES) + "</tr>"]
    for row in exercises:
        parts.append(f"<tr><td>{e(row['lesson'])}</td><td><a href='#exercise-{e(row['exercise'])}'>"
                     f"{e(row['exercise'])}</a></td>"
                     + "".join(f"<td class='n'>{row[category]}</td>" for category in CATEGORIES) + "</tr>")
    parts.append("</table><p>Who failed each exercise, grouped by the grader's message, the most common first:</p>")
    for row in exercises:
        failed = sum(len(group["students"]) for group in row["failures"])
        parts.append(f"<details id='exercise-{e(row['exercise'])}'><summary>{e(row['exercise'])} "
                     f"({e(row['lesson'])}): {failed} failed, {len(row['failures'])} different messages</summary>")
        if row["failures"]:
            parts.append("<table><tr><th>students</th><th>message</th><th>who</th></tr>")
            for group in row["failures"]:
                parts.append(f"<tr><td class='n'>{len(group['students'])}</td><td class='message'>"
                             f"{e(group['message'])}</td><td>{', '.join(map(_student_link, group['students']))}"
                             f"</td></tr>")
            parts.append("</table>")
        parts.append("</details>")
    return parts


def _attention_html(students, maximum):
    lowest = sorted(students, key=lambda row: (row["score"], row["student"]))[:LOWEST]
    late = sorted((row for row in students if row["seconds_late"] > 0), key=lambda row: -row["seconds_late"])
    flagged = [row for row in students if row["flagged"]]
    parts = ["<h2 id='attention'>Lowest, late, flagged</h2>",
             f"<details><summary>The {len(lowest)} lowest scores</summary><ul>"]
    parts += [f"<li>{_student_link(row['student'])}: {row['score']:g} / {maximum:g}</li>" for row in lowest]
    parts.append(f"</ul></details><details><summary>{len(late)} late</summary><ul>")
    parts += [f"<li>{_student_link(row['student'])}: {_late_text(row['seconds_late'])} late, "
              f"penalty {row['late_penalty']:g}</li>" for row in late]
    parts.append(f"</ul></details><details><summary>{len(flagged)} flagged for review</summary><ul>")
    parts += [f"<li>{_student_link(row['student'])}: {html.escape(', '.join(row['flagged']))}</li>" for row in flagged]
    parts.append("</ul></details>")
    return parts


def _late_text(seconds):
    """3 h 5 min, 2 d 4 h, 40 s: how late, to the unit that matters."""
    seconds = int(seconds)
    days, hours, minutes = seconds // 86400, seconds % 86400 // 3600, seconds % 3600 // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{seconds} s"


def _marked(code, marks):
    """``code`` escaped, with the copied slices in <mark>."""
    parts, at = [], 0
    for start, end in sorted(marks):
        start = max(start, at)
        if start < end:
            parts += [html.escape(code[at:start]), "<mark>", html.escape(code[start:end]), "</mark>"]
            at = end
    return "".join(parts) + html.escape(code[at:])


def _similarity_html(flags):
    e = html.escape
    parts = ["<h2 id='copying'>Copying flags</h2>",
             "<p>Answers near-identical once names, strings, comments and layout are set aside (copydetect), the "
             "release's own code left out. A flag is a reason to look, never a grade: short answers are alike by "
             "nature, and a large group is the one common way to write it.</p>"]
    if not flags:
        parts.append("<p>None.</p>")
    for flag in flags:
        parts.append(f"<h3>{e(flag['exercise'])} ({e(flag['lesson'])})</h3><p>{flag['compared']} answers compared. "
                     f"Groups alike: " + "; ".join(", ".join(map(_student_link, group)) for group in flag["groups"])
                     + ("." if flag["groups"] else "none.") + "</p>")
        for match in flag["solution"]:
            parts.append(f"<details><summary>{_student_link(match['student'])} and the course's answer: "
                         f"{match['similarity']:.0%}</summary><table><tr><td><pre>{_marked(match['code'], match['marks'])}"
                         f"</pre></td><td><pre>{_marked(match['solution'], match['solution_marks'])}</pre></td></tr>"
                         f"</table></details>")
        for pair in flag["pairs"][:SIDE_BY_SIDE]:
            (a, b), (code_a, code_b), (marks_a, marks_b) = pair["students"], pair["code"], pair["marks"]
            parts.append(f"<details><summary>{_student_link(a)} and {_student_link(b)}: {pair['similarity']:.0%}"
                         f"</summary><table><tr><th>{e(a)}</th><th>{e(b)}</th></tr><tr><td><pre>"
                         f"{_marked(code_a, marks_a)}</pre></td><td><pre>{_marked(code_b, marks_b)}</pre></td></tr>"
                         f"</table></details>")
        if len(flag["pairs"]) > SIDE_BY_SIDE:
            parts.append(f"<p>and {len(flag['pairs']) - SIDE_BY_SIDE} more pairs, in the groups above.</p>")
    return parts


def _students_html(report, maximum):
    e = html.escape
    a, lessons = report["assignment"], report["lessons"]
    parts = ["<h2 id='students'>Students</h2><table><tr><th>student</th><th>name</th><th>score</th><th>raw</th>"
             "<th>late penalty</th><th>late by</th>" + "".join(f"<th>{e(lesson)}</th>" for lesson in lessons)
             + "<th>feedback</th><th>review</th><th>hints seen</th><th>notes</th></tr>"]
    for row in report["students"]:
        flagged = ", ".join(row["flagged"])
        notes = "".join(f"<li>{e(note)}</li>" for note in row["notes"])
        cells = []
        for lesson in lessons:
            score = row["lessons"].get(lesson)
            cells.append("<td class='n'>" + ("not submitted" if not score or not score["submitted"] else
                                            f"{score['score']:g} / {score['max_score']:g}") + "</td>")
        feedback = (f"<a href='../feedback/{_path(row['student'])}/{_path(a)}/{_path(row['feedback'][0])}.html'>"
                    "feedback</a>"
                    if row["feedback"] else "")
        parts.append(f"<tr id='student-{e(row['student'])}'><td>{e(row['student'])}</td><td>{e(row['name'])}</td>"
                     f"<td class='n'>{row['score']:g} / {maximum:g}</td><td class='n'>{row['raw_score']:g}</td>"
                     f"<td class='n'>{row['late_penalty']:g}</td>"
                     f"<td class='n'>{_late_text(row['seconds_late']) if row['seconds_late'] > 0 else ''}</td>"
                     + "".join(cells) + f"<td>{feedback}</td>"
                     f"<td class='flag'>{'flagged: ' + e(flagged) if flagged else ''}</td>"
                     f"<td>{e(_hints_text(row['hints_seen']))}</td>"
                     f"<td class='notes'>{'<ul>' + notes + '</ul>' if notes else ''}</td></tr>")
    parts.append("</table>")
    return parts


def _path(name):
    """A folder or file name as a piece of a relative URL, escaped for an attribute."""
    return html.escape(urllib.parse.quote(name, safe=""))


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


def read_feedback_pages(course, assignment):
    """{student: [lessons]} of the feedback pages ``nbgrader generate_feedback`` wrote into ``<course>/feedback/``."""
    pages = {}
    for path in sorted(Path(course).glob(f"feedback/*/{assignment}/*.html")):
        pages.setdefault(path.parent.parent.name, []).append(path.stem)
    return pages


def write_class_report(course, assignment, gradebook):
    """Write ``<course>/reports/class-report.html`` from ``gradebook`` and the autograded notebooks; return its path."""
    # copydetect imports matplotlib.pyplot: imported here, not by every nbgrader command that loads the course's
    # configuration (feedbackpage.py imports this module), where it cost each command 0.3 s.
    from mnist_lessons.grading.similarity import similarity_flags

    path = Path(course) / REPORT_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    page = render_html(class_report(gradebook, assignment, read_verdicts(course, assignment),
                                    read_hints_seen(course, assignment), read_feedback_pages(course, assignment),
                                    similarity_flags(course, assignment)))
    partial = path.with_suffix(".partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(path)
    return path
