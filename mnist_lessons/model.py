"""The network of the course: 784 inputs -> Dense(512, relu) -> Dense(10, softmax) (lesson 03)."""

from mnist_lessons.backend import import_keras
from mnist_lessons.preprocess import NUM_CLASSES, NUM_PIXELS

keras = import_keras()

HIDDEN_UNITS = 512  # the course's recipe (Chollet, first edition, chapter 2)
# 784 * 512 weights + 512 biases, then 512 * 10 weights + 10 biases.
NUM_PARAMETERS = NUM_PIXELS * HIDDEN_UNITS + HIDDEN_UNITS + HIDDEN_UNITS * NUM_CLASSES + NUM_CLASSES


def build_model():
    """Build the uncompiled network: Input(784) -> Dense(512, relu) -> Dense(10, softmax)."""
    return keras.Sequential(
        [
            keras.Input(shape=(NUM_PIXELS,), name="pixels"),
            keras.layers.Dense(HIDDEN_UNITS, activation="relu", name="hidden"),
            keras.layers.Dense(NUM_CLASSES, activation="softmax", name="digit_probabilities"),
        ],
        name="mnist_dense",
    )
