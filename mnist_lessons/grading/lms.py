"""What an LMS's downloads hold (file names, submission times), and nbgrader's zip_collect fitted to them (instructors).

``nbgrader zip_collect`` hands each extracted file's *absolute path* to a
``FileNameCollectorPlugin``, whose ``named_regexp`` must name ``student_id``
and ``file_id``. Two of them for the LMSs' own downloads, each from the
LMS's source:

- ``CANVAS_FILENAME``: Canvas's "Download Submissions" zip (canvas-lms,
  lib/content_zipper.rb: ``get_filename`` and ``add_upload_submission``) names
  each file ``<sortable name>[_LATE]_<user id>_<file id>_<file name>``: the
  name lowercased with all but letters, digits and ``_`` removed
  (``lovelaceada``), ``LATE`` when Canvas counts the submission late,
  ``anon_<id>`` in place of the user id when grading is anonymous. The user id
  is the ``ID`` of Canvas's gradebook CSV.
- ``MOODLE_FILENAME``: Moodle's "Download all submissions" (mod/assign,
  classes/downloader.php) puts a student's files in a folder
  ``<Full Name>_<number>_assignsubmission_file/`` (Moodle 4; ``..._file_/``
  in Moodle 3), or with "download submissions in folders" off names each one
  ``<Full Name>_<number>_assignsubmission_file_<file name>``. The name has its
  ``_`` turned to spaces ("Participant" under blind marking); the number is
  the assignment's participant number (``get_uniqueid_for_user``), the
  "Participant <number>" of its grading worksheet, not a Moodle user id.

Neither zip holds a submission time. ``LmsCollectorPlugin`` (set in
nbgrader_config.py) records one from what the LMS does give, by
``submission_time``'s rules: a submissions list (Moodle's grading worksheet,
Canvas's submissions API saved as JSON), else a time in the file name, else
Canvas's ``LATE`` mark against the gradebook's due date; where none applies it
warns that the due date cannot apply (``NO_TIME``). It reads times itself,
by explicit formats and a time zone: nbgrader's ``parse_utc`` hands a string
to dateutil, which reads nbgrader's own file-name example
``2027-01-31-23-59-00`` as 23:00 (it takes ``-59-00`` for a UTC offset), in
the machine's local zone. docs/instructors.md says what an instructor sets.
"""

import csv
import datetime
import json
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nbgrader.plugins import FileNameCollectorPlugin
from traitlets import List, Unicode

# The paths nbgrader hands the collector are absolute: each pattern skips the folders before the LMS's name.
CANVAS_FILENAME = (
    r"^(?:.*/)?(?:(?P<name>[^/]*?)_)??(?:(?P<late>LATE)_)?"
    r"(?P<student_id>\d+|anon_[A-Za-z0-9]+)_(?P<file_number>\d+)_(?P<file_id>[^/]+)$"
)
MOODLE_FILENAME = (
    r"^(?:.*/)?(?P<full_name>[^/_]+)_(?P<student_id>\d+)_assignsubmission_file"
    r"(?:_?/(?:[^/]+/)*|_)(?P<file_id>[^/]+)$"
)

TIME_FORMATS = (  # tried after ISO 8601 (Canvas's API: 2027-01-31T23:59:00Z) and the instructor's own time_format
    "%Y-%m-%d-%H-%M-%S",  # nbgrader's documented file-name example (..._attempt_2016-01-30-15-00-00_...)
    "%A, %d %B %Y, %I:%M %p",  # Moodle's userdate() in English (langconfig strftimedaydatetime): its worksheet's times
)
ID_COLUMNS = ("Identifier", "user_id", "ID")  # Moodle's worksheet ("Participant 123"), Canvas's API, a list of our own
TIME_COLUMNS = ("Last modified (submission)", "submitted_at")  # Moodle's worksheet, Canvas's API
EMAIL_COLUMNS = ("Email address", "email")  # Moodle's worksheet (its default identity field), a list of our own
LATE_MARK_DELAY = datetime.timedelta(seconds=1)  # a LATE mark with no time: the least lateness there is

NO_TIME = ("no submission time: the LMS's download gives none, so the due date and late policy cannot apply to "
           "this submission (docs/instructors.md: give the LMS's submissions list)")
MISSING_TIME_NOTE = ("No submission time was recorded (an LMS download without one), so the due date and the late "
                     "policy could not apply.")


def parse_time(text, timezone="", formats=()):
    """``text`` as an aware UTC datetime, or None for an empty cell or Moodle's "-"; a ValueError says what to set.

    ISO 8601 first, then ``formats``, then ``TIME_FORMATS``. A trailing zone
    name ("... UTC", as nbgrader writes timestamp.txt) is honoured; a time that
    names no zone is read in ``timezone`` (an IANA name), which must then be set.
    """
    text = str(text).strip()
    if not text or text == "-":
        return None
    head, _, zone = text.rpartition(" ")
    if head and re.fullmatch(r"[A-Za-z_]+(?:/[A-Za-z_+-]+)*", zone) and zone not in ("AM", "PM"):
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return parse_time(head, zone, formats)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        moment = None
        for pattern in (*formats, *TIME_FORMATS):
            try:
                moment = datetime.datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
    if moment is None:
        raise ValueError(f"cannot read the time {text!r}: set c.LmsCollectorPlugin.time_format to its strptime format")
    if moment.tzinfo is None:
        if not timezone:
            raise ValueError(f"the time {text!r} names no time zone: set c.LmsCollectorPlugin.timezone "
                             "(the zone the LMS wrote it in, e.g. \"Europe/London\")")
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(datetime.timezone.utc)


