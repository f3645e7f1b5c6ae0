"""The checks that need Keras, replayed in a process of the grader's apart from the grader, within limits.

The checks of the exercises that build, compile, train or evaluate a network
(``Exercise.compiles``: lessons 03 to 06 and 08) rebuild what a learner's
function returned, a Keras model from its recorded config and weights, and
run it: lesson 08's trains it for an epoch. The learner chose that network;
bounded before it is built (``engine._model_problem``), it can still cost
more than the grader should carry. So these replays run here, never in the
grader's own process, which then imports neither Keras nor JAX (unless it
makes the cases itself, with no warmed cache: ``cases.py``).

One ``Server`` per submission (``engine.Sandboxes``): a process that runs no
learner code (``python -I -m mnist_lessons.grading.apart``) imports Keras, the
checks and their sample once, then forks a child for each replay, as the
sandbox's server does for the lessons (``forkserver.py``): a child starts in
milliseconds, each in its own process, and a replay that takes too long or
too much memory is killed alone::

    server = Server(env, folder, trained_weights).launch()
    message = server.verdict("build_cnn", record)  # None: passed; else the check's message
    server.close()

The grader writes each request (the exercise, what the child recorded, its
arrays as ``.npy``) into ``folder``, a folder of its own, and the server's
child writes the verdict there; the server says on its standard output when
a child is forked and when it exits. The child runs the check as the grader
did (``engine._verdict`` on ``engine._Replay``), its network's epoch
included. The grader watches each child's memory and time, and kills it past
either: that is the learner's doing, said in the verdict (``Stopped``). A
server or child that fails otherwise is the grader's fault (``Failed``):
grading stops, and writes no grade.
"""

import contextlib
import gc
import io
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from mnist_lessons.grading.forkserver import kill_all
from mnist_lessons.grading.processes import prctl, resident_bytes

MEMORY_BYTES = 3 * 1024**3  # resident memory of one replay: LeNet-5's epoch takes about 1 GiB with Keras
SECONDS = 120.0  # one replay: lesson 08's, the longest, compiles and trains for an epoch, a few seconds
START_SECONDS = 120.0  # the server's imports: about 1.5 s on 2 cores, Keras among them
POLL_SECONDS = 0.05  # how often the grader looks at a child's time and memory
REAP_SECONDS = 0.01  # how often the server looks for its children's ends: one is on grading's longest chain
PR_SET_PDEATHSIG = 1


class Stopped(Exception):
    """The replay cost more than the grader allows: the learner's doing, said in their verdict."""


class Failed(Exception):
    """The server or its child failed for another reason: the grader's fault or the machine's, never the learner's."""


# ---------------------------------------------------------------- the grader's side


