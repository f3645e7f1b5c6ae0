"""Several training steps in one compiled call (issue 14): the tools' faster training, off the lessons' path.

Not the lessons' way: the course's answers (``training.compile_model``,
``training.train_model``) are plain Keras, as a learner writes them. The
tools compile with ``compile_fast`` and fit with ``train``, for the same
updates, bit for bit, in less time.

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

It stands on one contract of Keras' trainers, as ``backend.set_seed`` stands
on others: ``model.train_function(state, iterator)`` returns ``(logs,
state)`` on JAX, and ``model.train_function(iterator)`` returns the logs on
TensorFlow, each taking its batches with ``next(iterator)``. A Keras that
changes it fails that test. On other backends, eager runs, or a model
compiled again with one step per execution, Keras' own function runs. One
difference shows only with data fed by a generator of one's own: Keras draws
a call's batches one step at a time, this draws all 32 first.

``fit`` (what ``train`` calls) also keeps the training set on
the device, and hands Keras the images' numbers to shuffle and batch: the
train function gathers each batch inside its program. That leans on one more
behaviour of Keras' fit, that it builds its metrics from the first batch it
draws, and the same test checks it. On TensorFlow it builds Keras' own
pipeline of those numbers with Keras' array adapter, to turn tf.data's
autotuning off (``_numbers``); the same test checks that too.

Only for a network of Dense layers (``ONE_CALL_LAYERS``), the course's own:
lesson 08's LeNet-5 trained 3.3 times slower so (24.5 s an epoch against
7.5 s: XLA's convolutions inside its loop), and its Dropout drew other masks
(test accuracy 0.9921 against 0.9907 for seed 0).
"""

import functools

import numpy as np

from mnist_lessons.backend import import_keras
from mnist_lessons.training import BATCH_SIZE, EPOCHS, LOSS, METRICS, check_training_inputs

keras = import_keras()

# Weight updates per call into the compiled step: Keras then returns to Python,
# and runs batch callbacks, once per 32 batches instead of once per batch. On 2
# CPU cores one step of this small model takes about 1.7 ms, and the per-call
# overhead was as large as the step itself on TensorFlow (2.1 s per epoch at 1,
# 1.1 s at 32) and a sixth of it on JAX (0.92 s at 1, 0.79 s at 32). 8 already
# gets most of it; 469 (a whole epoch) was no faster. Numerically nothing
# changes: the same updates in the same order. See docs/performance.md.
STEPS_PER_EXECUTION = 32


def compile_fast(model):
    """Compile ``model`` as ``training.compile_model`` does, with XLA, 32 steps a call and, for a Dense network,
    those steps in one XLA program; return it. What ``mnist-lessons train`` and the bench train."""
    model.compile(optimizer=keras.optimizers.RMSprop(), loss=LOSS, metrics=METRICS, jit_compile=_jit_compile(),
                  steps_per_execution=STEPS_PER_EXECUTION)
    return run_steps_in_one_call(model)


def train(model, train_images, train_labels, epochs=EPOCHS, batch_size=BATCH_SIZE, **options):
    """``training.train_model`` for a model ``compile_fast`` compiled: the training set on the device (``fit``)."""
    check_training_inputs(model, train_images, train_labels, epochs, batch_size)
    return fit(model, train_images, train_labels, epochs=epochs, batch_size=batch_size, **options)


def _jit_compile():
    """XLA for the training step on TensorFlow too, where Keras' "auto" uses it only with a GPU.

    On the 2-core AVX-512 Xeon (2026-12-02), alternating runs of 3 epochs:
    1.08, 0.93, 1.25 and 1.31 s per epoch with XLA against 1.85, 1.30, 2.02
    and 2.08 s without. (On the AVX2 EPYC before, it gained nothing: 1.15 s
    against 1.1 s.) JAX always compiles with XLA; on PyTorch ``True`` would
    mean torch.compile, which the course has not measured: "auto" there.
    """
    return True if keras.backend.backend() == "tensorflow" else "auto"


ONE_CALL_LAYERS = ("InputLayer", "Dense")  # the layers of the networks whose steps run in one call


