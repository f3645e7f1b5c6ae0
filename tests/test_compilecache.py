"""The grader's compilation cache (grading/compilecache.py): written by a trusted warm-up only, read-only to learner code."""

import os

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
    assert len(list(folder.glob("jit_*"))) >= 10  # the training step, the evaluation and their parts
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


@needs_bubblewrap
def test_learner_code_cannot_write_into_the_cache(tmp_path, monkeypatch):
    """Can learner code, told where the cache is, plant a program in it for the next student?"""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / compilecache.READY_FILE).write_text("warm")  # no warm-up: this test is about the child's view
    monkeypatch.setenv(compilecache.FOLDER_VARIABLE, str(cache))
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    code = ("import os\n"
            "folder = os.environ['JAX_COMPILATION_CACHE_DIR']\n"
            "open(os.path.join(folder, 'jit_train_step-planted-cache'), 'wb').write(b'native code')\n")
    result = grade(submission(tmp_path, replace={"preprocess_images": attack(code)}))
    assert sorted(os.listdir(cache)) == [".lock", compilecache.READY_FILE]
    assert result.points == 4 and GOOD_ONE_HOT in result.functions["one_hot_labels"].message
