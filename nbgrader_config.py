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
# release then has no hint cells, and a file beside its notebooks (MarkHintsOff) makes checks.hint() and
# checks.solution() say that hints are off; the autograded notebooks and the feedback have no hint cells
# either. (Not a lock: the package itself still holds the hints, as it holds its own answers.)
c.ClearHints.enabled = False

from nbgrader.converters import GenerateAssignment  # noqa: E402
from mnist_lessons.grading.clearhints import ClearHints  # noqa: E402
from mnist_lessons.grading.markhintsoff import MarkHintsOff  # noqa: E402

# ClearHints runs first, so that nbgrader's own steps (checksums, the gradebook) never see a hint cell.
c.GenerateAssignment.preprocessors = [
    ClearHints, MarkHintsOff, *GenerateAssignment.class_traits()["preprocessors"].default(),
]

# Seconds each cell may run when nbgrader executes a notebook itself (validate;
# autograde runs the notebook in the course's grading engine, with its own
# limits). Under NBGRADER_EXECUTION, which nbgrader sets, the lessons train on
# short, seed-fixed runs: the slowest cell takes about 10 s on 2 cores. 120 s
# leaves room for a slow machine and stops a runaway cell within minutes.
c.Execute.timeout = 120

# The course's grading engine inside nbgrader's own pipelines (mnist_lessons/grading/preprocessors.py says
# why): RepairCells takes the place of ClearOutput, DeduplicateIds and OverwriteCells, so a notebook is
# repaired by the same rule as in `pytest autograder/`, keeping the outputs of the learner's own run;
# GradeInSandbox takes the place of Execute, so no learner code runs in nbgrader's kernel, the
# demonstrations are not run again (the pytest door's cost), and each check cell's output is written from
# the engine's verdict. SaveNotes keeps the grader's notes in the gradebook (as comments, shown in the
# feedback) and flags the notebook for review. The other steps are nbgrader's own, in its own order.
# What an instructor or a student opens is inert: KeepInertOutput keeps only the text and PNG/JPEG images
# of the learner's outputs, EscapeLearnerHtml keeps raw HTML in the learner's markdown as text,
# MarkSubmittedOutput says atop the notebook that its outputs are the student's own run, and ClearHints
# (when enabled, above) leaves the hint cells that the repair put back out. Feedback shows no hidden tests.
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, GetGrades, IgnorePattern, LimitOutput, OverwriteKernelspec,
    SaveAutoGrades,
)
from mnist_lessons.grading.escapelearnerhtml import EscapeLearnerHtml  # noqa: E402
from mnist_lessons.grading.feedbackpage import AddGradesSummary  # noqa: E402
from mnist_lessons.grading.keepinertoutput import KeepInertOutput  # noqa: E402
from mnist_lessons.grading.marksubmittedoutput import MarkSubmittedOutput  # noqa: E402
from mnist_lessons.grading.preprocessors import (  # noqa: E402
    GradeInSandbox, ReadAsData, RepairCells, SaveNotes, StripHiddenTests,
)

c.Autograde.exporter_class = ReadAsData  # a notebook nbgrader cannot read costs its lesson, not the student
# No CheckCellMetadata in the sanitizing stage: RepairCells has just given every graded cell the source's nbgrader
# metadata (a learner's own cell has none), which nbgrader validated when it generated the release; the check at the
# end of autograding, nbgrader's own place for it, still runs. Each took 16 ms a notebook (jsonschema checks
# nbgrader's schema itself at every cell).
c.Autograde.sanitize_preprocessors = [RepairCells, KeepInertOutput, EscapeLearnerHtml, OverwriteKernelspec]
# ClearHints after GradeInSandbox: the engine grades the notebook as repaired, hint cells and all, so that it finds
# the outcome it graded ahead from the submitted file.
c.Autograde.autograde_preprocessors = [
    GradeInSandbox, ClearHints, MarkSubmittedOutput, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
    SaveAutoGrades, SaveNotes, AssignLatePenalties, CheckCellMetadata,
]
# AddGradesSummary: every lesson's page opens on the student's whole assignment (scores, verdicts, notes, the late
# penalty, links to the other lessons' pages), since fetch_feedback brings back only one page per lesson handed in.
c.GenerateFeedback.preprocessors = [GetGrades, StripHiddenTests, AddGradesSummary, CSSHTMLHeaderPreprocessor]

# nbgrader's feedback pages and the formgrader render notebooks with nbconvert's HTMLExporter, configured from
# here (the formgrader reads this file too). sanitize_html cleans what nbconvert's own template blocks render
# (HTML and Markdown outputs; no JavaScript or widget views): a second guard behind KeepInertOutput. nbgrader's
# templates render markdown cells and comments with a block of their own that sanitize_html does not reach:
# safemarkdown.markdown2html renders them with raw HTML as text and no javascript: links.
c.HTMLExporter.sanitize_html = True
c.HTMLExporter.filters = {"markdown2html": "mnist_lessons.grading.safemarkdown.markdown2html"}

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
# JupyterHub, the hub's shared folder comes from $MNIST_LESSONS_EXCHANGE, which
# the hub sets for the course's service (mnist_lessons/hub.py, docs/jupyterhub.md).
# ReleaseAssignment (mnist_lessons/grading/exchange.py) makes the exchange's root
# and inbound/ with the sticky bit (nbgrader's own root is world-writable, so that
# any account could rename the course's folder in it and plant a release of its
# own); Submit leaves a submission to its student and the grader's group.
c.Exchange.root = os.environ.get("MNIST_LESSONS_EXCHANGE") or os.path.join(ROOT, "exchange")
c.ExchangeFactory.release_assignment = "mnist_lessons.grading.exchange.ReleaseAssignment"
c.ExchangeFactory.submit = "mnist_lessons.grading.exchange.Submit"

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
