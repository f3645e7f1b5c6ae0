"""Judging the trained network on images it has never seen (lesson 06).

Only NumPy and the model's own methods are used here, so this module works
with any Keras backend and imports no framework itself.
"""

import numpy as np

from mnist_lessons.preprocess import NUM_CLASSES, one_hot_labels

PREDICT_BATCH_SIZE = 1024  # inference needs no gradients: bigger batches, fewer steps


def evaluate_model(model, test_images, test_labels):
    """Return the compiled model's ``(loss, accuracy)`` on the test set, as Python floats."""
    test_labels = np.asarray(test_labels)
    if test_labels.ndim == 1:  # integer labels: encode them the way the loss expects
        test_labels = one_hot_labels(test_labels)
    results = model.evaluate(
        test_images, test_labels, batch_size=PREDICT_BATCH_SIZE, verbose=0, return_dict=True
    )
    accuracy_keys = [key for key in results if "acc" in key]
    if "loss" not in results or len(accuracy_keys) != 1:
        raise ValueError(
            f"evaluate_model needs a model compiled with a loss and one accuracy metric; "
            f"model.evaluate reported {sorted(results)}"
        )
    return float(results["loss"]), float(results[accuracy_keys[0]])


def predict_labels(model, images):
    """Return the most probable digit for each image, as an int64 array of shape (N,)."""
    probabilities = np.asarray(model.predict(images, batch_size=PREDICT_BATCH_SIZE, verbose=0))
    return probabilities.argmax(axis=1).astype(np.int64)


def compare_labels(predicted, actual, n=10):
    """Pair the first ``n`` predicted and actual labels: a list of ``(predicted, actual)`` ints."""
    predicted, actual = _as_label_arrays(predicted, actual, "compare_labels")
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"compare_labels expects n to be a whole number of at least 0; got {n!r}")
    return [(int(p), int(a)) for p, a in zip(predicted[:n], actual[:n])]


def confusion_matrix(actual, predicted, num_classes=NUM_CLASSES):
    """Count each (actual, predicted) pair: row = actual digit, column = predicted digit."""
    actual, predicted = _as_label_arrays(actual, predicted, "confusion_matrix")
    for name, labels in (("actual", actual), ("predicted", predicted)):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(
                f"confusion_matrix expects {name} labels from 0 to {num_classes - 1}; "
                f"got values from {labels.min()} to {labels.max()}"
            )
    # Each pair (a, p) gets its own cell index a * num_classes + p; bincount tallies them.
    counts = np.bincount(actual * num_classes + predicted, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def misclassified_indices(actual, predicted):
    """Return the indices of the images whose predicted label differs from the actual one."""
    actual, predicted = _as_label_arrays(actual, predicted, "misclassified_indices")
    return np.flatnonzero(actual != predicted)


def _as_label_arrays(first, second, caller):
    """Two equally long int64 label arrays; one-hot rows become their digit."""
    arrays = []
    for labels in (first, second):
        labels = np.asarray(labels)
        if labels.ndim == 2:  # one-hot or probabilities: the column of the largest value
            labels = labels.argmax(axis=1)
        if labels.ndim != 1:
            raise ValueError(f"{caller} expects labels of shape (N,); got shape {labels.shape}")
        arrays.append(labels.astype(np.int64))
    if len(arrays[0]) != len(arrays[1]):
        raise ValueError(
            f"{caller} got {len(arrays[0])} and {len(arrays[1])} labels: the two must be equally long"
        )
    return arrays
