"""A fresh machine: the tools the project starts are found without PATH's help, and a wheel works on its own."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from mnist_lessons import environment
from mnist_lessons.grading import classgrading

ROOT = Path(__file__).resolve().parents[1]
BARE_PATH = "/usr/bin:/bin"  # a machine where nothing was installed globally and no virtualenv is activated


def test_scripts_folder_leads_path_once(monkeypatch):
    """Does child_env put this interpreter's scripts folder first on PATH, once, keeping the rest in order?"""
    scripts = str(environment.scripts_dir())
    monkeypatch.setenv("PATH", f"/usr/bin:{scripts}:/bin")
    env = environment.child_env(EXTRA="1")
    assert env["PATH"].split(os.pathsep) == [scripts, "/usr/bin", "/bin"]
    assert env["EXTRA"] == "1"
    assert (environment.scripts_dir() / "alembic").exists()  # what nbgrader starts by name


def test_nbgrader_needs_no_activated_venv(tmp_path, monkeypatch):
    """With a bare PATH, do make_course's nbgrader calls and a plain `nbgrader` command (which makes a gradebook) work?"""
    monkeypatch.setenv("PATH", BARE_PATH)
    assert shutil.which("alembic") is None or not shutil.which("alembic").startswith(str(environment.scripts_dir()))
    course = classgrading.make_course(tmp_path / "course", ["02_preprocess"], {"ada": ROOT / "solutions" / "mnist"})
    assert (course / "course" / "mnist" / "02_preprocess.ipynb").is_file()
    (course / "gradebook.db").unlink()  # the next command must make a new one, running alembic itself
    completed = subprocess.run(
        [str(environment.scripts_dir() / "nbgrader"), "db", "student", "add", "grace"],
        cwd=course, env={"PATH": BARE_PATH, "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert (course / "gradebook.db").is_file()


# ---------------------------------------------------------------- a non-editable install


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    """A new virtualenv holding mnist-lessons built as a wheel; its dependencies come from this one.

    Only the dependencies are shared (a .pth line naming this environment's site-packages, which adds
    the folder but not its .pth files, so this clone's editable install stays out).
    """
    venv = tmp_path_factory.mktemp("wheel") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-build-isolation",
         "--quiet", str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return venv


def run_in(venv, *args, cwd, timeout=600):
    env = {"PATH": BARE_PATH, "HOME": str(cwd), "MPLBACKEND": "Agg"}  # no MNIST_LESSONS_DATA: the packaged data
    return subprocess.run([*args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_wheel_is_used_not_the_clone(wheel_env, tmp_path):
    """Does the new virtualenv import mnist_lessons from its own site-packages, with MNIST, lessons and tests inside?"""
    completed = run_in(wheel_env, wheel_env / "bin" / "python", "-c",
                       "import mnist_lessons, mnist_lessons.coursefiles as c; print(mnist_lessons.__file__); "
                       "print(c.lessons_dir()); print(c.autograder_dir()); print(c.grading_release_dir())",
                       cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    package, lessons, autograder, release = completed.stdout.split()
    assert package.startswith(str(wheel_env)) and not package.startswith(str(ROOT))
    assert lessons == release == str(Path(package).parent / "course")
    assert autograder == str(Path(package).parent / "autograder")


def test_wheel_data_command_reads_the_packaged_mnist(wheel_env, tmp_path):
    """Does `mnist-lessons data` from the wheel report the full 60,000 + 10,000 images, verified, nothing on stderr?"""
    completed = run_in(wheel_env, wheel_env / "bin" / "mnist-lessons", "data", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert "all four arrays match the published MNIST" in completed.stdout
    assert "60,000 images" in completed.stdout and "10,000 images" in completed.stdout
    assert str(wheel_env) in completed.stdout  # the copy inside the installed package


def test_wheel_train_runs(wheel_env, tmp_path):
    """Does `mnist-lessons train` from the wheel train and write its metrics (one epoch on the sample, for time)?"""
    completed = run_in(wheel_env, wheel_env / "bin" / "mnist-lessons", "train", "--data", "sample",
                       "--epochs", "1", "--out", "run", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["num_train_images"] == 6000 and metrics["test_accuracy"] > 0.8


def test_wheel_lab_and_self_check(wheel_env, tmp_path):
    """From the wheel, does `lab` hand out the course, and does `pytest autograder/` there fail a stub and pass an answer?"""
    completed = run_in(wheel_env, wheel_env / "bin" / "mnist-lessons", "lab", "--dry-run", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    course = tmp_path / "mnist-course"
    assert f"--ServerApp.root_dir={course}" in completed.stdout
    assert (course / "mnist" / "02_preprocess.ipynb").is_file()

    def self_check():
        return run_in(wheel_env, wheel_env / "bin" / "python", "-m", "pytest", "autograder/test_02_preprocess.py",
                      "-q", "-p", "no:cacheprovider", cwd=course)

    stub = self_check()
    assert stub.returncode == 1, stub.stdout[-2000:]
    assert "2 failed" in stub.stdout and "not written yet" in stub.stdout
    shutil.copy(ROOT / "solutions" / "mnist" / "02_preprocess.ipynb", course / "mnist")
    answer = self_check()
    assert answer.returncode == 0, answer.stdout[-2000:]
    assert "2 passed" in answer.stdout
