"""Typical wrong answers, run in each course notebook in a real kernel: does each check cell show a short verdict with its hint?"""

import re

import nbformat
import pytest
from test_notebooks import COURSE, execute, nbgrader_meta, outputs_of

from mnist_lessons.grading.registry import BY_NAME, HINTS, LESSONS

MAX_LINES = 8  # what a failed check may show, heading included: a verdict, not a traceback (issue 15)
ANSI = re.compile(r"\x1b\[[0-9;]*m")

def _cnn_for_images():
    """Lesson 08's solution taking 28 x 28 images, as the book's convnet does, instead of the course's 784 pixels."""
    solution = HINTS["build_cnn"].solution
    pixels = "keras.Input(shape=(784,)),\n        keras.layers.Reshape((28, 28, 1)),"
    assert pixels in solution
    return solution.replace(pixels, "keras.Input(shape=(28, 28, 1)),")


def _cnn_without_flatten():
    """Lesson 08's solution with Flatten left out: the Dense layers get the 5 x 5 x 16 maps as a grid."""
    solution = HINTS["build_cnn"].solution
    flatten = "\n        keras.layers.Flatten(),"
    assert flatten in solution
    return solution.replace(flatten, "")


# Each exercise: a wrong answer a learner typically writes, and what its check's verdict must then point to.
WRONG = {
    "load_data": ('''
def load_data(path=MNIST_PATH):
    with np.load(path, allow_pickle=False) as archive:
        return (archive["x_test"], archive["y_test"]), (archive["x_train"], archive["y_train"])
''', "the training and test pairs are swapped"),
    "describe_dataset": ('''
def describe_dataset(images, labels):
    digits, counts = np.unique(labels, return_counts=True)
    return {"num_images": len(images), "image_shape": images.shape, "dtype": images.dtype.name,
            "pixel_min": int(images.min()), "pixel_max": int(images.max()),
            "class_counts": dict(zip(digits.tolist(), counts.tolist()))}
''', "images.shape[1:]"),
    "preprocess_images": ('''
def preprocess_images(images):
    return images.astype("float32") / 255
''', "did you flatten each image?"),
    "one_hot_labels": ('''
def one_hot_labels(labels, num_classes=10):
    return np.eye(num_classes)[labels]  # float64, NumPy's default
''', "dtype float64, but the check expected float32"),
    "build_model": ('''
def build_model():
    return keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(512, activation="relu"),
                             keras.layers.Dense(10, activation="sigmoid")])
''', "softmax turns the 10 scores into probabilities"),
    "compile_model": ('''
def compile_model(model):
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
''', "takes whole-number labels, but our labels are one-hot rows"),
    "train_model": ('''
def train_model(model, train_images, train_labels, epochs=10, batch_size=128):
    return model.fit(train_images, train_labels, epochs=epochs, verbose=0)  # batch_size forgotten
''', "Keras' default is 32"),
    "evaluate_model": ('''
def evaluate_model(model, test_images, test_labels):
    loss, accuracy = model.evaluate(test_images, test_labels, verbose=0)
    return accuracy, loss
''', "the order is swapped"),
    "predict_labels": ('''
def predict_labels(model, images):
    return np.argmax(model.predict(images, verbose=0))  # no axis: one number for all the images
''', "argmax(axis=1)"),
    "compare_labels": ('''
def compare_labels(predicted, actual, n=10):
    return [(int(a), int(p)) for p, a in zip(predicted[:n], actual[:n])]
''', "predicted first"),
    "confusion_matrix": ('''
def confusion_matrix(actual, predicted, num_classes=10):
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    matrix[actual, predicted] += 1  # fancy indexing: a repeated pair is counted once
    return matrix
''', "np.add.at(matrix, (actual, predicted), 1)"),
    "centre_digit": ('''
def centre_digit(ink):
    rows, columns = np.nonzero(ink >= 0.1 * ink.max())
    box = ink[rows.min():rows.max() + 1, columns.min():columns.max() + 1].astype("float32")
    scale = 20 / max(box.shape)
    height, width = max(1, round(box.shape[0] * scale)), max(1, round(box.shape[1] * scale))
    digit = np.zeros((28, 28), dtype="float32")
    top, left = (28 - height) // 2, (28 - width) // 2
    digit[top:top + height, left:left + width] = np.clip(np.asarray(Image.fromarray(box).resize((width, height))), 0, 1)
    return digit  # centred by its box, not by its mass
''', "where MNIST's digits have theirs"),
    "build_cnn": (_cnn_for_images(), "Reshape((28, 28, 1))"),
}

