"""The course's answers are out of the sandbox's reach, and what a learner returns is bounded before the grader uses it.

The package is the course's answer key. Graded code runs in the sandbox, whose
copy of the package holds none of it (mnist_lessons/grading/sandboxview.py),
so every route to an answer ends in a function that fails, in every door: the
corpus (tests/corpus.py) carries some of these routes through nbgrader too.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

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


SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions" / "mnist"


def test_the_grader_never_imports_keras():
    """Are the checks that build and train a learner's network replayed apart, so that the grader's own process,
    grading lessons 03 and 08 in full, never imports Keras, JAX or TensorFlow, and still passes the course's work?"""
    script = ("import json, sys\n"
              "from mnist_lessons.grading import engine\n"
              f"grade = engine.grade_submission({str(SOLUTIONS)!r}, ['03_build_model', '08_convnet'])\n"
              "print(json.dumps({'points': [grade.points, grade.max_points], "
              "'imported': sorted({'keras', 'jax', 'tensorflow'} & set(sys.modules))}))\n")
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["points"] == [6, 6] and result["imported"] == [], result


def _processes_apart():
    """The processes apart (and their children) still running on this machine."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"mnist_lessons.grading.apart" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_a_replay_apart_is_bounded_and_says_why(monkeypatch):
    """Is a replay in the process apart stopped past its time, and past its memory, each saying so in the
    verdict (the learner's network costs what it costs); and is no process apart left once grading ends?"""
    from mnist_lessons.grading import apart

    monkeypatch.setattr(apart, "SECONDS", 0.5)  # lesson 08's replay trains for an epoch: seconds
    verdict = engine.grade_lesson(SOLUTIONS / "08_convnet.ipynb", "08_convnet").functions["build_cnn"]
    assert not verdict.passed and "longer than the 0.5 s the grader allows" in verdict.message, verdict.message
    monkeypatch.setattr(apart, "SECONDS", 120.0)
    monkeypatch.setattr(apart, "MEMORY_BYTES", 32 * 1024**2)  # under what a child of Keras' process holds
    verdict = engine.grade_lesson(SOLUTIONS / "03_build_model.ipynb", "03_build_model").functions["build_model"]
    assert not verdict.passed and "of memory the grader allows" in verdict.message, verdict.message
    assert _processes_apart() == []


def test_a_failure_apart_is_the_graders(monkeypatch, tmp_path):
    """When the process apart fails through no fault of the learner's (it cannot start, or its replay breaks),
    does grading stop with the cause, writing no zero?"""
    from mnist_lessons.grading import apart

    with apart.Server(dict(os.environ, KERAS_BACKEND="no-such-backend"), tmp_path) as server:
        with pytest.raises(apart.Failed, match="failed to start"):
            server.verdict("build_model", {"calls": {"visible": [], "hidden": []}, "_arrays": {}})
    monkeypatch.setattr(apart, "_request_bytes", lambda name, record: b"not a request")
    with pytest.raises(engine.GradingError, match="could not replay build_model's check apart"):
        engine.grade_lesson(SOLUTIONS / "03_build_model.ipynb", "03_build_model")
    assert _processes_apart() == []
