"""The figures a learner looks at: digits, class counts, training curves, confusion matrix (every lesson).

Each function returns a ``matplotlib.figure.Figure`` built without pyplot, so
nothing piles up in pyplot's global list of open figures: a notebook shows the
returned figure as a cell's result, the command line saves it with
``figure.savefig``.
"""

import io

import numpy as np
from matplotlib import figure as mpl_figure

from mnist_lessons.evaluate import misclassified_indices
from mnist_lessons.preprocess import IMAGE_SIDE, NUM_CLASSES

RIGHT_COLOUR = "tab:green"
WRONG_COLOUR = "tab:red"
CELL_INCHES = 1.1  # size of one digit in a grid: large enough to read its label
PNG_DPI = 100  # what a notebook shows: sharp enough for 28x28 digits, small enough for the .ipynb


class Figure(mpl_figure.Figure):
    """A matplotlib Figure that shows itself as a PNG when it is a notebook cell's result.

    Without pyplot, Jupyter knows no way to draw a bare Figure and prints its
    repr ("<Figure size 700x350 with 1 Axes>"); IPython calls ``_repr_png_``.
    """

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=PNG_DPI, bbox_inches="tight")
        return buffer.getvalue()


def plot_digits(images, labels=None, predicted=None, n=20, columns=10, title=None):
    """Show the first ``n`` digits in a grid, titled with their label (and prediction, if given)."""
    images = _as_square_images(images)[:n]
    count = len(images)
    if count == 0:
        raise ValueError("plot_digits got no images to show")
    columns = max(1, min(columns, count))
    rows = -(-count // columns)  # ceiling division
    figure = Figure(figsize=(columns * CELL_INCHES, rows * CELL_INCHES + (0.4 if title else 0)))
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if index >= count:
            continue
        ax.imshow(images[index], cmap="gray_r")
        if predicted is not None and labels is not None:
            right = int(predicted[index]) == int(labels[index])
            ax.set_title(
                f"{int(predicted[index])} (true {int(labels[index])})",
                fontsize=8,
                color=RIGHT_COLOUR if right else WRONG_COLOUR,
            )
        elif labels is not None:
            ax.set_title(str(int(labels[index])), fontsize=9)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_image(image, title=None):
    """Show one digit large, with a colour bar of its pixel values (raw or scaled)."""
    image = _as_square_images(np.asarray(image)[np.newaxis])[0]
    figure = Figure(figsize=(4.5, 3.8))
    ax = figure.subplots()
    shown = ax.imshow(image, cmap="gray_r")
    figure.colorbar(shown, ax=ax, label="pixel value")
    ax.set_title(title or f"{image.dtype} pixels from {image.min():g} to {image.max():g}")
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    figure.tight_layout()
    return figure


def plot_class_counts(labels, title="Images per digit"):
    """Bar chart of how many images each digit 0-9 has."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    counts = np.bincount(labels.astype(np.int64), minlength=NUM_CLASSES)
    figure = Figure(figsize=(7, 3.5))
    ax = figure.subplots()
    bars = ax.bar(range(len(counts)), counts, color="tab:blue")
    ax.bar_label(bars, fontsize=8)
    ax.set_xticks(range(len(counts)))
    ax.set_xlabel("digit")
    ax.set_ylabel("images")
    ax.set_title(title)
    ax.margins(y=0.12)  # room for the count above the tallest bar
    figure.tight_layout()
    return figure


def plot_training_curves(history):
    """Loss and accuracy per epoch, from a Keras History (or its ``.history`` dict)."""
    metrics = getattr(history, "history", history)
    if not metrics or "loss" not in metrics:
        raise ValueError("plot_training_curves needs a History with a 'loss' per epoch")
    epochs = np.arange(1, len(metrics["loss"]) + 1)
    accuracy_key = next((key for key in metrics if "acc" in key and not key.startswith("val_")), None)
    panels = [("loss", "loss")] + ([(accuracy_key, "accuracy")] if accuracy_key else [])
    figure = Figure(figsize=(5 * len(panels), 3.6))
    for ax, (key, label) in zip(figure.subplots(1, len(panels), squeeze=False).flat, panels):
        ax.plot(epochs, metrics[key], "o-", label="training")
        if f"val_{key}" in metrics:
            ax.plot(epochs, metrics[f"val_{key}"], "s--", label="validation")
            ax.legend()
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(f"{label.capitalize()} per epoch")
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def plot_confusion_matrix(matrix, title="Confusion matrix"):
    """Heat map of a (10, 10) confusion matrix, each cell labelled with its count."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"plot_confusion_matrix expects a square matrix; got shape {matrix.shape}")
    figure = Figure(figsize=(6.4, 5.6))
    ax = figure.subplots()
    # A log-like scale keeps the few mistakes visible next to the large diagonal.
    shown = ax.imshow(np.log1p(matrix), cmap="Blues")
    threshold = np.log1p(matrix).max() / 2
    for row in range(matrix.shape[0]):
        for column in range(matrix.shape[1]):
            value = matrix[row, column]
            ax.text(
                column, row, str(value), ha="center", va="center", fontsize=7,
                color="white" if np.log1p(value) > threshold else "black",
            )
    ticks = range(matrix.shape[0])
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("actual digit")
    ax.set_title(title)
    figure.colorbar(shown, ax=ax, label="log(1 + count)")
    figure.tight_layout()
    return figure


def plot_misclassified(images, actual, predicted, n=20, columns=10):
    """Show up to ``n`` digits the model got wrong, each titled "predicted (true actual)"."""
    actual = np.asarray(actual)
    predicted = np.asarray(predicted)
    wrong = misclassified_indices(actual, predicted)
    if actual.ndim == 2:
        actual = actual.argmax(axis=1)
    if len(wrong) == 0:
        figure = Figure(figsize=(4, 1.5))
        figure.text(0.5, 0.5, "No misclassified digits", ha="center", va="center")
        return figure
    shown = wrong[:n]
    return plot_digits(
        _as_square_images(images)[shown],
        labels=actual[shown],
        predicted=predicted[shown],
        n=n,
        columns=columns,
        title=f"{len(wrong):,} of {len(actual):,} digits misclassified (first {len(shown)} shown)",
    )


def plot_prediction(picture, digit, probabilities, title=None):
    """A digit of one's own: the picture as given, the 28 x 28 digit the model read, and its 10 probabilities as bars."""
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    figure = Figure(figsize=(10, 3.2))
    given, read, bars_ax = figure.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 2.2]})
    given.imshow(np.asarray(picture), cmap="gray", vmin=0, vmax=255 if np.asarray(picture).max() > 1 else 1)
    given.set_title("your picture")
    read.imshow(_as_square_images(np.asarray(digit)[np.newaxis])[0], cmap="gray_r", vmin=0, vmax=1)
    read.set_title("what the model read: 28 x 28")
    for ax in (given, read):
        ax.set_xticks([])
        ax.set_yticks([])
    guess = int(probabilities.argmax())
    colours = [RIGHT_COLOUR if digit_ == guess else "tab:gray" for digit_ in range(len(probabilities))]
    bars = bars_ax.bar(range(len(probabilities)), probabilities, color=colours)
    bars_ax.bar_label(bars, labels=[f"{p:.2f}" if p >= 0.01 else "" for p in probabilities], fontsize=8)
    bars_ax.set_xticks(range(len(probabilities)))
    bars_ax.set_ylim(0, 1.1)
    bars_ax.set_xlabel("digit")
    bars_ax.set_ylabel("probability")
    bars_ax.set_title(title or f"read as a {guess} ({probabilities[guess]:.0%})")
    figure.tight_layout()
    return figure


