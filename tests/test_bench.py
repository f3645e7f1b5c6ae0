"""The benchmark (issues 6 and 14), run end to end in its tiny mode so that it cannot rot."""

import argparse
import importlib.util
import json
import statistics
from pathlib import Path

import nbformat

import pytest

from mnist_lessons import bench
from mnist_lessons.grading import compilecache
from mnist_lessons.preprocess import NUM_CLASSES, NUM_PIXELS

TINY_IMAGES = bench.TINY["num_images"]
# The CNN's forward multiply-adds per image, layer by layer: the first convolution's 28 x 28 outputs of 6 filters,
# each 5 x 5 over 1 channel (padding "same"); the second's 10 x 10 outputs of 16 filters, each 5 x 5 over 6
# channels; then Dense 400 -> 120, 120 -> 84 and 84 -> 10. Pooling, reshape and flatten do none.
CNN_MACS = 28 * 28 * 6 * 25 * 1 + 10 * 10 * 16 * 25 * 6 + 400 * 120 + 120 * 84 + 84 * 10


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny benchmark on the bundled sample, every installed backend: (results, JSON path, progress lines)."""
    out = tmp_path_factory.mktemp("bench") / "results.json"
    lines = []
    results = bench.run_benchmark(tiny=True, out=out, data="sample", progress=lines.append)
    return results, out, lines


def test_forward_macs_of_both_networks():
    """Does forward_macs count the dense network's 406,528 and the CNN's hand count, and refuse a layer it cannot count?"""
    from mnist_lessons.backend import import_keras
    from mnist_lessons.cnn import build_cnn
    from mnist_lessons.model import build_model

    keras = import_keras()
    assert bench.forward_macs(build_model()) == bench.MACS_PER_IMAGE == 406_528
    assert bench.forward_macs(build_cnn()) == CNN_MACS
    normalized = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(name="norm"), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="not norm"):
        bench.forward_macs(normalized)


def test_step_products_are_the_real_models():
    """Are the step's products those of the reference model's own kernels: each Dense layer's forward product and
    weight gradient, and the input gradient of every layer but the first?"""
    from mnist_lessons.model import build_model

    kernels = [tuple(layer.kernel.shape) for layer in build_model().layers]  # (inputs, units) per Dense layer
    assert bench.TRAIN_MATMUL_SHAPE == (128, *kernels[0])
    for batch_size in (128, 32):
        expected = [(batch_size, k, n) for k, n in kernels] + [(k, batch_size, n) for k, n in kernels]
        expected += [(batch_size, n, k) for k, n in kernels[1:]]
        assert sorted(bench.step_product_shapes(batch_size)) == sorted(expected)


def test_tiny_matmul_and_floor(tiny_run):
    """Are the matmul rates positive, and is the floor the run's GFLOP divided by the square product's rate?"""
    results, _, _ = tiny_run
    matmul, floor = results["matmul"], results["floor"]
    assert matmul["shape"] == [256, 256, 256] and matmul["gflops"] > 0 and matmul["train_shape_gflops"] > 0
    assert floor["num_images"] == TINY_IMAGES
    assert floor["gflop"] == pytest.approx(3 * 2 * 406_528 * TINY_IMAGES / 1e9)
    assert floor["seconds"] == pytest.approx(floor["gflop"] / matmul["gflops"])
    assert floor["full_epoch_gflop"] == pytest.approx(146.35008)
    assert floor["full_epoch_seconds"] == pytest.approx(146.35008 / matmul["gflops"])


def test_tiny_backends(tiny_run):
    """Does each installed backend report 2 positive epoch times per seed, their ratio to the floor, and a test accuracy far above chance?"""
    results, _, _ = tiny_run
    assert list(results["backends"]) == bench.installed_backends()
    assert results["default_backend"] in results["backends"]
    for name, result in results["backends"].items():
        assert "error" not in result, f"{name}: {result}"
        assert result["backend"] == name and name in result["versions"]
        assert (result["num_images"], result["epochs"], result["batch_size"]) == (TINY_IMAGES, 2, 128)
        assert list(result["epoch_seconds"]) == ["0"]
        seconds = result["epoch_seconds"]["0"]
        assert len(seconds) == 2 and all(s > 0 for s in seconds)
        assert result["seconds_per_epoch"] == seconds[1]  # the median of epochs 2..N
        assert result["ratio_to_floor"] == pytest.approx(result["seconds_per_epoch"] / results["floor"]["seconds"])
        accuracy = result["test_accuracy"]
        assert 0.75 < accuracy["min"] == accuracy["mean"] == accuracy["max"] == accuracy["per_seed"]["0"] <= 1
        defaults = result["keras_defaults"]
        assert defaults["seconds_per_epoch"] == defaults["epoch_seconds"][1] > 0
        assert defaults["ratio_to_floor"] == pytest.approx(defaults["seconds_per_epoch"] / results["floor"]["seconds"])
        assert 0.75 < defaults["test_accuracy"] <= 1
        beside = result["side_by_side"]  # probed before each seed and after the last
        assert len(beside["gflops"]) == len(beside["step_products_seconds"]) == 2
        assert min(beside["gflops"]) > 0 and min(beside["step_products_seconds"]) > 0
        median_rate = sorted(beside["gflops"])[0] / 2 + sorted(beside["gflops"])[1] / 2
        assert beside["floor_seconds"] == pytest.approx(results["floor"]["gflop"] / median_rate)
        assert beside["ratio_to_floor"] == pytest.approx(result["seconds_per_epoch"] / beside["floor_seconds"])
        assert beside["ratio_to_step_products"] == pytest.approx(
            result["seconds_per_epoch"] / (sum(beside["step_products_seconds"]) / 2))


def test_tiny_cnn(tiny_run):
    """Does the CNN train on the default backend, with positive epoch times, its own floor and ratio, and an accuracy?"""
    from mnist_lessons.cnn import NUM_CNN_PARAMETERS

    results, _, _ = tiny_run
    cnn = results["cnn"]
    assert "error" not in cnn, cnn
    assert (cnn["network"], cnn["backend"]) == ("cnn", results["default_backend"])
    assert (cnn["num_images"], cnn["epochs"], cnn["batch_size"]) == (TINY_IMAGES, 2, 128)
    assert cnn["forward_macs"] == CNN_MACS and cnn["num_parameters"] == NUM_CNN_PARAMETERS
    assert list(cnn["epoch_seconds"]) == ["0"]
    seconds = cnn["epoch_seconds"]["0"]
    assert len(seconds) == 2 and all(s > 0 for s in seconds)
    assert cnn["seconds_per_epoch"] == seconds[1]  # the median of epochs 2..N
    rates = cnn["side_by_side"]["gflops"]  # probed before each seed and after the last
    assert len(rates) == 2 and min(rates) > 0
    floor = cnn["floor"]
    assert (floor["macs_per_image"], floor["passes"], floor["flops_per_mac"]) == (CNN_MACS, 3, 2)
    assert floor["gflop"] == pytest.approx(3 * 2 * CNN_MACS * TINY_IMAGES / 1e9)
    assert floor["gflops"] == statistics.median(rates)
    assert floor["seconds"] == pytest.approx(floor["gflop"] / floor["gflops"])
    assert cnn["ratio_to_floor"] == pytest.approx(cnn["seconds_per_epoch"] / floor["seconds"]) and cnn["ratio_to_floor"] > 0
    accuracy = cnn["test_accuracy"]
    assert 0 <= accuracy["min"] == accuracy["mean"] == accuracy["max"] == accuracy["per_seed"]["0"] <= 1


def test_tiny_tools_are_timed(tiny_run):
    """Are the self-check and the autograder found, timed on the tiny lesson, and passed by the reference submission,
    after the grader's cache was warmed (where it has one), outside their figures?"""
    results, _, _ = tiny_run
    warm_up = results["grader_warm_up"]
    assert warm_up["warmed"] == (compilecache.ready(bench.chosen_backend()) is not None), warm_up
    for tool, (module_name, function_name) in bench.TIMED_TOOLS.items():
        result = results[tool]
        assert "error" not in result, f"{tool}: {result}"
        assert result["passed"] is True and result["seconds"] > 0, f"{tool}: {result}"
        assert result["note"] == f"{module_name}.{function_name} (lessons {', '.join(bench.TINY_LESSONS)})"


