"""A class on a real JupyterHub, on one machine: every step of a course's life, each in its own account.

The test makes OS accounts (a grader and two students, removed afterwards), starts JupyterHub on 127.0.0.1 with
mnist_lessons/hub.py's configuration, and plays the class: the grader releases; each student, through their own
server's nbgrader API (what JupyterLab's Assignments tab calls), authenticated through the hub as that student,
fetches, saves work (one the solutions, one nothing) and submits; the grader collects, grades with
`mnist-lessons autograde-class`, and generates and releases feedback, as the grader's account; each student fetches
their feedback. Then, as a student, it tries what a student must not do. Runs as root; skips elsewhere. The set-up,
shared with tests/browser/test_hub_pages.py, is tests/hubclass.py.
"""

import json
import os
import pwd
import tempfile
from pathlib import Path

import pytest

from mnist_lessons import hub
from mnist_lessons.grading.exchange import INBOUND_MODE, ROOT_MODE

from hubclass import (ASSIGNMENT, COURSE_ID, LESSONS, ROOT, api, assignments, needs_a_machine, running_hub,
                      start_server, wait_for_service)

pytestmark = pytest.mark.hub
DOCS = ROOT / "docs" / "jupyterhub.md"


def python_blocks(page):
    """The ```python blocks of a page, in order."""
    return [block.split("\n", 1)[1].split("```", 1)[0] for block in page.split("```python")[1:]]


def test_the_docs_show_the_students_settings_that_hub_setup_writes():
    """Is the students' nbgrader_config.py in docs/jupyterhub.md the one `mnist-lessons hub-setup` writes?"""
    written = hub.STUDENT_CONFIG.format(course_id=COURSE_ID, exchange=hub.EXCHANGE)
    assert written in python_blocks(DOCS.read_text())


def test_the_docs_hub_configuration_sets_up_the_course():
    """Does docs/jupyterhub.md's jupyterhub_config.py give the course's service, groups and roles?"""
    from traitlets.config import Config, PyFileConfigLoader

    block = next(block for block in python_blocks(DOCS.read_text()) if "hub.configure(" in block)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "jupyterhub_config.py").write_text(block)
        config = PyFileConfigLoader("jupyterhub_config.py", path=folder).load_config()
    merged = Config()
    merged.merge(config)  # as JupyterHub reads it: the lazy list and dict values applied to empty ones
    from jupyterhub.app import JupyterHub

    app = JupyterHub(config=merged)
    [service] = app.services
    assert (service["name"], service["user"], service["cwd"]) == (COURSE_ID, "grader", "/home/grader/mnist-lessons")
    assert service["environment"]["MNIST_LESSONS_EXCHANGE"] == hub.EXCHANGE
    assert app.load_groups == {f"formgrade-{COURSE_ID}": {"users": ["teacher"]},
                               f"nbgrader-{COURSE_ID}": {"users": ["ada", "alan", "grace"]}}
    roles = {role["name"]: role for role in app.load_roles}
    assert roles["server"]["scopes"] == ["inherit"]
    assert roles[f"nbgrader-{COURSE_ID}"]["scopes"] == ["list:services", f"read:services!service={COURSE_ID}"]
    assert app.spawner_class.__name__ == "LocalProcessSpawner"


def test_hub_setup_refuses_an_account_that_does_not_exist(capsys):
    """Does `mnist-lessons hub-setup` with an unknown grader exit 2 with one line, making nothing?"""
    from mnist_lessons.cli import main

    with tempfile.TemporaryDirectory() as folder, pytest.raises(SystemExit) as exit_:
        main(["hub-setup", "--grader", "no-such-account-here", "--exchange", f"{folder}/exchange",
              "--config-dir", f"{folder}/etc"])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and ("no account named 'no-such-account-here'" in error or "run it as root" in error)


def test_the_exchange_is_not_made_through_a_link(tmp_path):
    """Does preparing the exchange (as root) refuse a root that is a symbolic link, changing nothing it points to?"""
    from mnist_lessons.grading.exchange import prepare_exchange

    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / "exchange").symlink_to(target)
    with pytest.raises(ValueError, match="symbolic link"):
        prepare_exchange(str(tmp_path / "exchange"), "mnist-lessons", "root")
    assert (target.stat().st_mode & 0o7777) == 0o700 and not list(target.iterdir())


@pytest.fixture(scope="module")
def hub_class():
    with running_hub() as cls:
        yield cls


def try_as(cls, user, script):
    """Run a few lines of Python as ``user``; return what it printed as JSON."""
    done = cls.run_as(user, str(cls.bin / "python"), "-c", script)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


PROBE = """
import json, os, sys
outcome = {}
def attempt(name, action):
    try:
        action()
        outcome[name] = "allowed"
    except OSError as error:
        outcome[name] = type(error).__name__
"""


