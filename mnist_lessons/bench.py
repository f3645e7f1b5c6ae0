"""How fast the course's pipeline runs on this machine, next to the machine's own limit (``mnist-lessons bench``).

One run measures, on the same machine and side by side:

- the float32 matrix-multiply rate through NumPy, and from it the floor: the
  fewest seconds one epoch of the reference model could take;
- the reference model's seconds per epoch on each installed Keras backend,
  through the tools' ``multistep.compile_fast`` and ``multistep.train`` (what
  ``mnist-lessons train`` does), and its ratio to the floor; the floor again,
  measured in the training's own process right before and after each seed's
  run (this machine's rate moved from 130 to 300 GFLOP/s within a minute, so
  only a floor taken beside the epochs makes a ratio), and the seconds NumPy
  takes for the training step's own matrix products, at their own shapes;
- test accuracy after ``EPOCHS`` epochs for each seed;
- the same for lesson 08's convolutional network (``mnist_lessons.cnn``), on
  the default backend only: its seconds per epoch against a floor of its own,
  from its forward multiply-adds (``forward_macs``) and the rate measured
  beside its epochs, and its test accuracy for each seed;
- the self-check and the autograder (see ``TIMED_TOOLS``);
- start-up, what every lesson's kernel and grading process pays first (issue
  14): issue 14's line ``import mnist_lessons as ml; ml.build_model();
  ml.set_seed(0)`` in a fresh process, and whether seeding imported
  TensorFlow; a Jupyter kernel's seconds from the request to start it to its
  first output; and each lesson's run-all (solutions/, every cell, in a real
  kernel through nbclient), with the seconds to its first output.

Every result names the machine: its CPU model and vector extensions (AVX2,
AVX-512, ...), cores, NumPy and BLAS, so that figures from different machines
are not compared as if alike.

Keras fixes its backend at import, so each backend trains in a child process
(``python -m mnist_lessons.bench --worker ...``) that writes its figures to a
JSON file. The parent never imports Keras. For the same reason the start-up
probes run in fresh processes and kernels of their own.
"""

import argparse
import datetime
import importlib
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist_lessons import __version__
from mnist_lessons.backend import chosen_backend
from mnist_lessons.preprocess import NUM_CLASSES, NUM_PIXELS

# The floor of one epoch: every image goes forward through both Dense layers'
# matrix products and back through them again.
HIDDEN_UNITS = 512  # model.HIDDEN_UNITS; repeated so that the parent need not import Keras
MACS_PER_IMAGE = NUM_PIXELS * HIDDEN_UNITS + HIDDEN_UNITS * NUM_CLASSES  # 406,528 multiply-adds forward
FLOPS_PER_MAC = 2  # a multiply and an add
# Forward, plus backward's two products per layer (gradients of weights and of inputs): issue 6's count. It
# overcounts, the same way for both networks: the images' own gradient is never needed, so the first layer's
# input gradient is never computed (401,408 of the dense network's 3 x 406,528; 117,600 of the CNN's 3 x 416,520).
PASSES = 3
FULL_TRAIN_IMAGES = 60_000  # MNIST's training set: the floor is for one full epoch

EPOCHS = 10  # the course's recipe
SEEDS = (0, 1, 2)  # three seeds give the spread of the test accuracy
BACKENDS = ("tensorflow", "jax", "torch")  # Keras 3's backends, measured when installed

# The rate that sets the floor: a large square product, which keeps both cores
# busy and is the most a machine gives. It is not the training's own shape
# (128 x 784 by 784 x 512), also reported, which ran at about the same rate here.
MATMUL_SIZE = 2048  # 2048^3 products: about 17 GFLOP, a tenth of a second on 2 cores
MATMUL_REPEATS = 15  # the median of 15 timings, after one warm-up
TRAIN_MATMUL_SHAPE = (128, NUM_PIXELS, HIDDEN_UNITS)  # one batch through the hidden layer
PROBE_REPEATS = 5  # the side-by-side probe of the rate, before and after each seed's run: half a second

TINY = {  # `--tiny`: the whole benchmark in seconds, so that a test can run it
    "num_images": 2_000,
    "epochs": 2,
    "seeds": (0,),
    "matmul_size": 256,
    "matmul_repeats": 5,
    "startup_repeats": 1,
}

# Timed: a module and a function that runs the whole job on the complete
# reference submission (solutions/) and returns a truthy value when it passed;
# it takes ``lessons``, a list of lessons to limit it to (None: all of them).
# Where the value has ``seconds`` (classgrading.Timed), those are the figure:
# nbgrader's autograde alone, not the making of the course directory before it.
TIMED_TOOLS = {
    "self_check": ("mnist_lessons.grading.engine", "run_self_check"),  # pytest autograder/
    "autograde": ("mnist_lessons.grading.classgrading", "autograde_reference_submission"),  # nbgrader autograde
    # the same through nbgrader's stock Execute step, side by side (issue 17)
    "autograde_stock": ("mnist_lessons.grading.classgrading", "autograde_reference_submission_stock"),
}
TINY_LESSONS = ["02_preprocess"]  # `--tiny` times the tools, and runs all cells, of one quick lesson
TOOL_TITLES = {"self_check": "self-check, complete submission", "autograde": "autograding one submission",
               "autograde_stock": "the same, nbgrader's stock Execute"}

# Start-up and the lessons (issue 14). Issue 14's line, timed in a fresh
# process; and the seeding alone, after which TensorFlow must not be loaded on
# JAX (keras.utils.set_random_seed imported it: 1.7 s of every kernel).
STARTUP_LINE = "import mnist_lessons as ml; ml.build_model(); ml.set_seed(0)"
SEED_LINE = "import mnist_lessons as ml; ml.set_seed(0)"
STARTUP_REPEATS = 3  # the median of 3 fresh processes (issue 14's figure: 4.4 s on the AVX-512 Xeon)
KERNEL_NAME = "python3"  # the kernel the lessons name in their metadata, and the one the project installs
KERNEL_PROBE = STARTUP_LINE + '; print("ready")'  # the same line, with an output to wait for
LESSON_CELL_TIMEOUT = 600  # seconds per cell; lesson 05's training is the longest, under 90 s (issue 3)
# What `--only` picks from: the matmul, backends and CNN; TIMED_TOOLS; start-up and the lessons; a class.
PARTS = ("training", "tools", "lessons", "class")
CLASS_STUDENTS = 4  # one of each of classgrading.SYNTHETIC_KINDS: about a minute a door on 2 cores (issue 29)

