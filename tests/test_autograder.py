"""The autograder: right answers earn their points, and no trick, crash or broken file earns what it should not.

Each case builds its own submission folder from the solutions, changes one
thing, grades it and checks the verdict: the functions the change touches earn
nothing and say why, the rest of the submission is graded as usual. Most cases
use lesson 02 (preprocess_images and one_hot_labels), which needs no Keras, with
short limits, so that each takes seconds.
"""

import copy
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mnist_lessons.grading import engine as grading
from mnist_lessons.exercises import EXERCISES, LESSONS

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions" / "mnist"
COURSE = ROOT / "course" / "mnist"
FAST = grading.Limits(function_seconds=4, notebook_seconds=60, memory_bytes=768 * 1024**2, output_bytes=1024**2)
GOOD_ONE_HOT = "one_hot_labels: all checks passed"


def read(lesson, folder=SOLUTIONS):
    return json.loads((folder / f"{lesson}.ipynb").read_text())


def cell_with_id(notebook, grade_id):
    return next(cell for cell in notebook["cells"] if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def submission(tmp_path, lesson="02_preprocess", replace=None, change=None, extra_files=None):
    """A folder holding one lesson's solution notebook, with the exercise cells in ``replace`` rewritten."""
    folder = tmp_path / "submission"
    folder.mkdir(exist_ok=True)
    notebook = read(lesson)
    for name, source in (replace or {}).items():
        cell_with_id(notebook, name)["source"] = source
    if change:
        change(notebook)
    (folder / f"{lesson}.ipynb").write_text(json.dumps(notebook))
    for name, text in (extra_files or {}).items():
        (folder / name).write_text(text)
    return folder


def grade(folder, lesson="02_preprocess", limits=FAST):
    return grading.grade_lesson(folder / f"{lesson}.ipynb", lesson, limits=limits)


def assert_zero_and_rest_graded(result, name, *words):
    """``name`` earned nothing and its message holds ``words``; the lesson's other function earned its points."""
    verdict = result.functions[name]
    assert verdict.points == 0 and not verdict.passed
    for word in words:
        assert word in verdict.message, verdict.message
    others = [grade for other, grade in result.functions.items() if other != name]
    assert others and all(grade.passed and grade.points == grade.max_points for grade in others), others


# ---------------------------------------------------------------- right and wrong answers


def test_solutions_earn_every_point():
    """Does the complete reference submission earn all the points of every lesson, each exercise's the registry's?"""
    result = grading.grade_submission(SOLUTIONS)
    assert result.points == result.max_points == sum(exercise.points for exercise in EXERCISES) == 31
    assert all(grade.passed for lesson in result.lessons.values() for grade in lesson.functions.values())


def test_untouched_course_fails_every_exercise_as_not_done():
    """Does the release, untouched, fail every exercise with its NotImplementedError message, and nothing else?"""
    result = grading.grade_submission(COURSE)
    assert result.points == 0
    for lesson in result.lessons.values():
        assert [note for note in lesson.notes if not note.startswith("Graded without isolation")] == []
        for verdict in lesson.functions.values():
            assert verdict.message.startswith(f"{verdict.name} is not written yet: it raised NotImplementedError")
            assert grading.STUB_MESSAGE in verdict.message


def test_wrong_answer_gets_the_checks_message(tmp_path):
    """Does a wrong answer earn nothing, with the lesson check's own words about what was expected?"""
    folder = submission(tmp_path, replace={"preprocess_images": "def preprocess_images(images):\n    return images / 255\n"})
    result = grade(folder)
    assert_zero_and_rest_graded(result, "preprocess_images", "Called preprocess_images(", "(3, 784)")


def test_stderr_output_costs_nothing(tmp_path):
    """Does a right answer that writes to stderr (as TensorFlow's log lines do) keep its points?"""
    source = (
        "import os, sys\n"
        "def preprocess_images(images):\n"
        "    print('W tensorflow: some warning', file=sys.stderr)\n"
        "    os.write(2, b'I0000 00:00 cpu_feature_guard.cc:227] This TensorFlow binary\\n')\n"
        "    return images.reshape(len(images), -1).astype('float32') / 255\n"
    )
    result = grade(submission(tmp_path, replace={"preprocess_images": source}))
    assert result.points == result.max_points


# ---------------------------------------------------------------- code that hangs, crashes or floods


@pytest.mark.parametrize("body, words", [
    ("    while True:\n        pass\n", ["took longer than 4 s"]),
    ("    import time\n    time.sleep(1000)\n", ["took longer than 4 s"]),
    ("    import signal\n    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):\n"
     "        signal.signal(s, signal.SIG_IGN)\n    while True:\n        pass\n", ["took longer than 4 s"]),
], ids=["busy-loop", "sleep", "ignores-signals"])
def test_hanging_function_is_stopped(tmp_path, body, words):
    """Is a function that never returns stopped at its own limit (not the notebook's), earning nothing, with the rest
    still graded?"""
    folder = submission(tmp_path, replace={"preprocess_images": "def preprocess_images(images):\n" + body})
    result = grade(folder)
    # "took longer than 4 s" is the function's own limit: stopped at the notebook's, it would say "the 60 s a whole
    # notebook may take".
    assert_zero_and_rest_graded(result, "preprocess_images", *words)


@pytest.mark.parametrize("body, words", [
    ("    import os\n    os._exit(0)\n", ["ended the Python process"]),
    ("    import ctypes\n    ctypes.string_at(0)\n", ["crashed", "SIGSEGV"]),
    ("    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)\n", ["crashed", "SIGKILL"]),
], ids=["os-exit", "segfault", "killed"])
def test_crashing_function(tmp_path, body, words):
    """Does a function that kills its own process earn nothing, while the lesson's other function is still graded?"""
    folder = submission(tmp_path, replace={"preprocess_images": "def preprocess_images(images):\n" + body})
    assert_zero_and_rest_graded(grade(folder), "preprocess_images", *words)


def test_sys_exit_in_a_cell(tmp_path):
    """Does sys.exit in an exercise cell cost only that exercise?"""
    source = "import sys\nsys.exit('bye')\n\ndef preprocess_images(images):\n    return images\n"
    result = grade(submission(tmp_path, replace={"preprocess_images": source}))
    assert_zero_and_rest_graded(result, "preprocess_images", "preprocess_images is not defined")


def test_sys_exit_in_a_function(tmp_path):
    """Does a function that calls sys.exit earn nothing, with a message that says so?"""
    source = "import sys\ndef preprocess_images(images):\n    sys.exit(3)\n"
    result = grade(submission(tmp_path, replace={"preprocess_images": source}))
    assert_zero_and_rest_graded(result, "preprocess_images", "SystemExit")


def test_output_without_end(tmp_path):
    """Is a function that prints forever stopped, earning nothing?"""
    source = "def preprocess_images(images):\n    while True:\n        print('x' * 1000)\n"
    result = grade(submission(tmp_path, replace={"preprocess_images": source}))
    assert_zero_and_rest_graded(result, "preprocess_images", "output without end")


def test_memory_without_bound(tmp_path):
    """Is a function that eats memory stopped before it takes the machine down?"""
    source = "def preprocess_images(images):\n    hoard = []\n    while True:\n        hoard.append(bytearray(10**7))\n"
    result = grade(submission(tmp_path, replace={"preprocess_images": source}))
    assert_zero_and_rest_graded(result, "preprocess_images", "memory")


# ---------------------------------------------------------------- tricks


def test_object_whose_eq_says_yes(tmp_path):
    """Does an object whose __eq__ says yes to everything earn nothing?"""
    source = (
        "import numpy as np\n"
        "class Anything:\n"
        "    shape = (3, 784)\n    dtype = np.float32\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __array__(self, *args, **kwargs):\n        return np.zeros((3, 784), np.float32)\n"
        "def preprocess_images(images):\n    return Anything()\n"
    )
    assert_zero_and_rest_graded(grade(submission(tmp_path, replace={"preprocess_images": source})), "preprocess_images")


def test_array_subclass_whose_eq_says_yes(tmp_path):
    """Does an array subclass that claims equality with anything still get its real values checked?"""
    source = (
        "import numpy as np\n"
        "class Liar(np.ndarray):\n"
        "    def __eq__(self, other):\n        return np.ones(np.shape(other), bool)\n"
        "def preprocess_images(images):\n    return np.zeros((len(images), 784), np.float32).view(Liar)\n"
    )
    result = grade(submission(tmp_path, replace={"preprocess_images": source}))
    assert_zero_and_rest_graded(result, "preprocess_images", "preprocess_images")


@pytest.mark.parametrize("patch", [
    "np.array_equal = lambda *a, **k: True\nnp.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True",
    "import pytest\npytest.fail = lambda *a, **k: None\nimport _pytest.outcomes\n_pytest.outcomes.fail = pytest.fail",
    "import builtins\nbuiltins.isinstance = lambda *a: True\nbuiltins.AssertionError = type('Quiet', (Exception,), {})",
], ids=["numpy", "pytest", "builtins"])
def test_monkeypatching(tmp_path, patch):
    """Does monkeypatching numpy, pytest or builtins in the submission change nothing about a wrong answer's verdict?"""
    source = "import numpy as np\n" + patch + "\ndef preprocess_images(images):\n    return images\n"
    assert_zero_and_rest_graded(grade(submission(tmp_path, replace={"preprocess_images": source})), "preprocess_images")


def test_printed_and_written_fake_results(tmp_path):
    """Does printing a pass line, or writing a results file, earn nothing for a wrong answer?"""
    source = (
        "import json, os\n"
        "def preprocess_images(images):\n"
        "    print('✓ preprocess_images: all checks passed')\n"
        "    print('✓ preprocess_images: all hidden checks passed')\n"
        "    for folder in ('.', 'results', '..'):\n"
        "        try:\n"
        "            with open(os.path.join(folder, 'preprocess_images.json'), 'w') as f:\n"
        "                json.dump({'name': 'preprocess_images', 'passed': True, 'calls': {}}, f)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return images\n"
    )
    assert_zero_and_rest_graded(grade(submission(tmp_path, replace={"preprocess_images": source})), "preprocess_images")


# Learner code that finds the pipe its child sends results down (channel.py): the one writable pipe past
# descriptor 2 that is not its output's (1 and 2, and the copies the checks make of them). SEND(name, data, size, mode) writes a frame claiming ``size`` bytes.
FIND_CHANNEL = ("import fcntl, json, os, stat\n"
                "def _channel():\n"
                "    for fd in range(3, 256):\n"
                "        try:\n"
                "            info = os.fstat(fd)\n"
                "            if (stat.S_ISFIFO(info.st_mode) and info.st_ino != os.fstat(1).st_ino\n"
                "                    and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY):\n"
                "                return fd\n"
                "        except OSError:\n"
                "            continue\n"
                "def SEND(name, data, size=None, mode='w'):\n"
                "    header = json.dumps({'file': name, 'mode': mode, 'size': len(data) if size is None else size})\n"
                "    os.write(_channel(), header.encode() + b'\\n' + data)\n")


@pytest.mark.parametrize("sabotage, words", [
    ("os.close(_channel())", "ended the Python process"),
    ("os.write(_channel(), b'not a frame ' * 1000)", "frame's header"),
    ("SEND('../../etc/passwd', b'root')", "named a file"),
    ("SEND('progress.jsonl', b'x', size=10**13)", "more than the"),
    ("os.dup2(os.open('/dev/zero', os.O_RDONLY), _channel())", "ended the Python process"),
], ids=["channel-closed", "garbage", "path-in-a-name", "frame-of-10-TB", "dev-zero-for-the-channel"])
def test_sabotage_of_the_results_pipe_costs_one_cell(tmp_path, sabotage, words):
    """Does a cell that closes, floods or forges the pipe its results go down stall nothing, and cost only itself?"""
    def add(notebook):
        notebook["cells"].append({"cell_type": "code", "metadata": {}, "source": f"{FIND_CHANNEL}{sabotage}\n",
                                  "outputs": [], "execution_count": None})

    result = grade(submission(tmp_path, change=add))  # a stall would end at the notebook's 60 s, in other words
    assert result.points == result.max_points, result.as_dict()
    assert any("left out to grade the rest" in note and words in note for note in result.notes), result.notes


def test_a_model_that_claims_huge_layers_is_not_built_by_the_grader(tmp_path):
    """Is a model whose description claims Dense(10**7) refused before the grader builds it (it would take tens of GB)?"""
    folder = submission(tmp_path, lesson="03_build_model", replace={"build_model": (
        "import keras\n"
        "def build_model():\n"
        "    model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(512, activation='relu'),\n"
        "                              keras.layers.Dense(10, activation='softmax')])\n"
        "    model.layers[0].units = 10**7\n"
        "    return model\n")})
    verdict = grade(folder, lesson="03_build_model", limits=grading.Limits(function_seconds=60)).functions["build_model"]
    assert not verdict.passed and "larger than the grader builds" in verdict.message


def test_the_same_model_handed_back_twice_is_caught(tmp_path):
    """Does build_model returning one model object every time fail the hidden check, as in the learner's own kernel?"""
    folder = submission(tmp_path, lesson="03_build_model", replace={"build_model": (
        "import keras\n"
        "_model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(512, activation='relu'),\n"
        "                           keras.layers.Dense(10, activation='softmax')])\n"
        "def build_model():\n    return _model\n")})
    verdict = grade(folder, lesson="03_build_model", limits=grading.Limits(function_seconds=60)).functions["build_model"]
    assert not verdict.passed and "same model object" in verdict.message


def test_files_dropped_into_the_submission_change_nothing(tmp_path):
    """Do a conftest.py, pytest.ini and sitecustomize.py in the submission's folder leave the real verdict alone?"""
    evil = "import pytest\n@pytest.hookimpl(tryfirst=True)\ndef pytest_runtest_call(item):\n    pass\n"
    folder = tmp_path / "submission"
    folder.mkdir()
    shutil.copy(COURSE / "02_preprocess.ipynb", folder)
    (folder / "conftest.py").write_text(evil)
    (folder / "pytest.ini").write_text("[pytest]\naddopts = -p no:terminal --co\n")
    (folder / "sitecustomize.py").write_text("import sys\nsys.exit(0)\n")
    (folder / "numpy.py").write_text("raise SystemExit(0)\n")
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "autograder/test_02_preprocess.py", "-p", "no:cacheprovider",
         "--submission", str(folder)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 1, completed.stdout[-3000:]
    assert "2 failed" in completed.stdout
    assert "preprocess_images is not written yet" in completed.stdout
    assert "total               0 / 4" in completed.stdout


# ---------------------------------------------------------------- broken notebooks


def test_missing_notebook(tmp_path):
    """Is a missing notebook zero for its lesson, with a message, while the other lessons are graded?"""
    folder = tmp_path / "submission"
    folder.mkdir()
    shutil.copy(SOLUTIONS / "01_load_data.ipynb", folder)
    result = grading.grade_submission(folder, ["01_load_data", "02_preprocess"], limits=FAST)
    assert result.lessons["01_load_data"].points == result.lessons["01_load_data"].max_points
    missing = result.lessons["02_preprocess"]
    assert missing.points == 0 and "02_preprocess.ipynb is missing" in missing.notes[0]


@pytest.mark.parametrize("text, words", [
    ('{"cells": [', "not valid JSON"),
    ('["a list"]', "no list of cells"),
    ("\udcff", "could not be read"),
], ids=["truncated", "not-a-notebook", "not-text"])
def test_unreadable_notebook(tmp_path, text, words):
    """Is a notebook that is not valid JSON zero for its lesson with a clear message, never a crash?"""
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "02_preprocess.ipynb").write_bytes(text.encode("utf-8", "surrogateescape"))
    result = grade(folder)
    assert result.points == 0 and words in result.notes[0]
    assert all(words in verdict.message for verdict in result.functions.values())


