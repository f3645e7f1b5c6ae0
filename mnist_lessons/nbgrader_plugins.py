"""nbgrader preprocessors that fit nbgrader to these lessons (instructors); nbgrader_config.py turns them on.

- ``KeepStderrFromZeroing``, after nbgrader executes a notebook: nbgrader
  scores a graded cell that wrote anything to stderr as zero, and TensorFlow
  and Keras write log lines and warnings there that say nothing about the
  learner's answer. This moves a graded cell's stderr text into its stdout,
  where the feedback still shows it and it costs no points. Errors (an
  exception in the cell) still score zero.
- ``StripHiddenTests``, before feedback is made: the autograded notebooks
  carry the hidden tests that nbgrader restores for grading; the feedback
  students receive shows the cell without them, and a failed check's
  traceback (which quotes the cell's lines) shrinks to its message, which
  says what was called, what came back and what was expected.
"""

import re

from nbgrader.preprocessors import NbGraderPreprocessor

HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS\n?", re.MULTILINE | re.DOTALL)


def _is_graded(cell):
    return bool(cell.metadata.get("nbgrader", {}).get("grade"))


class KeepStderrFromZeroing(NbGraderPreprocessor):
    """Turn a graded cell's stderr output into stdout, so log lines and warnings cost no points."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and _is_graded(cell):
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
        return cell, resources


class StripHiddenTests(NbGraderPreprocessor):
    """Remove the hidden-test regions from the source of the cells students see in their feedback."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and "### BEGIN HIDDEN TESTS" in cell.source:
            cell.source = HIDDEN_TESTS.sub("", cell.source).rstrip("\n")
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    # IPython's traceback quotes the cell's lines, hidden ones included: keep its last line,
                    # the check's message, which says what was called, what came back and what was expected.
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
