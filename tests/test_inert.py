"""nbgrader's side of issue 27, step by step on small notebooks, in milliseconds: the autograded notebook keeps the
learner's own outputs, only inert ones, with their markdown's HTML as text and a note saying whose run it shows; the
feedback and formgrader pages render markdown inertly; a graded release says that hints are off.

tests/browser/test_inert_pages.py opens the pages themselves, after a real ``nbgrader autograde``.
"""

import json
import re
from pathlib import Path

import jinja2
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from traitlets.config import Config

from mnist_lessons import hints
from mnist_lessons.grading import escapelearnerhtml, notebooks
from mnist_lessons.grading.escapelearnerhtml import EscapeLearnerHtml
from mnist_lessons.grading.keepinertoutput import KeepInertOutput
from mnist_lessons.grading.markhintsoff import MarkHintsOff
from mnist_lessons.grading.marksubmittedoutput import NOTE_ID, MarkSubmittedOutput
from mnist_lessons.grading.preprocessors import keep_submitted_outputs
from mnist_lessons.grading.safemarkdown import markdown2html

SCRIPT_HTML = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'
PNG = "iVBORw0KGgo="  # a PNG's signature, as base64: what matters here is its type, not the picture


def cell(kind, key, source, outputs=(), **nbgrader):
    meta = {"nbgrader": {"grade_id": key, **nbgrader}} if key else {}
    made = {"cell_type": kind, "metadata": meta, "source": source, "id": key or f"own-{abs(hash(source)) % 10**6}"}
    if kind == "code":
        made.update(outputs=list(outputs), execution_count=None)
    return made


def stream(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def release():
    """A lesson in four cells: a title, a locked demonstration, an exercise and its check."""
    return {"cells": [
        cell("markdown", "md-1", "# Lesson", locked=True),
        cell("code", "demo", "print('a demonstration')", locked=True),
        cell("code", "square", "def square(x):\n    raise NotImplementedError()", solution=True),
        cell("code", "check_square", "check(square)", locked=True, grade=True, points=1),
    ]}


def run_by_the_learner():
    """The release as the learner ran it: every code cell with its outputs and execution count."""
    notebook = release()
    notebook["cells"][1].update(outputs=[stream("a demonstration\n")], execution_count=1)
    notebook["cells"][2].update(source="def square(x):\n    return x * x", outputs=[stream("defined\n")],
                                execution_count=2)
    notebook["cells"][3].update(outputs=[stream("✓ square passed (learner's kernel)\n")], execution_count=3)
    return notebook


# ---------------------------------------------------------------- the learner's own outputs (RepairCells)


def test_repaired_cells_keep_the_outputs_of_the_learners_run():
    """Does each repaired code cell whose code is what the learner ran keep the outputs and count their run left?"""
    submitted = run_by_the_learner()
    cells, _ = notebooks.repair(submitted, release())
    keep_submitted_outputs(submitted, cells)
    assert [c.get("outputs") for c in cells] == [c.get("outputs") for c in submitted["cells"]]
    assert [c.get("execution_count") for c in cells] == [None, 1, 2, 3]


def test_restored_or_put_back_cells_keep_no_outputs():
    """Does a locked cell the learner edited (restored as released), or deleted (put back), keep none of their
    outputs?"""
    submitted = run_by_the_learner()
    submitted["cells"][1]["source"] = "print('accuracy: 1.0')"
    submitted["cells"][1]["outputs"] = [stream("accuracy: 1.0\n")]
    del submitted["cells"][3]
    cells, _ = notebooks.repair(submitted, release())
    keep_submitted_outputs(submitted, cells)
    assert cells[1]["source"] == "print('a demonstration')" and cells[1]["outputs"] == []
    assert notebooks.grade_id(cells[3]) == "check_square" and cells[3]["outputs"] == []
    assert cells[2]["outputs"] == [stream("defined\n")]


def test_malformed_outputs_are_left_out():
    """Are outputs nbformat's schema refuses (nbconvert validates after every step) left out, the good ones kept?"""
    submitted = run_by_the_learner()
    submitted["cells"][2]["outputs"] = ["not an output", {"output_type": "stream", "name": "stdout"},
                                        {"output_type": "display_data", "data": {"text/plain": 5}, "metadata": {}},
                                        stream("kept\n")]
    submitted["cells"][2]["execution_count"] = "2"
    cells, _ = notebooks.repair(submitted, release())
    keep_submitted_outputs(submitted, cells)
    assert cells[2]["outputs"] == [stream("kept\n")] and cells[2]["execution_count"] is None
    nbformat.validate(nbformat.from_dict({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))


def test_learners_own_cells_keep_their_outputs_by_id():
    """Does a cell the learner added, and the second half of a split exercise, keep its outputs (found by cell id)?"""
    submitted = run_by_the_learner()
    submitted["cells"].insert(3, cell("code", None, "helper = square(3)\nhelper", [
        {"output_type": "execute_result", "data": {"text/plain": "9"}, "metadata": {}, "execution_count": 4}]))
    cells, _ = notebooks.repair(submitted, release())
    keep_submitted_outputs(submitted, cells)
    assert cells[3]["outputs"][0]["data"] == {"text/plain": "9"}


# ---------------------------------------------------------------- only inert outputs (KeepInertOutput)


def two_cell_notebook():
    """A learner's display of everything a kernel can show, and a cell that printed and failed."""
    notebook = new_notebook()
    rich = new_code_cell("show()", outputs=[
        new_output("display_data", data={"text/html": SCRIPT_HTML, "application/javascript": "document.title='pwned'",
                                         "image/svg+xml": "<svg onload=\"document.title='pwned'\"/>",
                                         "text/markdown": SCRIPT_HTML, "text/plain": "<Figure>", "image/png": PNG},
                   metadata={"image/png": {"width": 200, "height": "100\" onload=\"x"},
                             "filenames": {"image/png": "http://example.com/track.png"}}),
        new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "1"}}),
        new_output("execute_result", data={"text/html": SCRIPT_HTML, "text/latex": "$x$", "image/jpeg": PNG},
                   execution_count=2),
    ])
    plain = new_code_cell("print(1); 1 / 0", outputs=[
        new_output("stream", name="stdout", text="1\n"),
        new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=["<b>1 / 0</b>"]),
    ])
    notebook.cells = [rich, plain]
    return notebook


