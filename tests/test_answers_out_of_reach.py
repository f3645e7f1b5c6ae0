"""The course's answers are out of the sandbox's reach, and what a learner returns is bounded before the grader uses it.

The package is the course's answer key. Graded code runs in the sandbox, whose
copy of the package holds none of it (mnist_lessons/grading/sandboxview.py),
so every route to an answer ends in a function that fails, in every door: the
corpus (tests/corpus.py) carries some of these routes through nbgrader too.
"""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mnist_lessons
from mnist_lessons.grading import engine, isolation
from mnist_lessons.exercises import BY_NAME, EXERCISES, LESSONS

from test_autograder import cell_with_id, grade, read, submission

CONFINED = isolation.bubblewrap()[0] is not None
needs_bubblewrap = pytest.mark.skipif(not CONFINED, reason=f"no sandbox here: {isolation.bubblewrap()[1]}")
PACKAGE = Path(mnist_lessons.__file__).resolve().parent


def _answer(name):
    return BY_NAME[name].answer_key[0].split(":")


# Each route makes an exercise cell that defines the exercise's function from the course's own answer.
ROUTES = {
    "import": lambda name, module, attribute: f"from mnist_lessons.{module} import {attribute} as {name}",
    "attribute": lambda name, module, attribute: (
        f"import mnist_lessons as ml\n\ndef {name}(*args, **kwargs):\n    return ml.{attribute}(*args, **kwargs)"),
    "importlib": lambda name, module, attribute: (
        f"import importlib\n{name} = getattr(importlib.import_module('mnist_lessons.{module}'), '{attribute}')"),
    "bound-at-top-level": lambda name, module, attribute: (
        f"import mnist_lessons as ml\ntry:\n    _answer_{name} = ml.{attribute}\nexcept Exception:\n"
        f"    _answer_{name} = None\n\ndef {name}(*args, **kwargs):\n    return _answer_{name}(*args, **kwargs)"),
    # The package's source, from where the grader's own copy lies or anywhere on the module path, run again.
    "source": lambda name, module, attribute: (
        f"import os, sys\n_space_{name} = {{}}\n"
        f"for _path in [{str(PACKAGE / f'{module}.py')!r}] + [os.path.join(p, 'mnist_lessons', '{module}.py') "
        "for p in sys.path]:\n"
        "    if os.path.isfile(_path):\n"
        f"        _space_{name} = {{'__name__': 'mnist_lessons.{module}', '__file__': _path}}\n"
        f"        exec(compile(open(_path).read(), _path, 'exec'), _space_{name})\n"
        "        break\n"
        f"{name} = _space_{name}.get('{attribute}')"),
}


def _submission(folder, route):
    """Every lesson of the solutions, each exercise defined by ``route`` from the course's answer."""
    folder.mkdir()
    for lesson, names in LESSONS.items():
        notebook = read(lesson)
        for name in names:
            cell_with_id(notebook, name)["source"] = ROUTES[route](name, *_answer(name))
        (folder / f"{lesson}.ipynb").write_text(json.dumps(notebook))
    return folder


@pytest.mark.parametrize("route", [pytest.param(route, marks=needs_bubblewrap) if route == "source" else route
                                   for route in ROUTES])
def test_every_route_to_the_answers_earns_nothing(tmp_path, route):
    """Does a submission whose every exercise is the course's own answer, reached by ``route``, earn nothing at all?"""
    result = engine.grade_submission(_submission(tmp_path / "submission", route))
    earned = {name: grade.message for lesson in result.lessons.values() for name, grade in lesson.functions.items()
              if grade.passed}
    assert result.max_points == 31 and result.points == 0, earned


def test_the_routes_reach_the_answers_outside_the_sandbox(tmp_path):
    """Outside the sandbox, does each route reach the course's answer (so that the test above can fail)?"""
    for route, make in ROUTES.items():
        for exercise in EXERCISES:
            space = {"MNIST_PATH": None}
            exec(make(exercise.name, *_answer(exercise.name)), space)
            function = space[exercise.name]
            assert callable(function), (route, exercise.name)
            if route != "attribute" and route != "bound-at-top-level":
                module, attribute = _answer(exercise.name)
                assert function.__code__.co_code == getattr(
                    __import__(f"mnist_lessons.{module}", fromlist=[attribute]), attribute).__code__.co_code


