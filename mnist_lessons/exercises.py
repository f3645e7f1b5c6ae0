"""The course's graded exercises, each declared once: everything else that names them derives from here (every lesson).

One record per exercise, as Kaggle's learntools declares a problem: the
function the learner writes and the lesson it is in; what its locked check cell
is worth; the package's own answers to it (``answer_key``, the first of them
the one grading calls); its three tiers of help (the idea, the API to use, a
solution, which a test holds equal to the solution cell of ``solutions/``); and
the typical mistakes learners make, each with the words its verdict must hold.

What derives from it: the notebooks' grade ids and points (a test holds
``solutions/`` and ``course/`` to the records), ``checks.hint`` and
``checks.solution``, ``pytest autograder/``'s one test per exercise, nbgrader's
door, the compile cache's warm-up (``compiles``), the trained network grading
hands the lesson 06 checks (``trained_network``), the class report's and the
LMS export's columns, and the tests' tables of references and wrong answers.

What each call must satisfy, and the visible and hidden inputs it is called
on, are the exercise's check, ``mnist_lessons.checks.check_<name>``: code, as
they compare arrays and networks. Grading runs it once on the course's answer,
and writes down each call it makes as data (``grading/cases.py``): those are the
cases the sandbox calls the learner's function on.

Adding an exercise: its record here, its answer in the package, its check,
and its notebook cells (a solution cell with ``grade_id`` = the name, a check
cell with ``check_<name>``).
"""

