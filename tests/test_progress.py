"""mnist-lessons progress: each exercise's state read from small saved notebooks, and what to do next, in milliseconds."""

import json
from pathlib import Path

import pytest

from mnist_lessons import cli, hints, progress
from mnist_lessons.checks import PASSED
from mnist_lessons.exercises import BY_NAME, LESSONS

ROOT = Path(__file__).resolve().parents[1]
STUB = '# YOUR CODE HERE\nraise NotImplementedError("Exercise not done yet: replace this line with your code")'
VERDICT = ("Called preprocess_images(images of shape (3, 28, 28)). It returned shape (3, 28, 28), but the check "
           "expected (3, 784): did you flatten each image?")


def cell(grade_id, source, outputs=None, execution_count=None):
    return {"cell_type": "code", "execution_count": execution_count, "id": grade_id.replace("_", "-"),
            "metadata": {"nbgrader": {"grade_id": grade_id}}, "outputs": outputs or [], "source": source}


def passed(name):
    return [{"output_type": "stream", "name": "stdout", "text": [PASSED.format(name=name) + "\n"]}]


def error(ename, evalue):
    return [{"output_type": "error", "ename": ename, "evalue": evalue, "traceback": ["✗ The check did not pass"]}]


def write_lesson(folder, lesson, states):
    """A saved lesson notebook whose exercises are in the given states: 'stub', 'unchecked', 'passed', (ename, evalue)."""
    cells = [{"cell_type": "markdown", "id": "md-1", "metadata": {}, "source": "# Lesson"}]
    for name, state in zip(LESSONS[lesson], states):
        written = f"def {name}(*args):\n    return 1"
        if state == "stub":
            cells += [cell(name, f"def {name}(*args):\n{STUB}"), cell(f"check_{name}", "checks...", error(
                "NotImplementedError", "Exercise not done yet: replace this line with your code"))]
        elif state == "unchecked":
            cells += [cell(name, written), cell(f"check_{name}", "checks...")]
        elif state == "passed":
            cells += [cell(name, written, execution_count=3), cell(f"check_{name}", "c", passed(name), execution_count=4)]
        else:
            cells += [cell(name, written), cell(f"check_{name}", "checks...", error(*state))]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / f"{lesson}.ipynb").write_text(json.dumps(notebook))


def write_course(folder, states=None):
    states = states or {}
    for lesson, names in LESSONS.items():
        write_lesson(folder, lesson, states.get(lesson, ["stub"] * len(names)))


def statuses(folder):
    return {exercise.name: exercise.status for lesson in progress.read_progress(folder) for exercise in lesson.exercises}


def test_each_state_is_read_from_the_saved_cells(tmp_path):
    """Are passed, failed, not checked and not attempted told apart from the saved outputs and the stub?"""
    write_course(tmp_path, {
        "01_load_data": ["passed", "passed"],
        "02_preprocess": [("CheckFailed", VERDICT), "unchecked"],
        "06_evaluate": ["passed", ("NameError", "name 'np' is not defined"), "stub", "unchecked"],
    })
    got = statuses(tmp_path)
    assert got["load_data"] == got["describe_dataset"] == "passed"
    assert got["preprocess_images"] == "failed" and got["one_hot_labels"] == "not checked"
    assert got["build_model"] == "not attempted" and got["compare_labels"] == "not attempted"
    assert got["predict_labels"] == "failed"
    lessons = progress.read_progress(tmp_path)
    assert lessons[1].exercises[0].detail.startswith("Called preprocess_images(") and len(lessons[1].exercises[0].detail) <= 100
    assert lessons[5].exercises[1].detail == "NameError: name 'np' is not defined"


def test_a_check_run_on_the_stub_then_written_is_not_checked(tmp_path):
    """An exercise written after its check failed on the stub: is it 'not checked', not 'failed' or 'not attempted'?"""
    write_course(tmp_path)
    path = tmp_path / "04_compile.ipynb"
    notebook = json.loads(path.read_text())
    notebook["cells"][1]["source"] = "def compile_model(model):\n    return model"
    path.write_text(json.dumps(notebook))
    assert statuses(tmp_path)["compile_model"] == "not checked"


def test_an_exercise_run_after_its_check_is_not_checked(tmp_path):
    """Does an exercise cell run after its check (a later execution count) make the saved ✓ out of date?"""
    write_course(tmp_path, {"03_build_model": ["passed"]})
    path = tmp_path / "03_build_model.ipynb"
    notebook = json.loads(path.read_text())
    notebook["cells"][1]["execution_count"] = 9
    path.write_text(json.dumps(notebook))
    assert statuses(tmp_path)["build_model"] == "not checked"


