"""Lessons 04 and 05's reference: compiling, seeding and training on a small subset."""

import importlib.util
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from mnist_lessons.backend import import_keras
from mnist_lessons.data import load_mnist
from mnist_lessons.model import build_model
from mnist_lessons.preprocess import one_hot_labels, preprocess_images
from mnist_lessons.training import EpochTimer, compile_model, set_seed, train_model

keras = import_keras()
SUBSET = 3000  # enough to learn well above chance in 2 epochs, in about a second


@pytest.fixture(scope="module")
def subset():
    """The first SUBSET images of the bundled sample, preprocessed, and 1,000 test images."""
    (train_images, train_labels), (test_images, test_labels) = load_mnist("sample")
    return (
        preprocess_images(train_images[:SUBSET]),
        one_hot_labels(train_labels[:SUBSET]),
        preprocess_images(test_images),
        one_hot_labels(test_labels),
    )


def trained(subset, seed, epochs=2):
    train_images, train_labels, test_images, test_labels = subset
    set_seed(seed)
    model = compile_model(build_model())
    history = train_model(model, train_images, train_labels, epochs=epochs, verbose=0)
    return model, history


def test_compile_model_settings():
    """Is the model compiled with RMSprop, categorical cross-entropy and accuracy, as lesson 04 teaches (Keras'
    own loop, one step a call), and returned? And do the tools compile the same, with their steps in one call?"""
    from mnist_lessons import multistep

    model = build_model()
    assert compile_model(model) is model
    assert isinstance(model.optimizer, keras.optimizers.RMSprop)
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.001)
    assert model.loss == "categorical_crossentropy"
    assert model.steps_per_execution == 1 and "make_train_function" not in vars(model)
    fast = multistep.compile_fast(build_model())
    assert fast.loss == model.loss and isinstance(fast.optimizer, keras.optimizers.RMSprop)
    assert fast.steps_per_execution == multistep.STEPS_PER_EXECUTION and "make_train_function" in vars(fast)


TENSORFLOW_XLA = """
import json
from mnist_lessons import build_model, load_mnist, one_hot_labels, preprocess_images, set_seed
from mnist_lessons.multistep import compile_fast, train
(images, labels), _ = load_mnist("sample")
images, labels = preprocess_images(images[:1000]), one_hot_labels(labels[:1000])
losses = []
for _ in range(2):
    set_seed(3)
    model = compile_fast(build_model())
    losses.append(train(model, images, labels, epochs=1, verbose=0).history["loss"])
print(json.dumps({"jit_compile": model.jit_compile, "losses": losses}))
"""


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="TensorFlow is not installed")
def test_tensorflow_trains_with_xla_and_repeats():
    """On TensorFlow, is the step compiled with XLA (Keras' "auto" would not, on a CPU), and does one seed still repeat?"""
    import json

    completed = subprocess.run([sys.executable, "-c", TENSORFLOW_XLA], capture_output=True, text=True, timeout=300,
                               env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["jit_compile"] is True
    first, again = result["losses"]
    assert first == again and 0 < first[0] < 2.3


def test_train_model_learns(subset):
    """Does a 2-epoch run return a 2-entry History whose loss falls and whose test accuracy is far above chance?"""
    model, history = trained(subset, seed=0)
    assert len(history.history["loss"]) == 2
    assert history.history["loss"][1] < history.history["loss"][0]
    _, _, test_images, test_labels = subset
    accuracy = model.evaluate(test_images, test_labels, verbose=0, return_dict=True)["accuracy"]
    assert accuracy > 0.85  # chance is 0.10; the reference reaches about 0.90 here


def test_same_seed_same_result(subset):
    """Do two runs with the same seed give the same losses, and another seed different ones?"""
    _, first = trained(subset, seed=1, epochs=1)
    _, again = trained(subset, seed=1, epochs=1)
    _, other = trained(subset, seed=2, epochs=1)
    assert first.history["loss"] == again.history["loss"]
    assert first.history["loss"] != other.history["loss"]


def draw_after(seeding, seed):
    """Seed with ``seeding``, then draw what a seed decides: initial weights, an unseeded keras.random value, Python's and NumPy's next numbers."""
    seeding(seed)
    weights = [np.array(w) for w in build_model().get_weights()]
    return weights, keras.ops.convert_to_numpy(keras.random.normal((4,))), random.random(), np.random.rand()


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="on TensorFlow set_seed is Keras' own function")
def test_set_seed_matches_keras(monkeypatch):
    """Without TensorFlow loaded, does set_seed leave the same random state as keras.utils.set_random_seed?"""
    from keras.src.utils.rng_utils import get_random_seed

    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)  # as in a fresh lesson kernel
    keras.random.normal((1,))  # a global SeedGenerator already made: set_seed must replace it
    ours = draw_after(set_seed, 7)
    assert get_random_seed() == 7
    theirs = draw_after(keras.utils.set_random_seed, 7)
    other = draw_after(set_seed, 8)
    for first, second in zip(ours[0], theirs[0]):
        np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert ours[2:] == theirs[2:]
    assert not np.array_equal(ours[0][0], other[0][0]) and ours[2:] != other[2:]


