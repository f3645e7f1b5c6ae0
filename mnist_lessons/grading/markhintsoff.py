"""MarkHintsOff, a step of nbgrader's generate_assignment: a graded release says, in a file beside its notebooks, that hints are off (every lesson).

With ``c.ClearHints.enabled = True`` the release has no "Stuck?" cells
(``clearhints.py``), but ``checks.hint(...)`` and ``checks.solution(...)``
live in the package, which the learner has. So that they too are off in a
graded class, this step writes ``hints.HINTS_OFF_FILE`` into the release
folder; nbgrader's ``release_assignment`` and ``fetch`` copy it with the
notebooks, and ``mnist_lessons.hints`` finds it in the kernel's working
folder, the notebook's own. With hints on, it removes the file a graded
release left there. One switch, ClearHints', decides both.
"""

from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from mnist_lessons.grading.clearhints import ClearHints
from mnist_lessons.hints import HINTS_OFF_FILE

MARKER_TEXT = ("Hints and solutions are off for this class (nbgrader_config.py: c.ClearHints.enabled = True).\n"
               "mnist_lessons.hints looks for this file beside the lessons.\n")


class MarkHintsOff(NbGraderPreprocessor):
    """Write ``HINTS_OFF_FILE`` into the release folder when ClearHints is enabled; remove it otherwise."""

    def preprocess(self, nb, resources):
        coursedir = CourseDirectory(config=self.config)
        folder = Path(coursedir.format_path(coursedir.release_directory, ".", resources["nbgrader"]["assignment"]))
        marker = folder / HINTS_OFF_FILE
        if ClearHints(config=self.config).enabled:
            folder.mkdir(parents=True, exist_ok=True)
            marker.write_text(MARKER_TEXT)
        elif marker.is_file() or marker.is_symlink():
            marker.unlink()
        return nb, resources
