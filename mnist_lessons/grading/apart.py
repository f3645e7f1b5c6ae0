"""A learner's network trained in a process of its own, within limits: never in the grader's main process (lesson 08).

Lesson 08's check trains the network a learner's ``build_cnn`` returned, one
short epoch, and holds its accuracy to the course's. The network is the
learner's choice: bounded before it is built (``engine._model_problem``), it
can still cost more than the grader should carry. So the replay hands it
here: the grader writes the network down as data (``sandbox.Encoder``: its
config and weights), and a fresh Python process, which runs no learner code,
rebuilds it, trains it as the check does (``checks._briefly_trained_accuracy``)
and prints its accuracy. The grader watches its memory and time, as it
watches a sandboxed child, and kills it past either::

    python -I -m mnist_lessons.grading.apart < the request (sandbox.request_bytes)

The replay starts that training from the child's record (``accuracy_of_record``) before it waits for its turn
at the checks, so that the other lessons' replays go on while it trains (``engine._trained_ahead``); and a
process started ahead (``ready``), while the lessons run, has imported Keras and read the sample by then.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import threading
import time

from mnist_lessons.grading.processes import resident_bytes

MEMORY_BYTES = 3 * 1024**3  # resident memory of the process: LeNet-5's epoch takes about 1 GiB with Keras
SECONDS = 120.0  # Keras' import, compiling and one epoch on 6,000 images: about 10 s on 2 cores
POLL_SECONDS = 0.05


class Stopped(Exception):
    """The network cost more than the grader allows: the learner's doing, said in their verdict."""


class Failed(Exception):
    """The process failed for another reason: the grader's fault or the machine's, never the learner's."""


def briefly_trained_accuracy(model):
    """The accuracy ``checks._briefly_trained_accuracy`` gives ``model``, computed in a process of its own."""
    from mnist_lessons.grading import sandbox

    blobs = {}

    def keep(name, data):
        blobs[name] = bytes(data)

    return _trained_accuracy(sandbox.Encoder("network", keep).model(model), blobs)


def accuracy_of_record(encoded, arrays):
    """The same for a network as a child recorded it (``sandbox.Encoder.model``), its weights in ``arrays`` by file."""
    import numpy as np

    blobs = {}
    for weight in encoded["weights"]:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(arrays[weight["file"]]), allow_pickle=False)
        blobs[weight["file"]] = buffer.getvalue()
    return _trained_accuracy({"t": "model", "config": encoded["config"], "weights": encoded["weights"],
                              "model_id": 0}, blobs)


_READY = []  # processes started ahead (``ready``), waiting for a network on their standard input
_READY_LOCK = threading.Lock()


@contextlib.contextmanager
def ready():
    """Within: a process is started ahead for the first network trained apart, and stopped at the end if unused."""
    process = _start()
    with _READY_LOCK:
        _READY.append(process)
    try:
        yield
    finally:
        with _READY_LOCK:
            unused = process in _READY
            if unused:
                _READY.remove(process)
        if unused:
            process.kill()
            process.wait()


def _start():
    from mnist_lessons.environment import child_env
    from mnist_lessons.grading.compilecache import NEVER_WRITE_SECONDS, cache_folder, programs

    env = child_env()
    env.update(KERAS_BACKEND=os.environ.get("KERAS_BACKEND") or _backend(), TF_CPP_MIN_LOG_LEVEL="2",
               MPLBACKEND="Agg", JAX_COMPILATION_CACHE_DIR=str(programs(cache_folder())),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=str(NEVER_WRITE_SECONDS))  # reads the cache, adds nothing
    return subprocess.Popen([sys.executable, "-I", "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, start_new_session=True)


def _process():
    """A process started ahead that is still waiting, else a new one."""
    with _READY_LOCK:
        while _READY:
            process = _READY.pop(0)
            if process.poll() is None:
                return process
            process.stdin.close()  # it ended before a network came: its pipes are closed, not left to the collector
            process.stdout.close()
    return _start()


def _trained_accuracy(encoded, blobs):
    from mnist_lessons.grading import sandbox

    request = sandbox.request_bytes({"model": encoded}, blobs)
    process = _process()
    why = []
    watcher = threading.Thread(target=_watch, args=(process, why), daemon=True)
    watcher.start()
    try:
        output, _ = process.communicate(request)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        watcher.join()
    if why:
        raise Stopped(why[0])
    try:
        result = json.loads(output.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Failed(f"the process that trains the network ended with status {process.returncode}") from None
    if "error" in result:  # Keras refused the network: raised here as it was there, for the check's verdict
        raise type(str(result["error"]["type"]), (RuntimeError,), {})(str(result["error"]["message"]))
    return float(result["accuracy"])


def _watch(process, why):
    """Kill ``process`` when it outruns SECONDS or MEMORY_BYTES, saying which in ``why``."""
    started = time.monotonic()
    while process.poll() is None:
        if time.monotonic() - started > SECONDS:
            why.append(f"training it took longer than the {SECONDS:g} s the grader allows")
        elif resident_bytes([process.pid]) > MEMORY_BYTES:
            why.append(f"training it took more than the {MEMORY_BYTES / 1024**3:g} GiB of memory the grader allows")
        if why:
            process.kill()
            return
        time.sleep(POLL_SECONDS)


def _backend():
    from mnist_lessons.backend import chosen_backend

    return chosen_backend()


def main():
    """Read the network from standard input, train it as the check does, print {"accuracy": ...} or {"error": ...}."""
    import tempfile
    from pathlib import Path

    from mnist_lessons import checks
    from mnist_lessons.backend import import_keras, never_draws
    from mnist_lessons.grading import sandbox

    never_draws()
    import_keras()  # before the request: a process started ahead has this done by the time a network comes
    checks._prepared_arrays()  # the sample, prepared and cached: no copy made to be thrown away
    request, blobs = sandbox.read_request(sys.stdin.buffer.read())
    # Seeded before the network is rebuilt: a Dropout layer draws its own seed when it is made, and one drawn at
    # random made the same network's accuracy after the epoch vary from 0.77 to 0.87, across the check's bar.
    checks._seed()
    with tempfile.TemporaryDirectory() as folder:
        model = sandbox.Decoder(blobs, Path(folder)).decode(request["model"])
    try:
        accuracy = checks._briefly_trained_accuracy(model)
    except Exception as err:  # noqa: BLE001 -- Keras refusing the learner's network: the verdict says why
        print(json.dumps({"error": {"type": type(err).__name__, "message": str(err)[:2000]}}))
        return
    print(json.dumps({"accuracy": accuracy}))


if __name__ == "__main__":
    main()
