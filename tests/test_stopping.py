"""No debris after a stopped autograde-class: its children and their trees killed, stale scratch folders removed (grading/classgrading.py).

With a short-lived fake child in place of nbgrader: a process that starts a
grandchild in a session of its own, as the engine's sandboxed child is.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from mnist_lessons.grading import classgrading, processes

# A stand-in for nbgrader: starts a grandchild in its own session (as the engine's child), writes both pids, waits.
FAKE_NBGRADER = textwrap.dedent("""
    import json, subprocess, sys, time
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    with open(sys.argv[1] + ".tmp", "w") as file:
        json.dump([__import__("os").getpid(), grandchild.pid], file)
    __import__("os").replace(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(300)
""")


def alive(pid):
    stat = processes.proc_stat(pid)
    return stat is not None and stat[0] != "Z"


def wait_for(path, seconds=60):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return json.loads(path.read_text())


def until(what, condition, seconds=10):
    """Poll ``condition()`` until it is true; fail, saying ``what`` was awaited, past ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.05)


def cwd_of(pid):
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


def wait_gone(pids, seconds=10):
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def test_stop_children_kills_each_whole_tree(tmp_path):
    """Does stop_children kill a child and its grandchild in another session, and let the caller go on?"""
    pids_file = tmp_path / "pids.json"
    done = {}
    thread = threading.Thread(target=lambda: done.update(
        completed=classgrading.run_child([sys.executable, "-c", FAKE_NBGRADER, str(pids_file)], cwd=tmp_path)))
    thread.start()
    pids = wait_for(pids_file)
    try:
        classgrading.stop_children()
        thread.join(30)
        assert not thread.is_alive() and done["completed"].returncode == -signal.SIGKILL
        assert wait_gone(pids) == []
    finally:
        classgrading._STOPPING.clear()
        classgrading.kill_trees(pids)


def test_sigterm_to_the_driver_leaves_nothing_running(tmp_path):
    """A driver stopped by SIGTERM: does it exit at once with 128 + 15, its child and grandchild gone?"""
    pids_file = tmp_path / "pids.json"
    driver = textwrap.dedent(f"""
        import sys, threading
        from mnist_lessons.grading import classgrading
        try:
            with classgrading.stop_on_signals():
                worker = threading.Thread(target=classgrading.run_child,
                                          args=([sys.executable, "-c", {FAKE_NBGRADER!r}, {str(pids_file)!r}], "."))
                worker.start()
                worker.join()
        except classgrading.Stopped as stopped:
            sys.exit(128 + stopped.signum)
    """)
    process = subprocess.Popen([sys.executable, "-c", driver], cwd=tmp_path, start_new_session=True)
    try:
        pids = wait_for(pids_file)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 128 + signal.SIGTERM
        assert wait_gone(pids) == []
    finally:
        process.kill()
        classgrading.kill_trees([process.pid])


def test_stale_scratch_folders_are_removed_with_their_processes(tmp_path):
    """At the next start: is a scratch folder whose owner is gone removed, what still ran in it killed, and a live one's kept?"""
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / "autograde-ada-x1"
    stale.mkdir()
    (stale / classgrading.OWNER_FILE).write_text(json.dumps({**classgrading._owner(), "pid": dead.pid}))
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], cwd=stale,
                                start_new_session=True)
    live = tmp_path / "autograde-bob-x2"
    live.mkdir()
    (live / classgrading.OWNER_FILE).write_text(json.dumps(classgrading._owner()))
    other = tmp_path / "not-ours"
    other.mkdir()
    try:
        until("the leftover working in its folder", lambda: cwd_of(leftover.pid) == str(stale))
        assert classgrading.remove_stale_scratch(tmp_path) == [stale]
        assert leftover.wait(10) == -signal.SIGKILL
        assert not stale.exists() and live.is_dir() and other.is_dir()
    finally:
        leftover.kill()


def test_a_hung_nbgrader_is_stopped_with_its_tree(tmp_path, monkeypatch):
    """Is an nbgrader command that outlives the time one student may take stopped, grandchildren and all, with an error?"""
    monkeypatch.setattr(classgrading, "CHILD_SECONDS", 2)
    pids_file = tmp_path / "pids.json"
    script = tmp_path / "fake_nbgrader.py"
    script.write_text(FAKE_NBGRADER)
    completed = classgrading.run_child([sys.executable, str(script), str(pids_file)], cwd=tmp_path)
    assert completed.returncode != 0 and "[ERROR] nbgrader was stopped after 2 s" in completed.stderr
    assert wait_gone(json.loads(pids_file.read_text())) == []


def test_each_student_has_one_deadline_for_all_lessons():
    """Does nbgrader's door give all of one student's lessons the same deadline in one grading run, each student
    their own, and a later run (a regrade in the formgrader's long-lived process) a new one?"""
    from traitlets.config import Configurable

    from mnist_lessons.grading import preprocessors

    def limits(run, student, notebook):
        grader = preprocessors.GradeInSandbox(parent=run)  # nbgrader makes one per notebook, its exporter the parent
        return preprocessors._limits(grader, {"nbgrader": {"assignment": "mnist", "student": student,
                                                           "notebook": notebook}})

    seconds = preprocessors._engine().SUBMISSION_SECONDS
    run, later_run = Configurable(), Configurable()
    before = time.monotonic()
    first = limits(run, "ada", "01_load_data")
    assert before + seconds <= first.deadline <= time.monotonic() + seconds  # set when her first lesson was asked
    assert limits(run, "ada", "02_preprocess").deadline == first.deadline
    preprocessors.grading_run(preprocessors.GradeInSandbox(parent=run))["deadlines"][("mnist", "bob")] = 0.0
    assert limits(run, "bob", "01_load_data").deadline == 0.0  # bob's clock in this run, run out
    before = time.monotonic()
    assert limits(later_run, "bob", "01_load_data").deadline >= before + seconds  # a new run, a new clock

