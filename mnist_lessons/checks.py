"""The self-checks behind each lesson's locked check cells (every lesson).

There is one ``check_<function>(fn, hidden=False)`` per graded exercise. Each
calls the learner's function ``fn`` on small, fixed inputs, compares what comes
back with the reference implementation in this package and either prints one
line ("✓ preprocess_images: all checks passed") or raises an ``AssertionError``
that says what was called, what came back and what was expected, with a hint
where one helps. ``hidden=True`` runs the extra edge cases that nbgrader keeps
out of the student version (between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``). ``hint`` and ``solution`` (from ``mnist_lessons.hints``)
give the tiered help a lesson's "Stuck?" line offers. A check that passes
remembers the learner's function, and ``yours`` (from ``mnist_lessons.downstream``)
hands it to the lesson's later cells.

Rules every check keeps:

- It depends on nothing but ``fn``: no notebook globals, no network, no
  ``MNIST_LESSONS_DATA``. The data come from the MNIST inside the package
  (mostly its sample, a stratified tenth), so a check gives the same answer on
  every machine.
- A ``NotImplementedError`` from ``fn`` (the stub of an exercise not done yet)
  passes through unchanged; any other exception becomes an ``AssertionError``
  naming the call.
- Nothing reaches stderr: nbgrader scores a test cell that writes to stderr as
  zero, so warnings, TensorFlow's log lines and Keras' progress bars from the
  calls a check makes are silenced.
- Training is short and seed-fixed (the 6,000-image sample, one or two
  epochs), so that each check answers in seconds.
"""

import contextlib
import functools
import io
import logging
import math
import os
import re
import sys
import tempfile
import textwrap
import warnings
from collections.abc import Mapping

import numpy as np

from mnist_lessons import data as reference_data
from mnist_lessons import drawing as reference_drawing
from mnist_lessons import evaluate as reference_evaluate
from mnist_lessons import preprocess as reference_preprocess
from mnist_lessons.downstream import remembered, yours  # noqa: F401 -- the lessons' later cells call checks.yours(...)
from mnist_lessons.hints import hint, solution  # noqa: F401 -- the lessons' "Stuck?" lines call checks.hint(...)

NUM_CLASSES = reference_preprocess.NUM_CLASSES  # the digits 0-9
NUM_PIXELS = reference_preprocess.NUM_PIXELS  # 784 inputs per flattened image
HIDDEN_UNITS = 512  # the course's recipe: Dense(512, relu) ...
NUM_PARAMETERS = 407_050  # ... then Dense(10, softmax): 401,920 + 5,130 weights and biases
LEARNING_RATE = 0.001  # RMSprop's default, the course's recipe

SEED = 0  # every random start inside a check
CHECK_EPOCHS = 2  # a seed-fixed short run on the 6,000 sample images reaches about 0.9
CHECK_BATCH_SIZE = 128  # the course's recipe
ACCURACY_TOLERANCE = 0.03  # how far below the reference, trained the same way, a learner may land
NUM_CNN_PARAMETERS = 61_706  # lesson 08's LeNet-5: 156 + 2,416 + 48,120 + 10,164 + 850
CNN_CHECK_EPOCHS = 1  # one seed-fixed epoch on the sample: 0.83 for the reference, 0.10 with sigmoids throughout
CNN_ACCURACY_TOLERANCE = 0.05  # seeds 0-4 of the reference gave 0.827-0.864 after that epoch

PASSED = "✓ {name}: all checks passed"
HIDDEN_PASSED = "✓ {name}: all hidden checks passed"

# MNIST's first ten training labels, as a learner sees them in lesson 01.
FIRST_TRAIN_LABELS = np.array([5, 0, 4, 1, 9, 2, 1, 3, 1, 4], dtype=np.uint8)
# MNIST's first twenty test labels, and predictions with six mistakes in them.
FIRST_TEST_LABELS = np.array([7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6, 9, 0, 1, 5, 9, 7, 3, 4])
SOME_PREDICTIONS = np.array([7, 2, 1, 0, 4, 1, 4, 9, 6, 9, 0, 6, 9, 0, 1, 3, 9, 7, 8, 9])


# ---------------------------------------------------------------- lesson 01


@remembered
def check_load_data(load_data, hidden=False):
    """Does load_data(path) read the four arrays of a Keras-layout mnist.npz, in order?"""
    name = "load_data"
    if not hidden:
        path = reference_data.PACKAGED_PATH
        expected = _packaged_splits(path)
        call = f"load_data(path) with path = the course's {path.name}"
        result = _call(call, load_data, path)
        _expect_mnist_splits(call, result, expected)
    else:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "tiny_mnist.npz")  # a str, not a Path: both must work
            expected = _write_tiny_npz(path)
            call = "load_data(path) with path = a small mnist.npz of 4 training and 2 test images"
            result = _call(call, load_data, path)
            _expect_mnist_splits(call, result, expected, tiny=True)
    _passed(name, hidden)


@remembered
def check_describe_dataset(describe_dataset, hidden=False):
    """Does describe_dataset count images, read the shape, dtype and pixel range, and count each digit?"""
    name = "describe_dataset"
    if not hidden:
        (train_images, train_labels), _ = _sample()
        cases = [(train_images[:1500], train_labels[:1500])]  # more than any fixed slice a function might count
    else:
        rng = np.random.default_rng(SEED)
        images = rng.integers(3, 201, size=(7, 28, 28), dtype=np.uint8)
        images[0, 0, 0], images[6, 27, 27] = 3, 200  # the range ends at known places
        labels = np.array([9, 9, 0, 3, 3, 3, 7], dtype=np.uint8)  # out of order, digits missing
        _, (test_images, test_labels) = _sample()
        cases = [(images, labels), (test_images[:1], test_labels[:1]), (test_images, test_labels)]
    for images, labels in cases:
        call = f"describe_dataset({_shape_text('images', images)}, {_shape_text('labels', labels)})"
        result = _call(call, describe_dataset, images.copy(), labels.copy())
        expected = reference_data.describe_dataset(images, labels)
        _expect_description(call, result, expected)
    _passed(name, hidden)


# ---------------------------------------------------------------- lesson 02


@remembered
def check_preprocess_images(preprocess_images, hidden=False):
    """Does preprocess_images flatten each image to 784 float32 values in [0, 1]?"""
    name = "preprocess_images"
    if not hidden:
        (train_images, _), _ = _sample()
        cases = [train_images[:3]]
    else:
        rng = np.random.default_rng(SEED)
        images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
        images[0, 0, 0], images[4, 27, 27] = 0, 255  # both ends of the pixel range
        _, (test_images, _) = _sample()
        cases = [images, test_images[:1]]  # a single image must stay a batch of one
    for images in cases:
        call = f"preprocess_images({_shape_text('images', images)})"
        given = images.copy()
        result = _call(call, preprocess_images, given)
        _expect_preprocessed(call, result, images)
        if hidden and not np.array_equal(given, images):
            _fail(
                f"Called {call}. It changed the images it was given; "
                "the check expected them unchanged: build a new array instead of editing in place."
            )
    _passed(name, hidden)


@remembered
def check_one_hot_labels(one_hot_labels, hidden=False):
    """Does one_hot_labels turn each label into a row of num_classes floats with a single 1?"""
    name = "one_hot_labels"
    if not hidden:
        cases = [(FIRST_TRAIN_LABELS, None)]
    else:
        cases = [
            (np.array([7, 3, 3, 0, 9, 1], dtype=np.int64), 10),  # out of order, given as int64
            (np.array([0, 1, 2], dtype=np.uint8), None),  # 10 columns even when the largest label is 2
            (np.array([2, 0, 1, 2]), 3),  # num_classes is honoured
        ]
    for labels, num_classes in cases:
        if num_classes is None:
            call = f"one_hot_labels(labels={labels.tolist()})"
            result = _call(call, one_hot_labels, labels.copy())
            num_classes = NUM_CLASSES
        else:
            call = f"one_hot_labels(labels={labels.tolist()}, num_classes={num_classes})"
            result = _call(call, one_hot_labels, labels.copy(), num_classes=num_classes)
        _expect_one_hot(call, result, labels, num_classes)
    _passed(name, hidden)


# ---------------------------------------------------------------- lesson 03


@remembered
def check_build_model(build_model, hidden=False):
    """Does build_model return an uncompiled 784 -> Dense(512, relu) -> Dense(10, softmax) network?"""
    name = "build_model"
    keras = _keras()
    _seed()
    call = "build_model()"
    model = _call(call, build_model)
    _expect_network(call, model, keras)
    if hidden:
        second = _call(call + " a second time", build_model)
        _expect_network(call + " a second time", second, keras)
        _expect_independent(model, second, "build_model")
    _passed(name, hidden)


def _expect_independent(first, second, function):
    """Two calls of a function that builds a network must give two networks, sharing no weights."""
    if second is first:
        _fail(
            f"Called {function}() twice. Both calls returned the same model object; the check "
            f"expected a new network each time: create the model inside {function}."
        )
    first_ids = {id(variable) for variable in first.weights}
    if any(id(variable) in first_ids for variable in second.weights):
        _fail(
            f"Called {function}() twice. The two models share weights, so training one would "
            "change the other; the check expected independent networks: create the layers "
            f"inside {function}, not once outside it."
        )


# ---------------------------------------------------------------- lesson 04


@remembered
def check_compile_model(compile_model, hidden=False):
    """Does compile_model compile the model it gets with RMSprop, categorical cross-entropy and accuracy?"""
    name = "compile_model"
    keras = _keras()
    model = _fresh_model()
    call = "compile_model(model) with model = a fresh, uncompiled build_model()"
    result = _call(call, compile_model, model)
    _expect_compiled(call, result, model, keras)
    if hidden:
        optimizer = model.optimizer
        learning_rate = float(np.asarray(optimizer.learning_rate))
        if not math.isclose(learning_rate, LEARNING_RATE, rel_tol=1e-3):
            _fail(
                f"Called {call}. Its RMSprop has learning_rate={learning_rate:g}, but the check "
                f"expected the default, {LEARNING_RATE:g}, the course's recipe: "
                "use optimizer='rmsprop' or keras.optimizers.RMSprop() without arguments."
            )
        second = _fresh_model()
        call = "compile_model(model) on a second fresh model"
        result = _call(call, compile_model, second)
        _expect_compiled(call, result, second, keras)
        if second.optimizer is optimizer:
            _fail(
                f"Called {call}. Both models got the same optimizer object; the check expected "
                "one optimizer per model, since an optimizer keeps per-weight state: create it "
                "inside compile_model (or pass optimizer='rmsprop')."
            )
    _passed(name, hidden)


