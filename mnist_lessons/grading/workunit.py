"""One student's grading as data, for autograde-class (instructors): what the driver packs, what a worker hands back.

The driver resolves every path. It packs the course once (``pack_course``:
nbgrader_config.py, the source and release of the assignment, a snapshot of
the gradebook) and each submission as it is sent (``pack_submission``: the
lesson notebooks, ``timestamp.txt`` and ``submission_secret.txt``). A worker,
on this machine or another with no file system in common, unpacks both into
a scratch course of its own and returns the grades, notes and autograded
files as data (``classgrading.grade_student``). Only the driver writes the
gradebook, once per submission (``Ledger``); a submission that kills its
workers is given up on with a note (``lost_result``).
"""

import dataclasses
import datetime
import hashlib
import io
import os
import sqlite3
import stat
import tarfile
import tempfile
from pathlib import Path

from mnist_lessons.grading import notebooks
from mnist_lessons.grading.preprocessors import missing_note

COURSE_FOLDERS = ("solutions", "course")  # nbgrader's source and release folders, as nbgrader_config.py names them
TIMESTAMP_FILE = "timestamp.txt"  # written by nbgrader collect; nbgrader reads the submission's time from it
SECRET_FILE = "submission_secret.txt"  # written by nbgrader submit; release_feedback needs it in autograded/
SMALL_FILE_BYTES = 1024  # timestamp.txt and submission_secret.txt are a line each (the secret: 128 hex digits)


# ---------------------------------------------------------------- the course, once per worker


def pack_course(course, assignment):
    """The course a worker needs to grade ``assignment``, as one gzipped tar: nbgrader_config.py, the assignment's
    source and release folders, and a consistent snapshot of the gradebook (its due date, students, extensions)."""
    course = Path(course)
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="mnist-course-pack-") as folder, \
            tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:  # notebooks shrink fourfold at level 1
        snapshot = Path(folder) / "gradebook.db"
        with sqlite3.connect(course / "gradebook.db") as source, sqlite3.connect(snapshot) as copy:
            source.backup(copy)  # consistent, even while another nbgrader writes
        tar.add(snapshot, "gradebook.db")
        tar.add(course / "nbgrader_config.py", "nbgrader_config.py")
        for name in COURSE_FOLDERS:
            tar.add(course / name / assignment, f"{name}/{assignment}")
    return buffer.getvalue()


def unpack_course(bundle, folder):
    """Write a ``pack_course`` bundle into ``folder``: plain files and folders under it only, nothing else."""
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later: tarfile's data filter (no links out, no devices)
            tar.extractall(folder, filter="data")
            return
        members = tar.getmembers()
        for member in members:  # the same rule, by hand, for an older 3.11 (Debian 12's is 3.11.2)
            if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in Path(member.name).parts:
                raise ValueError(f"the course's bundle holds {member.name!r}, which is not a plain file of the course")
        tar.extractall(folder, members=members)


def hold(bundle):
    """``bundle`` itself: on a Dask cluster, the course is this task's result, so that a lost copy is made again."""
    return bundle


def release_names(course, assignment):
    """The lesson notebooks of the release, by file name: what a submission is packed and graded against."""
    return sorted(path.name for path in (Path(course) / COURSE_FOLDERS[1] / assignment).glob("*.ipynb"))


# ---------------------------------------------------------------- a submission, as it is sent


@dataclasses.dataclass(frozen=True)
class Submission:
    """One student's submission as data. ``notebooks`` holds (name, kind, payload) per lesson handed in, where kind
    is "file" (payload: its bytes), "link" or "special" (a symbolic link or FIFO: never followed, never read) or
    "large" (payload: its size, past notebooks.MAX_NOTEBOOK_BYTES: never read)."""

    student: str
    assignment: str
    timestamp: str | None  # timestamp.txt's text, for nbgrader to read as it would
    secret: str | None  # submission_secret.txt's text
    notebooks: tuple

    @property
    def digest(self):
        """SHA-256 of everything handed in: the same bytes give the same digest wherever they are packed."""
        sha = hashlib.sha256()
        for part in (self.student, self.assignment, self.timestamp, self.secret):
            sha.update(repr(part).encode() + b"\0")
        for name, kind, payload in self.notebooks:
            sha.update(f"{name}\0{kind}\0".encode())
            sha.update(payload if isinstance(payload, bytes) else repr(payload).encode())
            sha.update(b"\0")
        return sha.hexdigest()

    @property
    def key(self):
        """(student, assignment, submission time as naive UTC ISO or None, digest): what the gradebook holds once."""
        return self.student, self.assignment, submission_time(self.timestamp), self.digest


def submission_time(text):
    """The time nbgrader reads from a timestamp.txt's ``text``, as naive UTC ISO, or None (none, or unreadable)."""
    from nbgrader.utils import parse_utc

    try:
        moment = parse_utc(text.strip()) if text else None
    except (ValueError, OverflowError):
        return None
    if moment is not None and moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment.isoformat() if moment else None


