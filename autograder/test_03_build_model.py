"""Lesson 03, build the network: build_model."""

LESSON = "03_build_model"


def test_build_model(verdict):
    """Does build_model pass the lesson's checks, the hidden ones included?"""
    verdict("build_model")
