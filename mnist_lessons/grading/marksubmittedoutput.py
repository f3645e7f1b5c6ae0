"""MarkSubmittedOutput, a step of nbgrader's autograde: a note atop the autograded notebook that its outputs are the student's own (instructors).

The grader runs the learner's set-up and exercises in its sandbox, never the
lessons' demonstrations, and keeps the outputs the learner's own run left in
the notebook (``preprocessors.RepairCells``). Whoever reads the autograded
notebook, its feedback page or the formgrader's view of it should know that a
plot or a printed accuracy there is what the student's run showed, not what
the grader saw. The check cells are the exception: their outputs are the
grader's verdicts. A markdown cell says so first, where every one of those
pages shows it.
"""

from nbformat.v4 import new_markdown_cell
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

NOTE_ID = "submitted-outputs"  # the note's cell id, for tests and tools (another, where a learner's cell has it)
NOTE = ("*Outputs below are the student's own run, as submitted (their text and images only): the grader did "
        "not run these cells again. Each check cell shows the grader's verdict.*")


class MarkSubmittedOutput(NbGraderPreprocessor):
    """Put a markdown cell at the top of the notebook saying whose run its outputs come from."""

    note = Unicode(NOTE, help="What the note says").tag(config=True)

    def preprocess(self, nb, resources):
        used = {cell.get("id") for cell in nb.cells}
        cell_id, number = NOTE_ID, 0
        while cell_id in used:  # nbformat refuses two cells with one id
            number += 1
            cell_id = f"{NOTE_ID}-{number}"
        nb.cells.insert(0, new_markdown_cell(self.note, id=cell_id))
        return nb, resources
