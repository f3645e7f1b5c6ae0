"""ClearHints, a step of nbgrader's generate_assignment: the release without the lessons' "Stuck?" hint cells (every lesson).

Each exercise of ``solutions/`` is followed by a small markdown cell tagged
``hint`` that tells the learner how to ask for hints (``checks.hint``).
nbgrader runs a preprocessor only while its ``enabled`` trait is true, so an
instructor who wants a release without them, for a graded class, writes in
``nbgrader_config.py``::

    c.ClearHints.enabled = True

and regenerates the release. Off by default: the course as shipped offers hints.
"""

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Unicode

HINT_TAG = "hint"  # the cell tag that marks a lesson's "Stuck?" cell


class ClearHints(NbGraderPreprocessor):
    """Leave out every cell tagged ``hint``."""

    enabled = Bool(False, help="Leave the hint cells out of the release (for a graded class)").tag(config=True)
    tag = Unicode(HINT_TAG, help="The cell tag that marks a hint cell").tag(config=True)

    def preprocess(self, nb, resources):
        nb.cells = [cell for cell in nb.cells if self.tag not in cell.get("metadata", {}).get("tags", [])]
        return nb, resources

