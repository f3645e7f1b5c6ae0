"""Hints on request: every exercise has three tiers, shown one at a time, recorded, and left out of a release on request."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from mnist_lessons import checks, hints
from mnist_lessons.grading.clearhints import ClearHints
from mnist_lessons.exercises import BY_NAME, EXERCISES, LESSONS

from test_notebooks import generate_release

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions" / "mnist"
COURSE = ROOT / "course" / "mnist"
MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION\n", re.MULTILINE)


@pytest.fixture
def learner_folder(tmp_path, monkeypatch):
    """A fresh kernel's state, working in an empty folder beside the learner's notebooks."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setattr(hints, "_shown", {})
    return tmp_path


def shown(capsys):
    return capsys.readouterr().out


def test_every_exercise_has_three_tiers():
    """Does every exercise's record have an idea, an API hint and a solution that defines the exercise's function?"""
    for exercise in EXERCISES:
        assert exercise.idea and exercise.api and exercise.solution, exercise.name
        assert exercise.solution.startswith(f"def {exercise.name}("), exercise.name


@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_tier_is_the_solution_cell(lesson):
    """Is each exercise's tier-3 solution exactly its solution cell in solutions/, without nbgrader's markers?"""
    notebook = nbformat.read(SOLUTIONS / f"{lesson}.ipynb", as_version=4)
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            assert MARKERS.sub("", cell.source + "\n").rstrip("\n") == BY_NAME[meta["grade_id"]].solution


@pytest.mark.parametrize("lesson", LESSONS)
def test_each_exercise_says_how_to_ask_for_a_hint(lesson):
    """Right after each check cell, in solutions/ and course/, is there one short cell tagged hint naming checks.hint?"""
    for folder in (SOLUTIONS, COURSE):
        notebook = nbformat.read(folder / f"{lesson}.ipynb", as_version=4)
        tagged = [cell for cell in notebook.cells if "hint" in cell.metadata.get("tags", [])]
        assert len(tagged) == len(LESSONS[lesson])
        for name in LESSONS[lesson]:
            index = next(i for i, cell in enumerate(notebook.cells)
                         if cell.metadata.get("nbgrader", {}).get("grade_id") == f"check_{name}")
            cell = notebook.cells[index + 1]
            assert cell.cell_type == "markdown" and "hint" in cell.metadata.get("tags", [])
            assert f'checks.hint("{name}")' in cell.source and f'checks.solution("{name}")' in cell.source
            assert len(cell.source.splitlines()) == 1


def test_hints_come_one_tier_at_a_time(learner_folder, capsys):
    """Does each call show the next tier only, stop at the last hint, and leave the solution to solution()?"""
    tiers = BY_NAME["preprocess_images"]
    checks.hint("preprocess_images")
    first = shown(capsys)
    assert tiers.idea in first and tiers.api not in first and tiers.solution not in first
    checks.hint("preprocess_images")
    second = shown(capsys)
    assert tiers.api in second and tiers.idea not in second and "checks.solution" in second
    checks.hint("preprocess_images")
    assert tiers.solution not in shown(capsys), "a third hint() is still not the solution"
    checks.solution("preprocess_images")
    assert tiers.solution in shown(capsys)
    checks.hint("one_hot_labels", 2)
    assert BY_NAME["one_hot_labels"].api in shown(capsys)


def test_wrong_name_or_tier_says_so_in_one_line(learner_folder, capsys):
    """Does a misspelt exercise or a tier out of range get one line naming what is allowed, not an exception?"""
    checks.hint("preprocess_image")
    out = shown(capsys)
    assert "no exercise named 'preprocess_image'" in out and "preprocess_images" in out
    checks.hint("preprocess_images", 4)
    assert "from 1 to 3" in shown(capsys)
    assert not (learner_folder / hints.HINTS_SEEN_FILE).exists()


