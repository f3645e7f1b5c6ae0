"""The mnist-lessons command, end to end on the sample (a tenth of the MNIST inside the package)."""

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from mnist_lessons.grading import compilecache
from mnist_lessons.grading.forkserver import kill_all
from mnist_lessons.grading.processes import trees
from mnist_lessons.exercises import LESSONS

from mnist_lessons import cli
from mnist_lessons.cli import main

ROOT = Path(__file__).resolve().parents[1]

EXPECTED_FILES = {
    "model.keras", "metrics.json", "digits.png", "class_counts.png",
    "training_curves.png", "confusion_matrix.png", "misclassified.png",
}


def run_cli(capsys, *argv):
    """Run main() in-process; return (exit status, stdout, stderr)."""
    try:
        status = main(list(argv))
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """One 2-epoch training run on the bundled sample, shared by the tests below.

    It runs on TensorFlow, Keras' own default and the noisy one at start-up,
    whatever backend this machine would pick by itself.
    """
    out = tmp_path_factory.mktemp("run") / "sample"
    completed = subprocess.run(
        [sys.executable, "-m", "mnist_lessons.cli", "train", "--data", "sample", "--epochs", "2",
         "--seed", "3", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "KERAS_BACKEND": "tensorflow"},
    )
    return completed, out


def test_train_writes_model_metrics_and_plots(sample_run):
    """Does train exit 0 and leave the model, metrics.json and the five plots?"""
    completed, out = sample_run
    assert completed.returncode == 0, completed.stderr
    assert {path.name for path in out.iterdir()} == EXPECTED_FILES


def test_train_metrics_json(sample_run):
    """Does metrics.json record the run's settings, figures, data source and versions?"""
    completed, out = sample_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["epochs"], metrics["batch_size"], metrics["seed"]) == (2, 128, 3)
    assert metrics["model"] == "dense"  # the default network
    assert "Training the dense network for 2 epochs in batches of 128 on the tensorflow backend ..." in completed.stdout
    assert metrics["data_source"] == "sample"
    assert metrics["num_train_images"] == 6000 and metrics["num_test_images"] == 1000
    assert 0.85 < metrics["test_accuracy"] <= 1.0
    assert 0 < metrics["test_loss"] < 1.0
    assert len(metrics["epoch_seconds"]) == 2
    assert metrics["seconds_per_epoch"] == metrics["epoch_seconds"][1]  # the median of epochs 2..N
    assert metrics["backend"] == "tensorflow" and "tensorflow" in metrics["versions"]
    assert {"keras", "numpy", "python"} <= set(metrics["versions"])
    # The printed figures are the saved ones.
    assert f"test accuracy {metrics['test_accuracy']:.4f}" in completed.stdout


def test_train_prints_predicted_against_actual(sample_run):
    """Does the output hold a 10-row table of predicted and actual labels?"""
    completed, _ = sample_run
    table = completed.stdout.split("Predicted against actual labels, first 10 test images:")[1]
    rows = [line.split() for line in table.strip().splitlines()[1:11]]
    assert [int(row[0]) for row in rows] == list(range(10))
    assert all(row[1].isdigit() and row[2].isdigit() for row in rows)


def test_train_keeps_stderr_clean(sample_run):
    """On TensorFlow, is stderr free of its start-up INFO lines? (Its error-level cuInit line on a machine with no GPU
    stays: the filter keeps every error; the default backend's run writes nothing at all, test_train_on_jax_backend.)"""
    completed, _ = sample_run
    assert "oneDNN" not in completed.stderr
    assert "cuda drivers" not in completed.stderr
    assert "absl::InitializeLog" not in completed.stderr


