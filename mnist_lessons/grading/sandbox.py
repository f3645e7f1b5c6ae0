"""A lesson's child: runs a learner's notebook code, then calls each graded function on the grader's cases and records what came back.

Forked by the student's fork server (``forkserver.py``) in its sandbox, one
child per lesson run, with a request from the engine (``engine.py``), read by
``read_request``::

    {"lesson": "02_preprocess", "cells": [{"id": ..., "source": ...}, ...],
     "functions": ["preprocess_images", ...], "skip": ["one_hot_labels"],
     "cases": {"preprocess_images": {"visible": [call, ...], "hidden": [call, ...]}, ...}}

followed by the cases' arrays and files as bytes. It runs the cells in order
in IPython's own shell, the one inside every Jupyter kernel (magics,
``display`` and inline plots work as in JupyterLab). Then it calls each
graded function on each of its cases, ``{"args": [...], "kwargs": {...}}``,
whose values the grader wrote as data (``Encoder``: arrays, files, a Keras
model as its config and weights) from the calls its checks make
(``cases.py``). What came back is recorded as data only: JSON, and arrays as
``.npy`` files that the grader reads with ``allow_pickle=False``; a Keras
model goes as its JSON config and weights, a History as its numbers.

Nothing of the course's answers is here: not the checks, not the package's
answers to the exercises, not their solutions, not a trained network. The
sandbox's copy of the package holds only what this process needs
(``sandboxview.py``). The verdict is not decided here either: this process
runs untrusted code, so whatever it concluded could be forged. The grader
replays its checks in its own process against what was recorded.

Every file goes to the grader down this child's own pipe (``channel.py``),
not into a folder: progress goes to ``progress.jsonl`` one line at a time
("cell", "call" and "done" events, each sent at once), so that when this
process hangs or dies the grader knows in which cell or function.
"""

import builtins
import contextlib
import io
import json
import os
import random
import resource
import sys
import time
import warnings
from pathlib import Path

MAX_FILE_BYTES = 64 * 1024**2  # the largest file this process may write (a model's weights are 1.6 MB)


def limit_process():
    """In the fork server, before any child: no core files, no huge files, and no network where we may cut it.

    Called there, never at import: the grader imports this module too (for ``Encoder``), and must keep its own
    network and file sizes. Every child inherits these from the server.
    """
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with contextlib.suppress(ValueError, OSError):  # every task of this user, the grader's other children too
        tasks = max(4096, 256 * (os.cpu_count() or 1))
        resource.setrlimit(resource.RLIMIT_NPROC, (tasks, tasks))
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare(0x40000000)  # CLONE_NEWNET: a network namespace with nothing in it (needs root)


STARTED = time.perf_counter()

import numpy as np  # noqa: E402 -- after the limits' definition, which reads better first
from IPython.core.displayhook import DisplayHook  # noqa: E402
from IPython.core.displaypub import DisplayPublisher  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from traitlets import Type  # noqa: E402

from mnist_lessons.backend import set_seed, tensorflow_only_if_loaded  # noqa: E402
from mnist_lessons.grading.channel import Sender  # noqa: E402

# Bound before any learner code runs, which may monkeypatch the modules these come from. This only keeps the
# learner's own lesson's results readable: nothing here decides a verdict.
_json_dumps = json.dumps
_BytesIO = io.BytesIO
_save_array = np.lib.format.write_array
_asarray = np.asarray
_ndarray = np.ndarray
_generic = np.generic
_dtype = np.dtype
_isinstance = builtins.isinstance
_type = builtins.type
_perf_counter = time.perf_counter
_output = sys.__stdout__  # the grader's size-capped log file: a learner's prints go there, not into memory

PLAIN_TYPES = (bool, int, float, str, type(None))  # JSON's own values, exactly these types
MAX_ITEMS = 100_000  # a result with more nested items than this is not a plausible answer
SEED = 0  # every call starts from the same random state, as the checks seed theirs
LENGTH_BYTES = 8  # the request's JSON is preceded by its length, and followed by its blobs