def test_tiny_json_and_table(tiny_run):
    """Is the JSON file the returned dict, and does the table show the CPU and its vector extensions, the rate, each backend and each tool?"""
    results, out, lines = tiny_run
    assert json.loads(out.read_text()) == json.loads(json.dumps(results))
    assert results["tiny"] is True and results["machine"]["cores"] >= 1
    assert results["machine"]["vector_extensions"] == bench.describe_cpu()["vector_extensions"]
    table = bench.format_table(results)
    assert f"{results['matmul']['gflops']:.1f} GFLOP/s" in table
    for name, result in results["backends"].items():
        assert f"{result['seconds_per_epoch']:.3f} s, {result['ratio_to_floor']:.2f}x the floor" in table
        beside = result["side_by_side"]
        assert (f"{beside['ratio_to_floor']:.2f}x the floor measured beside its epochs" in table
                and f"{beside['ratio_to_step_products']:.2f}x the step's own products" in table)
    cnn = results["cnn"]
    label = f"CNN on {cnn['backend']}"
    row = next(line for line in table.splitlines() if line.startswith(f"{label}: seconds per epoch"))
    assert f"  {cnn['seconds_per_epoch']:.3f} s, {cnn['ratio_to_floor']:.2f}x its floor measured beside" in row
    assert f"{CNN_MACS:,} multiply-adds per image" in row
    row = next(line for line in table.splitlines() if line.startswith(f"{label}: test accuracy"))
    assert f"  mean {cnn['test_accuracy']['mean']:.4f}, " in row
    assert f"(seeds 0: {cnn['test_accuracy']['per_seed']['0']:.4f}; 2 epochs)" in row
    header, vectors = table.splitlines()[:2]
    assert header.startswith(f"mnist-lessons bench on {results['machine']['cpu']}, ")
    load = results["load_average"]
    assert all(len(load[when]) == 3 for when in ("start", "end"))  # Linux has getloadavg
    assert header.endswith(f"; load average {load['start'][0]:.2f} at the start, {load['end'][0]:.2f} at the end")
    assert vectors == "Vector extensions: " + (", ".join(results["machine"]["vector_extensions"] or []) or "unknown")
    for tool, title in bench.TOOL_TITLES.items():
        row = next(line for line in table.splitlines() if line.startswith(title.capitalize()))
        assert row.endswith(f"  {results[tool]['seconds']:.1f} s")
    for lesson, result in results["lessons"].items():
        row = next(line for line in table.splitlines() if line.startswith(f"Lesson {lesson}, run all"))
        assert row.endswith(f"  {result['run_all_seconds']:.1f} s; first output at {result['first_output_seconds']:.2f} s"
                            f" (kernel ready at {result['ready_seconds']:.2f} s); data: sample")
    startup = next(line for line in table.splitlines() if line.startswith("Start-up in a fresh process"))
    assert f"  {results['startup']['seconds']:.2f} s (" in startup
    kernel = next(line for line in table.splitlines() if line.startswith("Kernel start to first output"))
    assert f"  {results['kernel_first_output']['first_output_seconds']:.2f} s (ready at " in kernel
    warm_up = next(line for line in table.splitlines() if line.startswith("Grader's warm-up, once"))
    seconds = results["grader_warm_up"]["seconds"]
    if not results["grader_warm_up"]["warmed"]:  # why there is no cache, where there is none (not JAX, no sandbox)
        said = ": no cache (not JAX, no bubblewrap, or turned off); children compile"
    else:
        said = " (ready already)" if seconds < 1 else ""
    assert warm_up.endswith(f"  {seconds:.1f} s{said}"), warm_up
    # One progress line per phase: the matmul, each backend, the CNN, the grader's warm-up, each tool, start-up,
    # the kernel, the lessons, the class.
    assert sum(line.startswith("[bench] ") and line.endswith("...") for line in lines) == (
        1 + len(results["backends"]) + 1 + 1 + len(bench.TIMED_TOOLS) + 3 + 1
    )
    assert results["parts"] == list(bench.PARTS) and results["command"] == "mnist-lessons bench --tiny"