# ---------------------------------------------------------------- lesson 05


@remembered
def check_train_model(train_model, hidden=False):
    """Does train_model fit the given model for `epochs` passes in batches of `batch_size` and return the History?"""
    name = "train_model"
    keras = _keras()
    (train_images, train_labels), (test_images, test_labels) = _prepared_sample()
    epochs, batch_size = (CHECK_EPOCHS, CHECK_BATCH_SIZE) if not hidden else (1, 256)
    call = (
        f"train_model(model, {_shape_text('train_images', train_images)}, "
        f"{_shape_text('train_labels', train_labels)}, epochs={epochs}, batch_size={batch_size}) "
        "with model = a fresh, compiled build_model()"
    )
    _seed()
    model = _fresh_model(compiled=True)
    before = [np.array(weight) for weight in model.get_weights()]
    history = _call(call, train_model, model, train_images, train_labels, epochs=epochs, batch_size=batch_size)
    _expect_history(call, history, keras, epochs, steps=math.ceil(len(train_images) / batch_size))
    after = model.get_weights()
    if all(np.array_equal(old, new) for old, new in zip(before, after)):
        _fail(
            f"Called {call}. The model it was given is unchanged, as if it had not been trained: "
            "call model.fit(...) on the model passed in, not on a new one."
        )
    accuracy = _accuracy(model, test_images, test_labels)
    expected = _reference_accuracy(epochs, batch_size)
    if accuracy < expected - ACCURACY_TOLERANCE:
        _fail(
            f"Called {call}. The trained model then classified {accuracy:.1%} of "
            f"{len(test_images):,} held-out images correctly, but the reference train_model, run "
            f"the same way, reaches {expected:.1%}: pass the images, labels, epochs and "
            "batch_size to model.fit unchanged."
        )
    _passed(name, hidden)


# ---------------------------------------------------------------- lesson 06


@remembered
def check_evaluate_model(evaluate_model, hidden=False):
    """Does evaluate_model return the model's (loss, accuracy) on the images and labels it gets?"""
    name = "evaluate_model"
    _, (test_images, test_labels) = _prepared_sample()
    if not hidden:
        cases = [(test_images, test_labels)]
    else:
        cases = [(test_images[:250], test_labels[:250]), (test_images[-1:], test_labels[-1:])]
    for images, labels in cases:
        model = _trained_model()
        call = (
            f"evaluate_model(model, {_shape_text('test_images', images)}, "
            f"{_shape_text('test_labels', labels)}) with model = a briefly trained network"
        )
        result = _call(call, evaluate_model, model, images, labels)
        with _quiet():
            expected = reference_evaluate.evaluate_model(model, images, labels)
        _expect_loss_accuracy(call, result, expected)
    _passed(name, hidden)


@remembered
def check_predict_labels(predict_labels, hidden=False):
    """Does predict_labels return the most probable digit of each image, as integers of shape (N,)?"""
    name = "predict_labels"
    _, (test_images, _) = _prepared_sample()
    cases = [test_images[:100]] if not hidden else [test_images[100:125], test_images[:1]]
    for images in cases:
        model = _trained_model()
        call = f"predict_labels(model, {_shape_text('images', images)}) with model = a briefly trained network"
        result = _call(call, predict_labels, model, images)
        with _quiet():
            expected = reference_evaluate.predict_labels(model, images)
        _expect_predicted_labels(call, result, expected)
    _passed(name, hidden)


@remembered
def check_compare_labels(compare_labels, hidden=False):
    """Does compare_labels pair the first n predicted and actual labels, predicted first?"""
    name = "compare_labels"
    predicted, actual = SOME_PREDICTIONS[:12], FIRST_TEST_LABELS[:12]
    cases = [(predicted, actual, None)] if not hidden else [
        (predicted, actual, 3),
        (predicted, actual, 12),
        (predicted, actual, 0),
        (list(SOME_PREDICTIONS[8:14]), list(FIRST_TEST_LABELS[8:14]), 4),  # plain lists work too
    ]
    for predicted, actual, n in cases:
        shown = f"predicted={_list_text(predicted)}, actual={_list_text(actual)}"
        if n is None:
            call = f"compare_labels({shown})"
            result = _call(call, compare_labels, _copy(predicted), _copy(actual))
            n = 10
        else:
            call = f"compare_labels({shown}, n={n})"
            result = _call(call, compare_labels, _copy(predicted), _copy(actual), n=n)
        expected = reference_evaluate.compare_labels(predicted, actual, n)
        _expect_pairs(call, result, expected, n)
    _passed(name, hidden)


@remembered
def check_confusion_matrix(confusion_matrix, hidden=False):
    """Does confusion_matrix count each (actual, predicted) pair, with a row per actual digit?"""
    name = "confusion_matrix"
    if not hidden:
        cases = [(FIRST_TEST_LABELS, SOME_PREDICTIONS, None)]
    else:
        rng = np.random.default_rng(SEED)
        actual = rng.integers(0, NUM_CLASSES, size=500)
        predicted = np.where(rng.random(500) < 0.8, actual, rng.integers(0, NUM_CLASSES, size=500))
        cases = [
            (actual, predicted, NUM_CLASSES),
            (np.array([2, 0, 2, 1, 2]), np.array([2, 0, 1, 1, 0]), 3),  # num_classes is honoured
            (np.array([3, 3, 8]), np.array([5, 3, 8]), None),  # 10 rows even when digits are missing
        ]
    for actual, predicted, num_classes in cases:
        shown = f"{_label_arg('actual', actual)}, {_label_arg('predicted', predicted)}"
        if num_classes is None:
            call = f"confusion_matrix({shown})"
            result = _call(call, confusion_matrix, actual.copy(), predicted.copy())
            num_classes = NUM_CLASSES
        else:
            call = f"confusion_matrix({shown}, num_classes={num_classes})"
            result = _call(call, confusion_matrix, actual.copy(), predicted.copy(), num_classes=num_classes)
        expected = reference_evaluate.confusion_matrix(actual, predicted, num_classes)
        _expect_confusion(call, result, expected)
    _passed(name, hidden)


# ---------------------------------------------------------------- lesson 07


@remembered
def check_centre_digit(centre_digit, hidden=False):
    """Does centre_digit cut a digit's ink to its box, scale it (up or down, anti-aliased) into 20 x 20 keeping its
    shape, and centre it by mass in 28 x 28?"""
    name = "centre_digit"
    _, (test_images, _) = _sample()
    if not hidden:
        cases = [(_ink_photo(test_images[index], scale, corner), what, "") for index, scale, corner, what in (
            (0, 9, (30, 200), "a test digit drawn 9 times larger, towards the top right of a 300 x 480 page"),
            (1, 5, (150, 20), "a test digit drawn 5 times larger, at the bottom left"),
            (2, 12, (0, 0), "a test digit drawn 12 times larger, in the top left corner"),
        )]
        smudged = _ink_photo(test_images[7], 8, (20, 20))
        smudged[240:290, 400:470] = SMUDGE  # pencil rubbed on the paper, far from the digit
        cases += [
            (_pen_seven(), "a 7 written with a thin pen: strokes 3 pixels wide, 240 tall on a 320 x 400 page",
             "Scale with anti-aliasing (Image.Resampling.LANCZOS): each new pixel takes in all the old ones it "
             "covers, so a thin stroke comes out grey and whole, not broken into dots."),
            (_ink_photo(test_images[6], 0.5, (30, 40), page=(60, 90)),
             "a test digit drawn at half MNIST's size, about 10 pixels tall, on a 60 x 90 page",
             "A drawing smaller than 20 pixels is scaled up, to 20 on its longer side."),
            (smudged, f"a test digit drawn 8 times larger, and a faint smudge ({SMUDGE} of the darkest ink) in the "
             "far corner", "Count as ink only the pixels with at least a tenth of the darkest pixel's level "
             "(ink >= 0.1 * ink.max()): the smudge is paper, not part of the digit's box."),
        ]
    else:
        one = np.zeros((240, 200), dtype=np.float32)
        one[20:220, 96:106] = 1.0  # a thin upright stroke: stretched to a square, it is no longer a 1
        bar = np.zeros((160, 400), dtype=np.float32)
        bar[60:80, 30:370] = 1.0  # a wide, flat stroke: its longer side is its width
        faint = _ink_photo(test_images[3], 6, (40, 40)) * 0.4  # pencil: the darkest ink at 0.4
        cases = [(one, "a thin upright stroke, 200 tall and 10 wide, like a 1", ""),
                 (bar, "a wide, flat stroke, 340 wide and 20 tall", ""),
                 (faint, "a faint test digit, its darkest ink at 0.4", ""),
                 (test_images[4].astype(np.float32) / 255, "an MNIST test image itself, already 28 x 28", ""),
                 (_edge_to_edge(test_images[8], 10), "a test digit drawn 10 times larger, its ink touching all four "
                  "edges of the page", "The ink reaches the page's edges: its box is the whole page.")]
    for ink, what, hint in cases:
        call = f"centre_digit(ink) with ink = {what}, shape {ink.shape}"
        given = ink.copy()
        result = _call(call, centre_digit, given)
        _expect_centred(call, result, ink, hint)
        if hidden and not np.array_equal(given, ink):
            _fail(f"Called {call}. It changed the ink it was given; the check expected it unchanged: work on a copy.")
    _passed(name, hidden)


