"""AddGradesSummary, a step of nbgrader's generate_feedback: atop each lesson's feedback page, the student's whole assignment (students).

nbgrader writes a feedback page per notebook. ``release_feedback`` releases
each under a name keyed by the submission's secret, and ``fetch_feedback``
brings back only the pages of notebooks in the student's own copy of their
submission: a page of its own (a summary.html) would be released and never
fetched, and a lesson not handed in has no page at all. So the summary is a
section at the top of every lesson's page: the total after the late penalty,
and per lesson its score, each exercise's verdict in the grader's words, the
grader's notes, and a relative link to its page (fetched into the same
folder); a lesson not handed in, or unreadable, is said so there.

It is a markdown cell, rendered by ``safemarkdown.markdown2html`` (raw HTML
shown as text), and every learner-derived word in it is escaped as Markdown
(``markdown_text``): a message or note cannot add a link, an image or a tag.
``nbgrader_config.py`` puts it in ``c.GenerateFeedback.preprocessors``, after
``GetGrades``.
"""

import re
import urllib.parse
from pathlib import Path

from nbformat.v4 import new_markdown_cell
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from mnist_lessons.grading.report import ORDER, UNREADABLE, lesson_verdicts, stored_notes

SUMMARY_TAG = "grades-summary"  # the summary cell's tag, so that a second run replaces it rather than adding one
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&:])")


def markdown_text(text):
    """``text`` as Markdown that renders as exactly that text on one line: every special character escaped."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def read_lesson_verdicts(folder):
    """{lesson: {exercise: message, or None when passed}} from the autograded notebooks in ``folder``, read as data."""
    return {path.stem: verdicts for path in sorted(Path(folder).glob("*.ipynb"))
            if (verdicts := lesson_verdicts(path)) is not None}


def student_summary(gradebook, assignment, student, verdicts):
    """The student's assignment as data: total, maximum, late penalty, and per lesson its score, verdicts and notes."""
    try:
        submission = gradebook.find_submission(assignment, student)
    except MissingEntry:
        raise ValueError(f"{student} has no graded submission of {assignment}: autograde it first") from None
    penalty = submission.late_submission_penalty or 0.0
    lessons = []
    for notebook in sorted(submission.notebooks, key=lambda n: n.name):
        lesson = verdicts.get(notebook.name)
        exercises = sorted((grade.name.removeprefix("check_") for grade in notebook.grades),
                           key=lambda name: ORDER.get(name, 99))
        lessons.append({"lesson": notebook.name, "score": notebook.score, "max_score": notebook.max_score,
                        "submitted": lesson is not None,
                        "unreadable": any(UNREADABLE in (message or "") for message in (lesson or {}).values()),
                        "verdicts": {name: (lesson or {}).get(name) for name in exercises} if lesson is not None else {},
                        "notes": stored_notes(notebook)})
    return {"assignment": assignment, "score": max(0.0, submission.score - penalty), "raw_score": submission.score,
            "max_score": submission.max_score, "late_penalty": penalty, "lessons": lessons}


def summary_markdown(summary, current):
    """The summary as the markdown of one cell, for the page of lesson ``current``."""
    lines = [f"## Your grades in {markdown_text(summary['assignment'])}: "
             f"{summary['score']:g} of {summary['max_score']:g}", ""]
    if summary["late_penalty"]:
        lines += [f"Handed in late: {summary['late_penalty']:g} points off (taken off the total above; "
                  f"{summary['raw_score']:g} before).", ""]
    for lesson in summary["lessons"]:
        name = markdown_text(lesson["lesson"])
        if not lesson["submitted"]:
            lines.append(f"- **{name}**: not handed in, so nothing of it could be graded (0 of "
                         f"{lesson['max_score']:g}); there is no page for it.")
            continue
        title = (f"**{name}** (this page)" if lesson["lesson"] == current else
                 f"**[{name}]({urllib.parse.quote(lesson['lesson'], safe='')}.html)**")
        lines.append(f"- {title}: {lesson['score']:g} of {lesson['max_score']:g}"
                     + (" (the notebook could not be read: it was graded as the release)" if lesson["unreadable"] else ""))
        for exercise, message in lesson["verdicts"].items():
            lines.append(f"    - {markdown_text(exercise)}: " + ("passed" if message is None else markdown_text(message)))
        for note in lesson["notes"]:
            lines.append(f"    - note: {markdown_text(note)}")
    return "\n".join(lines)


class AddGradesSummary(NbGraderPreprocessor):
    """Put the student's whole assignment, as a markdown cell, at the top of this lesson's feedback page."""

    def preprocess(self, nb, resources):
        given = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        folder = coursedir.format_path(coursedir.autograded_directory, given["student"], given["assignment"])
        with Gradebook(given["db_url"]) as gradebook:
            summary = student_summary(gradebook, given["assignment"], given["student"], read_lesson_verdicts(folder))
        cell = new_markdown_cell(summary_markdown(summary, given["notebook"]), metadata={"tags": [SUMMARY_TAG]})
        nb.cells = [cell] + [old for old in nb.cells if SUMMARY_TAG not in old.get("metadata", {}).get("tags", [])]
        return nb, resources