def test_tiny_startup_without_tensorflow(tiny_run):
    """Is issue 14's line timed in a fresh process, and on a backend other than TensorFlow does seeding leave TensorFlow unimported?"""
    results, _, _ = tiny_run
    startup = results["startup"]
    assert "error" not in startup, startup
    assert startup["line"] == "import mnist_lessons as ml; ml.build_model(); ml.set_seed(0)"
    assert startup["repeats"] == len(startup["runs"]) == 1
    run = startup["runs"][0]
    assert startup["seconds"] == run["seconds"] > 0
    assert startup["process_seconds"] == run["process_seconds"] > run["seconds"]  # Python's own start and exit on top
    assert startup["backend"] == results["default_backend"]
    seed_only = startup["seed_only"]
    assert seed_only["line"] == "import mnist_lessons as ml; ml.set_seed(0)" and "error" not in seed_only, seed_only
    assert 0 < seed_only["seconds"] < seed_only["process_seconds"]
    assert startup["tensorflow_installed"] == (importlib.util.find_spec("tensorflow") is not None)
    if startup["backend"] != "tensorflow":
        assert seed_only["tensorflow_imported"] is False and startup["tensorflow_imported"] is False
    if startup["backend"] == "jax":
        assert run["jax_imported"] is True


def test_tiny_kernel_first_output(tiny_run):
    """Does a real kernel get ready, then print the probe's "ready", then finish, in that order and in positive seconds?"""
    results, _, _ = tiny_run
    kernel = results["kernel_first_output"]
    assert "error" not in kernel, kernel
    assert kernel["code"] == bench.KERNEL_PROBE and kernel["repeats"] == len(kernel["runs"]) == 1
    assert kernel["first_output"] == "ready"
    assert 0 < kernel["ready_seconds"] < kernel["first_output_seconds"] <= kernel["done_seconds"]


