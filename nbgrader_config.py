"""nbgrader's settings for this repository, so that plain nbgrader commands work from its root.

How the lessons map onto nbgrader's course directory:

- the course directory's root is this file's folder (the repository root);
- ``solutions/`` is nbgrader's *source* directory and ``course/`` its *release*
  directory (the student version);
- the lessons are the notebooks of ONE assignment, ``mnist``, so an
  instructor collects and grades a learner's lessons together:

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

from mnist_lessons.environment import use_own_scripts

c = get_config()  # noqa: F821 -- nbgrader provides get_config when it loads this file

ROOT = os.path.dirname(os.path.abspath(__file__))

# nbgrader starts alembic by name when it makes a gradebook: take the one installed beside this
# Python, so that `.venv/bin/nbgrader ...` works without an activated virtualenv.
use_own_scripts()

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

# Hints on request: under each exercise of solutions/, a short "Stuck?" cell (tagged `hint`) tells the learner
# to call checks.hint("name") for the idea, then the function to use, and checks.solution("name").
# For a graded class, turn them off: set this to True and regenerate course/ (the command above); the
# release then has no hint cells. (The package itself still holds the hints, as it holds its own answers.)
c.ClearHints.enabled = False

from nbgrader.converters import GenerateAssignment  # noqa: E402
from mnist_lessons.grading.clearhints import ClearHints  # noqa: E402

# ClearHints runs first, so that nbgrader's own steps (checksums, the gradebook) never see a hint cell.
c.GenerateAssignment.preprocessors = [ClearHints, *GenerateAssignment.class_traits()["preprocessors"].default()]

# Seconds each cell may run when nbgrader executes a notebook itself (validate;
# autograde runs the notebook in the course's grading engine, with its own
# limits). Under NBGRADER_EXECUTION, which nbgrader sets, the lessons train on
# short, seed-fixed runs: the slowest cell takes about 10 s on 2 cores. 120 s
# leaves room for a slow machine and stops a runaway cell within minutes.
c.Execute.timeout = 120

# The course's grading engine inside nbgrader's own pipelines (mnist_lessons/grading/preprocessors.py says
# why): RepairCells takes the place of DeduplicateIds and OverwriteCells, so a notebook is repaired by the
# same rule as in `pytest autograder/`; GradeInSandbox takes the place of Execute, so no learner code runs
# in nbgrader's kernel, and each check cell's output is written from the engine's verdict. SaveNotes keeps
# the grader's notes in the gradebook (as comments, shown in the feedback) and flags the notebook for
# review. The other steps are nbgrader's own, in its own order. Feedback shows no hidden tests.
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, ClearOutput, GetGrades, IgnorePattern, LimitOutput,
    OverwriteKernelspec, SaveAutoGrades,
)
from mnist_lessons.grading.preprocessors import (  # noqa: E402
    GradeInSandbox, ReadAsData, RepairCells, SaveNotes, StripHiddenTests,
)

c.Autograde.exporter_class = ReadAsData  # a notebook nbgrader cannot read costs its lesson, not the student
c.Autograde.sanitize_preprocessors = [RepairCells, ClearOutput, OverwriteKernelspec, CheckCellMetadata]
c.Autograde.autograde_preprocessors = [
    GradeInSandbox, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades, SaveNotes,
    AssignLatePenalties, CheckCellMetadata,
]
c.GenerateFeedback.preprocessors = [GetGrades, StripHiddenTests, CSSHTMLHeaderPreprocessor]

# Due dates and late work: give each assignment a due date in the formgrader
# (or `nbgrader db assignment add mnist --duedate="2027-01-31 23:59:00 UTC"`),
# and choose a late policy here. nbgrader records each submission's timestamp;
# the default ("none") subtracts nothing for lateness; "zero" scores a late
# notebook zero. Anything in between (say one point off per hour late) is a
# small plugin of your own, a subclass of nbgrader.plugins.LateSubmissionPlugin
# whose late_submission_penalty(student_id, score, total_seconds_late) returns
# the points to take off, named in c.AssignLatePenalties.plugin_class:
#
#     c.LateSubmissionPlugin.penalty_method = "zero"

# nbgrader's exchange (release_assignment, fetch, submit, collect). Its default,
# /usr/local/share/nbgrader/exchange, is created world-writable, as root if need
# be: the course keeps its own, in exchange/ here (git-ignored), instead. On a
# multi-user JupyterHub, point it at the hub's shared folder:
#
#     c.Exchange.root = "/srv/nbgrader/exchange"
c.Exchange.root = os.path.join(ROOT, "exchange")

# Work in from an LMS (`nbgrader zip_collect mnist`; docs/instructors.md says what to set for Canvas and Moodle):
# the zip of Canvas's "Download Submissions" or Moodle's "Download all submissions", put in downloaded/mnist/archive/.
# LmsCollectorPlugin (mnist_lessons/grading/lms.py) reads both LMSs' file names, finds each student on the roster by
# LMS id or email, and records each submission's time from what the LMS gives, warning where it gives none. For the
# LMS's own times (Moodle's files carry none, Canvas's only a LATE mark), name its submissions list, and the zone of
# times that name none:
#
#     c.LmsCollectorPlugin.submission_lists = ["downloaded/mnist/worksheet.csv"]  # Moodle's grading worksheet
#     c.LmsCollectorPlugin.timezone = "Europe/London"
c.ZipCollectApp.collector_plugin = "mnist_lessons.grading.lms.LmsCollectorPlugin"