class Unsupported(Exception):
    """A returned value the recorder cannot write as plain data."""


def request_bytes(request, blobs):
    """The request as the child reads it (``read_request``): its JSON, with where each blob lies, then the blobs."""
    places, offset = {}, 0
    for key, data in blobs.items():
        places[key] = [offset, len(data)]
        offset += len(data)
    header = json.dumps(dict(request, blobs=places)).encode()
    return b"".join([len(header).to_bytes(LENGTH_BYTES, "big"), header, *blobs.values()])


def read_request(data):
    """(the request, {key: its blob}) from what ``request_bytes`` made."""
    view = memoryview(data)
    size = int.from_bytes(view[:LENGTH_BYTES], "big")
    request = json.loads(bytes(view[LENGTH_BYTES:LENGTH_BYTES + size]))
    base = LENGTH_BYTES + size
    blobs = {key: view[base + offset:base + offset + length] for key, (offset, length) in request["blobs"].items()}
    return request, blobs


def run(request, blobs, descriptor):
    """Run one lesson's request and its cases' ``blobs`` (``read_request``), in a child the fork server has just
    forked, sending every result down ``descriptor``."""
    global STARTED
    STARTED = _perf_counter()
    channel = Sender(descriptor)

    def event(**fields):
        fields["t"] = round(_perf_counter() - STARTED, 3)  # seconds since this child started: where time goes
        channel.send("progress.jsonl", (_json_dumps(fields) + "\n").encode(), mode="a")

    event(kind="started")
    # The grader's compilation cache is read-only here (compilecache.py): what JAX cannot add to it is no
    # concern of the learner's, and must not show among their cell's outputs.
    warnings.filterwarnings("ignore", message="Error writing persistent compilation cache")
    shell = Shell.instance(config=_shell_config())
    for cell in request["cells"]:
        event(kind="cell", id=cell["id"], phase="start")
        error = shell.run(cell["source"])  # what it shows stays here: the notebook keeps the learner's own run
        event(kind="cell", id=cell["id"], phase="end", error=error)
    sys.stdout, sys.stderr = _output, _output  # from here on, what anything prints goes to the capped log

    cases = request.get("cases", {})
    for name in request["functions"]:
        if name in request.get("skip", ()):
            continue
        event(kind="call", name=name, phase="start")
        recorder = Recorder(name, shell.user_ns.get(name), channel)
        decoder = Decoder(blobs, Path(f"case-files-{name}"))
        for hidden in (False, True):
            recorder.hidden = hidden
            if not _call_each(recorder, decoder, cases.get(name, {}).get("hidden" if hidden else "visible", [])):
                break  # the checks stop at a call that raises: no verdict reads what would come after
        recorder.write()
        event(kind="call", name=name, phase="end")
    event(kind="done")
    os._exit(0)  # leave no chance to learner code registered with atexit


def _call_each(recorder, decoder, calls):
    """Call the learner's function on each case, in order; False once a call raised."""
    for call in calls:
        args = [decoder.decode(value) for value in call.get("args", [])]
        kwargs = {key: decoder.decode(value) for key, value in call.get("kwargs", {}).items()}
        _seeded()
        try:
            recorder(*args, **kwargs)
        except BaseException:  # noqa: BLE001 -- recorded; the verdict is the grader's
            return False
    return True


def _seeded():
    """The random state every call starts from, whatever the cells before did to it."""
    if "keras" in sys.modules:  # set_seed seeds Python's and NumPy's generators too
        with contextlib.suppress(Exception):
            set_seed(SEED)
            return
    random.seed(SEED)
    np.random.seed(SEED)


# ---------------------------------------------------------------- running cells as Jupyter does


MAX_CELL_OUTPUT_CHARS = 2 * 1024**2  # what one cell may show; a plot is about 50 kB


