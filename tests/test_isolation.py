"""The sandbox: learner code touches nothing but its own scratch folder, and no process of it outlives grading.

Each case is an attack a security review made on the grader, replayed on
lesson 02 (no Keras, seconds each). The attacks that would do real harm
where the sandbox is missing (writing into this environment's packages) run
only where bubblewrap runs; `.ci/run` installs it. The others hold either
way, by the engine's own limits.
"""

import contextlib
import json
import os
import signal
import site
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path
from unittest import mock

import pytest

import mnist_lessons
from mnist_lessons.grading import engine, isolation
from mnist_lessons.exercises import BY_NAME

from test_autograder import FIND_CHANNEL, GOOD_ONE_HOT, SOLUTIONS, assert_zero_and_rest_graded, grade, submission

CONFINED = isolation.bubblewrap()[0] is not None
needs_bubblewrap = pytest.mark.skipif(not CONFINED, reason=f"no sandbox here: {isolation.bubblewrap()[1]}")
SOLVED = json.loads((SOLUTIONS / "02_preprocess.ipynb").read_text())
GOOD_PREPROCESS = next("".join(cell["source"]) for cell in SOLVED["cells"]
                       if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "preprocess_images")


def attack(code):
    """An exercise cell that tries ``code`` (swallowing its errors) and then answers correctly."""
    return f"try:\n{_indent(code)}\nexcept BaseException as err:\n    print('refused:', err)\n\n{GOOD_PREPROCESS}"


def _indent(code):
    return "\n".join("    " + line for line in code.splitlines())


def full_marks(result):
    return result.points == result.max_points == 4 and not any("without isolation" in n for n in result.notes)


@needs_bubblewrap
def test_the_gradebook_and_the_course_are_out_of_reach(tmp_path):
    """Can learner code that knows where the gradebook is, or looks for it through /proc, rewrite it? (It scored 14/14.)"""
    course = tmp_path / "course"
    course.mkdir()
    gradebook = course / "gradebook.db"
    gradebook.write_bytes(b"the real grades")
    hunt = (f"open({str(gradebook)!r}, 'wb').write(b'forged')\n")
    proc_hunt = ("import glob, os\n"
                 "for cwd in glob.glob('/proc/*/cwd'):\n"
                 "    for name in ('gradebook.db', '../gradebook.db', '../../gradebook.db'):\n"
                 "        try:\n"
                 "            open(os.path.join(cwd, name), 'r+b').write(b'forged')\n"
                 "        except OSError:\n"
                 "            pass\n")
    folder = submission(course, replace={"preprocess_images": attack(hunt + proc_hunt)})
    old = Path.cwd()
    os.chdir(course)  # the grader runs from the course folder, as nbgrader does
    try:
        result = grade(folder)
    finally:
        os.chdir(old)
    assert gradebook.read_bytes() == b"the real grades"
    assert full_marks(result), result.as_dict()


@needs_bubblewrap
def test_solutions_and_classmates_cannot_be_read(tmp_path):
    """Does a function that answers with the solutions/ file's own code (25/25 before) earn nothing?"""
    steal = ("import json\n"
             f"_nb = json.load(open({str(SOLUTIONS / '02_preprocess.ipynb')!r}))\n"
             "exec(next(''.join(c['source']) for c in _nb['cells'] if 'def preprocess_images' in ''.join(c['source'])))\n")
    source = f"def preprocess_images(images):\n    return None\ntry:\n{_indent(steal)}\nexcept Exception:\n    pass\n"
    result = grade(submission(tmp_path, replace={"preprocess_images": source}))
    assert_zero_and_rest_graded(result, "preprocess_images")