def plot_nearest(digit, train_images, train_labels, indices, title=None):
    """The digit beside the training digits nearest it (``drawing.nearest_training_digits``): what it looked like to the model."""
    images = _as_square_images(np.asarray(train_images)[np.asarray(indices)])
    labels = np.asarray(train_labels)[np.asarray(indices)]
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    figure = Figure(figsize=(CELL_INCHES * (len(images) + 1.3), CELL_INCHES * 1.5))
    axes = figure.subplots(1, len(images) + 1)
    axes[0].imshow(_as_square_images(np.asarray(digit)[np.newaxis])[0], cmap="gray_r", vmin=0, vmax=1)
    axes[0].set_title("yours", fontsize=9)
    for ax, image, label in zip(axes[1:], images, labels):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"a {int(label)}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle(title or "The training digits nearest yours, pixel by pixel", fontsize=10)
    figure.tight_layout()
    return figure


def _as_square_images(images):
    """(N, 28, 28) views of images given as (N, 28, 28) or flat (N, 784)."""
    images = np.asarray(images)
    if images.ndim == 2 and images.shape[1] == IMAGE_SIDE * IMAGE_SIDE:
        return images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if images.ndim == 3 and images.shape[1:] == (IMAGE_SIDE, IMAGE_SIDE):
        return images
    raise ValueError(f"expected images of shape (N, 28, 28) or (N, 784); got shape {images.shape}")