WORKER_TIMEOUT = 3600  # seconds; a full run of one backend takes a few minutes

# The flags of /proc/cpuinfo that name vector instruction sets, on which the
# matmul rate depends (issue 14: 197 GFLOP/s on an AVX2 EPYC, 340 on an AVX-512
# Xeon): SSE, AVX, AVX-512 and AMX on x86; NEON, ASIMD, SVE and SME on ARM
# (but not x86's "smep", a memory protection).
VECTOR_FLAG = re.compile(r"(sse\w*|ssse3|avx\w*|fma4?|f16c|xop|amx\w*|neon|asimd\w*|sve\w*|sme(?!p$)\w*|bf16|i8mm)")
CPUINFO = Path("/proc/cpuinfo")  # Linux only


def epoch_floor_gflop(num_images=FULL_TRAIN_IMAGES, macs_per_image=MACS_PER_IMAGE):
    """GFLOP of one epoch's matrix products: 3 x 2 x 406,528 x 60,000 / 1e9 = 146.35 for the dense network, full set."""
    return PASSES * FLOPS_PER_MAC * macs_per_image * num_images / 1e9


def forward_macs(model):
    """Multiply-adds of one image's forward pass through a built Keras ``model``: its Dense and convolution layers.

    A Dense layer does inputs x units; a convolution, output rows x output
    columns x filters x kernel rows x kernel columns x input channels. Both
    are the layer's output size times its kernel's size less the last axis.
    Layers without weights (pooling, reshape, flatten) do none; any other
    layer with weights raises ValueError rather than go uncounted.
    """
    from mnist_lessons.backend import import_keras

    keras = import_keras()
    counted = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
    macs = 0
    for layer in model.layers:
        if isinstance(layer, counted):
            macs += int(np.prod(layer.output.shape[1:])) * int(np.prod(layer.kernel.shape[:-1]))
        elif layer.weights:
            raise ValueError(f"forward_macs counts Dense and convolution layers only, not {layer.name} "
                             f"({type(layer).__name__})")
    return macs


def measure_matmul_gflops(m, k, n, repeats=MATMUL_REPEATS):
    """float32 GFLOP/s of an (m x k) @ (k x n) product through NumPy: the median of ``repeats`` timings."""
    rng = np.random.default_rng(0)
    left = rng.standard_normal((m, k), dtype=np.float32)
    right = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), dtype=np.float32)
    np.matmul(left, right, out=out)  # warm-up: the BLAS threads start on the first call
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(left, right, out=out)
        seconds.append(time.perf_counter() - start)
    return 2 * m * k * n / statistics.median(seconds) / 1e9


def step_product_shapes(batch_size):
    """The (m, k, n) of every matrix product one training step of the reference model needs.

    Forward through both Dense layers, both layers' weight gradients, and the
    gradient flowing back into the hidden layer. The images' own gradient is
    never computed (nothing trains them), so this is less than PASSES x the
    forward work: the work no library can skip, at the shapes batches of
    ``batch_size`` give it (small products run slower than MATMUL_SIZE's).
    """
    return [(batch_size, NUM_PIXELS, HIDDEN_UNITS), (batch_size, HIDDEN_UNITS, NUM_CLASSES),
            (NUM_PIXELS, batch_size, HIDDEN_UNITS), (HIDDEN_UNITS, batch_size, NUM_CLASSES),
            (batch_size, NUM_CLASSES, HIDDEN_UNITS)]


