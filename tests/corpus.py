"""A corpus of learner submissions: right in several forms, wrong, cheating and broken, with the verdict each deserves.

Each submission starts from the solutions of a few lessons and changes
them: an exercise cell's source replaced, cells added, split, deleted or
edited, a notebook broken. ``build(folder)`` writes every submission as a
folder of notebooks; ``EXPECTED`` says, per submission, lesson and function,
whether it must pass. tests/test_doors.py grades the corpus once per session
through every door and holds each door to these verdicts.
"""

import copy
import json
from pathlib import Path

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions" / "mnist"
LESSONS = ("01_load_data", "02_preprocess", "03_build_model", "06_evaluate")  # the corpus's lessons: quick ones

# ---------------------------------------------------------------- right, in other forms

DESCRIBE_WITH_NUMPY_VALUES = '''def describe_dataset(images, labels):
    """NumPy's own values, as a learner writes them: no int(), a dtype object, NumPy keys."""
    digits, counts = np.unique(labels, return_counts=True)
    class_counts = {digit: 0 for digit in range(10)}
    class_counts.update(zip(digits, counts))
    return {
        "num_images": images.shape[0],
        "image_shape": images.shape[1:],
        "dtype": images.dtype,
        "pixel_min": images.min(),
        "pixel_max": images.max(),
        "class_counts": class_counts,
    }'''

LOAD_DATA_UNDER_TIME = '''%%time
def load_data(path=MNIST_PATH):
    with np.load(path) as mnist_file:
        return ((mnist_file["x_train"], mnist_file["y_train"]),
                (mnist_file["x_test"], mnist_file["y_test"]))'''

PREPROCESS_UNDER_CAPTURE = '''%%capture
def preprocess_images(images):
    flat = images.reshape(len(images), 28 * 28)
    display(flat.shape)
    return flat.astype("float32") / 255'''

ONE_HOT_FIRST_HALF = '''def _rows(num_classes):
    return np.eye(num_classes, dtype="float32")'''

ONE_HOT_SECOND_HALF = '''def one_hot_labels(labels, num_classes=10):
    return _rows(num_classes)[labels]'''

BUILD_MODEL_BOOK_STYLE = '''import keras
from keras import layers

def build_model():
    return keras.Sequential([layers.Dense(512, activation="relu"), layers.Dense(10, activation="softmax")])'''

COMPARE_WITH_NUMPY_PAIRS = '''def compare_labels(predicted, actual, n=10):
    return list(zip(np.asarray(predicted)[:n], np.asarray(actual)[:n]))'''

# ---------------------------------------------------------------- wrong

DESCRIBE_FIRST_HUNDRED = '''def describe_dataset(images, labels):
    counts = np.bincount(labels[:100], minlength=10)
    return {"num_images": len(images), "image_shape": images.shape[1:], "dtype": str(images.dtype),
            "pixel_min": int(images.min()), "pixel_max": int(images.max()),
            "class_counts": {digit: int(counts[digit]) for digit in range(10)}}'''

PREPROCESS_NOT_SCALED = '''def preprocess_images(images):
    return images.reshape(len(images), 784).astype("float32")'''

CONFUSION_FANCY_INDEX = '''def confusion_matrix(actual, predicted, num_classes=10):
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    matrix[actual, predicted] += 1
    return matrix'''

# ---------------------------------------------------------------- cheating

REBIND_THE_CHECKS = '''import mnist_lessons.checks as c
c.check_preprocess_images = lambda fn, hidden=False: print("✓ preprocess_images: all checks passed")
c.check_one_hot_labels = lambda fn, hidden=False: print("✓ one_hot_labels: all checks passed")'''

ONE_HOT_WRONG = '''def one_hot_labels(labels, num_classes=10):
    return np.zeros((len(labels), num_classes), dtype="float32")'''

# The course's own answers, reached three ways: none is in the sandbox (tests/test_answers_out_of_reach.py).
LOAD_DATA_IMPORTED = "from mnist_lessons.data import load_mnist as load_data"
DESCRIBE_BY_IMPORTLIB = '''import importlib
describe_dataset = importlib.import_module("mnist_lessons.data").describe_dataset'''
BUILD_MODEL_WRAPPED = '''def build_model():
    return ml.build_model()'''

ANSWER_KEY_BOUND_EARLY = '''_ref = ml.confusion_matrix

def confusion_matrix(actual, predicted, num_classes=10):
    return _ref(actual, predicted, num_classes)'''

# ---------------------------------------------------------------- broken

BUILD_MODEL_EXITS = '''import os

def build_model():
    os._exit(0)'''


# ---------------------------------------------------------------- what the learner's own run left in a cell

PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")  # 1 x 1
PLOTTED = [{"output_type": "display_data", "metadata": {},
            "data": {"image/png": PNG, "text/plain": "<Figure size 640x480 with 1 Axes>"}}]
TIMED = [{"output_type": "stream", "name": "stdout",
          "text": "CPU times: user 1.2 ms, sys: 0 ns, total: 1.2 ms\nWall time: 1.05 ms\n"}]