def test_deleted_exercise_cell(tmp_path):
    """Is a deleted exercise cell zero for that exercise, saying so, and the other exercise graded?"""
    def delete(notebook):
        notebook["cells"].remove(cell_with_id(notebook, "one_hot_labels"))

    result = grade(submission(tmp_path, change=delete))
    verdict = result.functions["one_hot_labels"]
    assert verdict.points == 0 and "'one_hot_labels' (the cell where you write it) had been deleted" in verdict.message
    assert result.functions["preprocess_images"].passed


def test_split_duplicated_and_reordered_cells(tmp_path):
    """Do a split exercise cell (both halves keep its id), a duplicated cell and reordered cells still grade right?"""
    def shuffle(notebook):
        cells = notebook["cells"]
        solution = cell_with_id(notebook, "preprocess_images")
        first, second = copy.deepcopy(solution), copy.deepcopy(solution)
        first["source"] = "import numpy\n"
        second["source"] = "def preprocess_images(images):\n    return (images.reshape(len(images), -1) / numpy.float32(255)).astype('float32')\n"
        index = cells.index(solution)
        cells[index:index + 1] = [first, second]
        one_hot = cell_with_id(notebook, "one_hot_labels")
        cells.append(copy.deepcopy(one_hot))  # duplicated
        cells.reverse()  # and everything in reverse order

    result = grade(submission(tmp_path, change=shuffle))
    assert result.points == result.max_points, result.as_dict()