def measure_step_products_seconds(num_images, batch_size):
    """Seconds NumPy's BLAS takes for one epoch's matrix products at the step's own shapes, and nothing else.

    Every batch counted full (the last one of 60,000 images holds 96, a 0.05 % overcount).
    """
    rng = np.random.default_rng(0)
    operands = [(rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32),
                 np.empty((m, n), dtype=np.float32)) for m, k, n in step_product_shapes(batch_size)]
    for left, right, out in operands:  # warm-up
        np.matmul(left, right, out=out)
    start = time.perf_counter()
    for _ in range(-(-num_images // batch_size)):
        for left, right, out in operands:
            np.matmul(left, right, out=out)
    return time.perf_counter() - start


def installed_backends():
    """The Keras backends whose library can be imported here, in BACKENDS order."""
    return [name for name in BACKENDS if importlib.util.find_spec(name) is not None]


def run_benchmark(tiny=False, out=None, *, data=None, backends=None, only=None, progress=print):
    """Run the whole benchmark; return its results as a dict and, when ``out`` is a path, write them there as JSON.

    ``tiny`` trains on 2,000 images for 2 epochs with one seed, times a small
    product, one start-up of each kind and one lesson on the sample: seconds
    instead of minutes, for tests. ``data`` is what ``load_mnist`` takes (None:
    MNIST_LESSONS_DATA, else the MNIST inside the package; or "sample");
    ``backends`` defaults to every installed one; ``only`` is a list of PARTS
    to run (None: all of them), and the results hold those parts only.
    """
    settings = dict(TINY) if tiny else {
        "num_images": None, "epochs": EPOCHS, "seeds": SEEDS,
        "matmul_size": MATMUL_SIZE, "matmul_repeats": MATMUL_REPEATS, "startup_repeats": STARTUP_REPEATS,
    }
    parts = [part for part in PARTS if only is None or part in only]
    backends = list(backends) if backends is not None else installed_backends()
    results = {
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["mnist-lessons bench"] + (["--tiny"] if tiny else [])
                            + [f"--only {part}" for part in parts if only is not None]),
        "tiny": tiny,
        "parts": parts,
        "machine": describe_machine(),
        "default_backend": chosen_backend(),
        "load_average": {"start": _load_average()},  # other work on the machine slows every figure
    }
    if "training" in parts:
        _bench_training(results, settings, backends, data, progress)
    if "tools" in parts:
        progress("[bench] Warming the grader's compilation cache (once per machine and version of the course) ...")
        results["grader_warm_up"] = _warm_grader()
        progress(f"[bench]   {_warm_up_figure(results['grader_warm_up'])}")
        for tool in TIMED_TOOLS:
            progress(f"[bench] Timing the {TOOL_TITLES[tool]} ...")
            results[tool] = _run_worker("tool", ["--tool", tool] + (["--tiny"] if tiny else []), {})
            progress(f"[bench]   {_tool_figure(results[tool])}")
    if "lessons" in parts:
        _bench_lessons(results, settings, tiny, data, progress)
    if "class" in parts:
        if "grader_warm_up" not in results:
            progress("[bench] Warming the grader's compilation cache (once per machine and version of the course) ...")
            results["grader_warm_up"] = _warm_grader()
        progress(f"[bench] Grading a synthetic class of {CLASS_STUDENTS} here, then on a local Dask cluster ...")
        results["class"] = _bench_class(tiny)
        progress(f"[bench]   {_class_figure(results['class'], 'local')}")
        progress(f"[bench]   {_class_figure(results['class'], 'cluster')}")
    results["load_average"]["end"] = _load_average()

    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
    return results


def _load_average():
    """The system's load averages over 1, 5 and 15 minutes, or None where the OS does not say."""
    try:
        return [round(load, 2) for load in os.getloadavg()]
    except (AttributeError, OSError):  # Windows
        return None


def _bench_training(results, settings, backends, data, progress):
    """The matmul rate, the floor, and training on each backend, added to ``results``."""
    results["recipe"] = {"epochs": settings["epochs"], "batch_size": None, "seeds": list(settings["seeds"])}
    size, repeats = settings["matmul_size"], settings["matmul_repeats"]
    progress(f"[bench] NumPy float32 matrix products: {size} x {size} x {size}, median of {repeats} ...")
    gflops = measure_matmul_gflops(size, size, size, repeats)
    train_shape_gflops = measure_matmul_gflops(*TRAIN_MATMUL_SHAPE, repeats=max(repeats, 50))
    results["matmul"] = {
        "shape": [size, size, size],
        "repeats": repeats,
        "gflops": gflops,
        "train_shape": list(TRAIN_MATMUL_SHAPE),
        "train_shape_gflops": train_shape_gflops,
    }
    progress(f"[bench]   {gflops:.1f} GFLOP/s ({train_shape_gflops:.1f} at the training's shape "
             f"{' x '.join(map(str, TRAIN_MATMUL_SHAPE))})")

    worker_args = ["--epochs", str(settings["epochs"]), "--seeds", *map(str, settings["seeds"]),
                   "--matmul-size", str(size)]
    if settings["num_images"]:
        worker_args += ["--num-images", str(settings["num_images"])]
    if data is not None:
        worker_args += ["--data", str(data)]
    backend_results = {}
    for backend in backends:
        progress(f"[bench] Training on {backend}: {settings['epochs']} epochs, seeds "
                 f"{', '.join(map(str, settings['seeds']))} ...")
        backend_results[backend] = _run_worker("train", worker_args, {"KERAS_BACKEND": backend})
    results["backends"] = backend_results
    _bench_cnn(results, settings, backends, worker_args, progress)

    trained = [r for r in backend_results.values() if r.get("num_images")]
    num_images = trained[0]["num_images"] if trained else (settings["num_images"] or FULL_TRAIN_IMAGES)
    floor_gflop = epoch_floor_gflop(num_images)
    results["floor"] = {
        "macs_per_image": MACS_PER_IMAGE,
        "flops_per_mac": FLOPS_PER_MAC,
        "passes": PASSES,
        "num_images": num_images,
        "gflop": floor_gflop,
        "seconds": floor_gflop / gflops,
        "full_epoch_gflop": epoch_floor_gflop(),
        "full_epoch_seconds": epoch_floor_gflop() / gflops,
    }
    for result in trained:
        result["ratio_to_floor"] = result["seconds_per_epoch"] / results["floor"]["seconds"]
        defaults = result["keras_defaults"]
        defaults["ratio_to_floor"] = defaults["seconds_per_epoch"] / results["floor"]["seconds"]
        results["recipe"]["batch_size"] = result["batch_size"]
        beside = result["side_by_side"]
        beside["floor_seconds"] = floor_gflop / statistics.median(beside["gflops"])
        beside["ratio_to_floor"] = result["seconds_per_epoch"] / beside["floor_seconds"]
        beside["ratio_to_step_products"] = result["seconds_per_epoch"] / statistics.median(beside["step_products_seconds"])


def _bench_cnn(results, settings, backends, worker_args, progress):
    """Lesson 08's CNN on the default backend (else the first one measured), against its own floor, in ``results["cnn"]``.

    Its floor is the dense network's rule with the CNN's forward_macs, over
    the GFLOP/s measured in the worker beside its epochs.
    """
    default = results["default_backend"]
    backend = default if default in backends else next(iter(backends), None)
    if backend is None:
        return
    progress(f"[bench] Training the CNN on {backend}: {settings['epochs']} epochs, seeds "
             f"{', '.join(map(str, settings['seeds']))} ...")
    cnn = results["cnn"] = _run_worker("train", [*worker_args, "--network", "cnn"], {"KERAS_BACKEND": backend})
    if cnn.get("error"):
        return
    gflop = epoch_floor_gflop(cnn["num_images"], cnn["forward_macs"])
    gflops = statistics.median(cnn["side_by_side"]["gflops"])
    cnn["floor"] = {
        "macs_per_image": cnn["forward_macs"],
        "flops_per_mac": FLOPS_PER_MAC,
        "passes": PASSES,
        "num_images": cnn["num_images"],
        "gflop": gflop,
        "gflops": gflops,  # the median of the rates measured beside its epochs
        "seconds": gflop / gflops,
    }
    cnn["ratio_to_floor"] = cnn["seconds_per_epoch"] / cnn["floor"]["seconds"]


def _bench_class(tiny, students=CLASS_STUDENTS):
    """``autograde-class`` on a synthetic class (classgrading.synthetic_class), in this machine's threads and then on
    a local Dask cluster of one worker process per core, each door on its own copy of the same course; its seconds
    and students per hour per core, and whether both doors gave every student the same score."""
    from mnist_lessons.grading import classgrading

    cores = os.cpu_count() or 1
    lessons = TINY_LESSONS if tiny else None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-class-") as work:
            work = Path(work)
            made = classgrading.synthetic_class(work / "class", students, lessons)
            local = classgrading.make_course(work / "local", lessons,
                                             {name: folder for name, (_, folder) in made.items()})
            cluster = work / "cluster"
            shutil.copytree(local, cluster)
            result = {"students": students, "kinds": {name: kind for name, (kind, _) in made.items()},
                      "lessons": lessons or "all", "cores": cores}
            result["local"] = _time_class(lambda: classgrading.autograde_class(local, jobs=cores, progress=False),
                                          students, cores)
            from dask.distributed import Client, LocalCluster

            with LocalCluster(n_workers=cores, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address="127.0.0.1:0") as dask_cluster, Client(dask_cluster) as client:
                result["cluster"] = _time_class(
                    lambda: classgrading.autograde_class(cluster, scheduler=client, progress=False), students, cores)
                result["cluster"]["workers"] = cores
            totals = {door: {name: sum(score for score, _ in classgrading.submission_scores(course, name).values())
                             for name in made if name not in result[door]["failed"]}
                      for door, course in (("local", local), ("cluster", cluster))}
            result["scores"] = totals["local"]
            result["same_scores"] = totals["local"] == totals["cluster"]
            return result
    except Exception as err:  # noqa: BLE001 -- the bench reports what failed and goes on
        return {"error": f"{type(err).__name__}: {err}"}


def _time_class(grade, students, cores):
    started = time.perf_counter()
    report = grade()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "students_per_hour_per_core": students * 3600 / seconds / cores,
            "graded": len(report["graded"]), "failed": report["failed"]}


