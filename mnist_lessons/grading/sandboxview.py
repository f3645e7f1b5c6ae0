"""The course package as the grader's sandbox sees it: the modules the sandboxed child runs, and none of the answers.

The package is the course's answer key (``ml.preprocess_images`` is lesson
02's answer), so the sandbox, where learner code runs, must not hold it. A
guard inside the learner's own process could be undone by the code it
guards; a file that is not there cannot be read. So the grader makes a copy
of just the files the child needs (``FILES``), with ``sandboxinit.py`` as
its ``__init__.py``, and the sandbox (``isolation.confine``) sees that copy
at ``SANDBOX_PATH``, first on the child's module path, and an empty folder
wherever the installed package lies in the folders it is shown. Not copied:
the answers (data, preprocess, model, cnn, training, evaluate, drawing), the
checks and what they expect, the hints and their solutions, the lessons,
the grading side, any trained network.

The copy is made from the package this process imported, so the child runs
the same code as the grader, wherever the installed one is (a course folder
with a copy of the package on nbgrader's path).
"""

import os
import shutil
from pathlib import Path

SANDBOX_PATH = "/opt/mnist-lessons"  # where the sandbox sees the copy: one path for every grader and student
# What the child runs (forkserver, sandbox, channel), what they import, and MNIST itself, which lesson 01 names.
FILES = (
    "backend.py",
    "grading/__init__.py",
    "grading/channel.py",
    "grading/forkserver.py",
    "grading/isolation.py",
    "grading/processes.py",
    "grading/sandbox.py",
    "dataset/README.md",
    "dataset/mnist.npz",
)
INIT = "grading/sandboxinit.py"  # the copy's __init__.py
# How the sandboxed server starts: the copy first on the module path, then the fork server's own main.
BOOT = ("import runpy, sys; sys.path.insert(0, sys.argv[1]); "
        "runpy.run_module('mnist_lessons.grading.forkserver', run_name='__main__')")


def package_folder():
    """The folder of the package this process runs: the one the copy is made from."""
    import mnist_lessons

    return Path(mnist_lessons.__file__).resolve().parent


def make(folder):
    """Make the sandbox's copy of the package in ``folder`` (new); return ``folder``, to go first on a module path."""
    source = package_folder()
    target = Path(folder) / "mnist_lessons"
    for name in (*FILES, INIT):
        destination = target / ("__init__.py" if name == INIT else name)
        for parent in reversed(destination.relative_to(folder).parents):
            (Path(folder) / parent).mkdir(mode=0o755, exist_ok=True)
            os.chmod(Path(folder) / parent, 0o755)  # readable by the sandbox's nobody, whatever the umask
        shutil.copyfile(source / name, destination)
        os.chmod(destination, 0o444)
    return Path(folder)
