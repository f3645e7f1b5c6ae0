"""The course's networks by name, built on request: what `mnist-lessons train --model` and the bench build (lessons 03, 08)."""

import importlib

# Each as "module:function": imported only when built, since the module imports Keras (which the command line
# imports under the compilation cache).
NETWORKS = {
    "dense": "mnist_lessons.model:build_model",  # lesson 03's, the course's recipe
    "cnn": "mnist_lessons.cnn:build_cnn",  # lesson 08's convolutional network
}
DEFAULT_NETWORK = "dense"


def build_network(name):
    """Build the uncompiled network NETWORKS names ``name`` (its module imports Keras)."""
    module_name, function_name = NETWORKS[name].split(":")
    return getattr(importlib.import_module(module_name), function_name)()
