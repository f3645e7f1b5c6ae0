"""The ``mnist-lessons`` command: inspect the data and run the whole reference pipeline (all lessons).

    mnist-lessons data  [--data PATH|sample]
    mnist-lessons train [--model dense|cnn] [--epochs 10] [--batch-size 128] [--seed 0] [--data PATH|sample]
                        [--out DIR]
    mnist-lessons bench [--tiny] [--backend NAME] [--data PATH|sample] [--out FILE]
    mnist-lessons lab   [--course DIR] [--dry-run] [-- JUPYTER-LAB-ARGS]
    mnist-lessons progress [FOLDER]
    mnist-lessons predict IMAGE [--model PATH] [--out DIR] [--data PATH|sample]
    mnist-lessons autograde-class [ASSIGNMENT] [--course-dir DIR] [--jobs N] [--scheduler ADDRESS] [--force]
                                  [--student ID ...]
    mnist-lessons hub-setup --grader NAME [--course-id ID] [--exchange DIR] [--config-dir DIR]

Every failure a user can cause (a bad argument, bad data, an output folder
that already holds a run) ends with one line on stderr and exit status 2.
"""

import argparse
import contextlib
import datetime
import json
import os
import shlex
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from mnist_lessons import bench as bench_module
from mnist_lessons import coursefiles
from mnist_lessons.coursefiles import FIRST_LESSON
from mnist_lessons.data import DataError, describe_dataset, load_mnist_data
from mnist_lessons.environment import child_env
from mnist_lessons.grading import compilecache
from mnist_lessons.networks import DEFAULT_NETWORK, NETWORKS, build_network

HANDOUT_DIR = "mnist-course"  # where `lab` copies the lessons when there is no course folder yet
# nbgrader's grading pages, for instructors: `lab` leaves them off, since a learner's folder holds no course to grade
# and they would only warn at every start that it has no nbgrader_config.py (a learner needs none).
FORMGRADER = "nbgrader.server_extensions.formgrader"
RUNS_DIR = Path("runs")  # default parent of each training run's output folder
RESULT_FILES = ("metrics.json", "model.keras")  # a folder holding these holds a finished run
COMPARE_COUNT = 10  # predicted against actual labels printed for the first 10 test images

class UsageError(Exception):
    """A mistake in what the user asked for: reported in one line, exit status 2."""