def test_edited_locked_cell_is_restored(tmp_path):
    """Is an edited set-up cell (locked in the release) replaced by the release's, so it breaks nothing?"""
    def vandalize(notebook):
        setup = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
        setup["source"] = "raise SystemExit('no imports for you')\n"

    result = grade(submission(tmp_path, change=vandalize))
    assert result.points == result.max_points


def test_hanging_cell_of_the_learner(tmp_path):
    """Is a hanging cell the learner added left out with a note naming it, and the exercises still graded?"""
    def add_hang(notebook):
        notebook["cells"].append({"cell_type": "code", "metadata": {}, "source": "while True:\n    pass\n",
                                  "outputs": [], "execution_count": None})

    result = grade(submission(tmp_path, change=add_hang))
    assert any("added cell" in note and "took longer" in note for note in result.notes), result.notes
    assert result.points == result.max_points


# ---------------------------------------------------------------- determinism and the report


def test_grading_twice_gives_the_same_score(tmp_path):
    """Does grading the same mixed submission twice give the same points and messages?"""
    folder = submission(tmp_path, replace={"one_hot_labels": "def one_hot_labels(labels, num_classes=10):\n    return labels\n"})
    first, second = grade(folder).as_dict(), grade(folder).as_dict()
    for result in (first, second):
        result.pop("seconds"), result.pop("child_seconds")  # how long it took: not a verdict
    assert first == second
    assert first["points"] == 2 and first["functions"]["one_hot_labels"]["points"] == 0