def lms_key(value):
    """The LMS's id of a student as the file names give it: "Participant 123" (Moodle's worksheet) is "123"."""
    value = str(value).strip()
    match = re.fullmatch(r"[^\d_]+\s(\d+)", value)  # a word (the LMS's own, in its language), a space, the number
    return match.group(1) if match else value


def read_submission_lists(paths, timezone="", time_format="", id_column="", time_column="", email_column=""):
    """{LMS id: {"time": aware UTC datetime or None, "email": str}} from submissions lists, CSV or JSON.

    A CSV's columns (or a JSON list's keys) are found by name: the id in
    ``ID_COLUMNS``, the time in ``TIME_COLUMNS``, an email in ``EMAIL_COLUMNS``,
    unless named here. A list without an id or a time column is an error.
    """
    entries = {}
    for path in paths:
        path = Path(path)
        if path.suffix.lower() == ".json":
            rows = json.loads(path.read_text(encoding="utf-8"))
            rows = rows if isinstance(rows, list) else [rows]
        else:
            with open(path, newline="", encoding="utf-8-sig") as file:  # -sig: a BOM from a spreadsheet
                rows = list(csv.DictReader(file))
        names = set().union(*(row.keys() for row in rows)) if rows else set()
        id_name = id_column or next((name for name in ID_COLUMNS if name in names), None)
        time_name = time_column or next((name for name in TIME_COLUMNS if name in names), None)
        email_name = email_column or next((name for name in EMAIL_COLUMNS if name in names), None)
        if rows and (id_name not in names or time_name not in names):
            raise ValueError(f"{path}: no id column ({', '.join(ID_COLUMNS)}) or no time column "
                             f"({', '.join(TIME_COLUMNS)}); name them with c.LmsCollectorPlugin.id_column and "
                             f"time_column (its columns: {', '.join(sorted(map(str, names)))})")
        for row in rows:
            if row.get(id_name) in (None, ""):
                continue
            formats = (time_format,) if time_format else ()
            entries[lms_key(row[id_name])] = {"time": parse_time(row.get(time_name) or "", timezone, formats),
                                              "email": str(row.get(email_name) or "").strip()}
    return entries


def submission_time(listed=None, stamped=None, late_mark=None, due=None):
    """(the time to record, or None; a warning, or None): the rules for a submission's time, first that applies.

    ``listed``: the time in a submissions list; ``stamped``: a time in the file
    name; ``late_mark``: Canvas's mark (True for LATE, False for none; None where
    the LMS marks nothing); ``due``: the gradebook's due date. All times aware.

    1. A listed time, else a stamped one, is the time.
    2. Canvas's LATE with no time: one second after the due date, so that
       nbgrader's late policy applies (the least lateness: "zero" zeroes it, a
       graded policy takes its smallest penalty), with a warning.
    3. No LATE mark from Canvas: the due date itself, on time as Canvas said.
    4. Nothing: no time, and ``NO_TIME``; without a due date, a warning that
       any due date set later cannot apply either.
    """
    moment = listed or stamped
    if moment is not None:
        if late_mark and due is not None and moment <= due:
            return moment, (f"Canvas marks it LATE but its time ({moment:%Y-%m-%d %H:%M} UTC) is not after the "
                            "gradebook's due date: a due date of Canvas's own for this student? The time is kept")
        return moment, None
    if late_mark is not None and due is None:
        return None, ("Canvas marks it " + ("LATE" if late_mark else "on time") + " but the gradebook has no due "
                      "date: set the due date, then run zip_collect --force again")
    if late_mark:
        return due + LATE_MARK_DELAY, ("marked LATE by Canvas, with no time: recorded as one second after the due "
                                       "date, so the late policy applies its least penalty; give Canvas's "
                                       "submissions list for the real time")
    if late_mark is False:
        return due, None
    return None, NO_TIME


def missing_time_note(timestamp, duedate):
    """The note for a submission with no time against a due date, or None (both as the gradebook keeps them)."""
    return MISSING_TIME_NOTE if duedate is not None and timestamp is None else None


