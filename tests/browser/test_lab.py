"""The lessons as students meet them: JupyterLab 4 in headless Chromium, with nbgrader's extensions (marker ``browser``)."""

import re
import sys
import time
from pathlib import Path

import pytest

from mnist_lessons.checks import HIDDEN_PASSED, PASSED
from mnist_lessons.exercises import LESSONS

RUN_SECONDS = 300  # every cell of a lesson, lesson 05's full training run included
ERROR_OR_STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


def open_notebook(page, lab_server, path):
    base, token, _ = lab_server
    page.goto(f"{base}/lab/tree/{path}?token={token}&reset")
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", timeout=60_000)
    page.wait_for_function(  # the kernel has started: the status bar says "Python 3 (ipykernel) | Idle"
        "() => (document.querySelector('#jp-main-statusbar') || {}).innerText?.includes('| Idle')", timeout=60_000)
    assert page.locator(".jp-Dialog").count() == 0, page.locator(".jp-Dialog").first.inner_text()
    assert page.native_dialogs == []


def click_menu(page, menu, item):
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).click()


def run_all_cells(page, until_error=False):
    """Run → Run All Cells, then wait until every code cell shows its execution number.

    JupyterLab stops running at a cell that raises: with ``until_error``, wait
    instead until nothing runs any more and an error is shown.
    """
    click_menu(page, "Run", "Run All Cells")
    deadline = time.monotonic() + RUN_SECONDS
    while True:
        prompts = [text.strip() for text in page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()]
        if prompts and all(re.fullmatch(r"\[\d+\]:", text) for text in prompts):
            return prompts
        if until_error and page.locator(ERROR_OR_STDERR).count() and not any("*" in text for text in prompts):
            return prompts
        assert time.monotonic() < deadline, f"cells still running or not run after {RUN_SECONDS} s: {prompts}"
        time.sleep(1)


@pytest.mark.parametrize("lesson", LESSONS)
def test_completed_lesson_runs_in_jupyterlab(page, lab_server, lesson):
    """Does a completed lesson open without error dialogs, run every cell, render its plots and show every check passing?"""
    open_notebook(page, lab_server, f"work/{lesson}.ipynb")
    prompts = run_all_cells(page)
    assert [int(text[1:-2]) for text in prompts] == list(range(1, len(prompts) + 1))  # top to bottom, once each
    assert page.locator(ERROR_OR_STDERR).count() == 0, page.locator(ERROR_OR_STDERR).first.inner_text()
    text = page.locator(".jp-Notebook").inner_text()
    for name in LESSONS[lesson]:
        assert PASSED.format(name=name) in text and HIDDEN_PASSED.format(name=name) in text
    images = page.locator(".jp-RenderedImage img")
    assert images.count() >= 1
    widths = images.evaluate_all("images => images.map(image => image.complete ? image.naturalWidth : 0)")
    assert all(width > 100 for width in widths), widths  # decoded pictures, not broken images
    assert page.locator(".jp-Dialog").count() == 0


def test_wrong_exercise_shows_its_failure(page, lab_server):
    """Does a deliberately wrong exercise show its check's verdict alone (no traceback), where JupyterLab stops?"""
    open_notebook(page, lab_server, "wrong/02_preprocess.ipynb")
    run_all_cells(page, until_error=True)
    errors = page.locator(ERROR_OR_STDERR).all_inner_texts()
    assert len(errors) == 1
    assert "The check did not pass" in errors[0] and "Called preprocess_images(" in errors[0]
    assert "expected (3, 784)" in errors[0]
    assert len(errors[0].strip().splitlines()) <= 8 and "checks.py" not in errors[0]  # the verdict, not a traceback


@pytest.mark.parametrize("folder, verdict", [("work", "Success! Your notebook passes all the tests."),
                                             ("wrong", "failed")], ids=["completed", "wrong"])
def test_validate_button(page, lab_server, folder, verdict):
    """Does nbgrader's Validate button on a lesson report success for a completed one and the failure for a wrong one?"""
    open_notebook(page, lab_server, f"{folder}/02_preprocess.ipynb")
    page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate", exact=True).click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=30_000)
    dialog.get_by_text(re.compile(re.escape(verdict), re.IGNORECASE)).first.wait_for(timeout=120_000)


def test_nbgrader_menu_and_formgrader(page, lab_server):
    """Is there an Nbgrader menu, and does its Formgrader show the course's assignment to an instructor?"""
    open_notebook(page, lab_server, "work/01_load_data.ipynb")
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).click()
    items = page.locator(".lm-Menu-itemLabel").all_inner_texts()
    assert "Formgrader" in items and "Assignment List" in items, items
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Formgrader$")).click()
    formgrader = page.frame_locator("iframe").first
    formgrader.get_by_text("Manage Assignments").first.wait_for(timeout=60_000)
    formgrader.get_by_text("mnist", exact=True).first.wait_for(timeout=60_000)


def _processes():
    """(pid, parent pid, command line) of every process, from Linux's /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue  # /proc/self, /proc/cpuinfo, ...
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")[:-1]
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # not a process, or it ended while we looked
        yield int(entry.name), parent, [word.decode(errors="replace") for word in argv]


def test_lessons_run_on_the_projects_python(page, lab_server):
    """Do JupyterLab and a lesson's kernel run on this project's Python, not on another environment's found on $PATH?"""
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("needs Linux's /proc to see the server's processes")
    _, token, _ = lab_server
    open_notebook(page, lab_server, "work/01_load_data.ipynb")
    processes = list(_processes())
    servers = [(pid, argv) for pid, _, argv in processes if f"--IdentityProvider.token={token}" in argv]
    assert len(servers) == 1, servers
    server_pid, server_argv = servers[0]
    kernels = [argv for _, parent, argv in processes if parent == server_pid and "ipykernel_launcher" in argv]
    assert kernels, f"no kernel started by the server: {server_argv}"
    assert {server_argv[0]} | {argv[0] for argv in kernels} == {sys.executable}
