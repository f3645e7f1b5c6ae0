"""Lesson 02, prepare the data: one test per graded function (mnist_lessons/exercises.py lists them)."""

LESSON = "02_preprocess"


def test_exercise(verdict, exercise):
    """Does the function pass the lesson's checks, the hidden ones included?"""
    verdict(exercise)
