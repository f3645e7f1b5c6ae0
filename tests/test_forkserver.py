"""One sandbox per student: the results pipe (channel.py) on its own, and the fork server's lessons kept apart.

The pipe's rules are tested in milliseconds on frames written by hand. The
server's are tested by grading two quick lessons (01 and 02, no Keras in their
exercises) side by side in one sandbox, where one lesson's cell attacks the
other's child: it must not read it, and stopping it must cost nothing.
"""

import dataclasses
import json
import os
import subprocess
import sys
import threading

import pytest

from mnist_lessons.grading import channel, engine, forkserver, sandboxview

from test_autograder import FAST, GOOD_ONE_HOT, SOLUTIONS, submission
from test_isolation import needs_bubblewrap, unconfined

# ---------------------------------------------------------------- the results pipe


def receive(tmp_path, *frames, max_bytes=10**6, max_files=10):
    """What a Receiver makes of ``frames`` (bytes written in that order): (the folder's files, its problem)."""
    read, write = os.pipe()
    receiver = channel.Receiver(read, str(tmp_path), max_bytes=max_bytes, max_files=max_files)
    for frame in frames:
        os.write(write, frame)
    os.close(write)
    assert receiver.join(10)
    return {path.name: path.read_bytes() for path in tmp_path.iterdir()}, receiver.problem


def frame(name, data, mode="w", size=None):
    return json.dumps({"file": name, "mode": mode, "size": len(data) if size is None else size}).encode() + b"\n" + data


def test_frames_become_files(tmp_path):
    """Does each frame write its file, "a" appending and "w" replacing, however the bytes arrive in chunks?"""
    files, problem = receive(tmp_path, frame("progress.jsonl", b"one\n", "a"), frame("progress.jsonl", b"two\n", "a"),
                             frame("f.npy", b"old"), frame("f.npy", b"new")[:9], frame("f.npy", b"new")[9:],
                             frame("empty.json", b""))
    assert problem is None
    assert files == {"progress.jsonl": b"one\ntwo\n", "f.npy": b"new", "empty.json": b""}


def test_the_sender_writes_what_the_receiver_reads(tmp_path):
    """Does a Sender's frame of 3 MB (more than a pipe holds) arrive whole?"""
    read, write = os.pipe()
    receiver = channel.Receiver(read, str(tmp_path), max_bytes=10**7, max_files=10)
    data = os.urandom(3 * 1024**2)
    channel.Sender(write).send("big.npy", data)
    os.close(write)
    assert receiver.join(10) and receiver.problem is None
    assert (tmp_path / "big.npy").read_bytes() == data


@pytest.mark.parametrize("frames, words", [
    ([frame("../escape", b"x")], "named a file"),
    ([frame(".hidden", b"x")], "named a file"),
    ([frame("a/b", b"x")], "named a file"),
    ([b"not json at all\n"], "not JSON"),
    ([b"[1, 2]\n"], "not an object"),
    ([frame("f", b"x", mode="r+")], "not one the course writes"),
    ([frame("f", b"x", size=-1)], "not one the course writes"),
    ([b"x" * (channel.MAX_HEADER_BYTES + 10)], "longer than"),
    ([frame("f", b"", size=10**7)], "bytes of results"),
    ([frame(f"f{i}", b"") for i in range(11)], "files of results"),
    ([frame("f", b"cut", size=10)], "cut short"),
], ids=["dot-dot", "dot-file", "folder", "garbage", "not-an-object", "mode", "negative-size", "endless-header",
        "too-large", "too-many-files", "cut-short"])
def test_a_frame_the_grader_does_not_take_stops_the_reading(tmp_path, frames, words):
    """Is a frame that names a path, lies about its size, or passes a cap refused, writing nothing outside the folder?"""
    folder = tmp_path / "results"
    folder.mkdir()
    files, problem = receive(folder, *frames)
    assert problem is not None and words in problem, problem
    assert not (tmp_path / "escape").exists()
    assert sum(len(data) for data in files.values()) <= 3


def test_after_a_bad_frame_the_rest_is_drained(tmp_path):
    """Does the child never block on a full pipe once the grader stopped reading it (64 kB fill a pipe)?"""
    read, write = os.pipe()
    receiver = channel.Receiver(read, str(tmp_path), max_bytes=10**6, max_files=10)
    done = threading.Event()

    def flood():
        channel.Sender(write).send("../x", b"")
        for _ in range(64):
            os.write(write, b"y" * 64 * 1024)
        os.close(write)
        done.set()

    threading.Thread(target=flood, daemon=True).start()
    assert done.wait(20), "the writer blocked: the rest was not drained"
    assert receiver.join(10) and "named a file" in receiver.problem
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the server


