"""Lesson 06's reference: test figures, predictions, comparisons and the confusion matrix."""

import numpy as np
import pytest

from mnist_lessons.evaluate import (
    compare_labels,
    confusion_matrix,
    evaluate_model,
    misclassified_indices,
    predict_labels,
)


class FixedModel:
    """Stands in for a Keras model: fixed probabilities and a fixed evaluate() result."""

    def __init__(self, probabilities, results=None):
        self.probabilities = np.asarray(probabilities, dtype=np.float32)
        self.results = results or {"loss": 0.25, "accuracy": 0.75}
        self.seen_labels = None

    def predict(self, images, batch_size=None, verbose=None):
        return self.probabilities[: len(images)]

    def evaluate(self, images, labels, batch_size=None, verbose=None, return_dict=False):
        self.seen_labels = labels
        return dict(self.results)


def test_predict_labels_takes_most_probable_digit():
    """Is each prediction the column of the highest probability, as int64?"""
    probabilities = np.full((3, 10), 0.01)
    probabilities[0, 7] = probabilities[1, 2] = probabilities[2, 0] = 0.91
    labels = predict_labels(FixedModel(probabilities), np.zeros((3, 784)))
    assert labels.dtype == np.int64
    assert labels.tolist() == [7, 2, 0]


def test_evaluate_model_returns_floats_and_one_hot_encodes_int_labels():
    """Does evaluate_model give (loss, accuracy) floats and accept integer labels?"""
    model = FixedModel(np.eye(10), {"loss": np.float32(0.5), "accuracy": np.float32(0.875)})
    loss, accuracy = evaluate_model(model, np.zeros((2, 784)), np.array([3, 4]))
    assert (loss, accuracy) == (0.5, 0.875)
    assert type(loss) is float and type(accuracy) is float
    assert model.seen_labels.shape == (2, 10) and model.seen_labels[1, 4] == 1


def test_evaluate_model_needs_an_accuracy_metric():
    """Is a model compiled without an accuracy metric reported clearly?"""
    with pytest.raises(ValueError, match="one accuracy metric"):
        evaluate_model(FixedModel(np.eye(10), {"loss": 1.0}), np.zeros((1, 784)), np.eye(10)[:1])


def test_compare_labels_pairs_predicted_with_actual():
    """Are the first n pairs (predicted, actual) plain ints, in order?"""
    pairs = compare_labels(np.array([7, 2, 1, 0]), np.array([7, 2, 1, 4]), n=3)
    assert pairs == [(7, 7), (2, 2), (1, 1)]
    assert all(type(p) is int and type(a) is int for p, a in pairs)
    assert compare_labels([1, 2], [1, 3]) == [(1, 1), (2, 3)]  # n larger than the arrays


def test_compare_labels_accepts_one_hot_actual():
    """Are one-hot actual labels read as their digit?"""
    assert compare_labels(np.array([3]), np.eye(10)[[5]]) == [(3, 5)]


@pytest.mark.parametrize("n", [-1, 2.5])
def test_compare_labels_rejects_bad_n(n):
    """Is a negative or fractional n refused?"""
    with pytest.raises(ValueError, match="whole number"):
        compare_labels([1], [1], n=n)


def test_confusion_matrix_by_hand():
    """Does each (actual, predicted) pair add one to row actual, column predicted?"""
    actual = np.array([0, 0, 1, 2, 2, 2])
    predicted = np.array([0, 1, 1, 2, 2, 0])
    matrix = confusion_matrix(actual, predicted, num_classes=3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert np.issubdtype(matrix.dtype, np.integer)
    assert confusion_matrix(actual, predicted).shape == (10, 10)
    assert confusion_matrix(actual, predicted).sum() == 6


def test_confusion_matrix_rejects_mismatched_or_out_of_range_labels():
    """Do unequal lengths and labels outside 0-9 fail with clear messages?"""
    with pytest.raises(ValueError, match="equally long"):
        confusion_matrix([1, 2], [1])
    with pytest.raises(ValueError, match="from 0 to 9"):
        confusion_matrix([1, 12], [1, 2])


def test_misclassified_indices():
    """Are exactly the positions where predicted differs from actual returned?"""
    assert misclassified_indices([1, 2, 3, 4], [1, 0, 3, 0]).tolist() == [1, 3]