class _Stream(io.TextIOBase):
    """sys.stdout or sys.stderr while a cell runs: text becomes the cell's stream outputs, as in a kernel."""

    def __init__(self, shell, name):
        self.shell, self.name = shell, name

    def write(self, text):
        self.shell.add_output({"output_type": "stream", "name": self.name, "text": str(text)})
        return len(text)

    def writable(self):
        return True

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"


class _DisplayPublisher(DisplayPublisher):
    """display(...), and the inline backend's figures, become display_data outputs."""

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        self.shell.add_output({"output_type": "display_data", "data": data, "metadata": metadata or {}})

    def clear_output(self, wait=False):
        self.shell.outputs.clear()


class _DisplayHook(DisplayHook):
    """A cell's last expression becomes an execute_result output, not a printed "Out[n]:"."""

    def start_displayhook(self):
        pass

    def write_output_prompt(self):
        pass

    def write_format_data(self, format_dict, md_dict=None):
        self.shell.add_output({"output_type": "execute_result", "execution_count": self.prompt_count,
                               "data": format_dict, "metadata": md_dict or {}})

    def finish_displayhook(self):
        pass


class Shell(InteractiveShell):
    """IPython's own shell, the one inside every Jupyter kernel, with its outputs kept the way a notebook keeps them.

    Magics (``%matplotlib inline``, ``%%time``, ``%%capture``), ``display`` and
    the inline backend behave as in JupyterLab, so whatever runs there runs here.
    """

    displayhook_class = Type(_DisplayHook)
    display_pub_class = Type(_DisplayPublisher)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.outputs = []
        self._shown = 0

    def add_output(self, output):
        size = len(output.get("text", "")) + sum(len(str(value)) for value in output.get("data", {}).values())
        if self._shown + size > MAX_CELL_OUTPUT_CHARS:
            if self._shown <= MAX_CELL_OUTPUT_CHARS:
                self.outputs.append({"output_type": "stream", "name": "stderr",
                                     "text": "\n[the grader kept no more of this cell's output]\n"})
                self._shown = MAX_CELL_OUTPUT_CHARS + 1
            return
        self._shown += size
        last = self.outputs[-1] if self.outputs else None
        if output["output_type"] == "stream" and last and last["output_type"] == "stream" and last["name"] == output["name"]:
            last["text"] += output["text"]
        else:
            self.outputs.append(output)

    def enable_gui(self, gui=None):
        pass  # no event loop to join: %matplotlib inline draws into the outputs, as in a kernel

    def _showtraceback(self, etype, evalue, stb):
        self.add_output({"output_type": "error", "ename": getattr(etype, "__name__", str(etype)),
                         "evalue": str(evalue), "traceback": list(stb)})

    def run(self, source):
        """Run one cell; return None, or a short description of its error."""
        self.outputs, self._shown = [], 0
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Stream(self, "stdout"), _Stream(self, "stderr")
        try:
            result = self.run_cell(source, store_history=True)
        except BaseException as err:  # noqa: BLE001 -- what IPython itself lets through
            return f"{_type(err).__name__}: {_first_line(err)}"
        finally:
            sys.stdout, sys.stderr = saved
        error = result.error_before_exec or result.error_in_exec
        return None if error is None else f"{_type(error).__name__}: {_first_line(error)}"


def _shell_config():
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no sqlite file of the learner's cells
    config.InteractiveShell.colors = "nocolor"  # tracebacks read as plain text in feedback and logs
    return config


# ---------------------------------------------------------------- values as plain data


