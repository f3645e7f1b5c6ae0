"""The course's nbgrader exchange, with the sticky bit: no student can rename or replace the course's release.

nbgrader's ``release_assignment`` creates the exchange's root world-writable (0o777) and nothing more, so any
account may rename the course's folder in it and put a release of its own in its place. With the sticky bit
(0o1777, as ``/tmp``) an account may still make folders there, as nbgrader needs, but may rename or remove only
its own. ``ReleaseAssignment`` creates the root that way, and adds the bit to a root that lacks it;
``prepare_exchange`` makes, as root, the root and the course's folder, owned by the grader, before any student
can take that name (docs/jupyterhub.md).

Below the root, nbgrader's own modes, with two changes: the course's folder 0o755, ``outbound/`` 0o755,
``inbound/`` 0o3733 (anyone may submit; no one but the grader may list; nbgrader's 0o2733 plus the sticky bit, so
that no one renames another's submission), ``feedback/`` 0o711 (each page named by a secret of the submission it
answers). ``Submit`` leaves a submission readable by its student and the grader's group only (nbgrader's: 0o777, and
its files 0o644, reached by anyone who has its name).
"""

import os
import pwd
import stat

from nbgrader.exchange.default import ExchangeReleaseAssignment, ExchangeSubmit

ROOT_MODE = 0o1777  # everyone may create (nbgrader needs it); the sticky bit: only an entry's owner may rename it
COURSE_MODE = 0o755  # nbgrader's own mode for a course's folder: only the grader writes
INBOUND_MODE = 0o3733  # nbgrader's 0o2733 (write, not list; submissions take the grader's group), plus the sticky bit
# A submission's folders: its student and the grader's group only (the group may remove it, as nbgrader's 0o777
# allowed). Its files keep nbgrader's 0o644: some take the student's group, not the grader's (a copied folder loses
# the set-group-id bit), and the folder alone keeps them from others.
SUBMISSION_MODE = 0o2770


class ReleaseAssignment(ExchangeReleaseAssignment):
    """nbgrader's ``release_assignment``, with an exchange root that has the sticky bit."""

    def ensure_root(self):
        if not os.path.exists(self.root):
            self.log.warning("Creating exchange directory, mode %o: %s", ROOT_MODE, self.root)
            try:
                os.makedirs(self.root)
                os.chmod(self.root, ROOT_MODE)
            except PermissionError:
                self.fail(f"Could not create {self.root}, permission denied.")
            return
        mode = os.stat(self.root).st_mode
        if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
            try:
                os.chmod(self.root, stat.S_IMODE(mode) | stat.S_ISVTX)
            except PermissionError:
                self.fail(f"The exchange {self.root} is world-writable without the sticky bit, so any account can "
                          f"rename the course's folder in it, and it is not yours to fix: as root, run "
                          f"chmod 1777 {self.root}")
            self.log.warning("Exchange directory %s was world-writable without the sticky bit: added it", self.root)
        if not os.access(self.root, os.W_OK | os.X_OK):
            self.fail(f"Unwritable exchange directory: {self.root}")

    def init_dest(self):
        super().init_dest()
        if stat.S_IMODE(os.stat(self.inbound_path).st_mode) != INBOUND_MODE:
            os.chmod(self.inbound_path, INBOUND_MODE)


class Submit(ExchangeSubmit):
    """nbgrader's ``submit``, leaving the submission to its student and the grader's group."""

    def copy_files(self):
        super().copy_files()
        inbound = os.stat(self.inbound_path)
        submission = os.path.join(self.inbound_path, self.assignment_filename)
        if inbound.st_uid == os.getuid() or os.stat(submission).st_gid != inbound.st_gid:
            return  # the grader's own test submission, or an inbound/ without nbgrader's group: keep nbgrader's modes
        for folder, _, _ in os.walk(submission, topdown=False):
            os.chmod(folder, SUBMISSION_MODE)


def prepare_exchange(root, course_id, grader):
    """As root: make the exchange ``root`` (mode 1777) and the course's folder in it, owned by ``grader``.

    Returns the course's folder. Safe to run again. A course folder that exists and is not the grader's is
    refused: someone else made it first, and nbgrader would refuse it too.
    """
    try:
        account = pwd.getpwnam(grader)
    except KeyError:
        raise ValueError(f"no account named {grader!r} on this machine: create the grader's account first") from None
    if not course_id or os.sep in course_id or course_id.startswith("."):
        raise ValueError(f"course id {course_id!r}: expected a plain name, such as mnist-lessons")
    if os.path.islink(root):
        raise ValueError(f"{root} is a symbolic link: give the exchange's real folder (this runs as root)")
    os.makedirs(root, exist_ok=True)
    os.chown(root, 0, 0)
    os.chmod(root, ROOT_MODE)
    course = os.path.join(root, course_id)
    if not os.path.isdir(course):
        os.mkdir(course)
        os.chown(course, account.pw_uid, account.pw_gid)
        os.chmod(course, COURSE_MODE)
    elif os.lstat(course).st_uid != account.pw_uid:
        owner = pwd.getpwuid(os.lstat(course).st_uid).pw_name
        raise ValueError(f"{course} already exists and belongs to {owner}, not {grader}: check what is in it, "
                         f"remove it, and run this again")
    return course