def test_set_seed_refuses_a_non_integer():
    """Is a seed that is not an int refused, as Keras refuses it?"""
    with pytest.raises(ValueError, match="integer"):
        set_seed(1.5)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs JAX")
def test_set_seed_leaves_tensorflow_unloaded_on_jax():
    """In a fresh process on JAX, do import, build_model and set_seed run without importing TensorFlow?"""
    code = (
        "import sys\n"
        "import mnist_lessons as ml\n"
        "ml.build_model()\n"
        "ml.set_seed(0)\n"
        "import keras\n"
        "print(keras.backend.backend(), 'tensorflow' in sys.modules)\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["jax", "False"]


def test_epoch_timer_records_each_epoch(subset):
    """Does EpochTimer hold one positive duration per epoch?"""
    train_images, train_labels, _, _ = subset
    timer = EpochTimer()
    model = compile_model(build_model())
    train_model(model, train_images[:256], train_labels[:256], epochs=3, callbacks=[timer], verbose=0)
    assert len(timer.seconds) == 3 and all(s > 0 for s in timer.seconds)


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (np.zeros((4, 28, 28), np.uint8), np.eye(10)[:4], "did you call preprocess_images"),
        (np.zeros((4, 784), np.float32), np.arange(4), "did you call one_hot_labels"),
        (np.zeros((4, 784), np.float32), np.eye(10)[:3], "4 images but 3 labels"),
    ],
)
def test_train_model_explains_wrong_inputs(images, labels, message):
    """Do raw images, integer labels or unequal counts fail with a hint instead of Keras' shape error?"""
    model = compile_model(build_model())
    with pytest.raises(ValueError, match=message):
        train_model(model, images, labels, epochs=1)


def test_train_model_needs_compiled_model():
    """Is an uncompiled model reported in plain words?"""
    with pytest.raises(ValueError, match="compile_model"):
        train_model(build_model(), np.zeros((2, 784), np.float32), np.eye(10)[:2], epochs=1)


@pytest.mark.parametrize("epochs, batch_size", [(0, 128), (1, 0), (1.5, 128), (True, 128)])
def test_train_model_rejects_bad_counts(epochs, batch_size):
    """Are epochs and batch sizes that are not whole numbers of at least 1 refused?"""
    model = compile_model(build_model())
    with pytest.raises(ValueError, match="whole number"):
        train_model(model, np.zeros((2, 784), np.float32), np.eye(10)[:2], epochs=epochs, batch_size=batch_size)


