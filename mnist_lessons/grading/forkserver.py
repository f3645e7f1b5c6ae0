"""One sandbox per student: a server inside bubblewrap imports Keras once, and forks a child for each lesson run.

A lesson's child used to be a sandbox of its own, and each paid for starting
Python and importing Keras (1.5 to 2.3 s on 2 cores, six lessons a student).
Now the grader (``engine.py``) starts one ``Server`` per submission, and asks
it for a child per lesson run; the server, this module run by ``python -I``
inside bubblewrap (``isolation.py``) from the sandbox's copy of the package
(``sandboxview.py``, which holds none of the course's answers), imports what
every lesson needs, never runs learner code, and forks.

What keeps a student's lessons apart, though they share one sandbox:

- Each child is its own session, and the grader watches and kills it and
  what it starts as before (time, memory, processes, output, its folder).
  It is a subreaper, so what it starts stays in its tree while it lives.
- Each hands its results down a pipe only it holds (``channel.py``), never
  through a folder the others could write. Its input comes down a pipe too,
  so that the server never holds one lesson's code when it forks another.
- Every process in the sandbox is non-dumpable: a sibling can neither trace
  it nor read its memory, descriptors or environment under ``/proc``.
- A sibling can still signal it or fill the shared ``/tmp``, and so make it
  fail; never pass. So only a child that ends cleanly is taken at its word:
  when one is stopped, dies or sends what cannot be read, the engine grades
  that lesson again in a server of its own, where whatever goes wrong is
  the lesson's own doing (``engine._run_child``).

What a sandbox writes, it writes to its own ``/tmp``, a tmpfs capped in
size that vanishes with it (``isolation.confine``): each child makes its
folder there. The grader never writes, reads or changes owners in a folder
a child can write, so no child can turn its paths against it.

The server and the grader talk over a Unix socket of sequenced packets, the
server's standard input: the grader sends ``{"op": "fork", "name": ...}``
with three descriptors (the request's pipe to read, the results' pipe and the
output's pipe to write); the server answers ``ready``, ``forked`` with the
child's number in this server and process id (as the sandbox numbers it) and
``exited`` with its number and wait status. The server reaps its children,
and kills any process that fell to it from a lesson whose child had ended (a
stray). It ignores SIGINT, the one signal a child could still stop it with.
"""

import contextlib
import itertools
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from mnist_lessons.grading import isolation
from mnist_lessons.grading.processes import live_processes, prctl, proc_stat, trees

MAX_MESSAGE_BYTES = 64 * 1024  # a control message: a folder's path, a process id
START_SECONDS = 120.0  # the server's imports: about 2 s on 2 cores, Keras among them
REPLY_SECONDS = 30.0  # a fork, or a child's exit after SIGKILL
STRAY_SECONDS = 0.2  # how often the server looks for strays
LESSON_NAME = re.compile(r"[0-9A-Za-z_]{1,64}")  # what a fork request names its child's folder after
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


class ServerError(Exception):
    """The server could not start, or stopped: its children are gone."""


# ---------------------------------------------------------------- the grader's side


