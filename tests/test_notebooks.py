"""The lesson notebooks: solutions/ runs clean, course/ fails only at its exercises, and course/ is generated."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from mnist_lessons.checks import HIDDEN_PASSED, PASSED
from mnist_lessons.exercises import BY_NAME, LESSONS

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions" / "mnist"
COURSE = ROOT / "course" / "mnist"
STUB_MESSAGE = "Exercise not done yet"  # nbgrader_config.py's ClearSolutions.code_stub
CELL_TIMEOUT = 300  # seconds; a lesson takes well under a minute (lesson 05's full run included)


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def execute(path, tmp_path):
    """Run a copy of the notebook at ``path`` in ``tmp_path``, errors allowed; return the notebook run.

    The kernel inherits this process's environment (set it with monkeypatch).
    """
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    notebook = nbformat.read(copy, as_version=4)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    return notebook


def outputs_of(cell, kind):
    return [output for output in cell.get("outputs", []) if output.output_type == kind]


def stderr_text(cell):
    return "".join(output.text for output in outputs_of(cell, "stream") if output.name == "stderr")


def stdout_text(cell):
    return "".join(output.text for output in outputs_of(cell, "stream") if output.name == "stdout")


def test_all_lessons_exist():
    """Are the registry's lessons in solutions/ and course/, and nothing else?"""
    expected = sorted(f"{lesson}.ipynb" for lesson in LESSONS)
    assert sorted(path.name for path in SOLUTIONS.glob("*.ipynb")) == expected
    assert sorted(path.name for path in COURSE.glob("*.ipynb")) == expected


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_structure(lesson):
    """Does each lesson open with a title, a goal and "You will", end with Summary and Exercises, and grade its functions?"""
    notebook = nbformat.read(SOLUTIONS / f"{lesson}.ipynb", as_version=4)
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# Lesson {lesson[:2]}: ")
    assert "**Goal:**" in first.source and "You will:" in first.source
    last = notebook.cells[-1]
    assert last.cell_type == "markdown" and "## Summary" in last.source and "## Exercises" in last.source

    solutions = [nbgrader_meta(cell)["grade_id"] for cell in notebook.cells if nbgrader_meta(cell).get("solution")]
    tests = [nbgrader_meta(cell)["grade_id"] for cell in notebook.cells if nbgrader_meta(cell).get("grade")]
    assert solutions == list(LESSONS[lesson])
    assert tests == [f"check_{name}" for name in LESSONS[lesson]]
    points = {nbgrader_meta(cell)["grade_id"]: nbgrader_meta(cell)["points"] for cell in notebook.cells
              if nbgrader_meta(cell).get("grade")}
    assert points == {BY_NAME[name].check_id: BY_NAME[name].points for name in LESSONS[lesson]}, "the registry's points"
    for index, cell in enumerate(notebook.cells):
        meta = nbgrader_meta(cell)
        assert meta.get("grade_id"), f"cell {index} has no nbgrader grade_id"
        if meta.get("solution"):
            name = meta["grade_id"]
            # The task is three cells: explanation, the function, its locked check right after.
            assert notebook.cells[index - 1].cell_type == "markdown"
            assert re.search(rf"^def {name}\(", cell.source, re.MULTILINE)
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
            check = notebook.cells[index + 1]
            assert nbgrader_meta(check).get("grade") and nbgrader_meta(check).get("locked")
            assert nbgrader_meta(check).get("points", 0) > 0
            assert f"checks.check_{name}({name})" in check.source
            assert re.search(
                rf"### BEGIN HIDDEN TESTS\n.*check_{name}\({name}, hidden=True\).*\n### END HIDDEN TESTS",
                check.source, re.DOTALL,
            )
        else:
            assert meta.get("locked"), f"cell {index} ({meta['grade_id']}) is not locked"
        assert cell.cell_type == "markdown" or not cell.outputs, "solutions/ is committed with outputs cleared"


@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_runs_and_passes(lesson, tmp_path, monkeypatch):
    """Does each solutions notebook run top to bottom, every check pass, no cell write to stderr, and its plots show?"""
    monkeypatch.delenv("MNIST_LESSONS_DATA", raising=False)  # a fresh install: the MNIST inside the package
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)  # the learner's path: lesson 05's full run
    notebook = execute(SOLUTIONS / f"{lesson}.ipynb", tmp_path)
    errors = [(nbgrader_meta(cell).get("grade_id"), output.ename, output.evalue)
              for cell in notebook.cells if cell.cell_type == "code" for output in outputs_of(cell, "error")]
    assert errors == []
    stderr = {index: stderr_text(cell) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"}
    assert {index: text for index, text in stderr.items() if text} == {}, "a learner's run-all shows no stderr"
    for name in LESSONS[lesson]:
        check = next(cell for cell in notebook.cells if nbgrader_meta(cell).get("grade_id") == f"check_{name}")
        printed = stdout_text(check)
        assert PASSED.format(name=name) in printed and HIDDEN_PASSED.format(name=name) in printed
        assert stderr_text(check) == "", "nbgrader scores a test cell that writes to stderr as zero"
    images = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if "image/png" in output.get("data", {})]
    assert images, "every lesson shows at least one plot"


@pytest.mark.parametrize("lesson", LESSONS)
def test_course_fails_only_at_its_exercises(lesson, tmp_path, monkeypatch):
    """In the untouched student copy, does every check fail with the exercise's NotImplementedError, and nothing else break?"""
    monkeypatch.setenv("MNIST_LESSONS_DATA", "sample")  # a tenth of MNIST: the stubs fail as fast
    notebook = execute(COURSE / f"{lesson}.ipynb", tmp_path)
    failed = {}
    for cell in notebook.cells:
        for output in outputs_of(cell, "error"):
            failed[nbgrader_meta(cell).get("grade_id")] = (output.ename, output.evalue)
    assert set(failed) == {f"check_{name}" for name in LESSONS[lesson]}
    for grade_id, (ename, evalue) in failed.items():
        assert ename == "NotImplementedError" and STUB_MESSAGE in evalue, (grade_id, ename, evalue)


def generate_release(folder, extra_config=""):
    """Run `nbgrader generate_assignment` on a copy of solutions/ and nbgrader_config.py (plus ``extra_config``) in ``folder``."""
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    with open(folder / "nbgrader_config.py", "a") as config:
        config.write(extra_config)
    shutil.copytree(ROOT / "solutions", folder / "solutions")
    completed = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", "mnist", "--force"],
        cwd=folder, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]


def test_course_is_generated_from_solutions(tmp_path):
    """Does `nbgrader generate_assignment` on solutions/ give course/ exactly (so that nobody edits course/ by hand)?"""
    generate_release(tmp_path)
    for lesson in LESSONS:
        generated = json.loads((tmp_path / "course" / "mnist" / f"{lesson}.ipynb").read_text())
        committed = json.loads((COURSE / f"{lesson}.ipynb").read_text())
        assert committed == generated, (
            f"course/mnist/{lesson}.ipynb differs from what solutions/ generates: "
            "run `nbgrader generate_assignment mnist --force` from the repository root"
        )


def test_course_has_no_solutions():
    """Is every solution region of the student copy replaced by the stub, and every hidden test removed?"""
    for lesson in LESSONS:
        text = (COURSE / f"{lesson}.ipynb").read_text()
        assert "BEGIN SOLUTION" not in text and "hidden=True" not in text and "HIDDEN TESTS" not in text
        assert text.count(STUB_MESSAGE) == len(LESSONS[lesson])
