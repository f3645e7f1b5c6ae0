"""Fixtures shared by the test files, and the fast tier: `python -m pytest -m fast` (docs/development.md)."""

import contextlib
import fnmatch
import inspect
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from mnist_lessons.data import DATA_ENV_VAR, PACKAGED_PATH

TESTS = Path(__file__).resolve().parent

# The fast tier: the tests that start no Jupyter kernel, no sandbox, no nbgrader and no fresh Python to import Keras,
# make no gradebook (nbgrader's alembic takes seconds) and train for a few steps at most, so that the tier runs in
# under two minutes. A test is in it only when it is named here: its whole module (ALL), or its name or id as an
# fnmatch pattern ("test_x", "test_y[load_data*]"). Every other test, a new one included, is left to the full
# suite until someone names it here; and a fast test that starts what the tier leaves out fails (FORBIDDEN_IN_FAST,
# FEW_STEPS), so that a slow test added to a module named whole does not pass unnoticed.
ALL = ("*",)
FAST = {
    "test_autograder.py": ("test_a_notebook_takes_its_outcome_while_the_later_lessons_are_still_graded",
                           "test_a_lesson_the_grader_failed_stops_at_its_own_notebook"),
    "test_backend.py": ("test_environment_variable_wins", "test_edited_keras_json_wins_over_the_preference",
                        "test_jax_preferred_when_installed", "test_tensorflow_without_jax"),
    "test_answers_out_of_reach.py": ("test_the_routes_reach_the_answers_outside_the_sandbox",
                                     "test_the_scan_finds_answers_where_they_are",
                                     "test_absurd_models_are_refused_before_they_are_built"),
    "test_canvas.py": ALL,
    "test_data.py": ALL,
    "test_evaluate.py": ALL,
    "test_export.py": ("test_import_files_have_the_lms_columns_and_no_others",),
    "test_inert.py": ALL,
    "test_lms.py": ALL,
    "test_model.py": ALL,
    "test_notes.py": ("test_feedback_messages_wrap_and_say_what_happened",),
    "test_plots.py": ALL,
    "test_preprocess.py": ALL,
    "test_progress.py": ALL,
    "test_repair.py": ALL,
    "test_report.py": ("test_verdict_category",),
    "test_stopping.py": ALL,
    "test_similarity.py": ALL,
    "test_feedbackpage.py": ALL,
    "test_feedback_pages.py": ("test_broken_images_are_found",),
    "test_bench.py": ("test_forward_macs_of_both_networks", "test_step_products_are_the_real_models",
                      "test_only_runs_the_parts_named", "test_only_training_runs_the_cnn_on_the_default_backend",
                      "test_describe_cpu_*", "test_tool_worker_times_the_tool_and_reports_a_failure",
                      "test_cli_arguments", "test_a_part_run_writes_its_own_file"),
    "test_checks.py": ("test_every_exercise_has_a_check", "test_other_exceptions_name_the_call",
                       "test_cnn_other_than_the_table_fails_naming_the_row", "test_cnn_table_is_held_in_the_hidden_check_too",
                       "test_cnn_honest_forms_pass", "test_load_data_is_held_to_a_file_other_than_the_shipped_one",
                       "test_confusion_matrix_fancy_index_says_why_repeats_count_once",
                       "test_one_hot_labels_float64_fails_and_asks_for_float32",
                       "test_one_hot_labels_float32_from_np_eye_passes",
                       *(f"test_*[{name}*]" for name in ("load_data", "describe_dataset", "preprocess_images",
                                                         "one_hot_labels", "build_model", "compile_model",
                                                         "compare_labels", "confusion_matrix", "centre_digit"))),
    "test_cli.py": ("test_bad_arguments_exit_2_with_one_message", "test_bad_data_path_exits_2",
                    "test_corrupt_env_data_exits_2", "test_data_command_on_*", "test_help_everywhere",
                    "test_console_script_installed", "test_lab_command_opens_the_first_lesson",
                    "test_lab_kernels_keep_their_compiled_programs", "test_lab_hands_out_the_course_once",
                    "test_lab_refuses_a_file_as_course"),
    "test_drawing.py": ("test_a_photo_of_an_mnist_digit_becomes_that_digit_again",
                        "test_centred_by_mass_in_a_20_pixel_box", "test_skipping_it_misplaces_the_digit",
                        "test_light_strokes_on_a_dark_canvas_and_colour", "test_pictures_that_are_no_digit",
                        "test_read_digit_image_names_the_file", "test_nearest_training_digits",
                        "test_a_dim_photo_with_a_thin_pen", "test_sixteen_bit_scans_keep_their_levels"),
    "test_forkserver.py": ("test_frames_become_files", "test_the_sender_writes_what_the_receiver_reads",
                           "test_a_frame_the_grader_does_not_take_stops_the_reading",
                           "test_after_a_bad_frame_the_rest_is_drained",
                           "test_a_lesson_that_never_takes_its_turn_holds_no_one_up",
                           "test_the_next_lesson_starts_beside_one_that_runs"),
    "test_hints.py": ("test_every_exercise_has_three_tiers", "test_solution_tier_is_the_solution_cell",
                      "test_each_exercise_says_how_to_ask_for_a_hint", "test_hints_come_one_tier_at_a_time",
                      "test_wrong_name_or_tier_says_so_in_one_line", "test_hints_seen_are_recorded_and_resume",
                      "test_unwritable_or_broken_record_never_stops_a_hint", "test_grader_runs_record_nothing",
                      "test_clear_hints_is_off_by_default", "test_clear_hints_removes_tagged_cells",
                      "test_hints_are_off_in_a_graded_release"),
    "test_instructors.py": ("test_grades_everyone_once_and_nobody_twice", "test_newer_submission_is_graded_again",
                            "test_regrade_one_student", "test_killed_run_resumes",
                            "test_dask_scheduler_runs_the_same_unit_of_work",
                            "test_a_relative_course_folder_reaches_the_workers_as_the_drivers",
                            "test_one_students_failure_costs_that_student_alone", "test_class_summary",
                            "test_command_prints_count_notes_summary_and_reports",
                            "test_merge_keeps_penalty_notes_and_flag", "test_submission_is_taken_as_data",
                            "test_engine_notes_name_their_notebook", "test_autograde_class_usage_errors",
                            "test_the_bundle_carries_what_nbgrader_needs_and_no_submission"),
    "test_scale.py": ("test_the_same_result_twice_is_written_once", "test_a_course_bundle_unpacks_plain_files_only*",
                      "test_an_older_submissions_result_after_a_newer_ones_is_ignored",
                      "test_the_driver_writes_each_result_once_and_never_an_older_one",
                      "test_a_submission_that_killed_its_workers_is_not_graded_and_says_why",
                      "test_the_bench_reports_a_class_in_students_an_hour_a_core"),
    "test_training.py": ("test_compile_model_settings", "test_set_seed_matches_keras",
                         "test_set_seed_refuses_a_non_integer", "test_epoch_timer_records_each_epoch",
                         "test_train_model_explains_wrong_inputs", "test_train_model_needs_compiled_model",
                         "test_train_model_rejects_bad_counts",
                         "test_train_model_hands_keras_the_numbers_as_an_array_on_jax",
                         "test_only_dense_networks_run_their_steps_in_one_call",
                         "test_train_model_pads_the_training_set_on_the_device_to_a_power_of_two"),
}
FORBIDDEN_IN_FAST = {  # a program or `python -m` module a fast test may not start, and what it is
    "bwrap": "the grader's sandbox",
    "mnist_lessons.grading.forkserver": "the grader's fork server",
    "mnist_lessons.grading.compilecache": "the grader's compilation-cache warm-up",
    "nbgrader": "nbgrader",
    "ipykernel_launcher": "a Jupyter kernel",
    "jupyterlab": "JupyterLab",
    "jupyter-lab": "JupyterLab",
    "mnist_lessons.bench": "the bench",
}
FEW_STEPS = 10  # the most training steps a fast test may take (test_epoch_timer_records_each_epoch takes 6)