# The same run three times: through the tools' compile_fast (whose calls run 32 steps in one XLA program,
# multistep.py) and train (which hands Keras the images' numbers and gathers each batch on the device); through
# compile_fast and model.fit, as a learner's own train_model calls it (Keras gathers the batches); and through
# Keras' own loop, the model compiled with the very same settings. 6,000 images are 47 batches: a group of 32 in
# one program, then 15 one by one, the last of them smaller. The validation images and a History callback see
# what they see in Keras' own loop too.
SAME_AS_KERAS = """
import json, sys
import numpy as np
from mnist_lessons import build_model, load_mnist, one_hot_labels, preprocess_images, set_seed
from mnist_lessons import multistep, training
import keras
(images, labels), _ = load_mnist("sample")
images, labels = preprocess_images(images[:6000]), one_hot_labels(labels[:6000])
grouped = []
alike = multistep._alike
def recorded(batches, count, flatten):  # whether the batches ran as one group, and what a batch was: 1 for numbers
    grouped.append([alike(batches, count, flatten), len(np.shape(flatten(batches[0])[0]))])
    return grouped[-1][0]
multistep._alike = recorded
runs = {}
for way in ("train", "model.fit", "keras"):
    set_seed(5)
    model = build_model()
    if way == "keras":
        model.compile(optimizer=keras.optimizers.RMSprop(), loss=training.LOSS, metrics=training.METRICS,
                      jit_compile=multistep._jit_compile(), steps_per_execution=multistep.STEPS_PER_EXECUTION)
    else:
        multistep.compile_fast(model)
    options = dict(epochs=2, verbose=0, validation_data=(images[:500], labels[:500]))
    if way == "model.fit":
        history = model.fit(images, labels, batch_size=128, **options).history
    else:
        history = multistep.train(model, images, labels, **options).history
    runs[way] = {"weights": [w.tolist() for w in model.get_weights()], "history": history,
                 "function": getattr(model.train_function, "__qualname__", ""), "after": np.random.random(),
                 "fed": getattr(vars(model).get("_steps_feed"), "arrays", "none")}
model.compile(optimizer="rmsprop", loss="categorical_crossentropy")  # a learner's own compile, one step a call
multistep.run_steps_in_one_call(model)
multistep.train(model, images[:300], labels[:300], epochs=1, verbose=0)
print(json.dumps({"runs": runs, "grouped": grouped,
                  "recompiled": getattr(model.train_function, "__qualname__", "")}))
"""


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_steps_in_one_call_train_exactly_as_keras(backend):
    """Do compile_fast's 32 steps in one XLA program, fed by train from the device or by Keras' own batches,
    give, bit for bit, Keras' own weights and History, and leave NumPy's generator where Keras leaves it? And does
    a model compiled again with one step a call train with Keras' own function?"""
    import json

    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    completed = subprocess.run([sys.executable, "-c", SAME_AS_KERAS], capture_output=True, text=True, timeout=600,
                               env={**os.environ, "KERAS_BACKEND": backend})
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "UserWarning" not in completed.stderr, completed.stderr[-3000:]  # as Keras' shuffle=True on a tf.data input
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    runs, theirs = result["runs"], result["runs"]["keras"]
    assert "_train_function" not in theirs["function"] and theirs["fed"] == "none"
    # Each epoch of our two runs: a group of 32 batches, then the epoch's rest one by one. train's batches were
    # the images' numbers (gathered on the device), model.fit's the images themselves.
    assert result["grouped"] == [[True, 1], [False, 1]] * 2 + [[True, 2], [False, 2]] * 2
    for way in ("train", "model.fit"):
        ours = runs[way]
        assert "_train_function" in ours["function"], way
        assert ours["fed"] is None, way  # the device's copy of the images is let go after fit
        assert ours["history"] == theirs["history"], way
        assert ours["weights"] == theirs["weights"], way
        assert ours["after"] == theirs["after"], way
    assert sorted(theirs["history"]) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert "_train_function" not in result["recompiled"]