class LmsCollectorPlugin(FileNameCollectorPlugin):
    """nbgrader's file-name collector for Canvas's and Moodle's downloads: the LMS's ids, file names and times.

    With no ``named_regexp`` it tries ``MOODLE_FILENAME``, then
    ``CANVAS_FILENAME``. A student in the gradebook whose ``lms_user_id`` is the
    id in the file name (or whose email a submissions list gives for it) is
    collected under their own nbgrader id; anyone else under the LMS's id.
    """

    submission_lists = List(Unicode(), help=(
        "Files listing each submission's time, CSV or JSON, relative to the course directory: Moodle's grading "
        "worksheet, Canvas's submissions API (user_id, submitted_at) saved as JSON, or a CSV of your own."
    )).tag(config=True)
    timezone = Unicode("", help=(
        "The IANA time zone of times that name none (Moodle's worksheet: the downloading user's zone); required "
        "when such a time is read."
    )).tag(config=True)
    time_format = Unicode("", help="A strptime format for times, tried after ISO 8601.").tag(config=True)
    id_column = Unicode("", help="A submissions list's id column (default: the first of ID_COLUMNS).").tag(config=True)
    time_column = Unicode("", help="A submissions list's time column (default: TIME_COLUMNS).").tag(config=True)
    email_column = Unicode("", help="A submissions list's email column (default: EMAIL_COLUMNS).").tag(config=True)

    _course = None  # read once: the due date, the roster, the release's notebooks, the submissions lists
    _warned = None  # the students already warned about, so each is warned once

    def collect(self, submitted_file):
        _, ext = os.path.splitext(submitted_file)
        if ext not in self.valid_ext:
            return None
        groups = self._match_lms(submitted_file)
        if not groups:
            return None
        course = self._read_course()
        lms_id = groups["student_id"]
        listed = course["lists"].get(lms_key(lms_id), {})
        student = course["by_lms_id"].get(lms_id) or course["by_email"].get(listed.get("email") or None) or lms_id
        stamped = parse_time(groups["timestamp"], self.timezone, self._formats()) if groups.get("timestamp") else None
        late_mark = bool(groups["late"]) if "late" in groups else None
        moment, warning = submission_time(listed.get("time"), stamped, late_mark, course["due"])
        if warning and student not in self._warned:
            self._warned.add(student)
            who = student if student == lms_id else f"{student} ({lms_id} in the download)"
            self.log.warning("%s: %s", who, warning)
        file_id = groups["file_id"]
        unnumbered = re.sub(r"-\d+(\.[^.]+)$", r"\1", file_id)  # Canvas renames a re-uploaded file "x-1.ipynb"
        if file_id not in course["released"] and unnumbered in course["released"]:
            file_id = unnumbered
        return {**groups, "student_id": student, "file_id": file_id, "timestamp": moment}

    def _match_lms(self, path):
        if self.named_regexp:
            return self._match(path)
        for pattern in (MOODLE_FILENAME, CANVAS_FILENAME):
            match = re.match(pattern, path)
            if match:
                return match.groupdict()
        self.log.warning("Neither Canvas's nor Moodle's file names (mnist_lessons.grading.lms): %s", path)
        return None

    def _formats(self):
        return (self.time_format,) if self.time_format else ()

    def _read_course(self):
        """The course's due date, roster and released notebooks (from the app's course directory), and the lists."""
        if self._course is not None:
            return self._course
        self._warned = set()
        course = {"due": None, "by_lms_id": {}, "by_email": {}, "released": set(), "lists": {}}
        coursedir = getattr(self.parent, "coursedir", None)
        root = Path(coursedir.root) if coursedir is not None else Path.cwd()
        if coursedir is not None:
            from nbgrader.utils import find_all_notebooks

            released = coursedir.format_path(coursedir.release_directory, ".", coursedir.assignment_id)
            course["released"] = set(find_all_notebooks(released)) if os.path.isdir(released) else set()
            try:
                course.update(self._read_gradebook(coursedir))
            except Exception as err:  # noqa: BLE001 -- the gradebook informs the collect; without it, say so
                self.log.warning("Could not read the gradebook (%s): no due date or roster for the LMS's files", err)
        course["lists"] = read_submission_lists(
            [root / path for path in self.submission_lists], self.timezone, self.time_format,
            self.id_column, self.time_column, self.email_column)
        if course["due"] is None:
            self.log.warning("%s has no due date in the gradebook: no late policy can apply to what is collected",
                             getattr(coursedir, "assignment_id", "the assignment"))
        elif not self.submission_lists:
            self.log.warning("No submissions list (c.LmsCollectorPlugin.submission_lists): Canvas's LATE marks are "
                             "the only times; Moodle's files have none")
        self._course = course
        return course

    @staticmethod
    def _read_gradebook(coursedir):
        """{"due": the assignment's due date (aware UTC) or None, "by_lms_id": {LMS id: student}, "by_email": {...}}."""
        from nbgrader.api import Gradebook, MissingEntry

        found = {"due": None, "by_lms_id": {}, "by_email": {}}
        with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
            try:
                due = gradebook.find_assignment(coursedir.assignment_id).duedate
            except MissingEntry:
                due = None
            found["due"] = due.replace(tzinfo=datetime.timezone.utc) if due else None  # nbgrader keeps naive UTC
            for student in gradebook.students:
                if student.lms_user_id:
                    found["by_lms_id"][str(student.lms_user_id)] = student.id
                if student.email:
                    found["by_email"][student.email] = student.id
        return found
