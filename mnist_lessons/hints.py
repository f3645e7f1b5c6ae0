"""Hints on request for every exercise, one tier at a time, and a record of those seen (every lesson).

In a lesson, ``checks.hint("preprocess_images")`` shows the first hint (the
idea), a second call the next one (the function to use);
``checks.hint(name, 3)`` or ``checks.solution(name)`` shows a solution. The
hints themselves are in each exercise's record (``mnist_lessons/exercises.py``).

Each hint shown is recorded in ``HINTS_SEEN_FILE``, in the kernel's working
folder, which JupyterLab makes the notebook's own: ``mnist-lessons progress``
reads it there. The record is written atomically and never stops a hint:
where it cannot be written, the hint is shown all the same.

A graded class's release carries ``HINTS_OFF_FILE`` beside its notebooks
(written by ``nbgrader generate_assignment`` with ``c.ClearHints.enabled =
True``: ``grading/markhintsoff.py``), and nbgrader's exchange hands it out
with them; where it is in the working folder, ``hint`` and ``solution`` say
that hints are off for this class, and show nothing. That is a course's
choice made visible, not a lock: the package holds the hints, as it holds
its own answers, for anyone who reads it.
"""

import json
import os
import tempfile
from pathlib import Path

from mnist_lessons.grading.notebooks import read_bounded
from mnist_lessons.exercises import BY_NAME

HINTS_SEEN_FILE = ".mnist-lessons-hints.json"  # beside the learner's notebooks; a dot file, so the lab hides it
HINTS_OFF_FILE = ".mnist-lessons-no-hints"  # beside a graded release's notebooks: hints and solutions are off
HINTS_OFF = ("Hints and solutions are off for this class: your instructor's release has none. "
             "The lesson's text and the check's message are there to help; ask your instructor if you are stuck.")
TIERS = ("idea", "api", "solution")  # tier 1, 2, 3
LAST_HINT = 2  # hint() steps through tiers 1 and 2; the solution only when asked for by name or number
MAX_RECORD_BYTES = 64 * 1024  # far above the exercises' worth; a larger file is not ours

_shown = {}  # name -> the highest tier shown in this kernel


def hint(name, tier=None):
    """Show the next hint for the exercise ``name`` (or tier 1, 2 or 3, where 3 is a solution)."""
    if hints_off():
        _show(HINTS_OFF)
        return
    exercise = BY_NAME.get(name)
    if exercise is None:
        _show(f"There is no exercise named {name!r}. The exercises are: {', '.join(BY_NAME)}.")
        return
    if tier is None:
        tier = min(max(_shown.get(name, 0), read_hints_seen().get(name, 0)) + 1, LAST_HINT)
    if tier not in (1, 2, 3):
        _show(f'Hints go from 1 to 3 (3 is a solution): try checks.hint("{name}", 1).')
        return
    _shown[name] = max(_shown.get(name, 0), tier)
    _record(name, tier)
    _show(hint_text(name, tier))


def solution(name):
    """Show a solution to the exercise ``name``: the last tier of its hints."""
    hint(name, 3)


def hints_off(folder="."):
    """Whether ``folder`` (the kernel's working folder: the notebook's) holds a graded release, with hints off."""
    return os.path.lexists(Path(folder) / HINTS_OFF_FILE)


def hint_text(name, tier):
    """The markdown a learner sees for one tier of one exercise's hints."""
    exercise = BY_NAME[name]
    if tier == 3:
        return (f"**Solution to `{name}`** (one way among others; read it, then write it in your own words):\n\n"
                f"```python\n{exercise.solution}\n```")
    text = f"**Hint {tier} of {LAST_HINT} for `{name}`:** {getattr(exercise, TIERS[tier - 1])}"
    if tier < LAST_HINT:
        return text + f'\n\n*Still stuck? `checks.hint("{name}")` again gives the next hint.*'
    return text + f'\n\n*That was the last hint. `checks.solution("{name}")` shows a solution.*'


def read_hints_seen(folder="."):
    """{exercise: highest tier seen} from ``HINTS_SEEN_FILE`` in ``folder``; {} when it is missing or not ours.

    Read as data, since the class report reads it from a submission: a regular file only, never through a
    link, never waiting on a FIFO, at most MAX_RECORD_BYTES.
    """
    try:
        record = json.loads(read_bounded(Path(folder) / HINTS_SEEN_FILE, MAX_RECORD_BYTES))
    except (OSError, ValueError):
        return {}
    seen = record.get("hints_seen") if isinstance(record, dict) else None
    if not isinstance(seen, dict):
        return {}
    return {name: tier for name, tier in seen.items()
            if name in BY_NAME and isinstance(tier, int) and not isinstance(tier, bool) and 1 <= tier <= 3}


def _record(name, tier, folder="."):
    """Add ``tier`` of ``name`` to the record, atomically (a temporary file renamed over it); never raise."""
    if os.environ.get("NBGRADER_EXECUTION"):
        return  # a grader running the notebook is not the learner asking
    seen = read_hints_seen(folder)
    if seen.get(name, 0) >= tier:
        return
    seen[name] = tier
    path = Path(folder) / HINTS_SEEN_FILE
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=HINTS_SEEN_FILE, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump({"hints_seen": seen}, file, indent=1, sort_keys=True)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass  # a read-only folder: the hint is still shown, just not remembered


def _show(markdown):
    """Rendered markdown in a notebook; the plain text elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(Markdown(markdown))
    else:
        print(markdown)
