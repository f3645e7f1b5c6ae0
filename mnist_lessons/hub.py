"""A JupyterHub for a class of the course, on one machine: nbgrader's own JupyterHub integration, set up once.

``configure(c, ...)`` fills a ``jupyterhub_config.py``: students as real accounts (LocalProcessSpawner), the
course's service running JupyterLab and the formgrader as the grader's account, the groups ``formgrade-<course>``
and ``nbgrader-<course>`` and the roles nbgrader needs. ``setup(...)``, run once as root
(``mnist-lessons hub-setup``), makes the exchange (mnist_lessons/grading/exchange.py) and writes the two small
configuration files the servers read: the students' nbgrader settings and the course service's page header.
docs/jupyterhub.md shows the whole; tests/test_hub.py runs it with real accounts.
"""

import os
import sys

from mnist_lessons.grading.exchange import prepare_exchange

COURSE_ID = "mnist-lessons"  # nbgrader_config.py's c.CourseDirectory.course_id: the groups and the service are named for it
EXCHANGE = "/srv/nbgrader/exchange"  # the hub's shared exchange, outside every home
CONFIG_DIR = "/etc/mnist-lessons"  # students/nbgrader_config.py and course/jupyter_server_config.py, from setup()
SERVICE_PORT = 9999  # the course service's own port on 127.0.0.1 (nbgrader's demos use the same)

STUDENT_CONFIG = '''\
"""nbgrader's settings for the students' servers of {course_id} (written by mnist-lessons hub-setup)."""
from nbgrader.auth import JupyterHubAuthPlugin

c = get_config()  # noqa: F821
c.Exchange.root = {exchange!r}
c.Exchange.path_includes_course = True  # fetched work goes to ~/{course_id}/<assignment>/
c.Authenticator.plugin_class = JupyterHubAuthPlugin  # the courses a student sees are their nbgrader-<course> groups
c.ExchangeFactory.submit = "mnist_lessons.grading.exchange.Submit"  # a submission only its student and the grader read
'''

# JupyterHub 4.1 and later forbid framing by default; the formgrader shows its pages in a frame of JupyterLab's own.
SERVICE_CONFIG = '''\
"""The course service's JupyterLab (written by mnist-lessons hub-setup): the formgrader's frames are its own."""
c = get_config()  # noqa: F821
c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}
'''


def configure(c, *, grader, course_dir, students, instructors=(), course_id=COURSE_ID, exchange=EXCHANGE,
              config_dir=CONFIG_DIR, service_port=SERVICE_PORT, environment=sys.prefix):
    """Set JupyterHub's config ``c`` for one class; ``environment`` is the Python environment with the course.

    ``grader`` is the account that owns ``course_dir`` (a clone of the repository) and runs the course's service;
    ``students`` and ``instructors`` are the accounts (hub names) of the class. Everyone's server and kernel
    run from ``environment``, so every lesson imports the course's package.
    """
    if not students:
        raise ValueError("configure: no students: give the accounts of the class")
    singleuser = os.path.join(environment, "bin", "jupyterhub-singleuser")
    path = os.pathsep.join([os.path.join(environment, "bin"), "/usr/local/bin", "/usr/bin", "/bin"])

    c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"  # each student's server as that account
    c.Spawner.cmd = [singleuser]
    c.Spawner.default_url = "/lab"
    c.Spawner.environment.update({
        "PATH": path,  # a terminal's nbgrader and python are the course's
        "JUPYTER_CONFIG_PATH": os.path.join(config_dir, "students"),  # the students' nbgrader settings
    })
    c.Authenticator.allowed_users.update(set(students) | set(instructors))

    c.JupyterHub.services.append({
        "name": course_id,
        "url": f"http://127.0.0.1:{service_port}",
        "command": [singleuser],
        "user": grader,
        "cwd": str(course_dir),
        "oauth_no_confirm": True,
        "environment": {
            "JUPYTERHUB_DEFAULT_URL": "/lab",
            "PATH": path,
            "JUPYTER_CONFIG_PATH": os.path.join(config_dir, "course"),
            "MNIST_LESSONS_EXCHANGE": str(exchange),  # nbgrader_config.py's exchange, for every command run here
        },
    })
    # nbgrader reads a course from a group's name: formgrade-<course> grades it, nbgrader-<course> takes it.
    c.JupyterHub.load_groups.update({
        f"formgrade-{course_id}": {"users": sorted(instructors)},
        f"nbgrader-{course_id}": {"users": sorted(students)},
    })
    c.JupyterHub.load_roles.extend([
        # A server's token may do what its owner may: nbgrader reads its owner's groups through it.
        {"name": "server", "scopes": ["inherit"]},
        {"name": f"formgrade-{course_id}", "groups": [f"formgrade-{course_id}"],
         "scopes": [f"access:services!service={course_id}"]},
        {"name": f"nbgrader-{course_id}", "groups": [f"nbgrader-{course_id}"],
         "scopes": ["list:services", f"read:services!service={course_id}"]},
    ])


def setup(*, grader, course_id=COURSE_ID, exchange=EXCHANGE, config_dir=CONFIG_DIR):
    """As root: make the exchange and write the students' and the course service's settings; return the files."""
    prepare_exchange(exchange, course_id, grader)
    written = []
    for folder, name, text in (
        ("students", "nbgrader_config.py", STUDENT_CONFIG.format(course_id=course_id, exchange=str(exchange))),
        ("course", "jupyter_server_config.py", SERVICE_CONFIG),
    ):
        target = os.path.join(config_dir, folder, name)
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        with open(target, "w") as file:
            file.write(text)
        os.chmod(target, 0o644)
        written.append(target)
    return written