class Encoder:
    """Values as plain data: JSON, with arrays (and, with ``files``, the files a path names) as blobs.

    ``sink(name, data)`` takes each blob, and may say the name it keeps it under. The grader writes its cases with it
    (``cases.py``, ``files=True``); the child records what came back with it.
    """

    def __init__(self, prefix, sink, files=False):
        self.prefix = prefix
        self.sink = sink
        self.files = files
        self.count = 0
        self.kept = []  # every model encoded stays alive, so that id() tells optimizers and models apart

    def encode(self, value, args=(), depth=0, budget=None):
        budget = budget if budget is not None else [MAX_ITEMS]
        budget[0] -= 1
        if budget[0] < 0 or depth > 20:
            raise Unsupported("a value nested too deep or too large")
        for index, arg in enumerate(args):
            if value is arg and not _isinstance(value, PLAIN_TYPES):
                return {"t": "arg", "i": index}
        kind = _type(value)
        if self.files and (_isinstance(value, os.PathLike) or (kind is str and os.path.isfile(value))):
            return self._file(value)
        if kind in PLAIN_TYPES:
            if kind is float and value != value:
                return {"t": "nan"}
            return {"t": "py", "v": value}
        if _isinstance(value, _generic) and value.dtype.kind in "biuf":
            return {"t": "scalar", "d": value.dtype.str, "v": value.item()}  # np.int64(3) comes back as np.int64(3)
        if kind is _ndarray or _isinstance(value, (_ndarray, _generic)):
            return self.array(value)
        if _isinstance(value, _dtype):
            return {"t": "dtype", "v": value.str if value.fields is None and not value.hasobject else str(value)}
        if kind in (list, tuple):
            return {"t": kind.__name__, "v": [self.encode(item, (), depth + 1, budget) for item in value]}
        if _isinstance(value, dict):  # a Counter or an OrderedDict is a dict too, as the checks take it
            items = list(value.items())
            return {"t": "dict", "k": [self.encode(k, (), depth + 1, budget) for k, _ in items],
                    "v": [self.encode(v, (), depth + 1, budget) for _, v in items]}
        keras = sys.modules.get("keras")
        if keras is not None and _isinstance(value, keras.Model):
            return self.model(value)
        if keras is not None and _isinstance(value, keras.callbacks.History):
            history = {str(key): [float(v) for v in values] for key, values in dict(value.history).items()}
            params = value.params if _isinstance(getattr(value, "params", None), dict) else {}
            return {"t": "history", "history": history,
                    "params": {k: v for k, v in params.items() if _type(v) in PLAIN_TYPES}}
        if hasattr(value, "numpy") and hasattr(value, "shape") and hasattr(value, "dtype"):
            return self.array(value.numpy())  # a backend tensor (TensorFlow, JAX)
        if "jax" in kind.__module__ and hasattr(value, "__array__"):
            return self.array(_asarray(value))
        raise Unsupported(f"an object of type {kind.__name__}")

    def _blob(self, suffix, data):
        self.count += 1
        name = f"{self.prefix}-{self.count}{suffix}"
        return self.sink(name, data) or name  # the sink may keep it under another name (one it already holds)

    def array(self, value):
        array = _asarray(value)
        if _type(array) is not _ndarray:
            array = array.view(_ndarray)
        if array.dtype.hasobject or array.dtype.fields is not None:
            raise Unsupported(f"an array of dtype {array.dtype}")
        buffer = _BytesIO()
        _save_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
        return {"t": "ndarray", "file": self._blob(".npy", buffer.getbuffer()), "scalar": _isinstance(value, _generic)}

    def _file(self, path):
        with open(path, "rb") as file:
            data = file.read()
        return {"t": "path", "file": self._blob(".bin", data), "name": os.path.basename(os.fspath(path)),
                "str": _isinstance(path, str)}

    def model(self, model):
        keras = sys.modules["keras"]
        self.kept.append(model)
        with tensorflow_only_if_loaded():
            config = keras.saving.serialize_keras_object(model)
        return {
            "t": "model",
            "config": json.loads(_json_dumps(config, default=str)),  # plain JSON, nothing else
            "weights": [self.array(weight) for weight in model.get_weights()],
            "optimizer_id": id(model.optimizer) if getattr(model, "optimizer", None) is not None else None,
            "model_id": id(model),  # the same model handed back twice comes back as one object in the replay
        }

    def changed(self, arg, before):
        """What a call did to its argument: a model's new weights and settings, an array edited in place."""
        if before is None:
            return None
        if _isinstance(arg, _ndarray):
            return None if np.array_equal(arg, before) else self.array(arg)
        keras = sys.modules.get("keras")
        if keras is not None and _isinstance(arg, keras.Model):
            return self.model(arg)
        return None