def _class_figure(result, door):
    """"4 students in 95.1 s: 75.7 students an hour a core", or why there is no figure."""
    if result.get("error"):
        return f"failed: {result['error']}"
    figure = result[door]
    where = "here" if door == "local" else f"on a local Dask cluster of {figure['workers']} worker processes"
    text = (f"{result['students']} students {where} in {figure['seconds']:.1f} s: "
            f"{figure['students_per_hour_per_core']:.1f} students an hour a core")
    if figure["failed"]:
        text += f"; {len(figure['failed'])} NOT GRADED"
    if door == "cluster" and not result["same_scores"]:
        text += "; scores DIFFER from the local run's"
    return text


def _bench_lessons(results, settings, tiny, data, progress):
    """Start-up in a fresh process and in a kernel, and each lesson's run-all, added to ``results``.

    The lessons run on the data a learner has (the complete MNIST inside the
    package) unless ``data`` names other; ``--tiny`` runs one lesson on the sample.
    """
    repeats = settings["startup_repeats"]
    data = data if data is not None else ("sample" if tiny else None)
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache:
        _bench_lessons_with(results, tiny, data, repeats, lesson_environment(data, Path(cache)), progress)


def _bench_lessons_with(results, tiny, data, repeats, env, progress):
    progress(f"[bench] Start-up: `{STARTUP_LINE}` in a fresh process, median of {repeats} ...")
    results["startup"] = measure_startup(repeats, env)
    progress(f"[bench]   {_startup_figure(results['startup'])}")
    progress(f"[bench] A {KERNEL_NAME} kernel, from the request to start it to its first output, median of {repeats} ...")
    results["kernel_first_output"] = measure_kernel_first_output(KERNEL_PROBE, repeats, env)
    progress(f"[bench]   {_kernel_figure(results['kernel_first_output'])}")
    lessons = TINY_LESSONS if tiny else [path.stem for path in sorted(_lessons_folder().glob("*.ipynb"))]
    progress(f"[bench] Running every cell of {', '.join(lessons)} in a {KERNEL_NAME} kernel "
             f"({'MNIST_LESSONS_DATA=' + str(data) if data is not None else 'the complete MNIST'}) ...")
    results["lessons"] = {}
    for lesson in lessons:
        result = time_notebook(_lessons_folder() / f"{lesson}.ipynb", env)
        result["data"] = data or "full"
        results["lessons"][lesson] = result
        progress(f"[bench]   {lesson}: {_lesson_figure(result)}")


def _lessons_folder():
    """solutions/mnist: the reference lessons, every exercise done (a clone of the repository only)."""
    from mnist_lessons.coursefiles import solutions_dir

    return solutions_dir()


def lesson_environment(data, cache_home=None):
    """The environment of a learner's kernel: this one's, with MNIST_LESSONS_DATA=``data`` (None: unset) and no grading flag.

    With the learner's own compilation cache, as ``mnist-lessons lab`` starts kernels, kept under
    ``cache_home`` (the bench's own new folder): the first probe fills it, the later ones read it back, and
    each run's seconds are in the results, so the first is the cold start a new learner has.
    """
    from mnist_lessons.data import DATA_ENV_VAR
    from mnist_lessons.grading import compilecache

    env = {key: value for key, value in os.environ.items() if key not in (DATA_ENV_VAR, "NBGRADER_EXECUTION")}
    if data is not None:
        env[DATA_ENV_VAR] = str(data)
    env.update(compilecache.own_variables({**env, "XDG_CACHE_HOME": str(cache_home)} if cache_home else env))
    return env


# Run in a fresh interpreter by measure_startup: the line's own seconds, and which modules it left loaded.
_STARTUP_PROBE = """import json, sys, time
start = time.perf_counter()
{line}
seconds = time.perf_counter() - start
from mnist_lessons.backend import backend_name
print("BENCH-STARTUP " + json.dumps({{"seconds": seconds, "backend": backend_name(),
      "tensorflow_imported": "tensorflow" in sys.modules, "jax_imported": "jax" in sys.modules}}))
"""