# Further typical wrong answers (issue 31): round k of a lesson answers each exercise with its k-th, where it has one.
MORE_WRONG = {
    # Keras reads a loss given by name only when the model first runs: the verdict, not Keras' traceback, says so.
    "compile_model": [('''
def compile_model(model):
    model.compile(optimizer="rmsprop", loss="categorical_cross_entropy", metrics=["accuracy"])
    return model
''', "Keras knows no loss named 'categorical_cross_entropy'")],
    "build_cnn": [(_cnn_without_flatten(), "keras.layers.Flatten()")],
    # PIL's thumbnail fits the box into 20 x 20, keeping its shape, but never scales a small drawing up (issue 27).
    "centre_digit": [('''
def centre_digit(ink):
    rows, columns = np.nonzero(ink >= 0.1 * ink.max())
    picture = Image.fromarray(ink[rows.min():rows.max() + 1, columns.min():columns.max() + 1].astype("float32"))
    picture.thumbnail((20, 20), Image.Resampling.LANCZOS)
    small = np.clip(np.asarray(picture), 0, 1)
    digit = np.zeros((28, 28), dtype="float32")
    top, left = (28 - small.shape[0]) // 2, (28 - small.shape[1]) // 2
    digit[top:top + small.shape[0], left:left + small.shape[1]] = small
    positions = np.arange(28)
    row = (digit.sum(axis=1) * positions).sum() / digit.sum()
    column = (digit.sum(axis=0) * positions).sum() / digit.sum()
    return np.roll(digit, (round(14 - row), round(14 - column)), axis=(0, 1))
''', "A drawing smaller than 20 pixels is scaled up")],
}
ROUNDS = [(lesson, round_) for lesson in LESSONS
          for round_ in range(1 + max(len(MORE_WRONG.get(name, [])) for name in LESSONS[lesson]))]


def wrong_answer(name, round_):
    """(source, hint) of the exercise's wrong answer in a round: WRONG's in round 0, MORE_WRONG's after, else WRONG's."""
    more = MORE_WRONG.get(name, [])
    return more[round_ - 1] if 1 <= round_ <= len(more) else WRONG[name]


def test_every_exercise_has_a_wrong_answer():
    """Is there a typical wrong answer for every exercise of the registry, and are the further ones for exercises too?"""
    assert set(WRONG) == set(BY_NAME)
    assert set(MORE_WRONG) <= set(BY_NAME)


@pytest.mark.parametrize("lesson, round_", ROUNDS, ids=[f"{lesson}-{round_}" for lesson, round_ in ROUNDS])
def test_wrong_answers_get_short_verdicts_with_hints(lesson, round_, tmp_path, monkeypatch):
    """With every exercise of the lesson answered wrong, does each check cell fail alone, in at most 8 lines, with its hint?"""
    monkeypatch.setenv("MNIST_LESSONS_DATA", "sample")  # a tenth of MNIST, as the checks themselves use
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # the lessons' short training runs
    notebook = nbformat.read(COURSE / f"{lesson}.ipynb", as_version=4)
    for cell in notebook.cells:
        name = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution"):
            cell.source = wrong_answer(name, round_)[0].strip()
    (tmp_path / "wrong").mkdir()
    nbformat.write(notebook, tmp_path / "wrong" / f"{lesson}.ipynb")

    notebook, _ = execute(tmp_path / "wrong" / f"{lesson}.ipynb", tmp_path)

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
        hint = wrong_answer(name, round_)[1]
        assert hint in " ".join(shown), f"{name}'s verdict lacks its hint {hint!r}:\n{text}"
        assert "checks.py" not in text and "Traceback" not in text
