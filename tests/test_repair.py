"""The grader's rules on small notebooks, in milliseconds: reading as data, the one repair rule, the program run, nbgrader's glue."""

import json
import os

import nbformat
import pytest
from nbgrader.utils import determine_grade

from mnist_lessons.grading import engine, notebooks
from mnist_lessons.grading.engine import FunctionGrade
from mnist_lessons.grading.preprocessors import _verdict_outputs


def cell(kind, key, source, **nbgrader):
    meta = {"nbgrader": {"grade_id": key, **nbgrader}} if key else {}
    made = {"cell_type": kind, "metadata": meta, "source": source}
    if kind == "code":
        made.update(outputs=[], execution_count=None)
    return made


def release():
    """A two-exercise lesson: set-up, exercise, its check, a demonstration, then the second exercise and check."""
    return {"cells": [
        cell("markdown", "md-1", "# Lesson", locked=True),
        cell("code", "setup", "import numpy as np", locked=True),
        cell("code", "preprocess_images", "def preprocess_images(images):\n    raise NotImplementedError()",
             solution=True),
        cell("code", "check_preprocess_images", "check(preprocess_images)", locked=True, grade=True, points=2),
        cell("code", "demo", "print('a demonstration')", locked=True),
        cell("code", "one_hot_labels", "def one_hot_labels(labels):\n    raise NotImplementedError()", solution=True),
        cell("code", "check_one_hot_labels", "check(one_hot_labels)\n### BEGIN HIDDEN TESTS\nhidden()\n"
             "### END HIDDEN TESTS", locked=True, grade=True, points=2),
    ]}


def student_copy():
    """The release as a learner gets it: the hidden tests gone."""
    notebook = release()
    notebook["cells"][-1]["source"] = "check(one_hot_labels)\n"
    return notebook


def keys(cells):
    return [notebooks.grade_id(cell) for cell in cells]


def test_untouched_student_copy_needs_no_repair():
    """Does the student's copy, hidden tests removed, come through unchanged and without a note?"""
    cells, notes = notebooks.repair(student_copy(), release())
    assert notes == []
    assert keys(cells) == keys(release()["cells"])


def test_edited_locked_cell_is_restored_with_a_note():
    """Is an edited check cell given back its released source, with a note naming it?"""
    notebook = student_copy()
    notebook["cells"][3]["source"] = "print('✓ all good')"
    cells, notes = notebooks.repair(notebook, release())
    assert cells[3]["source"] == "check(preprocess_images)"
    assert notes == ["The locked cell 'check_preprocess_images' had been edited; it was graded as released."]


def test_duplicated_locked_cell_is_kept_once():
    """Is a second copy of a check cell left out, with a note?"""
    notebook = student_copy()
    notebook["cells"].append(json.loads(json.dumps(notebook["cells"][3])))
    cells, notes = notebooks.repair(notebook, release())
    assert keys(cells).count("check_preprocess_images") == 1
    assert notes == ["The locked cell 'check_preprocess_images' appeared more than once; only its first copy was kept."]


def test_split_exercise_keeps_both_halves_in_order():
    """Do both halves of a split exercise cell run, the second as the learner's own cell (nbgrader allows one id)?"""
    notebook = student_copy()
    first = json.loads(json.dumps(notebook["cells"][2]))
    first["source"] = "SCALE = 255"
    notebook["cells"].insert(2, first)
    cells, notes = notebooks.repair(notebook, release())
    assert notes == []
    assert [cell["source"] for cell in cells[2:4]] == ["SCALE = 255", notebook["cells"][3]["source"]]
    assert keys(cells)[2:4] == ["preprocess_images", None]


def test_deleted_cells_are_put_back_in_place():
    """Are a deleted check cell and a deleted exercise put back after the released cell before each, with notes?"""
    notebook = student_copy()
    del notebook["cells"][6], notebook["cells"][5]  # one_hot_labels and its check
    cells, notes = notebooks.repair(notebook, release())
    assert keys(cells) == keys(release()["cells"])
    assert cells[5]["source"].endswith("raise NotImplementedError()")
    assert "hidden()" in cells[6]["source"]  # put back from the release nbgrader grades with
    assert notes == ["The cell 'one_hot_labels' (the cell where you write it) had been deleted; it was put back as released.",
                     "The cell 'check_one_hot_labels' (a locked cell) had been deleted; it was put back as released."]