def main(argv=None):
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        with _one_line_warnings():
            return args.handler(args)
    except (DataError, UsageError) as err:
        parser.exit(2, f"mnist-lessons: error: {err}\n")
    except KeyboardInterrupt:
        parser.exit(130, "mnist-lessons: interrupted\n")


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="mnist-lessons",
        description="Handwritten-digit recognition with Keras: the course's reference pipeline.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser(
        "data", help="say where the MNIST data comes from and what it holds",
        description="Load MNIST and report its source, shapes, class counts and checksum verdict.",
    )
    _add_data_argument(data)
    data.set_defaults(handler=data_command)

    train = commands.add_parser(
        "train", help="train and evaluate the reference model, saving the model, metrics and plots",
        description="Run the whole pipeline: load, preprocess, build, compile, train, evaluate.",
    )
    _add_data_argument(train)
    train.add_argument("--model", choices=tuple(NETWORKS), default=DEFAULT_NETWORK, dest="network",
                       help=f"the network: dense (lesson 03's) or cnn (lesson 08's); default {DEFAULT_NETWORK}")
    train.add_argument("--epochs", type=_positive_int, default=10, help="passes over the training set (default 10)")
    train.add_argument("--batch-size", type=_positive_int, default=128, help="images per weight update (default 128)")
    train.add_argument("--seed", type=_non_negative_int, default=0, help="seed for every random source (default 0)")
    train.add_argument("--out", type=Path, help=f"output folder (default {RUNS_DIR}/<date>-<time>-seed<SEED>)")
    train.add_argument("--overwrite", action="store_true", help="replace the results of an earlier run in --out")
    train.set_defaults(handler=train_command)

    bench = commands.add_parser(
        "bench", help="time training against this machine's matrix-multiply limit; accuracy across seeds",
        description="Measure, in one run: NumPy's float32 matmul rate and the floor of one epoch, seconds "
        "per epoch on each installed Keras backend, test accuracy for seeds 0, 1 and 2, the same for lesson "
        "08's CNN on the default backend, against a floor of its own, and the time of the self-check and of "
        "autograding one submission. Prints a table and writes JSON.",
    )
    bench_module.add_arguments(bench)
    bench.set_defaults(handler=bench_module.run)

    grade = commands.add_parser(
        "autograde-class", help="autograde every student's submission with nbgrader, in parallel",
        description="Autograde every student under submitted/*/ASSIGNMENT with nbgrader, several at once, "
        "writing into the course's gradebook; students already graded are skipped, so a stopped run "
        "resumes. Ends with a summary of the class, and writes reports/class-report.html and "
        "reports/grades-lms.csv in the course directory.",
    )
    grade.add_argument("assignment", nargs="?", default="mnist", help="the assignment (default mnist)")
    grade.add_argument("--course-dir", type=Path, default=Path("."),
                       help="the nbgrader course directory, holding nbgrader_config.py (default: here)")
    grade.add_argument("--jobs", type=_positive_int, help="students graded at once (default: one per core)")
    grade.add_argument("--scheduler", metavar="ADDRESS",
                       help="a Dask scheduler (tcp://host:8786) to grade on, instead of this machine's cores")
    grade.add_argument("--force", action="store_true", help="grade again students already graded")
    grade.add_argument("--student", action="append", metavar="ID",
                       help="regrade only this student (repeat, or give a comma-separated list)")
    grade.set_defaults(handler=autograde_class_command)

    hub_setup = commands.add_parser(
        "hub-setup", help="as root, once: make a JupyterHub's exchange and its students' nbgrader settings",
        description="Make the hub's nbgrader exchange (its root with the sticky bit, the course's folder owned by "
        "the grader) and write the settings the hub's servers read (docs/jupyterhub.md). Run as root; safe to "
        "run again.",
    )
    hub_setup.add_argument("--grader", required=True, help="the account that owns the course and runs its service")
    hub_setup.add_argument("--course-id", default=None, help="the course's nbgrader id (default mnist-lessons)")
    hub_setup.add_argument("--exchange", default=None, help="the exchange's root (default /srv/nbgrader/exchange)")
    hub_setup.add_argument("--config-dir", default=None,
                           help="where the servers' settings go (default /etc/mnist-lessons)")
    hub_setup.set_defaults(handler=hub_setup_command)

    lab = commands.add_parser(
        "lab", help="open JupyterLab on the first lesson",
        description="Start JupyterLab in the course folder, on lesson 01. Arguments after -- go to jupyter lab "
        "(for example: mnist-lessons lab -- --port 8890).",
    )
    lab.add_argument("--course", type=Path, metavar="DIR",
                     help="the folder holding mnist/01_load_data.ipynb, where the lessons are copied the first "
                     f"time (default: ./course, else the repository's course/, else ./{HANDOUT_DIR})")
    lab.add_argument("--dry-run", action="store_true",
                     help="print the command instead of running it (the lessons are still copied, if they must be)")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    lab.set_defaults(handler=lab_command)

    progress = commands.add_parser(
        "progress", help="show which exercises pass, read from your saved notebooks, and what to do next",
        description="Read your saved lesson notebooks (nothing is run) and show each exercise as passed, failed, "
        "not checked or not attempted, the hints you asked for, and what to do next. Exit status 1 when a "
        "notebook cannot be read.",
    )
    progress.add_argument("folder", nargs="?", type=Path, metavar="FOLDER",
                          help="the folder holding your lesson notebooks (default: here, ./mnist, ./course/mnist "
                          f"or ./{HANDOUT_DIR}/mnist)")
    progress.set_defaults(handler=progress_command)

    predict = commands.add_parser(
        "predict", help="read a picture of a digit of your own with a trained model",
        description="Make a picture of one handwritten digit (a photo or a scan, dark ink on light paper, or a "
        "drawing) into an MNIST image the way MNIST's were made (scaled into a 20 x 20 box, centred by its "
        "centre of mass), and show what a model from `mnist-lessons train` reads it as: its 10 probabilities, "
        "and the training digits nearest it. Writes prediction.png and nearest.png.",
    )
    predict.add_argument("image", type=Path, help="the picture: PNG, JPEG or any format Pillow reads")
    predict.add_argument("--model", type=Path,
                         help=f"a model.keras saved by `mnist-lessons train` (default: the newest finished run in {RUNS_DIR}/)")
    predict.add_argument("--out", type=Path, help="folder for the two plots (default predictions/<image name>/)")
    _add_data_argument(predict)
    predict.set_defaults(handler=predict_command)
    return parser