def test_grades_json_and_summary(tmp_path):
    """Does `pytest autograder/ --grades-json` write each function's verdict and the total, and print points per lesson?"""
    folder = submission(tmp_path, replace={"one_hot_labels": "def one_hot_labels(labels, num_classes=10):\n    return labels\n"})
    shutil.copy(SOLUTIONS / "01_load_data.ipynb", folder)
    out = tmp_path / "grades.json"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "autograder/test_01_load_data.py", "autograder/test_02_preprocess.py",
         "-p", "no:cacheprovider", "--submission", str(folder), "--grades-json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 1
    assert "test_02_preprocess.py::test_exercise[one_hot_labels]" in completed.stdout
    assert "01_load_data        4 / 4" in completed.stdout and "02_preprocess       2 / 4" in completed.stdout
    grades = json.loads(out.read_text())
    assert (grades["points"], grades["max_points"]) == (6, 8)
    one_hot = grades["lessons"]["02_preprocess"]["functions"]["one_hot_labels"]
    assert one_hot["passed"] is False and one_hot["points"] == 0 and one_hot["max_points"] == 2
    assert "Called one_hot_labels(" in one_hot["message"]
    assert grades["lessons"]["01_load_data"]["functions"]["load_data"]["passed"] is True


def test_every_lesson_has_its_autograder_module():
    """Does every lesson of the registry have its autograder module, which tests each of its functions?"""
    for lesson in LESSONS:
        module = (ROOT / "autograder" / f"test_{lesson}.py").read_text()
        assert f'LESSON = "{lesson}"' in module and "def test_exercise(verdict, exercise):" in module


