"""Notes that last: the grader's notes kept in nbgrader's gradebook as comments, the notebook flagged (preprocessors.SaveNotes).

On a gradebook built with nbgrader's API in milliseconds (tests/gradebooks.py).
"""

import nbformat
from nbgrader.api import Gradebook
from traitlets.config import Config

from gradebooks import build_gradebook
from mnist_lessons.grading.preprocessors import NOTES_HEADING, NOTES_KEY, SaveNotes, missing_note, store_notes

EDITED = "02_preprocess.ipynb: The locked cell 'check_one_hot_labels' had been edited; it was graded as released."
DELETED = "02_preprocess.ipynb: A cell you added could not be read; it was left out."


def comments(gradebook, notebook, student):
    submitted = gradebook.find_submission_notebook(notebook, "mnist", student)
    return {comment.name: comment.auto_comment for comment in submitted.comments}, submitted.flagged


def test_notes_go_to_the_exercise_they_name(tmp_path):
    """Is each note stored as the comment of the exercise it names (else the lesson's first), and the notebook flagged?"""
    with Gradebook(build_gradebook(tmp_path / "gradebook.db")) as gradebook:
        gradebook.find_comment("preprocess_images", "02_preprocess", "mnist", "bob").auto_comment = "No response."
        store_notes(gradebook, "mnist", "bob", "02_preprocess", [EDITED, DELETED, EDITED])
        stored, flagged = comments(gradebook, "02_preprocess", "bob")
        assert flagged
        assert stored["one_hot_labels"] == f"{NOTES_HEADING}\n\n- {EDITED}"
        assert stored["preprocess_images"] == f"No response.\n\n{NOTES_HEADING}\n\n- {DELETED}"
        assert comments(gradebook, "01_load_data", "bob") == ({"load_data": None, "describe_dataset": None}, False)


def test_storing_again_replaces_the_notes_only(tmp_path):
    """Does a regrade replace the notes written before, keep nbgrader's own comment, and leave a flag a grader set?"""
    with Gradebook(build_gradebook(tmp_path / "gradebook.db")) as gradebook:
        gradebook.find_comment("preprocess_images", "02_preprocess", "mnist", "bob").auto_comment = "No response."
        store_notes(gradebook, "mnist", "bob", "02_preprocess", [DELETED])
        store_notes(gradebook, "mnist", "bob", "02_preprocess", [])
        stored, flagged = comments(gradebook, "02_preprocess", "bob")
        assert stored == {"preprocess_images": "No response.", "one_hot_labels": None} and flagged


def test_notes_cannot_inject_html(tmp_path):
    """A note quoting a learner's text: is it stored as text, with no HTML or link the feedback would render?"""
    with Gradebook(build_gradebook(tmp_path / "gradebook.db")) as gradebook:
        store_notes(gradebook, "mnist", "ada", "01_load_data", ["<script>alert(1)</script> [x](javascript:y)"])
        stored, _ = comments(gradebook, "01_load_data", "ada")
        assert stored["load_data"].endswith(r"- &lt;script&gt;alert(1)&lt;/script&gt; \[x\](javascript:y)")


def test_save_notes_in_nbgrader_pipeline(tmp_path):
    """Does SaveNotes store the notebook's notes, and a note for a lesson missing from the submission?"""
    url = build_gradebook(tmp_path / "gradebook.db")
    submitted = tmp_path / "submitted" / "cyd" / "mnist"
    submitted.mkdir(parents=True)
    (submitted / "01_load_data.ipynb").write_text("{}")  # 02_preprocess.ipynb was not submitted
    config = Config()
    config.CourseDirectory.root = str(tmp_path)
    nb = nbformat.v4.new_notebook(metadata={NOTES_KEY: {"notes": ["load_data took longer than 60 s"]}})
    resources = {"nbgrader": {"notebook": "01_load_data", "assignment": "mnist", "student": "cyd", "db_url": url}}
    SaveNotes(config=config).preprocess(nb, resources)
    with Gradebook(url) as gradebook:
        stored, flagged = comments(gradebook, "01_load_data", "cyd")
        assert flagged and stored["load_data"] == f"{NOTES_HEADING}\n\n- load_data took longer than 60 s"
        stored, flagged = comments(gradebook, "02_preprocess", "cyd")
        assert flagged and stored["preprocess_images"] == f"{NOTES_HEADING}\n\n- {missing_note('02_preprocess')}"


def test_feedback_messages_wrap_and_say_what_happened():
    """Does a timeout's verdict show in the check cell as words, wrapped, with no line behind a scroll bar?"""
    from mnist_lessons.checks import VERDICT_WIDTH
    from mnist_lessons.grading.engine import FunctionGrade
    from mnist_lessons.grading.preprocessors import _verdict_outputs

    message = ("Running the cell where you write train_model took longer than 60 s (a loop that never ends?), so "
               "train_model earns nothing. " * 3).strip()
    [output] = _verdict_outputs(FunctionGrade("train_model", 0, 4, False, message))
    assert output["output_type"] == "error" and "KeyboardInterrupt" not in str(output)
    lines = output["traceback"][1:]
    assert len(lines) > 3 and all(len(line) <= VERDICT_WIDTH for line in lines)
    assert " ".join(lines) == message