def test_tiny_lessons_run_all(tiny_run):
    """Does the tiny lesson run every cell on the sample without an error, its first output after the kernel is ready and before the end?"""
    results, _, _ = tiny_run
    assert list(results["lessons"]) == bench.TINY_LESSONS
    for lesson, result in results["lessons"].items():
        assert "error" not in result, f"{lesson}: {result}"
        assert result["errors"] == [] and result["data"] == "sample"
        notebook = nbformat.read(bench._lessons_folder() / f"{lesson}.ipynb", as_version=4)
        assert result["code_cells"] == sum(cell.cell_type == "code" for cell in notebook.cells)
        assert result["first_output_cell"] == 0  # lesson 02's first code cell prints the arrays it loaded
        assert 0 < result["ready_seconds"] < result["first_output_seconds"] < result["run_all_seconds"]


def test_time_notebook_times_and_reports_errors(tmp_path):
    """On a notebook that prints after 0.5 s and raises 0.5 s later, are the first output, its cell, the error and the total right?"""
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A title"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("import time\ntime.sleep(0.5)\nprint('first')"),
        nbformat.v4.new_code_cell("time.sleep(0.5)\nraise ValueError('boom')"),
        nbformat.v4.new_code_cell("print('after the error')"),
    ])
    path = tmp_path / "timed.ipynb"
    nbformat.write(notebook, path)
    before = path.read_text()
    result = bench.time_notebook(path)
    assert result["code_cells"] == 4 and result["first_output_cell"] == 1
    assert result["errors"] == ["cell 3: ValueError: boom"]
    assert result["first_output_seconds"] >= result["ready_seconds"] + 0.5
    assert result["run_all_seconds"] >= result["first_output_seconds"] + 0.5
    assert path.read_text() == before  # the file itself is not run over