SMUDGE = 0.05  # ink level of a smudge on the page: under the tenth of the darkest ink that counts as the digit's


def _ink_photo(image, scale, corner, page=(300, 480)):
    """An MNIST image as a person's drawing of it, ``scale`` times its size, somewhere on a page: ink in [0, 1]."""
    from PIL import Image

    side = round(image.shape[0] * scale)
    large = np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32) / 255
    ink = np.zeros((max(page[0], side), max(page[1], side)), dtype=np.float32)
    top, left = min(corner[0], ink.shape[0] - side), min(corner[1], ink.shape[1] - side)
    ink[top:top + side, left:left + side] = large
    return ink


def _pen_seven():
    """A 7 as a thin pen writes it, 240 pixels tall with strokes 3 wide: each stroke far narrower than the 12 pixels
    that become one when it is scaled to 20, so only anti-aliased scaling keeps it whole."""
    from PIL import Image, ImageDraw

    page = Image.new("F", (400, 320), 0.0)
    ImageDraw.Draw(page).line([(100, 40), (260, 40), (150, 280)], fill=1.0, width=3, joint="curve")
    return np.asarray(page, dtype=np.float32).copy()


def _edge_to_edge(image, scale):
    """An MNIST image ``scale`` times larger, cut to the box of its ink: the ink touches every edge of the page."""
    ink = _ink_photo(image, scale, (0, 0), page=(0, 0))
    top, bottom, left, right = reference_drawing.ink_box(ink)
    return ink[top:bottom, left:right].copy()


# ---------------------------------------------------------------- lesson 08


@remembered
def check_build_cnn(build_cnn, hidden=False):
    """Does build_cnn return an uncompiled LeNet-5 for 784 pixels, layer by layer as lesson 08's table, that learns?"""
    name = "build_cnn"
    keras = _keras()
    _seed()
    call = "build_cnn()"
    model = _call(call, build_cnn)
    _expect_cnn(call, model, keras)
    if not hidden:
        _expect_cnn_learns(call, model)
    else:
        second = _call(call + " a second time", build_cnn)
        _expect_cnn(call + " a second time", second, keras)
        _expect_independent(model, second, "build_cnn")
    _passed(name, hidden)


# ---------------------------------------------------------------- what each check expects


CENTRE_TOLERANCE = 0.5  # pixels between the centre of mass and (14, 14): MNIST shifted by whole pixels
# Correlation with the course's centred digit (_similarity: both softened, the best of nine placements a pixel
# apart). Measured on every case: the course's solution, PIL's other filters (BILINEAR, BICUBIC, BOX, HAMMING),
# a NumPy mean over the pixels each new one covers and tf.image.resize(antialias=True) gave 0.98 or more; a box
# padded to a square, then scaled, 0.91 on the 1-pixel strokes. Scaling without anti-aliasing (NEAREST, NumPy
# indexing, scipy.ndimage.zoom, tf.image.resize) gave at most 0.53 on the thin pen's 7.
SIMILARITY = 0.85


def _expect_centred(call, result, ink, hint=""):
    expected = reference_drawing.centre_digit(ink)
    hint = f" {hint}" if hint else ""
    if result is None:
        _fail(f"Called {call}. It returned None, but the check expected a 28 x 28 array: did you forget `return`?")
    got = np.asarray(result)
    if got.shape != (28, 28):
        shape_hint = " keep it a 28 x 28 grid: the course flattens it later." if got.shape == (NUM_PIXELS,) else ""
        _fail(f"Called {call}. It returned shape {got.shape}, but the check expected (28, 28).{shape_hint}")
    if got.dtype != np.float32:
        _fail(f"Called {call}. It returned dtype {got.dtype}, but the check expected float32: .astype('float32').")
    if not np.all(np.isfinite(got)) or got.min() < -1e-6 or got.max() > 1 + 1e-6:
        _fail(f"Called {call}. Its values run from {np.nanmin(got):g} to {np.nanmax(got):g}, but the check expected "
              "values in [0, 1], as the ink it was given.")
    if got.sum() <= 0:
        _fail(f"Called {call}. It returned a blank image; the check expected the digit in it.{hint}")
    top, bottom, left, right = reference_drawing.ink_box(got)
    height, width = bottom - top, right - left
    if not reference_drawing.BOX_SIDE - 1 <= max(height, width) <= reference_drawing.BOX_SIDE + 1:
        _fail(f"Called {call}. The digit in it is {height} x {width} pixels, but the check expected its longer side "
              f"to be {reference_drawing.BOX_SIDE}, as MNIST's digits are: scale its box so that the longer side is "
              f"20.{hint}")
    top, bottom, left, right = reference_drawing.ink_box(ink)
    given_height, given_width = bottom - top, right - left
    shape_given = given_height / given_width
    sliver = max(height, width) >= 10 * min(height, width)  # a stroke a pixel or two wide: rounding decides its shape
    if not sliver and not 0.7 < (height / width) / shape_given < 1.4:
        _fail(f"Called {call}. The digit came back {height} x {width} pixels, but the one it was given is "
              f"{given_height} x {given_width}: scale both sides "
              f"by the same factor, so that it keeps its shape.{hint}")
    row, column = reference_drawing.centre_of_mass(got)
    if abs(row - reference_drawing.CENTRE) > CENTRE_TOLERANCE or abs(column - reference_drawing.CENTRE) > CENTRE_TOLERANCE:
        _fail(f"Called {call}. Its centre of mass is at row {row:.1f}, column {column:.1f}, but the check expected "
              "(14, 14), where MNIST's digits have theirs: shift the digit by the difference, rounded to whole pixels.")
    similarity = _similarity(got, expected)
    if similarity < SIMILARITY:
        hint = hint or " Is it the same digit, upright, cut to its ink and scaled with anti-aliasing?"
        _fail(f"Called {call}. It returned a digit unlike the course's centred one (correlation {similarity:.2f}, the "
              f"check expected at least {SIMILARITY}).{hint}")


def _similarity(got, expected):
    """The correlation of two 28 x 28 digits, each softened by a pixel's width, at the best of the placements of
    ``got`` up to a pixel either way: honest answers differ in where a box of, say, 13.3 pixels starts and in which
    way a centre of mass near a half pixel rounds, but not in their strokes."""
    got, expected = _softened(got), _softened(expected).reshape(-1)
    return max(float(np.corrcoef(np.roll(got, (down, right), axis=(0, 1)).reshape(-1), expected)[0, 1])
               for down in (-1, 0, 1) for right in (-1, 0, 1))


def _softened(image):
    """An image blurred by [1, 2, 1] / 4 down and across."""
    padded = np.pad(np.asarray(image, dtype=np.float64), 1)
    rows = (padded[:-2] + 2 * padded[1:-1] + padded[2:]) / 4
    return (rows[:, :-2] + 2 * rows[:, 1:-1] + rows[:, 2:]) / 4


class _Published:
    """One of MNIST's published arrays, known by its shape, dtype and digest (``data.MNIST_SHA256``) rather than read.

    Lesson 01's check compares what load_data read from the package's file with the file's arrays; where the file is
    the one the package ships, those are the published arrays, so the check compares digests instead of reading the
    55 MB again: 0.3 s of every grading's replay, and of the learner's check cell.
    """

    def __init__(self, key):
        self.key = key
        self.shape = reference_data.published_shape(key)
        self.dtype = np.dtype(np.uint8)

    def holds(self, array):
        return reference_data.is_published_array(self.key, array)


def _packaged_splits(path):
    """What load_data(path) must return for the package's file: its arrays as _Published, or, for a file other than
    the one shipped (a damaged copy), the arrays read from it, as the learner's function reads them."""
    if reference_data.is_shipped_file(path):
        return (_Published("x_train"), _Published("y_train")), (_Published("x_test"), _Published("y_test"))
    return reference_data.load_mnist(path)


def _same_array(array, expected):
    return expected.holds(array) if isinstance(expected, _Published) else np.array_equal(array, expected)


def _expect_mnist_splits(call, result, expected, tiny=False):
    names = (("train_images", "train_labels"), ("test_images", "test_labels"))
    layout = "((train_images, train_labels), (test_images, test_labels))"
    if not _is_pair(result) or not all(_is_pair(part) for part in result):
        _fail(f"Called {call}. It returned {_summary(result)}, but the check expected {layout}.")
    (expected_train, expected_test) = expected
    got = [[np.asarray(array) for array in part] for part in result]
    if got[0][0].shape == expected_test[0].shape and got[1][0].shape == expected_train[0].shape:
        _fail(
            f"Called {call}. Its first pair holds {len(got[0][0]):,} images and its second "
            f"{len(got[1][0]):,}: the training and test pairs are swapped. Expected {layout}."
        )
    if got[0][0].ndim == 1 and got[0][1].ndim == 3:
        _fail(f"Called {call}. Each pair holds labels first, then images: expected {layout}.")
    for part_names, part, expected_part in zip(names, got, expected):
        for array_name, array, expected_array in zip(part_names, part, expected_part):
            key = _NPZ_KEY[array_name]
            if array.shape != expected_array.shape:
                hint = ""
                if tiny and len(array) in (6_000, 1_000, 60_000, 10_000):
                    hint = (
                        " It looks like MNIST rather than the file the check gave: read the file "
                        "at `path`, the function's argument, not MNIST_PATH."
                    )
                _fail(
                    f"Called {call}. Its {array_name} has shape {array.shape}, but the check "
                    f"expected {expected_array.shape}, the shape of {key} in the file.{hint}"
                )
            if array.dtype != expected_array.dtype:
                _fail(
                    f"Called {call}. Its {array_name} has dtype {array.dtype}, but the check "
                    f"expected {expected_array.dtype}, as stored in the file: return the arrays "
                    "as np.load gives them, without converting them."
                )
            if not _same_array(array, expected_array):
                _fail(
                    f"Called {call}. Its {array_name} differs from the array {key} in the file: "
                    f"return mnist_file[{key!r}] for {array_name}."
                )