def test_added_cells_stay_and_lose_foreign_ids():
    """Does a cell the learner added run where it stands, any grade id of its own dropped?"""
    notebook = student_copy()
    notebook["cells"].insert(4, cell("code", "my-own-id", "helper = 1", grade=True, points=99))
    cells, notes = notebooks.repair(notebook, release())
    assert notes == [] and cells[4]["source"] == "helper = 1" and notebooks.grade_id(cells[4]) is None
    assert "nbgrader" not in cells[4]["metadata"]


@pytest.mark.parametrize("broken", [
    "not a cell",
    {"cell_type": "code", "metadata": [], "source": "x = 1", "outputs": []},
    {"cell_type": "code", "metadata": {"nbgrader": {"grade_id": ["a", "list"]}}, "source": "x = 1"},
    {"cell_type": "code", "metadata": {}, "source": 42},
    {"cell_type": "widget", "metadata": {}, "source": ""},
], ids=["string", "list-metadata", "list-grade-id", "number-source", "unknown-type"])
def test_malformed_cells_cost_nothing_else(broken):
    """Does a malformed cell never crash the repair, leaving the rest of the notebook as it was?"""
    notebook = student_copy()
    notebook["cells"].insert(4, broken)
    cells, notes = notebooks.repair(notebook, release())
    assert [key for key in keys(cells) if key] == keys(release()["cells"])
    assert len(notes) <= 1


def test_repair_is_idempotent():
    """Does repairing a repaired notebook change nothing and note nothing (nbgrader's door repairs, then grades)?"""
    notebook = student_copy()
    notebook["cells"][3]["source"] = "edited"
    del notebook["cells"][6]
    once, _ = notebooks.repair(notebook, release())
    twice, notes = notebooks.repair({"cells": once}, release())
    assert twice == once and notes == []


def test_program_skips_checks_and_demonstrations():
    """Does every door run the set-up and the exercises, and neither the demonstrations nor the checks?"""
    cells, _ = notebooks.repair(student_copy(), release())
    assert [entry["id"] for entry in engine._program(cells, "02_preprocess", release())] == \
        ["setup", "preprocess_images", "one_hot_labels"]


# ---------------------------------------------------------------- reading a file as data


def test_symlink_is_refused(tmp_path):
    """Is a notebook that is a symbolic link (to solutions/, /dev/zero) refused, not followed?"""
    target = tmp_path / "real.ipynb"
    target.write_text(json.dumps(student_copy()))
    link = tmp_path / "01_load_data.ipynb"
    os.symlink(target, link)
    with pytest.raises(notebooks.NotebookError, match="symbolic link"):
        notebooks.read_notebook(link)
    os.symlink("/dev/zero", tmp_path / "zero.ipynb")
    with pytest.raises(notebooks.NotebookError, match="symbolic link"):
        notebooks.read_notebook(tmp_path / "zero.ipynb")