def run_steps_in_one_call(model):
    """Give a compiled ``model`` the train function that runs each call's steps in one XLA program; return it.

    Only on JAX and TensorFlow, and for a network of Dense layers only (see above); another is left as it is.
    """
    backend = keras.backend.backend()
    if backend not in ("jax", "tensorflow") or not _dense_only(model):
        return model
    keras_own = type(model).make_train_function
    feed = _Feed()

    def make_train_function(force=False):
        if model.train_function is not None and not force:
            return model.train_function
        if model.steps_per_execution <= 1 or model.run_eagerly or not model.jit_compile:
            return keras_own(model, force=True)  # compiled again since, another way: Keras' own
        build = _jax_train_function if backend == "jax" else _tensorflow_train_function
        model.train_function = build(model, model.steps_per_execution, feed)
        return model.train_function

    model.make_train_function = make_train_function
    model._steps_feed = feed
    return model


class _Feed:
    """The training arrays, on the device, while ``fit`` runs: the train function gathers each batch from them."""

    arrays = None


# What ``fit`` passes on to Keras when it feeds the batches from the device;
# any other option (validation_split, sample_weight, ...) would then apply to
# the images' numbers, not the images, so it leaves the data to Keras.
FED_OPTIONS = {"epochs", "batch_size", "shuffle", "initial_epoch", "validation_data", "callbacks", "verbose"}


def fit(model, images, labels, **options):
    """``model.fit(images, labels, **options)``, with the data on the device for a model given the one-call function.

    Keras' own shuffle still orders the batches: it shuffles the images'
    numbers, ``0`` to ``len(images) - 1``, as it would shuffle the images (one
    permutation of as many from the same generator, drawn at the same moment),
    and the train function gathers each batch's images and labels from the
    device's copy, inside its XLA program. The weights and the History are
    Keras' own, bit for bit (tests/test_training.py). Keras' own way gathers
    every batch on the host: on JAX, 32 gathers and their stacking, 3 to 6 ms
    a call, on the thread that shares the 2 cores with XLA's; on TensorFlow,
    tf.data's threads. Alternating runs of 10 epochs on the 2-core AVX-512
    Xeon (2026-12-03): JAX 0.681 s an epoch against 0.706 s with Keras'
    gathering (medians of 3 runs each); TensorFlow 0.880 s against 0.948 s.
    """
    feed = vars(model).get("_steps_feed")
    if feed is None or not set(options) <= FED_OPTIONS or not getattr(model.make_train_function(), "gathers", False):
        return model.fit(images, labels, **options)
    # Keras builds the loss and metrics from the first batch it draws, which
    # will be numbers: a fit of no epochs on the images builds them as a first
    # fit does, drawing what it draws (one permutation, thrown away).
    model.fit(images, labels, epochs=0, verbose=0,
              **{key: options[key] for key in ("batch_size", "shuffle") if key in options})
    feed.arrays = _on_device(images, labels)
    try:
        numbers, options = _numbers(len(images), options)
        return model.fit(*numbers, **options)
    finally:
        feed.arrays = None  # the device's copy goes with the fit


def _numbers(count, options):
    """What ``fit`` hands Keras: the images' numbers, ``0`` to ``count - 1``, and the options to fit them with.

    On TensorFlow, Keras' fit would put the numbers through the tf.data
    pipeline of its own array adapter, with tf.data's autotuning on. Its model
    thread waits out its optimization period before an iterator can go, and
    Keras lets the last epoch's iterator go as the next epoch starts: about
    one epoch in three then started 0.1 to 0.3 s late, with both cores idle
    (found with perf on the 2-core AVX-512 Xeon, 2026-12-03). So this builds
    the very same pipeline with that adapter, as Keras' fit would, and turns
    the autotuning off; the pipeline only batches numbers, which needs no
    tuning. Keras' shuffle draws the same permutations, and the weights stay
    Keras' own (tests/test_training.py).
    """
    numbers = np.arange(count, dtype=np.int32)
    if keras.backend.backend() != "tensorflow":
        return (numbers,), options
    import tensorflow as tf
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    adapter = ArrayDataAdapter(numbers, batch_size=options.get("batch_size") or 32,
                               shuffle=options.get("shuffle", True))
    untuned = tf.data.Options()
    untuned.autotune.enabled = False
    pipeline = adapter.get_tf_dataset().with_options(untuned)
    pipeline = pipeline.apply(tf.data.experimental.assert_cardinality(adapter.num_batches))
    options = dict(options, shuffle=False)  # the pipeline is shuffled already (Keras warns of a True one)
    if options.get("batch_size"):  # the batches are the pipeline's; the validation's stay the ones asked for
        options["validation_batch_size"] = options["batch_size"]
    options.pop("batch_size", None)
    return (pipeline,), options