TENSORFLOW_NUMBERS = """
import json
import numpy as np
from mnist_lessons import multistep
(pipeline,), options = multistep._numbers(1000, {"epochs": 2, "batch_size": 128, "shuffle": True, "verbose": 0})
batches = [np.asarray(batch[0] if isinstance(batch, tuple) else batch).tolist() for batch in pipeline]
print(json.dumps({"autotune": pipeline.options().autotune.enabled, "cardinality": int(pipeline.cardinality()),
                  "batches": batches, "options": options}))
"""


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="TensorFlow is not installed")
def test_train_model_batches_the_numbers_on_tensorflow_without_tf_data_autotuning():
    """On TensorFlow, does train_model hand Keras a pipeline of the images' numbers, shuffled and batched as asked, of
    known length, with tf.data's autotuning off (its model thread made one epoch in three start up to 0.3 s late)?
    And do the validation batches keep the batch size that the pipeline now carries?"""
    import json

    completed = subprocess.run([sys.executable, "-c", TENSORFLOW_NUMBERS], capture_output=True, text=True,
                               timeout=300, env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["autotune"] is False
    assert result["cardinality"] == 8 and [len(batch) for batch in result["batches"]] == [128] * 7 + [104]
    numbers = [number for batch in result["batches"] for number in batch]
    assert sorted(numbers) == list(range(1000)) and numbers != list(range(1000))
    assert result["options"] == {"epochs": 2, "verbose": 0, "shuffle": False, "validation_batch_size": 128}


def test_train_model_hands_keras_the_numbers_as_an_array_on_jax():
    """Elsewhere than on TensorFlow, are the numbers an array of 0 to count - 1, for Keras to shuffle and batch, and
    the options left as they were?"""
    from mnist_lessons import multistep

    if keras.backend.backend() == "tensorflow":
        pytest.skip("the tensorflow test above covers this backend")
    options = {"epochs": 2, "batch_size": 128, "shuffle": True}
    (numbers,), passed = multistep._numbers(1000, options)
    assert np.array_equal(numbers, np.arange(1000)) and passed == options


def test_only_dense_networks_run_their_steps_in_one_call():
    """Does compile_fast give the one-call train function to lesson 03's network, and not to LeNet-5 (slower so,
    and its Dropout would draw other masks)?"""
    from mnist_lessons.cnn import build_cnn
    from mnist_lessons.multistep import compile_fast

    dense, lenet = compile_fast(build_model()), compile_fast(build_cnn())
    assert "make_train_function" in vars(dense)
    assert "make_train_function" not in vars(lenet)


def test_train_model_pads_the_training_set_on_the_device_to_a_power_of_two():
    """Does train_model's copy on the device hold the images and labels, Keras' float type, in as many rows as the
    next power of two (so that 6,000 and 7,000 images share one compiled program), the padding zeros? And on JAX,
    does the device use an aligned host array as it is, without a copy?"""
    from mnist_lessons import multistep

    images = np.random.default_rng(0).random((6000, 784))  # float64, as a learner's own arrays may be
    labels = np.eye(10, dtype=np.float32)[np.arange(6000) % 10]
    on_device = multistep._on_device(images, labels)
    padded_images, padded_labels = (np.asarray(part) for part in on_device)
    assert padded_images.shape == (8192, 784) and padded_labels.shape == (8192, 10)
    assert padded_images.dtype == np.float32 and padded_labels.dtype == np.float32
    assert np.array_equal(padded_images[:6000], images.astype(np.float32))
    assert np.array_equal(padded_labels[:6000], labels)
    assert not padded_images[6000:].any() and not padded_labels[6000:].any()
    assert [len(multistep._on_device(images[:count], labels[:count])[0]) for count in (1, 128, 129, 4096, 4097)] == [
        1, 128, 256, 4096, 8192]


ON_DEVICE_ALIASED = """
import json
import numpy as np
from mnist_lessons import multistep
made, aligned_zeros = [], multistep._aligned_zeros
multistep._aligned_zeros = lambda *args: made.append(aligned_zeros(*args)) or made[-1]
images, labels = np.zeros((100, 784), np.float32), np.zeros((100, 10), np.float32)
on_device = multistep._on_device(images, labels)
for host in made:
    host[0, 0] = 42
print(json.dumps({"aligned": [host.ctypes.data % 64 for host in made],
                  "seen": [float(np.asarray(part)[0, 0]) for part in on_device]}))
"""


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_train_model_device_copy_is_the_padded_host_array_itself(backend):
    """Does the device read the padded, aligned host arrays that _on_device fills, rather than a second copy of
    the training set (on TensorFlow, tf.constant's copy cost 0.5 to 0.6 s of a full-set call)?"""
    import json

    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    completed = subprocess.run([sys.executable, "-c", ON_DEVICE_ALIASED], capture_output=True, text=True, timeout=300,
                               env={**os.environ, "KERAS_BACKEND": backend})
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result == {"aligned": [0, 0], "seen": [42.0, 42.0]}
