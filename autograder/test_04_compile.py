"""Lesson 04, compile the model: one test per graded function (mnist_lessons/exercises.py lists them)."""

LESSON = "04_compile"


def test_exercise(verdict, exercise):
    """Does the function pass the lesson's checks, the hidden ones included?"""
    verdict(exercise)
