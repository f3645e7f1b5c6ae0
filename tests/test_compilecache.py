"""The grader's compilation cache (grading/compilecache.py): written by a trusted warm-up only, read-only to learner code."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_lessons.grading import compilecache, isolation

from test_autograder import GOOD_ONE_HOT, grade, submission
from test_isolation import attack, needs_bubblewrap


@needs_bubblewrap
def test_warm_up_fills_the_cache_once(tmp_path, monkeypatch):
    """Does the first grading fill a new cache with compiled programs, and the next find it ready without a warm-up?"""
    monkeypatch.setenv(compilecache.FOLDER_VARIABLE, str(tmp_path / "cache"))
    folder = compilecache.ready("jax")
    assert folder == tmp_path / "cache" and (folder / compilecache.READY_FILE).is_file()
    assert len(list(compilecache.programs(folder).glob("jit_*"))) >= 10  # the training step, the evaluation, ...
    from mnist_lessons import checks

    assert compilecache.trained_weights(folder).parent == folder  # beside the programs: no sandbox sees it
    with np.load(compilecache.trained_weights(folder)) as saved:  # the checks' briefly trained network, saved
        assert [saved[f"w{index}"].shape for index in range(len(saved.files))] == \
            [weight.shape for weight in checks._fresh_model().get_weights()]
    monkeypatch.setattr(compilecache, "_warm", lambda folder: pytest.fail("warmed a second time"))
    assert compilecache.ready("jax") == folder


def test_no_cache_without_the_sandbox_or_off_jax(tmp_path, monkeypatch):
    """Is the cache left out where the child is not confined (it could write native code others load), or not on JAX?"""
    monkeypatch.setenv(compilecache.FOLDER_VARIABLE, str(tmp_path / "cache"))
    monkeypatch.setattr(compilecache, "_warm", lambda folder: pytest.fail("warmed"))
    assert compilecache.ready("tensorflow") is None
    monkeypatch.setattr(isolation, "bubblewrap", lambda: (None, "no sandbox here"))
    assert compilecache.ready("jax") is None
    assert not (tmp_path / "cache").exists()


def test_learners_own_cache_is_apart_and_optional(tmp_path, monkeypatch):
    """Is the learner's own cache a folder apart from the grader's, kept for every program, and off when they say so?"""
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    variables = compilecache.own_variables(env)
    folder = Path(variables["JAX_COMPILATION_CACHE_DIR"])
    assert folder.parent == tmp_path / "mnist-lessons" and folder.name.startswith("own-xla-")
    assert variables["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"
    monkeypatch.delenv(compilecache.FOLDER_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    graders = compilecache.cache_folder()  # the trusted warm-up's, which learner code must never write
    assert graders.parent == folder.parent and graders != folder and folder.name == "own-" + graders.name
    assert compilecache.own_variables({**env, "JAX_COMPILATION_CACHE_DIR": "/mine"}) == {}
    assert compilecache.own_variables({**env, compilecache.FOLDER_VARIABLE: "none"}) == {}


@needs_bubblewrap
def test_learner_code_cannot_write_into_the_cache(tmp_path, monkeypatch):
    """Can learner code, told where the cache is, plant a program in it for the next student?"""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / compilecache.READY_FILE).write_text(compilecache.ready_text())  # no warm-up: this test is about the child's view
    monkeypatch.setenv(compilecache.FOLDER_VARIABLE, str(cache))
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    code = ("import os\n"
            "folder = os.environ['JAX_COMPILATION_CACHE_DIR']\n"
            "open(os.path.join(folder, 'jit_train_step-planted-cache'), 'wb').write(b'native code')\n")
    result = grade(submission(tmp_path, replace={"preprocess_images": attack(code)}))
    assert sorted(os.listdir(cache)) == [".lock", compilecache.PROGRAMS, compilecache.READY_FILE]
    assert os.listdir(compilecache.programs(cache)) == []
    assert result.points == 4 and GOOD_ONE_HOT in result.functions["one_hot_labels"].message


def test_grader_reads_the_cache_and_adds_nothing(tmp_path):
    """Does a process given read_in_this_process before JAX's first compilation load a program another process
    stored, and store none of its own, so that graders side by side never write the shared cache?"""
    pytest.importorskip("jax")
    cache = tmp_path / "cache"
    cache.mkdir()
    program = "import jax, jax.numpy as jnp\nprint(float(jax.jit(lambda x: jnp.sin(x) * 2)(jnp.float32(1.0))))\n"
    writer = {**compilecache.child_variables(cache), "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    subprocess.run([sys.executable, "-c", program], env={**os.environ, **writer}, check=True, capture_output=True,
                   timeout=120)
    stored = sorted(os.listdir(cache))
    assert stored  # the writer kept its program
    reader = ("import jax\n"
              "from mnist_lessons.grading import compilecache\n"
              f"compilecache.read_in_this_process({str(cache)!r})\n"
              "hits = []\n"
              "jax.monitoring.register_event_listener(lambda event, **kw: hits.append(event))\n"
              + program +
              "print(jax.numpy.ones(3).sum())\n"  # a program the cache does not hold
              "print(sum('cache_hits' in event for event in hits))\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("JAX_")}
    completed = subprocess.run([sys.executable, "-c", reader], env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert int(completed.stdout.split()[-1]) >= 1  # the stored program was read back
    assert sorted(os.listdir(cache)) == stored  # and nothing was added