# ---------------------------------------------------------------- the grader's faults are not the student's


class _NoSandboxes:
    """Stands in for engine.Sandboxes where the lessons' grading itself is a stand-in: no server to start."""

    def __init__(self, **kwargs):
        self.shared = kwargs.get("shared")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _graded_ahead_of_stand_ins(monkeypatch, grade_program, lessons):
    """A GradedAhead of the course's own notebooks of ``lessons``, each lesson graded by ``grade_program``; and the
    program digest of each notebook, as grade_notebook computes it."""
    monkeypatch.setattr(grading, "Sandboxes", _NoSandboxes)
    monkeypatch.setattr(grading, "_grade_program", grade_program)
    read = grading.notebooks.read_notebook
    submissions = {lesson: (read(SOLUTIONS / f"{lesson}.ipynb"), grading.read_release(lesson)) for lesson in lessons}
    keys = {}
    for lesson, (submission, release) in submissions.items():
        cells, _ = grading.notebooks.repair(submission, release)
        keys[lesson] = grading.program_key(lesson, grading._program(cells, lesson, release))
    return grading.GradedAhead(submissions), keys


def test_a_notebook_takes_its_outcome_while_the_later_lessons_are_still_graded(monkeypatch):
    """In nbgrader's door, does the first notebook get its lesson's outcome while another lesson is still being
    graded (so that nbgrader's own steps overlap the grading), and does taking the last outcome wait for the end?"""
    later_may_end = threading.Event()

    def grade_program(program, lesson, limits, sandboxes):
        if lesson == "07_draw_your_digit":
            assert later_may_end.wait(60)
        return grading.Outcome({name: None for name in LESSONS[lesson]}, [], 0.0)

    ahead, keys = _graded_ahead_of_stand_ins(monkeypatch, grade_program, ["02_preprocess", "07_draw_your_digit"])
    try:
        first = ahead.take("02_preprocess", keys["02_preprocess"])
        assert first.messages == {name: None for name in LESSONS["02_preprocess"]}
        assert not ahead._outcomes["07_draw_your_digit"].done() and ahead._thread.is_alive()
        assert ahead.take("02_preprocess", "another program") is None  # other code than was graded: on its own
    finally:
        later_may_end.set()
    assert ahead.take("07_draw_your_digit", keys["07_draw_your_digit"]) is not None
    assert not ahead._thread.is_alive()  # every outcome taken: the grading has ended, its sandboxes are gone
    assert ahead.used == {"02_preprocess", "07_draw_your_digit"}