class Server:
    """A fork server in a sandbox of its own, started by ``start``; ``fork`` gives a ``Child``; ``close`` ends it all.

    ``env``: the server's environment, which every child inherits; ``work_bytes``: the size of the sandbox's
    own ``/tmp``, where everything it writes goes; ``area``: where it writes when it runs unconfined (no
    bubblewrap), a folder of the grader's; ``package``: the folder ``sandboxview.make`` made, whose package the
    server runs; ``read_only``: more folders it may read; ``keras``: import Keras
    before forking (only on JAX, whose import starts no thread: a fork copies one).
    """

    def __init__(self, env, *, work_bytes, area, package, read_only=(), keras=False, log=None):
        self.env = dict(env)
        self.package = package  # the sandbox's copy of the course package (sandboxview.make)
        self.work_bytes = work_bytes
        self.area = str(area)
        self.read_only = list(read_only)
        self.keras = keras
        self.log_path = log
        self.note = None  # "Graded without isolation: ..." where bubblewrap could not run
        self.process = None
        self.pid = None  # the server's own process id, as this process numbers it
        self._socket = None
        self._replies = []
        self._exits = {}  # a child's number in this server -> its wait status
        self._children = {}  # a child's number -> Child, while it runs
        self._condition = threading.Condition()
        self._fork_lock = threading.Lock()
        self._closed = False
        self._socket_open = True

    # ------------------------------------------------------------ starting and ending

    @property
    def confined(self):
        return self.note is None

    def start(self):
        """Start the server and wait until it has imported what it preloads; ServerError (and nothing left
        running) if it cannot."""
        return self.launch().ready()

    def launch(self):
        """Start the server's process, and return without waiting for it (``ready`` waits).

        The sandbox dies with the thread that launched it (bubblewrap's ``--die-with-parent`` is a parent-death
        signal, which follows the thread): launch from one that outlives the server.
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        from mnist_lessons.grading import sandboxview

        _, why_not = isolation.bubblewrap()
        path = str(self.package) if why_not else sandboxview.SANDBOX_PATH  # where the server finds the copy
        command = [sys.executable, "-I", "-c", sandboxview.BOOT, path] + (["--keras"] if self.keras else [])
        command, self.note = isolation.confine(command, self.work_bytes, read_only=self.read_only,
                                               package=self.package)
        home = f"{self.work_area}/home"
        env = dict(self.env, HOME=home, KERAS_HOME=f"{home}/.keras", MPLCONFIGDIR=f"{home}/matplotlib")
        log = open(self.log_path or os.devnull, "wb")
        try:
            self.process = subprocess.Popen(command, cwd=self.area, env=env, stdin=theirs, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            theirs.close()
            log.close()
        self._socket = ours
        threading.Thread(target=self._read, name="forkserver-reader", daemon=True).start()
        return self

    def ready(self):
        """Wait until the launched server has imported what it preloads: the server, or ServerError (and nothing
        left running)."""
        if self.pid is not None:
            return self
        try:
            ready = self._reply("ready", START_SECONDS)
            self.pid = self._find(ready["pid"], self.process.pid) if self.confined else self.process.pid
            if self.pid is None:
                raise ServerError("the grader could not find its sandbox's server among its processes")
        except BaseException:
            self.close()
            raise
        return self

    @property
    def work_area(self):
        """Where the server and its children write: the sandbox's own /tmp, or (unconfined) ``area``."""
        return isolation.SANDBOX_TMP if self.confined else self.area

    def close(self):
        """Kill the server, its children and everything in its sandbox."""
        with self._condition:
            self._closed = True
            children = list(self._children.values())
            self._condition.notify_all()
        if self.process is not None:
            members = trees([self.process.pid], sessions=[self.process.pid]) | {self.process.pid}
            for child in children:  # unconfined, a child's tree is not the server's once the server is gone
                members |= child.members()
            kill_all(members)
            self.process.wait()
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
            self._socket.close()

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None and not self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ children

    def fork(self, name):
        """A new child for lesson ``name``, which makes its own folder in the work area: a ``Child``."""
        request_read, request_write = os.pipe()
        results_read, results_write = os.pipe()
        output_read, output_write = os.pipe()
        theirs = [request_read, results_write, output_write]
        try:
            with self._fork_lock:
                if not self.alive:
                    raise ServerError(self._why_stopped())
                try:
                    socket.send_fds(self._socket, [json.dumps({"op": "fork", "name": name}).encode()], theirs)
                except OSError as err:
                    raise ServerError(f"the grader could not reach its sandbox's server ({err})") from None
                reply = self._reply("forked", REPLY_SECONDS)
        except BaseException:
            for descriptor in (request_write, results_read, output_read):
                os.close(descriptor)
            raise
        finally:
            for descriptor in theirs:
                os.close(descriptor)
        pid = reply["pid"] if not self.confined else self._find(reply["pid"], self.pid)
        child = Child(self, reply["number"], pid, request_write, results_read, output_read)
        with self._condition:
            if reply["number"] not in self._exits:
                self._children[reply["number"]] = child
        return child

    def _wait_exit(self, number, timeout):
        """Wait up to ``timeout`` for child ``number`` to end (or the server to go); its wait status, or None."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while not self._ended(number):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            return self._exits.get(number)

    def _ended(self, number):
        with self._condition:
            return number in self._exits or self._closed or not self._socket_open

    # ------------------------------------------------------------ the control socket

    def _read(self):
        """Take the server's messages as they come: replies for whoever waits, exits for the children."""
        try:
            while True:
                data = self._socket.recv(MAX_MESSAGE_BYTES)
                if not data:
                    break
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    message = json.loads(data)
                    with self._condition:
                        if message["op"] == "exited":
                            self._exits[message["number"]] = message["status"]
                            self._children.pop(message["number"], None)
                        else:
                            self._replies.append(message)
                        self._condition.notify_all()
        except OSError:
            pass
        finally:
            with self._condition:
                self._socket_open = False
                self._condition.notify_all()

    def _reply(self, op, timeout):
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for message in self._replies:
                    if message.get("op") in (op, "error"):
                        self._replies.remove(message)
                        if message["op"] == "error":
                            raise ServerError(f"the grader's sandbox refused: {message.get('message')}")
                        return message
                remaining = deadline - time.monotonic()
                if not self._socket_open or self._closed or remaining <= 0:
                    break
                self._condition.wait(remaining)
        raise ServerError(self._why_stopped() if not self._socket_open else
                          f"the grader's sandbox did not answer within {timeout:g} s")

    def _why_stopped(self):
        tail = ""
        if self.log_path:
            with contextlib.suppress(OSError):
                lines = open(self.log_path, "rb").read()[-2000:].decode("utf-8", "replace").strip().splitlines()
                tail = f": {lines[-1][:300]}" if lines else ""
        return f"the grader's sandbox stopped{tail}"

    def _find(self, inner, parent):
        """This process's id for the child of ``parent`` that the sandbox numbers ``inner``, or None.

        Only a direct child of the server, in its PID namespace: a process a lesson made in a namespace of
        its own may number itself as it likes, and must never be taken for the next lesson's child. (The
        server itself is found among bubblewrap's descendants, before any learner code runs.)
        """
        if parent == self.process.pid:
            candidates = trees([parent])
            depth = None
        else:
            candidates = [pid for pid, (ppid, _) in live_processes().items() if ppid == parent]
            depth = len(_namespace_pids(parent) or [])
        for pid in sorted(candidates):
            pids = _namespace_pids(pid)
            if pids and pids[-1] == inner and depth in (None, len(pids)):
                return pid
        return None


