"""Grades as the CSVs Canvas and Moodle import, and the per-lesson and per-exercise detail beside them (instructors).

nbgrader's own ``nbgrader export`` writes one row per student and assignment,
with no LMS id and no detail. ``LmsExportPlugin`` writes three files, one row
per student in each::

    nbgrader export --exporter=mnist_lessons.grading.export.LmsExportPlugin --to grades-detail.csv

- ``grades-canvas.csv`` (``CANVAS_FILE``), Canvas's gradebook import:
  ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section`` (the
  columns Canvas's importer looks for, in its order), then one column per
  assignment, headed with its name (``mnist``): the score after the late
  penalty. Nothing else, since Canvas offers every other column as a new
  assignment on each import. nbgrader holds no SIS ids or sections: those
  cells are empty, and Canvas finds each student by ``ID``.
- ``grades-moodle.csv`` (``MOODLE_FILE``), Moodle's CSV grade import:
  ``Email address`` and ``ID`` (one is mapped to a user field), then one
  column per assignment.
- the detail (the ``--to`` file; ``grades-detail.csv`` by default):
  ``Student``, ``ID``, ``student_id`` (nbgrader's), ``email``; for each
  assignment ``A``: ``A`` (the score), ``A late penalty``, ``A raw score``,
  ``A max score``, ``A submitted`` (the time nbgrader recorded, UTC), each
  lesson's raw score ``A/<lesson>`` and each check cell's
  ``A/<lesson>/<grade id>``; then ``notes``.

``Student`` is "Last, First" (as Canvas's own export writes it) and ``ID`` the
LMS's user id (nbgrader's ``lms_user_id``). A student with neither a name nor
an LMS id in the gradebook (not on the roster: collected through the exchange,
or from an LMS download under the LMS's own id) has its nbgrader id in both,
with a note. A submission with no time against a due date (the late policy
could not apply) has a note too. ``lms_warnings`` lists both kinds.

A student with no submission scores 0 with the details left empty. A text
cell that a spreadsheet would read as a formula (it begins with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return: a student's chosen name can) is
written with a ``'`` before it (``text_cell``), in every file, as OWASP
advises for CSV injection. docs/instructors.md says how Canvas and Moodle
take the files.
"""

import csv
from pathlib import Path

from nbgrader.api import MissingEntry
from nbgrader.plugins import ExportPlugin

from mnist_lessons.grading.lms import missing_time_note
from mnist_lessons.exercises import EXERCISES

CANVAS_FILE, MOODLE_FILE, DETAIL_FILE = "grades-canvas.csv", "grades-moodle.csv", "grades-detail.csv"
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]  # Canvas's gradebook import, in order
MOODLE_IDENTITY = ["Email address", "ID"]  # Moodle's import maps one column to a user; "Map from" starts on the first
DETAIL_IDENTITY = ["Student", "ID", "student_id", "email"]
CHECK_ORDER = {exercise.check_id: index for index, exercise in enumerate(EXERCISES)}  # the course's order
NOT_ON_ROSTER = "not on the roster (no name or LMS id in the gradebook): Student and ID are its nbgrader id"


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


def class_grades(gradebook, assignments=None, students=None):
    """(layout, records): each chosen assignment's lessons and check cells, and one record per chosen student.

    A record holds the student's identity as the LMS files write it (text
    cells already escaped), ``scores`` {assignment: the score to import},
    ``detail`` {detail column: value} and ``notes``.
    """
    chosen = [a for a in gradebook.assignments if not assignments or a.name in assignments]
    layout = []  # (assignment, [(notebook, [grade ids])])
    for assignment in sorted(chosen, key=lambda a: a.name):
        notebooks = [(notebook.name, sorted((cell.name for cell in notebook.grade_cells), key=_cell_order))
                     for notebook in sorted(assignment.notebooks, key=lambda n: n.name)]
        layout.append((assignment, notebooks))
    records = []
    for student in sorted(gradebook.students, key=lambda s: s.id):
        if students and student.id not in students:
            continue
        names = ", ".join(part for part in (student.last_name, student.first_name) if part)
        notes = [] if names or student.lms_user_id else [NOT_ON_ROSTER]
        record = {"Student": text_cell(names or student.id), "ID": text_cell(student.lms_user_id or student.id),
                  "student_id": text_cell(student.id), "email": text_cell(student.email or ""),
                  "scores": {}, "detail": {}, "notes": notes}
        for assignment, notebooks in layout:
            record["scores"][assignment.name] = _grade(gradebook, assignment, notebooks, student, record)
        records.append(record)
    return layout, records


