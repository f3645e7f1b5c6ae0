"""A lesson's child: runs a learner's notebook code and records what each graded function returns.

Forked by the student's fork server (``forkserver.py``) in its sandbox, one
child per lesson run, with a request from the engine (``engine.py``)::

    {"lesson": "02_preprocess", "cells": [{"id": ..., "source": ...}, ...],
     "functions": ["preprocess_images", ...], "skip": ["one_hot_labels"]}

It runs the cells in order in IPython's own shell, the one inside every
Jupyter kernel (magics, ``display`` and inline plots work as in JupyterLab),
keeping each cell's outputs when asked (``"keep_outputs": true``, for nbgrader's
autograded notebooks) in ``outputs.jsonl``. Then, for each graded function,
it runs the lesson's own check, from a private copy of ``mnist_lessons.checks``
loaded before any learner code (so rebinding the public one changes nothing,
and is reported as a "tamper" event) (``checks.check_<name>``, visible then hidden) with the
learner's function wrapped in a recorder. The recorder writes every call's
result as data only: JSON, and arrays as ``.npy`` files that the
grader reads with ``allow_pickle=False``; a Keras model goes as its JSON
config and weights, a History as its numbers. The verdict is not decided
here: this process runs untrusted code, so whatever it concludes could be
forged. The grader replays the same checks in its own process against these
recorded results (``engine.py``).

Every file goes to the grader down this child's own pipe (``channel.py``),
not into a folder: progress goes to ``progress.jsonl`` one line at a time
("cell", "call" and "done" events, each sent at once), so that when this
process hangs or dies the grader knows in which cell or function.
"""

import builtins
import contextlib
import gc
import io
import json
import os
import resource
import sys
import time
import warnings

MAX_FILE_BYTES = 64 * 1024**2  # the largest file this process may write (a model's weights are 1.6 MB)


def _limit_self():
    """Before anything else runs: no core files, no huge files, and no network where we may cut it."""
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
_limit_self()

import numpy as np  # noqa: E402 -- after the limits, which must come first
from IPython.core.displayhook import DisplayHook  # noqa: E402
from IPython.core.displaypub import DisplayPublisher  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from traitlets import Type  # noqa: E402

from mnist_lessons.backend import tensorflow_only_if_loaded  # noqa: E402
from mnist_lessons.grading.channel import Sender  # noqa: E402
from mnist_lessons.grading.registry import EXERCISES  # noqa: E402

# Bound before any learner code runs, which may monkeypatch the modules these come from.
_json_dumps = json.dumps
_BytesIO = io.BytesIO
_save_array = np.lib.format.write_array
_asarray = np.asarray
_ndarray = np.ndarray
_generic = np.generic
_dtype = np.dtype
_code_type = type(_limit_self.__code__)
_isinstance = builtins.isinstance
_type = builtins.type
_perf_counter = time.perf_counter
_gc_objects = gc.get_objects
_gc_freeze = gc.freeze
_gc_unfreeze = gc.unfreeze
_output = sys.__stdout__  # the grader's size-capped log file: a learner's prints go there, not into memory

PLAIN_TYPES = (bool, int, float, str, type(None))  # JSON's own values, exactly these types
MAX_ITEMS = 100_000  # a result with more nested items than this is not a plausible answer

# The package's own answers to each exercise ("module:name" in mnist_lessons, from the registry). While a
# learner's function runs, these refuse to run (_answer_key_locked), so that handing back (or calling) the
# answer key earns nothing.
ANSWER_KEY = {exercise.name: exercise.answer_key for exercise in EXERCISES}


class Unsupported(Exception):
    """A returned value the recorder cannot write as plain data."""