def snapshot(arg):
    """A copy of an array argument, or the marker that a model's state is to be recorded after the call."""
    if _isinstance(arg, _ndarray):
        return arg.copy()
    if "keras" in sys.modules and _isinstance(arg, sys.modules["keras"].Model):
        return True
    return None


class Decoder:
    """The grader's cases as values again: arrays, files written under ``folder``, Keras models rebuilt."""

    def __init__(self, blobs, folder):
        self.blobs = blobs
        self.folder = folder
        self.models = {}  # model_id -> the model rebuilt for it: one object, however often a case names it

    def decode(self, value):
        kind = value.get("t")
        if kind == "py":
            return value["v"]
        if kind == "nan":
            return float("nan")
        if kind == "scalar":
            return np.dtype(value["d"]).type(value["v"])
        if kind == "dtype":
            return np.dtype(value["v"])
        if kind == "ndarray":
            array = np.load(io.BytesIO(self.blobs[value["file"]]), allow_pickle=False)
            return array[()] if value.get("scalar") else array
        if kind in ("list", "tuple"):
            items = [self.decode(item) for item in value["v"]]
            return items if kind == "list" else tuple(items)
        if kind == "dict":
            return {hashable(self.decode(k)): self.decode(v) for k, v in zip(value["k"], value["v"])}
        if kind == "path":
            folder = self.folder / value["file"]
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / value["name"]
            path.write_bytes(self.blobs[value["file"]])
            return str(path.absolute()) if value.get("str") else path.absolute()
        if kind == "model":
            if value["model_id"] not in self.models:
                self.models[value["model_id"]] = self._model(value)
            return self.models[value["model_id"]]
        raise ValueError(f"a case value of kind {kind!r}")

    def _model(self, value):
        from mnist_lessons.backend import import_keras

        keras = import_keras()
        with tensorflow_only_if_loaded():
            model = keras.saving.deserialize_keras_object(value["config"], safe_mode=True)
        model.set_weights([self.decode(weight) for weight in value["weights"]])
        return model


def hashable(value):
    """A decoded dict key as it was: JSON has no tuples, so a key that was one came back a list."""
    return tuple(value) if isinstance(value, list) else value


class Recorder:
    """Stands in for the learner's function: calls it, records what came back, hands the result on."""

    def __init__(self, name, function, channel):
        self.name = name
        self.function = function
        self.channel = channel
        self.hidden = False
        self.calls = {"visible": [], "hidden": []}
        self.encoder = Encoder(name, channel.send)

    def __call__(self, *args, **kwargs):
        record = {}
        self.calls["hidden" if self.hidden else "visible"].append(record)
        if self.function is None or not callable(self.function):
            record["missing"] = _type(self.function).__name__
            raise RuntimeError(f"{self.name} is not defined as a function")
        before = [snapshot(arg) for arg in args]
        started = _perf_counter()
        try:
            with contextlib.redirect_stdout(_output), contextlib.redirect_stderr(_output):
                result = self.function(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001 -- recorded, then raised again for the caller
            record["raised"] = {"type": _type(err).__name__, "message": _first_line(err)}
            if _isinstance(err, NotImplementedError):
                raise
            raise RuntimeError(record["raised"]["message"]) from None
        finally:
            record["seconds"] = _perf_counter() - started
        try:
            record["result"] = self.encoder.encode(result, args)
        except Unsupported as err:
            record["result"] = {"t": "unsupported", "what": str(err)}
        record["args_after"] = [self.encoder.changed(arg, old) for arg, old in zip(args, before)]
        return result

    def write(self):
        self.channel.send(f"{self.name}.json", _json_dumps({"name": self.name, "calls": self.calls}).encode())


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else ""