_NPZ_KEY = {"train_images": "x_train", "train_labels": "y_train", "test_images": "x_test", "test_labels": "y_test"}


def _expect_description(call, result, expected):
    keys = ", ".join(expected)
    if not isinstance(result, Mapping):
        _fail(f"Called {call}. It returned {_summary(result)}, but the check expected a dict with the keys {keys}.")
    missing = [key for key in expected if key not in result]
    if missing:
        _fail(
            f"Called {call}. The dict it returned has no key {', '.join(map(repr, missing))}; "
            f"the check expected the keys {keys}."
        )
    got_num = result["num_images"]
    if not _is_whole(got_num) or int(got_num) != expected["num_images"]:
        _fail(
            f"Called {call}. Its num_images is {got_num!r}, but the check expected "
            f"{expected['num_images']}: the number of images is len(images), or images.shape[0]."
        )
    got_shape = result["image_shape"]
    if not _as_tuple(got_shape) == expected["image_shape"]:
        hint = (
            " image_shape is the shape of ONE image: images.shape[1:]."
            if _as_tuple(got_shape) == (expected["num_images"], *expected["image_shape"])
            else ""
        )
        _fail(f"Called {call}. Its image_shape is {got_shape!r}, but the check expected {expected['image_shape']}.{hint}")
    try:
        got_dtype = str(np.dtype(result["dtype"]))
    except TypeError:
        got_dtype = None
    if got_dtype != expected["dtype"]:
        _fail(
            f"Called {call}. Its dtype is {result['dtype']!r}, but the check expected "
            f"{expected['dtype']!r}: the data type of the pixels is images.dtype."
        )
    for key, word in (("pixel_min", "smallest"), ("pixel_max", "largest")):
        got = result[key]
        if not _is_number(got) or got != expected[key]:
            _fail(
                f"Called {call}. Its {key} is {got!r}, but the check expected {expected[key]}, "
                f"the {word} pixel value in all the images: images.{key[6:]}()."
            )
    counts = _as_counts(result["class_counts"])
    if counts != expected["class_counts"]:
        _fail(
            f"Called {call}. Its class_counts is {_short_repr(result['class_counts'])}, but the check "
            f"expected {expected['class_counts']}: how many labels equal each digit 0-9 "
            "(np.bincount(labels, minlength=10) counts them)."
        )


def _expect_preprocessed(call, result, images):
    expected = reference_preprocess.preprocess_images(images)
    if result is None:
        _fail(f"Called {call}. It returned None, but the check expected an array: did you forget `return`?")
    got = np.asarray(result)
    count = len(images)
    if got.shape != expected.shape:
        if got.shape == images.shape:
            hint = " did you flatten each image?"
        elif got.shape == (count * NUM_PIXELS,):
            hint = " keep one row per image: images.reshape(len(images), 784)."
        elif got.shape == (NUM_PIXELS, count):
            hint = " the rows and columns are swapped: one row of 784 pixels per image."
        elif got.ndim == 2 and got.shape[1] == NUM_PIXELS:
            hint = " did you write a fixed number of images? Use len(images)."
        else:
            hint = ""
        _fail(f"Called {call}. It returned shape {got.shape}, but the check expected {expected.shape}:{hint}".rstrip(":"))
    if got.dtype != np.float32:
        if got.dtype.kind in "iub":
            hint = "convert with .astype('float32'), then divide by 255."
        else:
            hint = "convert with .astype('float32'): it halves the memory of float64, and Keras computes in float32."
        _fail(f"Called {call}. It returned dtype {got.dtype}, but the check expected float32: {hint}")
    if got.max() > 1.0 or got.min() < 0.0:
        _fail(
            f"Called {call}. Its values run from {got.min():g} to {got.max():g}, but the check "
            "expected values in [0, 1]: did you divide by 255?"
        )
    if not np.allclose(got, expected, atol=1e-6):
        row, column = np.argwhere(~np.isclose(got, expected, atol=1e-6))[0]
        hint = ""
        per_image = images.reshape(count, -1).astype(np.float32) / images.reshape(count, -1).max(axis=1, keepdims=True)
        if np.allclose(got, per_image, atol=1e-6):
            hint = " divide by 255, the largest possible pixel, not by each image's own largest pixel."
        _fail(
            f"Called {call}. Image {row}, pixel {column} came back as {got[row, column]:g}, but the "
            f"check expected {expected[row, column]:g} (the pixel divided by 255).{hint}"
        )


def _expect_one_hot(call, result, labels, num_classes):
    expected = np.eye(num_classes, dtype=np.float32)[labels]
    if result is None:
        _fail(f"Called {call}. It returned None, but the check expected an array: did you forget `return`?")
    got = np.asarray(result)
    if got.shape != expected.shape:
        if got.shape == labels.shape:
            hint = " each label must become a row of num_classes values, with a 1 in the label's column."
        elif got.ndim == 2 and got.shape[0] == len(labels):
            hint = f" one column per class: use num_classes ({num_classes}), not the largest label."
        else:
            hint = ""
        _fail(f"Called {call}. It returned shape {got.shape}, but the check expected {expected.shape}.{hint}")
    if got.dtype != np.float32:
        if got.dtype == np.float64:
            hint = (
                " np.eye, np.zeros and keras.utils.to_categorical give float64 unless told "
                "otherwise, twice the memory, while Keras computes in float32: add "
                ".astype('float32') or pass dtype='float32'."
            )
        else:
            hint = " the labels are compared with the network's float32 probabilities: .astype('float32')."
        _fail(f"Called {call}. It returned dtype {got.dtype}, but the check expected float32, as the exercise asks:{hint}")
    for row, label in enumerate(labels):
        if not np.array_equal(got[row], expected[row]):
            _fail(
                f"Called {call}. Row {row} (label {label}) is {_list_text(got[row])}, but the check "
                f"expected {_list_text(expected[row])}: a 1 in column {label} and 0 everywhere else."
            )


def _expect_network(call, model, keras):
    _expect_uncompiled_model(call, model, keras)
    too_large = [units for _, units, _ in _layer_structure(model, keras) if isinstance(units, int) and units > 65_536]
    if too_large:
        _fail(f"Called {call}. A Dense layer has {too_large[0]:,} units, but the check expected {HIDDEN_UNITS} "
              f"then {NUM_CLASSES}.")
    _build_for_pixels(call, model)
    structure = _layer_structure(model, keras)
    unknown = [kind for kind, _, _ in structure if kind != "Dense"]
    described = ", ".join(_layer_text(layer) for layer in structure)
    if unknown:
        _fail(
            f"Called {call}. The model's layers are {described}, but the check expected only "
            "Dense(512, relu) then Dense(10, softmax)."
        )
    if len(structure) != 2:
        _fail(
            f"Called {call}. The model has {len(structure)} Dense layer{'s' if len(structure) != 1 else ''} "
            f"({described}), but the check expected two: Dense(512, relu) then Dense(10, softmax)."
        )
    input_shape = tuple(model.inputs[0].shape) if model.inputs else None
    if input_shape != (None, NUM_PIXELS):
        _fail(
            f"Called {call}. The model takes inputs of shape {input_shape}, but the check expected "
            f"(None, {NUM_PIXELS}): {NUM_PIXELS} pixels per image, as lesson 02 flattens them: keras.Input(shape=(784,))."
        )
    (_, hidden_units, hidden_activation), (_, output_units, output_activation) = structure
    if hidden_units != HIDDEN_UNITS:
        _fail(f"Called {call}. The hidden Dense layer has {hidden_units} units, but the check expected {HIDDEN_UNITS}.")
    if hidden_activation != "relu":
        hint = " add activation='relu'." if hidden_activation == "linear" else ""
        _fail(
            f"Called {call}. The hidden Dense layer's activation is {hidden_activation!r}, but the "
            f"check expected 'relu'.{hint}"
        )
    if output_units != NUM_CLASSES:
        _fail(
            f"Called {call}. The output Dense layer has {output_units} units, but the check "
            f"expected {NUM_CLASSES}: one per digit."
        )
    if output_activation != "softmax":
        hint = {
            "sigmoid": " sigmoid scores each digit on its own; softmax turns the 10 scores into probabilities that add up to 1.",
            "linear": " add activation='softmax', so that the 10 outputs are probabilities that add up to 1.",
        }.get(output_activation, " softmax turns the 10 scores into probabilities that add up to 1.")
        _fail(
            f"Called {call}. The output Dense layer's activation is {output_activation!r}, but the "
            f"check expected 'softmax':{hint}"
        )
    count = model.count_params()
    if count != NUM_PARAMETERS:
        _fail(
            f"Called {call}. The model has {count:,} parameters, but the check expected "
            f"{NUM_PARAMETERS:,}: 784 x 512 weights + 512 biases, then 512 x 10 weights + 10 biases "
            "(keep the layers' biases)."
        )


def _expect_uncompiled_model(call, model, keras):
    if model is None:
        _fail(f"Called {call}. It returned None, but the check expected a Keras model: did you forget `return model`?")
    if getattr(model, "refused_model", False):  # grading's stand-in for a network it would not build (engine.py)
        _fail(f"Called {call}. It returned {model.grader_description}, so the check went no further: it expected "
              "the lesson's network, built from the layers of the lesson's table and no others.")
    if not isinstance(model, keras.Model):
        _fail(
            f"Called {call}. It returned {_summary(model)}, but the check expected a Keras model "
            "(keras.Sequential([...]) or keras.Model(inputs, outputs))."
        )
    if getattr(model, "compiled", False):
        _fail(
            f"Called {call}. The model came back compiled, but the check expected an uncompiled "
            "model: compiling is lesson 04's step, compile_model."
        )


def _build_for_pixels(call, model):
    """Build a model that has no Input yet for MNIST's 784 pixels, as fit would on its first batch."""
    if model.built:
        return
    # The book's style, keras.Sequential([Dense(...), Dense(...)]) with no Input, builds on its first batch.
    try:
        with _quiet():
            model.build((None, NUM_PIXELS))
    except Exception as err:  # noqa: BLE001 -- a model that cannot take 784 inputs
        _fail(f"Called {call}. The model could not be built for 784 inputs per image: {_error_text(err)}")


