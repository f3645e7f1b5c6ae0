"""The drawing canvas in JupyterLab 4 and headless Chromium: Playwright's mouse draws digits and the model reads them."""

import math
import re

import nbformat
import pytest

from conftest import ARTIFACTS
from test_lab import open_notebook, run_all_cells

NOTEBOOK = "draw/draw.ipynb"
SETUP = """\
import mnist_lessons as ml

(train_images, train_labels), _ = ml.load_mnist()
ml.set_seed(0)
model = ml.compile_model(ml.build_model())
ml.train_model(model, ml.preprocess_images(train_images), ml.one_hot_labels(train_labels), epochs=2, verbose=0)
"""
# Strokes in the canvas's own pixels (280 x 280), as a person draws them: each a list of points.
ONE = [[(140, 40), (140, 240)]]
SEVEN = [[(70, 50), (210, 50)], [(210, 50), (115, 245)]]
ZERO = [[(140 + 60 * math.sin(2 * math.pi * k / 32), 140 - 95 * math.cos(2 * math.pi * k / 32)) for k in range(33)]]


@pytest.fixture
def canvas(page, lab_server):
    """A notebook that trains the course's network briefly and shows a DigitCanvas, run in JupyterLab: the canvas element."""
    _, _, root = lab_server
    (root / "draw").mkdir(exist_ok=True)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SETUP),
                      nbformat.v4.new_code_cell("canvas = ml.DigitCanvas(ml.digit_reader(model))\ncanvas")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, root / NOTEBOOK)
    open_notebook(page, lab_server, NOTEBOOK)
    run_all_cells(page)
    element = page.locator("canvas.mnist-digit-canvas")
    element.wait_for(timeout=60_000)
    return element


def draw(page, element, strokes):
    """Draw each stroke with the mouse: press, move through its points, release."""
    box = element.bounding_box()
    scale = box["width"] / 280
    for stroke in strokes:
        (x, y), rest = stroke[0], stroke[1:]
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        page.mouse.down()
        for x, y in rest:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=8)
        page.mouse.up()


def answered(page, count):
    """Wait until the kernel has answered ``count`` drawings (strokes and clearings) since the canvas was shown."""
    page.wait_for_function("(count) => document.querySelector('.mnist-digit').dataset.answered === String(count)",
                           arg=count, timeout=30_000)


def bar_probabilities(page):
    return [float(p) for p in page.locator(".mnist-digit-bar").evaluate_all(
        "bars => bars.map(bar => bar.dataset.probability)")]


def test_drawn_digits_are_read_after_each_stroke(page, canvas):
    """Does each stroke update the prediction, and are a 1, a 7 and a 0 drawn with the mouse read as those digits?"""
    status = page.locator(".mnist-digit-status")
    assert status.inner_text() == "Draw a digit in the box"
    sent = 0
    for digit, strokes in ((1, ONE), (7, SEVEN), (0, ZERO)):
        for stroke in strokes:
            before = bar_probabilities(page)
            draw(page, canvas, [stroke])
            sent += 1
            answered(page, sent)
            assert re.fullmatch(r"Read as a \d \(\d+%\)", status.inner_text()), status.inner_text()
            assert bar_probabilities(page) != before  # the bars show this stroke's reading
        assert page.locator(".mnist-digit-bar").count() == 10
        probabilities = bar_probabilities(page)
        assert max(probabilities) == probabilities[digit] and sum(probabilities) == pytest.approx(1, abs=0.02)
        assert status.inner_text().startswith(f"Read as a {digit} ("), (digit, status.inner_text())
        assert page.locator(".mnist-digit-best").get_attribute("data-digit") == str(digit)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator(".mnist-digit").screenshot(path=str(ARTIFACTS / f"canvas-{digit}.png"))  # what a person sees
        page.locator(".mnist-digit-clear").click()
        sent += 1
        answered(page, sent)
        assert status.inner_text() == "Draw a digit in the box" and max(bar_probabilities(page)) == 0
    assert page.locator(".jp-Dialog").count() == 0