@needs_bubblewrap
def test_installed_packages_cannot_be_changed(tmp_path):
    """Can learner code drop a .pth into site-packages or write into the course package, reaching later students?"""
    marker = f"attack-{uuid.uuid4().hex}"
    package_file = Path(mnist_lessons.__file__).parent / f"{marker}.py"
    pth_file = Path(site.getsitepackages()[0]) / f"{marker}.pth"
    checks = Path(mnist_lessons.__file__).parent / "checks.py"
    before = checks.read_bytes()
    code = (f"open({str(package_file)!r}, 'w').write('x = 1')\n"
            f"open({str(pth_file)!r}, 'w').write('import os')\n"
            f"open({str(checks)!r}, 'a').write('\\n# forged')\n")
    try:
        result = grade(submission(tmp_path, replace={"preprocess_images": attack(code)}))
        assert not package_file.exists() and not pth_file.exists()
        assert checks.read_bytes() == before
        assert full_marks(result), result.as_dict()
    finally:  # where the sandbox failed, undo the harm before anything else reads it
        package_file.unlink(missing_ok=True)
        pth_file.unlink(missing_ok=True)
        if checks.read_bytes() != before:
            checks.write_bytes(before)


@needs_bubblewrap
def test_nothing_outlives_grading_and_tmp_is_private(tmp_path):
    """Does a process in a session of its own, left behind by a function, die with the grading? Does /tmp stay clean?"""
    marker = f"attack-{uuid.uuid4().hex}"
    code = ("import subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', {marker!r}],\n"
            "                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            f"open('/tmp/{marker}', 'wb').write(b'x' * 10**6)\n")
    result = grade(submission(tmp_path, replace={"preprocess_images": attack(code)}))
    survivors = _gone_or_left(marker)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, "a process of the learner's outlived grading"
    assert not Path(f"/tmp/{marker}").exists()
    assert full_marks(result), result.as_dict()


@needs_bubblewrap
def test_network_is_unreachable(tmp_path):
    """Can learner code reach a server on the grader's own loopback? (It could whenever the grader was not root.)"""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    reached = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                reached.append(server.accept())
            except OSError:
                continue

    listener = threading.Thread(target=accept)
    listener.start()
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'grades?')\n"
    try:
        result = grade(submission(tmp_path, replace={"preprocess_images": attack(code)}))
    finally:
        stop.set()
        listener.join()
        server.close()
    assert not reached
    assert full_marks(result), result.as_dict()


@needs_bubblewrap
def test_abstract_sockets_and_dev_shm_are_the_childs_own(tmp_path):
    """Can learner code reach the grader's host through an abstract unix socket, or write its /dev/shm?

    Abstract sockets have no file to hide: only the child's own network namespace keeps them apart.
    """
    name = f"attack-{uuid.uuid4().hex}"
    server = socket.socket(socket.AF_UNIX)
    server.bind("\0" + name)
    server.listen()
    server.setblocking(False)
    shared = Path("/dev/shm") / name
    shared.write_bytes(b"the host's")
    code = ("import socket\n"
            "try:\n"
            f"    socket.socket(socket.AF_UNIX).connect('\\0{name}')\n"
            "finally:\n"
            f"    open('/dev/shm/{name}', 'ab').write(b' forged')\n")
    try:
        result = grade(submission(tmp_path, replace={"preprocess_images": attack(code)}))
        with pytest.raises(BlockingIOError):
            server.accept()
        assert shared.read_bytes() == b"the host's"
    finally:
        server.close()
        shared.unlink(missing_ok=True)
    assert full_marks(result), result.as_dict()

def test_many_processes_are_stopped(tmp_path):
    """Is a function that starts process after process stopped, costing that function only?"""
    source = ("import subprocess, time\n"
              "def preprocess_images(images):\n"
              "    children = [subprocess.Popen(['sleep', '30']) for _ in range(60)]\n"
              "    time.sleep(3)  # long enough to be seen, short of the function's time limit\n"
              "    return images.reshape(len(images), -1) / 255\n")
    result = grade(submission(tmp_path, replace={"preprocess_images": source}))
    assert_zero_and_rest_graded(result, "preprocess_images", "more than 32 processes")


@pytest.mark.parametrize("confined", [True, False], ids=["own-tmpfs", "unconfined-watched"])
def test_a_full_folder_is_stopped(tmp_path, monkeypatch, confined):
    """Is a function that fills the grader's disk stopped before it does, costing that function only?

    Confined, what it writes goes to its sandbox's own /tmp, a tmpfs the kernel caps: its writes fail.
    Unconfined, to a folder of the grader's, whose size the grader watches and stops.
    """
    if confined and not CONFINED:
        pytest.skip(isolation.bubblewrap()[1])
    monkeypatch.setattr(engine, "SCRATCH_BYTES", 40 * 1024**2)
    source = ("def preprocess_images(images):\n"
              "    for i in range(10**6):\n"
              "        open(f'filler-{i}', 'wb').write(b'x' * 10**6)\n")
    with _isolation(confined):
        result = grade(submission(tmp_path, replace={"preprocess_images": source}))
    assert_zero_and_rest_graded(result, "preprocess_images", "No space left" if confined else "filled its folder")