# Lesson 08's table of LeNet-5, row by row: each layer's kind, the settings the table gives it (Keras' defaults for
# those it leaves out) and what it gives per image. Row 1 is "Input(784), then Reshape((28, 28, 1))": the Input is
# no layer of a Sequential model, so a model's layers, activation layers folded in, line up with the rows.
CNN_TABLE = (
    ("Reshape", {}, (28, 28, 1)),
    ("Conv2D", {"filters": 6, "kernel_size": (5, 5), "padding": "same", "strides": (1, 1), "dilation_rate": (1, 1),
                "activation": "relu"}, (28, 28, 6)),
    ("MaxPooling2D", {"pool_size": (2, 2)}, (14, 14, 6)),
    ("Conv2D", {"filters": 16, "kernel_size": (5, 5), "padding": "valid", "strides": (1, 1), "dilation_rate": (1, 1),
                "activation": "relu"}, (10, 10, 16)),
    ("MaxPooling2D", {"pool_size": (2, 2)}, (5, 5, 16)),
    ("Flatten", {}, (400,)),
    ("Dropout", {"rate": 0.5}, (400,)),
    ("Dense", {"units": 120, "activation": "relu"}, (120,)),
    ("Dense", {"units": 84, "activation": "relu"}, (84,)),
    ("Dense", {"units": NUM_CLASSES, "activation": "softmax"}, (NUM_CLASSES,)),
)


def _cnn_layer_text(kind, settings):
    """A layer as the lesson's table writes it: "Conv2D(6, 5, padding='same', relu)", "Dropout(0.5)", ..."""
    if kind == "Conv2D":
        arguments = [settings["filters"], _side_text(settings["kernel_size"])]
        arguments += [f"padding={settings['padding']!r}"] if settings["padding"] != "valid" else []
        arguments += [f"{key}={_side_text(settings[key])}" for key in ("strides", "dilation_rate")
                      if settings[key] != (1, 1)]
        return f"Conv2D({', '.join(map(str, arguments))}, {settings['activation']})"
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        arguments = [_side_text(settings["pool_size"])]
        arguments += ([f"strides={_side_text(settings['strides'])}"]
                      if settings.get("strides", settings["pool_size"]) != settings["pool_size"] else [])
        arguments += [f"padding={settings['padding']!r}"] if settings.get("padding", "valid") != "valid" else []
        return f"{kind}({', '.join(map(str, arguments))})"
    if kind == "Dense":
        return f"Dense({settings['units']}, {settings['activation']})"
    if kind == "Dropout":
        return f"Dropout({settings['rate']:g})"
    if kind == "Reshape" and "target_shape" in settings:
        return f"Reshape({settings['target_shape']})"
    if kind == "Reshape":
        return "Reshape((28, 28, 1))"
    if kind == "Activation":
        return f"Activation({settings['activation']!r})"
    return f"{kind}()"


def _side_text(value):
    """A kernel, pool or stride size as the table writes it: 5 for (5, 5)."""
    value = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    return value[0] if len(set(value)) == 1 else value


CNN_LAYERS = ", ".join(_cnn_layer_text(kind, settings) for kind, settings, _ in CNN_TABLE[1:])


def _expect_cnn(call, model, keras):
    _expect_uncompiled_model(call, model, keras)
    _build_for_pixels(call, model)
    input_shape = tuple(model.inputs[0].shape) if model.inputs else None
    if input_shape != (None, NUM_PIXELS):
        _fail(f"Called {call}. The model takes inputs of shape {input_shape}, but the check expected (None, "
              f"{NUM_PIXELS}): the same 784 pixels as lesson 03's network, which "
              "keras.layers.Reshape((28, 28, 1)) then puts back in their grid.")
    kinds = [type(layer).__name__ for layer in model.layers]
    described = ", ".join(kinds)
    for kind, what in (("Conv2D", "convolutions"), ("MaxPooling2D", "poolings")):
        if kind not in kinds:
            _fail(f"Called {call}. The model's layers are {described}, but the check expected {what} "
                  f"(keras.layers.{kind}) before the Dense layers: {CNN_LAYERS}.")
    activated = _activated_layers(model, keras)
    linear = [layer.name for layer, (role, _, activation) in activated if role != "output" and activation != "relu"]
    if linear:
        _fail(f"Called {call}. Layer {linear[0]!r} has no relu, but the check expected one on every Conv2D and "
              "hidden Dense layer (activation='relu'): without it, the layers together only compute one linear "
              "function of the pixels.")
    output_shape = tuple(model.outputs[0].shape) if model.outputs else None
    if output_shape is not None and len(output_shape) > 2:
        grid = " x ".join(str(side) for side in output_shape[1:-1])
        _fail(f"Called {call}. The model's output has shape {output_shape}, but the check expected (None, "
              f"{NUM_CLASSES}): the feature maps reach the Dense layers still as a {grid} grid, and a Dense layer "
              "works on each position of a grid apart. Flatten the maps first: keras.layers.Flatten() after the "
              "last MaxPooling2D gives the Dense layers one row of numbers per image (400 in LeNet-5).")
    if output_shape != (None, NUM_CLASSES):
        _fail(f"Called {call}. The model's output has shape {output_shape}, but the check expected (None, "
              f"{NUM_CLASSES}): one probability per digit, from Dense(10, activation='softmax').")
    _, (_, _, output_activation) = activated[-1]
    if output_activation != "softmax":
        _fail(f"Called {call}. The output layer's activation is {output_activation!r}, but the check expected "
              "'softmax', so that the 10 outputs are probabilities that add up to 1.")
    count = model.count_params()
    if count != NUM_CNN_PARAMETERS:
        _fail(f"Called {call}. The model has {count:,} parameters, but the check expected {NUM_CNN_PARAMETERS:,}, "
              f"LeNet-5's: {CNN_LAYERS}, each layer with its biases.")
    _expect_cnn_table(call, model, keras)


def _activated_layers(model, keras):
    """[(layer, (role, units, activation))] of a model's Conv2D and Dense layers, separate activation layers folded in.

    The role is "output" for the last of them and "hidden" for the others.
    """
    folded = {"Activation": None, "ReLU": "relu", "Softmax": "softmax"}
    found = []
    for layer in model.layers:
        kind = type(layer).__name__
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            found.append([layer, "hidden", getattr(layer, "units", None), _activation_name(layer.activation)])
        elif kind in folded and found and found[-1][3] == "linear":
            found[-1][3] = folded[kind] or _activation_name(layer.activation)
    if found:
        found[-1][1] = "output"
    return [(layer, (role, units, activation)) for layer, role, units, activation in found]


def _expect_cnn_table(call, model, keras):
    """Hold a model's layers to the lesson's table, row by row: each row's kind, its settings, then its output."""
    layers = _cnn_rows(model, keras)
    got, want = [kind for kind, _, _ in layers], [kind for kind, _, _ in CNN_TABLE]
    table_text = [_cnn_layer_text(kind, settings) for kind, settings, _ in CNN_TABLE]
    for row in range(max(len(got), len(want))):
        if row < len(got) and row < len(want) and got[row] == want[row]:
            (kind, settings, output), (_, expected, expected_output) = layers[row], CNN_TABLE[row]
            for key, value in expected.items():
                if not _same_setting(settings.get(key), value):
                    _fail(f"Called {call}. Row {row + 1} of the lesson's table is {table_text[row]}, but the model's "
                          f"is {_cnn_layer_text(kind, settings)}: its {SETTING_NAMES[key]} is "
                          f"{_setting_text(settings.get(key))}, but the check expected {_setting_text(value)}."
                          f"{_cnn_setting_hint(row, key, settings.get(key))}")
            if output is not None and output != expected_output:
                _fail(f"Called {call}. Row {row + 1} of the lesson's table, {table_text[row]}, gives "
                      f"{' x '.join(map(str, expected_output))} numbers per image, but the model's gives "
                      f"{' x '.join(map(str, output))}. Give each layer the table's arguments and no others.")
            continue
        after = f"after row {row}, {table_text[row - 1]}" if row else "after the Input"
        if row == len(want) or got[row + 1:] == want[row:]:
            comes_next = f": row {row + 1}, {table_text[row]}, comes next" if row < len(want) else ""
            _fail(f"Called {call}. The model has {_cnn_layer_text(*layers[row][:2])} {after}, where the lesson's "
                  f"table has no layer{comes_next}. Take it out: the check expected the table's layers, in its "
                  f"order, and no others: {CNN_LAYERS}.")
        if row == len(got) or got[row:] == want[row + 1:]:
            _fail(f"Called {call}. The model has no row {row + 1} of the lesson's table, {table_text[row]}, "
                  f"{after}; the check expected every row, in the table's order: {CNN_LAYERS}.")
        averaged = (got[row], want[row]) == ("AveragePooling2D", "MaxPooling2D")
        hint = (" Max pooling keeps the largest value of each 2 x 2 patch, the strongest trace of the stroke a filter "
                "found; averaging dilutes it.") if averaged else ""
        _fail(f"Called {call}. Row {row + 1} of the lesson's table is {table_text[row]}, but the model's layer there "
              f"is {_cnn_layer_text(*layers[row][:2])}.{hint} The check expected the table's layers, in its order: "
              f"{CNN_LAYERS}.")


SETTING_NAMES = {"filters": "number of filters", "kernel_size": "kernel size", "strides": "strides",
                 "dilation_rate": "dilation_rate", "padding": "padding", "activation": "activation",
                 "pool_size": "pool size", "rate": "rate", "units": "number of units"}


