"""nbgrader's settings for this repository, so that plain nbgrader commands work from its root.

How the lessons map onto nbgrader's course directory:

- the course directory's root is this file's folder (the repository root);
- ``solutions/`` is nbgrader's *source* directory and ``course/`` its *release*
  directory (the student version);
- the six lessons are the notebooks of ONE assignment, ``mnist``, so an
  instructor collects and grades a learner's six lessons together:

      solutions/mnist/01_load_data.ipynb  --nbgrader generate_assignment-->  course/mnist/01_load_data.ipynb
      ...                                                                   ...
      solutions/mnist/06_evaluate.ipynb                                     course/mnist/06_evaluate.ipynb

Regenerate ``course/`` after every change to ``solutions/`` (never edit it by
hand; tests/test_notebooks.py fails when the two drift apart)::

    nbgrader generate_assignment mnist --force

nbgrader also writes ``gradebook.db`` and ``.nbgrader.log`` here; both are
git-ignored. ``submitted/``, ``autograded/`` and ``feedback/`` appear once an
instructor collects and grades work.
"""

import os

c = get_config()  # noqa: F821 -- nbgrader provides get_config when it loads this file

ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "mnist-lessons"
c.CourseDirectory.root = ROOT  # not the working directory: commands work from any folder given --config
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "course"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "gradebook.db")

# What replaces each "### BEGIN SOLUTION ... ### END SOLUTION" region in course/.
# The message is what a learner reads when a check runs before the exercise is done.
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("Exercise not done yet: replace this line with your code")',
}

# Seconds each cell may run when nbgrader executes a notebook (autograde,
# validate). Under NBGRADER_EXECUTION the lessons train on short, seed-fixed
# runs that take seconds; this leaves room for a slow machine.
c.Execute.timeout = 300