def _replace(grade_id, source):
    return ("replace", grade_id, source)


def _before(grade_id, source):
    return ("before", grade_id, source)


def _split(grade_id, first, second):
    """JupyterLab's "split cell": two cells, both with the exercise's metadata, grade_id included."""
    return ("split", grade_id, (first, second))


def _delete(grade_id):
    return ("delete", grade_id, None)


def _edit_locked(grade_id, source):
    return ("edit", grade_id, source)


def _ran(grade_id, outputs):
    """The outputs a cell shows after the learner ran it: nbgrader's door keeps them (nothing is run again)."""
    return ("ran", grade_id, outputs)


# submission -> lesson -> the changes made to the solutions notebook ("invalid" writes a broken file)
SUBMISSIONS = {
    "right-in-other-forms": {
        "01_load_data": [_replace("load_data", LOAD_DATA_UNDER_TIME), _ran("load_data", TIMED),
                         _replace("describe_dataset", DESCRIBE_WITH_NUMPY_VALUES), _ran("code-3", PLOTTED)],
        "02_preprocess": [_replace("preprocess_images", PREPROCESS_UNDER_CAPTURE),
                          _split("one_hot_labels", ONE_HOT_FIRST_HALF, ONE_HOT_SECOND_HALF)],
        "03_build_model": [_replace("build_model", BUILD_MODEL_BOOK_STYLE)],
        "06_evaluate": [_replace("compare_labels", COMPARE_WITH_NUMPY_PAIRS)],
    },
    "wrong": {
        "01_load_data": [_replace("describe_dataset", DESCRIBE_FIRST_HUNDRED), _ran("code-3", PLOTTED),
                         _ran("code-4", PLOTTED), _ran("code-5", PLOTTED)],
        "02_preprocess": [_replace("preprocess_images", PREPROCESS_NOT_SCALED)],
        "06_evaluate": [_replace("confusion_matrix", CONFUSION_FANCY_INDEX)],
    },
    "cheater": {
        "01_load_data": [_replace("load_data", LOAD_DATA_IMPORTED), _replace("describe_dataset", DESCRIBE_BY_IMPORTLIB)],
        "03_build_model": [_replace("build_model", BUILD_MODEL_WRAPPED)],
        "02_preprocess": [_before("preprocess_images", REBIND_THE_CHECKS),
                          _replace("preprocess_images", PREPROCESS_NOT_SCALED),
                          _replace("one_hot_labels", ONE_HOT_WRONG)],
        "06_evaluate": [_replace("confusion_matrix", ANSWER_KEY_BOUND_EARLY)],
    },
    "broken": {
        "01_load_data": "invalid",
        "02_preprocess": [_delete("check_one_hot_labels"), _edit_locked("check_preprocess_images", "pass")],
        "03_build_model": [_replace("build_model", BUILD_MODEL_EXITS)],
    },
}

# What each door must decide. A function not named here is the solution's own and must pass.
FAILS = {
    "wrong": {"describe_dataset", "preprocess_images", "confusion_matrix"},
    "cheater": {"load_data", "describe_dataset", "preprocess_images", "one_hot_labels", "build_model",
                "confusion_matrix"},
    "broken": {"load_data", "describe_dataset", "build_model"},
}
HONEST = ("right-in-other-forms", "wrong")  # the check cell in the learner's own kernel is on the honour system


def expected(submission, functions_of):
    """{lesson: {function: passes?}} for one submission, over the corpus's lessons."""
    fails = FAILS.get(submission, set())
    return {lesson: {name: name not in fails for name in functions_of(lesson)} for lesson in LESSONS}


def build(folder):
    """Write every submission under ``folder/<submission>/``; return {submission: its folder}."""
    folders = {}
    for submission, lessons in SUBMISSIONS.items():
        target = Path(folder) / submission
        target.mkdir(parents=True)
        for lesson in LESSONS:
            notebook = json.loads((SOLUTIONS / f"{lesson}.ipynb").read_text())
            changes = lessons.get(lesson, [])
            if changes == "invalid":
                (target / f"{lesson}.ipynb").write_text('{"cells": [')
                continue
            for action, grade_id, source in changes:
                _apply(notebook, action, grade_id, source)
            (target / f"{lesson}.ipynb").write_text(json.dumps(notebook, indent=1))
        folders[submission] = target
    return folders


def _apply(notebook, action, grade_id, source):
    cells = notebook["cells"]
    index = next(i for i, cell in enumerate(cells) if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    if action == "replace" or action == "edit":
        cells[index]["source"] = source
    elif action == "ran":
        cells[index]["outputs"], cells[index]["execution_count"] = copy.deepcopy(source), 1
    elif action == "delete":
        del cells[index]
    elif action == "split":
        first = copy.deepcopy(cells[index])
        first.pop("id", None)
        first["source"], cells[index]["source"] = source
        cells.insert(index, first)
    elif action == "before":
        added = copy.deepcopy(cells[index])
        added["source"] = source
        added["metadata"] = {}
        added.pop("id", None)
        cells.insert(index, added)