def run(request, descriptor):
    """Run one lesson's request (in a child the fork server has just forked), sending every result down ``descriptor``."""
    global STARTED
    STARTED = _perf_counter()
    channel = Sender(descriptor)
    keep_outputs = request.get("keep_outputs")

    def event(**fields):
        fields["t"] = round(_perf_counter() - STARTED, 3)  # seconds since this child started: where time goes
        channel.send("progress.jsonl", (_json_dumps(fields) + "\n").encode(), mode="a")

    event(kind="started")
    # The grader's compilation cache is read-only here (compilecache.py): what JAX cannot add to it is no
    # concern of the learner's, and must not show among their cell's outputs.
    warnings.filterwarnings("ignore", message="Error writing persistent compilation cache")
    ANSWER_KEYS.update(_answer_keys(request["functions"]))  # before any cell: what the cells rebind changes nothing
    checks = _pristine_checks()  # the checks as the course wrote them, out of the learner's reach
    quiet = checks._quiet
    # Here the checks only hand the learner's function its inputs; the grader's replay decides. So no
    # reference run to compare with, and the briefly trained network is the grader's own (trained once).
    checks._reference_accuracy = lambda epochs, batch_size: 0.0
    checks._expect_cnn_learns = lambda call, model: None  # the replay trains the recorded network, once
    if request.get("trained_weights"):
        checks._load_trained_weights(request["trained_weights"])
    public = _public_functions()
    shell = Shell.instance(config=_shell_config())
    for cell in request["cells"]:
        event(kind="cell", id=cell["id"], phase="start")
        error = shell.run(cell["source"])
        if keep_outputs:
            channel.send("outputs.jsonl", (_json_dumps({"id": cell["id"], "execution_count": shell.execution_count - 1,
                                                        "outputs": shell.outputs}, default=str) + "\n").encode(),
                         mode="a")
        event(kind="cell", id=cell["id"], phase="end", error=error)
    for note in _tampering(public):
        event(kind="tamper", message=note)
    sys.stdout, sys.stderr = _output, _output  # from here on, what anything prints goes to the capped log

    for name in request["functions"]:
        if name in request.get("skip", ()):
            continue
        event(kind="call", name=name, phase="start")
        recorder = Recorder(name, shell.user_ns.get(name), channel)
        for hidden in (False, True):
            recorder.hidden = hidden
            with quiet():
                try:
                    getattr(checks, f"check_{name}")(recorder, hidden=hidden)
                except BaseException:  # noqa: BLE001 -- the verdict is the grader's; keep going
                    pass
        recorder.write()
        event(kind="call", name=name, phase="end")
    event(kind="done")
    os._exit(0)  # leave no chance to learner code registered with atexit


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


# ---------------------------------------------------------------- the checks, and tampering with them


