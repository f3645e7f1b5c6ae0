"""Copying flagged for review (grading/similarity.py), on a small class of synthetic answers, in milliseconds."""

import json

from mnist_lessons.exercises import BY_NAME
from mnist_lessons.grading.similarity import flag_exercise, groups, read_codes, similarity_flags, starter_code

STARTER = starter_code("confusion_matrix", "06_evaluate")
DOCSTRING = '    """Count each (actual, predicted) pair: a (num_classes, num_classes) int array, a row per actual digit."""\n'
LOOPED = ('def confusion_matrix(actual, predicted, num_classes=10):\n' + DOCSTRING +
          '    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)\n'
          '    for truth, guess in zip(actual, predicted):\n'
          '        matrix[truth, guess] += 1\n'
          '    return matrix\n')
RENAMED = ('def confusion_matrix(actual, predicted, num_classes=10):\n' + DOCSTRING +
           '    # my own table\n'
           '    table = np.zeros((num_classes, num_classes), dtype=np.int64)\n\n'
           '    for a, p in zip(actual,\n'
           '                    predicted):\n'
           '        table[a, p] += 1\n'
           '    return table\n')
COUNTED = ('def confusion_matrix(actual, predicted, num_classes=10):\n' + DOCSTRING +
           '    index = np.asarray(actual) * num_classes + np.asarray(predicted)\n'
           '    return np.bincount(index, minlength=num_classes ** 2).reshape(num_classes, num_classes)\n')
UNIQUE_PAIRS = ('def confusion_matrix(actual, predicted, num_classes=10):\n' + DOCSTRING +
                '    pairs = np.stack([np.asarray(actual), np.asarray(predicted)], axis=1)\n'
                '    found, counts = np.unique(pairs, axis=0, return_counts=True)\n'
                '    result = np.zeros((num_classes, num_classes), dtype=int)\n'
                '    result[found[:, 0], found[:, 1]] = counts\n'
                '    return result\n')
PASTED = BY_NAME["confusion_matrix"].solution.replace("matrix =", "result =").replace("return matrix", "return result")
CLASS = {"ada": LOOPED, "bob": RENAMED, "cyd": COUNTED, "dee": PASTED, "eve": UNIQUE_PAIRS, "fay": STARTER}


def test_a_renamed_copy_and_a_pasted_answer_are_flagged_and_honest_work_is_not():
    """Is a classmate's copy with renamed names and new layout flagged, and a pasted course answer, but neither honest
    variant nor an untouched stub?"""
    flags = flag_exercise(CLASS, STARTER, BY_NAME["confusion_matrix"].solution)
    assert [pair["students"] for pair in flags["pairs"]] == [("ada", "bob")]
    assert flags["pairs"][0]["similarity"] >= 0.8 and flags["pairs"][0]["code"] == (LOOPED, RENAMED)
    assert flags["groups"] == [["ada", "bob"]]
    assert [match["student"] for match in flags["solution"]] == ["dee"]
    assert flags["compared"] == 5  # fay's stub is the release's own code: nothing of hers to compare


def test_copied_slices_point_into_the_code():
    """Do the marks of a flagged pair cover the copied lines of each answer?"""
    pair = flag_exercise(CLASS, STARTER, BY_NAME["confusion_matrix"].solution)["pairs"][0]
    for code, marks in zip(pair["code"], pair["marks"]):
        copied = "".join(code[start:end] for start, end in marks)
        assert "+= 1" in copied and all(0 <= start < end <= len(code) for start, end in marks)


def test_a_short_answer_is_not_compared():
    """Is an answer too short to tell copying from the one obvious way to write it left out?"""
    short = 'def preprocess_images(images):\n    return images.reshape(len(images), 784).astype("float32") / 255\n'
    flags = flag_exercise({"ada": short, "bob": short}, starter_code("preprocess_images", "02_preprocess"),
                          BY_NAME["preprocess_images"].solution)
    assert flags == {"pairs": [], "groups": [], "solution": [], "compared": 0}


def test_a_class_handing_in_the_same_text_is_one_group_linked_in_a_chain():
    """Do 1,000 students who handed in the very same answer make one group, linked by 999 pairs, not half a million,
    each flagged against the course's answer when it is that?"""
    solution = BY_NAME["confusion_matrix"].solution
    everyone = {f"s{index:04d}": solution for index in range(1000)}
    flags = flag_exercise({**everyone, "ada": LOOPED}, STARTER, solution)
    assert len(flags["pairs"]) == 999 and flags["groups"] == [sorted(everyone)]
    assert {match["student"] for match in flags["solution"]} == set(everyone)
    assert flags["compared"] == 1001


def test_an_answer_past_the_size_bound_is_not_compared():
    """Is an exercise's code larger than MAX_CODE_BYTES left out of the comparison, costing the driver nothing?"""
    from mnist_lessons.grading.similarity import MAX_CODE_BYTES

    huge = LOOPED + "\n" + "# padding\n" * (MAX_CODE_BYTES // 10 + 1)
    flags = flag_exercise({"ada": LOOPED, "bob": huge}, STARTER, BY_NAME["confusion_matrix"].solution)
    assert flags["compared"] == 1 and flags["pairs"] == []


def test_groups_put_the_linked_students_together_smallest_first():
    """Are students linked through flagged pairs one group, a pair apart its own, the smaller listed first?"""
    pairs = [{"students": students} for students in (("ada", "bob"), ("bob", "cyd"), ("dee", "eve"), ("ada", "cyd"))]
    assert groups(pairs) == [["dee", "eve"], ["ada", "bob", "cyd"]]


def _notebook(cells):
    return {"cells": [{"cell_type": "code", "source": source, "metadata": {"nbgrader": {"grade_id": grade_id}},
                       "outputs": [], "execution_count": None} for grade_id, source in cells],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_read_from_the_submitted_notebooks(tmp_path):
    """Are the answers read from submitted/, an exercise split over two cells joined, an unreadable notebook skipped,
    and the flags listed per exercise?"""
    for student, cells in {"ada": [("confusion_matrix", LOOPED)],
                           "bob": [("confusion_matrix", RENAMED[:RENAMED.index("    for")]),
                                   ("confusion_matrix", RENAMED[RENAMED.index("    for"):])],
                           "cyd": [("confusion_matrix", COUNTED)]}.items():
        folder = tmp_path / "submitted" / student / "mnist"
        folder.mkdir(parents=True)
        (folder / "06_evaluate.ipynb").write_text(json.dumps(_notebook(cells)))
    (tmp_path / "submitted" / "cyd" / "mnist" / "01_load_data.ipynb").write_text('{"cells": [')
    codes = read_codes(tmp_path, "mnist")
    assert sorted(codes) == ["confusion_matrix"] and sorted(codes["confusion_matrix"]) == ["ada", "bob", "cyd"]
    assert codes["confusion_matrix"]["ada"] == LOOPED
    flags = similarity_flags(tmp_path, "mnist")
    assert [(flag["exercise"], [pair["students"] for pair in flag["pairs"]]) for flag in flags] == [
        ("confusion_matrix", [("ada", "bob")])]