def submitted_time(course, student, assignment):
    """The time of ``submitted/<student>/<assignment>/`` as its packed submission's key will hold it, or None."""
    return submission_time(_small_text(Path(course) / "submitted" / student / assignment / TIMESTAMP_FILE))


def pack_submission(course, student, assignment, names):
    """Pack ``submitted/<student>/<assignment>/`` of ``course``: the notebooks among ``names`` (release_names), and
    its timestamp.txt and submission_secret.txt when they are small regular files. Nothing is followed or changed."""
    folder = Path(course) / "submitted" / student / assignment
    return Submission(student, assignment, _small_text(folder / TIMESTAMP_FILE), _small_text(folder / SECRET_FILE),
                      tuple(entry for name in names if (entry := _pack_notebook(folder / name)) is not None))


def _small_text(path):
    """The text of a small regular file; None for none, or for a link, a FIFO or a large file, which are not the
    instructor's tools' own small files (read as data: never through a link, never waiting on a FIFO)."""
    try:
        return notebooks.read_bounded(path, SMALL_FILE_BYTES - 1).decode(errors="replace")
    except OSError:
        return None


def _pack_notebook(path):
    """(name, kind, payload) of one submitted notebook, as notebooks.read_notebook's rule will meet it; None when
    it is absent."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return path.name, "link", None
    if not stat.S_ISREG(info.st_mode):
        return path.name, "special", None
    if info.st_size > notebooks.MAX_NOTEBOOK_BYTES:
        return path.name, "large", info.st_size
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as file:
        return path.name, "file", file.read(notebooks.MAX_NOTEBOOK_BYTES)


def unpack_submission(submission, target, release):
    """Write ``submission`` into the scratch course's ``target`` folder; return notes on lessons not handed in.

    What the reading rule refuses without reading is written as a stand-in of the same kind, so that nbgrader's
    reading (preprocessors.ReadAsData) meets what the original was: a link to /dev/null, a FIFO, an empty sparse
    file of the same size.
    """
    target = Path(target)
    target.mkdir(parents=True)
    for name, text in ((TIMESTAMP_FILE, submission.timestamp), (SECRET_FILE, submission.secret)):
        if text is not None:
            (target / name).write_text(text)
    handed_in = set()
    for name, kind, payload in submission.notebooks:
        path = target / Path(name).name  # a name, never a path out of the folder
        handed_in.add(path.name)
        if kind == "link":
            os.symlink(os.devnull, path)
        elif kind == "special":
            os.mkfifo(path)
        elif kind == "large":
            with open(path, "wb") as stand_in:
                stand_in.truncate(payload)  # sparse: no disk, and the same size for the same note
        else:
            path.write_bytes(payload)
    return [missing_note(release_path.stem) for release_path in sorted(Path(release).glob("*.ipynb"))
            if release_path.name not in handed_in]


# ---------------------------------------------------------------- the driver's side: write once, give up on poison


class Ledger:
    """Which submission's result the gradebook holds, per student: each result is written once, and never one of an
    older submission over a newer one's. Dask runs a task at least once, never exactly once (a lost worker's tasks
    run again elsewhere), so the write, the driver's alone, is what must be idempotent."""

    def __init__(self, held=None):
        self.held = dict(held or {})  # (student, assignment) -> (time as naive UTC ISO or None, digest or None)

    def admit(self, key):
        """"write", "duplicate" (this very result is held) or "stale" (the gradebook holds a newer submission)."""
        student, assignment, time, digest = key
        held_time, held_digest = self.held.get((student, assignment), (None, None))
        if held_digest is not None and (held_time, held_digest) == (time, digest):
            return "duplicate"
        if time is not None and held_time is not None and time < held_time:  # ISO strings order as their times
            return "stale"
        return "write"

    def written(self, key):
        """Record that the result of ``key`` is now in the gradebook."""
        student, assignment, time, digest = key
        self.held[(student, assignment)] = (time, digest)


def lost_result(key, error):
    """The result for the submission of ``key`` that the cluster could not grade: never a score, always a reason.

    Dask reruns the task of a worker that died; after ``distributed.scheduler.allowed-failures`` deaths (3 unless
    set) it raises KilledWorker. Such a submission is not tried again in this run, and the class goes on; it is
    not graded (no zero is written), so the next run tries it once more.
    """
    student, assignment = key[0], key[1]
    if type(error).__name__ == "KilledWorker":  # distributed.KilledWorker(task, last_worker, allowed_failures)
        tries = getattr(error, "allowed_failures", None)
        last = getattr(getattr(error, "last_worker", None), "address", None)
        reason = ("the worker grading this submission died each time it was tried"
                  + (f" ({tries + 1} times, the last on {last})" if isinstance(tries, int) else "")
                  + ", so it was given up on and the class went on; grade it alone to see why: "
                  f"nbgrader autograde {assignment} --student {student}")
    else:
        reason = (f"the cluster lost this student's grading ({type(error).__name__}: {str(error).strip()[:300]}), "
                  "a fault of the grader's, not the student's; run again")
    return {"student": student, "assignment": assignment, "notes": [], "grades": {}, "files": {},
            "timestamp": None, "seconds": 0.0, "error": reason}