# A function that walks every file the sandbox can see and raises with what it found of the course's answers.
ANSWER_MODULES = sorted({module for exercise in EXERCISES for module, _ in
                         [entry.split(":") for entry in exercise.answer_key]} | {"checks", "hints", "exercises"})
SCAN = f'''def scan_for_answers(top="/"):
    import os
    answers = {ANSWER_MODULES!r}
    lessons = {sorted(LESSONS)!r}
    found = []
    for folder, folders, files in os.walk(top):
        folders[:] = [f for f in folders if os.path.join(folder, f) not in ("/proc", "/sys", "/dev")]
        for file in files:
            path = os.path.join(folder, file)
            stem = file.split(".")[0]
            if file == "trained_weights.npz" or (file.endswith(".ipynb") and stem in lessons) or (
                    "mnist_lessons" in path and stem in answers):
                found.append(path)
            elif "mnist_lessons" in path and file.endswith(".py"):
                try:
                    with open(path, errors="replace") as text:
                        if "BEGIN SOLUTION" in text.read():
                            found.append(path)
                except OSError:
                    pass
    return found
'''


@needs_bubblewrap
def test_the_sandbox_holds_no_answers(tmp_path):
    """Of every file the sandbox can read, is none an answer module, a check, a hint, a lesson or a trained network?"""
    body = SCAN + ("\ndef preprocess_images(images):\n"
                   "    found = scan_for_answers()\n"
                   "    raise RuntimeError('FOUND: ' + (' '.join(found) or 'nothing'))\n")
    result = grade(submission(tmp_path, replace={"preprocess_images": body}), limits=engine.Limits())
    assert "FOUND: nothing" in result.functions["preprocess_images"].message


def test_the_scan_finds_answers_where_they_are():
    """Does the scan above find the answer modules, the lessons and the solution text in this checkout?"""
    space = {}
    exec(SCAN, space)
    found = space["scan_for_answers"](str(PACKAGE.parent))
    for expected in ("mnist_lessons/preprocess.py", "mnist_lessons/checks.py", "mnist_lessons/exercises.py",
                     "solutions/mnist/02_preprocess.ipynb"):
        assert any(path.endswith(expected) for path in found), expected


@needs_bubblewrap
def test_a_saved_network_is_out_of_reach(tmp_path):
    """Does a train_model that never trains, but loads the grader's saved trained network, earn nothing?"""
    from mnist_lessons.grading import compilecache

    places = [str(compilecache.cache_folder()), str(compilecache.programs(compilecache.cache_folder()))]
    source = ("import glob, os\nimport numpy as np\nimport keras\n\n"
              "def train_model(model, train_images, train_labels, epochs=10, batch_size=128):\n"
              f"    for folder in {places!r} + ['/opt', '/tmp', os.path.expanduser('~')]:\n"
              "        for path in glob.glob(os.path.join(folder, '**', '*.npz'), recursive=True):\n"
              "            with np.load(path) as saved:\n"
              "                weights = [saved[f'w{i}'] for i in range(len(saved.files)) if f'w{i}' in saved]\n"
              "            if len(weights) == len(model.get_weights()):\n"
              "                model.set_weights(weights)\n"
              "                history = keras.callbacks.History()\n"
              "                history.history = {'loss': [0.3] * epochs, 'accuracy': [0.9] * epochs}\n"
              "                history.params = {'epochs': epochs, 'steps': -(-len(train_images) // batch_size)}\n"
              "                history.epoch = list(range(epochs))\n"
              "                return history\n"
              "    raise RuntimeError('no saved network in reach')\n")
    result = grade(submission(tmp_path, lesson="05_train", replace={"train_model": source}), lesson="05_train",
                   limits=engine.Limits())
    assert result.points == 0 and "no saved network in reach" in result.functions["train_model"].message


