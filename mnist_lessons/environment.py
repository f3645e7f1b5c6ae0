"""The Python environment the package runs in: its own tools for the child processes it starts (every lesson).

nbgrader starts ``alembic`` by name when it creates a gradebook, and Jupyter
looks its commands up on ``PATH``. With a virtualenv that was never activated
(``.venv/bin/mnist-lessons ...``, a cron job, CI), ``PATH`` holds no such
tool, or another environment's. So every child the package starts runs with
this interpreter's scripts folder first on ``PATH``: the tools installed
beside the running Python are the ones found.
"""

import os
import sys
import sysconfig
from pathlib import Path


def scripts_dir():
    """The folder where this interpreter's environment installs its commands (``.venv/bin``)."""
    scripts = sysconfig.get_path("scripts")
    return Path(scripts) if scripts else Path(sys.executable).parent


def path_with_scripts(path=None):
    """``path`` (default: this process's ``PATH``) with this environment's scripts folder first, once."""
    path = os.environ.get("PATH", os.defpath) if path is None else path
    first = str(scripts_dir())
    rest = [entry for entry in path.split(os.pathsep) if entry and entry != first]
    return os.pathsep.join([first, *rest])


def child_env(env=None, **extra):
    """The environment for a child process: ``env`` (default ``os.environ``) plus ``extra``, PATH led by our scripts."""
    merged = dict(os.environ if env is None else env)
    merged.update(extra)
    merged["PATH"] = path_with_scripts(merged.get("PATH", os.defpath))
    return merged


def use_own_scripts():
    """Put this environment's scripts folder first on this process's own ``PATH``, for libraries that start tools.

    nbgrader's Gradebook, opened in this process on a new database, runs
    ``alembic`` itself; so does every nbgrader command, which calls this from
    ``nbgrader_config.py``.
    """
    os.environ["PATH"] = path_with_scripts()
