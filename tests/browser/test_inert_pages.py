"""What an instructor or a student opens from nbgrader runs none of the learner's scripts (issue 27), in a real browser.

One submission of lesson 01 carries a script every way a notebook can: in an
HTML output (``<img onerror>``, ``<script>``), a JavaScript output, an SVG
output, a markdown cell of the learner's (raw HTML and a ``javascript:``
link). It is autograded by the real ``nbgrader autograde``, with hints off
for the class, and its feedback made by ``nbgrader generate_feedback``. Each
script would set the page's title to PROBE or add an element with id PROBE.
The pages are opened in Chromium: the feedback page, and nbgrader's
formgrader view of the submission in a JupyterLab started here.

The test process never imports the grading engine (nbgrader does, in its own
process), so that nothing it imports changes this process's network, which
the formgrader's server and the browser share.

Two guards stand in the way: what autograding keeps (text and images, the
markdown's HTML as text) and how the pages render (``nbgrader_config.py``'s
HTMLExporter settings). Each is tested alone, on a copy of the course whose
autograded notebook is put back to what the learner submitted; and that copy
rendered with the renderer's sanitizing off shows the probe working (the
script runs), so these tests can fail.
"""

import copy
import json
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from mnist_lessons.coursefiles import ASSIGNMENT, nbgrader_config_path
from mnist_lessons.environment import child_env
from mnist_lessons.grading.marksubmittedoutput import NOTE_ID

from conftest import ROOT, jupyterlab

LESSON = "01_load_data"
STUDENT = "mallory"
PROBE = "pwned"
SET_PROBE = f"document.title='{PROBE}'; document.body.insertAdjacentHTML('beforeend', '<p id={PROBE}>{PROBE}</p>')"
SCRIPT_HTML = f'<img src=x onerror="{SET_PROBE}"><script>{SET_PROBE}</script>'
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="  # 1x1
PRINTED = "the learner's own run printed this"
LEARNER_NOTES = f"My notes {SCRIPT_HTML} [click me](javascript:{SET_PROBE})"
SANITIZING_OFF = "\nc.HTMLExporter.sanitize_html = False\nc.HTMLExporter.filters = {}\n"


def grade_id(cell):
    return cell["metadata"].get("nbgrader", {}).get("grade_id")


def display(data):
    return {"output_type": "display_data", "data": {"text/plain": "<object>", **data}, "metadata": {}}


RAW_OUTPUTS = [
    display({"text/html": SCRIPT_HTML}),
    display({"application/javascript": SET_PROBE}),
    display({"image/svg+xml": f'<svg xmlns="http://www.w3.org/2000/svg" onload="{SET_PROBE}"></svg>'}),
    display({"image/png": PNG}),
    {"output_type": "stream", "name": "stdout", "text": PRINTED + "\n"},
]


def hostile_submission():
    """Lesson 01 solved, as run by a learner whose outputs and notes carry scripts."""
    notebook = json.loads((ROOT / "solutions" / "mnist" / f"{LESSON}.ipynb").read_text())
    cells = notebook["cells"]
    where = next(i for i, cell in enumerate(cells) if grade_id(cell) == "load_data")
    cells[where]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "loaded (learner's run)\n"}]
    cells[where]["execution_count"] = 3
    cells.insert(where + 2, {"cell_type": "markdown", "id": "learner-notes", "metadata": {}, "source": LEARNER_NOTES})
    cells.insert(where + 3, {"cell_type": "code", "id": "learner-display", "metadata": {}, "execution_count": 4,
                             "source": "from IPython.display import HTML, Javascript, SVG, Image\nshow_everything()",
                             "outputs": copy.deepcopy(RAW_OUTPUTS)})
    return notebook


