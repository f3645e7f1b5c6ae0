"""A convolutional network, which reads the digits as images and passes 0.99 (lesson 08).

The network is LeNet-5's plan (LeCun, Bottou, Bengio and Haffner, 1998, made
for reading handwritten digits) with today's relu, max pooling and dropout:
two convolutions, each followed by pooling, then three Dense layers. It takes the
same 784 flattened pixels as lesson 03's network and puts them back into their
28 x 28 grid first, so that everything from lessons 02 to 06 (preprocessing,
``compile_model``, ``train_model``, ``evaluate_model``, the canvas of lesson
07) works on it unchanged.

Why LeNet-5 and not the larger network of Chollet's chapter 5 (32, 64 and 64
filters of 3 x 3, 93,322 parameters): on the 2-core CPUs the course runs on,
XLA's convolutions are slow. One training step of batch 128 took 150 ms for
Chollet's network on JAX (70 s an epoch; 56 to 79 ms on TensorFlow without
XLA) and 28 ms for this one, measured side by side on the AMD EPYC of
2026-12-02. This one reached 0.99 in the course's 10 epochs (seeds 0 and 1; see "Going
further: a convolutional network" in docs/students.md) in a few minutes, and a
lesson can train it in under a minute.
"""

from mnist_lessons.backend import import_keras
from mnist_lessons.preprocess import NUM_CLASSES, NUM_PIXELS

keras = import_keras()

IMAGE_SHAPE = (28, 28, 1)  # rows, columns, one channel of grey: the 784 pixels back in their grid
# Layer by layer, its parameters: 6 filters of 5 x 5 + 6 biases = 156; 16 filters of 5 x 5 x 6 + 16 = 2,416;
# the 5 x 5 x 16 = 400 values left after the second pooling into 120 units, 48,120; 120 x 84 + 84 = 10,164;
# 84 x 10 + 10 = 850.
NUM_CNN_PARAMETERS = 61_706
# Without it, 10 epochs gave 0.9890 and 0.9895 (seeds 0 and 1; training accuracy 0.995: overfitting); with it,
# 0.9905 for seed 0. It has no parameters and changes nothing at prediction time.
DROPOUT = 0.5


def build_cnn():
    """Build the uncompiled convolutional network: 784 pixels -> 28 x 28 -> two convolutions and poolings -> Dense."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(NUM_PIXELS,), name="pixels"),
            layers.Reshape(IMAGE_SHAPE, name="image"),
            layers.Conv2D(6, 5, padding="same", activation="relu", name="edges"),  # 28 x 28 x 6
            layers.MaxPooling2D(2, name="pool_1"),  # 14 x 14 x 6
            layers.Conv2D(16, 5, activation="relu", name="strokes"),  # 10 x 10 x 16
            layers.MaxPooling2D(2, name="pool_2"),  # 5 x 5 x 16
            layers.Flatten(name="features"),  # 400
            layers.Dropout(DROPOUT, name="dropout"),  # while training, half of the 400 zeroed at random
            layers.Dense(120, activation="relu", name="dense_1"),
            layers.Dense(84, activation="relu", name="dense_2"),
            layers.Dense(NUM_CLASSES, activation="softmax", name="digit_probabilities"),
        ],
        name="mnist_cnn",
    )