def _cnn_rows(model, keras):
    """[(kind, settings, output per image)] of a model's layers, an activation layer folded into the Conv2D or Dense
    layer right before it where that one has none of its own; the Input left out."""
    rows = []
    for layer in model.layers:
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.InputLayer):
            continue
        activation = _activation_layer_name(layer, kind)
        folds = rows and rows[-1][0] in ("Conv2D", "Dense") and rows[-1][1]["activation"] == "linear"
        if activation is not None and folds:
            rows[-1][1]["activation"] = activation
            rows[-1][2] = _output_per_image(layer)
            continue
        settings = {key: _setting_value(getattr(layer, key)) for key in SETTING_NAMES if hasattr(layer, key)}
        if activation is not None:
            settings = {"activation": activation}
        if kind == "Reshape":
            settings["target_shape"] = tuple(layer.target_shape)
        rows.append([kind, settings, _output_per_image(layer)])
    return [tuple(row) for row in rows]


def _activation_layer_name(layer, kind):
    """'relu' for Activation('relu') or a plain ReLU(), 'softmax' for Softmax(); None for any other layer."""
    if kind == "Activation":
        return _activation_name(layer.activation)
    if kind == "ReLU":
        plain = not layer.negative_slope and layer.max_value is None and not layer.threshold
        return "relu" if plain else "relu with negative_slope, max_value or threshold"
    if kind == "Softmax":
        return "softmax"
    return None


def _setting_value(value):
    if callable(value):
        return _activation_name(value)
    if isinstance(value, list):
        return tuple(value)
    return value


def _same_setting(value, expected):
    if isinstance(expected, float):
        return _is_number(value) and math.isclose(value, expected)
    return value == expected


def _setting_text(value):
    if isinstance(value, tuple):
        return str(_side_text(value))
    return f"{value:g}" if isinstance(value, float) else repr(value) if isinstance(value, str) else str(value)


def _cnn_setting_hint(row, key, value):
    """What to change, for the setting of a row that differs from the table's."""
    if key == "activation":
        wanted = CNN_TABLE[row][1]["activation"]
        return f" Add activation={wanted!r}." if value == "linear" else f" Use activation={wanted!r}."
    if key == "padding":
        return (" padding='same' pads the edges, so that the grid keeps its 28 x 28." if CNN_TABLE[row][1]["padding"]
                == "same" else " Leave padding out (Keras' default, 'valid'): the 14 x 14 maps become 10 x 10.")
    if key == "rate":
        return " Dropout(0.5) zeroes half of the 400 numbers at random while training."
    if key == "pool_size":
        return " MaxPooling2D(2) keeps the largest value of each 2 x 2 patch: the grid halves."
    return ""


def _output_per_image(layer):
    """A layer's output shape without the batch, or None where Keras cannot say."""
    try:
        return tuple(layer.output.shape)[1:]
    except Exception:  # noqa: BLE001 -- a layer never called, or called on two inputs: its settings still tell
        return None


def _expect_cnn_learns(call, model):
    """Train the learner's network briefly, as the reference was, and hold its accuracy to the reference's band."""
    train_images, _, test_images, _ = _sample_arrays()
    try:
        accuracy = _briefly_trained_accuracy(model)
    except Exception as err:  # noqa: BLE001 -- Keras refusing the learner's own network
        _fail(f"Called {call}, then compiled and trained the network it returned for {CNN_CHECK_EPOCHS} epoch on "
              f"{len(train_images):,} images, as the course's compile_model and train_model do. That raised "
              f"{_error_text(err)}. Build the layers of the lesson's table, in its order: {CNN_LAYERS}.")
    expected = _reference_cnn_accuracy()
    if accuracy < expected - CNN_ACCURACY_TOLERANCE:
        _fail(f"Called {call}, then trained the network it returned for {CNN_CHECK_EPOCHS} epoch on "
              f"{len(train_images):,} images. It then classified {accuracy:.1%} of {len(test_images):,} held-out "
              f"images correctly, but the check expected at least {expected - CNN_ACCURACY_TOLERANCE:.1%}: the "
              f"course's build_cnn, trained the same way, reaches {expected:.1%}. Check each layer's activation "
              "and initializer, and that the layers come in the order of the lesson's table.")


def _expect_compiled(call, result, model, keras):
    if result is None:
        _fail(f"Called {call}. It returned None, but the check expected the compiled model: did you forget `return model`?")
    if result is not model:
        _fail(
            f"Called {call}. It returned {_summary(result)}, not the model it was given; the check "
            "expected the same model back, compiled: call model.compile(...) then return model."
        )
    if not getattr(model, "compiled", False):
        _fail(f"Called {call}. The model is not compiled: did you call model.compile(...)?")
    optimizer = model.optimizer
    if not isinstance(optimizer, keras.optimizers.RMSprop):
        _fail(
            f"Called {call}. The model's optimizer is {type(optimizer).__name__}, but the check "
            "expected RMSprop: optimizer='rmsprop'."
        )
    loss_name = _loss_name(model.loss)
    if loss_name != "categoricalcrossentropy":
        hint = (
            " sparse categorical cross-entropy takes whole-number labels, but our labels are one-hot rows."
            if loss_name == "sparsecategoricalcrossentropy"
            else " it compares the predicted probabilities with the one-hot labels."
        )
        _fail(
            f"Called {call}. The model's loss is {_loss_text(model.loss)}, but the check expected "
            f"'categorical_crossentropy':{hint}"
        )
    loss_config = model.loss.get_config() if hasattr(model.loss, "get_config") else {}
    if loss_config.get("from_logits"):
        _fail(
            f"Called {call}. The loss has from_logits=True, but the model ends in softmax and "
            "gives probabilities: leave from_logits at False."
        )
    # What the settings do, measured: model.evaluate's loss and accuracy against NumPy's. Keras reads a loss
    # or metric given by name only now, so a misspelt one fails here: a verdict, not Keras' traceback.
    _, (test_images, test_labels) = _prepared_sample()
    images, labels = test_images[:64], test_labels[:64]
    try:
        with _quiet():
            reported = model.evaluate(images, labels, verbose=0, return_dict=True)
            probabilities = np.asarray(model.predict(images, verbose=0))
    except Exception as err:  # noqa: BLE001 -- Keras refusing the learner's own settings
        _fail(f"Called {call}. Then model.evaluate on 64 test images raised {_error_text(err)}. "
              f"{_compile_hint(model, err)}")
    accuracy_keys = [key for key in reported if "acc" in key]
    if not accuracy_keys:
        _fail(
            f"Called {call}. model.evaluate then reported only {sorted(reported)}, but the check "
            "expected an accuracy too: metrics=['accuracy']."
        )
    expected_accuracy = float(np.mean(probabilities.argmax(axis=1) == labels.argmax(axis=1)))
    reported_accuracy = float(reported[accuracy_keys[0]])
    if not math.isclose(reported_accuracy, expected_accuracy, abs_tol=1e-6):
        _fail(
            f"Called {call}. Its metric {accuracy_keys[0]!r} reported {reported_accuracy:.4f} on "
            f"64 images whose accuracy is {expected_accuracy:.4f}; the check expected "
            "metrics=['accuracy']."
        )
    expected_loss = float(np.mean(-np.log(np.clip((probabilities * labels).sum(axis=1), 1e-7, 1.0))))
    if not math.isclose(float(reported["loss"]), expected_loss, rel_tol=1e-3, abs_tol=1e-4):
        _fail(
            f"Called {call}. Its loss reported {float(reported['loss']):.4f} on 64 images whose "
            f"categorical cross-entropy is {expected_loss:.4f}; the check expected "
            "loss='categorical_crossentropy' with nothing added to it."
        )


COMPILE_RECIPE = "model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])"


def _compile_hint(model, err):
    """What to change when Keras refuses a compiled model's settings: a misspelt loss or metric, most often."""
    message = str(err)
    if "loss identifier" in message:
        return (f"Keras knows no loss named {_loss_text(model.loss)}. The check expected "
                "loss='categorical_crossentropy', as Keras spells it: crossentropy in one word.")
    if "metric identifier" in message:
        return "Keras knows no such metric. The check expected metrics=['accuracy']."
    return f"The check expected {COMPILE_RECIPE}."


def _expect_history(call, history, keras, epochs, steps):
    if history is None:
        _fail(
            f"Called {call}. It returned None, but the check expected the History that model.fit "
            "returns: did you forget `return model.fit(...)`?"
        )
    if isinstance(history, keras.Model):
        _fail(
            f"Called {call}. It returned the model, but the check expected the History that "
            "model.fit returns: return model.fit(...)."
        )
    if isinstance(history, Mapping):
        _fail(
            f"Called {call}. It returned a dict, but the check expected the History object "
            "itself: return model.fit(...), not its .history."
        )
    if not isinstance(history, keras.callbacks.History):
        _fail(f"Called {call}. It returned {_summary(history)}, but the check expected the History that model.fit returns.")
    losses = list(history.history.get("loss", []))
    if len(losses) != epochs:
        _fail(
            f"Called {call}. The History records {len(losses)} epoch{'s' if len(losses) != 1 else ''}, "
            f"but the check expected {epochs}: did you pass epochs=epochs to model.fit?"
        )
    ran = history.params.get("steps") if isinstance(getattr(history, "params", None), Mapping) else None
    if ran is not None and ran != steps:
        hint = " Keras' default is 32." if ran == math.ceil(steps * CHECK_BATCH_SIZE / 32) else ""
        _fail(
            f"Called {call}. model.fit ran {ran} steps per epoch, but the check expected {steps}: "
            f"did you pass batch_size=batch_size to model.fit, and train on all the images given?{hint}"
        )
    if epochs > 1 and not losses[-1] < losses[0]:
        _fail(
            f"Called {call}. The loss went from {losses[0]:.4f} in the first epoch to "
            f"{losses[-1]:.4f} in the last, but the check expected it to go down."
        )