def nbgrader(course, *args):
    completed = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=child_env(),
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(course, submission id): the hostile submission autograded by nbgrader with hints off, its feedback made."""
    course = tmp_path_factory.mktemp("hostile") / "course"
    (course / "solutions" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / ASSIGNMENT / f"{LESSON}.ipynb", course / "solutions" / ASSIGNMENT)
    shutil.copy(nbgrader_config_path(), course / "nbgrader_config.py")
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    (course / "submitted" / STUDENT / ASSIGNMENT).mkdir(parents=True)
    (course / "submitted" / STUDENT / ASSIGNMENT / f"{LESSON}.ipynb").write_text(json.dumps(hostile_submission()))
    nbgrader(course, "db", "student", "add", STUDENT)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("\nc.ClearHints.enabled = True\n")  # a graded class; the learner's copy still had its hints
    nbgrader(course, "autograde", ASSIGNMENT, "--student", STUDENT)
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--student", STUDENT)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(LESSON, ASSIGNMENT, STUDENT)
        return course, notebook.id, (notebook.score, notebook.max_score)


def autograded(course):
    return course / "autograded" / STUDENT / ASSIGNMENT / f"{LESSON}.ipynb"


def feedback(course):
    return course / "feedback" / STUDENT / ASSIGNMENT / f"{LESSON}.html"


@pytest.fixture(scope="module")
def unguarded(graded, tmp_path_factory):
    """A copy of the course whose autograded notebook has the learner's raw outputs and notes back, as if autograding
    had kept everything: only the renderer stands in the way."""
    course, submission, _ = graded
    copy_of = tmp_path_factory.mktemp("unguarded") / "course"
    shutil.copytree(course, copy_of)
    notebook = json.loads(autograded(copy_of).read_text())
    for cell in notebook["cells"]:
        if cell.get("id") == "learner-notes":
            cell["source"] = LEARNER_NOTES
        if cell.get("id") == "learner-display":
            cell["outputs"] = copy.deepcopy(RAW_OUTPUTS)
    autograded(copy_of).write_text(json.dumps(notebook))
    return copy_of, submission


def sanitizing_off(course, tmp_path_factory):
    """A copy of ``course`` whose nbgrader_config.py renders with nbconvert's and nbgrader's defaults."""
    copy_of = tmp_path_factory.mktemp("sanitizing-off") / "course"
    shutil.copytree(course, copy_of)
    with open(copy_of / "nbgrader_config.py", "a") as config:
        config.write(SANITIZING_OFF)
    return copy_of


def ran_a_script(page):
    """Whether any of the learner's scripts ran in ``page``, or could: its javascript: link, left in, counts as one
    (clicking it and waiting a moment would pass on a slow machine without testing anything)."""
    page.wait_for_load_state("load")
    runnable_link = page.locator('a[href^="javascript:" i]').count() > 0
    return runnable_link or page.title() == PROBE or page.locator(f"#{PROBE}").count() > 0


def open_feedback(page, course):
    page.goto(feedback(course).as_uri())
    return ran_a_script(page)


def open_formgrader(page, course, submission, tmp_path_factory):
    with jupyterlab(course, tmp_path_factory, log_name="jupyterlab-formgrader.log") as (base, token):
        page.goto(f"{base}/formgrader/submissions/{submission}/?token={token}")
        page.get_by_text(PRINTED).first.wait_for(timeout=30_000)  # the submission's own page, rendered
        return ran_a_script(page)


def test_autograded_notebook_keeps_the_learners_run_inertly(graded):
    """Does the autograded notebook say first that its outputs are the student's run, keep that run's text and images
    only, keep the learner's markdown's HTML as text, show the verdicts in the checks, and have no hint cell?"""
    course, _, score = graded
    notebook = nbformat.read(autograded(course), as_version=4)
    cells = {cell["id"]: cell for cell in notebook["cells"]}
    assert notebook["cells"][0]["id"] == NOTE_ID
    assert [output.get("data", {}) for output in cells["learner-display"]["outputs"]][:4] == [
        {"text/plain": "<object>"}, {"text/plain": "<object>"}, {"text/plain": "<object>"},
        {"text/plain": "<object>", "image/png": PNG}]
    assert cells["learner-display"]["outputs"][4]["text"] == PRINTED + "\n"
    assert "<" not in cells["learner-notes"]["source"]
    load_data = next(cell for cell in notebook["cells"] if grade_id(cell) == "load_data")
    assert "loaded (learner's run)" in json.dumps(load_data["outputs"])
    check = next(cell for cell in notebook["cells"] if grade_id(cell) == "check_load_data")
    assert "passed" in json.dumps(check["outputs"]) and check["outputs"][0]["output_type"] == "stream"
    assert not [cell for cell in notebook["cells"] if "hint" in cell["metadata"].get("tags", [])]
    assert "checks.hint" not in json.dumps(notebook) and "checks.hint" not in feedback(course).read_text()
    assert score == (4.0, 4.0)


def test_feedback_page_runs_no_learner_script(graded, page):
    """Does the feedback page show the learner's text, image and notes, and run none of their scripts?"""
    course, _, _ = graded
    assert not open_feedback(page, course)
    assert page.get_by_text(PRINTED).first.is_visible()
    assert page.get_by_text("student's own run").first.is_visible()
    assert page.locator('img[src^="data:image/png"]').count() >= 1
    assert page.get_by_text("My notes <img").first.is_visible(), "the learner's HTML shows as the text they typed"


def test_formgrader_runs_no_learner_script(graded, page, tmp_path_factory):
    """Does nbgrader's formgrader view of the submission run none of the learner's scripts?"""
    course, submission, _ = graded
    assert not open_formgrader(page, course, submission, tmp_path_factory)


def test_renderer_alone_runs_no_learner_script(unguarded, page, tmp_path_factory):
    """With the learner's raw outputs and notes in the autograded notebook, do the feedback page and the formgrader,
    rendered as nbgrader_config.py says, still run none of their scripts?"""
    course, submission = unguarded
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--student", STUDENT, "--force")
    assert not open_feedback(page, course)
    assert not open_formgrader(page, course, submission, tmp_path_factory)


def test_probe_runs_when_sanitizing_is_off(unguarded, page, tmp_path_factory):
    """Rendered with nbconvert's and nbgrader's defaults, does the same notebook run the learner's script, in the
    feedback page and in the formgrader (so that the tests above can fail)?"""
    course, submission = unguarded
    course = sanitizing_off(course, tmp_path_factory)
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--student", STUDENT, "--force")
    assert open_feedback(page, course)
    assert open_formgrader(page, course, submission, tmp_path_factory)