@contextlib.contextmanager
def unconfined():
    """Grade without bubblewrap (MNIST_LESSONS_ISOLATION=none), as where it cannot run; then as before."""
    with mock.patch.dict(os.environ, {isolation.SWITCH: "none"}):
        isolation.bubblewrap.cache_clear()
        try:
            yield
        finally:
            isolation.bubblewrap.cache_clear()


def _isolation(confined):
    """Grade with bubblewrap as the host has it, or without it."""
    return contextlib.nullcontext() if confined else unconfined()


def test_a_handed_in_package_shadows_nothing(tmp_path):
    """Does a mnist_lessons/ folder handed in beside untouched stubs change their verdict? (It scored 14/14.)"""
    folder = tmp_path / "submission"
    fake = folder / "mnist_lessons"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "checks.py").write_text("def __getattr__(name):\n    return lambda *a, **k: print('✓ all checks passed')\n")
    (folder / "02_preprocess.ipynb").write_text((SOLUTIONS.parent.parent / "course" / "mnist" /
                                                 "02_preprocess.ipynb").read_text())
    result = grade(folder)
    assert result.points == 0 and all("not written yet" in g.message for g in result.functions.values()), \
        result.as_dict()


def test_without_the_sandbox_every_grade_says_so(tmp_path):
    """Where bubblewrap cannot run, does the grade say "graded without isolation", and why?"""
    with unconfined():
        result = grade(submission(tmp_path))
    assert result.points == 4
    assert result.functions["one_hot_labels"].message.startswith("✓") and GOOD_ONE_HOT in result.functions[
        "one_hot_labels"].message
    assert any(note.startswith("Graded without isolation: MNIST_LESSONS_ISOLATION=none") for note in result.notes)
    assert "Graded without isolation" in json.dumps(result.as_dict())  # what --grades-json writes


def test_isolation_mounts_only_what_the_child_needs(tmp_path):
    """Are the course's solutions/, the home folder and /etc's secrets left out of the child's view?"""
    if not CONFINED:
        pytest.skip(isolation.bubblewrap()[1])
    command, note = isolation.confine(["python"], 10**8)
    assert note is None
    bound = {command[i + 1] for i, word in enumerate(command) if word in ("--ro-bind", "--ro-bind-try", "--bind")}
    root = Path(__file__).resolve().parents[1]
    assert str(root) not in bound and str(root / "solutions") not in bound
    assert not any(path in ("/", "/etc", "/root", "/home", "/etc/shadow") for path in bound)
    assert {"--unshare-pid", "--unshare-net", "--unshare-ipc", "--die-with-parent"} <= set(command)
    if os.geteuid() == 0:  # the host's own nobody, never root in a namespace of root's
        assert "--unshare-user" not in command
        assert {"--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs", "--bounding-set=-all"} <= set(command)
    else:
        assert {"--unshare-user", "--disable-userns"} <= set(command)
        assert command[command.index("--uid") + 1] == "65534"