def test_only_runs_the_parts_named(monkeypatch):
    """Does `--only lessons` run the lessons part alone, and say so in the results' command?"""
    calls = []
    monkeypatch.setattr(bench, "_bench_training", lambda *args: calls.append("training"))
    monkeypatch.setattr(bench, "_bench_lessons", lambda *args: calls.append("lessons"))
    results = bench.run_benchmark(tiny=True, only=["lessons"], progress=lambda line: None)
    assert calls == ["lessons"] and results["parts"] == ["lessons"]
    assert results["command"] == "mnist-lessons bench --tiny --only lessons"
    assert not any(tool in results for tool in bench.TIMED_TOOLS)


def fake_training(backend, network):
    """A training worker's result, with round figures, as _run_worker would return it."""
    result = {"network": network, "backend": backend, "num_images": 1_000, "epochs": 2, "batch_size": 128,
              "seconds_per_epoch": 2.0, "epoch_seconds": {"0": [3.0, 2.0]},
              "test_accuracy": {"per_seed": {"0": 0.5}, "mean": 0.5, "min": 0.5, "max": 0.5},
              "side_by_side": {"gflops": [40.0, 60.0]}}
    if network == "cnn":
        return {**result, "forward_macs": CNN_MACS, "num_parameters": 61_706}
    result["side_by_side"]["step_products_seconds"] = [0.5, 0.5]
    return {**result, "keras_defaults": {"seed": 0, "seconds_per_epoch": 1.0, "epoch_seconds": [2.0, 1.0],
                                         "test_accuracy": 0.5}}


@pytest.mark.parametrize("backends, cnn_backend", [(["tensorflow", "jax"], "jax"), (["tensorflow"], "tensorflow")])
def test_only_training_runs_the_cnn_on_the_default_backend(monkeypatch, backends, cnn_backend):
    """Does `--only training` train the CNN once, on the default backend (else the first measured), with its own floor?"""
    calls = []

    def run_worker(job, worker_args, env):
        network = worker_args[worker_args.index("--network") + 1] if "--network" in worker_args else "dense"
        calls.append((env["KERAS_BACKEND"], network))
        return fake_training(env["KERAS_BACKEND"], network)

    monkeypatch.setattr(bench, "_run_worker", run_worker)
    monkeypatch.setattr(bench, "measure_matmul_gflops", lambda *args, **kwargs: 100.0)
    monkeypatch.setattr(bench, "chosen_backend", lambda: "jax")
    results = bench.run_benchmark(tiny=True, only=["training"], backends=backends, progress=lambda line: None)
    assert calls == [(backend, "dense") for backend in backends] + [(cnn_backend, "cnn")]
    cnn = results["cnn"]
    gflop = 3 * 2 * CNN_MACS * 1_000 / 1e9
    assert cnn["floor"]["gflop"] == pytest.approx(gflop) and cnn["floor"]["gflops"] == 50.0  # the median beside it
    assert cnn["ratio_to_floor"] == pytest.approx(2.0 / (gflop / 50.0))
    assert results["floor"]["macs_per_image"] == bench.MACS_PER_IMAGE  # the dense network's floor is its own
    table = bench.format_table(results)
    row = next(line for line in table.splitlines() if line.startswith(f"CNN on {cnn_backend}: seconds per epoch"))
    assert f"  2.000 s, {cnn['ratio_to_floor']:.2f}x its floor measured beside its epochs (" in row
    assert "(seeds 0: 0.5000; 2 epochs)" in table
    failed = bench.format_table({**results, "cnn": {"error": "the worker exited with status 1", "seconds": None}})
    assert "CNN: seconds per epoch" in failed and "failed: the worker exited with status 1" in failed
    assert "startup" not in results and not any(tool in results for tool in bench.TIMED_TOOLS)


# /proc/cpuinfo's lines for one processor, cut short: an AVX-512 Xeon (issue 14's machine) and an ARM server.
XEON_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: fpu vme sse sse2 ht syscall nx pdpe1gb lm ssse3 fma cx16 sse4_1 sse4_2 avx f16c rdrand \
bmi1 avx2 smep bmi2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 avx512_vnni avx512_fp16 \
amx_bf16 amx_tile amx_int8 avx_vnni

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: fpu sse
"""
ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 2000.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm sve sve2 bf16 i8mm
CPU implementer\t: 0x41
"""


