"""The learner's own functions downstream: once an exercise passes its check, a lesson's later cells use it (every lesson).

A check that passes remembers the function it passed; one that fails forgets
it (``remembered``, on every ``checks.check_<name>``; the hidden run is part of
the same check). A later cell asks for the function by the exercise's name::

    preprocess = checks.yours("preprocess_images", fallback=ml.preprocess_images)

and gets the learner's own, or, with one line saying why, the course's. The
learner's function is used only while the name in the notebook still refers
to the very object that passed: one redefined since is not used silently.

Nothing here touches a grade: the grader runs neither the check cells nor
the demonstrations, and its sandbox holds no ``checks`` to remember with.
"""

import functools
import sys
import weakref

from mnist_lessons.exercises import BY_NAME

# exercise -> a reference to the learner's function that passed its check last, in this kernel. Weak where
# it can be, so that the grader's stand-ins (which hold rebuilt models) are not kept alive after a replay.
_passed = {}

NOT_PASSED = "Using the course's {name}: yours has not passed its check yet."
CHANGED = "Using the course's {name}: yours changed after it passed its check; run its check cell again."


def remembered(check):
    """Wrap ``check_<name>(fn, hidden=False)`` so that it remembers ``fn`` when it passes and forgets it when it fails."""
    name = check.__name__.removeprefix("check_")

    @functools.wraps(check)
    def remembering(fn, hidden=False):
        __tracebackhide__ = True  # pytest leaves this frame out of its report
        _passed.pop(name, None)  # failing, or stopped half-way: not passed
        check(fn, hidden=hidden)
        _passed[name] = _reference(fn)

    return remembering


def yours(name, fallback):
    """The learner's function ``name`` if it passed its check and is still the one defined; else ``fallback``, said in one line."""
    if name not in BY_NAME:
        raise ValueError(f"There is no exercise named {name!r}. The exercises are: {', '.join(BY_NAME)}.")
    current = sys._getframe(1).f_globals.get(name)  # the calling notebook's own namespace
    reference = _passed.get(name)
    if reference is not None and current is not None and reference() is current:
        return current
    print((NOT_PASSED if reference is None else CHANGED).format(name=name))
    return fallback


def _reference(fn):
    try:
        return weakref.ref(fn)
    except TypeError:  # an object that takes no weak reference: hold it
        return lambda: fn