def test_only_text_and_png_or_jpeg_images_are_kept():
    """Does KeepInertOutput keep only text/plain, PNG and JPEG of each display, with no metadata but an image's size?"""
    notebook, _ = KeepInertOutput()(two_cell_notebook(), {})
    rich, plain = notebook.cells
    assert [output.output_type for output in rich.outputs] == ["display_data", "execute_result"]
    assert rich.outputs[0].data == {"text/plain": "<Figure>", "image/png": PNG}
    assert rich.outputs[0].metadata == {"image/png": {"width": 200}}
    assert rich.outputs[1].data == {"image/jpeg": PNG} and rich.outputs[1].execution_count == 2
    assert plain.outputs == two_cell_notebook().cells[1].outputs  # streams and errors are text, kept as they were
    nbformat.validate(notebook)


def test_markdown_cells_and_empty_notebooks_pass_through():
    """Does KeepInertOutput leave markdown cells alone and keep a cell with no outputs valid?"""
    notebook = new_notebook(cells=[new_markdown_cell(SCRIPT_HTML), new_code_cell("x = 1")])
    notebook, _ = KeepInertOutput()(notebook, {})
    assert notebook.cells[0].source == SCRIPT_HTML and notebook.cells[1].outputs == []


# ---------------------------------------------------------------- the learner's markdown as text (EscapeLearnerHtml)


def test_learners_markdown_keeps_its_html_as_text(monkeypatch):
    """Is raw HTML in a markdown cell the learner added or edited turned into text, and the course's own left alone?"""
    course = nbformat.from_dict(release())
    monkeypatch.setattr(escapelearnerhtml, "course_notebook", lambda *_: course)
    notebook = new_notebook(cells=[nbformat.from_dict(release()["cells"][0]),
                                   new_markdown_cell(f"My notes {SCRIPT_HTML}")])
    edited = nbformat.from_dict(release()["cells"][0])
    edited.source = "# Lesson <img src=x onerror=alert(1)>"
    notebook.cells.append(edited)
    notebook, _ = EscapeLearnerHtml()(notebook, {})
    assert notebook.cells[0].source == "# Lesson"
    assert "<" not in notebook.cells[1].source and "&lt;script>" in notebook.cells[1].source
    assert notebook.cells[2].source == "# Lesson &lt;img src=x onerror=alert(1)>"