def test_train_refuses_to_overwrite_a_run(sample_run, capsys):
    """Does a second run into a finished run's folder stop before training, saying why?"""
    _, out = sample_run
    before = (out / "metrics.json").read_text()
    status, _, err = run_cli(capsys, "train", "--data", "sample", "--out", str(out))
    assert status == 2
    assert "already holds a run" in err and "--overwrite" in err
    assert (out / "metrics.json").read_text() == before


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--epochs", "0"], "--epochs: expected a whole number of at least 1, got '0'"),
        (["train", "--batch-size", "many"], "--batch-size: expected a whole number of at least 1"),
        (["train", "--seed", "-1"], "--seed: expected a whole number of at least 0"),
        (["train", "--model", "nonsense"], "argument --model: invalid choice: 'nonsense'"),
        (["fly"], "invalid choice: 'fly'"),
    ],
)
def test_bad_arguments_exit_2_with_one_message(capsys, argv, message):
    """Does each bad argument give exit status 2 and a message naming it?"""
    status, _, err = run_cli(capsys, *argv)
    assert status == 2
    assert message in err


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    """One 1-epoch run of `train --model cnn` on the sample, on the default backend, with a compilation cache of its own."""
    folder = tmp_path_factory.mktemp("cnn")
    env = {key: value for key, value in os.environ.items()
           if key not in ("JAX_COMPILATION_CACHE_DIR", compilecache.FOLDER_VARIABLE)}
    env["XDG_CACHE_HOME"] = str(folder / "cache")  # shared with the predict test, which reads its programs back
    completed = subprocess.run(
        [sys.executable, "-m", "mnist_lessons.cli", "train", "--model", "cnn", "--data", "sample", "--epochs", "1",
         "--out", str(folder / "run")],
        capture_output=True, text=True, timeout=300, env=env,
    )
    return completed, folder / "run", env


def test_train_cnn(cnn_run):
    """Does `train --model cnn` save the CNN (61,706 parameters) and say so, in its output and in metrics.json?"""
    from mnist_lessons.backend import import_keras
    from mnist_lessons.cnn import NUM_CNN_PARAMETERS

    completed, out, _ = cnn_run
    assert completed.returncode == 0, completed.stderr
    assert {path.name for path in out.iterdir()} == EXPECTED_FILES
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "cnn"
    assert f"Training the cnn network for 1 epochs in batches of 128 on the {metrics['backend']} backend" in completed.stdout
    assert import_keras().saving.load_model(out / "model.keras").count_params() == NUM_CNN_PARAMETERS == 61_706
    # One epoch of the sample gave 0.74 to 0.88 for seeds 0 to 7; chance is 0.1.
    assert 0.5 < metrics["test_accuracy"] <= 1.0


