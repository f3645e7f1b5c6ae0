"""The child process of the autograder: runs a learner's notebook code and records what each graded function returns.

Started by ``mnist_lessons.grading`` as ``python -I -m mnist_lessons.sandbox``
in an empty temporary folder, with a JSON request on stdin::

    {"lesson": "02_preprocess", "cells": [{"id": ..., "source": ...}, ...],
     "functions": ["preprocess_images", ...], "skip": ["one_hot_labels"], "out": "<folder>"}

It runs the cells in order, then, for each graded function, runs the
lesson's own check (``checks.check_<name>``, visible then hidden) with the
learner's function wrapped in a recorder. The recorder writes every call's
result to ``out`` as data only: JSON, and arrays as ``.npy`` files that the
grader reads with ``allow_pickle=False``; a Keras model goes as its JSON
config and weights, a History as its numbers. The verdict is not decided
here: this process runs untrusted code, so whatever it concludes could be
forged. The grader replays the same checks in its own process against these
recorded results (``grading.py``).

Progress goes to ``out/progress.jsonl`` one line at a time ("cell",
"call" and "done" events, each flushed), so that when this process hangs or
dies the grader knows in which cell or function.
"""

import builtins
import contextlib
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
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare(0x40000000)  # CLONE_NEWNET: a network namespace with nothing in it (needs root)


_limit_self()

import numpy as np  # noqa: E402 -- after the limits, which must come first

# Bound before any learner code runs, which may monkeypatch the modules these come from.
_open = builtins.open
_json_dumps = json.dumps
_save_array = np.lib.format.write_array
_asarray = np.asarray
_ndarray = np.ndarray
_generic = np.generic
_isinstance = builtins.isinstance
_type = builtins.type
_perf_counter = time.perf_counter
_output = sys.__stdout__  # the grader's size-capped log file: a learner's prints go there, not into memory

PLAIN_TYPES = (bool, int, float, str, type(None))  # JSON's own values, exactly these types
MAX_ITEMS = 100_000  # a result with more nested items than this is not a plausible answer

# The package's own answers to each exercise. While a learner's function runs,
# these raise AnswerKeyUsed, so that handing back (or calling) the answer key
# earns nothing. "module:name" as in mnist_lessons.
ANSWER_KEY = {
    "load_data": ["data:load_mnist", "data:load_mnist_data"],
    "describe_dataset": ["data:describe_dataset"],
    "preprocess_images": ["preprocess:preprocess_images"],
    "one_hot_labels": ["preprocess:one_hot_labels"],
    "build_model": ["model:build_model"],
    "compile_model": ["training:compile_model"],
    "train_model": ["training:train_model"],
    "evaluate_model": ["evaluate:evaluate_model"],
    "predict_labels": ["evaluate:predict_labels"],
    "compare_labels": ["evaluate:compare_labels"],
    "confusion_matrix": ["evaluate:confusion_matrix"],
}


class AnswerKeyUsed(Exception):
    """Raised by the package's answer to an exercise when the learner's version of it calls it."""


class Unsupported(Exception):
    """A returned value the recorder cannot write as plain data."""


def main():
    request = json.loads(sys.stdin.read())
    sys.stdin.close()
    out = request["out"]
    progress = _open(os.path.join(out, "progress.jsonl"), "a", encoding="utf-8")

    def event(**fields):
        progress.write(_json_dumps(fields) + "\n")
        progress.flush()

    quiet = _quiet_keras()
    namespace = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": _NoIPython}
    for cell in request["cells"]:
        event(kind="cell", id=cell["id"], phase="start")
        error = _run_cell(cell, namespace)
        event(kind="cell", id=cell["id"], phase="end", error=error)

    from mnist_lessons import checks

    for name in request["functions"]:
        if name in request.get("skip", ()):
            continue
        event(kind="call", name=name, phase="start")
        recorder = Recorder(name, namespace.get(name), out)
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
    progress.close()
    os._exit(0)  # leave no chance to learner code registered with atexit