def _add_data_argument(parser):
    parser.add_argument(
        "--data", metavar="PATH|sample",
        help="a Keras-layout mnist.npz, or 'sample' for a stratified tenth of MNIST; "
        "default: $MNIST_LESSONS_DATA, else the complete MNIST inside the package",
    )


def _positive_int(text):
    return _bounded_int(text, 1, "a whole number of at least 1")


def _non_negative_int(text):
    return _bounded_int(text, 0, "a whole number of at least 0")


def _bounded_int(text, lowest, expected):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < lowest:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


@contextlib.contextmanager
def _one_line_warnings():
    """Show a warning as one plain line, not Python's two-line form."""
    def show(message, category, *_args, **_kwargs):
        print(f"mnist-lessons: {category.__name__}: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def data_command(args):
    data = load_mnist_data(args.data)
    print(f"Source:   {data.location}")
    print(f"Checksum: {_checksum_verdict(data)}")
    for split, images, labels in (
        ("train", data.train_images, data.train_labels),
        ("test", data.test_images, data.test_labels),
    ):
        summary = describe_dataset(images, labels)
        counts = summary["class_counts"]
        print(
            f"{split:5s}     {summary['num_images']:,} images of {summary['image_shape']} "
            f"{summary['dtype']}, pixels {summary['pixel_min']}-{summary['pixel_max']}"
        )
        print("          per digit: " + "  ".join(f"{digit}:{counts[digit]}" for digit in sorted(counts)))
    return 0


def _checksum_verdict(data):
    if data.source == "sample":
        return "a stratified tenth of the complete MNIST, which matches the published checksums"
    if data.verified:
        return "all four arrays match the published MNIST"
    return "not the full MNIST, so no published checksum applies (shapes, dtypes and labels checked)"


def autograde_class_command(args):
    from mnist_lessons.grading import classgrading

    course = args.course_dir
    if not (course / "nbgrader_config.py").is_file():
        raise UsageError(f"--course-dir {course}: no nbgrader_config.py there; run from the course directory")
    if not classgrading.submitted_students(course, args.assignment):
        raise UsageError(f"no submissions in {course / 'submitted'}/*/{args.assignment}/")
    try:
        only = [student for value in args.student for student in value.split(",") if student] if args.student else None
        report = classgrading.autograde_class(course, args.assignment, jobs=args.jobs, scheduler=args.scheduler,
                                              force=args.force, only=only)
    except classgrading.Stopped as stopped:
        print(f"mnist-lessons: autograde-class {stopped}: every nbgrader it started was stopped; students graded "
              "so far are kept, and the same command grades the rest", file=sys.stderr)
        return 128 + stopped.signum
    except (RuntimeError, ValueError) as err:
        raise UsageError(f"--student: {err}" if isinstance(err, ValueError) else str(err)) from None
    print(f"Graded {len(report['graded'])} students in {report['seconds']:.0f} s"
          + (f"; {len(report['skipped'])} already graded, skipped" if report["skipped"] else ""))
    for student, notes in sorted(report["notes"].items()):
        for note in notes:
            print(f"  note for {student}: {note}")
    for student, error in sorted(report["failed"].items()):
        print(f"  NOT GRADED {student}: {error}")
    print(classgrading.class_summary(course, args.assignment))
    print(f"Class report: {report['report']}")
    print(f"Grades for an LMS: {report['canvas']} (Canvas), {report['moodle']} (Moodle); "
          f"each lesson and exercise: {report['export']}")
    for warning in report["lms_warnings"]:
        print(f"  LMS: {warning}")
    return 1 if report["failed"] else 0


def hub_setup_command(args):
    from mnist_lessons import hub

    if os.geteuid() != 0:
        raise UsageError("hub-setup makes folders owned by root and by the grader: run it as root")
    options = {name: value for name, value in (("course_id", args.course_id), ("exchange", args.exchange),
                                               ("config_dir", args.config_dir)) if value is not None}
    try:
        written = hub.setup(grader=args.grader, **options)
    except ValueError as err:
        raise UsageError(str(err)) from None
    print(f"Exchange: {options.get('exchange', hub.EXCHANGE)}")
    for path in written:
        print(f"Wrote {path}")
    return 0


def lab_command(args):
    course = _lab_course(args.course)
    extra = args.jupyter_args[1:] if args.jupyter_args[:1] == ["--"] else args.jupyter_args
    # -m jupyterlab, not -m jupyter lab: jupyter_core looks jupyter-lab up on $PATH before this Python's own
    # scripts, so the latter could start another environment's JupyterLab (and kernels).
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={course.resolve()}",
               f"--ServerApp.jpserver_extensions={FORMGRADER}=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        # A container or a Colab-like host runs everything as root, where JupyterLab refuses to start without this.
        print("mnist-lessons: running as root (in a container?), so JupyterLab is started with --allow-root",
              file=sys.stderr, flush=True)
        command.append("--allow-root")
    command += [FIRST_LESSON.as_posix(), *extra]
    if args.dry_run:
        print(shlex.join(command))
        return 0
    print(f"Opening JupyterLab on {course / FIRST_LESSON} (Ctrl+C twice to stop) ...", flush=True)
    # The kernels inherit a compilation cache of the learner's own: from the second start on, their
    # programs are read back instead of compiled again (compilecache.own_variables).
    return run_jupyterlab(command, cwd=course, env=child_env(**compilecache.own_variables()))


def run_jupyterlab(command, cwd, env):
    """Become JupyterLab (exec): a signal to this command, SIGTERM included, then reaches JupyterLab itself,
    where a child JupyterLab would outlive a command stopped by anything but Ctrl+C."""
    os.chdir(cwd)
    os.execve(command[0], command, env)


def _lab_course(course):
    """The course folder to open: --course, else ./course or a clone's course/, else ./mnist-course, handed out."""
    if course is None:
        clone_course = coursefiles.CLONE / "course"
        course = next((folder for folder in (Path("course"), clone_course) if (folder / FIRST_LESSON).is_file()),
                      Path(HANDOUT_DIR))
    if (course / FIRST_LESSON).is_file():
        return course
    if course.exists() and not course.is_dir():
        raise UsageError(f"--course {course} is a file, not a folder")
    try:
        coursefiles.hand_out(course)
    except (OSError, coursefiles.CourseFilesMissing) as err:
        raise UsageError(f"could not copy the lessons into {course}: {err}") from None
    print(f"Copied the lessons into {course}/ (your own copy: your work stays there), "
          f"and the autograder's tests into {course / 'autograder'}/", flush=True)
    return course


def progress_command(args):
    from mnist_lessons import progress

    try:
        folder = progress.find_lessons_folder(args.folder)
    except progress.ProgressError as err:
        raise UsageError(str(err)) from None
    lessons = progress.read_progress(folder)
    print(progress.format_progress(folder, lessons))
    return 1 if any(lesson.problem and lesson.problem != "missing" for lesson in lessons) else 0


def train_command(args):
    out = args.out or RUNS_DIR / f"{datetime.datetime.now():%Y%m%d-%H%M%S}-seed{args.seed}"
    _prepare_output(out, args.overwrite)

    print("Loading data ...", flush=True)
    data = load_mnist_data(args.data)
    print(f"  {len(data.train_images):,} training and {len(data.test_images):,} test images "
          f"from {data.location}", flush=True)

    print("Importing Keras ...", flush=True)
    with compilecache.own_cache():  # programs compiled once, read back by the next run (issue 14)
        from mnist_lessons.backend import backend_name, library_versions
        from mnist_lessons.evaluate import compare_labels, confusion_matrix, evaluate_model, predict_labels
        from mnist_lessons.preprocess import one_hot_labels, preprocess_images
        from mnist_lessons.multistep import compile_fast, train
        from mnist_lessons.training import EpochTimer, set_seed

    set_seed(args.seed)
    train_images = preprocess_images(data.train_images)
    train_labels = one_hot_labels(data.train_labels)
    test_images = preprocess_images(data.test_images)
    test_labels = one_hot_labels(data.test_labels)
    model = compile_fast(build_network(args.network))  # lesson 04's compile, its steps faster (multistep.py)

    print(f"Training the {args.network} network for {args.epochs} epochs in batches of {args.batch_size} "
          f"on the {backend_name()} backend ...", flush=True)
    timer = EpochTimer()
    started = time.perf_counter()
    history = train(
        model, train_images, train_labels, epochs=args.epochs, batch_size=args.batch_size,
        callbacks=[timer], verbose=1 if sys.stdout.isatty() else 2,  # a bar on a terminal, a line per epoch in a log
    )
    training_seconds = time.perf_counter() - started

    test_loss, test_accuracy = evaluate_model(model, test_images, test_labels)
    predicted = predict_labels(model, test_images)
    print(f"\nTest loss {test_loss:.4f}, test accuracy {test_accuracy:.4f}")
    print(_format_comparison(compare_labels(predicted, data.test_labels, n=COMPARE_COUNT)))

    metrics = {
        "model": args.network,
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "train_accuracy": float(history.history["accuracy"][-1]),
        "train_loss": float(history.history["loss"][-1]),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "seconds_per_epoch": _typical_epoch_seconds(timer.seconds),
        "epoch_seconds": timer.seconds,
        "training_seconds": training_seconds,
        "backend": backend_name(),
        "data_source": data.source,
        "data_location": data.location,
        "data_verified": data.verified,
        "num_train_images": len(data.train_images),
        "num_test_images": len(data.test_images),
        "versions": library_versions(),
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    matrix = confusion_matrix(data.test_labels, predicted)
    _save_run(out, model, metrics, data, history, matrix, predicted)
    print(f"\nSaved the model, metrics.json and plots to {out}/")
    return 0


def predict_command(args):
    from mnist_lessons import drawing, plots

    model_path = args.model or _newest_model()
    if model_path.is_dir():  # a run's folder, as `train --out` names it
        model_path = model_path / "model.keras"
    if not model_path.is_file():
        raise UsageError(f"--model {model_path}: no such file (a model.keras saved by `mnist-lessons train`)")
    try:
        picture = drawing.read_digit_image(args.image)
        digit = drawing.prepare_digit(picture)
    except drawing.DrawingError as err:
        raise UsageError(str(err) if str(err).startswith(str(args.image)) else f"{args.image}: {err}") from None
    out = args.out or Path("predictions") / args.image.stem
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"{'--out ' if args.out else ''}{out}: could not make the folder for the plots "
                         f"({err.strerror or err})") from None
    data = load_mnist_data(args.data)

    print("Importing Keras ...", flush=True)
    with compilecache.own_cache():
        from mnist_lessons.backend import import_keras
        from mnist_lessons.preprocess import preprocess_images

        keras = import_keras()
    try:
        model = keras.saving.load_model(model_path, compile=False)  # safe_mode: Python lambdas are refused
    except Exception as err:  # noqa: BLE001 -- whatever the file holds, one line
        raise UsageError(f"--model {model_path} could not be loaded as a Keras model ({type(err).__name__}: "
                         f"{_first_line(err)})") from None
    inputs = getattr(model, "inputs", None) or []
    shape = tuple(inputs[0].shape[1:]) if len(inputs) == 1 else None
    if shape is None or None in shape or int(np.prod(shape)) != digit.size:
        raise UsageError(f"--model {model_path} takes inputs of shape {shape if len(inputs) == 1 else 'several'}, "
                         "not one 28 x 28 digit")
    try:
        probabilities = np.asarray(model.predict(digit.reshape((1, *shape)), verbose=0), dtype=np.float64)
    except Exception as err:  # noqa: BLE001 -- a model the course did not make
        raise UsageError(f"--model {model_path} could not read the digit ({type(err).__name__}: "
                         f"{_first_line(err)})") from None
    if probabilities.shape != (1, 10) or not np.all(np.isfinite(probabilities)):
        raise UsageError(f"--model {model_path} gave {probabilities.shape} numbers for one digit; "
                         "a digit's model gives 10 probabilities")
    probabilities = probabilities[0]
    guess = int(probabilities.argmax())
    train_images = preprocess_images(data.train_images)
    nearest = drawing.nearest_training_digits(digit, train_images, k=NEAREST_COUNT)

    print(f"\n{args.image} ({picture.shape[1]} x {picture.shape[0]} pixels), read by {model_path}:")
    print(f"  a {guess}, with probability {probabilities[guess]:.2f}")
    print("  digit       " + " ".join(f"{d:5d}" for d in range(len(probabilities))))
    print("  probability " + " ".join(f"{p:5.2f}" for p in probabilities))
    print(f"  the {NEAREST_COUNT} nearest training digits are " + ", ".join(
        str(int(label)) for label in data.train_labels[nearest]))
    try:
        plots.plot_prediction(picture, digit, probabilities).savefig(out / "prediction.png", dpi=plots.PNG_DPI)
        plots.plot_nearest(digit, train_images, data.train_labels, nearest).savefig(out / "nearest.png",
                                                                                  dpi=plots.PNG_DPI)
    except OSError as err:
        raise UsageError(f"{out}: could not write the plots ({err.strerror or err})") from None
    print(f"\nSaved prediction.png and nearest.png to {out}/")
    return 0


NEAREST_COUNT = 8  # training digits shown beside one's own


def _newest_model():
    """The model of the newest finished run under runs/ (a folder holding RESULT_FILES; metrics.json is written last)."""
    finished = sorted((folder for folder in RUNS_DIR.glob("*") if all((folder / name).is_file() for name in RESULT_FILES)),
                      key=lambda folder: folder.stat().st_mtime)
    if not finished:
        raise UsageError(f"no trained model in {RUNS_DIR}/: run `mnist-lessons train` first, or give --model")
    return finished[-1] / "model.keras"


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else ""


def _prepare_output(out, overwrite):
    """Refuse, before any training, to overwrite an earlier run's results without --overwrite."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    existing = [name for name in RESULT_FILES if (out / name).exists()]
    if existing and not overwrite:
        raise UsageError(
            f"--out {out} already holds a run ({', '.join(existing)}); "
            "choose another folder or pass --overwrite"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the output folder {out}: {err.strerror}") from err


def _save_run(out, model, metrics, data, history, matrix, predicted):
    from mnist_lessons import plots

    figures = {
        "digits.png": plots.plot_digits(data.train_images, data.train_labels, title="Training digits"),
        "class_counts.png": plots.plot_class_counts(data.train_labels, title="Training images per digit"),
        "training_curves.png": plots.plot_training_curves(history),
        "confusion_matrix.png": plots.plot_confusion_matrix(matrix, title="Confusion matrix (test set)"),
        "misclassified.png": plots.plot_misclassified(data.test_images, data.test_labels, predicted),
    }
    for name, figure in figures.items():
        figure.savefig(out / name, dpi=100)
    from mnist_lessons.backend import quiet_tensorflow, tensorflow_only_if_loaded

    # Keras' saving imports TensorFlow when it is installed, even on JAX, only to rule out its types
    with quiet_tensorflow(), tensorflow_only_if_loaded():
        model.save(out / "model.keras")
    # metrics.json last, written whole then renamed: its presence means the run finished.
    partial = out / "metrics.json.partial"
    partial.write_text(json.dumps(metrics, indent=2) + "\n")
    partial.replace(out / "metrics.json")


def _typical_epoch_seconds(seconds):
    """Median epoch time, leaving out the first epoch, which also pays for tracing and compiling."""
    steady = seconds[1:] or seconds
    return statistics.median(steady)


def _format_comparison(pairs):
    lines = [f"Predicted against actual labels, first {len(pairs)} test images:",
             "  image  predicted  actual"]
    for index, (predicted, actual) in enumerate(pairs):
        mark = "" if predicted == actual else "  <- wrong"
        lines.append(f"  {index:5d}  {predicted:9d}  {actual:6d}{mark}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