def test_next_step_is_the_first_exercise_not_passed(tmp_path):
    """Does the report end with the first exercise not passed and the notebook to open?"""
    write_course(tmp_path, {"01_load_data": ["passed", "passed"], "02_preprocess": [("CheckFailed", VERDICT), "stub"]})
    text = progress.format_progress(tmp_path, progress.read_progress(tmp_path))
    assert text.splitlines()[-1] == (f"Next: fix preprocess_images in {tmp_path / '02_preprocess.ipynb'}; its check "
                                     'cell says what to change (stuck? checks.hint("preprocess_images")).')
    assert f"2 of {len(BY_NAME)} exercises passed" in text
    assert "✗ preprocess_images  failed: Called preprocess_images(" in text
    (tmp_path / hints.HINTS_OFF_FILE).touch()  # a graded release: hints are off, so the report does not offer them
    text = progress.format_progress(tmp_path, progress.read_progress(tmp_path))
    assert text.splitlines()[-1] == (f"Next: fix preprocess_images in {tmp_path / '02_preprocess.ipynb'}; its check "
                                     "cell says what to change.")


def test_everything_passed(tmp_path):
    """With every check's ✓ saved, does it say so and point to the autograder?"""
    write_course(tmp_path, {lesson: ["passed"] * len(names) for lesson, names in LESSONS.items()})
    text = progress.format_progress(tmp_path, progress.read_progress(tmp_path))
    count = len(BY_NAME)
    assert f"{count} of {count} exercises passed" in text and f"All {count} exercises pass" in text
    assert "pytest autograder/" in text


def test_hints_seen_are_shown(tmp_path):
    """Are the hints a learner asked for, recorded beside the notebooks, shown beside each exercise?"""
    write_course(tmp_path)
    (tmp_path / hints.HINTS_SEEN_FILE).write_text(json.dumps({"hints_seen": {"load_data": 1, "build_model": 3}}))
    text = progress.format_progress(tmp_path, progress.read_progress(tmp_path))
    assert "· load_data          not attempted  (hint 1 of 2 seen)" in text
    assert "· build_model        not attempted  (solution seen)" in text
    assert "hints seen for 2" in text


def test_the_untouched_course_is_not_attempted():
    """Is every exercise of the committed student copy 'not attempted', and the first exercise next?"""
    folder = ROOT / "course" / "mnist"
    assert set(statuses(folder).values()) == {"not attempted"}
    assert progress.next_step(progress.read_progress(folder)) == f"Next: write load_data in {folder / '01_load_data.ipynb'}."


def test_malformed_cells_do_not_crash(tmp_path):
    """Do outputs that are not a list, cells that are not dicts and odd counts still give a report?"""
    write_course(tmp_path, {"02_preprocess": ["passed", "passed"]})
    path = tmp_path / "02_preprocess.ipynb"
    notebook = json.loads(path.read_text())
    notebook["cells"][2]["outputs"] = "oops"
    notebook["cells"][2]["execution_count"] = "x"
    notebook["cells"].append(7)
    path.write_text(json.dumps(notebook))
    assert statuses(tmp_path)["preprocess_images"] == "not checked"
    assert statuses(tmp_path)["one_hot_labels"] == "passed"


def run_cli(capsys, *argv):
    try:
        status = cli.main(["progress", *map(str, argv)])
    except SystemExit as stop:
        status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_unreadable_notebook_is_one_line_naming_it(tmp_path, capsys):
    """Does a notebook that is not JSON get one line naming the file, the rest still reported, and exit status 1?"""
    write_course(tmp_path, {"01_load_data": ["passed", "passed"]})
    (tmp_path / "02_preprocess.ipynb").write_text("{ half a notebook")
    status, out, err = run_cli(capsys, tmp_path)
    assert status == 1 and err == ""
    assert "02_preprocess.ipynb: cannot be read: it is not valid JSON" in out
    assert "Traceback" not in out and "✓ load_data" in out
    assert out.splitlines()[-1].startswith(f"Next: {tmp_path / '02_preprocess.ipynb'} cannot be read")


def test_cli_missing_lesson_says_how_to_get_it_back(tmp_path, capsys):
    """Is a lesson notebook that is gone reported as missing, with the way to copy it back?"""
    write_course(tmp_path)
    (tmp_path / "01_load_data.ipynb").unlink()
    status, out, _ = run_cli(capsys, tmp_path)
    assert status == 0 and "01_load_data.ipynb: missing" in out and "mnist-lessons lab" in out.splitlines()[-1]


def a_file(path):
    path.write_text("")
    return path


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "nowhere", "no such folder"),
    (lambda tmp: a_file(tmp / "file.txt"), "is a file, not a folder"),
    (lambda tmp: tmp, "no lesson notebooks (01_load_data.ipynb ...) in"),
], ids=["missing", "file", "empty"])
def test_cli_bad_folder_is_one_line(tmp_path, capsys, make, message):
    """Does a missing folder, a file or a folder without lessons end with one line on stderr and exit status 2?"""
    status, out, err = run_cli(capsys, make(tmp_path))
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err and err.startswith("mnist-lessons: error: ")


def test_cli_finds_the_course_folder_inside(tmp_path, capsys, monkeypatch):
    """Given a course folder (holding mnist/), or run inside one with no argument, does it find the lessons?"""
    (tmp_path / "mnist").mkdir()
    write_course(tmp_path / "mnist")
    status, out, _ = run_cli(capsys, tmp_path)
    assert status == 0 and f"in {tmp_path / 'mnist'}" in out
    monkeypatch.chdir(tmp_path)
    status, out, _ = run_cli(capsys)
    assert status == 0 and "Your progress in mnist," in out