def measure_startup(repeats, env=None):
    """Issue 14's start-up line in ``repeats`` fresh processes, and seeding alone in one more.

    Returns {"line", "seconds" (median, the line itself), "process_seconds"
    (median, the interpreter's start and exit included), "runs", "backend",
    "tensorflow_installed", "tensorflow_imported" (after the line),
    "seed_only": {"line", "seconds", "tensorflow_imported", ...}}.
    """
    runs = [_probe_process(STARTUP_LINE, env) for _ in range(repeats)]
    failed = next((run for run in runs if run.get("error")), None)
    if failed:
        return {"line": STARTUP_LINE, "error": failed["error"], "seconds": None}
    seed_only = _probe_process(SEED_LINE, env)
    return {
        "line": STARTUP_LINE,
        "repeats": repeats,
        "seconds": statistics.median(run["seconds"] for run in runs),
        "process_seconds": statistics.median(run["process_seconds"] for run in runs),
        "runs": runs,
        "backend": runs[0]["backend"],
        "tensorflow_installed": importlib.util.find_spec("tensorflow") is not None,
        "tensorflow_imported": any(run["tensorflow_imported"] for run in runs),
        "seed_only": {"line": SEED_LINE, **seed_only},
    }


def _probe_process(line, env):
    """Run ``line`` in a fresh interpreter; its own seconds, the whole process's, and what it loaded."""
    start = time.perf_counter()
    completed = subprocess.run([sys.executable, "-c", _STARTUP_PROBE.format(line=line)], env=env,
                               capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    process_seconds = time.perf_counter() - start
    reports = [text for text in completed.stdout.splitlines() if text.startswith("BENCH-STARTUP ")]
    if completed.returncode != 0 or not reports:
        tail = (completed.stderr.strip().splitlines() or [""])[-1]
        return {"error": f"`{line}` exited with status {completed.returncode}: {tail}", "seconds": None}
    return {**json.loads(reports[-1].removeprefix("BENCH-STARTUP ")), "process_seconds": process_seconds}


def measure_kernel_first_output(code, repeats, env=None):
    """Start a kernel, run ``code``, ``repeats`` times: seconds from the start request to ready, first output and done.

    Each run starts a new kernel with jupyter_client, as Jupyter does when a
    learner opens a lesson, and stops it afterwards. Returns the medians and the runs.
    """
    runs = []
    for _ in range(repeats):
        try:
            runs.append(_kernel_run(code, env))
        except Exception as err:  # a kernel that does not start, or dies: a figure we cannot give
            return {"code": code, "error": f"{type(err).__name__}: {err}", "first_output_seconds": None}
    result = {"code": code, "kernel": KERNEL_NAME, "repeats": repeats, "runs": runs}
    for key in ("ready_seconds", "first_output_seconds", "done_seconds"):
        result[key] = statistics.median(run[key] for run in runs)
    result["first_output"] = runs[0]["first_output"]
    return result


def _kernel_run(code, env, timeout=LESSON_CELL_TIMEOUT):
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name=KERNEL_NAME)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        manager.start_kernel(cwd=folder, **({"env": env} if env is not None else {}))  # None: this process's
        client = manager.client()
        try:
            client.start_channels()
            client.wait_for_ready(timeout=timeout)
            ready = time.perf_counter() - start
            msg_id = client.execute(code)
            first = first_text = None
            deadline = time.monotonic() + timeout
            while True:
                msg = client.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if first is None and kind in ("stream", "display_data", "execute_result", "error"):
                    first = time.perf_counter() - start
                    first_text = _output_text(msg)
                if kind == "error":
                    raise RuntimeError(f"the code raised {msg['content']['ename']}: {msg['content']['evalue']}")
                if kind == "status" and msg["content"]["execution_state"] == "idle":
                    break
            done = time.perf_counter() - start
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    if first is None:
        raise RuntimeError("the code printed nothing")
    return {"ready_seconds": ready, "first_output_seconds": first, "done_seconds": done, "first_output": first_text}


def _output_text(msg):
    content = msg["content"]
    if msg["msg_type"] == "stream":
        return content["text"].strip()
    return content.get("data", {}).get("text/plain", msg["msg_type"])


def time_notebook(path, env=None):
    """Run every cell of the notebook at ``path`` in a new kernel, as "Run All" does, errors allowed; time it.

    Seconds are counted from the request to start the kernel: to it being
    ready, to the first output of any cell, and to the end of the last cell.
    The notebook runs in a temporary folder; the file is not changed. Returns
    {"code_cells", "ready_seconds", "first_output_seconds", "first_output_cell"
    (its index among the code cells), "run_all_seconds", "errors" (one line per
    cell that raised)}.
    """
    import nbformat
    from nbclient import NotebookClient

    marks = {}

    class TimedClient(NotebookClient):
        def output(self, outs, msg, display_id, cell_index):
            if "first_output" not in marks:
                marks["first_output"] = time.perf_counter()
                marks["first_output_cell"] = cell_index
            return super().output(outs, msg, display_id, cell_index)

    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as folder:
        client = TimedClient(notebook, timeout=LESSON_CELL_TIMEOUT, kernel_name=KERNEL_NAME, allow_errors=True,
                             resources={"metadata": {"path": folder}},
                             on_notebook_start=lambda notebook: marks.setdefault("ready", time.perf_counter()))
        start = time.perf_counter()
        try:
            client.execute(**({"env": env} if env is not None else {}))  # None: this process's
        except Exception as err:  # the kernel died or a cell timed out
            return {"error": f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}",
                    "run_all_seconds": None}
        run_all = time.perf_counter() - start
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [f"cell {index}: {output.ename}: {output.evalue}"
              for index, cell in enumerate(notebook.cells) for output in cell.get("outputs", [])
              if output.output_type == "error"]
    first_cell = marks.get("first_output_cell")
    return {
        "code_cells": len(code_cells),
        "ready_seconds": marks["ready"] - start,
        "first_output_seconds": marks["first_output"] - start if "first_output" in marks else None,
        "first_output_cell": None if first_cell is None else sum(
            cell.cell_type == "code" for cell in notebook.cells[:first_cell]),
        "run_all_seconds": run_all,
        "errors": errors,
    }