def _grade(gradebook, assignment, notebooks, student, record):
    """The score to import for one assignment; fills the record's detail and notes."""
    a, detail = assignment.name, record["detail"]
    detail[f"{a} max score"] = _number(assignment.max_score)
    try:
        submission = gradebook.find_submission(a, student.id)
    except MissingEntry:
        detail.update({f"{a} late penalty": "0", f"{a} raw score": "0"})
        return "0"
    penalty = submission.late_submission_penalty or 0.0
    detail[f"{a} late penalty"], detail[f"{a} raw score"] = _number(penalty), _number(submission.score)
    if submission.timestamp is not None:
        detail[f"{a} submitted"] = f"{submission.timestamp:%Y-%m-%d %H:%M:%S} UTC"  # nbgrader keeps naive UTC
    note = missing_time_note(submission.timestamp, assignment.duedate)
    if note:
        record["notes"].append(f"{a}: {note}")
    for notebook, cells in notebooks:
        try:
            submitted = gradebook.find_submission_notebook(notebook, a, student.id)
        except MissingEntry:
            continue
        detail[f"{a}/{notebook}"] = _number(submitted.score)
        scores = {grade.name: grade.score for grade in submitted.grades}
        for cell in cells:
            detail[f"{a}/{notebook}/{cell}"] = _number(scores.get(cell))
    return _number(max(0.0, submission.score - penalty))


def canvas_rows(layout, records):
    """(header, rows) of Canvas's gradebook import: identity, then each assignment's score."""
    names = [assignment.name for assignment, _ in layout]
    return ([*CANVAS_IDENTITY, *map(text_cell, names)],
            [[r["Student"], r["ID"], "", "", "", *(r["scores"][name] for name in names)] for r in records])


def moodle_rows(layout, records):
    """(header, rows) of Moodle's CSV grade import: email and id, then each assignment's score."""
    names = [assignment.name for assignment, _ in layout]
    return ([*MOODLE_IDENTITY, *map(text_cell, names)],
            [[r["email"], r["ID"], *(r["scores"][name] for name in names)] for r in records])


def detail_rows(layout, records):
    """(header, rows) of the detail: identity, each assignment's score, penalty, time, lessons and checks, notes."""
    header = list(DETAIL_IDENTITY)
    for assignment, notebooks in layout:
        a = assignment.name
        header += [a, f"{a} late penalty", f"{a} raw score", f"{a} max score", f"{a} submitted"]
        header += [f"{a}/{notebook}" for notebook, _ in notebooks]
        header += [f"{a}/{notebook}/{cell}" for notebook, cells in notebooks for cell in cells]
    rows = []
    for r in records:
        values = {**{key: r[key] for key in DETAIL_IDENTITY}, **r["scores"], **r["detail"]}
        rows.append([values.get(column, "") for column in header] + [text_cell("; ".join(r["notes"]))])
    return [*map(text_cell, header), "notes"], rows


def lms_warnings(gradebook, assignments=None, students=None):
    """A line per note: each student not on the roster, each submission whose due date could not apply."""
    _, records = class_grades(gradebook, assignments, students)
    return [f"{r['student_id']}: {note}" for r in records for note in r["notes"]]


def _write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return Path(path)


def write_lms_files(gradebook, folder, assignments=None, students=None, detail_name=DETAIL_FILE):
    """Write the Canvas and Moodle imports and the detail into ``folder``; return {"canvas"|"moodle"|"detail": path}."""
    folder = Path(folder)
    if detail_name in (CANVAS_FILE, MOODLE_FILE):
        raise ValueError(f"the detail file cannot be named {detail_name}: that is an import file's name")
    layout, records = class_grades(gradebook, assignments, students)
    return {"canvas": _write(folder / CANVAS_FILE, *canvas_rows(layout, records)),
            "moodle": _write(folder / MOODLE_FILE, *moodle_rows(layout, records)),
            "detail": _write(folder / detail_name, *detail_rows(layout, records))}


def write_lms_csv(gradebook, path, assignments=None, students=None):
    """Write the detail to ``path``, and the Canvas and Moodle imports beside it; return ``path``."""
    path = Path(path)
    write_lms_files(gradebook, path.parent, assignments, students, detail_name=path.name)
    return path


class LmsExportPlugin(ExportPlugin):
    """nbgrader's export plugin for an LMS: Canvas's and Moodle's import files, and the detail (the ``--to`` file)."""

    def export(self, gradebook):
        dest = Path(self.to or DETAIL_FILE)
        chosen = ([str(a) for a in self.assignment], [str(s) for s in self.student])
        files = write_lms_files(gradebook, dest.parent, *chosen, detail_name=dest.name)
        for kind, path in files.items():
            self.log.info("Exporting grades for %s to %s", {"detail": "the record"}.get(kind, kind.title()), path)
        for warning in lms_warnings(gradebook, *chosen):
            self.log.warning(warning)