def test_hints_seen_are_recorded_and_resume(learner_folder, monkeypatch, capsys):
    """Is the highest tier seen per exercise written beside the notebooks, and does a restarted kernel go on from it?"""
    checks.hint("confusion_matrix")
    checks.solution("predict_labels")
    record = json.loads((learner_folder / hints.HINTS_SEEN_FILE).read_text())
    assert record == {"hints_seen": {"confusion_matrix": 1, "predict_labels": 3}}
    assert hints.read_hints_seen(learner_folder) == {"confusion_matrix": 1, "predict_labels": 3}
    assert [path.name for path in learner_folder.iterdir()] == [hints.HINTS_SEEN_FILE], "no temporary file left"
    monkeypatch.setattr(hints, "_shown", {})  # the kernel restarted
    shown(capsys)
    checks.hint("confusion_matrix")
    assert BY_NAME["confusion_matrix"].api in shown(capsys)
    assert hints.read_hints_seen(learner_folder)["confusion_matrix"] == 2


def test_unwritable_or_broken_record_never_stops_a_hint(learner_folder, monkeypatch, capsys):
    """Where the record cannot be written, or holds rubbish, is the hint still shown?"""
    (learner_folder / hints.HINTS_SEEN_FILE).write_text("{not json")
    checks.hint("build_model")
    assert BY_NAME["build_model"].idea in shown(capsys)
    assert hints.read_hints_seen(learner_folder) == {"build_model": 1}, "rubbish is replaced by a good record"

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(hints.tempfile, "mkstemp", refuse)
    checks.hint("compile_model")
    assert BY_NAME["compile_model"].idea in shown(capsys)
    (learner_folder / hints.HINTS_SEEN_FILE).write_text(json.dumps({"hints_seen": {"build_model": "x", "nope": 2}}))
    assert hints.read_hints_seen(learner_folder) == {}


def test_grader_runs_record_nothing(learner_folder, monkeypatch, capsys):
    """Does a hint() left in a notebook that nbgrader runs leave no record (the grader is not the learner)?"""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    checks.hint("train_model")
    assert BY_NAME["train_model"].idea in shown(capsys)
    assert not (learner_folder / hints.HINTS_SEEN_FILE).exists()


def test_hints_are_off_in_a_graded_release(learner_folder, capsys):
    """Beside a graded release's notebooks (its hints-off file), do hint() and solution() say hints are off, show no
    hint or solution, and record nothing?"""
    (learner_folder / hints.HINTS_OFF_FILE).write_text("off")
    tiers = BY_NAME["build_model"]
    for ask in (lambda: checks.hint("build_model"), lambda: checks.hint("build_model", 2),
                lambda: checks.solution("build_model")):
        ask()
        out = shown(capsys)
        assert "off for this class" in out
        assert tiers.idea not in out and tiers.api not in out and tiers.solution not in out
    assert not (learner_folder / hints.HINTS_SEEN_FILE).exists()
    (learner_folder / hints.HINTS_OFF_FILE).unlink()  # open use: the course as shipped, hints on request
    checks.hint("build_model")
    assert tiers.idea in shown(capsys)


def two_cell_notebook():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("### Exercise"), nbformat.v4.new_markdown_cell("*Stuck?*")]
    notebook.cells[1].metadata["tags"] = ["hint"]
    return notebook


def test_clear_hints_is_off_by_default():
    """Does ClearHints leave a notebook alone unless an instructor enables it?"""
    notebook, _ = ClearHints()(two_cell_notebook(), {})
    assert len(notebook.cells) == 2


def test_clear_hints_removes_tagged_cells():
    """Enabled, does ClearHints leave out the cells tagged hint, and only those?"""
    notebook, _ = ClearHints(enabled=True)(two_cell_notebook(), {})
    assert [cell.source for cell in notebook.cells] == ["### Exercise"]


def test_release_without_hints(tmp_path):
    """With c.ClearHints.enabled = True in nbgrader_config.py, does generate_assignment release no hint at all?"""
    generate_release(tmp_path, "\nc.ClearHints.enabled = True\n")
    assert hints.hints_off(tmp_path / "course" / "mnist"), "the release says hints are off, for checks.hint()"
    for lesson in LESSONS:
        released = nbformat.read(tmp_path / "course" / "mnist" / f"{lesson}.ipynb", as_version=4)
        committed = nbformat.read(COURSE / f"{lesson}.ipynb", as_version=4)
        assert "checks.hint" not in json.dumps(released)
        kept = [cell for cell in committed.cells if "hint" not in cell.metadata.get("tags", [])]
        assert [cell.source for cell in released.cells] == [cell.source for cell in kept]
