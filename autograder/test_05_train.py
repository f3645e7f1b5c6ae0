"""Lesson 05, train the network: train_model."""

LESSON = "05_train"


def test_train_model(verdict):
    """Does train_model pass the lesson's checks, the hidden ones included?"""
    verdict("train_model")
