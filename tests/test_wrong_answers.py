"""Typical wrong answers, run in each course notebook in a real kernel: does each check cell show a short verdict with its hint?"""

import re

import nbformat
import pytest
from test_notebooks import COURSE, execute, nbgrader_meta, outputs_of

from mnist_lessons.exercises import BY_NAME, LESSONS

MAX_LINES = 8  # what a failed check may show, heading included: a verdict, not a traceback (issue 15)
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Round k of a lesson answers each of its exercises with the k-th typical mistake of its record, or the first where it
# has fewer: every mistake of every record runs in its lesson's kernel once.
ROUNDS = [(lesson, round_) for lesson in LESSONS
          for round_ in range(max(len(BY_NAME[name].mistakes) for name in LESSONS[lesson]))]


def wrong_answer(name, round_):
    """The exercise's typical mistake in a round."""
    mistakes = BY_NAME[name].mistakes
    return mistakes[round_] if round_ < len(mistakes) else mistakes[0]


@pytest.mark.parametrize("lesson, round_", ROUNDS, ids=[f"{lesson}-{round_}" for lesson, round_ in ROUNDS])
def test_wrong_answers_get_short_verdicts_with_hints(lesson, round_, tmp_path, monkeypatch):
    """With every exercise of the lesson answered wrong, does each check cell fail alone, in at most 8 lines, with its hint?"""
    monkeypatch.setenv("MNIST_LESSONS_DATA", "sample")  # a tenth of MNIST, as the checks themselves use
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # the lessons' short training runs
    notebook = nbformat.read(COURSE / f"{lesson}.ipynb", as_version=4)
    for cell in notebook.cells:
        name = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution"):
            cell.source = wrong_answer(name, round_).source.strip()
    (tmp_path / "wrong").mkdir()
    nbformat.write(notebook, tmp_path / "wrong" / f"{lesson}.ipynb")

    notebook = execute(tmp_path / "wrong" / f"{lesson}.ipynb", tmp_path)

    errors = {nbgrader_meta(cell).get("grade_id"): outputs_of(cell, "error") for cell in notebook.cells
              if cell.cell_type == "code" and outputs_of(cell, "error")}
    assert set(errors) == {f"check_{name}" for name in LESSONS[lesson]}, "only the check cells fail"
    for name in LESSONS[lesson]:
        [error] = errors[f"check_{name}"]
        shown = ANSI.sub("", "\n".join(error.traceback)).strip().splitlines()
        text = "\n".join(shown)
        assert error.ename == "CheckFailed", (name, error.ename, error.evalue)
        assert shown[0] == "✗ The check did not pass" and f"Called {name}(" in text, text
        assert len(shown) <= MAX_LINES, f"{name}'s verdict takes {len(shown)} lines:\n{text}"
        hint = wrong_answer(name, round_).says
        assert hint in " ".join(shown), f"{name}'s verdict lacks its hint {hint!r}:\n{text}"
        assert "checks.py" not in text and "Traceback" not in text
