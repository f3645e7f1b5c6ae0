"""The drawing canvas's kernel side (mnist_lessons/canvas.py); tests/browser/test_canvas_in_lab.py draws on it in a real browser."""

import base64
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_lessons.canvas import CANVAS_SIDE, DigitCanvas, decode_png, digit_reader
from mnist_lessons.drawing import DrawingError, prepare_digit


def canvas_png(lines=(), side=CANVAS_SIDE):
    """What the page sends after a stroke: the whole canvas, black strokes on white, as a PNG data URL."""
    picture = Image.new("RGBA", (side, side), "white")
    draw = ImageDraw.Draw(picture)
    for line in lines:
        draw.line(line, fill="black", width=22, joint="curve")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


SEVEN = [[(70, 50), (210, 50)], [(210, 50), (120, 240)]]


def test_each_stroke_is_read_and_shown():
    """Does each stroke the page sends reach read() as a picture, with its probabilities and the digit read shown?"""
    seen = []

    def read(picture):
        seen.append(picture)
        probabilities = np.full(10, 0.02)
        probabilities[len(seen) % 10] = 0.82
        return probabilities

    canvas = DigitCanvas(read)
    canvas.image = canvas_png(SEVEN[:1])
    assert seen[-1].shape == (CANVAS_SIDE, CANVAS_SIDE, 4) and seen[-1].dtype == np.uint8
    assert canvas.status == "Read as a 1 (82%)" and canvas.probabilities[1] == pytest.approx(0.82)
    canvas.image = canvas_png(SEVEN)
    assert canvas.status == "Read as a 2 (82%)" and len(seen) == 2
    assert (seen[1][..., :3] < 128).sum() > (seen[0][..., :3] < 128).sum()  # the second stroke is in the picture
    canvas.image = ""  # "Clear"
    assert canvas.probabilities == [] and canvas.picture is None and canvas.status == "Draw a digit in the box"
    assert canvas.answered == 3  # each drawing answered, so the page knows its bars are up to date


def test_digit_reader_prepares_as_mnist_and_keeps_the_digit():
    """Does digit_reader hand the model the prepared 28 x 28 digit, flattened as the model's input asks, and keep it?"""

    class Model:
        inputs = [np.zeros((1, 784))]

        def predict(self, batch, verbose=0):
            self.batch = batch
            return np.eye(10)[[7]]

    model = Model()
    canvas = DigitCanvas(digit_reader(model))
    canvas.image = canvas_png(SEVEN)
    expected = prepare_digit(decode_png(canvas_png(SEVEN)))
    np.testing.assert_allclose(model.batch, expected.reshape(1, 784))
    np.testing.assert_allclose(canvas.digit, expected)
    assert canvas.status == "Read as a 7 (100%)"


def test_a_failing_reader_is_reported_not_raised():
    """Does a read() that fails (a learner's unfinished function) show why on the canvas, and keep the drawing?"""

    def read(picture):
        raise NotImplementedError("write prepare_digit first")

    canvas = DigitCanvas(read)
    canvas.image = canvas_png(SEVEN)
    assert canvas.status == "Could not read it: NotImplementedError: write prepare_digit first"
    assert canvas.probabilities == [] and isinstance(canvas.error, NotImplementedError)
    np.testing.assert_array_equal(canvas.picture, decode_png(canvas_png(SEVEN)))  # the drawing, kept as sent
    canvas.read = digit_reader(None)  # the course's reader, on a canvas with no ink: said, before any model is asked
    canvas.image = canvas_png([])
    assert canvas.status == "Could not read it: DrawingError: the picture has no ink in it: draw a digit first"


@pytest.mark.parametrize("sent", ["", "data:image/jpeg;base64,AAAA", "data:image/png;base64,not base64!",
                                  "data:image/png;base64," + base64.b64encode(b"not a png").decode()])
def test_decode_png_refuses_what_is_no_png(sent):
    """Is anything but a PNG data URL refused with a DrawingError, never a crash of the kernel's handler?"""
    with pytest.raises(DrawingError):
        decode_png(sent)


@pytest.mark.parametrize("answer, said", [([], "gave 0 numbers"), (np.full(10, np.nan), "not all finite"),
                                          (np.ones(12) / 12, "gave 12 numbers")])
def test_a_reader_giving_no_ten_probabilities_is_reported(answer, said):
    """Is a read() that gives no 10 finite probabilities (a model gone wrong) said on the canvas, the bars emptied?"""
    canvas = DigitCanvas(lambda picture: answer)
    canvas.image = canvas_png(SEVEN)
    assert canvas.status.startswith("Could not read it: DrawingError: read() gave ") and said in canvas.status, canvas.status
    assert canvas.probabilities == [] and canvas.answered == 1


def test_the_same_drawing_sent_again_is_answered_again():
    """Is a stroke that changes no pixel (its PNG the same as before) still answered, since the page numbers each one?"""
    canvas = DigitCanvas(lambda picture: np.eye(10)[7])
    png = canvas_png(SEVEN)
    canvas.image, canvas.image = png + "#1", png + "#2"
    assert canvas.answered == 2 and canvas.status == "Read as a 7 (100%)"