def _on_device(images, labels):
    """The training arrays as the backend's own, in as many rows as the next power of two (zeros after the last).

    The programs that gather from them are compiled for their shape: padded,
    training sets of 4,097 to 8,192 images share one program, where each new
    size had cost 1.1 to 1.3 s of compiling on JAX (2026-12-03). Floats are
    cast to Keras' float type, as its data adapter casts them. The device
    reads these very rows (an aligned host array, aliased on JAX, taken over
    through DLPack on TensorFlow), so the padding costs neither a second copy
    nor memory that is never written. (``tf.constant`` copied the full set
    again, 0.5 to 0.6 s of each call.)
    """
    count = len(images)
    rows = 1 << max(count - 1, 0).bit_length()
    arrays = []
    for part in (images, labels):
        part = np.asarray(part)
        dtype = keras.backend.floatx() if np.issubdtype(part.dtype, np.floating) else part.dtype
        padded = _aligned_zeros((rows, *part.shape[1:]), dtype)
        padded[:count] = part
        arrays.append(padded)
    if keras.backend.backend() == "jax":
        import jax

        return tuple(jax.device_put(part, may_alias=True) for part in arrays)
    import tensorflow as tf

    return tuple(tf.experimental.dlpack.from_dlpack(part.__dlpack__()) for part in arrays)


def _aligned_zeros(shape, dtype, alignment=64):
    """A zeroed array whose data starts on an ``alignment``-byte boundary, as XLA needs to use it without a copy."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    memory = np.zeros(size + alignment, np.uint8)
    start = -memory.ctypes.data % alignment
    return memory[start:start + size].view(dtype).reshape(shape)


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


def _jax_train_function(model, count, feed):
    import jax
    import jax.numpy as jnp

    def batch_of(taken, arrays):
        """Keras' batch; or, fed from ``arrays``, the (x, y) that the numbers ``taken`` gather from them."""
        return taken if arrays is None else tuple(jnp.take(part, taken, axis=0, mode="clip") for part in arrays)

    def steps(state, stacked, arrays=None):
        def step(state, taken):
            logs, state = model.train_step(state, batch_of(taken, arrays))
            return state, logs

        state, logs = jax.lax.scan(step, state, stacked)
        return jax.tree.map(lambda values: values[-1], logs), state  # the last step's logs, as Keras returns

    one_step = jax.jit(lambda state, taken, arrays=None: model.train_step(state, batch_of(taken, arrays)),
                       donate_argnums=0)
    all_steps = jax.jit(steps, donate_argnums=0)

    def train_function(state, iterator):
        batches = _take(iterator, count)
        if not batches:
            raise StopIteration
        arrays = feed.arrays
        if arrays is not None:  # each batch is the numbers of its images in ``arrays`` (see ``fit``)
            batches = [jax.tree.leaves(batch)[0] for batch in batches]
        if _alike(batches, count, jax.tree.leaves):
            return all_steps(state, jax.tree.map(lambda *parts: np.stack(parts), *batches), arrays)
        logs = None
        for batch in batches:
            logs, state = one_step(state, batch, arrays)
        return logs, state

    train_function.gathers = True
    return train_function


def _tensorflow_train_function(model, count, feed):
    import tensorflow as tf

    def batch_of(taken, arrays):
        """Keras' batch; or, fed from ``arrays``, the (x, y) that the numbers ``taken`` gather from them."""
        return taken if arrays is None else tuple(tf.gather(part, taken) for part in arrays)

    compiled = functools.partial(tf.function, jit_compile=True, reduce_retracing=True)
    one_step = compiled(lambda taken, arrays=None: model.train_step(batch_of(taken, arrays)))

    @compiled
    def all_steps(stacked, arrays=None):
        def batch(index):
            return batch_of(tf.nest.map_structure(lambda parts: parts[index], stacked), arrays)

        def step(index, logs):
            return index + 1, model.train_step(batch(index))

        return tf.while_loop(lambda index, logs: index < count, step, (tf.constant(1), model.train_step(batch(0))))[1]

    def train_function(iterator):
        batches = _take(iterator, count, (StopIteration, tf.errors.OutOfRangeError))
        if not batches:
            raise StopIteration
        arrays = feed.arrays
        if arrays is not None:  # each batch is the numbers of its images in ``arrays`` (see ``fit``)
            batches = [tf.nest.flatten(batch)[0] for batch in batches]
        if _alike(batches, count, tf.nest.flatten):
            return all_steps(tf.nest.map_structure(lambda *parts: tf.stack(parts), *batches), arrays)
        logs = None
        for batch in batches:
            logs = one_step(batch, arrays)
        return logs

    train_function.gathers = True
    return train_function