def _gone_or_left(marker, seconds=10):
    """Wait, ``seconds`` at most, for every process with ``marker`` in its command line to end; return those left."""
    deadline = time.monotonic() + seconds
    while (found := _processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def _processes_with(marker):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                continue
    return found


def test_a_whole_submission_has_a_time_limit(tmp_path):
    """Is a submission past its time in all stopped, each function left saying so? (One student took 318 s.)"""
    folder = submission(tmp_path, replace={"preprocess_images": "import time\ntime.sleep(30)\n" + GOOD_PREPROCESS})
    # Both lessons hang, so that whichever the engine starts first runs past the end (it starts the longest first).
    submission(tmp_path, lesson="01_load_data",
               replace={"load_data": "import time\ntime.sleep(30)\n" + BY_NAME["load_data"].solution})
    limits = engine.Limits(function_seconds=4, notebook_seconds=60, submission_seconds=3)
    result = engine.grade_submission(folder, ["02_preprocess", "01_load_data"], limits=limits, jobs=1)
    assert result.points == 0
    for lesson in result.lessons.values():
        for verdict in lesson.functions.values():
            assert "whole submission" in verdict.message, verdict.message


def test_a_lesson_of_endless_cells_costs_its_budget_and_the_next_lesson_nothing(tmp_path):
    """Is a lesson whose cells loop forever, one after another, stopped at the lesson's budget, and the lesson that
    waited for the one core behind it graded in full, its wait not counted against it?"""
    def add_hangs(notebook):
        for _ in range(8):  # 8 x 2 s of cells, each left out in turn: past the lesson's 5 s
            notebook["cells"].append({"cell_type": "code", "metadata": {}, "source": "while True:\n    pass\n",
                                      "outputs": [], "execution_count": None})

    folder = submission(tmp_path, lesson="01_load_data", change=add_hangs)  # graded first (engine.LONGEST_FIRST)
    submission(tmp_path)  # 02_preprocess, honest, waiting for its turn
    limits = engine.Limits(function_seconds=4, cell_seconds=2, lesson_seconds=5)
    result = engine.grade_submission(folder, ["01_load_data", "02_preprocess"], limits=limits, jobs=1)
    hung, honest = result.lessons["01_load_data"], result.lessons["02_preprocess"]
    assert hung.points == 0
    for verdict in hung.functions.values():
        assert "the 5 s it may take in all" in verdict.message, verdict.message
    assert honest.points == honest.max_points, {name: v.message for name, v in honest.functions.items()}


# ---------------------------------------------------------------- found by a second review, on the sandbox above

GOOD = "    return (images.reshape(len(images), -1) / 255).astype('float32')\n"


def function(body):
    """A preprocess_images that does ``body`` first, then answers right."""
    return "def preprocess_images(images):\n" + _indent(body) + "\n" + GOOD


@needs_bubblewrap
def test_the_kernels_settings_are_read_only(tmp_path):
    """Can learner code open the host kernel's settings for writing? (When root graded, its code was root to the kernel.)"""
    body = ("import os\n"
            "for path in ('/proc/sys/fs/file-max', '/proc/sys/kernel/core_pattern', '/proc/sysrq-trigger'):\n"
            "    try:\n"
            "        os.close(os.open(path, os.O_WRONLY))  # opened, nothing written\n"
            "    except OSError:\n"
            "        continue\n"
            "    return None  # writable: this earns nothing, and the test fails\n")
    result = grade(submission(tmp_path, replace={"preprocess_images": function(body)}))
    assert full_marks(result), result.as_dict()


def test_threads_without_end_are_stopped(tmp_path):
    """Is a function that starts thread after thread (each a task of the host's) stopped?"""
    body = ("import threading, time\n"
            "threading.stack_size(64 * 1024)\n"
            f"for _ in range({engine.MAX_THREADS + 200}):\n"
            "    threading.Thread(target=time.sleep, args=(10,), daemon=True).start()\n"
            "time.sleep(3)\n")
    result = grade(submission(tmp_path, replace={"preprocess_images": function(body)}))
    assert_zero_and_rest_graded(result, "preprocess_images", f"more than {engine.MAX_THREADS} threads")


def test_memory_in_nameless_files_counts(tmp_path):
    """Is memory held in memfds (no process's resident size shows it) counted against the child's limit?"""
    body = ("import os, time\n"
            "chunk = b'x' * (60 * 1024**2)\n"
            "held = []\n"
            "for i in range(16):\n"
            "    fd = os.memfd_create(f'm{i}')\n"
            "    os.write(fd, chunk)\n"
            "    held.append(fd)\n"
            "time.sleep(3)\n")
    result = grade(submission(tmp_path, replace={"preprocess_images": function(body)}))  # FAST: 768 MB
    assert_zero_and_rest_graded(result, "preprocess_images", "memory")


def test_a_folder_past_any_path_length_still_counts(tmp_path, monkeypatch):
    """Unconfined, are files under folders whose path is longer than Linux's 4096 bytes counted? (They hid 2.4 GB.)"""
    monkeypatch.setattr(engine, "SCRATCH_BYTES", 40 * 1024**2)
    body = ("import os, time\n"
            "for i in range(18):\n"
            "    name = (('d%02d' % i) * 90)[:250]\n"
            "    os.mkdir(name)\n"
            "    os.chdir(name)\n"
            "for i in range(100):\n"
            "    open(f'f{i}', 'wb').write(b'x' * 10**6)\n"
            "time.sleep(2)  # long enough to be seen, short of the function's time limit\n")
    with _isolation(False):
        result = grade(submission(tmp_path, replace={"preprocess_images": function(body)}))
    assert_zero_and_rest_graded(result, "preprocess_images", "filled its folder")


@pytest.mark.parametrize("confined", [True, False], ids=["own-tmpfs", "unconfined-watched"])
def test_folders_nested_too_deep_cost_the_function_only(tmp_path, confined):
    """Do 1,500 nested folders (too deep for shutil.rmtree) stop nothing but, unconfined, the function, and leave
    nothing on the grader's disk?"""
    if confined and not CONFINED:
        pytest.skip(isolation.bubblewrap()[1])
    before = set(Path(tempfile.gettempdir()).glob("mnist-grading-*"))
    body = ("import os, tempfile, time\n"
            "start = os.getcwd()\n"
            "os.chdir(tempfile.mkdtemp(dir=start))  # a fresh tower at each call\n"
            "for _ in range(1500):\n"
            "    os.mkdir('a')\n"
            "    os.chdir('a')\n"
            "os.chdir(start)\n"
            + ("" if confined else "time.sleep(2)  # long enough to be seen\n"))
    with _isolation(confined):
        result = grade(submission(tmp_path, replace={"preprocess_images": function(body)}))
    if confined:  # its own tmpfs, gone with the sandbox: nothing to count or remove on the grader's side
        assert full_marks(result), result.as_dict()
    else:
        assert_zero_and_rest_graded(result, "preprocess_images", "filled its folder")
    assert set(Path(tempfile.gettempdir()).glob("mnist-grading-*")) <= before


@pytest.mark.parametrize("forgery, words", [
    ("SEND('preprocess_images-999.npy', b'\\x93NUMPY\\x01\\x00v\\x00' + "
     "(\"{'descr': '<f8', 'fortran_order': False, 'shape': (10000000000000,), }\".ljust(117) + '\\n').encode()"
     " + bytes(64))", "claims more than it holds"),
    ("SEND('preprocess_images.json', ('[' + '[],' * (4 * 1024**2) + '[]]').encode())", "more than"),
], ids=["npy-header-claims-73-TiB", "json-record-of-16-MB"])
def test_forged_records_cost_the_function_not_the_grader(tmp_path, forgery, words):
    """Does a record forged after its function ran (a huge .npy header, a vast JSON) zero that function, and only it?"""
    one_hot = (FIND_CHANNEL + "def one_hot_labels(labels, num_classes=10):\n"
               f"    {forgery}\n"
               "    import numpy as np\n"
               "    return np.eye(num_classes, dtype='float32')[labels]\n")
    result = grade(submission(tmp_path, replace={"one_hot_labels": one_hot}))
    verdict = result.functions["preprocess_images"]
    assert not verdict.passed and "could not be read" in verdict.message and words in verdict.message, verdict.message
    assert result.functions["one_hot_labels"].passed


def test_repeated_start_events_restart_no_clock(tmp_path):
    """Can a function outrun its time limit by sending "start" events for itself to the progress file?"""
    body = (FIND_CHANNEL + "import json, time\n"
            "for i in range(10):\n"
            "    SEND('progress.jsonl', (json.dumps({'kind': 'call', 'name': 'preprocess_images', 'phase': 'start'})"
            " + '\\n').encode(), mode='a')\n"
            "    time.sleep(1)\n")
    result = grade(submission(tmp_path, replace={"preprocess_images": function(body)}))  # FAST: 4 s a function
    assert_zero_and_rest_graded(result, "preprocess_images", "took longer than 4 s")