@needs_a_machine
def test_a_class_lives_through_the_hub_each_in_their_own_account(hub_class):
    """Release, fetch and submit, collect, autograde-class, feedback: does each step work as its own account?"""
    cls = hub_class
    course_exchange = cls.exchange / COURSE_ID

    # The exchange as hub-setup made it: nothing world-writable without the sticky bit, the course the grader's.
    assert cls.exchange.stat().st_mode & 0o7777 == ROOT_MODE
    assert course_exchange.stat().st_uid == pwd.getpwnam(cls.grader).pw_uid

    # The instructor makes the release (the gradebook with it) and gives it out, as the grader.
    cls.as_grader("nbgrader", "generate_assignment", ASSIGNMENT, "--force")
    cls.as_grader("nbgrader", "release_assignment", ASSIGNMENT)
    assert (course_exchange / "inbound").stat().st_mode & 0o7777 == INBOUND_MODE  # anyone submits, no one lists
    status, service = cls.hub_api(f"/services/{COURSE_ID}")  # the course's service: registered and serving
    assert status == 200 and service["name"] == COURSE_ID, (status, service)

    wait_for_service(cls)

    tokens = {}
    for user in (cls.ann, cls.ben):
        tokens[user] = start_server(cls, user)
        listed = assignments(cls, user, tokens[user])
        assert (ASSIGNMENT, "released") in listed, listed
        fetched = assignments(cls, user, tokens[user], "fetch")
        assert (ASSIGNMENT, "fetched") in fetched, fetched
        work = cls.home(user) / COURSE_ID / ASSIGNMENT
        assert sorted(path.name for path in work.glob("*.ipynb")) == LESSONS
        assert {path.stat().st_uid for path in work.iterdir()} == {pwd.getpwnam(user).pw_uid}

    # Ann does every exercise: her server saves each lesson, as JupyterLab's Save does. Ben hands in the release.
    for lesson in LESSONS:
        notebook = json.loads((ROOT / "solutions" / ASSIGNMENT / lesson).read_text())
        status, body = api(f"{cls.url}/user/{cls.ann}/api/contents/{COURSE_ID}/{ASSIGNMENT}/{lesson}",
                           tokens[cls.ann], "PUT", {"type": "notebook", "format": "json", "content": notebook})
        assert status == 200, (status, body)
    for user in (cls.ann, cls.ben):
        submitted = assignments(cls, user, tokens[user], "submit")
        assert (ASSIGNMENT, "submitted") in submitted, submitted

    inbound = sorted(os.listdir(course_exchange / "inbound"))
    assert [name.split("+")[0] for name in inbound] == sorted([cls.ann, cls.ben])  # each under their own account

    for path, _, files in os.walk(cls.exchange):
        for name in [path, *(os.path.join(path, f) for f in files)]:
            mode = os.stat(name).st_mode
            assert not (mode & 0o002 and not mode & 0o1000), f"{name} is world-writable without the sticky bit"

    # The grader collects, grades and hands back feedback: all as the grader's account.
    cls.as_grader("nbgrader", "collect", ASSIGNMENT)
    graded = cls.as_grader("mnist-lessons", "autograde-class", ASSIGNMENT, "--jobs", "1")
    assert "Graded 2 students" in graded.stdout, graded.stdout
    cls.as_grader("nbgrader", "generate_feedback", ASSIGNMENT)
    cls.as_grader("nbgrader", "release_feedback", ASSIGNMENT)
    owner = pwd.getpwnam(cls.grader).pw_uid
    for folder in ("autograded", "feedback", "gradebook.db"):
        assert (cls.course_dir / folder).stat().st_uid == owner, f"{folder} is not the grader's"

    totals = {}
    for user in (cls.ann, cls.ben):
        listed = assignments(cls, user, tokens[user], "fetch_feedback")
        feedback = cls.home(user) / COURSE_ID / ASSIGNMENT / "feedback"
        pages = {path.name: path.read_bytes() for path in feedback.glob("*/*.html")}
        assert sorted(pages) == [lesson.replace(".ipynb", ".html") for lesson in LESSONS], (listed, pages.keys())
        own = cls.course_dir / "feedback" / user / ASSIGNMENT
        assert pages == {name: (own / name).read_bytes() for name in pages}, f"{user} fetched someone else's pages"
        totals[user] = pages
    assert totals[cls.ann] != totals[cls.ben]
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{cls.course_dir / 'gradebook.db'}") as gradebook:
        scores = {user: gradebook.find_submission(ASSIGNMENT, user).score for user in (cls.ann, cls.ben)}
        maximum = gradebook.find_assignment(ASSIGNMENT).max_score
    assert scores == {cls.ann: maximum, cls.ben: 0}, scores

    # Ben, as himself, against Ann's work and the course's release.
    ann_submission = next(name for name in inbound if name.startswith(cls.ann + "+"))
    ann_feedback = next((cls.exchange / COURSE_ID / "feedback").iterdir())
    probe = PROBE + f"""
attempt("list inbound", lambda: os.listdir({str(course_exchange / "inbound")!r}))
attempt("read Ann's submission", lambda: open({str(course_exchange / "inbound" / ann_submission / LESSONS[0])!r}).read())
attempt("rename Ann's submission", lambda: os.rename({str(course_exchange / "inbound" / ann_submission)!r},
                                                     {str(course_exchange / "inbound" / "gone")!r}))
attempt("list feedback", lambda: os.listdir({str(course_exchange / "feedback")!r}))
attempt("read Ann's home", lambda: os.listdir({str(cls.home(cls.ann))!r}))
attempt("read the grader's course", lambda: open({str(cls.course_dir / "gradebook.db")!r}, "rb").read())
attempt("read Ann's feedback in the course", lambda: os.listdir({str(cls.course_dir / "feedback")!r}))
attempt("rename the course", lambda: os.rename({str(course_exchange)!r}, {str(cls.exchange / "taken")!r}))
attempt("remove the release", lambda: os.rename({str(course_exchange / "outbound" / ASSIGNMENT)!r},
                                                {str(course_exchange / "outbound" / "old")!r}))
attempt("plant a release", lambda: os.mkdir({str(course_exchange / "outbound" / "planted")!r}))
attempt("overwrite a lesson", lambda: open({str(course_exchange / "outbound" / ASSIGNMENT / LESSONS[0])!r}, "a"))
print(json.dumps(outcome))
"""
    outcome = try_as(cls, cls.ben, probe)
    assert outcome == {name: "PermissionError" for name in outcome}, outcome
    assert len(outcome) == 11
    # Feedback pages are named with a secret of the submission: one is reached only by its name, which feedback/
    # does not list (nbgrader's own design).
    assert len(ann_feedback.name) >= 32