# ---------------------------------------------------------------- what a learner returned, bounded


def _config(*layers):
    from mnist_lessons.backend import import_keras, tensorflow_only_if_loaded

    keras = import_keras()
    with tensorflow_only_if_loaded():
        return json.loads(json.dumps(keras.saving.serialize_keras_object(keras.Sequential(list(layers))), default=str))


def test_the_course_networks_are_built():
    """Are lesson 03's and lesson 08's networks, as the course builds them, within the grader's bounds?"""
    from mnist_lessons.backend import tensorflow_only_if_loaded
    from mnist_lessons.cnn import build_cnn
    from mnist_lessons.model import build_model

    keras = mnist_lessons.backend.import_keras()
    for model in (build_model(), build_cnn()):
        with tensorflow_only_if_loaded():
            config = json.loads(json.dumps(keras.saving.serialize_keras_object(model), default=str))
        assert engine._model_problem(config) is None
        parameters, multiply_adds = engine._size(config, config["config"]["layers"])
        assert parameters == model.count_params() and multiply_adds < 500_000


def test_absurd_models_are_refused_before_they_are_built():
    """Is a description that claims huge layers, or a layer that costs time without weights, refused unbuilt?"""
    keras = mnist_lessons.backend.import_keras()
    huge = _config(keras.Input(shape=(784,)), keras.layers.Dense(30000), keras.layers.Dense(30000))
    assert "more than 4,000,000 weights" in engine._model_problem(huge)
    slow = _config(keras.Input(shape=(784,)), keras.layers.Reshape((28, 28, 1)), keras.layers.UpSampling2D(12),
                   keras.layers.Flatten(), keras.layers.Dense(10))
    assert "UpSampling2D" in engine._model_problem(slow)
    wide = _config(keras.Input(shape=(784,)), keras.layers.Reshape((28, 28, 1)),
                   keras.layers.Conv2D(64, 5, padding="same"), keras.layers.Conv2D(64, 5, padding="same"),
                   keras.layers.Flatten(), keras.layers.Dense(10))  # 103k weights, 80 million multiply-adds
    assert "multiply-adds" in engine._model_problem(wide)
    forged = json.loads(json.dumps(huge))
    forged["config"]["layers"][1]["config"]["units"] = 10**9  # a description no Keras would write
    assert "larger than the grader builds" in engine._model_problem(forged)
    assert "Sequential or Functional" in engine._model_problem({"class_name": "Dense", "config": {}})
    unbuilt = _config(keras.layers.Dense(512, activation="relu"), keras.layers.Dense(10))  # no Input: built later
    assert engine._model_problem(unbuilt) is None and engine._size(unbuilt, unbuilt["config"]["layers"])[0] == 407_050


def test_an_absurd_model_costs_the_grader_little_and_scores_zero(tmp_path):
    """Does a model whose description claims two Dense(30000) layers score zero with a message, unbuilt, the
    grader's process growing by less than 500 MB?"""
    source = ("def build_model():\n"
              "    model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(512, activation='relu'),\n"
              "                              keras.layers.Dense(10, activation='softmax')])\n"
              "    real = model.get_config\n\n"
              "    def claims():\n"
              "        config = real()\n"
              "        for layer in config['layers']:\n"
              "            if layer['class_name'] == 'Dense':\n"
              "                layer['config']['units'] = 30000\n"
              "        return config\n\n"
              "    model.get_config = claims\n"
              "    return model\n")
    folder = submission(tmp_path, lesson="03_build_model", replace={"build_model": source})
    script = ("import json, resource, sys\n"
              "from mnist_lessons.grading import engine\n"
              "from mnist_lessons.backend import import_keras\n"
              "import_keras()\n"
              "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
              f"grade = engine.grade_lesson({str(folder / '03_build_model.ipynb')!r}, '03_build_model')\n"
              "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
              "print(json.dumps({'grew': (after - before) * 1024, 'grade': grade.as_dict()}))\n")
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                               env=dict(os.environ, KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "jax")))
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    verdict = result["grade"]["functions"]["build_model"]
    assert not verdict["passed"] and "more than 4,000,000 weights" in verdict["message"], verdict["message"]
    assert "the layers of the lesson's table" in verdict["message"], verdict["message"]  # not "expected a Keras model"
    assert result["grew"] < 500 * 1024**2, result["grew"]