class Server:
    """The process apart for one submission: ``launch`` starts it, ``verdict`` replays a check there, ``close`` ends it.

    ``env``: its environment (the backend, the compilation cache); ``folder``: where requests and verdicts are
    written, a folder only the grader's processes see; ``weights``: the checks' briefly trained network saved by
    the cache's warm-up (``compilecache.trained_weights``), or None to have a child train it when a check needs it.
    """

    def __init__(self, env, folder, weights=None):
        self.env = dict(env)
        self.folder = Path(folder)
        self.weights = weights
        self.process = None
        self._numbers = itertools.count(1)
        self._forked = {}  # a request's number -> its child's process id
        self._exits = {}  # a request's number -> its child's exit code (-N: killed by signal N)
        self._ready = False
        self._gone = None  # why the server stopped answering, once it has
        self._condition = threading.Condition()
        self._write_lock = threading.Lock()

    def launch(self):
        """Start the server, and return without waiting for its imports (the first ``verdict`` waits).

        The server dies with the thread that launched it (a parent-death signal follows the thread): launch from
        one that outlives it, as ``engine.Sandboxes`` does.
        """
        with self._condition:
            if self.process is not None:
                return self
            command = [sys.executable, "-I", "-m", __name__] + ([str(self.weights)] if self.weights else [])
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL, env=self.env, cwd=self.folder,
                                            start_new_session=True)
        threading.Thread(target=self._read, name="apart-reader", daemon=True).start()
        return self

    def verdict(self, name, record):
        """The message of ``name``'s check replayed on ``record`` (None: passed); Stopped or Failed."""
        self.launch()
        number = next(self._numbers)
        request, result = self.folder / f"{number}.request", self.folder / f"{number}.json"
        request.write_bytes(_request_bytes(name, record))
        try:
            self._wait(lambda: self._ready, START_SECONDS, "import Keras and the checks")
            self._send({"number": number, "request": str(request), "result": str(result)})
            pid = self._wait(lambda: self._forked.get(number), START_SECONDS, "fork a child")
            why = self._watch(number, pid)
            if why:
                raise Stopped(why)
            try:
                replayed = json.loads(result.read_text())
            except (OSError, ValueError):
                raise Failed(f"its child ended with {_code_text(self._exits[number])}, without a verdict") from None
            if "failed" in replayed:
                raise Failed(f"its replay of {name}'s check failed ({replayed['failed']})")
            return replayed.get("message")
        finally:
            for path in (request, result):
                with contextlib.suppress(OSError):
                    path.unlink()

    def close(self):
        """Kill the server and every child it forked."""
        with self._condition:
            self._gone = self._gone or "it was closed"
            running = [pid for number, pid in self._forked.items() if number not in self._exits]
            self._condition.notify_all()
        for pid in running:  # each in a session of its own, which the server's group does not hold
            kill_all([pid])
        if self.process is not None:
            kill_all([self.process.pid])
            self.process.wait()
            with contextlib.suppress(OSError):
                self.process.stdin.close()
            self.process.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _send(self, message):
        with self._write_lock:
            try:
                self.process.stdin.write((json.dumps(message) + "\n").encode())
                self.process.stdin.flush()
            except (OSError, ValueError) as err:
                raise Failed(f"the process apart could not be reached ({err})") from None

    def _read(self):
        """Take the server's lines as they come: ready, each child forked, each child's exit."""
        try:
            for line in self.process.stdout:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    message = json.loads(line)
                    with self._condition:
                        if message["op"] == "ready":
                            self._ready = True
                        elif message["op"] == "forked":
                            self._forked[message["number"]] = message["pid"]
                        elif message["op"] == "exited":
                            self._exits[message["number"]] = message["code"]
                        elif message["op"] == "error":
                            self._gone = f"it failed to start ({message['message']})"
                        self._condition.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._condition:
                self._gone = self._gone or f"it ended with {_code_text(self.process.wait())}"
                self._condition.notify_all()

    def _wait(self, found, seconds, what):
        deadline = time.monotonic() + seconds
        with self._condition:
            while not found():
                remaining = deadline - time.monotonic()
                if self._gone:
                    raise Failed(f"the process apart stopped before it could {what}: {self._gone}")
                if remaining <= 0:
                    raise Failed(f"the process apart did not {what} within {seconds:g} s")
                self._condition.wait(remaining)
            return found()

    def _watch(self, number, pid):
        """Wait for child ``number`` (``pid``) to exit; kill it past SECONDS or MEMORY_BYTES: why, or None."""
        started = time.monotonic()
        with self._condition:
            while number not in self._exits:
                if self._gone:
                    raise Failed(f"the process apart stopped while it replayed a check: {self._gone}")
                why = None
                if time.monotonic() - started > SECONDS:
                    why = f"that took longer than the {SECONDS:g} s the grader allows"
                elif resident_bytes([pid]) > MEMORY_BYTES:
                    why = f"that took more than the {MEMORY_BYTES / 1024**3:g} GiB of memory the grader allows"
                if why:
                    kill_all([pid])
                    self._condition.wait_for(lambda: number in self._exits or self._gone, SECONDS)
                    return why
                self._condition.wait(POLL_SECONDS)
        return None


