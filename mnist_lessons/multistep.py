"""Several training steps in one compiled call (issue 14): how ``compile_model`` makes each of Keras' calls count.

With ``steps_per_execution=32`` Keras returns to Python once per 32 batches,
but on JAX it still launches the compiled step once per batch, and on
TensorFlow it loops over them outside XLA. On 2 CPU cores each launch costs
0.1 to 0.2 ms on top of a step of about 1.3 ms: the waits of XLA's threads
for one another (measured on the 2-core AVX-512 Xeon, 2026-12-03, with
jax.profiler and perf). ``run_steps_in_one_call`` gives a compiled model a
train function that stacks the 32 batches and runs Keras' own ``train_step``
over them in one XLA program (a ``lax.scan`` on JAX, an XLA-compiled
``tf.while_loop`` on TensorFlow). The updates, their order and their batches
are Keras' own: the weights and the History come out bit for bit the same
(tests/test_training.py compares them with Keras' own loop). A group shorter
than 32, or one whose batches differ in shape (the epoch's last, smaller
batch), runs batch by batch.

It stands on one contract of Keras' trainers, as ``training.set_seed`` stands
on others: ``model.train_function(state, iterator)`` returns ``(logs,
state)`` on JAX, and ``model.train_function(iterator)`` returns the logs on
TensorFlow, each taking its batches with ``next(iterator)``. A Keras that
changes it fails that test. On other backends, eager runs, or a model
compiled again with one step per execution, Keras' own function runs. One
difference shows only with data fed by a generator of one's own: Keras draws
a call's batches one step at a time, this draws all 32 first.

Only for a network of Dense layers (``ONE_CALL_LAYERS``), the course's own:
lesson 08's LeNet-5 trained 3.3 times slower so (24.5 s an epoch against
7.5 s: XLA's convolutions inside its loop), and its Dropout drew other masks
(test accuracy 0.9921 against 0.9907 for seed 0).
"""

import numpy as np

from mnist_lessons.backend import import_keras

keras = import_keras()


ONE_CALL_LAYERS = ("InputLayer", "Dense")  # the layers of the networks whose steps run in one call


def run_steps_in_one_call(model):
    """Give a compiled ``model`` the train function that runs each call's steps in one XLA program; return it.

    Only on JAX and TensorFlow, and for a network of Dense layers only (see above); another is left as it is.
    """
    backend = keras.backend.backend()
    if backend not in ("jax", "tensorflow") or not _dense_only(model):
        return model
    keras_own = type(model).make_train_function

    def make_train_function(force=False):
        if model.train_function is not None and not force:
            return model.train_function
        if model.steps_per_execution <= 1 or model.run_eagerly or not model.jit_compile:
            return keras_own(model, force=True)  # compiled again since, another way: Keras' own
        build = _jax_train_function if backend == "jax" else _tensorflow_train_function
        model.train_function = build(model, model.steps_per_execution)
        return model.train_function

    model.make_train_function = make_train_function
    return model


def _dense_only(model):
    """Whether ``model`` is a network of ONE_CALL_LAYERS, nested models included, and nothing else."""
    layers = getattr(model, "layers", None)
    if not isinstance(model, keras.Model) or not layers:
        return False
    return all(_dense_only(layer) if isinstance(layer, keras.Model) else type(layer).__name__ in ONE_CALL_LAYERS
               for layer in layers)


def _take(iterator, count, end=StopIteration):
    """Up to ``count`` batches from Keras' iterator (fewer at the end of the epoch)."""
    batches = []
    for _ in range(count):
        try:
            batches.append(next(iterator))
        except end:
            break
    return batches


def _alike(batches, count, flatten):
    """Whether there are ``count`` batches, all of one structure and shape: then they stack into one."""
    if len(batches) != count:
        return False
    shapes = [[tuple(getattr(part, "shape", (None,))) for part in flatten(batch)] for batch in batches]
    return all(shape == shapes[0] and None not in shape for shape in shapes)


def _jax_train_function(model, count):
    import jax

    one_step = jax.jit(model.train_step, donate_argnums=0)

    def all_steps(state, stacked):
        def step(state, batch):
            logs, state = model.train_step(state, batch)
            return state, logs

        state, logs = jax.lax.scan(step, state, stacked)
        return jax.tree.map(lambda values: values[-1], logs), state  # the last step's logs, as Keras returns

    all_steps = jax.jit(all_steps, donate_argnums=0)

    def train_function(state, iterator):
        batches = _take(iterator, count)
        if not batches:
            raise StopIteration
        if _alike(batches, count, jax.tree.leaves):
            return all_steps(state, jax.tree.map(lambda *parts: np.stack(parts), *batches))
        logs = None
        for batch in batches:
            logs, state = one_step(state, batch)
        return logs, state

    return train_function


def _tensorflow_train_function(model, count):
    import tensorflow as tf

    one_step = tf.function(model.train_step, jit_compile=True, reduce_retracing=True)

    @tf.function(jit_compile=True, reduce_retracing=True)
    def all_steps(stacked):
        logs = model.train_step(tf.nest.map_structure(lambda parts: parts[0], stacked))

        def step(index, logs):
            return index + 1, model.train_step(tf.nest.map_structure(lambda parts: parts[index], stacked))

        return tf.while_loop(lambda index, logs: index < count, step, (tf.constant(1), logs))[1]

    def train_function(iterator):
        batches = _take(iterator, count, (StopIteration, tf.errors.OutOfRangeError))
        if not batches:
            raise StopIteration
        if _alike(batches, count, tf.nest.flatten):
            return all_steps(tf.nest.map_structure(lambda *parts: tf.stack(parts), *batches))
        logs = None
        for batch in batches:
            logs = one_step(batch)
        return logs

    return train_function
