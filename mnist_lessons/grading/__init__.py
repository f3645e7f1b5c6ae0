"""The grading side: one engine behind every door (``pytest autograder/``, nbgrader, the check cell's verdict).

- ``notebooks``        a submitted notebook read as data and repaired by one rule
- ``cases``            the calls each check makes, written down as data for the sandbox
- ``engine``           runs a notebook in the sandbox and decides each verdict
- ``apart``            the checks that need Keras, replayed in a process of the grader's, within limits
- ``forkserver``       one sandboxed server per student, Keras imported once, a child forked per lesson
- ``sandbox``          the child process the learner's code runs in
- ``sandboxview``      the package as the sandbox sees it: what the child runs, none of the answers
- ``channel``          the pipe a child sends its results down
- ``isolation``        bubblewrap around that child
- ``compilecache``     XLA programs compiled once per machine, read-only to the child
- ``processes``        which processes descend from which, from /proc
- ``preprocessors``    nbgrader's door: the engine inside nbgrader's own pipeline
- ``clearhints``       a release without the lessons' hint cells, on request
- ``classgrading``     a class graded with nbgrader, several students at once
- ``workunit``         one student's grading as data: the course's bundle in, the submission's bytes in, results out
- ``report``           the class report, an HTML page beside the gradebook
- ``feedbackpage``     the student's whole assignment at the top of each lesson's feedback page
- ``similarity``       copying flags for the class report, by copydetect's winnowing
- ``exchange``         nbgrader's exchange with the sticky bit, submissions private to student and grader
- ``export``           the grades as the CSVs an LMS imports (an nbgrader export plugin)
- ``lms``              an LMS's submission download taken in by nbgrader's zip_collect, with its times

Nothing here is imported by ``import mnist_lessons``; the lessons' check
cells use ``mnist_lessons.checks``, which takes only ``notebooks.read_bounded`` (for the
hints record) from here; the exercises themselves are ``mnist_lessons.exercises``.
"""