@pytest.mark.parametrize(
    "cpuinfo, cpu, extensions",
    [
        (XEON_CPUINFO, "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz",
         ["sse", "sse2", "ssse3", "fma", "sse4_1", "sse4_2", "avx", "f16c", "avx2", "avx512f", "avx512dq",
          "avx512cd", "avx512bw", "avx512vl", "avx512_bf16", "avx512_vnni", "avx512_fp16", "amx_bf16",
          "amx_tile", "amx_int8", "avx_vnni"]),
        (ARM_CPUINFO, None, ["asimd", "asimdhp", "asimdrdm", "sve", "sve2", "bf16", "i8mm"]),
    ],
)
def test_describe_cpu_from_cpuinfo(tmp_path, cpuinfo, cpu, extensions):
    """Does describe_cpu read the first processor's model name and keep exactly its vector flags (not smep, bmi2 or aes)?"""
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    described = bench.describe_cpu(path)
    assert described["vector_extensions"] == extensions
    assert described["vector_extensions_source"] == str(path)
    # ARM's cpuinfo names no model: then it is what platform says.
    assert described["cpu"] == (cpu or bench._platform_cpu_name()) and described["cpu"]


def test_describe_cpu_without_cpuinfo(tmp_path):
    """Where there is no /proc/cpuinfo, are the extensions NumPy's, said to be NumPy's, and the CPU named by platform?"""
    described = bench.describe_cpu(tmp_path / "absent")
    simd = bench.np.show_config(mode="dicts")["SIMD Extensions"]
    assert described["vector_extensions"] == simd["baseline"] + simd["found"]
    assert described["vector_extensions_source"] == "numpy"
    assert described["cpu"] == bench._platform_cpu_name() and described["cpu"]


def test_tool_worker_times_the_tool_and_reports_a_failure(tmp_path, monkeypatch):
    """Is a tool run on the lessons asked for and timed, and is a reference submission it fails reported as failed?"""
    (tmp_path / "fake_checks.py").write_text("CALLS = []\ndef run_all(lessons=None):\n    CALLS.append(lessons)\n"
                                             "    return True\ndef fail_all(lessons=None):\n    return False\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(bench.TIMED_TOOLS, "self_check", ("fake_checks", "run_all"))
    monkeypatch.setitem(bench.TIMED_TOOLS, "autograde", ("fake_checks", "fail_all"))
    passed = bench._tool_worker(argparse.Namespace(tool="self_check", tiny=True))
    assert passed["passed"] is True and passed["seconds"] > 0
    import fake_checks

    assert fake_checks.CALLS == [bench.TINY_LESSONS]
    failed = bench._tool_worker(argparse.Namespace(tool="autograde", tiny=False))
    assert failed["passed"] is False and failed["note"].endswith("the reference submission FAILED")
    assert bench._tool_figure(failed).endswith("(the reference submission FAILED)")
    assert fake_checks.CALLS == [bench.TINY_LESSONS]  # run_all was not called for the other tool


def test_cli_arguments():
    """Do add_arguments' options parse as the lead's `mnist-lessons bench` will pass them?"""
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--tiny", "--out", "r.json", "--backend", "jax", "--data", "sample", "--only", "lessons"])
    assert (args.tiny, str(args.out), args.backends, args.data, args.only) == (True, "r.json", ["jax"], "sample", ["lessons"])
    defaults = parser.parse_args([])
    assert not defaults.tiny and defaults.backends is None and defaults.out is None and defaults.only is None


def test_a_part_run_writes_its_own_file():
    """Do a run of some parts and a tiny run keep off the whole run's JSON (a tools run overwrote the training
    figures)?"""
    assert bench.default_out() == bench.default_out(list(bench.PARTS)) == Path("benchmarks/results-latest.json")
    assert bench.default_out(["tools"]) == Path("benchmarks/results-tools-latest.json")
    assert bench.default_out(["lessons", "training"]) == Path("benchmarks/results-training-lessons-latest.json")
    assert bench.default_out(tiny=True) == Path("benchmarks/results-tiny-latest.json")
    assert bench.default_out(["tools"], tiny=True) == Path("benchmarks/results-tools-tiny-latest.json")
