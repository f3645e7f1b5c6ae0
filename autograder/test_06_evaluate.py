"""Lesson 06, evaluate the network: one test per graded function (mnist_lessons/exercises.py lists them)."""

LESSON = "06_evaluate"


def test_exercise(verdict, exercise):
    """Does the function pass the lesson's checks, the hidden ones included?"""
    verdict(exercise)
