"""A submitted notebook read as data and repaired by one rule, the same in every door of the grader.

Every door (``pytest autograder/``, plain ``nbgrader autograde`` and
``mnist-lessons autograde-class``) reads a learner's notebook with
``read_notebook`` and puts it right with ``repair``, against the released
notebook (nbgrader's source, whose cells carry the grade ids). The rule:

- a cell that is not a notebook cell (not a dict, an unknown type, a source
  that is not text) is left out;
- a locked cell of the release (set-up, demonstration, check, text) keeps
  its first copy, with the released source: an edit to it is undone, a second
  copy is left out;
- an exercise's cell keeps every copy, in order, as a code cell: a learner
  may split an exercise over two cells, or write a helper above it. The second and later
  copies lose the grade id (nbgrader allows each id once) and run as the
  learner's own cells;
- a cell the learner added runs where it stands (any nbgrader metadata of its
  own is dropped: only the release's ids count);
- a released cell that is gone is put back after the nearest released cell
  before it that is still there; a deleted exercise is put back as the
  student's copy has it, that is, not done (its solution replaced by the stub).

Each repair of a code cell leaves a note for the instructor and the learner.
"""

import copy
import json
import os
import re
import stat
from pathlib import Path

MAX_NOTEBOOK_BYTES = 32 * 1024**2  # a lesson notebook with all its plots is well under 1 MB
CELL_TYPES = ("code", "markdown", "raw")
MAX_NESTING = 64  # how deep a notebook's JSON may nest; nbformat's own schema needs about 8
# nbgrader's hidden tests in a check cell: in the source notebook, gone from the student's copy.
HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS\n?", re.MULTILINE | re.DOTALL)
# An exercise's solution region, and what nbgrader's ClearSolutions puts in its place (nbgrader_config.py).
SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[^\n]*", re.MULTILINE | re.DOTALL)
STUB = ('\\1# YOUR CODE HERE\n'
        '\\1raise NotImplementedError("Exercise not done yet: replace this line with your code")')
CELL_ID = re.compile(r"[a-zA-Z0-9-_]{1,64}")  # nbformat 4.5's cell ids


class NotebookError(ValueError):
    """A file that cannot be graded as a notebook: the message says why, in a learner's words."""


