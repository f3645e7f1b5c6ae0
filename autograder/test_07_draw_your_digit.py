"""Lesson 07, draw your own digit: one test per graded function (mnist_lessons/exercises.py lists them)."""

LESSON = "07_draw_your_digit"


def test_exercise(verdict, exercise):
    """Does the function pass the lesson's checks, the hidden ones included?"""
    verdict(exercise)