import dataclasses
import importlib


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A wrong answer learners typically write, as a solution cell holds it, and what its verdict must say."""

    what: str  # the mistake in a few words: the test's id
    says: str  # words the check's verdict must hold: what points the learner to the fix
    source: str  # the solution cell, using what a lesson's cells have: np, keras, Image, MNIST_PATH


@dataclasses.dataclass(frozen=True)
class Exercise:
    name: str  # the function the learner writes, and its solution cell's grade_id
    lesson: str  # the notebook it is in, without .ipynb
    points: int  # what its check cell is worth in nbgrader
    answer_key: tuple  # the package's own answers to it, as "module:attribute" in mnist_lessons; grading calls the first
    idea: str  # hint 1: what to do, in words, with no API named
    api: str  # hint 2: the functions or methods that do it
    solution: str  # hint 3: the solution cell of solutions/, without its nbgrader markers (a test holds them equal)
    mistakes: tuple  # Mistake, at least one: each must fail its check with its words, in the kernel and in-process
    # Its check builds, compiles, trains or runs a Keras network: the compile cache warms it up, and grading replays
    # it in the process apart (grading/apart.py), never in the grader's own.
    compiles: bool = False
    trained_network: bool = False  # its check calls the function on the checks' briefly trained network

    @property
    def check_id(self):
        """The grade_id of its locked check cell."""
        return f"check_{self.name}"

    @property
    def check(self):
        """Its check, ``mnist_lessons.checks.check_<name>(fn, hidden=False)``."""
        return getattr(importlib.import_module("mnist_lessons.checks"), self.check_id)

    def answer(self):
        """The course's own answer: the function grading calls in the learner's place to find the cases."""
        module, attribute = self.answer_key[0].split(":")
        return getattr(importlib.import_module(f"mnist_lessons.{module}"), attribute)


# Lesson 08's solution, which its typical mistakes vary.
LENET = '''def build_cnn():
    """Return a new, uncompiled LeNet-5: 784 pixels -> 28 x 28 -> two convolutions and poolings -> three Dense layers."""
    return keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Reshape((28, 28, 1)),
        keras.layers.Conv2D(6, 5, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(16, 5, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(120, activation="relu"),
        keras.layers.Dense(84, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])'''

EXERCISES = (

    # ---------------------------------------------------------------- 01_load_data

    Exercise(
        "load_data", "01_load_data", points=2, answer_key=("data:load_mnist", "data:load_mnist_data"),
        idea="An `.npz` file holds named NumPy arrays. Open it, take out the four arrays by their names "
            "(`x_train`, `y_train`, `x_test`, `y_test`) and group them in two pairs: training first, then test.",
        api="`with np.load(path, allow_pickle=False) as archive:` opens the file and closes it again when you "
            "are done; inside, `archive[\"x_train\"]` is one array.",
        solution='''def load_data(path=MNIST_PATH):
    """Read MNIST from a Keras-layout .npz file: ((train_images, train_labels), (test_images, test_labels))."""
    with np.load(path, allow_pickle=False) as archive:
        train = (archive["x_train"], archive["y_train"])
        test = (archive["x_test"], archive["y_test"])
    return train, test''',
        mistakes=(
            Mistake("pairs in the wrong order",
                    says="the training and test pairs are swapped",
                    source='''def load_data(path=MNIST_PATH):
    with np.load(path, allow_pickle=False) as archive:
        return (archive["x_test"], archive["y_test"]), (archive["x_train"], archive["y_train"])'''),
        ),
    ),
    Exercise(
        "describe_dataset", "01_load_data", points=2, answer_key=("data:describe_dataset",),
        idea="Every value in the dict is a property of the two arrays: how many images there are, the shape "
            "of one of them, the pixels' type, the smallest and largest pixel, and how often each label occurs.",
        api="`len(images)`, `images.shape[1:]`, `images.dtype.name`, `int(images.min())`, `int(images.max())`; "
            "`np.unique(labels, return_counts=True)` gives each digit and its count, to zip into a dict.",
        solution='''def describe_dataset(images, labels):
    """Summarize a set of images and labels: count, image shape, dtype, pixel range and images per digit."""
    digits, counts = np.unique(labels, return_counts=True)
    return {
        "num_images": len(images),
        "image_shape": tuple(images.shape[1:]),
        "dtype": images.dtype.name,
        "pixel_min": int(images.min()),
        "pixel_max": int(images.max()),
        "class_counts": {int(digit): int(count) for digit, count in zip(digits, counts)},
    }''',
        mistakes=(
            Mistake("the whole array's shape for one image's",
                    says="images.shape[1:]",
                    source='''def describe_dataset(images, labels):
    digits, counts = np.unique(labels, return_counts=True)
    return {"num_images": len(images), "image_shape": images.shape, "dtype": images.dtype.name,
            "pixel_min": int(images.min()), "pixel_max": int(images.max()),
            "class_counts": dict(zip(digits.tolist(), counts.tolist()))}'''),
            Mistake("most of the description left out",
                    says="has no key 'image_shape'",
                    source='''def describe_dataset(images, labels):
    return {"num_images": len(images)}'''),
        ),
    ),

    # ---------------------------------------------------------------- 02_preprocess

    Exercise(
        "preprocess_images", "02_preprocess", points=2, answer_key=("preprocess:preprocess_images",),
        idea="Two steps, each giving a new array: flatten each 28×28 grid into one row of 784 numbers, one row "
            "per image; then turn the whole numbers 0-255 into floats from 0 to 1 by dividing by 255.",
        api="`images.reshape(len(images), 784)` flattens; `.astype(\"float32\")` converts; then divide by 255. "
            "Each gives a new array, so the one you were given stays unchanged.",
        solution='''def preprocess_images(images):
    """Flatten (N, 28, 28) uint8 images to (N, 784) float32 values scaled to [0, 1]."""
    return images.reshape(len(images), -1).astype("float32") / 255.0''',
        mistakes=(
            Mistake("scaled but not flattened",
                    says="did you flatten each image?",
                    source='''def preprocess_images(images):
    return images.astype("float32") / 255'''),
        ),
    ),
    Exercise(
        "one_hot_labels", "02_preprocess", points=2, answer_key=("preprocess:one_hot_labels",),
        idea="Start from zeros, one row per label and one column per class, and put a single 1 in each row, "
            "in the column its label names. Keep the array float32.",
        api="`np.zeros((len(labels), num_classes), dtype=\"float32\")`, then "
            "`array[np.arange(len(labels)), labels] = 1` sets one cell in each row. "
            "`keras.utils.to_categorical(labels, num_classes)` does it too; then `.astype(\"float32\")`.",
        solution='''def one_hot_labels(labels, num_classes=10):
    """Encode integer labels (N,) as one-hot rows (N, num_classes) of float32."""
    labels = np.asarray(labels)
    one_hot = np.zeros((len(labels), num_classes), dtype="float32")
    one_hot[np.arange(len(labels)), labels] = 1.0
    return one_hot''',
        mistakes=(
            Mistake("NumPy's float64 for float32",
                    says="dtype float64, but the check expected float32",
                    source='''def one_hot_labels(labels, num_classes=10):
    return np.eye(num_classes)[labels]  # float64, NumPy's default'''),
            Mistake("the labels as floats, not one-hot rows",
                    says="each label must become a row of num_classes values",
                    source='''def one_hot_labels(labels, num_classes=10):
    return np.asarray(labels, dtype="float32")'''),
        ),
    ),

    # ---------------------------------------------------------------- 03_build_model

    Exercise(
        "build_model", "03_build_model", points=3, answer_key=("model:build_model",),
        compiles=True,
        idea="Two fully connected layers in a row: a hidden one of 512 units with relu, then an output of 10 "
            "units with softmax, one probability per digit. The model must know that it takes 784 numbers in. "
            "Build it; don't compile it.",
        api="`keras.Sequential([...])` stacks layers in order: `keras.Input(shape=(784,))`, then "
            "`keras.layers.Dense(512, activation=\"relu\")`, then `keras.layers.Dense(10, activation=\"softmax\")`.",
        solution='''def build_model():
    """Return a new, uncompiled network: 784 inputs -> Dense(512, relu) -> Dense(10, softmax)."""
    return keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])''',
        mistakes=(
            Mistake("sigmoid for softmax",
                    says="softmax turns the 10 scores into probabilities",
                    source='''def build_model():
    return keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(512, activation="relu"),
                             keras.layers.Dense(10, activation="sigmoid")])'''),
            Mistake("256 hidden units for 512",
                    says="The hidden Dense layer has 256 units, but the check expected 512",
                    source='''def build_model():
    return keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(256, activation="relu"),
                             keras.layers.Dense(10, activation="softmax")])'''),
        ),
    ),

    # ---------------------------------------------------------------- 04_compile

    Exercise(
        "compile_model", "04_compile", points=3, answer_key=("training:compile_model",),
        compiles=True,
        idea="Compiling tells the model how it will learn: the optimizer that changes the weights (RMSprop), the "
            "loss it lowers (categorical cross-entropy, as the labels are one-hot rows) and what to report "
            "(accuracy). Then give back the same model.",
        api="`model.compile(optimizer=\"rmsprop\", loss=\"categorical_crossentropy\", metrics=[\"accuracy\"])`, "
            "then `return model`.",
        solution='''def compile_model(model):
    """Compile the model with RMSprop, categorical cross-entropy and accuracy; return it."""
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model''',
        mistakes=(
            Mistake("the sparse loss",
                    says="takes whole-number labels, but our labels are one-hot rows",
                    source='''def compile_model(model):
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model'''),
            Mistake("a misspelt loss",
                    says="Keras knows no loss named 'categorical_cross_entropy'",
                    source='''def compile_model(model):
    model.compile(optimizer="rmsprop", loss="categorical_cross_entropy", metrics=["accuracy"])
    return model'''),
            Mistake("Adam for RMSprop",
                    says="optimizer='rmsprop'",
                    source='''def compile_model(model):
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model'''),
        ),
    ),

    # ---------------------------------------------------------------- 05_train

    Exercise(
        "train_model", "05_train", points=4, answer_key=("training:train_model",),
        compiles=True,
        idea="Training is one call on the model you were given: the images and their one-hot labels, "
            "`epochs` passes, `batch_size` images per update. Return what that call gives back, the History.",
        api="`model.fit(train_images, train_labels, epochs=epochs, batch_size=batch_size)` returns the History; "
            "`verbose=0` keeps its progress bar out of the notebook.",
        solution='''def train_model(model, train_images, train_labels, epochs=10, batch_size=128):
    """Train the compiled model for `epochs` passes in batches of `batch_size`; return the History."""
    return model.fit(train_images, train_labels, epochs=epochs, batch_size=batch_size, verbose=0)''',
        mistakes=(
            Mistake("batch_size not passed on",
                    says="Keras' default is 32",
                    source='''def train_model(model, train_images, train_labels, epochs=10, batch_size=128):
    return model.fit(train_images, train_labels, epochs=epochs, verbose=0)  # batch_size forgotten'''),
            Mistake("the History not returned",
                    says="did you forget `return model.fit(...)`?",
                    source='''def train_model(model, train_images, train_labels, epochs=10, batch_size=128):
    model.fit(train_images, train_labels, epochs=epochs, batch_size=batch_size, verbose=0)'''),
        ),
    ),

    # ---------------------------------------------------------------- 06_evaluate

    Exercise(
        "evaluate_model", "06_evaluate", points=2, answer_key=("evaluate:evaluate_model",),
        compiles=True, trained_network=True,
        idea="Ask the model how it does on images it never trained on: its loss and its accuracy there, "
            "returned as two plain numbers, loss first.",
        api="`model.evaluate(test_images, test_labels, verbose=0)` returns `[loss, accuracy]`; `float(...)` "
            "makes each a plain number. `verbose=0` keeps its progress bar out of the notebook.",
        solution='''def evaluate_model(model, test_images, test_labels):
    """Return the model's (loss, accuracy) on the test images and their one-hot labels."""
    loss, accuracy = model.evaluate(test_images, test_labels, verbose=0)
    return float(loss), float(accuracy)''',
        mistakes=(
            Mistake("accuracy and loss swapped",
                    says="the order is swapped",
                    source='''def evaluate_model(model, test_images, test_labels):
    loss, accuracy = model.evaluate(test_images, test_labels, verbose=0)
    return accuracy, loss'''),
        ),
    ),
    Exercise(
        "predict_labels", "06_evaluate", points=2, answer_key=("evaluate:predict_labels",),
        compiles=True, trained_network=True,
        idea="The model gives each image 10 probabilities, one per digit. Its predicted label is the digit "
            "with the largest probability, taken image by image: one label per image.",
        api="`model.predict(images, verbose=0)` gives an (N, 10) array; `np.argmax(probabilities, axis=1)` "
            "takes the largest along each row. Without `axis=1`, argmax gives one number for the whole array.",
        solution='''def predict_labels(model, images):
    """Return the most probable digit of each image: an int array of shape (N,)."""
    probabilities = model.predict(images, verbose=0)
    return np.argmax(probabilities, axis=1)''',
        mistakes=(
            Mistake("argmax without an axis",
                    says="argmax(axis=1)",
                    source='''def predict_labels(model, images):
    return np.argmax(model.predict(images, verbose=0))  # no axis: one number for all the images'''),
            Mistake("the probabilities, not the labels",
                    says="it looks like the probabilities",
                    source='''def predict_labels(model, images):
    return model.predict(images, verbose=0)'''),
        ),
    ),
    Exercise(
        "compare_labels", "06_evaluate", points=1, answer_key=("evaluate:compare_labels",),
        idea="Go through the first n predicted and actual labels side by side and make a pair of each, "
            "predicted first, as plain whole numbers.",
        api="`zip(predicted[:n], actual[:n])` pairs the two sequences; `int(...)` turns a NumPy number into a "
            "plain one; a list comprehension builds the list.",
        solution='''def compare_labels(predicted, actual, n=10):
    """Pair the first n predicted and actual labels: a list of (predicted, actual) ints."""
    return [(int(p), int(a)) for p, a in zip(predicted[:n], actual[:n])]''',
        mistakes=(
            Mistake("pairs swapped",
                    says="predicted first",
                    source='''def compare_labels(predicted, actual, n=10):
    return [(int(a), int(p)) for p, a in zip(predicted[:n], actual[:n])]'''),
        ),
    ),
    Exercise(
        "confusion_matrix", "06_evaluate", points=2, answer_key=("evaluate:confusion_matrix",),
        idea="Start from a num_classes × num_classes table of zeros. For every image, add 1 to the cell in the "
            "row of its actual digit and the column of its predicted digit. A pair that occurs several times "
            "counts each time.",
        api="`np.zeros((num_classes, num_classes), dtype=int)`, then `for a, p in zip(actual, predicted):` adding "
            "1 to `matrix[a, p]`, or `np.add.at(matrix, (actual, predicted), 1)` in one step. Not "
            "`matrix[actual, predicted] += 1`: with arrays as indices, a repeated pair counts once.",
        solution='''def confusion_matrix(actual, predicted, num_classes=10):
    """Count each (actual, predicted) pair: a (num_classes, num_classes) int array, a row per actual digit."""
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(matrix, (np.asarray(actual), np.asarray(predicted)), 1)
    return matrix''',
        mistakes=(
            Mistake("a repeated pair counted once",
                    says="np.add.at(matrix, (actual, predicted), 1)",
                    source='''def confusion_matrix(actual, predicted, num_classes=10):
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    matrix[actual, predicted] += 1  # fancy indexing: a repeated pair is counted once
    return matrix'''),
            Mistake("a row per predicted digit",
                    says="rows and columns are swapped: row = actual digit, column = predicted digit",
                    source='''def confusion_matrix(actual, predicted, num_classes=10):
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(matrix, (np.asarray(predicted), np.asarray(actual)), 1)
    return matrix'''),
        ),
    ),

    # ---------------------------------------------------------------- 07_draw_your_digit

    Exercise(
        "centre_digit", "07_draw_your_digit", points=3, answer_key=("drawing:centre_digit", "drawing:prepare_digit"),
        idea="Three steps, as MNIST's makers did: cut the picture down to the box around its ink; shrink that box, "
            "keeping its proportions, until its longer side is 20 pixels; put it in an empty 28 x 28 grid and move it "
            "until its centre of mass (the average position of its ink, weighted by how dark it is) is at row 14, "
            "column 14.",
        api="`np.nonzero(ink >= 0.1 * ink.max())` gives the rows and columns of the ink; "
            "`Image.fromarray(box).resize((width, height), Image.Resampling.LANCZOS)` scales a float32 array with "
            "anti-aliasing (`np.asarray` turns it back); the centre of mass's row is "
            "`(digit.sum(axis=1) * np.arange(28)).sum() / digit.sum()`; `np.roll(digit, (down, right), axis=(0, 1))` "
            "moves it by whole pixels.",
        solution='''def centre_digit(ink):
    """Make ink levels (2-D, in [0, 1]) into a 28 x 28 digit as MNIST's: its box scaled into 20 x 20, centred by mass."""
    rows, columns = np.nonzero(ink >= 0.1 * ink.max())
    box = ink[rows.min():rows.max() + 1, columns.min():columns.max() + 1].astype("float32")
    scale = 20 / max(box.shape)
    height, width = max(1, round(box.shape[0] * scale)), max(1, round(box.shape[1] * scale))
    small = np.asarray(Image.fromarray(box).resize((width, height), Image.Resampling.LANCZOS))
    digit = np.zeros((28, 28), dtype="float32")
    top, left = (28 - height) // 2, (28 - width) // 2
    digit[top:top + height, left:left + width] = np.clip(small, 0, 1)
    positions = np.arange(28)
    row = (digit.sum(axis=1) * positions).sum() / digit.sum()
    column = (digit.sum(axis=0) * positions).sum() / digit.sum()
    return np.roll(digit, (round(14 - row), round(14 - column)), axis=(0, 1))''',
        mistakes=(
            Mistake("centred by its box",
                    says="where MNIST's digits have theirs",
                    source='''def centre_digit(ink):
    rows, columns = np.nonzero(ink >= 0.1 * ink.max())
    box = ink[rows.min():rows.max() + 1, columns.min():columns.max() + 1].astype("float32")
    scale = 20 / max(box.shape)
    height, width = max(1, round(box.shape[0] * scale)), max(1, round(box.shape[1] * scale))
    digit = np.zeros((28, 28), dtype="float32")
    top, left = (28 - height) // 2, (28 - width) // 2
    digit[top:top + height, left:left + width] = np.clip(np.asarray(Image.fromarray(box).resize((width, height))), 0, 1)
    return digit  # centred by its box, not by its mass'''),
            Mistake("a small drawing never scaled up",
                    says="A drawing smaller than 20 pixels is scaled up",
                    source='''def centre_digit(ink):
    rows, columns = np.nonzero(ink >= 0.1 * ink.max())
    picture = Image.fromarray(ink[rows.min():rows.max() + 1, columns.min():columns.max() + 1].astype("float32"))
    picture.thumbnail((20, 20), Image.Resampling.LANCZOS)
    small = np.clip(np.asarray(picture), 0, 1)
    digit = np.zeros((28, 28), dtype="float32")
    top, left = (28 - small.shape[0]) // 2, (28 - small.shape[1]) // 2
    digit[top:top + small.shape[0], left:left + small.shape[1]] = small
    positions = np.arange(28)
    row = (digit.sum(axis=1) * positions).sum() / digit.sum()
    column = (digit.sum(axis=0) * positions).sum() / digit.sum()
    return np.roll(digit, (round(14 - row), round(14 - column)), axis=(0, 1))'''),
            Mistake("stretched to 20 x 20 and centred by its box",
                    says="shift the digit by the difference",
                    source='''def centre_digit(ink):
    rows, columns = np.nonzero(ink >= 0.1 * ink.max())
    box = ink[rows.min():rows.max() + 1, columns.min():columns.max() + 1].astype("float32")
    digit = np.zeros((28, 28), dtype="float32")
    digit[4:24, 4:24] = np.clip(np.asarray(Image.fromarray(box).resize((20, 20))), 0, 1)
    return digit'''),
        ),
    ),

    # ---------------------------------------------------------------- 08_convnet

    Exercise(
        "build_cnn", "08_convnet", points=3, answer_key=("cnn:build_cnn",),
        compiles=True,
        idea="Start as lesson 03 did, from 784 pixels, and put them back into their 28 x 28 grid of one channel. "
            "Then two rounds of a convolution (relu) followed by a pooling that halves the grid; then flatten what is "
            "left into one row, drop half of it at random while training, and finish with three Dense layers, the last of them 10 softmax units. Build it; "
            "don't compile it.",
        api="`keras.Sequential([...])` with `keras.Input(shape=(784,))`, `keras.layers.Reshape((28, 28, 1))`, "
            "`keras.layers.Conv2D(6, 5, padding=\"same\", activation=\"relu\")`, `keras.layers.MaxPooling2D(2)`, "
            "`keras.layers.Conv2D(16, 5, activation=\"relu\")`, `keras.layers.MaxPooling2D(2)`, "
            "`keras.layers.Flatten()`, `keras.layers.Dropout(0.5)`, then `keras.layers.Dense(120, activation=\"relu\")`, "
            "`keras.layers.Dense(84, activation=\"relu\")` and `keras.layers.Dense(10, activation=\"softmax\")`.",
        solution=LENET,
        mistakes=(
            Mistake("28 x 28 images in",
                    says="Reshape((28, 28, 1))",
                    source=LENET.replace('keras.Input(shape=(784,)),\n        keras.layers.Reshape((28, 28, 1)),',
                                         'keras.Input(shape=(28, 28, 1)),')),
            Mistake("no Flatten",
                    says="keras.layers.Flatten()",
                    source=LENET.replace("\n        keras.layers.Flatten(),", "")),
            Mistake("no activations",
                    says="without it, the layers together only compute one linear function of the pixels",
                    source=LENET.replace(', activation="relu"', "")),
        ),
    ),
)

BY_NAME = {exercise.name: exercise for exercise in EXERCISES}

# Lesson -> the names of its exercises, in notebook order.
LESSONS = {}
for _exercise in EXERCISES:
    LESSONS.setdefault(_exercise.lesson, ())
    LESSONS[_exercise.lesson] += (_exercise.name,)
del _exercise

COMPILING = tuple(exercise.name for exercise in EXERCISES if exercise.compiles)  # what the compile cache warms up
ON_TRAINED_NETWORK = tuple(exercise.name for exercise in EXERCISES if exercise.trained_network)


def exercises_of(lesson):
    """The exercises of one lesson, in notebook order."""
    return [BY_NAME[name] for name in LESSONS[lesson]]