class Child:
    """A lesson's child, as the grader sees it: its process id here, its pipes, its end."""

    def __init__(self, server, number, pid, request, results, output):
        self.server = server
        self.number = number  # its number in its server
        self.pid = pid  # its id here (None when it was gone before it was found)
        self.started = _start_time(pid) if pid is not None else None  # which process the id is: ids are reused
        self.request = request  # the grader writes the request here, then closes it
        self.results = results  # frames: channel.Receiver reads them
        self.output = output  # what it prints: the engine counts and keeps it
        self.returncode = None

    def ended(self):
        """Whether it has ended; then ``returncode`` is set (as subprocess gives one: -N, killed by signal N),
        or None if its server went with it."""
        if not self.server._ended(self.number):
            return False
        self.returncode = _returncode(self.server._exits.get(self.number))
        return True

    def members(self):
        """The child and every process under it or in its session; nothing once it has ended."""
        if self.pid is None or _start_time(self.pid) != self.started:
            return set()
        return trees([self.pid], sessions=[self.pid]) | {self.pid}

    def kill(self):
        """SIGKILL the child and all it started; wait for the server to see it end."""
        kill_all(self.members())
        self.returncode = _returncode(self.server._wait_exit(self.number, REPLY_SECONDS))


def _returncode(status):
    if status is None:
        return None
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else None


