"""Compiling the network and fitting it to the training images (lessons 04 and 05).

Not named ``compile.py``: that would shadow the builtin ``compile``.
"""

import time

import numpy as np

from mnist_lessons.backend import import_keras, set_seed  # noqa: F401 -- ml.set_seed, exported from here too
from mnist_lessons.preprocess import NUM_CLASSES, NUM_PIXELS

keras = import_keras()

EPOCHS = 10  # the course's recipe: ten passes over the 60,000 training images
BATCH_SIZE = 128  # the course's recipe: 469 weight updates per epoch
OPTIMIZER = "rmsprop"  # the course's recipe, with Keras' default learning rate 0.001
LOSS = "categorical_crossentropy"  # matches one-hot labels and a softmax output
METRICS = ["accuracy"]
def compile_model(model):
    """Compile ``model`` with RMSprop, categorical cross-entropy and accuracy, as lesson 04 teaches; return it.

    Plain Keras, as a learner writes it. ``mnist-lessons train`` and the bench compile with more speed
    (``multistep.compile_fast``): the same updates, bit for bit.
    """
    model.compile(optimizer=OPTIMIZER, loss=LOSS, metrics=METRICS)
    return model


def train_model(
    model,
    train_images,
    train_labels,
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    *,
    validation_data=None,
    callbacks=None,
    verbose="auto",
):
    """Fit a compiled model for ``epochs`` passes in batches of ``batch_size``; return the History."""
    check_training_inputs(model, train_images, train_labels, epochs, batch_size)
    return model.fit(
        train_images,
        train_labels,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=validation_data,
        callbacks=callbacks,
        verbose=verbose,
    )


class EpochTimer(keras.callbacks.Callback):
    """A Keras callback that records the wall-clock seconds of each epoch."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def check_training_inputs(model, train_images, train_labels, epochs, batch_size):
    """Fail early, in a learner's words, on the mistakes Keras reports cryptically."""
    if not getattr(model, "compiled", False):
        raise ValueError("train_model needs a compiled model: call compile_model(model) first")
    images = np.asarray(train_images) if not hasattr(train_images, "shape") else train_images
    labels = np.asarray(train_labels) if not hasattr(train_labels, "shape") else train_labels
    if tuple(images.shape[1:]) != (NUM_PIXELS,):
        raise ValueError(
            f"train_model expects images of shape (N, {NUM_PIXELS}); got shape {tuple(images.shape)}: "
            "did you call preprocess_images?"
        )
    if tuple(labels.shape[1:]) != (NUM_CLASSES,):
        raise ValueError(
            f"train_model expects one-hot labels of shape (N, {NUM_CLASSES}); got shape "
            f"{tuple(labels.shape)}: did you call one_hot_labels?"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"train_model got {images.shape[0]} images but {labels.shape[0]} labels: they must match"
        )
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"train_model expects {name} to be a whole number of at least 1; got {value!r}")
