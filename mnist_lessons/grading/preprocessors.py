"""nbgrader's door to the grading engine: preprocessors that nbgrader_config.py puts in nbgrader's own pipelines (instructors).

nbgrader autogrades a notebook in two stages, each a list of preprocessors
(``c.Autograde.sanitize_preprocessors`` and ``c.Autograde.autograde_preprocessors``).
This course swaps two steps and the way a notebook is read, so that plain
``nbgrader autograde`` and ``mnist-lessons autograde-class`` grade exactly as
``pytest autograder/`` does, running the same code at the same cost:

- ``ReadAsData``, the exporter nbgrader reads a submitted notebook with
  (``c.Autograde.exporter_class``): the engine's reading rule
  (``notebooks.read_notebook``: a regular file, bounded, valid JSON). A
  notebook it cannot read is graded as the untouched student copy, with a
  note, instead of stopping the student's whole grading.

- ``RepairCells``, in the sanitizing stage, in place of nbgrader's
  ClearOutput, DeduplicateIds and OverwriteCells: the engine's one repair
  rule (``notebooks.repair``), against the course's source notebook. What it
  repaired is kept in the notebook's metadata as notes. Each code cell keeps
  the outputs the learner's own run left in it, where its code is still what
  they ran: nobody runs the lessons' demonstrations again to make them.
  (``KeepInertOutput`` then keeps only their text and images.)
- ``GradeInSandbox``, in the autograding stage, in place of nbgrader's
  Execute: no learner code runs in nbgrader's process or in a kernel it
  starts. The engine runs the set-up and the learner's cells in its
  sandboxed child, as the pytest door does (no demonstrations, no checks),
  decides each function's verdict itself, and writes each check cell's
  output from it: the passing lines, or an error carrying the verdict's
  message. nbgrader's SaveAutoGrades then scores the check cells as usual (an
  error is zero, else full points).

- ``SaveNotes``, after nbgrader's SaveAutoGrades: the notes (repairs,
  tampering, an unreadable or missing notebook) go into the gradebook, each
  as nbgrader's comment on the exercise it concerns, so the formgrader and
  the student's feedback show them, and the notebook is flagged for review.

``StripHiddenTests``, before feedback is made, shows students their check
cells without the hidden tests nbgrader restores for grading.
"""

import collections
import contextlib
import datetime
import html
import os
import re
import time

import nbformat
from nbconvert.exporters import NotebookExporter
from nbformat.v4.rwbase import rejoin_lines
from nbgrader.coursedir import CourseDirectory
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor

from mnist_lessons.checks import HIDDEN_PASSED, PASSED, verdict_lines
from mnist_lessons.grading import notebooks
from mnist_lessons.exercises import BY_NAME, LESSONS


def __getattr__(name):
    """``preprocessors.engine``, imported on first use (see ``_engine``)."""
    if name == "engine":
        return _engine()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _engine():
    """The grading engine, imported only where a notebook is graded.

    nbgrader_config.py imports this module, and every nbgrader command loads it, the formgrader too, inside the
    Jupyter server's own process: none of them but autograde needs the engine, its sandbox's modules or Keras.
    """
    from mnist_lessons.grading import engine

    return engine


NOTES_KEY = "mnist_lessons"  # notebook metadata: {"notes": [...], "verdicts": {...}, "unreadable": note}
NOTES_HEADING = "**Notes from the grader:**"  # starts the part of an exercise's comment that SaveNotes writes


def missing_note(notebook):
    """What every nbgrader door says of a lesson notebook that was not in the submission."""
    return f"{notebook}.ipynb was missing: nothing of it could be graded."


def course_notebook(configurable, resources, directory="source_directory"):
    """The course's source notebook for the one being graded (or its student copy, the release_directory)."""
    coursedir = CourseDirectory(config=configurable.config)
    folder = coursedir.format_path(getattr(coursedir, directory), ".", resources["nbgrader"]["assignment"])
    return notebooks.read_notebook(f"{folder}/{resources['nbgrader']['notebook']}.ipynb")