def pytest_collection_modifyitems(config, items):
    for item in items:
        try:
            module = item.path.resolve().relative_to(TESTS).as_posix()
        except ValueError:
            continue  # not one of tests/ (the autograder's own tests, when run in the same session)
        patterns = [pattern.replace("[", "[[]") for pattern in FAST.get(module, ())]  # "[" is no character class here
        if any(fnmatch.fnmatchcase(name, pattern) for name in (item.name, item.originalname) for pattern in patterns):
            item.add_marker(pytest.mark.fast)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    with kept_fast(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    with kept_fast(item):
        return (yield)


@contextlib.contextmanager
def kept_fast(item):
    """While a fast test sets up and runs, starting a FORBIDDEN_IN_FAST program or training past FEW_STEPS fails it."""
    if item.get_closest_marker("fast") is None:
        yield
        return

    def refuse(what):
        pytest.fail(f"{item.nodeid} is in the fast tier but {what}: take it out of FAST in tests/conftest.py",
                    pytrace=False)

    popen_init = subprocess.Popen.__init__

    def guarded_init(self, args, *more, **options):
        words = [args] if isinstance(args, (str, bytes, os.PathLike)) else args
        # Names, not substrings: /usr/bin/bwrap and `-c "...run_module('mnist_lessons.grading.forkserver')"` are
        # caught, a test's own fake_nbgrader.py is not.
        names = {name for word in words for name in re.findall(r"[\w.-]+", os.fsdecode(word))}
        for name in sorted(names & FORBIDDEN_IN_FAST.keys()):
            refuse(f"started {FORBIDDEN_IN_FAST[name]} ({name})")
        popen_init(self, args, *more, **options)

    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(subprocess.Popen, "__init__", guarded_init))
        keras = sys.modules.get("keras")
        if hasattr(keras, "Model"):  # Keras already imported (by the test modules, as a rule): its training counted
            fit = keras.Model.fit

            def guarded_fit(self, *args, **kwargs):
                steps = _training_steps(inspect.signature(fit), self, args, kwargs)
                if steps is not None and steps > FEW_STEPS:
                    refuse(f"trains for {steps} steps, more than {FEW_STEPS}")
                return fit(self, *args, **kwargs)

            stack.enter_context(mock.patch.object(keras.Model, "fit", guarded_fit))
        yield


def _training_steps(signature, model, args, kwargs):
    """How many steps a call of Keras' Model.fit takes, or None where its data has no length."""
    try:
        bound = signature.bind(model, *args, **kwargs)
    except TypeError:
        return None  # Keras will say what is wrong
    bound.apply_defaults()
    fit = bound.arguments
    epochs = fit["epochs"] - fit["initial_epoch"]
    if fit["steps_per_epoch"]:
        return epochs * fit["steps_per_epoch"]
    try:
        count = len(fit["x"])
    except TypeError:
        return None
    return epochs * math.ceil(count / (fit["batch_size"] or 32))  # 32: Keras' own default batch


@pytest.fixture(scope="session")
def full_mnist_path():
    """Path of a complete, verified mnist.npz: MNIST_LESSONS_DATA when it names a file, else the package's own."""
    value = os.environ.get(DATA_ENV_VAR, "").strip()
    path = Path(value).expanduser() if value and value.lower() != "sample" else PACKAGED_PATH
    if not path.is_file():
        pytest.fail(f"{DATA_ENV_VAR} names {path}, which is not a file")
    return path