# ---------------------------------------------------------------- whose run the outputs are (MarkSubmittedOutput)


def test_note_says_the_outputs_are_the_students_own_run():
    """Is a markdown note put first, saying the outputs are the student's run and the checks the grader's verdicts?"""
    notebook = new_notebook(cells=[new_markdown_cell("# Lesson"), new_code_cell("x = 1")])
    notebook.cells[1].id = NOTE_ID  # a learner's cell that took the note's id
    notebook, _ = MarkSubmittedOutput()(notebook, {})
    note = notebook.cells[0]
    assert note.cell_type == "markdown" and "student's own run" in note.source and "verdict" in note.source
    assert len(notebook.cells) == 3 and note.id != NOTE_ID
    nbformat.validate(notebook)


# ---------------------------------------------------------------- the pages' markdown (safemarkdown.markdown2html)


def render(source, cell=None):
    environment = jinja2.Environment()
    environment.filters["markdown2html"] = markdown2html
    return environment.from_string("{{ source | markdown2html }}").render(source=source, cell=cell or {}, resources={})


@pytest.mark.parametrize("source", [
    SCRIPT_HTML, "<svg onload=alert(1)>", "x <b onmouseover=alert(1)>y</b>", "<!-- --><script>alert(1)</script>",
    "```mermaid\n<img src=x onerror=alert(1)>\n```",
], ids=["img-and-script", "svg", "inline", "comment", "mermaid"])
def test_pages_show_raw_html_as_text(source):
    """Does the pages' markdown2html show any raw HTML, however it is written, as text?"""
    html = render(source)
    assert "<script" not in html and "<img" not in html and "<svg" not in html and "<b " not in html
    assert "&lt;" in html


@pytest.mark.parametrize("source", [
    "[x](javascript:alert(1))", "[x](&#106;avascript:alert(1))", "<javascript:alert(1)>",
    "[x]: JaVaScRiPt:alert(1)\n\n[y][x]", "![x](data:image/svg+xml;base64,PHN2Zz4=)",
])
def test_pages_make_harmful_links_lead_nowhere(source):
    """Does a javascript: link (or an SVG data image), however spelt, render without its target?"""
    targets = re.findall(r'(?:href|src)="([^"]*)"', render(source))
    assert targets == ["#harmful-link"]


def test_lesson_markdown_renders_as_before():
    """Does every markdown cell of the lessons, and a grader's note, render exactly as nbconvert's own filter did?"""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    from mnist_lessons.grading.preprocessors import _markdown_text

    sources = [notebooks.source(c) for path in sorted(Path(__file__).parents[1].glob("solutions/mnist/*.ipynb"))
               for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"]
    sources.append("**Notes from the grader:**\n\n- " + _markdown_text("The cell 'a<b>' & *x* had been deleted"))
    for source in sources:
        before = MarkdownWithMath(renderer=IPythonRenderer(escape=False)).render(source)
        assert render(source) == before, source[:80]


# ---------------------------------------------------------------- hints off in a graded release (MarkHintsOff)


def generate_config(root, clear_hints):
    config = Config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.release_directory = "course"
    config.ClearHints.enabled = clear_hints
    return config


def test_graded_release_carries_the_hints_off_file(tmp_path):
    """With ClearHints on, does MarkHintsOff write the file beside the release's notebooks, and with it off remove
    it?"""
    resources = {"nbgrader": {"assignment": "mnist", "notebook": "01_load_data", "student": "."}}
    marker = tmp_path / "course" / "mnist" / hints.HINTS_OFF_FILE
    MarkHintsOff(config=generate_config(tmp_path, True))(new_notebook(), resources)
    assert marker.is_file() and hints.hints_off(marker.parent)
    MarkHintsOff(config=generate_config(tmp_path, False))(new_notebook(), resources)
    assert not marker.exists() and not hints.hints_off(marker.parent)