def _request_bytes(name, record):
    """What a child reads: the exercise and the record, its arrays as .npy files (``sandbox.request_bytes``)."""
    import numpy as np

    from mnist_lessons.grading import sandbox

    blobs = {}
    for file, array in record.get("_arrays", {}).items():
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(array), allow_pickle=False)
        blobs[file] = buffer.getvalue()
    fields = {key: value for key, value in record.items() if key != "_arrays"}
    return sandbox.request_bytes({"name": name, "record": fields}, blobs)


def _code_text(code):
    """An exit code as subprocess gives one (-N: killed by signal N), in words."""
    return f"signal {-code}" if code < 0 else f"status {code}"


# ---------------------------------------------------------------- the server


def main():
    """Import what every replay needs, say ``ready``, then fork a child for each request on standard input."""
    import select

    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the grader
    try:
        checks = _preload(sys.argv[1] if len(sys.argv) > 1 else None)
    except Exception as err:  # noqa: BLE001 -- said to the grader, which stops grading with it
        _say(op="error", message=f"{type(err).__name__}: {err}")
        return
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:  # a fork copies one thread: whatever the others held (a lock) would never be let go
        _say(op="error", message=f"it runs {threads} threads after its imports; a fork copies only one")
        return
    _say(op="ready")
    children = {}  # pid -> the request's number
    pending = b""
    while True:  # a child's end is seen within REAP_SECONDS; with none running, only a request wakes the server
        readable, _, _ = select.select([0], [], [], REAP_SECONDS if children else None)
        if readable:
            data = os.read(0, 65536)
            if not data:
                break  # the grader is gone
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _become_child(checks, request["request"], request["result"])
                children[pid] = request["number"]
                _say(op="forked", number=request["number"], pid=pid)
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in children:
                _say(op="exited", number=children.pop(pid), code=os.waitstatus_to_exitcode(status))


def _preload(weights):
    """Keras (on JAX, whose import starts no thread), the checks, their sample and trained network: the checks module."""
    from mnist_lessons import checks
    from mnist_lessons.backend import chosen_backend, import_keras, never_draws
    from mnist_lessons.grading import engine  # noqa: F401 -- the replay's stand-ins, imported once for every child

    never_draws()
    if chosen_backend() == "jax":
        import_keras()
    checks._prepared_arrays()  # the sample, prepared and cached: no child reads it again
    if weights:
        checks._load_trained_weights(weights)
    gc.freeze()  # what is made so far stays out of the collector's way, so its pages stay shared with the children
    return checks


def _become_child(checks, request_path, result_path):
    """In a forked child: replay the request's check, write its message where the grader reads it, and exit."""
    code = 70
    try:
        os.setsid()  # a session of its own: the grader kills it and nothing else
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        null = os.open(os.devnull, os.O_RDWR)
        for descriptor in (0, 1, 2):  # the server's standard output is the grader's channel: never the child's
            os.dup2(null, descriptor)
        _replay(checks, request_path, result_path)
        code = 0
    except Exception as err:  # noqa: BLE001 -- a fault of the grader's: said to it, which stops grading
        _write(result_path, {"failed": f"{type(err).__name__}: {err}"[:2000]})
    finally:
        os._exit(code)


def _replay(checks, request_path, result_path):
    import numpy as np

    from mnist_lessons.grading import engine, sandbox

    request, blobs = sandbox.read_request(Path(request_path).read_bytes())
    name, record = request["name"], request["record"]
    record["_arrays"] = {file: np.load(io.BytesIO(blob), allow_pickle=False) for file, blob in blobs.items()}
    _write(result_path, {"message": engine._verdict(name, engine._Replay(name, record), checks)})


def _write(path, result):
    partial = Path(f"{path}.partial")
    partial.write_text(json.dumps(result))
    partial.rename(path)


def _say(**message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
