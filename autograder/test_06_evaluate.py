"""Lesson 06, evaluate the network: evaluate_model, predict_labels, compare_labels, confusion_matrix."""

LESSON = "06_evaluate"


def test_evaluate_model(verdict):
    """Does evaluate_model pass the lesson's checks, the hidden ones included?"""
    verdict("evaluate_model")


def test_predict_labels(verdict):
    """Does predict_labels pass the lesson's checks, the hidden ones included?"""
    verdict("predict_labels")


def test_compare_labels(verdict):
    """Does compare_labels pass the lesson's checks, the hidden ones included?"""
    verdict("compare_labels")


def test_confusion_matrix(verdict):
    """Does confusion_matrix pass the lesson's checks, the hidden ones included?"""
    verdict("confusion_matrix")
