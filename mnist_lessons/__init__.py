"""mnist_lessons: the answer key and toolbox of the MNIST course.

One module per step of the pipeline, in lesson order:

- ``data``        lesson 01, the MNIST inside the package, or a file of one's own
- ``preprocess``  lesson 02, flattening and scaling images, one-hot labels
- ``model``       lesson 03, the Dense(512, relu) -> Dense(10, softmax) network
- ``training``    lessons 04 and 05, compiling and fitting the model
- ``evaluate``    lesson 06, test figures, predictions and the confusion matrix
- ``drawing``     going further (lesson 07), a digit of one's own made into an MNIST image
- ``canvas``      going further (lesson 07), a canvas in the notebook to draw a digit on, read after each stroke
- ``plots``       every lesson, the figures a learner looks at
- ``checks``      every lesson, the self-checks behind the check cells
- ``networks``    the course's networks by name, for the command line and the bench
- ``cli``         the ``mnist-lessons`` command
- ``grading``     the grading engine behind ``pytest autograder/`` and nbgrader

Public names are importable from the package itself. They are loaded lazily
(PEP 562), so that ``import mnist_lessons`` and ``mnist-lessons data`` do not
pay TensorFlow's start-up of several seconds; only the model and training
functions import Keras.
"""

import importlib
import os

# TensorFlow's C++ start-up log (oneDNN notices, CPU feature lines) would
# clutter every lesson and command. Level 2 hides INFO and WARNING but keeps
# ERROR, so real failures still show. A user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

_EXPORTS = {
    "data": ["load_mnist", "load_mnist_data", "mnist_npz_path", "describe_dataset", "DataError", "MnistData"],
    "preprocess": ["preprocess_images", "one_hot_labels"],
    "model": ["build_model"],
    "cnn": ["build_cnn"],
    "backend": ["set_seed"],
    "training": ["compile_model", "train_model"],
    "evaluate": [
        "evaluate_model",
        "predict_labels",
        "compare_labels",
        "confusion_matrix",
        "misclassified_indices",
    ],
    "drawing": ["prepare_digit", "centre_digit", "ink_levels", "read_digit_image", "nearest_training_digits", "DrawingError"],
    "canvas": ["DigitCanvas", "digit_reader"],
    "plots": [
        "plot_digits",
        "plot_image",
        "plot_class_counts",
        "plot_training_curves",
        "plot_confusion_matrix",
        "plot_misclassified",
        "plot_prediction",
        "plot_nearest",
    ],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'mnist_lessons' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # cache: the next lookup skips __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