def test_predict_with_a_cnn_run(cnn_run, tmp_path):
    """Does `predict --model RUN` read a picture with a CNN run, giving the probabilities the saved model gives?"""
    from PIL import Image

    from mnist_lessons import drawing
    from mnist_lessons.backend import import_keras
    from mnist_lessons.data import load_mnist_data

    _, out, env = cnn_run
    digit = load_mnist_data("sample").test_images[0]
    picture = tmp_path / "digit.png"
    Image.fromarray(255 - np.kron(digit, np.ones((4, 4), dtype=np.uint8))).save(picture)  # dark ink on paper
    completed = subprocess.run(
        [sys.executable, "-m", "mnist_lessons.cli", "predict", str(picture), "--model", str(out), "--data", "sample",
         "--out", str(tmp_path / "predicted")],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert completed.returncode == 0, completed.stderr
    model = import_keras().saving.load_model(out / "model.keras")
    prepared = drawing.prepare_digit(drawing.read_digit_image(picture)).reshape(1, 784)
    expected = np.asarray(model.predict(prepared, verbose=0))[0]
    assert f"  a {int(expected.argmax())}, with probability " in completed.stdout
    printed = completed.stdout.split("  probability ")[1].split("\n")[0].split()
    np.testing.assert_allclose([float(p) for p in printed], expected, atol=0.01)


def test_bad_data_path_exits_2(capsys, tmp_path):
    """Does a missing data file give exit status 2 and one line naming it, without a traceback?"""
    missing = tmp_path / "nowhere.npz"
    status, _, err = run_cli(capsys, "data", "--data", str(missing))
    assert status == 2
    assert str(missing) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_corrupt_env_data_exits_2(capsys, tmp_path, monkeypatch):
    """Is a corrupt file named in MNIST_LESSONS_DATA reported with the variable's name?"""
    broken = tmp_path / "mnist.npz"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    monkeypatch.setenv("MNIST_LESSONS_DATA", str(broken))
    status, _, err = run_cli(capsys, "train", "--out", str(tmp_path / "out"))
    assert status == 2
    assert "MNIST_LESSONS_DATA" in err and str(broken) in err
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_data_command_on_sample(capsys):
    """Does data report the sample's source, sizes and class counts?"""
    status, out, _ = run_cli(capsys, "data", "--data", "sample")
    assert status == 0
    assert "Source:   a tenth of each digit of the copy of MNIST inside mnist_lessons" in out
    assert "a stratified tenth of the complete MNIST" in out
    assert "6,000 images of (28, 28) uint8, pixels 0-255" in out
    assert "1,000 images" in out
    assert "per digit: 0:" in out


def test_data_command_on_full_set(capsys, full_mnist_path):
    """Does data confirm the full set's checksums and its known class counts?"""
    status, out, _ = run_cli(capsys, "data", "--data", str(full_mnist_path))
    assert status == 0
    assert "all four arrays match the published MNIST" in out
    assert "60,000 images" in out and "10,000 images" in out
    assert "1:6742" in out  # the training set's count of ones


def test_help_everywhere(capsys):
    """Do the command and each subcommand answer --help with exit status 0?"""
    for argv in (["--help"], ["data", "--help"], ["train", "--help"]):
        status, out, _ = run_cli(capsys, *argv)
        assert status == 0 and "usage: mnist-lessons" in out


def test_console_script_installed():
    """Is the mnist-lessons console script on PATH and working?"""
    script = Path(sys.executable).parent / "mnist-lessons"  # installed beside this interpreter
    completed = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0 and "train" in completed.stdout


def test_train_on_jax_backend(tmp_path):
    """Does the same pipeline run on Keras' JAX backend, and say so in metrics.json?"""
    pytest.importorskip("jax", reason="JAX is not installed (it is one of the project's dependencies)")
    out = tmp_path / "jax"
    env = {key: value for key, value in os.environ.items()
           if key not in ("JAX_COMPILATION_CACHE_DIR", compilecache.FOLDER_VARIABLE)}
    completed = subprocess.run(
        [sys.executable, "-m", "mnist_lessons.cli", "train", "--data", "sample", "--epochs", "1",
         "--out", str(out)],
        capture_output=True, text=True, timeout=300,
        env={**env, "KERAS_BACKEND": "jax", "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert completed.returncode == 0, completed.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["backend"] == "jax" and "jax" in metrics["versions"]
    assert completed.stderr == ""  # not even TensorFlow's start-up, which saving the model imports on JAX too
    assert metrics["test_accuracy"] > 0.8
    # The run kept its compiled programs in the learner's own cache, for the next start to read back.
    (cache,) = (tmp_path / "cache" / "mnist-lessons").glob("own-xla-*")
    assert len(list(cache.glob("jit_*"))) >= 10  # the initializers, the training step, evaluation


def test_lab_command_opens_the_first_lesson(capsys, monkeypatch):
    """Does `mnist-lessons lab --dry-run` show the jupyter lab command for lesson 01 of the course, passing extra arguments on?"""
    monkeypatch.setattr(os, "geteuid", lambda: 1000, raising=False)  # a learner's own account
    status, out, err = run_cli(capsys, "lab", "--dry-run", "--", "--port", "8890")
    assert status == 0 and err == ""
    words = out.split()
    assert words[1:3] == ["-m", "jupyterlab"]
    assert words[3] == f"--ServerApp.root_dir={Path(__file__).resolve().parents[1] / 'course'}"
    # nbgrader's grading pages stay off: they would warn at every start that the learner has no nbgrader_config.py.
    assert words[4] == "--ServerApp.jpserver_extensions=nbgrader.server_extensions.formgrader=False"
    assert words[5:] == ["mnist/01_load_data.ipynb", "--port", "8890"]


def test_lab_as_root_allows_root_and_says_so(capsys, monkeypatch):
    """As root (a container, a Colab-like host), does `lab --dry-run` say it runs JupyterLab with --allow-root, once?"""
    monkeypatch.setattr(os, "geteuid", lambda: 0, raising=False)
    status, out, err = run_cli(capsys, "lab", "--dry-run")
    assert status == 0
    assert out.split()[-2:] == ["--allow-root", "mnist/01_load_data.ipynb"]
    assert err.splitlines() == ["mnist-lessons: running as root (in a container?), so JupyterLab is started with "
                                "--allow-root"]
    status, out, err = run_cli(capsys, "lab", "--dry-run", "--", "--allow-root")
    assert out.split().count("--allow-root") == 1 and err == ""


def test_lab_starts_as_root_without_warnings(tmp_path):
    """Started for real as root, in a learner's folder without nbgrader_config.py, does JupyterLab serve, and not warn of it?"""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root: JupyterLab's refusal to run as root is what this test is about")
    course = tmp_path / "course"
    run = subprocess.Popen(
        [sys.executable, "-m", "mnist_lessons.cli", "lab", "--course", str(course), "--", "--no-browser",
         "--port", "0", "--IdentityProvider.token=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")},
        start_new_session=True,  # its JupyterLab is its child: both are stopped together, as Ctrl+C stops them
    )
    lines, serving = [], threading.Event()

    def read():  # all of its output, to the end: a pipe left full would stop JupyterLab mid-line
        for line in run.stdout:
            lines.append(line)
            if "is running at" in line:
                serving.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert serving.wait(120), "".join(lines[-40:])  # SIGTERM only once it serves, its handlers in place
        os.kill(run.pid, signal.SIGTERM)  # to the command alone, as a service manager stops it: JupyterLab is it
        run.wait(timeout=120)  # raises, failing the test, if JupyterLab did not stop
        assert not trees([], sessions=[run.pid]), "a process of the lab outlived SIGTERM to the command"
    finally:
        kill_all(trees([], sessions=[run.pid]))  # no server outlives the test, whatever failed above
        reader.join(30)
    log = "".join(lines)
    assert "so JupyterLab is started with --allow-root" in log and "Running as root is not recommended" not in log
    assert "nbgrader_config.py" not in log, log


def test_lab_kernels_keep_their_compiled_programs(capsys, monkeypatch, tmp_path):
    """Does `lab` start JupyterLab, and so its kernels, with the learner's own compilation cache, unless one was chosen?"""
    started = []
    monkeypatch.setattr(cli, "run_jupyterlab", lambda command, cwd, env: started.append(env) or 0)
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.delenv(compilecache.FOLDER_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert run_cli(capsys, "lab")[0] == 0
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "mine"))
    assert run_cli(capsys, "lab")[0] == 0
    ours, theirs = started
    assert ours["JAX_COMPILATION_CACHE_DIR"] == str(compilecache.own_folder())
    assert Path(ours["JAX_COMPILATION_CACHE_DIR"]).parent == tmp_path / "mnist-lessons"
    assert ours["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"
    assert theirs["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "mine")  # the learner's own choice wins


def test_lab_hands_out_the_course_once(capsys, tmp_path):
    """Does `lab --course NEW` copy every lesson and the autograder there, then never overwrite the learner's work?"""
    course = tmp_path / "my-course"
    status, out, _ = run_cli(capsys, "lab", "--course", str(course), "--dry-run")
    assert status == 0
    assert f"Copied the lessons into {course}/" in out
    assert f"--ServerApp.root_dir={course.resolve()}" in out.splitlines()[-1]
    released = sorted(path.name for path in (ROOT / "course" / "mnist").glob("*.ipynb"))
    assert sorted(path.name for path in (course / "mnist").glob("*.ipynb")) == released
    assert released == sorted(f"{lesson}.ipynb" for lesson in LESSONS)
    assert (course / "autograder" / "conftest.py").is_file()
    assert all((course / "autograder" / f"test_{lesson}.py").is_file() for lesson in LESSONS)
    lesson = course / "mnist" / "02_preprocess.ipynb"
    lesson.write_text("the learner's own work")
    status, out, _ = run_cli(capsys, "lab", "--course", str(course), "--dry-run")
    assert status == 0 and "Copied" not in out
    assert lesson.read_text() == "the learner's own work"


def test_lab_refuses_a_file_as_course(capsys, tmp_path):
    """Does `lab --course FILE` exit 2 with one line naming the file?"""
    path = tmp_path / "notes.txt"
    path.write_text("")
    status, _, err = run_cli(capsys, "lab", "--course", str(path), "--dry-run")
    assert status == 2
    assert err.strip().splitlines() == [f"mnist-lessons: error: --course {path} is a file, not a folder"]
