"""Lesson 01, load the data: load_data, describe_dataset."""

LESSON = "01_load_data"


def test_load_data(verdict):
    """Does load_data pass the lesson's checks, the hidden ones included?"""
    verdict("load_data")


def test_describe_dataset(verdict):
    """Does describe_dataset pass the lesson's checks, the hidden ones included?"""
    verdict("describe_dataset")