class ReadAsData(NotebookExporter):
    """nbgrader's notebook exporter, reading the submitted file by the engine's rule."""

    def from_filename(self, filename, resources=None, **kw):
        resources = resources if resources is not None else {}
        resources.setdefault("metadata", {})
        path, name = os.path.split(filename)
        resources["metadata"].update(name=os.path.splitext(name)[0], path=path,
                                     modified_date=datetime.date.today().strftime("%B %d, %Y"))
        try:
            nb = _as_node(notebooks.read_notebook(filename))
            if getattr(self.parent, "_sanitizing", True):  # the learner's own file: only the grader writes our notes
                nb.metadata.pop(NOTES_KEY, None)
        except notebooks.NotebookError as err:
            nb = _as_node(course_notebook(self, resources, "release_directory"))
            nb.metadata.setdefault(NOTES_KEY, {})["unreadable"] = notebooks.unreadable_note(name, err)
        return self.from_notebook_node(nb, resources, **kw)


def _as_node(data):
    """A notebook read as data, as nbformat's reader gives it: sources and texts joined into strings."""
    nb = nbformat.from_dict(data)
    with contextlib.suppress(Exception):  # a malformed cell: RepairCells leaves it out
        rejoin_lines(nb)
    return nb


def grading_run(preprocessor):
    """What one grading run keeps across its notebooks: each student's deadline and the outcomes graded ahead.

    nbgrader makes a preprocessor afresh for every notebook, but one exporter (its parent) for a whole run of
    ``autograde``; so a run's state hangs there, and a regrade in a long-lived process (the formgrader) is a new
    run with a new clock, not one that finds the deadline of an earlier run long past.
    """
    owner = preprocessor.parent if preprocessor.parent is not None else preprocessor
    if not hasattr(owner, "_mnist_lessons_run"):
        owner._mnist_lessons_run = {"deadlines": {}, "graded": {}}
    return owner._mnist_lessons_run


def _limits(preprocessor, resources):
    """The engine's limits, with the student's deadline: their first lesson graded in this run starts the clock."""
    info = resources.get("nbgrader", {})
    key = (info.get("assignment"), info.get("student"))
    deadline = grading_run(preprocessor)["deadlines"].setdefault(key, time.monotonic() + _engine().SUBMISSION_SECONDS)
    return _engine().Limits(deadline=deadline)


def _lesson(resources):
    lesson = resources["nbgrader"]["notebook"]
    if lesson not in LESSONS:
        raise ValueError(f"{lesson}.ipynb is not one of the course's lessons ({', '.join(LESSONS)})")
    return lesson


def _record(nb, key, values):
    meta = nb.metadata.setdefault(NOTES_KEY, {})
    meta.setdefault(key, [])
    meta[key] = list(meta[key]) + [value for value in values if value not in meta[key]]


class RepairCells(NbGraderPreprocessor):
    """Repair a submitted notebook by the engine's one rule, keeping notes of what was repaired, and the outputs of
    the learner's own run where a cell's code is what they ran."""

    def preprocess(self, nb, resources):
        _lesson(resources)
        cells, notes = notebooks.repair(nb, course_notebook(self, resources))
        keep_submitted_outputs(nb, cells)
        nb.cells = [nbformat.from_dict(cell) for cell in cells]
        _record(nb, "notes", notes)
        for note in notes:
            self.log.warning("%s: %s", resources["nbgrader"]["notebook"], note)
        return nb, resources


