"""Lesson 04, compile the model: compile_model."""

LESSON = "04_compile"


def test_compile_model(verdict):
    """Does compile_model pass the lesson's checks, the hidden ones included?"""
    verdict("compile_model")