def read_notebook(path):
    """The notebook at ``path`` as a dict; FileNotFoundError, or NotebookError saying what is wrong with it.

    Only a regular file is read, and only up to MAX_NOTEBOOK_BYTES: a symlink
    (to solutions/, a classmate's work or /dev/zero) is refused, not followed.
    """
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise NotebookError(f"it cannot be read ({err.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        raise NotebookError("it is a symbolic link, not a file: only the notebook itself is graded")
    if not stat.S_ISREG(info.st_mode):
        raise NotebookError("it is not a regular file")
    if info.st_size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"it is {info.st_size:,} bytes, more than a lesson notebook can be")
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(descriptor, "rb") as file:
            raw = file.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError as err:
        raise NotebookError(f"it cannot be read ({err.strerror})") from None
    try:
        notebook = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise NotebookError(f"it is not UTF-8 text ({err.reason})") from None
    except json.JSONDecodeError as err:
        raise NotebookError(f"it is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
    except RecursionError:
        raise NotebookError("its JSON is nested too deep") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise NotebookError("it has no list of cells")
    if _nesting(notebook) > MAX_NESTING:
        raise NotebookError("its JSON is nested too deep")
    return notebook


def read_bounded(path, limit):
    """The bytes of a file learner code could have made, read as data: a regular file only, never through a
    link, at most ``limit`` (OSError otherwise).

    Such a file could be a FIFO (a read would wait forever), a link to /dev/zero, or enormous: the grader's
    child's records (engine.py), the hints record handed in with a submission (mnist_lessons.hints).
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{Path(path).name} is not a regular file")
        if info.st_size > limit:
            raise OSError(f"{Path(path).name} is {info.st_size:,} bytes, more than {limit:,}")
        return file.read(limit)


def _nesting(value):
    """How deep a JSON value nests, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_NESTING and isinstance(value, (dict, list)):
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return deepest


def unreadable_note(name, error):
    """What every door says of a notebook it could not read, and grades as the untouched release."""
    return (f"{name} could not be read as a notebook ({error}): it was graded as the untouched release, "
            "which earns no points. The file you submitted is kept as it was.")


def nbgrader_meta(cell):
    """A cell's nbgrader metadata, or {} when it has none or it is malformed."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbgrader if isinstance(nbgrader, dict) else {}


def grade_id(cell):
    """A cell's nbgrader grade id, or None (also when it is not a string)."""
    value = nbgrader_meta(cell).get("grade_id")
    return value if isinstance(value, str) else None


def source(cell):
    """A cell's source as one string."""
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def is_exercise(cell):
    """Whether a released cell is one the learner writes in (an nbgrader solution cell)."""
    return bool(nbgrader_meta(cell).get("solution"))


def _is_cell(cell):
    if not isinstance(cell, dict) or cell.get("cell_type") not in CELL_TYPES:
        return False
    text = cell.get("source", "")
    return isinstance(text, str) or (isinstance(text, list) and all(isinstance(line, str) for line in text))


def repair(notebook, release):
    """Return (cells, notes): the notebook's cells repaired by the rule above, as new dicts, and what was repaired.

    Every cell comes back in a shape nbformat accepts (a learner's cell keeps its type, source and plain
    tags, and loses its outputs and other metadata), with a unique id, so nbgrader's own steps never fail on it.
    """
    released = {grade_id(cell): (index, cell) for index, cell in enumerate(release["cells"]) if grade_id(cell)}
    cells, notes, seen = [], [], set()
    for number, cell in enumerate(notebook["cells"], start=1):
        if not _is_cell(cell):
            notes.append(f"Cell {number} is not a notebook cell the grader can read; it was left out.")
            continue
        key = grade_id(cell)
        if key not in released:
            cells.append(_learners_copy(cell))  # the learner's own cell: only the release's ids count
            continue
        release_cell = released[key][1]
        if is_exercise(release_cell):
            copy_of = _learners_copy(cell, cell_type=release_cell.get("cell_type"))  # a slip to markdown undone
            if key not in seen:  # the first part keeps the id; a second part runs in its place as the learner's own
                copy_of["metadata"]["nbgrader"] = dict(nbgrader_meta(release_cell))
            seen.add(key)
            cells.append(copy_of)
            continue
        if key in seen:
            if release_cell.get("cell_type") == "code":
                notes.append(f"The locked cell {key!r} appeared more than once; only its first copy was kept.")
            continue
        seen.add(key)
        if release_cell.get("cell_type") == "code" and _visible(source(cell)) != _visible(source(release_cell)):
            notes.append(f"The locked cell {key!r} had been edited; it was graded as released.")
        cells.append(_released_copy(release_cell))
    for key, (index, release_cell) in released.items():
        if key in seen:
            continue
        cells.insert(_put_back_position(cells, release, index), _released_copy(release_cell))
        seen.add(key)
        if release_cell.get("cell_type") == "code":
            notes.append(deleted_note(key, is_exercise(release_cell)))
    _unique_ids(cells)
    return cells, notes


def _put_back_position(cells, release, index):
    """Where a deleted released cell goes: right after the nearest released cell before it that is still there."""
    places = {grade_id(cell): place for place, cell in enumerate(cells) if grade_id(cell)}
    for earlier in reversed(release["cells"][:index]):
        if grade_id(earlier) in places:
            return places[grade_id(earlier)] + 1
    return 0


def deleted_note(key, exercise):
    """The note on a released code cell the learner deleted."""
    what = "the cell where you write it" if exercise else "a locked cell"
    return f"The cell {key!r} ({what}) had been deleted; it was put back as released."


def without_hidden_tests(text):
    """A check cell's source as the student's copy shows it: without the hidden tests."""
    return HIDDEN_TESTS.sub("", text)


def without_solution(text):
    """An exercise's source as the student's copy has it: the solution replaced by nbgrader's stub."""
    return SOLUTION.sub(STUB, text)


def _visible(text):
    return without_hidden_tests(text).strip()


def _learners_copy(cell, cell_type=None):
    """A learner's cell in a shape nbformat accepts: its type, source and tags, no outputs."""
    cell_type = cell_type or cell["cell_type"]
    tags = _dict(cell.get("metadata")).get("tags")
    # Of the learner's metadata only valid tags are kept: nbformat's schema refuses, say, a "collapsed" string.
    metadata = {"tags": tags} if isinstance(tags, list) and all(isinstance(tag, str) for tag in tags) else {}
    made = {"cell_type": cell_type, "metadata": metadata, "source": source(cell)}
    if isinstance(cell.get("id"), str):
        made["id"] = cell["id"]
    if cell_type == "code":
        made.update(outputs=[], execution_count=None)
    return made


def _released_copy(cell):
    """A released cell as a learner gets it: for an exercise, the stub in place of the solution."""
    made = copy.deepcopy(cell)
    made["source"] = source(cell)
    if is_exercise(cell):
        made["source"] = without_solution(made["source"])  # the release may be nbgrader's source, solutions/
    if made.get("cell_type") == "code":
        made["outputs"], made["execution_count"] = [], None
    return made


def _unique_ids(cells):
    """Give every cell a valid id, none twice (nbformat 4.5 refuses a notebook otherwise)."""
    used = set()
    for number, cell in enumerate(cells, start=1):
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or not CELL_ID.fullmatch(cell_id) or cell_id in used:
            cell_id = f"repaired-{number}"
            while cell_id in used:
                cell_id += "-"
        cell["id"] = cell_id
        used.add(cell_id)


def _dict(value):
    return value if isinstance(value, dict) else {}