def _expect_loss_accuracy(call, result, expected):
    expected_loss, expected_accuracy = expected
    wanted = f"(loss, accuracy) = ({expected_loss:.4f}, {expected_accuracy:.4f})"
    if isinstance(result, Mapping):
        _fail(
            f"Called {call}. It returned a dict, but the check expected {wanted}: "
            "loss, accuracy = model.evaluate(test_images, test_labels) gives the pair."
        )
    if not _is_pair(result) or not all(_is_number(value) for value in result):
        _fail(f"Called {call}. It returned {_summary(result)}, but the check expected two numbers, {wanted}.")
    loss, accuracy = (float(np.asarray(value)) for value in result)

    def close(a, b):
        return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-4)

    if close(loss, expected_accuracy) and close(accuracy, expected_loss):
        _fail(f"Called {call}. It returned ({loss:.4f}, {accuracy:.4f}): the order is swapped; the check expected {wanted}.")
    if not (close(loss, expected_loss) and close(accuracy, expected_accuracy)):
        _fail(
            f"Called {call}. It returned ({loss:.4f}, {accuracy:.4f}), but the check expected "
            f"{wanted}, what model.evaluate(test_images, test_labels) gives."
        )


def _expect_predicted_labels(call, result, expected):
    if result is None:
        _fail(f"Called {call}. It returned None, but the check expected an array of labels: did you forget `return`?")
    got = np.asarray(result)
    if got.shape != expected.shape:
        hint = ""
        if got.shape == (len(expected), NUM_CLASSES):
            hint = " it looks like the probabilities: take the most probable digit with .argmax(axis=1)."
        elif got.shape == (NUM_CLASSES,):
            hint = " take the argmax across each image's 10 probabilities: axis=1, not axis=0."
        elif got.shape == ():
            hint = (
                " argmax without an axis reads all the images' probabilities as one flat list and "
                "gives a single number; take it along each image's 10 probabilities: "
                "probabilities.argmax(axis=1)."
            )
        _fail(f"Called {call}. It returned shape {got.shape}, but the check expected {expected.shape}, one label per image.{hint}")
    if got.dtype.kind not in "iu":
        _fail(
            f"Called {call}. It returned dtype {got.dtype}, but the check expected whole-number labels "
            "(an integer dtype), as argmax gives."
        )
    wrong = np.flatnonzero(got != expected)
    if wrong.size:
        first = wrong[0]
        _fail(
            f"Called {call}. {wrong.size} of {len(expected)} labels differ from the model's most "
            f"probable digit (image {first}: got {got[first]}, expected {expected[first]}): "
            "take model.predict(images).argmax(axis=1)."
        )


def _expect_pairs(call, result, expected, n):
    if result is None:
        _fail(f"Called {call}. It returned None, but the check expected a list of pairs: did you forget `return`?")
    if not isinstance(result, (list, tuple)):
        hint = " wrap it in list(...)." if hasattr(result, "__next__") else ""
        _fail(f"Called {call}. It returned {_summary(result)}, but the check expected a list of (predicted, actual) pairs.{hint}")
    if len(result) != len(expected):
        _fail(
            f"Called {call}. It returned {len(result)} pairs, but the check expected {len(expected)}: "
            f"the first n = {n}."
        )
    if not all(_is_pair(pair) and all(_is_whole(value) for value in pair) for pair in result):
        _fail(f"Called {call}. It returned {_short_repr(result)}, but the check expected pairs of two labels, like {expected[:2]}.")
    got = [(int(p), int(a)) for p, a in result]
    wrong = [index for index, (pair, wanted) in enumerate(zip(got, expected)) if pair != wanted]
    if wrong:
        first = wrong[0]
        predicted, actual = expected[first]
        swapped = [(a, p) for p, a in expected]
        hint = " Each pair is (predicted, actual): predicted first." if got == swapped else ""
        count = ("It is the only pair that differs." if len(wrong) == 1
                 else f"{len(wrong)} of its {len(got)} pairs differ; this is the first.")
        _fail(f"Called {call}. Its pair {first} is {got[first]}, but the check expected {expected[first]}: "
              f"predicted[{first}] is {predicted} and actual[{first}] is {actual}. {count}{hint}")


def _expect_confusion(call, result, expected):
    if result is None:
        _fail(f"Called {call}. It returned None, but the check expected a matrix: did you forget `return`?")
    got = np.asarray(result)
    if got.shape != expected.shape:
        _fail(
            f"Called {call}. It returned shape {got.shape}, but the check expected {expected.shape}: "
            "one row and one column per class (num_classes)."
        )
    if got.dtype.kind not in "iu":
        _fail(
            f"Called {call}. It returned dtype {got.dtype}, but the check expected whole-number counts "
            "(an integer dtype): np.zeros((num_classes, num_classes), dtype=int)."
        )
    if not np.array_equal(got, expected):
        if np.array_equal(got, expected.T):
            hint = " rows and columns are swapped: row = actual digit, column = predicted digit."
        elif got.sum() < expected.sum() and np.array_equal(got, (expected > 0).astype(got.dtype)):
            hint = (
                f" its counts add up to {got.sum()}, but there are {expected.sum()} labels: a pair "
                "that occurs several times was counted once. matrix[actual, predicted] += 1 does "
                "that: with arrays as indices, NumPy reads the cells, adds 1 and writes each cell "
                "back once, so repeats don't add up. Use np.add.at(matrix, (actual, predicted), 1) "
                "or a for loop over zip(actual, predicted)."
            )
        elif got.sum() != expected.sum():
            hint = f" its counts add up to {got.sum()}, but there are {expected.sum()} labels: one count per image."
        else:
            row, column = np.argwhere(got != expected)[0]
            hint = (
                f" matrix[{row}, {column}] is {got[row, column]}, but {expected[row, column]} images "
                f"of a {row} were predicted as {column}."
            )
        _fail(f"Called {call}. The matrix differs from the one expected:{hint}")


# ---------------------------------------------------------------- reference data and models


@functools.lru_cache(maxsize=1)
def _sample_arrays():
    """The sample: 6,000 training and 1,000 test images, a stratified tenth of the package's MNIST."""
    (train_images, train_labels), (test_images, test_labels) = reference_data.load_mnist("sample")
    return train_images, train_labels, test_images, test_labels


def _sample():
    """Fresh copies of the sample's arrays, so no learner's function can change the next check's data."""
    train_images, train_labels, test_images, test_labels = (array.copy() for array in _sample_arrays())
    return (train_images, train_labels), (test_images, test_labels)


@functools.lru_cache(maxsize=1)
def _prepared_arrays():
    train_images, train_labels, test_images, test_labels = _sample_arrays()
    return (
        reference_preprocess.preprocess_images(train_images),
        reference_preprocess.one_hot_labels(train_labels),
        reference_preprocess.preprocess_images(test_images),
        reference_preprocess.one_hot_labels(test_labels),
    )


def _prepared_sample():
    """The sample as the network eats it: (N, 784) float32 images and (N, 10) one-hot labels."""
    train_images, train_labels, test_images, test_labels = (array.copy() for array in _prepared_arrays())
    return (train_images, train_labels), (test_images, test_labels)


def _fresh_model(compiled=False):
    """The reference network, new each time; compiled with the reference settings when asked."""
    from mnist_lessons.model import build_model
    from mnist_lessons.training import compile_model

    with _quiet():
        model = build_model()
        return compile_model(model) if compiled else model


# The reference train_model's held-out accuracy after each run the train_model check asks for, on the sample,
# as measured with these versions (tests/test_checks.py measures it again): so the grader, which replays the
# check for every student, trains no reference. Any other backend or version measures it, once per process.
REFERENCE_ACCURACY = {
    ("jax", "3.15.1", "0.10.2"): {(CHECK_EPOCHS, CHECK_BATCH_SIZE): 0.889, (1, 256): 0.872},
    ("tensorflow", "3.15.1", "2.21.0"): {(CHECK_EPOCHS, CHECK_BATCH_SIZE): 0.918, (1, 256): 0.835},
}


# The reference build_cnn's held-out accuracy after the check's run (CNN_CHECK_EPOCHS on the sample, seed 0), as
# REFERENCE_ACCURACY is for train_model: measured here with these versions, again by tests/test_checks.py.
REFERENCE_CNN_ACCURACY = {
    ("jax", "3.15.1", "0.10.2"): 0.827,
}


def _reference_cnn_accuracy():
    """Held-out accuracy of the course's build_cnn after the run the build_cnn check gives the learner's."""
    known = REFERENCE_CNN_ACCURACY.get(_versions())
    return known if known is not None else _measured_cnn_accuracy()


@functools.lru_cache(maxsize=1)
def _measured_cnn_accuracy():
    """Held-out accuracy of the course's build_cnn after CNN_CHECK_EPOCHS on the sample, trained here."""
    from mnist_lessons.cnn import build_cnn

    _seed()  # as check_build_cnn seeds before it calls the learner's build_cnn
    with _quiet():
        model = build_cnn()
    return _briefly_trained_accuracy(model)


def _briefly_trained_accuracy(model):
    """Compile a built network as the course does, train it CNN_CHECK_EPOCHS on the sample, seed-fixed: its accuracy."""
    from mnist_lessons.training import compile_model, train_model

    (train_images, train_labels), (test_images, test_labels) = _prepared_sample()
    _seed()
    with _quiet():
        compile_model(model)
        train_model(model, train_images, train_labels, epochs=CNN_CHECK_EPOCHS, batch_size=CHECK_BATCH_SIZE, verbose=0)
    return _accuracy(model, test_images, test_labels)


def _reference_accuracy(epochs, batch_size):
    """Held-out accuracy of the reference train_model after the run a check asks of the learner."""
    known = REFERENCE_ACCURACY.get(_versions(), {})
    return known[epochs, batch_size] if (epochs, batch_size) in known else _measured_accuracy(epochs, batch_size)


def _versions():
    """(backend, Keras' version, the backend's version), the key of REFERENCE_ACCURACY."""
    import importlib.metadata

    keras = _keras()
    backend = keras.backend.backend()
    try:
        return backend, keras.__version__, importlib.metadata.version(backend)
    except importlib.metadata.PackageNotFoundError:
        return backend, keras.__version__, None


