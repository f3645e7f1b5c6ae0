"""What a student and an instructor see on the class's JupyterHub (issue 28), in headless Chromium (markers
``browser`` and ``hub``).

On a hub as tests/test_hub.py runs it (tests/hubclass.py, here with an instructor account in formgrade-<course>),
the grader releases the lessons. A student logs in on JupyterHub's own login page (its default PAM authenticator,
with a password the test gives the account), gets their JupyterLab, opens nbgrader's Assignments tab, sees the
release and fetches it with the tab's Fetch button. Then the instructor logs in the same way, opens the course's
service and its Formgrader, and the formgrader's frame shows the assignment: JupyterHub 4.1 and later forbid
framing a server's pages unless the server says otherwise (mnist_lessons/hub.py's SERVICE_CONFIG does).

The browser reaches nothing but 127.0.0.1: every other request is refused and named in the failures.
"""

import re
import secrets
import subprocess
from urllib.parse import urlsplit

import pytest

from conftest import ARTIFACTS
from hubclass import ASSIGNMENT, COURSE_ID, LESSONS, SERVER_START_S, needs_a_machine, running_hub, wait_for_service

pytestmark = [pytest.mark.browser, pytest.mark.hub, needs_a_machine]
PAGE_S = 60  # one page, click or nbgrader action through the hub, on a busy 2-core machine
LOGIN_S = SERVER_START_S + PAGE_S  # the login, the student's server starting, and JupyterLab's first load


@pytest.fixture(scope="module")
def hub_with_instructor(playwright_browser):  # the browser first: where it is missing, skip before any account
    with running_hub(instructor=True) as cls:
        yield cls


def give_password(user):
    """A fresh password for ``user``'s OS account, for JupyterHub's PAM login; the account goes with the test."""
    password = secrets.token_urlsafe(16)
    subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True, capture_output=True)
    return password


class Browser:
    """One person's browser: its own cookies, every wait bounded, and no request beyond 127.0.0.1."""

    def __init__(self, playwright_browser):
        self.context = playwright_browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.set_default_timeout(PAGE_S * 1000)
        self.blocked = []
        self.context.route("**/*", self.only_loopback)
        self.page = self.context.new_page()
        self.page.on("dialog", lambda dialog: dialog.dismiss())

    def only_loopback(self, route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def log_in(self, cls, user, then=None):
        """JupyterHub's login page, filled in as a person would; ``then`` is where the hub sends them after."""
        self.page.goto(f"{cls.url}/hub/login" + (f"?next={then}" if then else ""))
        self.page.fill("#username_input", user)
        self.page.fill("#password_input", give_password(user))
        self.page.click("#login_submit")

    def wait_for_lab(self, path):
        """Wait until JupyterLab is up at ``path`` (say /user/ann/lab) and its menus are there."""
        self.page.wait_for_url(re.compile(re.escape(path)), timeout=LOGIN_S * 1000)
        self.page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).wait_for(
            timeout=LOGIN_S * 1000)

    def open_from_nbgrader_menu(self, item):
        self.page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()

    def screenshot(self, name):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self):
        self.context.close()


def test_a_student_fetches_from_the_assignments_tab_and_an_instructor_sees_the_formgrader(
        playwright_browser, hub_with_instructor, request):
    """Does a student who logs in to the hub see the release in the Assignments tab and fetch it there, and does an
    instructor see the course's formgrader (not a blank frame) in the course's service?"""
    cls = hub_with_instructor
    cls.as_grader("nbgrader", "generate_assignment", ASSIGNMENT, "--force")
    cls.as_grader("nbgrader", "release_assignment", ASSIGNMENT)
    lessons = [name.removesuffix(".ipynb") for name in LESSONS]

    student = Browser(playwright_browser)
    try:
        student.log_in(cls, cls.ann)  # the hub starts her server and sends her to it
        student.wait_for_lab(f"/user/{cls.ann}/lab")
        student.open_from_nbgrader_menu("Assignment List")
        page = student.page
        released = page.locator("#released_assignments_list > .list_item").filter(
            has=page.locator(".item_name", has_text=re.compile(f"^{ASSIGNMENT}$")))
        released.wait_for()
        assert released.locator(".item_course").inner_text().strip() == COURSE_ID
        fetch = released.locator(".item_status button")
        assert fetch.inner_text().strip() == "Fetch"
        fetch.click()

        downloaded = page.locator("#fetched_assignments_list a", has_text=re.compile(f"^{ASSIGNMENT}$"))
        downloaded.wait_for()
        downloaded.click()  # shows the assignment's notebooks
        notebooks = page.locator(f"#nbgrader-{COURSE_ID}-{ASSIGNMENT}.collapse.in")
        notebooks.wait_for()
        names = [text.strip() for text in notebooks.locator(".item_name").all_inner_texts() if text.strip()]
        assert names == lessons, names
        work = cls.home(cls.ann) / COURSE_ID / ASSIGNMENT
        assert sorted(path.name for path in work.glob("*.ipynb")) == LESSONS
        assert student.blocked == [], f"the student's pages asked beyond 127.0.0.1: {student.blocked}"
    finally:
        student.screenshot(f"{request.node.name}-student")
        student.close()

    wait_for_service(cls)
    instructor = Browser(playwright_browser)
    service = f"/services/{COURSE_ID}/lab"
    try:
        instructor.log_in(cls, cls.teacher, then=service)  # the hub sends them on to the course's service
        instructor.wait_for_lab(service)
        page = instructor.page
        with page.expect_response(lambda response: urlsplit(response.url).path.startswith(
                f"/services/{COURSE_ID}/formgrader") and response.request.resource_type == "document"
                and response.status == 200) as shown:
            instructor.open_from_nbgrader_menu("Formgrader")
        policy = shown.value.headers.get("content-security-policy", "")
        assert "frame-ancestors 'self'" in policy, policy  # JupyterHub's own default, 'none', leaves the frame blank
        formgrader = page.frame_locator("#formgrader-iframe iframe")
        formgrader.get_by_text("Manage Assignments").first.wait_for()
        formgrader.locator("table").get_by_text(ASSIGNMENT, exact=True).first.wait_for()
        assert instructor.blocked == [], f"the instructor's pages asked beyond 127.0.0.1: {instructor.blocked}"
    finally:
        instructor.screenshot(f"{request.node.name}-instructor")
        instructor.close()
