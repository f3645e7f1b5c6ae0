"""Lesson 03, build the network: one test per graded function (mnist_lessons/exercises.py lists them)."""

LESSON = "03_build_model"


def test_exercise(verdict, exercise):
    """Does the function pass the lesson's checks, the hidden ones included?"""
    verdict(exercise)
