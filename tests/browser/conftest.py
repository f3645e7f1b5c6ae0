"""A real JupyterLab and a real headless Chromium for the browser tests (marker ``browser``).

JupyterLab runs from this project's environment on a free loopback port with a
random token, in a temporary nbgrader course directory (so that nbgrader's
formgrader has a course to show) holding:

- ``work/``: a completed copy of every lesson (the solutions), as a learner
  who finished them would have it;
- ``wrong/02_preprocess.ipynb``: lesson 02 with a deliberately wrong exercise.

Chromium is Debian's (``/usr/bin/chromium``, ``apt-get install chromium``),
driven by Playwright's Python package; no browser is downloaded. Where either
is missing, the tests skip and say so. Screenshots go to ``ARTIFACTS``
(``tests/browser/artifacts/``, git-ignored; set MNIST_LESSONS_ARTIFACTS to
put them elsewhere).
"""

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mnist_lessons.environment import child_env

CHROMIUM = Path(os.environ.get("MNIST_LESSONS_CHROMIUM", "/usr/bin/chromium"))
# The machine's network is closed: without these, Chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("MNIST_LESSONS_ARTIFACTS", Path(__file__).parent / "artifacts"))
ROOT = Path(__file__).resolve().parents[2]
SERVER_START_SECONDS = 90

# JupyterLab settings for a test run: every cell in the page (JupyterLab 4 otherwise renders
# only the cells in view, so off-screen outputs could not be checked), and no news pop-up.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def playwright_browser():
    """A headless Chromium, or a skip that says what is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright's Python package is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    """A running JupyterLab on the course directory described above: (base URL, token, root folder)."""
    from mnist_lessons.grading.classgrading import make_course

    root = make_course(tmp_path_factory.mktemp("lab-course"))
    (root / "work").mkdir()
    for notebook in sorted((ROOT / "solutions" / "mnist").glob("*.ipynb")):
        shutil.copy(notebook, root / "work")
    (root / "wrong").mkdir()
    wrong = json.loads((ROOT / "solutions" / "mnist" / "02_preprocess.ipynb").read_text())
    for cell in wrong["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "preprocess_images":
            cell["source"] = "def preprocess_images(images):\n    return images / 255  # forgot to flatten\n"
    (root / "wrong" / "02_preprocess.ipynb").write_text(json.dumps(wrong))

    with jupyterlab(root, tmp_path_factory) as (base, token):
        yield base, token, root


@contextlib.contextmanager
def jupyterlab(root, tmp_path_factory, log_name="jupyterlab.log"):
    """A JupyterLab serving ``root`` (an nbgrader course directory, its working folder too) on a free loopback port
    with a random token: (base URL, token) while the block runs, stopped after it."""
    settings = tmp_path_factory.mktemp("lab-settings")
    workspaces = tmp_path_factory.mktemp("lab-workspaces")  # no tabs restored from an earlier session
    for name, values in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.listen()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError as err:  # the server would start, and never be reached
            pytest.fail(f"this test process cannot reach its own loopback ({err}): something it imported moved it "
                        "into an empty network namespace (a grader's sandbox set-up, run outside the sandbox?)")
    token = secrets.token_hex(16)
    log_path = ARTIFACTS / log_name
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # As `mnist-lessons lab` starts it: this environment's tools first on PATH (the Formgrader's alembic),
    # and the MNIST inside the package.
    env = child_env(MPLBACKEND="Agg")
    env.pop("MNIST_LESSONS_DATA", None)
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            # -m jupyterlab (not -m jupyter lab, which finds jupyter-lab on $PATH first): this environment's
            # JupyterLab, whose default kernel is then this environment's Python too.
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
             f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workspaces}", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with status {server.returncode}; see {log_path}")
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {SERVER_START_SECONDS} s; see {log_path}")
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture
def page(playwright_browser, request):
    """A fresh browser page; a screenshot of it is saved under ARTIFACTS when the test ends."""
    context = playwright_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.native_dialogs = dialogs
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