def _pristine_checks():
    """A private copy of mnist_lessons.checks, loaded before any learner code: rebinding the public one changes nothing here."""
    import importlib.util

    from mnist_lessons import checks as public

    spec = importlib.util.spec_from_file_location("mnist_lessons._grading_checks", public.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TAMPER_MODULES = ("mnist_lessons.checks", "mnist_lessons.grading.registry")  # what a learner might rebind to win


def _public_functions():
    """What the course's grading modules hold, before the learner's code runs."""
    import importlib

    return {name: (module, dict(vars(module))) for name in TAMPER_MODULES
            for module in [importlib.import_module(name)]}


def _tampering(snapshot):
    """Notes on every name the learner's code rebound in the course's grading modules."""
    notes = []
    for module_name, (module, before) in snapshot.items():
        after = vars(module)
        changed = sorted(name for name, value in before.items() if after.get(name, value) is not value)
        added = sorted(name for name in after if name not in before and not name.startswith("__"))
        if changed or added:
            notes.append(f"The notebook's code changed {module_name} ({', '.join((changed + added)[:5])}); "
                         "the grader ignored the change.")
    return notes


class Recorder:
    """Stands in for the learner's function: calls it, records what came back, hands the result on."""

    def __init__(self, name, function, channel):
        self.name = name
        self.function = function
        self.channel = channel
        self.hidden = False
        self.calls = {"visible": [], "hidden": []}
        self.arrays = 0
        self.identity = _answer_key_identity(name, function)
        self.kept = []  # every model recorded stays alive, so that id() tells optimizers apart

    def __call__(self, *args, **kwargs):
        record = {}
        self.calls["hidden" if self.hidden else "visible"].append(record)
        if self.function is None or not callable(self.function):
            record["missing"] = _type(self.function).__name__
            raise RuntimeError(f"{self.name} is not defined as a function")
        if self.identity:
            record["answer_key"] = self.identity
            raise PermissionError(ANSWER_KEY_REFUSED)
        before = [_snapshot(arg) for arg in args]
        started = _perf_counter()
        try:
            with _answer_key_locked(self.name), contextlib.redirect_stdout(_output), \
                    contextlib.redirect_stderr(_output):
                result = self.function(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001 -- recorded, then raised again for the check
            record["raised"] = {"type": _type(err).__name__, "message": _first_line(err),
                                "answer_key": _isinstance(err, (PermissionError, AnswerKeyRestored))
                                and str(err) == ANSWER_KEY_REFUSED}
            if _isinstance(err, NotImplementedError):
                raise
            raise RuntimeError(record["raised"]["message"]) from None
        finally:
            record["seconds"] = _perf_counter() - started
        try:
            record["result"] = self._encode(result, args)
        except Unsupported as err:
            record["result"] = {"t": "unsupported", "what": str(err)}
        record["args_after"] = [self._encode_changed(arg, old) for arg, old in zip(args, before)]
        return result

    def write(self):
        self.channel.send(f"{self.name}.json", _json_dumps({"name": self.name, "calls": self.calls}).encode())

    # ------------------------------------------------------------ encoding as plain data

    def _encode(self, value, args=(), depth=0, budget=None):
        budget = budget if budget is not None else [MAX_ITEMS]
        budget[0] -= 1
        if budget[0] < 0 or depth > 20:
            raise Unsupported("a value nested too deep or too large")
        for index, arg in enumerate(args):
            if value is arg and not _isinstance(value, PLAIN_TYPES):
                return {"t": "arg", "i": index}
        kind = _type(value)
        if kind in PLAIN_TYPES:
            if kind is float and value != value:
                return {"t": "nan"}
            return {"t": "py", "v": value}
        if _isinstance(value, _generic) and value.dtype.kind in "biuf":
            return {"t": "scalar", "d": value.dtype.str, "v": value.item()}  # np.int64(3) comes back as np.int64(3)
        if kind is _ndarray or _isinstance(value, (_ndarray, _generic)):
            return self._array(value)
        if _isinstance(value, _dtype):
            return {"t": "dtype", "v": value.str if value.fields is None and not value.hasobject else str(value)}
        if kind in (list, tuple):
            return {"t": kind.__name__, "v": [self._encode(item, (), depth + 1, budget) for item in value]}
        if kind is dict:
            items = list(value.items())
            return {"t": "dict", "k": [self._encode(k, (), depth + 1, budget) for k, _ in items],
                    "v": [self._encode(v, (), depth + 1, budget) for _, v in items]}
        keras = _keras()
        if _isinstance(value, keras.Model):
            return self._model(value)
        if _isinstance(value, keras.callbacks.History):
            history = {str(key): [float(v) for v in values] for key, values in dict(value.history).items()}
            params = value.params if _isinstance(getattr(value, "params", None), dict) else {}
            return {"t": "history", "history": history,
                    "params": {k: v for k, v in params.items() if _type(v) in PLAIN_TYPES}}
        if hasattr(value, "numpy") and hasattr(value, "shape") and hasattr(value, "dtype"):
            return self._array(value.numpy())  # a backend tensor (TensorFlow, JAX)
        if "jax" in kind.__module__ and hasattr(value, "__array__"):
            return self._array(_asarray(value))
        raise Unsupported(f"an object of type {kind.__name__}")

    def _array(self, value):
        array = _asarray(value)
        if _type(array) is not _ndarray:
            array = array.view(_ndarray)
        if array.dtype.hasobject or array.dtype.fields is not None:
            raise Unsupported(f"an array of dtype {array.dtype}")
        self.arrays += 1
        file_name = f"{self.name}-{self.arrays}.npy"
        buffer = _BytesIO()
        _save_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
        self.channel.send(file_name, buffer.getbuffer())
        return {"t": "ndarray", "file": file_name, "scalar": _isinstance(value, _generic)}

    def _model(self, model):
        keras = _keras()
        self.kept.append(model)
        with tensorflow_only_if_loaded():
            config = keras.saving.serialize_keras_object(model)
        return {
            "t": "model",
            "config": json.loads(_json_dumps(config, default=str)),  # plain JSON, nothing else
            "weights": [self._array(weight) for weight in model.get_weights()],
            "optimizer_id": id(model.optimizer) if getattr(model, "optimizer", None) is not None else None,
            "model_id": id(model),  # the same model handed back twice comes back as one object in the replay
        }

    def _encode_changed(self, arg, before):
        """What a call did to its argument: a model's new weights and settings, an array edited in place."""
        if before is None:
            return None
        if _isinstance(arg, _ndarray):
            return None if np.array_equal(arg, before) else self._array(arg)
        keras = _keras()
        if _isinstance(arg, keras.Model):
            return self._model(arg)
        return None


def _snapshot(arg):
    """A copy of an array argument, or the marker that a model's state is to be recorded after the call."""
    if _isinstance(arg, _ndarray):
        return arg.copy()
    if "keras" in sys.modules and _isinstance(arg, sys.modules["keras"].Model):
        return True
    return None


def _answer_keys(names):
    """{exercise: [(function, its code)]}: the package's answers, found before any learner code can rebind them.

    Only the answers to the exercises graded here (``names``, the lesson's): lessons 01 and 02 then import no Keras.
    """
    import importlib

    keys = {}
    for name in names:
        for entry in ANSWER_KEY[name]:
            module_name, attribute = entry.split(":")
            function = getattr(importlib.import_module(f"mnist_lessons.{module_name}"), attribute)
            keys.setdefault(name, []).append((function, function.__code__))
    return keys


ANSWER_KEYS = {}  # filled by run() before the first cell runs


def preload_answer_keys():
    """Import the modules of every exercise's answer, in the fork server: no child then imports them."""
    _answer_keys(ANSWER_KEY)


def _answer_key_identity(name, function):
    """The answer key's name when ``function`` is the package's own answer (or a copy of its code), else None."""
    for reference, code in ANSWER_KEYS.get(name, ()):
        candidate = function
        for _ in range(5):  # through functools.wraps / partial layers
            found = getattr(candidate, "__code__", None)
            if candidate is reference or found is code or (_isinstance(found, _code_type) and found == code):
                return f"mnist_lessons.{reference.__name__}"
            candidate = getattr(candidate, "__wrapped__", None) or getattr(candidate, "func", None)
            if candidate is None:
                break
    return None


ANSWER_KEY_REFUSED = "the course's own answer to this exercise was called"


def _functions_with(codes):
    """Every live function whose code equals one of ``codes`` (a scan of the garbage collector's objects).

    The first scan in a child looks at every object, thawing those frozen (the fork server's, and any
    learner code froze to hide a copy of the answer), then freezes them all, keeping the copies it found
    (of any exercise's answer); each later scan looks only at what is made after, 45 ms a scan less. A copy
    made while a graded function runs, and frozen then, is missed: such a copy is missed anyway (the
    threat model in docs/instructors.md).
    """
    if not codes:
        return []
    function_type = _type(_refuse)
    if _COPIES_FOUND is None:
        _gc_unfreeze()
        everything = _gc_objects()
        answers = {code for keys in ANSWER_KEYS.values() for _, code in keys}
        globals()["_COPIES_FOUND"] = [thing for thing in everything
                                      if _type(thing) is function_type and thing.__code__ in answers]
        del everything
        _gc_freeze()
        recent = []
    else:
        recent = [thing for thing in _gc_objects() if _type(thing) is function_type and thing.__code__ in codes]
    return [thing for thing in _COPIES_FOUND if thing.__code__ in codes] + recent


_COPIES_FOUND = None  # the copies of the answers the child's first scan found (a list then)


def freeze_preloaded():
    """In the fork server, before any fork: move every object made so far out of the collector's way, so that
    its pages stay shared with the children (the first answer-key scan in each child thaws them once)."""
    gc.freeze()


def _refuse(*args, **kwargs):
    raise PermissionError("the course's own answer to this exercise was called")  # builtins only: any globals


_REFUSE_CODE = _refuse.__code__


class AnswerKeyRestored(Exception):
    """The learner's function gave the answer key its code back while it ran."""


@contextlib.contextmanager
def _answer_key_locked(name):
    """While the learner's function runs, the package's answer to the same exercise refuses to run.

    The answer's code is swapped, not the name it is found by, so a copy of the name bound earlier
    (``_ref = ml.preprocess_images``) refuses too; a function that swaps the code back is caught after.
    So do functions the notebook built from the answer's code before the call (``types.FunctionType(
    ml.preprocess_images.__code__, ...)``, or the module's source run again): any function whose code
    equals the answer's (code objects compare by their instructions, names and lines, not their file).
    """
    answers = ANSWER_KEYS.get(name, ())
    codes = {code for _, code in answers}
    copies = [(function, function.__code__) for function in _functions_with(codes)
              if not any(function is original for original, _ in answers)]
    swapped = [(function, code) for function, code in [*answers, *copies] if not code.co_freevars]
    for function, _ in swapped:
        function.__code__ = _REFUSE_CODE
    try:
        yield
    finally:
        restored = [function for function, _ in swapped if function.__code__ is not _REFUSE_CODE]
        for function, code in reversed(swapped):
            function.__code__ = code
        if restored:
            raise AnswerKeyRestored(ANSWER_KEY_REFUSED)


def _keras():
    from mnist_lessons.backend import import_keras

    return import_keras()


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else ""