def test_keras_is_imported_once_in_the_server_before_a_lesson_starts(tmp_path):
    """Does a lesson's child find Keras already imported (the server's, on JAX) when its first cell runs?"""
    if engine._backend() != "jax":
        pytest.skip("the server imports Keras only on JAX, whose import starts no thread")
    cells = [{"id": "preprocess_images", "index": 0,
              "source": "import sys\nKERAS = 'keras' in sys.modules\n\ndef preprocess_images(images):\n"
                        "    raise RuntimeError(f'keras imported before the first cell: {KERAS}')\n"}]
    with engine.Sandboxes(shared=False) as sandboxes:
        run = engine._run_child(cells, "02_preprocess", FAST, sandboxes)
    assert run.recorded["preprocess_images"]["calls"]["visible"][0]["raised"]["message"] == \
        "keras imported before the first cell: True"


def test_the_server_says_why_it_could_not_start(tmp_path):
    """Does a server whose imports fail end with a ServerError naming the failure, leaving nothing running?"""
    server = forkserver.Server({"PATH": os.environ["PATH"], "MPLBACKEND": "no-such-backend"}, work_bytes=10**8,
                               area=tmp_path, package=sandboxview.make(tmp_path / "package"),
                               log=tmp_path / "server.log")
    with pytest.raises(forkserver.ServerError, match="imports failed"):
        server.start()
    assert server.process.poll() is not None and not server.alive


class WatchedCondition(threading.Condition):
    """A Condition that says (``waiting``) when a thread first waits on it: put in place of a Turns' own."""

    def __init__(self):
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout=None):
        self.waiting.set()  # still holding the lock: no other thread enters before this one waits
        return super().wait(timeout)


def test_a_lesson_that_never_takes_its_turn_holds_no_one_up():
    """Does the lesson after one that leaves without running a child (an error, the deadline) still get its turn?"""
    turns = engine.Turns(["first", "second"], jobs=1)
    turns._condition = WatchedCondition()
    ran = threading.Event()

    def second():
        with turns.turn("second"):
            ran.set()

    threading.Thread(target=second, daemon=True).start()
    assert turns._condition.waiting.wait(5) and not ran.is_set(), "the second lesson ran before the first's turn"
    turns.leave("first")
    assert ran.wait(5)


def test_the_next_lesson_starts_beside_one_that_runs():
    """With places for two, does the second lesson, waiting for the first's turn, start as soon as the first takes
    it? (It waited for the first to end: a test of two lessons found them run one after the other.)"""
    turns = engine.Turns(["first", "second"], jobs=2)
    turns._condition = WatchedCondition()
    ran = threading.Event()

    def second():
        with turns.turn("second"):
            ran.set()

    threading.Thread(target=second, daemon=True).start()
    # The second lesson waits on the first's turn: it released the lock in wait(), which the first takes below.
    assert turns._condition.waiting.wait(5), "the second lesson never waited for its turn"
    assert not ran.is_set()
    with turns.turn("first"):
        assert ran.wait(5), "the second lesson did not start while the first ran, though a place was free"


def _solution(lesson, name):
    notebook = json.loads((SOLUTIONS / f"{lesson}.ipynb").read_text())
    return next("".join(cell["source"]) for cell in notebook["cells"]
                if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == name)


def _two_lessons(tmp_path, attack):
    """A submission whose lesson 01 ends with ``attack``, a cell of its own, while lesson 02 waits in its first."""
    def wait_first(notebook):
        notebook["cells"].insert(1, {"cell_type": "code", "metadata": {}, "source": WAIT_FOR_THE_ATTACK,
                                     "outputs": [], "execution_count": None})

    folder = submission(tmp_path, change=wait_first)  # lesson 02, solved
    notebook = json.loads((SOLUTIONS / "01_load_data.ipynb").read_text())
    notebook["cells"].append({"cell_type": "code", "metadata": {}, "source": attack, "outputs": [],
                              "execution_count": None})
    (folder / "01_load_data.ipynb").write_text(json.dumps(notebook))
    # A cell stopped by the attack is given up on after 10 s (not the usual 120), and graded again alone;
    # the functions have 30 s (not FAST's 4), since two lessons and their replays share the cores here.
    limits = dataclasses.replace(FAST, cell_seconds=10, function_seconds=30)
    return engine.grade_submission(folder, ["01_load_data", "02_preprocess"], limits=limits, jobs=2)


# Lesson 02's first cell waits for lesson 01's attack, which waits for it in turn: in the sandbox's own /tmp,
# shared by the two children, not by fixed sleeps, which CI's machine outran. (There lesson 02's child had not
# yet started when lesson 01 attacked: it waited for lesson 01 to end, a fault of engine.Turns, now tested
# above.) Graded again alone, in a sandbox of its own, lesson 02 waits 6 s at most.
WAIT_FOR_THE_ATTACK = ("import os, time\n"
                       "open('/tmp/lesson-02-waits', 'w').close()\n"
                       "for _ in range(120):\n"
                       "    if os.path.exists('/tmp/lesson-01-attacked'):\n"
                       "        break\n"
                       "    time.sleep(0.05)\n")