def keep_submitted_outputs(submitted, cells):
    """Give each repaired code cell in ``cells`` the outputs its submitted cell had, where its source is unchanged.

    A locked cell is the first submitted copy of its grade id (the one the repair keeps); any other cell is the
    submitted cell of the same id, when only one has it (else, for an exercise, the first copy of its grade id). A
    cell whose code was restored or changed, or that was put back, keeps none: its outputs would not be what its
    code made. Only outputs nbformat's schema accepts are kept,
    since nbconvert validates the notebook after each step.
    """
    first, by_id, ids = {}, {}, collections.Counter()
    for cell in submitted["cells"]:
        if not isinstance(cell, dict):
            continue
        if notebooks.grade_id(cell) is not None:
            first.setdefault(notebooks.grade_id(cell), cell)
        if isinstance(cell.get("id"), str):
            by_id[cell["id"]] = cell
            ids[cell["id"]] += 1
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        key = notebooks.grade_id(cell)
        ran = None
        if key is None or notebooks.is_exercise(cell):
            ran = by_id.get(cell["id"]) if ids[cell["id"]] == 1 else None
        if ran is None and key is not None:
            ran = first.get(key)
        if (ran is None or ran.get("cell_type") != "code" or not isinstance(ran.get("outputs"), list)
                or _text(ran.get("source")) != cell["source"]):
            continue
        cell["outputs"] = [output for output in ran["outputs"] if _well_formed(output)]
        count = ran.get("execution_count")
        cell["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 \
            else None


def _text(source):
    """A cell's source as one string; None when it is not text."""
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return source if isinstance(source, str) else None


def _well_formed(output):
    return isinstance(output, dict) and nbformat.validator.isvalid(output, ref="output", version=4, version_minor=5)


class GradeInSandbox(NbGraderPreprocessor):
    """Run the notebook in the engine's sandbox and write each check cell's output from the engine's verdict.

    nbgrader hands over a student's notebooks one at a time. At the first, all
    of the student's lessons start to run side by side in one sandbox
    (``engine.GradedAhead``), each read and repaired as nbgrader's own stages
    read and repair it; each notebook then takes its outcome, as soon as its
    lesson is graded, if the code it runs is the same, and is graded on its
    own otherwise.
    """

    def preprocess(self, nb, resources):
        lesson = _lesson(resources)
        unreadable = nb.metadata.get(NOTES_KEY, {}).get("unreadable")
        if unreadable:  # the file could not be read (ReadAsData): graded as every door grades it, zero
            grade = _engine().zero_lesson(lesson, unreadable)
        else:
            graded = self._graded_ahead(resources)
            grade, _ = _engine().grade_notebook(nb, lesson, release=course_notebook(self, resources),
                                                repaired=nb.metadata.get(NOTES_KEY, {}).get("notes", []),
                                                limits=_limits(self, resources), graded=graded)
            if lesson in graded.failed:
                self.log.error("Grading %s beside the other lessons failed; it was graded on its own", lesson,
                               exc_info=graded.failed[lesson])
            elif lesson not in graded.used:
                self.log.info("%s was graded on its own: its code is not what was graded ahead", lesson)
        # The cells stay as the sanitizing stage left them, with the learner's own outputs; only the checks' change.
        checks = {BY_NAME[name].check_id: name for name in LESSONS[lesson]}
        for cell in nb.cells:
            name = checks.get(notebooks.grade_id(cell))
            if name is not None:
                cell.outputs = [nbformat.from_dict(output) for output in _verdict_outputs(grade.functions[name])]
                cell.execution_count = None
        _record(nb, "notes", grade.notes)
        nb.metadata[NOTES_KEY]["verdicts"] = {name: verdict.as_dict() for name, verdict in grade.functions.items()}
        for note in grade.notes:
            self.log.warning("%s: %s", lesson, note)
        return nb, resources

    def _graded_ahead(self, resources):
        """The student's lessons, all graded side by side from their first notebook in this run (GradedAhead).

        Each notebook takes its own outcome as its lesson is graded: nbgrader's steps for the first notebooks
        overlap the grading of the last lessons. A GradingError of a lesson's stops nbgrader at that notebook, with
        the cause: the first lessons' grades may be written by then, each one a verdict on the student's work, never
        a zero for the grader's fault.
        """
        info = resources["nbgrader"]
        key = (info["assignment"], info["student"])
        graded = grading_run(self)["graded"]
        if key not in graded:
            for earlier in graded.values():
                earlier.wait()  # a class graded in one run grades one student at a time
            graded.clear()
            lessons = _submitted_lessons(self, resources)

            def finished(seconds):
                self.log.info("Graded %d lessons of %s side by side in %.1f s", len(lessons), info["student"], seconds)

            graded[key] = _engine().GradedAhead(lessons, limits=_limits(self, resources), finished=finished)
        return graded[key]


def _submitted_lessons(configurable, resources):
    """{lesson: (notebook, source notebook)} of every lesson the student handed in that the grader can read."""
    info = resources["nbgrader"]
    coursedir = CourseDirectory(config=configurable.config)
    submitted = coursedir.format_path(coursedir.submitted_directory, info["student"], info["assignment"])
    source = coursedir.format_path(coursedir.source_directory, ".", info["assignment"])
    lessons = {}
    for lesson in LESSONS:
        if not os.path.isfile(os.path.join(source, f"{lesson}.ipynb")):
            continue  # not part of this course's assignment
        try:
            notebook = notebooks.read_notebook(os.path.join(submitted, f"{lesson}.ipynb"))
        except (FileNotFoundError, notebooks.NotebookError):
            continue  # graded as nbgrader's door grades it: zero, with a note
        lessons[lesson] = (notebook, notebooks.read_notebook(os.path.join(source, f"{lesson}.ipynb")))
    return lessons


def _verdict_outputs(verdict):
    """A check cell's outputs for a verdict: what the check prints on a pass, an error with its message otherwise."""
    if verdict.passed:
        text = f"{PASSED.format(name=verdict.name)}\n{HIDDEN_PASSED.format(name=verdict.name)}\n"
        return [{"output_type": "stream", "name": "stdout", "text": text}]
    return [{"output_type": "error", "ename": "CheckFailed", "evalue": verdict.message,
             "traceback": verdict_lines(verdict.message)}]


class SaveNotes(NbGraderPreprocessor):
    """Store the grader's notes on a notebook in the gradebook, as comments on its exercises, and flag it for review.

    Runs after SaveAutoGrades, which resets each exercise's automatic comment.
    A lesson of the same submission that was not submitted at all gets its
    note here too: nbgrader zeroes it without a pipeline of its own.
    """

    def preprocess(self, nb, resources):
        lesson = _lesson(resources)
        info = resources["nbgrader"]
        meta = nb.metadata.get(NOTES_KEY, {})
        notes = [meta["unreadable"]] if meta.get("unreadable") else []
        notes += [str(note) for note in meta.get("notes", [])]
        coursedir = CourseDirectory(config=self.config)
        submitted = coursedir.format_path(coursedir.submitted_directory, info["student"], info["assignment"])
        with Gradebook(info["db_url"]) as gradebook:
            store_notes(gradebook, info["assignment"], info["student"], lesson, notes)
            for notebook in gradebook.find_assignment(info["assignment"]).notebooks:
                if not os.path.lexists(os.path.join(submitted, f"{notebook.name}.ipynb")):
                    store_notes(gradebook, info["assignment"], info["student"], notebook.name,
                                [missing_note(notebook.name)])
        return nb, resources


def store_notes(gradebook, assignment, student, notebook, notes):
    """Write ``notes`` on one submitted notebook into nbgrader's gradebook; flag the notebook when there are any.

    Each note becomes part of nbgrader's automatic comment on the exercise it
    names (else on the lesson's first exercise), after nbgrader's own ("No
    response."): the formgrader shows it beside the cell, where a grader can
    override it, and generate_feedback puts it under the student's answer.
    Writing again replaces the notes written before, never a grader's comment.

    Review is asked for with the notebook's ``flagged`` field, not with a grade's
    ``needs_manual_grade``: the engine's scores are final (a note never changes
    one), and a grade that needs manual grading is cleared in the formgrader
    only by typing a score over the autograder's, where a flag is one click
    and shows as a flag in the formgrader's list of submissions. A flag is
    never cleared here: a grader may have set it.
    """
    notes = list(dict.fromkeys(note for note in notes if note))
    submitted = gradebook.find_submission_notebook(notebook, assignment, student)
    comments = {comment.name: comment for comment in submitted.comments}
    order = [name for name in LESSONS.get(notebook, []) if name in comments] or sorted(comments)
    placed = {}
    for note in notes:
        named = [name for name in order if re.search(rf"\b(?:check_)?{re.escape(name)}\b", note)]
        for name in named or order[:1]:
            placed.setdefault(name, []).append(note)
    for name, comment in comments.items():
        own = (comment.auto_comment or "").split(NOTES_HEADING)[0].rstrip()
        text = "\n".join(f"- {_markdown_text(note)}" for note in placed.get(name, []))
        comment.auto_comment = "\n\n".join(part for part in (own, text and f"{NOTES_HEADING}\n\n{text}") if part) or None
    if notes:
        submitted.flagged = True
    gradebook.db.commit()


def _markdown_text(note):
    """A note as markdown that shows it as written: a note can quote learner-controlled text, so no HTML or links."""
    return re.sub(r"([\\`*\[\]])", r"\\\1", html.escape(" ".join(note.split()), quote=False))


class StripHiddenTests(NbGraderPreprocessor):
    """Remove the hidden-test regions from the source of the cells students see in their feedback."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and "### BEGIN HIDDEN TESTS" in cell.source:
            cell.source = notebooks.without_hidden_tests(cell.source).rstrip("\n")
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    # A traceback can quote the cell's lines, hidden ones included: show the verdict alone,
                    # which says what was called, what came back and what was expected.
                    output.traceback = verdict_lines(output.evalue)
        return cell, resources