@functools.lru_cache(maxsize=None)
def _measured_accuracy(epochs, batch_size):
    """Held-out accuracy of the reference train_model after ``epochs`` on the sample, trained here."""
    from mnist_lessons.training import train_model

    (train_images, train_labels), (test_images, test_labels) = _prepared_sample()
    _seed()
    model = _fresh_model(compiled=True)
    with _quiet():
        train_model(model, train_images, train_labels, epochs=epochs, batch_size=batch_size, verbose=0)
    return _accuracy(model, test_images, test_labels)


def _save_trained_weights(path):
    """Write _trained_weights() to ``path`` (.npz), for graders to load instead of training (``_load_trained_weights``)."""
    np.savez(path, **{f"w{index}": weight for index, weight in enumerate(_trained_weights())})


def _load_trained_weights(path):
    """From now on in this process, the weights ``_save_trained_weights`` wrote to ``path`` are _trained_weights()."""
    global _trained_weights
    with np.load(path, allow_pickle=False) as saved:
        weights = tuple(saved[f"w{index}"] for index in range(len(saved.files)))
    _trained_weights = lambda: weights  # noqa: E731 -- the name _trained_model calls


@functools.lru_cache(maxsize=1)
def _trained_weights():
    """Weights of the reference network after one seed-fixed epoch on the sample."""
    from mnist_lessons.training import train_model

    (train_images, train_labels), _ = _prepared_sample()
    _seed()
    model = _fresh_model(compiled=True)
    with _quiet():
        train_model(model, train_images, train_labels, epochs=1, batch_size=CHECK_BATCH_SIZE, verbose=0)
    return tuple(model.get_weights())


def _trained_model():
    """A new compiled network holding the briefly trained weights: each check gets its own copy."""
    model = _fresh_model(compiled=True)
    model.set_weights(list(_trained_weights()))
    return model


def _accuracy(model, images, one_hot):
    with _quiet():
        probabilities = np.asarray(model.predict(images, batch_size=1024, verbose=0))
    return float(np.mean(probabilities.argmax(axis=1) == one_hot.argmax(axis=1)))


def _write_tiny_npz(path):
    """Write a 4 + 2 image mnist.npz with known arrays; return them as load_mnist would."""
    rng = np.random.default_rng(SEED)
    arrays = {
        "x_train": rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8),
        "y_train": np.array([3, 1, 4, 1], dtype=np.uint8),
        "x_test": rng.integers(0, 256, size=(2, 28, 28), dtype=np.uint8),
        "y_test": np.array([5, 9], dtype=np.uint8),
    }
    np.savez(path, **arrays)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _keras():
    from mnist_lessons.backend import import_keras

    with _quiet():
        return import_keras()


def _seed():
    from mnist_lessons.training import set_seed

    set_seed(SEED)


# ---------------------------------------------------------------- calling, silencing, failing


def _call(call, fn, *args, **kwargs):
    """Call the learner's function quietly; any error but NotImplementedError becomes an AssertionError."""
    __tracebackhide__ = True  # pytest leaves this frame out of its report
    if not callable(fn):
        _fail(f"The check expected a function to call as {call.split('(')[0]}, but got {_summary(fn)}.")
    try:
        with _quiet():
            return fn(*args, **kwargs)
    except NotImplementedError:
        raise  # an exercise not done yet: its own message says so
    except Exception as err:
        raise CheckFailed(f"Called {call}. It raised {_error_text(err)}") from err


ERROR_CHARACTERS = 200  # of an error's first line in a verdict: Keras' can run to a page of shapes
ANSI_CODES = re.compile(r"\x1b\[[0-9;]*m")  # Keras makes the message of an error inside a layer bold
KERAS_LAYER_ERROR = "Exception encountered when calling "  # ... Layer.call(). Then, after a blank line, the error


def _error_text(err):
    """An error as a verdict names it: its type and the first line of its message ("ValueError: ..."), no full stop."""
    lines = [line.strip() for line in ANSI_CODES.sub("", str(err)).splitlines() if line.strip()]
    reason = lines[0] if lines else ""
    if reason.startswith(KERAS_LAYER_ERROR) and len(lines) > 1:
        reason = f"{lines[1]} (in {reason.removeprefix(KERAS_LAYER_ERROR).rstrip('.')})"
    if len(reason) > ERROR_CHARACTERS:
        reason = reason[: ERROR_CHARACTERS - 4] + " ..."
    reason = reason.removesuffix(".") if not reason.endswith("...") else reason
    return f"{type(err).__name__}: {reason}" if reason else type(err).__name__


@contextlib.contextmanager
def _quiet():
    """Silence warnings, prints, Keras' progress bars and TensorFlow's log lines for a moment.

    nbgrader scores a test cell that writes to stderr as zero, so nothing a
    check calls may reach it, not even at the file-descriptor level where
    TensorFlow's C++ logging writes.
    """
    loggers = [logging.getLogger(name) for name in ("tensorflow", "absl", "jax")]
    levels = [logger.level for logger in loggers]
    with contextlib.ExitStack() as stack:
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
        stack.enter_context(_silenced_fd(2))
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


@contextlib.contextmanager
def _silenced_fd(fd):
    """Point a file descriptor at a throw-away file, then restore it."""
    try:
        (sys.__stderr__ or sys.stderr).flush()
        saved = os.dup(fd)
    except (OSError, ValueError, AttributeError):  # no usable descriptor: nothing to silence
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


class CheckFailed(AssertionError):
    """A check's verdict on a wrong answer. In a notebook it shows as the verdict alone, not as a traceback
    through this module (IPython asks an exception for ``_render_traceback_``); nbgrader still sees an error."""

    def _render_traceback_(self):
        return verdict_lines(str(self))


VERDICT_WIDTH = 100  # characters a line of a failed check's message holds, so no line hides behind a scroll bar


def verdict_lines(message):
    """A failed check as a notebook shows it: a red heading, then the message wrapped to a readable width."""
    lines = [line for paragraph in message.splitlines() for line in textwrap.wrap(paragraph, VERDICT_WIDTH)]
    return ["\x1b[1;31m✗ The check did not pass\x1b[0m", *lines]


def _fail(message):
    __tracebackhide__ = True
    raise CheckFailed(message)


def _passed(name, hidden):
    print((HIDDEN_PASSED if hidden else PASSED).format(name=name))


# ---------------------------------------------------------------- describing values in messages


def _summary(value):
    """A few words about a value a learner's function returned."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, Mapping):
        return f"a dict with the keys {', '.join(map(str, value))}"
    if isinstance(value, (bool, int, float, str, np.generic)):
        return f"{type(value).__name__} {value!r}"
    described = getattr(value, "grader_description", None)  # what the grader could not read (engine.Unreadable)
    return described if isinstance(described, str) else f"a {type(value).__name__}"


def _shape_text(name, array):
    return f"{name} of shape {tuple(np.shape(array))}"


def _label_arg(name, labels):
    labels = np.asarray(labels)
    return f"{name}={labels.tolist()}" if len(labels) <= 20 else f"{name} = {len(labels)} labels"


def _list_text(values):
    return "[" + ", ".join(f"{v:g}" if isinstance(v, (float, np.floating)) else str(v) for v in np.asarray(values).tolist()) + "]"


def _short_repr(value, limit=120):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...)"


def _layer_text(layer):
    kind, units, activation = layer
    return f"Dense({units}, {activation})" if kind == "Dense" else kind


def _layer_structure(model, keras):
    """[(kind, units, activation)] of a model's layers, with separate activation layers folded in."""
    activation_layers = {"Activation": None, "ReLU": "relu", "Softmax": "softmax"}
    structure = []
    for layer in model.layers:
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.InputLayer) or kind == "Flatten":
            continue  # no weights, no computation on an input that is already flat
        if isinstance(layer, keras.layers.Dense):
            structure.append(["Dense", layer.units, _activation_name(layer.activation)])
        elif kind in activation_layers and structure and structure[-1][0] == "Dense" and structure[-1][2] == "linear":
            structure[-1][2] = activation_layers[kind] or _activation_name(layer.activation)
        else:
            structure.append([kind, None, None])
    return [tuple(layer) for layer in structure]


def _activation_name(activation):
    name = getattr(activation, "__name__", None) or type(activation).__name__
    return {"re_lu": "relu"}.get(name.lower(), name.lower())


def _loss_name(loss):
    """'categoricalcrossentropy' for every way of naming that loss (string, function or object)."""
    if isinstance(loss, str):
        name = loss
    elif hasattr(loss, "fn"):  # keras.losses.CategoricalCrossentropy() wraps a function
        name = getattr(loss.fn, "__name__", type(loss).__name__)
    else:
        name = getattr(loss, "__name__", type(loss).__name__)
    return name.replace("_", "").lower()


def _loss_text(loss):
    if isinstance(loss, str):
        return repr(loss)
    if loss is None:
        return "not set"
    return getattr(loss, "__name__", type(loss).__name__)


def _is_pair(value):
    return isinstance(value, (list, tuple)) and len(value) == 2


def _is_number(value):
    value = np.asarray(value) if isinstance(value, np.ndarray) else value
    if isinstance(value, np.ndarray):
        return value.shape == () and value.dtype.kind in "iuf"
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_whole(value):
    return _is_number(value) and float(value) == int(value)


def _as_tuple(value):
    try:
        return tuple(int(n) for n in value)
    except (TypeError, ValueError):
        return None


def _as_counts(value):
    """class_counts as {digit: count}, from a dict, a list or an array of ten counts."""
    try:
        if isinstance(value, Mapping):
            counts = {int(digit): int(count) for digit, count in value.items()}
        else:
            counts = {digit: int(count) for digit, count in enumerate(np.asarray(value).tolist())}
    except (TypeError, ValueError):
        return None
    if any(count and digit not in range(NUM_CLASSES) for digit, count in counts.items()):
        return counts  # a "digit" outside 0-9: not MNIST's counts
    # A digit that never occurs may be left out (np.unique leaves it out): it counts 0.
    return {digit: counts.get(digit, 0) for digit in range(NUM_CLASSES)}


def _copy(values):
    return values.copy() if isinstance(values, np.ndarray) else list(values)