def describe_machine():
    """The CPU's model name and vector extensions, its core count, the OS, NumPy and its BLAS: what a timing depends on."""
    return {
        **describe_cpu(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": _blas_name(),
        "mnist_lessons": __version__,
    }


def describe_cpu(cpuinfo=CPUINFO):
    """The CPU's model name and its vector extensions, from ``cpuinfo`` on Linux, else from platform and NumPy.

    Returns {"cpu": ..., "vector_extensions": [...], "vector_extensions_source": ...}.
    Without /proc/cpuinfo the extensions are those NumPy found at run time,
    in NumPy's names ("X86_V3", "ASIMD"); None when nothing says.
    """
    model_name = flags = None
    try:
        text = Path(cpuinfo).read_text()
    except OSError:  # not Linux
        text = ""
    for line in text.splitlines():  # the first processor's entries; the others repeat them
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model_name is None:  # what `lscpu` calls "Model name"
            model_name = value.strip()
        elif key in ("flags", "Features") and flags is None:  # "Features" on ARM
            flags = value.split()
    if flags is not None:
        extensions, source = [flag for flag in flags if VECTOR_FLAG.fullmatch(flag)], str(cpuinfo)
    else:
        extensions, source = _numpy_simd_extensions(), "numpy"
    return {
        "cpu": model_name or _platform_cpu_name(),
        "vector_extensions": extensions,
        "vector_extensions_source": source if extensions is not None else None,
    }


def _platform_cpu_name():
    """The CPU's name where there is no /proc/cpuinfo: macOS's brand string, else what platform says."""
    if platform.system() == "Darwin":
        try:
            name = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"],
                                  capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            name = ""
        if name:
            return name  # "Apple M2", where platform.processor() says only "arm"
    return platform.processor() or platform.machine()


def _numpy_simd_extensions():
    """The SIMD extensions NumPy was built for and found on this CPU, or None when NumPy does not say."""
    try:
        simd = np.show_config(mode="dicts")["SIMD Extensions"]
        return list(simd["baseline"]) + list(simd["found"])
    except Exception:  # older NumPy, or another layout
        return None


def _blas_name():
    """The BLAS library NumPy multiplies matrices with (e.g. "scipy-openblas"), or None when NumPy does not say."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy, or another layout: the name is a nicety
        return None


def format_table(results):
    """The benchmark's figures as a plain-text table, one row per measurement (of the parts that ran)."""
    rows = []
    if "matmul" in results:
        rows += _training_rows(results)
    if "grader_warm_up" in results:
        rows.append(("Grader's warm-up, once (not in the figures below)", _warm_up_figure(results["grader_warm_up"])))
    for tool, title in TOOL_TITLES.items():
        if tool in results:
            rows.append((title.capitalize(), _tool_figure(results[tool])))
    if "startup" in results:
        backend = results["startup"].get("backend") or results.get("default_backend")
        rows.append((f"Start-up in a fresh process ({backend})", _startup_figure(results["startup"])))
        rows.append(("Kernel start to first output", _kernel_figure(results["kernel_first_output"])))
        for lesson, result in results["lessons"].items():
            rows.append((f"Lesson {lesson}, run all", _lesson_figure(result)))
    if "class" in results:
        kinds = ", ".join(dict.fromkeys(results["class"].get("kinds", {}).values()))
        rows.append((f"autograde-class, a class ({kinds})", _class_figure(results["class"], "local")))
        rows.append(("the same class on a Dask cluster", _class_figure(results["class"], "cluster")))
    width = max(len(name) for name, _ in rows)
    machine = results["machine"]
    header = f"mnist-lessons bench on {machine['cpu']}, {machine['cores']} cores ({results['created']})"
    load = results.get("load_average", {})  # absent from results written before issue 14
    if load.get("start") and load.get("end"):
        header += f"; load average {load['start'][0]:.2f} at the start, {load['end'][0]:.2f} at the end"
    extensions = machine.get("vector_extensions")  # absent from results written before issue 14
    vectors = "Vector extensions: " + (", ".join(extensions) if extensions else "unknown")
    return "\n".join([header, vectors, ""] + [f"{name:<{width}}  {value}" for name, value in rows])


def _training_rows(results):
    floor = results["floor"]
    matmul = results["matmul"]
    rows = [
        ("NumPy float32 matmul rate",
         f"{matmul['gflops']:.1f} GFLOP/s ({' x '.join(map(str, matmul['shape']))}, "
         f"median of {matmul['repeats']}; {matmul['train_shape_gflops']:.1f} at the training's shape)"),
        (f"Floor of one epoch ({floor['num_images']:,} images)",
         f"{floor['seconds']:.3f} s = {floor['gflop']:.2f} GFLOP / rate"),
    ]
    for backend, result in results["backends"].items():
        label = backend + (" (default)" if backend == results.get("default_backend") else "")
        if result.get("error"):
            rows.append((f"{label}: seconds per epoch", f"failed: {result['error']}"))
            continue
        accuracy = result["test_accuracy"]
        rows.append((f"{label}: seconds per epoch",
                     f"{result['seconds_per_epoch']:.3f} s, {result['ratio_to_floor']:.2f}x the floor "
                     f"(median of epochs 2-{result['epochs']})"))
        beside = result["side_by_side"]
        rows.append((f"{label}: beside the floor",
                     f"{beside['ratio_to_floor']:.2f}x the floor measured beside its epochs "
                     f"({statistics.median(beside['gflops']):.1f} GFLOP/s, {beside['floor_seconds']:.3f} s); "
                     f"{beside['ratio_to_step_products']:.2f}x the step's own products through NumPy "
                     f"({statistics.median(beside['step_products_seconds']):.3f} s)"))
        rows.append((f"{label}: test accuracy",
                     f"mean {accuracy['mean']:.4f}, min {accuracy['min']:.4f}, max {accuracy['max']:.4f} "
                     f"(seeds {', '.join(accuracy['per_seed'])}; {result['epochs']} epochs)"))
        defaults = result["keras_defaults"]
        rows.append((f"{label}: same, compiled with Keras' defaults",
                     f"{defaults['seconds_per_epoch']:.3f} s, {defaults['ratio_to_floor']:.2f}x the floor, "
                     f"test accuracy {defaults['test_accuracy']:.4f} (seed {defaults['seed']})"))
    if "cnn" in results:  # absent from results written before the CNN
        rows += _cnn_rows(results["cnn"])
    return rows


def _cnn_rows(cnn):
    if cnn.get("error"):
        return [("CNN: seconds per epoch", f"failed: {cnn['error']}")]
    floor, accuracy = cnn["floor"], cnn["test_accuracy"]
    label = f"CNN on {cnn['backend']}"
    return [
        (f"{label}: seconds per epoch",
         f"{cnn['seconds_per_epoch']:.3f} s, {cnn['ratio_to_floor']:.2f}x its floor measured beside its epochs "
         f"({floor['seconds']:.3f} s = {floor['gflop']:.2f} GFLOP / {floor['gflops']:.1f} GFLOP/s; "
         f"{floor['macs_per_image']:,} multiply-adds per image; median of epochs 2-{cnn['epochs']})"),
        (f"{label}: test accuracy",
         f"mean {accuracy['mean']:.4f}, min {accuracy['min']:.4f}, max {accuracy['max']:.4f} (seeds "
         + ", ".join(f"{seed}: {value:.4f}" for seed, value in accuracy["per_seed"].items())
         + f"; {cnn['epochs']} epochs)"),
    ]


def _startup_figure(result):
    """"4.40 s (5.10 s with Python's start and exit), median of 3; TensorFlow not imported", or why not."""
    if result.get("error"):
        return f"failed: {result['error']}"
    seed_only = result["seed_only"]
    if not result["tensorflow_installed"]:
        tensorflow = "TensorFlow not installed"
    elif seed_only.get("error"):
        tensorflow = f"seeding alone failed: {seed_only['error']}"
    else:
        tensorflow = "TensorFlow " + ("IMPORTED" if seed_only["tensorflow_imported"] else "not imported") + " by seeding"
    return (f"{result['seconds']:.2f} s ({result['process_seconds']:.2f} s with Python's start and exit), "
            f"median of {result['repeats']}; {tensorflow}")


def _kernel_figure(result):
    if result.get("error"):
        return f"failed: {result['error']}"
    return (f"{result['first_output_seconds']:.2f} s (ready at {result['ready_seconds']:.2f} s), "
            f"median of {result['repeats']}, running `{result['code']}`")


def _lesson_figure(result):
    if result.get("error"):
        return f"failed: {result['error']}"
    first = result["first_output_seconds"]
    figure = (f"{result['run_all_seconds']:.1f} s; first output at "
              + (f"{first:.2f} s" if first is not None else "never")
              + f" (kernel ready at {result['ready_seconds']:.2f} s); data: {result['data']}")
    if result["errors"]:
        figure += f"; {len(result['errors'])} cell(s) FAILED: {result['errors'][0]}"
    return figure


def _warm_grader():
    """Warm the grader's cache before the tools are timed, as any first grading on a machine does: a cost paid
    once per machine and version of the course, not by each student, so it is kept out of the tools' figures."""
    from mnist_lessons.grading import compilecache

    start = time.perf_counter()
    folder = compilecache.ready(chosen_backend())
    return {"seconds": time.perf_counter() - start, "warmed": folder is not None}


def _warm_up_figure(result):
    """"41.2 s", "0.0 s (ready already)", or why the children compile for themselves."""
    if not result["warmed"]:
        return f"{result['seconds']:.1f} s: no cache (not JAX, no bubblewrap, or turned off); children compile"
    return f"{result['seconds']:.1f} s" + (" (ready already)" if result["seconds"] < 1 else "")


def _tool_figure(result):
    """"12.3 s", or why there is no figure."""
    if result.get("error"):
        return f"failed: {result['error']}"
    return f"{result['seconds']:.1f} s" + ("" if result["passed"] else " (the reference submission FAILED)")


def _run_worker(job, worker_args, env):
    """Run one worker child; return its JSON result, or {"error": ...} when it failed."""
    with tempfile.TemporaryDirectory() as folder:
        result_path = Path(folder) / "result.json"
        command = [sys.executable, "-m", "mnist_lessons.bench", "--worker", job,
                   "--result", str(result_path), *worker_args]
        try:
            # The child's own progress lines go straight to our stdout and stderr.
            completed = subprocess.run(command, env={**os.environ, **env}, timeout=WORKER_TIMEOUT)
        except subprocess.TimeoutExpired:
            return {"error": f"took more than {WORKER_TIMEOUT} s", "seconds": None}
        if completed.returncode != 0 or not result_path.exists():
            return {"error": f"the worker exited with status {completed.returncode}", "seconds": None}
        return json.loads(result_path.read_text())


def _train_worker(args):
    """In a child process: train ``args.network`` on KERAS_BACKEND's backend, once per seed; return the figures."""
    from mnist_lessons.backend import backend_name, library_versions
    from mnist_lessons.networks import build_network
    from mnist_lessons.data import load_mnist_data
    from mnist_lessons.evaluate import evaluate_model
    from mnist_lessons.preprocess import one_hot_labels, preprocess_images
    from mnist_lessons.multistep import compile_fast, train
    from mnist_lessons.training import BATCH_SIZE, EpochTimer, compile_model, set_seed, train_model

    data = load_mnist_data(args.data)
    count = args.num_images or len(data.train_images)
    train_images = preprocess_images(data.train_images[:count])
    train_labels = one_hot_labels(data.train_labels[:count])
    test_images = preprocess_images(data.test_images)
    test_labels = one_hot_labels(data.test_labels)

    dense = args.network == "dense"
    label = backend_name() if dense else f"{args.network.upper()} on {backend_name()}"
    probes = {"gflops": [], "step_products_seconds": []} if dense else {"gflops": []}

    def probe():  # the floor, measured in this process beside the epochs (see the module's docstring)
        probes["gflops"].append(measure_matmul_gflops(args.matmul_size, args.matmul_size, args.matmul_size,
                                                      PROBE_REPEATS))
        if dense:  # step_product_shapes are the dense network's step
            probes["step_products_seconds"].append(measure_step_products_seconds(count, BATCH_SIZE))

    epoch_seconds, accuracies = {}, {}
    for seed in args.seeds:
        probe()
        set_seed(seed)
        model = compile_fast(build_network(args.network))
        timer = EpochTimer()
        train(model, train_images, train_labels, epochs=args.epochs, callbacks=[timer], verbose=0)
        _, accuracies[str(seed)] = evaluate_model(model, test_images, test_labels)
        epoch_seconds[str(seed)] = timer.seconds
        print(f"[bench]   {label}, seed {seed}: {_steady_median([timer.seconds]):.3f} s per epoch "
              f"after the first ({timer.seconds[0]:.2f} s), test accuracy {accuracies[str(seed)]:.4f}",
              flush=True)

    probe()

    values = list(accuracies.values())
    result = {
        "network": args.network,
        "backend": backend_name(),
        "versions": library_versions(),
        "data_source": data.source,
        "num_images": count,
        "num_test_images": len(test_images),
        "epochs": args.epochs,
        "batch_size": BATCH_SIZE,
        "seconds_per_epoch": _steady_median(epoch_seconds.values()),
        "epoch_seconds": epoch_seconds,
        "test_accuracy": {"per_seed": accuracies, "mean": statistics.mean(values),
                          "min": min(values), "max": max(values)},
        "side_by_side": probes,  # the parent adds the floor and the ratios
    }
    if not dense:  # the parent's floor for it, from its own layers
        result["forward_macs"] = forward_macs(model)
        result["num_parameters"] = model.count_params()
        return result

    # The same training on a model compiled the way lesson 04 has learners
    # write it, with Keras' defaults (the course's compile_model and train_model).
    seed = args.seeds[0]
    set_seed(seed)
    model = compile_model(build_network(args.network))
    timer = EpochTimer()
    train_model(model, train_images, train_labels, epochs=args.epochs, callbacks=[timer], verbose=0)
    _, accuracy = evaluate_model(model, test_images, test_labels)
    result["keras_defaults"] = {"seed": seed, "seconds_per_epoch": _steady_median([timer.seconds]),
                                "epoch_seconds": timer.seconds, "test_accuracy": accuracy}
    print(f"[bench]   {label}, seed {seed}, compiled with Keras' defaults: "
          f"{_steady_median([timer.seconds]):.3f} s per epoch, test accuracy {accuracy:.4f}", flush=True)
    return result


def _steady_median(runs):
    """Median epoch time, leaving out each run's first epoch, which also pays for tracing and compiling."""
    return statistics.median(s for seconds in runs for s in (seconds[1:] or seconds))


def _tool_worker(args):
    """In a child process: time one of TIMED_TOOLS, imports included."""
    module_name, function_name = TIMED_TOOLS[args.tool]
    start = time.perf_counter()
    function = getattr(importlib.import_module(module_name), function_name)
    lessons = TINY_LESSONS if getattr(args, "tiny", False) else None
    result = function(lessons=lessons)
    passed = bool(result)
    scope = f" (lessons {', '.join(lessons)})" if lessons else " (every lesson)"
    # A tool that times its own work (classgrading.Timed: nbgrader autograde, without making the course) says so.
    return {"seconds": getattr(result, "seconds", time.perf_counter() - start), "passed": passed,
            "note": f"{module_name}.{function_name}{scope}" + ("" if passed else ": the reference submission FAILED")}


def add_arguments(parser):
    """Add the bench command's options to an argparse parser (``mnist-lessons bench``)."""
    parser.add_argument("--tiny", action="store_true",
                        help="2,000 images, 2 epochs, one seed: checks that the benchmark works, in seconds")
    parser.add_argument("--out", type=Path,
                        help="where to write the JSON results (default benchmarks/results-latest.json; with "
                             "--only or --tiny, benchmarks/results-<parts>[-tiny]-latest.json)")
    parser.add_argument("--data", metavar="PATH|sample|keras",
                        help="the MNIST to train on, as for mnist-lessons train (default: $MNIST_LESSONS_DATA, ...)")
    parser.add_argument("--backend", action="append", choices=BACKENDS, dest="backends",
                        help="measure only this backend (repeatable; default: every installed one)")
    parser.add_argument("--only", action="append", choices=PARTS,
                        help="run only this part (repeatable; default: all): training (matmul rate, backends, "
                             "the CNN), tools (self-check, autograding), lessons (start-up, kernel's first output, "
                             "run-all), class (autograde-class on a synthetic class, here and on a local Dask cluster)")


def default_out(only=None, tiny=False):
    """Where a run of the parts ``only`` (None: all) writes its JSON, unless told: a part's run never overwrites
    the whole run's file, nor another part's, and a ``tiny`` run (a check that the bench works) none of them."""
    parts = [part for part in PARTS if part in (only or PARTS)]
    name = "-".join(([] if parts == list(PARTS) else parts) + (["tiny"] if tiny else []))
    return Path(f"benchmarks/results-{name}-latest.json" if name else "benchmarks/results-latest.json")


def run(args):
    """Run the benchmark with parsed ``args``, print its table; exit status 0."""
    only = getattr(args, "only", None)
    out = args.out or default_out(only, args.tiny)
    results = run_benchmark(tiny=args.tiny, out=out, data=args.data, backends=args.backends, only=only)
    print()
    print(format_table(results))
    print(f"\nWrote {out}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mnist_lessons.bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    # Internal: the parent runs each measurement that needs Keras in a child.
    parser.add_argument("--worker", choices=("train", "tool"), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=argparse.SUPPRESS)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help=argparse.SUPPRESS)
    parser.add_argument("--num-images", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--network", default="dense", help=argparse.SUPPRESS)  # a name in networks.NETWORKS
    parser.add_argument("--matmul-size", type=int, default=MATMUL_SIZE, help=argparse.SUPPRESS)
    parser.add_argument("--tool", choices=tuple(TIMED_TOOLS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is None:
        return run(args)
    result = _train_worker(args) if args.worker == "train" else _tool_worker(args)
    args.result.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