def _run_cell(cell, namespace):
    """Run one cell's code in the shared namespace; return None, or a short description of its error."""
    source = cell["source"]
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)  # "%matplotlib inline" and the like
    except Exception:  # noqa: BLE001 -- no IPython, or a cell it cannot parse: run as written
        pass
    try:
        code = compile(source, f"<cell {cell['id']}>", "exec")
        with _quiet_output():
            exec(code, namespace)  # noqa: S102 -- the learner's code, in this throw-away process
    except BaseException as err:  # noqa: BLE001 -- SystemExit, KeyboardInterrupt included
        return f"{_type(err).__name__}: {_first_line(err)}"
    return None


class Recorder:
    """Stands in for the learner's function: calls it, records what came back, hands the result on."""

    def __init__(self, name, function, out):
        self.name = name
        self.function = function
        self.out = out
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
            raise AnswerKeyUsed(self.identity)
        before = [_snapshot(arg) for arg in args]
        started = _perf_counter()
        try:
            with _answer_key_locked(self.name), contextlib.redirect_stdout(_output), \
                    contextlib.redirect_stderr(_output):
                result = self.function(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001 -- recorded, then raised again for the check
            record["raised"] = {"type": _type(err).__name__, "message": _first_line(err),
                                "answer_key": _isinstance(err, AnswerKeyUsed)}
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
        with _open(os.path.join(self.out, f"{self.name}.json"), "w", encoding="utf-8") as file:
            file.write(_json_dumps({"name": self.name, "calls": self.calls}))

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
        if kind is _ndarray or _isinstance(value, (_ndarray, _generic)):
            return self._array(value)
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
        with _open(os.path.join(self.out, file_name), "wb") as file:
            _save_array(file, np.ascontiguousarray(array), allow_pickle=False)
        return {"t": "ndarray", "file": file_name, "scalar": _isinstance(value, _generic)}

    def _model(self, model):
        keras = _keras()
        self.kept.append(model)
        config = keras.saving.serialize_keras_object(model)
        return {
            "t": "model",
            "config": json.loads(_json_dumps(config, default=str)),  # plain JSON, nothing else
            "weights": [self._array(weight) for weight in model.get_weights()],
            "optimizer_id": id(model.optimizer) if getattr(model, "optimizer", None) is not None else None,
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


def _answer_key_identity(name, function):
    """The answer key's name when ``function`` is the package's own answer (or a copy of its code), else None."""
    import importlib

    for entry in ANSWER_KEY.get(name, ()):
        module_name, attribute = entry.split(":")
        reference = getattr(importlib.import_module(f"mnist_lessons.{module_name}"), attribute)
        candidate = function
        for _ in range(5):  # through functools.wraps / partial layers
            if candidate is reference or getattr(candidate, "__code__", None) is reference.__code__:
                return f"mnist_lessons.{attribute}"
            candidate = getattr(candidate, "__wrapped__", None) or getattr(candidate, "func", None)
            if candidate is None:
                break
    return None


@contextlib.contextmanager
def _answer_key_locked(name):
    """While the learner's function runs, the package's answer to the same exercise refuses to run."""
    import importlib

    import mnist_lessons

    saved, added = [], []
    for entry in ANSWER_KEY.get(name, ()):
        module_name, attribute = entry.split(":")
        module = importlib.import_module(f"mnist_lessons.{module_name}")

        def locked(*args, _attribute=attribute, **kwargs):
            raise AnswerKeyUsed(f"mnist_lessons.{_attribute}")

        for owner in (module, mnist_lessons):
            if attribute in vars(owner):
                saved.append((owner, attribute, vars(owner)[attribute]))
            else:
                added.append((owner, attribute))  # mnist_lessons loads its names lazily
            setattr(owner, attribute, locked)
    try:
        yield
    finally:
        for owner, attribute in added:
            with contextlib.suppress(AttributeError):
                delattr(owner, attribute)
        for owner, attribute, value in reversed(saved):
            setattr(owner, attribute, value)


class _NoIPython:
    """What ``get_ipython()`` gives outside Jupyter: magics (``%matplotlib inline``) do nothing."""

    def __new__(cls):
        return cls

    @staticmethod
    def run_line_magic(*args, **kwargs):
        return None

    @staticmethod
    def run_cell_magic(*args, **kwargs):
        return None

    @staticmethod
    def system(*args, **kwargs):
        return None


def _keras():
    from mnist_lessons.backend import import_keras

    return import_keras()


def _quiet_keras():
    from mnist_lessons.checks import _quiet

    return _quiet


@contextlib.contextmanager
def _quiet_output():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else ""


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        main()