def kill_all(pids):
    """SIGKILL each of ``pids`` (and the process group each leads), never this process."""
    for pid in pids:
        if pid != os.getpid():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _namespace_pids(pid):
    """The ids of ``pid`` in each PID namespace it is in, outermost first (Linux's NSpid), or None."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("NSpid:"):
                    return [int(word) for word in line.split()[1:]]
    except (OSError, ValueError):
        return None
    return None


def _start_time(pid):
    found = proc_stat(pid)
    return found[3] if found is not None else None


# ---------------------------------------------------------------- the server, inside the sandbox


def _preload(keras):
    """Import what every lesson's child needs, so that no child pays for it: the sandbox, IPython and its shell,
    matplotlib and, with ``keras``, Keras. Nothing here starts a thread (``serve`` checks)."""
    from mnist_lessons.grading import sandbox

    sandbox.limit_process()  # before any child: each inherits the server's limits and its empty network
    import matplotlib.pyplot  # noqa: F401 -- the lessons' plots
    import matplotlib_inline.backend_inline  # noqa: F401 -- %matplotlib inline, as in a kernel
    if keras:
        from mnist_lessons.backend import import_keras

        import_keras()
    # IPython's shell, made before any learner code as each child would make it first thing (0.18 s in a
    # child, mostly its profile folder): each child gets its own untouched copy of it with the fork.
    sandbox.Shell.instance(config=sandbox._shell_config())
    import gc

    gc.freeze()  # what is made so far stays out of the collector's way, so its pages stay shared with the children
    return sandbox


def serve():
    """The server's loop: fork a child for each request, report each one's end, kill strays; until the grader goes."""
    control = socket.socket(fileno=0)  # the grader's socket, as standard input
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as PID 1, only a signal with a handler could reach it
    os.makedirs(os.environ["HOME"], exist_ok=True)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the grader (setpriv's change of user cleared bubblewrap's)
    prctl(PR_SET_DUMPABLE, 0)  # no child may trace this process or read its memory
    prctl(PR_SET_CHILD_SUBREAPER, 1)  # what a lesson left behind falls to us, to be killed
    try:
        sandbox = _preload("--keras" in sys.argv)
    except Exception as err:  # noqa: BLE001 -- said to the grader, which says it in the grade
        _send(control, op="error", message=f"its imports failed ({type(err).__name__}: {err})")
        return
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:  # a fork copies one thread: whatever the others held (a lock) would never be let go
        _send(control, op="error", message=f"it runs {threads} threads after its imports; a fork copies only one")
        return
    _send(control, op="ready", pid=os.getpid())
    children = {}  # pid -> (the child's number, its folder)
    numbers = itertools.count(1)
    last_sweep = 0.0
    while True:
        readable, _, _ = select.select([control], [], [], STRAY_SECONDS / 2)
        if readable:
            try:
                data, descriptors, _, _ = socket.recv_fds(control, MAX_MESSAGE_BYTES, 3)
            except OSError:
                break
            if not data:
                break  # the grader is gone
            forked = _fork(control, data, descriptors, sandbox)
            if forked is not None:
                pid, folder = forked
                children[pid] = next(numbers), folder
                _send(control, op="forked", pid=pid, number=children[pid][0])
        for pid, status in _reaped():
            if pid in children:
                number, folder = children.pop(pid)
                _send(control, op="exited", number=number, status=status)
                remove_tree(folder)  # what it left there counts against the sandbox's /tmp no more
        if time.monotonic() - last_sweep > STRAY_SECONDS:
            last_sweep = time.monotonic()
            _kill_strays(children)


def _fork(control, data, descriptors, sandbox):
    """Fork a child for the request ``data`` in a new folder of the work area (the server's own): (its pid, the
    folder), or None (said to the grader) when the request is not one."""
    try:
        message = json.loads(data)
        if len(descriptors) != 3 or message.get("op") != "fork" or not LESSON_NAME.fullmatch(str(message.get("name"))):
            raise ValueError("not a fork request with a lesson's name and three descriptors")
    except ValueError as err:
        for descriptor in descriptors:
            os.close(descriptor)
        _send(control, op="error", message=str(err))
        return None
    folder = tempfile.mkdtemp(prefix=f"{message['name']}-", dir=os.getcwd())
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            control.close()  # the server's socket is never in a child's reach
            _become_child(folder, *descriptors, sandbox)
        finally:
            os._exit(70)
    for descriptor in descriptors:
        os.close(descriptor)
    return pid, folder


def remove_tree(folder):
    """Remove a child's folder, however the learner's code nested it (too deep for shutil.rmtree's recursion):
    in the server, what a child left in the sandbox's /tmp; in the grader, what a child sent."""
    try:
        shutil.rmtree(folder, ignore_errors=True)
    except RecursionError:
        pass
    if os.path.lexists(folder):
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(folder)], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def _become_child(folder, request, results, output, sandbox):
    """In the new child: its own session and folder, its pipes as its input, results and output; then the lesson."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl+C's KeyboardInterrupt, as in a kernel
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the server gone, the child goes too
    prctl(PR_SET_CHILD_SUBREAPER, 1)  # its orphans stay in its tree, watched and killed with it
    prctl(PR_SET_DUMPABLE, 0)
    null = os.open(os.devnull, os.O_RDONLY)  # descriptor 0, which the server's socket left free
    if null != 0:
        os.dup2(null, 0)
        os.close(null)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    os.chdir(folder)
    chunks = []
    while True:
        chunk = os.read(request, 1024 * 1024)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(request)
    sandbox.run(*sandbox.read_request(b"".join(chunks)), results)


def _reaped():
    """(pid, wait status) of every child that has ended since the last look."""
    ended = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended.append((pid, status))


def _kill_strays(children):
    """Kill every child of the server's that is not a lesson's: what fell to it from a lesson that ended."""
    me = os.getpid()
    strays = [pid for pid, (parent, _) in live_processes().items() if parent == me and pid not in children]
    for pid in strays:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _send(control, **message):
    with contextlib.suppress(OSError):
        control.send(json.dumps(message).encode())


if __name__ == "__main__":
    serve()