# A cell of lesson 01 that finds the other lesson's child: the process of the sandbox's nobody that is
# neither itself, nor its server (its parent), nor the sandbox's first process.
SIBLINGS = ("import os, time\n"
            "def siblings():\n"
            "    mine = {os.getpid(), os.getppid(), 1}\n"
            "    found = []\n"
            "    for entry in os.listdir('/proc'):\n"
            "        if entry.isdigit() and int(entry) not in mine:\n"
            "            try:\n"
            "                if os.stat(f'/proc/{entry}').st_uid == os.getuid():\n"
            "                    found.append(int(entry))\n"
            "            except OSError:\n"
            "                pass\n"
            "    return found\n"
            "for _ in range(160):  # until lesson 02's child waits in its first cell (it may start later)\n"
            "    if os.path.exists('/tmp/lesson-02-waits'):\n"
            "        break\n"
            "    time.sleep(0.05)\n"
            "if not siblings():  # the attack would test nothing: the test fails on load_data\n"
            "    load_data = None\n"
            "open('/tmp/lesson-01-attacked', 'w').close()  # after the attack (where it leaves this child alive)\n")


@needs_bubblewrap
def test_a_lesson_cannot_read_another_lessons_child(tmp_path):
    """Can lesson 01's code read lesson 02's memory, environment or descriptors (its results pipe among them)?"""
    attack = SIBLINGS + ("read = []\n"
                         "for pid in siblings():\n"
                         "    for what in ('environ', 'mem', 'fd/0', 'fd/4', 'cwd/.'):\n"
                         "        try:\n"
                         "            with open(f'/proc/{pid}/{what}', 'rb') as file:\n"
                         "                file.read(1)\n"
                         "            read.append((pid, what))\n"
                         "        except OSError:\n"
                         "            pass\n"
                         "    try:\n"
                         "        os.listdir(f'/proc/{pid}/fd')\n"
                         "        read.append((pid, 'fd'))\n"
                         "    except OSError:\n"
                         "        pass\n"
                         "if read:  # a sibling's memory or descriptors were read: the test fails on describe_dataset\n"
                         "    describe_dataset = None\n")
    grade = _two_lessons(tmp_path, attack)
    assert grade.points == grade.max_points, grade.as_dict()


@needs_bubblewrap
@pytest.mark.parametrize("how", ["import signal\nfor pid in siblings():\n    os.kill(pid, signal.SIGSTOP)\n",
                                 "import signal\nos.kill(-1, signal.SIGKILL)\n",
                                 "import signal\nos.kill(1, signal.SIGINT)\nos.kill(1, signal.SIGTERM)\n"],
                         ids=["stopped", "killed-with-the-server", "server-interrupted"])
def test_stopping_another_lesson_costs_it_nothing(tmp_path, how):
    """Does lesson 01's code that stops or kills lesson 02's child (and the server) leave lesson 02 its full marks?"""
    grade = _two_lessons(tmp_path, SIBLINGS + how)
    lesson_02 = grade.lessons["02_preprocess"]
    assert lesson_02.points == lesson_02.max_points, lesson_02.as_dict()
    assert GOOD_ONE_HOT in lesson_02.functions["one_hot_labels"].message
    assert not lesson_02.notes, lesson_02.notes  # graded again alone: nothing of the attack shows on it
    lesson_01 = grade.lessons["01_load_data"]  # its own attack cell is left out where it stops its own child
    assert lesson_01.points == lesson_01.max_points, {n: f.message for n, f in lesson_01.functions.items()}


def test_without_bubblewrap_the_server_still_keeps_the_lessons_apart(tmp_path):
    """Unconfined, is a submission still graded side by side, with the note on every lesson?"""
    with unconfined():
        folder = submission(tmp_path)
        (folder / "01_load_data.ipynb").write_text((SOLUTIONS / "01_load_data.ipynb").read_text())
        grade = engine.grade_submission(folder, ["01_load_data", "02_preprocess"], limits=FAST)
    assert grade.points == grade.max_points
    assert all(any(note.startswith("Graded without isolation") for note in lesson.notes)
               for lesson in grade.lessons.values())


def test_importing_the_grader_leaves_its_own_process_unlimited():
    """Does the grader, importing the sandbox's modules, keep its own network and file sizes (the limits are the
    fork server's, set there before its first child)?"""
    script = ("import os, resource, json\n"
              "before = os.readlink('/proc/self/ns/net')\n"
              "from mnist_lessons.grading import engine, sandbox\n"
              "print(json.dumps([before == os.readlink('/proc/self/ns/net'),\n"
              "                  resource.getrlimit(resource.RLIMIT_FSIZE)[0] == resource.RLIM_INFINITY]))\n")
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == [True, True], completed.stderr
