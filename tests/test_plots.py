"""The figures: each returns a Figure whose content matches its data."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from mnist_lessons import plots

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
LABELS = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1])


def titles(figure):
    return [ax.get_title() for ax in figure.axes if ax.get_title()]


def test_plot_digits_titles_each_digit_with_its_label():
    """Does the grid show n digits, each titled with its label?"""
    figure = plots.plot_digits(IMAGES, LABELS, n=12, columns=5)
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 15  # 3 rows of 5, the last 3 left blank
    assert titles(figure) == [str(label) for label in LABELS]
    shown = [ax.images[0].get_array() for ax in figure.axes if ax.images]
    np.testing.assert_array_equal(shown[3], IMAGES[3])


def test_plot_digits_marks_wrong_predictions_red():
    """Are wrong predictions titled 'predicted (true actual)' in red, right ones in green?"""
    figure = plots.plot_digits(IMAGES[:2], labels=[3, 4], predicted=[3, 9])
    right, wrong = (ax.title for ax in figure.axes[:2])
    assert (right.get_text(), wrong.get_text()) == ("3 (true 3)", "9 (true 4)")
    assert right.get_color() == plots.RIGHT_COLOUR and wrong.get_color() == plots.WRONG_COLOUR


def test_plot_digits_accepts_flat_images():
    """Are preprocessed (N, 784) images shown as 28x28 pictures?"""
    figure = plots.plot_digits(IMAGES.reshape(12, 784) / 255, n=2)
    assert figure.axes[0].images[0].get_array().shape == (28, 28)


def test_plot_digits_rejects_bad_shapes():
    """Is an image array of the wrong shape refused with its shape?"""
    with pytest.raises(ValueError, match=r"got shape \(3, 10\)"):
        plots.plot_digits(np.zeros((3, 10)))


def test_plot_image_has_a_colour_bar():
    """Does the single-image plot carry a colour bar for the pixel values?"""
    figure = plots.plot_image(IMAGES[0] / 255)
    assert len(figure.axes) == 2
    assert "float64 pixels from" in figure.axes[0].get_title()


def test_plot_class_counts_bar_heights():
    """Is each bar as tall as its digit's count?"""
    figure = plots.plot_class_counts(LABELS)
    heights = [bar.get_height() for bar in figure.axes[0].patches]
    assert heights == [1, 3, 1, 1, 1, 1, 1, 1, 1, 1]


def test_plot_training_curves_draws_each_metric():
    """Are loss and accuracy drawn per epoch, with validation curves when present?"""
    history = {"loss": [0.3, 0.2, 0.1], "accuracy": [0.9, 0.95, 0.97], "val_loss": [0.3, 0.25, 0.2],
               "val_accuracy": [0.9, 0.93, 0.94]}
    figure = plots.plot_training_curves(history)
    loss_ax, accuracy_ax = figure.axes
    assert [line.get_ydata().tolist() for line in loss_ax.lines] == [[0.3, 0.2, 0.1], [0.3, 0.25, 0.2]]
    assert accuracy_ax.lines[0].get_xdata().tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="'loss'"):
        plots.plot_training_curves({})


def test_plot_confusion_matrix_labels_every_cell():
    """Is each cell of the matrix written on the heat map?"""
    matrix = np.arange(100).reshape(10, 10)
    figure = plots.plot_confusion_matrix(matrix)
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert texts == [str(value) for value in range(100)]


def test_plot_misclassified_shows_only_mistakes():
    """Does the gallery show only the wrong predictions, and say how many there are?"""
    actual = LABELS
    predicted = LABELS.copy()
    predicted[[2, 7]] = [5, 1]
    figure = plots.plot_misclassified(IMAGES, actual, predicted)
    assert titles(figure) == ["5 (true 2)", "1 (true 7)"]
    assert figure._suptitle.get_text().startswith("2 of 12 digits misclassified")
    perfect = plots.plot_misclassified(IMAGES, actual, actual)
    assert perfect.texts[0].get_text() == "No misclassified digits"


def test_figures_show_as_png_in_a_notebook():
    """Does a returned figure give IPython a PNG of itself, so that a notebook cell shows the picture?"""
    from mnist_lessons.plots import plot_class_counts

    png = plot_class_counts(np.arange(10))._repr_png_()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2_000