def test_a_lesson_the_grader_failed_stops_at_its_own_notebook(monkeypatch):
    """Is a GradingError of one lesson's raised at that lesson's notebook, the other's outcome still given; and is
    another error of the grader's kept in ``failed``, its notebook then graded on its own (None)?"""

    def grade_program(program, lesson, limits, sandboxes):
        if lesson == "07_draw_your_digit":
            raise grading.GradingError("the grader could not train the network apart")
        if lesson == "03_build_model":
            raise RuntimeError("a bug of the grader's")
        return grading.Outcome({name: None for name in LESSONS[lesson]}, [], 0.0)

    lessons = ["02_preprocess", "03_build_model", "07_draw_your_digit"]
    ahead, keys = _graded_ahead_of_stand_ins(monkeypatch, grade_program, lessons)
    assert ahead.take("02_preprocess", keys["02_preprocess"]) is not None
    assert ahead.take("03_build_model", keys["03_build_model"]) is None
    assert isinstance(ahead.failed["03_build_model"], RuntimeError)
    with pytest.raises(grading.GradingError, match="could not train the network apart"):
        ahead.take("07_draw_your_digit", keys["07_draw_your_digit"])
    assert not ahead._thread.is_alive()


def test_a_sandbox_that_cannot_start_stops_grading_and_scores_no_one(tmp_path, monkeypatch):
    """When the sandbox cannot start, does grading stop with the cause, writing no zero for the student?"""
    from mnist_lessons.grading import forkserver

    def refuse(self):
        raise forkserver.ServerError("its imports failed (ModuleNotFoundError: No module named 'mnist_lessons')")

    monkeypatch.setattr(forkserver.Server, "start", refuse)
    with pytest.raises(grading.GradingError, match="could not start.*No module named"):
        grading.grade_submission(SOLUTIONS, ["02_preprocess"])


def test_a_course_folder_with_its_own_copy_of_the_package_grades_with_that_copy(tmp_path):
    """Does a grader that imports a copy of the package (nbgrader puts the course folder on sys.path) grade with
    it, full marks for complete work, its sandbox running the same copy?"""
    copy = tmp_path / "course"  # a copy of this repository, as an instructor's course folder may be
    for folder in ("mnist_lessons", "solutions", "course"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    script = ("import json, sys\n"
              f"sys.path.insert(0, {str(copy)!r})\n"
              "import mnist_lessons\n"
              "from mnist_lessons.grading import engine\n"
              f"grade = engine.grade_submission({str(SOLUTIONS)!r}, ['02_preprocess'])\n"
              "print(json.dumps([mnist_lessons.__file__, grade.points, grade.max_points]))\n")
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    imported, points, max_points = json.loads(completed.stdout.strip().splitlines()[-1])
    assert imported.startswith(str(copy)) and points == max_points == 4


def test_a_dict_subclass_is_taken_as_the_check_cell_takes_it(tmp_path):
    """Does describe_dataset returning an OrderedDict with a Counter of labels, which the check cell accepts, earn
    its points in grading too?"""
    source = ("import collections\n\n"
              "def describe_dataset(images, labels):\n"
              "    return collections.OrderedDict(num_images=len(images), image_shape=tuple(images.shape[1:]),\n"
              "        dtype=images.dtype.name, pixel_min=int(images.min()), pixel_max=int(images.max()),\n"
              "        class_counts=collections.Counter(int(label) for label in labels))\n")
    result = grade(submission(tmp_path, lesson="01_load_data", replace={"describe_dataset": source}),
                   lesson="01_load_data", limits=grading.Limits())
    assert result.functions["describe_dataset"].passed, result.functions["describe_dataset"].message
