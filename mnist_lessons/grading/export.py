"""Grades as a CSV an LMS imports: one row per student, with per-lesson and per-exercise columns (instructors).

nbgrader's own ``nbgrader export`` writes one row per student and assignment,
with no LMS id and no detail. ``LmsExportPlugin`` writes one row per student::

    nbgrader export --exporter=mnist_lessons.grading.export.LmsExportPlugin --to grades-lms.csv

and ``mnist-lessons autograde-class`` writes the same file beside its class
report. Its columns, for each assignment ``A`` (the course has one, ``mnist``):

- ``Student`` ("Last, First", as Canvas's own export writes it), ``ID`` (the
  LMS's user id: nbgrader's ``lms_user_id``, filled when the roster comes from
  the LMS), ``student_id`` (nbgrader's), ``email``;
- ``A``: the score after the late penalty, the one grade to import;
- ``A late penalty``, ``A raw score``, ``A max score``;
- ``A/<lesson>``: each notebook's raw score;
- ``A/<lesson>/<grade id>``: each check cell's score.

A student with no submission scores 0 with the details left empty. A text cell
that a spreadsheet would read as a formula (it begins with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return: a student's chosen name can) is written
with a ``'`` before it (``text_cell``), as OWASP advises for CSV injection.
docs/instructors.md says how Canvas and Moodle take it.
"""

import csv

from nbgrader.api import MissingEntry
from nbgrader.plugins import ExportPlugin

from mnist_lessons.grading.registry import EXERCISES

IDENTITY = ["Student", "ID", "student_id", "email"]
CHECK_ORDER = {exercise.check_id: index for index, exercise in enumerate(EXERCISES)}  # the course's order


def _cell_order(name):
    return (CHECK_ORDER.get(name, len(CHECK_ORDER)), name)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def text_cell(text):
    """``text`` as a CSV cell no spreadsheet runs as a formula."""
    text = str(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _number(value):
    """A score as an LMS reads it: 4 rather than 4.0, and at most 4 decimals."""
    return "" if value is None else f"{round(float(value), 4):g}"


def lms_rows(gradebook, assignments=None, students=None):
    """(header, rows) of the LMS export: each row a dict of the header's columns, from nbgrader's gradebook."""
    header, rows = list(IDENTITY), []
    chosen = [a for a in gradebook.assignments if not assignments or a.name in assignments]
    layout = []  # (assignment, [(notebook, [grade ids])])
    for assignment in sorted(chosen, key=lambda a: a.name):
        notebooks = [(notebook.name, sorted((cell.name for cell in notebook.grade_cells), key=_cell_order))
                     for notebook in sorted(assignment.notebooks, key=lambda n: n.name)]
        layout.append((assignment, notebooks))
        header += [assignment.name, f"{assignment.name} late penalty", f"{assignment.name} raw score",
                   f"{assignment.name} max score"]
        header += [f"{assignment.name}/{notebook}" for notebook, _ in notebooks]
        header += [f"{assignment.name}/{notebook}/{cell}" for notebook, cells in notebooks for cell in cells]
    for student in sorted(gradebook.students, key=lambda s: s.id):
        if students and student.id not in students:
            continue
        names = ", ".join(part for part in (student.last_name, student.first_name) if part)
        row = {"Student": text_cell(names or student.id), "ID": text_cell(student.lms_user_id or ""),
               "student_id": text_cell(student.id), "email": text_cell(student.email or "")}
        for assignment, notebooks in layout:
            a = assignment.name
            row[f"{a} max score"] = _number(assignment.max_score)
            try:
                submission = gradebook.find_submission(a, student.id)
            except MissingEntry:
                row.update({a: "0", f"{a} late penalty": "0", f"{a} raw score": "0"})
                continue
            penalty = submission.late_submission_penalty or 0.0
            row[a] = _number(max(0.0, submission.score - penalty))
            row[f"{a} late penalty"], row[f"{a} raw score"] = _number(penalty), _number(submission.score)
            for notebook, cells in notebooks:
                try:
                    submitted = gradebook.find_submission_notebook(notebook, a, student.id)
                except MissingEntry:
                    continue
                row[f"{a}/{notebook}"] = _number(submitted.score)
                scores = {grade.name: grade.score for grade in submitted.grades}
                for cell in cells:
                    row[f"{a}/{notebook}/{cell}"] = _number(scores.get(cell))
        rows.append(row)
    return header, rows


def write_lms_csv(gradebook, path, assignments=None, students=None):
    """Write the LMS export of ``gradebook`` to ``path``; return the path."""
    header, rows = lms_rows(gradebook, assignments, students)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, header, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


class LmsExportPlugin(ExportPlugin):
    """nbgrader's export plugin for an LMS: one row per student, per-lesson and per-exercise columns, the LMS id."""

    def export(self, gradebook):
        dest = self.to or "grades-lms.csv"
        self.log.info("Exporting grades for an LMS to %s", dest)
        write_lms_csv(gradebook, dest, [str(a) for a in self.assignment], [str(s) for s in self.student])
