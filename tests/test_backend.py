"""Which Keras backend the package picks, and how quietly it imports Keras (backend.py)."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from mnist_lessons import backend


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty KERAS_HOME and no KERAS_BACKEND: a user who chose nothing."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    return tmp_path


def write_keras_json(folder, backend_name):
    (folder / "keras.json").write_text(json.dumps({"backend": backend_name, "floatx": "float32"}))


def test_environment_variable_wins(keras_home, monkeypatch):
    """Does KERAS_BACKEND decide, whatever keras.json says and whatever is installed?"""
    write_keras_json(keras_home, "jax")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    assert backend.chosen_backend() == "tensorflow"


def test_edited_keras_json_wins_over_the_preference(keras_home, monkeypatch):
    """Does a keras.json naming a backend other than Keras' default count as the user's choice?"""
    write_keras_json(keras_home, "torch")
    monkeypatch.setattr(backend.importlib.util, "find_spec", lambda name: object())
    assert backend.chosen_backend() == "torch"


@pytest.mark.parametrize("config", [None, "tensorflow", "not json"])
def test_jax_preferred_when_installed(keras_home, monkeypatch, config):
    """With no choice made (no keras.json, Keras' own default in it, or a broken file), is JAX picked when installed?"""
    if config == "not json":
        (keras_home / "keras.json").write_text("{broken")
    elif config:
        write_keras_json(keras_home, config)
    monkeypatch.setattr(backend.importlib.util, "find_spec", lambda name: object() if name == "jax" else None)
    assert backend.chosen_backend() == "jax"


def test_tensorflow_without_jax(keras_home, monkeypatch):
    """Without JAX installed and no choice made, is it Keras' own default, TensorFlow?"""
    monkeypatch.setattr(backend.importlib.util, "find_spec", lambda name: None)
    assert backend.chosen_backend() == "tensorflow"


def test_import_keras_uses_the_chosen_backend(keras_home):
    """In a fresh process with no choice made, does Keras come up on chosen_backend(), quietly, seeding included?"""
    code = (
        "from mnist_lessons.backend import backend_name, chosen_backend\n"
        "from mnist_lessons.training import set_seed\n"
        "set_seed(0)\n"
        "print(chosen_backend(), backend_name())\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(keras_home)
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode == 0, completed.stderr
    chosen, running = completed.stdout.split()
    assert chosen == running
    assert completed.stderr == ""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None or importlib.util.find_spec("tensorflow") is None,
                    reason="needs JAX to serialize on, and TensorFlow installed to be kept from loading")
def test_serializing_a_model_on_jax_leaves_tensorflow_unloaded(keras_home):
    """On JAX, does a model's config come out the same inside tensorflow_only_if_loaded, without loading TensorFlow
    (3.8 s); and does Keras load it again once the context is left?"""
    code = (
        "import json, sys\n"
        "from mnist_lessons.backend import import_keras, tensorflow_only_if_loaded\n"
        "from mnist_lessons.cnn import build_cnn\n"
        "keras = import_keras()\n"
        "model = build_cnn()\n"
        "with tensorflow_only_if_loaded():\n"
        "    inside = keras.saving.serialize_keras_object(model)\n"
        "loaded_inside = 'tensorflow' in sys.modules\n"
        "outside = keras.saving.serialize_keras_object(model)\n"
        "print(json.dumps([loaded_inside, 'tensorflow' in sys.modules, json.dumps(inside, default=str) == "
        "json.dumps(outside, default=str)]))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "KERAS_HOME": str(keras_home)}
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert json.loads(completed.stdout.splitlines()[-1]) == [False, True, True]


def test_a_process_that_never_draws_imports_keras_without_matplotlib(keras_home):
    """Does Keras come up without matplotlib after never_draws (the grader's processes), while a process that may
    draw gets it with Keras, as before; and can the former still import matplotlib itself afterwards?"""
    code = (
        "import json, sys\n"
        "from mnist_lessons import backend\n"
        "if sys.argv[1] == 'never': backend.never_draws()\n"
        "keras = backend.import_keras()\n"
        "with_keras = 'matplotlib' in sys.modules\n"
        "keras.layers.Dense(2)\n"
        "import matplotlib.pyplot\n"
        "print(json.dumps([with_keras, 'matplotlib.pyplot' in sys.modules]))\n"
    )
    env = {**os.environ, "KERAS_HOME": str(keras_home), "MPLBACKEND": "Agg"}
    found = {}
    for mode in ("never", "may"):
        completed = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, env=env,
                                   timeout=300)
        assert completed.returncode == 0, completed.stderr[-2000:]
        found[mode] = json.loads(completed.stdout.splitlines()[-1])
    assert found == {"never": [False, True], "may": [True, True]}


def test_the_course_configuration_leaves_copydetect_to_the_class_report():
    """Loading nbgrader_config.py, as every nbgrader command does (the formgrader and autograde included), imports
    neither copydetect nor matplotlib: only the class report's similarity flags need them."""
    from mnist_lessons.coursefiles import nbgrader_config_path

    code = (
        "import json, sys\n"
        "from traitlets.config import Config\n"
        "path = sys.argv[1]\n"
        "exec(compile(open(path).read(), path, 'exec'), {'get_config': Config, '__file__': path})\n"
        "print(json.dumps(sorted(name for name in ('copydetect', 'matplotlib', 'keras') if name in sys.modules)))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code, str(nbgrader_config_path())], capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert json.loads(completed.stdout.splitlines()[-1]) == []