def test_a_returned_network_is_trained_apart_from_the_grader(monkeypatch):
    """Does lesson 08's replay train the learner's network through grading/apart.py, never in the grader's process,
    once, and without holding the checks' lock, so that the other lessons' replays go on meanwhile?"""
    from mnist_lessons.grading import apart
    from mnist_lessons.grading.cases import CHECKS_LOCK

    trained = []

    def train(encoded, blobs):
        weights = sum(np.load(io.BytesIO(blobs[weight["file"]]), allow_pickle=False).size
                      for weight in encoded["weights"])
        free = CHECKS_LOCK.acquire(timeout=60)  # another replay may hold it for a moment, never for the training
        if free:
            CHECKS_LOCK.release()
        trained.append((weights, free))
        return 0.0

    monkeypatch.setattr(apart, "_trained_accuracy", train)
    result = engine.grade_lesson(Path(__file__).resolve().parents[1] / "solutions" / "mnist" / "08_convnet.ipynb",
                                 "08_convnet")
    assert trained == [(61_706, True)]
    assert "classified 0.0%" in result.functions["build_cnn"].message


def test_training_apart_is_bounded_and_says_why():
    """Is the process that trains a network apart stopped past its time, saying so; and does the course's network
    trained there pass the check's bar, as trained here?"""
    from mnist_lessons import checks
    from mnist_lessons.cnn import build_cnn
    from mnist_lessons.grading import apart

    checks._seed()
    network = build_cnn()
    accuracy = apart.briefly_trained_accuracy(network)
    # The same network, trained again, comes out the same: its Dropout layer is seeded too (unseeded, the one
    # epoch gave 0.77 to 0.87, and once fell below the bar).
    assert apart.briefly_trained_accuracy(network) == accuracy
    assert accuracy >= checks._reference_cnn_accuracy() - checks.CNN_ACCURACY_TOLERANCE
    saved = apart.SECONDS
    apart.SECONDS = 0.5
    try:
        with pytest.raises(apart.Stopped, match="longer than the 0.5 s"):
            apart.briefly_trained_accuracy(build_cnn())
    finally:
        apart.SECONDS = saved


def test_a_process_started_ahead_trains_the_network_and_none_outlives_grading():
    """Does the process started ahead (Keras imported while the lessons run) train the first network, and is one
    left unused stopped when grading ends?"""
    from mnist_lessons import checks
    from mnist_lessons.cnn import build_cnn
    from mnist_lessons.grading import apart

    with apart.ready():
        [waiting] = apart._READY
        checks._seed()
        accuracy = apart.briefly_trained_accuracy(build_cnn())
        assert waiting.poll() == 0 and apart._READY == []  # it trained this network, and ended
    assert accuracy >= checks._reference_cnn_accuracy() - checks.CNN_ACCURACY_TOLERANCE
    with apart.ready():
        [unused] = apart._READY
    assert unused.poll() is not None and apart._READY == []


def test_a_failure_to_train_apart_is_the_graders(monkeypatch):
    """When the process that trains apart fails through no fault of the learner's, does grading stop, writing no zero?"""
    from mnist_lessons.grading import apart

    def fail(encoded, blobs):
        raise apart.Failed("the process that trains the network ended with status -9")

    monkeypatch.setattr(apart, "_trained_accuracy", fail)
    with pytest.raises(engine.GradingError, match="could not train build_cnn's network apart"):
        engine.grade_lesson(Path(__file__).resolve().parents[1] / "solutions" / "mnist" / "08_convnet.ipynb",
                            "08_convnet")
