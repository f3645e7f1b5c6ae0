"""KeepInertOutput, a step of nbgrader's autograde: a submission's outputs keep only their text and PNG or JPEG images (instructors).

The autograded notebook keeps the outputs of the learner's own run
(``preprocessors.RepairCells``), and nbgrader's feedback pages and formgrader
render them in a browser, the formgrader inside the instructor's session. An
output is whatever the learner's kernel was given to display, so anything
that can act once rendered is left out: HTML, JavaScript, SVG (which can carry
a script), Markdown, LaTeX, widget views, and any metadata but an image's
size. A display left with nothing to show is dropped. Streams and errors are
text, and stay.
"""

from nbformat import from_dict
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List, Unicode

INERT_TYPES = ("text/plain", "image/png", "image/jpeg")  # shown as text, or as an <img> of base64 data
IMAGE_SIZES = ("width", "height")  # the only output metadata nbconvert's templates read that we keep


class KeepInertOutput(NbGraderPreprocessor):
    """Keep, of each code cell's outputs, only streams, errors and the text and PNG or JPEG images of displays."""

    mime_types = List(Unicode(), list(INERT_TYPES), help="The display types an output may keep").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            cell.outputs = [kept for kept in map(self._inert, cell.get("outputs", [])) if kept is not None]
        return cell, resources

    def _inert(self, output):
        kind = output.get("output_type")
        if kind == "stream":
            return from_dict({"output_type": kind, "name": output.name, "text": output.text})
        if kind == "error":
            return from_dict({"output_type": kind, "ename": output.ename, "evalue": output.evalue,
                              "traceback": list(output.traceback)})
        if kind not in ("display_data", "execute_result"):
            return None
        data = {mime: _text(value) for mime, value in output.get("data", {}).items() if mime in self.mime_types}
        data = {mime: value for mime, value in data.items() if value is not None}
        if not data:
            return None
        metadata = {}
        for mime in data:
            given = output.get("metadata", {}).get(mime)
            sizes = {key: value for key, value in given.items()
                     if key in IMAGE_SIZES and isinstance(value, int) and not isinstance(value, bool)} \
                if isinstance(given, dict) else {}
            if sizes:
                metadata[mime] = sizes
        kept = {"output_type": kind, "data": data, "metadata": metadata}
        if kind == "execute_result":
            kept["execution_count"] = output.get("execution_count")
        return from_dict(kept)


def _text(value):
    """An output's text or base64 data as one string (nbformat may keep it as a list of lines); None otherwise."""
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    return value if isinstance(value, str) else None
