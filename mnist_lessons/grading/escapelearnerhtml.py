"""EscapeLearnerHtml, a step of nbgrader's autograde: raw HTML in the markdown a learner wrote is kept as text (instructors).

Markdown may hold raw HTML, and nbgrader's feedback and formgrader templates
render a markdown cell without sanitizing it (they override nbconvert's
``markdowncell`` block, which ``HTMLExporter.sanitize_html`` would clean). So
in every markdown cell the learner wrote or edited (any whose source is not
the course's own cell of that grade id), each ``<`` becomes ``&lt;``: no tag,
comment or autolink can start, and the text still reads the same. Inside a
code span the learner then reads ``&lt;``, a small price in their own notes.
The course's own markdown is left alone. (The pages also render every
markdown cell with raw HTML shown as text: ``grading/safemarkdown.py``.)
"""

from nbgrader.preprocessors import NbGraderPreprocessor

from mnist_lessons.grading import notebooks
from mnist_lessons.grading.preprocessors import course_notebook


class EscapeLearnerHtml(NbGraderPreprocessor):
    """Turn every ``<`` of a markdown cell the learner wrote or edited into ``&lt;``."""

    def preprocess(self, nb, resources):
        course = {notebooks.grade_id(cell): notebooks.source(cell)
                  for cell in course_notebook(self, resources)["cells"] if notebooks.grade_id(cell)}
        for cell in nb.cells:
            if cell.cell_type == "markdown" and course.get(notebooks.grade_id(cell)) != cell.source:
                cell.source = escape_html(cell.source)
        return nb, resources


def escape_html(markdown):
    """``markdown`` with no raw HTML left in it: every ``<`` as its entity."""
    return markdown.replace("<", "&lt;")
