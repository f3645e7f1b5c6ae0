"""The learner's own functions downstream: a lesson's later cells use the learner's function once it passes its check."""

import gc

import nbformat
import pytest
from test_notebooks import COURSE, execute, nbgrader_meta, outputs_of, stdout_text

from mnist_lessons import checks, downstream, evaluate

# A notebook's cells, run in one namespace as a kernel runs them.
RIGHT = "def compare_labels(predicted, actual, n=10):\n    return [(int(p), int(a)) for p, a in zip(predicted[:n], actual[:n])]"
WRONG = "def compare_labels(predicted, actual, n=10):\n    return [(int(a), int(p)) for p, a in zip(predicted[:n], actual[:n])]"
STUB = "def compare_labels(predicted, actual, n=10):\n    raise NotImplementedError('Exercise not done yet')"
# Right on the visible case (arrays), wrong on a hidden one (plain lists have no .tolist()).
ARRAYS_ONLY = "def compare_labels(predicted, actual, n=10):\n    return list(zip(predicted[:n].tolist(), actual[:n].tolist()))"
CHECK = "checks.check_compare_labels(compare_labels)"
HIDDEN_CHECK = "checks.check_compare_labels(compare_labels, hidden=True)"
LATER_CELL = "used = checks.yours('compare_labels', fallback=course_compare_labels)"

NOT_PASSED = "Using the course's compare_labels: yours has not passed its check yet.\n"
CHANGED = "Using the course's compare_labels: yours changed after it passed its check; run its check cell again.\n"


@pytest.fixture
def kernel():
    """A fresh namespace, as a new kernel's, with nothing remembered from other tests."""
    downstream._passed.clear()
    yield {"checks": checks, "course_compare_labels": evaluate.compare_labels}
    downstream._passed.clear()


def run(kernel, *cells):
    for source in cells:
        try:
            exec(source, kernel)
        except AssertionError:
            pass  # a failed check: the cell shows its verdict, the notebook goes on
        except NotImplementedError:
            pass


def later_cell(kernel, capsys):
    """Run the later cell; return (the function it got, what it printed)."""
    capsys.readouterr()  # what the checks printed before
    run(kernel, LATER_CELL)
    return kernel["used"], capsys.readouterr().out


def test_a_function_that_passed_is_used_without_a_word(kernel, capsys):
    """Once the check passed, does the later cell get the learner's own function, and print nothing?"""
    run(kernel, RIGHT, CHECK)
    used, printed = later_cell(kernel, capsys)
    assert used is kernel["compare_labels"] and printed == ""


@pytest.mark.parametrize("cells", [(STUB, CHECK), (WRONG, CHECK), (RIGHT,), ()],
                         ids=["not done", "failed", "not checked", "not defined"])
def test_otherwise_the_course_s_function_is_used_and_said_in_one_line(kernel, capsys, cells):
    """Not done, failed, never checked or not even defined: is the course's function used, with exactly one line why?"""
    run(kernel, *cells)
    used, printed = later_cell(kernel, capsys)
    assert used is evaluate.compare_labels and printed == NOT_PASSED


def test_a_function_redefined_after_passing_is_not_used_silently(kernel, capsys):
    """Passed, then redefined wrongly without checking again: does the later cell fall back and say so?"""
    run(kernel, RIGHT, CHECK, WRONG)
    used, printed = later_cell(kernel, capsys)
    assert used is evaluate.compare_labels and printed == CHANGED


def test_a_redefinition_checked_again_is_the_one_used(kernel, capsys):
    """Passed, redefined, then failed its check: fallback; fixed and checked again: is the new one used?"""
    run(kernel, RIGHT, CHECK, WRONG, CHECK)
    used, printed = later_cell(kernel, capsys)
    assert used is evaluate.compare_labels and printed == NOT_PASSED
    run(kernel, RIGHT, CHECK)
    used, printed = later_cell(kernel, capsys)
    assert used is kernel["compare_labels"] and printed == ""


def test_hidden_tests_are_part_of_the_same_check(kernel, capsys):
    """A function that passes the visible check but fails the hidden one: is it treated as failed?"""
    run(kernel, ARRAYS_ONLY, CHECK)
    assert later_cell(kernel, capsys)[1] == ""
    run(kernel, HIDDEN_CHECK)
    used, printed = later_cell(kernel, capsys)
    assert used is evaluate.compare_labels and printed == NOT_PASSED


def test_remembering_keeps_nothing_alive(kernel):
    """Does a passing check leave the object it checked to the garbage collector (the grader's stand-ins hold models)?"""

    class StandIn:  # like the grader's replay of a learner's function
        def __call__(self, predicted, actual, n=10):
            return evaluate.compare_labels(predicted, actual, n)

    stand_in = StandIn()
    checks.check_compare_labels(stand_in)
    assert downstream._passed["compare_labels"]() is stand_in
    del stand_in
    gc.collect()
    assert downstream._passed["compare_labels"]() is None


def test_an_unknown_exercise_is_an_error(kernel):
    """Does a misspelt exercise name in a lesson fail loudly instead of always falling back?"""
    with pytest.raises(ValueError, match="no exercise named 'compare_label'"):
        downstream.yours("compare_label", fallback=evaluate.compare_labels)


def test_checks_keep_their_names_and_docstrings():
    """Do the wrapped checks still read as themselves (pytest reports, help())?"""
    assert checks.check_compare_labels.__name__ == "check_compare_labels"
    assert checks.check_compare_labels.__doc__.startswith("Does compare_labels pair")


# ---------------------------------------------------------------- in the lessons


RECORDING_PREPROCESS = '''calls = []  # the length of each batch of images given to the learner's function


def preprocess_images(images):
    calls.append(len(images))
    return images.reshape(len(images), -1).astype("float32") / 255.0'''


def test_a_lesson_uses_the_learners_function_once_it_passed(tmp_path, monkeypatch):
    """In lesson 02 with preprocess_images passed and one_hot_labels not done: do the later cells use the learner's
    preprocess_images on the training images, and the course's one_hot_labels with one line saying why?"""
    monkeypatch.setenv("MNIST_LESSONS_DATA", "sample")  # 6,000 training images
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    notebook = nbformat.read(COURSE / "02_preprocess.ipynb", as_version=4)
    [exercise] = [cell for cell in notebook.cells if nbgrader_meta(cell).get("grade_id") == "preprocess_images"]
    exercise.source = RECORDING_PREPROCESS
    notebook.cells.append(nbformat.v4.new_code_cell("print(calls)"))
    (tmp_path / "learner").mkdir()
    nbformat.write(notebook, tmp_path / "learner" / "02_preprocess.ipynb")

    notebook = execute(tmp_path / "learner" / "02_preprocess.ipynb", tmp_path)

    failed = [nbgrader_meta(cell).get("grade_id") for cell in notebook.cells if outputs_of(cell, "error")]
    assert failed == ["check_one_hot_labels"]
    shown = {nbgrader_meta(cell).get("grade_id"): stdout_text(cell) for cell in notebook.cells
             if cell.cell_type == "code"}
    assert "Using the course's" not in shown["code-2"] and "(6000, 784) float32" in shown["code-2"]
    assert shown["code-3"].splitlines()[0] == "Using the course's one_hot_labels: yours has not passed its check yet."
    assert sum("Using the course's" in line for line in shown["code-3"].splitlines()) == 1
    assert shown[None] == "[3, 6000]\n", "the check's 3 images, then the demonstration's 6,000 training images"