@pytest.mark.parametrize("content, words", [
    (b'{"cells": [', "not valid JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[1, 2]", "no list of cells"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
], ids=["truncated", "binary", "a-list", "deep"])
def test_unreadable_files_say_why(tmp_path, content, words):
    """Does each kind of unreadable file raise NotebookError with a reason, never another exception?"""
    path = tmp_path / "02_preprocess.ipynb"
    path.write_bytes(content)
    with pytest.raises(notebooks.NotebookError, match=words):
        notebooks.read_notebook(path)


def test_fifo_is_refused(tmp_path):
    """Is a FIFO in place of a notebook refused at once, never waited on?"""
    path = tmp_path / "03_build_model.ipynb"
    os.mkfifo(path)
    with pytest.raises(notebooks.NotebookError, match="not a regular file"):
        notebooks.read_notebook(path)


# ---------------------------------------------------------------- nbgrader's glue


def test_verdicts_score_as_nbgrader_scores_them():
    """Does nbgrader's own determine_grade give full points for a passing verdict's outputs and zero for a failing one's?"""
    check = nbformat.v4.new_code_cell("check()", metadata={
        "nbgrader": {"grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "check_x"}})
    check.outputs = [nbformat.from_dict(output) for output in
                     _verdict_outputs(FunctionGrade("x", 2, 2, True, "✓ x: all checks passed"))]
    assert determine_grade(check) == (2.0, 2.0)
    check.outputs = [nbformat.from_dict(output) for output in
                     _verdict_outputs(FunctionGrade("x", 0, 2, False, "Called x(). It returned 1, expected 2."))]
    assert determine_grade(check) == (0, 2.0)
    assert check.outputs[0].evalue == "Called x(). It returned 1, expected 2."


def test_deleted_exercise_comes_back_as_the_stub_not_the_solution():
    """When the release is nbgrader's source (solutions/), is a deleted exercise put back without its solution?"""
    source = release()
    source["cells"][2]["source"] = ("def preprocess_images(images):\n    ### BEGIN SOLUTION\n    return images / 255\n"
                                    "    ### END SOLUTION\n")
    notebook = student_copy()
    del notebook["cells"][2]
    cells, _ = notebooks.repair(notebook, source)
    restored = cells[2]["source"]
    assert "images / 255" not in restored and "SOLUTION" not in restored
    assert restored.rstrip().endswith('raise NotImplementedError("Exercise not done yet: replace this line with your code")')


def test_exercise_turned_markdown_runs_as_code():
    """Is an exercise cell the learner turned into markdown by mistake graded as the code cell it is?"""
    notebook = student_copy()
    notebook["cells"][2] = {"cell_type": "markdown", "metadata": notebook["cells"][2]["metadata"],
                            "source": "def preprocess_images(images):\n    return images / 255"}
    cells, _ = notebooks.repair(notebook, release())
    assert cells[2]["cell_type"] == "code" and cells[2]["outputs"] == []


def test_put_back_after_the_nearest_released_cell():
    """Does a deleted set-up cell go back after the title, even when the learner moved another released cell to the end?"""
    notebook = student_copy()
    del notebook["cells"][1]  # the set-up cell
    notebook["cells"].append(notebook["cells"].pop(3))  # the demonstration, moved to the end
    cells, _ = notebooks.repair(notebook, release())
    assert keys(cells)[:3] == ["md-1", "setup", "preprocess_images"]


def test_every_cell_gets_a_unique_valid_id():
    """After a split (both halves with one id) and a cell with a bad id, does every cell have its own valid id?"""
    notebook = student_copy()
    for number, cell in enumerate(notebook["cells"]):
        cell["id"] = f"cell-{number}"
    notebook["cells"].insert(2, json.loads(json.dumps(notebook["cells"][2])))
    notebook["cells"][0]["id"] = "not a valid id!"
    cells, _ = notebooks.repair(notebook, release())
    ids = [cell["id"] for cell in cells]
    assert len(set(ids)) == len(ids) and all(notebooks.CELL_ID.fullmatch(cell_id) for cell_id in ids)


def test_repaired_notebook_is_valid_for_nbformat():
    """Is a notebook of odd learner cells, once repaired, one nbformat's validator accepts (nbgrader validates after each step)?"""
    notebook = student_copy()
    notebook["cells"].insert(4, {"cell_type": "code", "metadata": {"collapsed": "yes", "tags": "x"}, "source": "x = 1",
                                 "execution_count": "3"})
    cells, _ = notebooks.repair(notebook, release())
    nbformat.validate(nbformat.from_dict({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))


def test_json_nested_too_deep_is_refused(tmp_path):
    """Is a notebook whose JSON nests far deeper than any notebook refused as unreadable (no RecursionError later)?"""
    path = tmp_path / "01_load_data.ipynb"
    path.write_text('{"cells": [], "metadata": ' + "[" * 200 + "]" * 200 + "}")
    with pytest.raises(notebooks.NotebookError, match="nested too deep"):
        notebooks.read_notebook(path)
