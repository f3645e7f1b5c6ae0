"""The course's graded exercises, in one place: everything else that names them is derived from here (every lesson).

Each exercise is a function the learner writes in a lesson notebook. Its
solution cell's nbgrader ``grade_id`` is the function's name, its locked check
cell's is ``check_<name>`` and carries ``points``; ``mnist_lessons.checks``
has ``check_<name>``; ``answer_key`` names the package's own answers to it,
which graded code may not call; ``hints`` are its three tiers of help on
request (``mnist_lessons.hints``). A test holds the notebooks to this table.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Exercise:
    name: str  # the function the learner writes, and its solution cell's grade_id
    lesson: str  # the notebook it is in, without .ipynb
    points: int  # what its check cell is worth in nbgrader
    answer_key: tuple  # the package's own answers to it, as "module:attribute" in mnist_lessons

    @property
    def check_id(self):
        """The grade_id of its locked check cell."""
        return f"check_{self.name}"

    @property
    def hints(self):
        """Its tiers of help, shown one at a time on request: the idea, the API to use, a solution."""
        return HINTS[self.name]


@dataclasses.dataclass(frozen=True)
class Hints:
    idea: str  # tier 1: what to do, in words, with no API named
    api: str  # tier 2: the functions or methods that do it
    solution: str  # tier 3: the solution cell of solutions/, without its nbgrader markers (a test holds them equal)


EXERCISES = (
    Exercise("load_data", "01_load_data", 2, ("data:load_mnist", "data:load_mnist_data")),
    Exercise("describe_dataset", "01_load_data", 2, ("data:describe_dataset",)),
    Exercise("preprocess_images", "02_preprocess", 2, ("preprocess:preprocess_images",)),
    Exercise("one_hot_labels", "02_preprocess", 2, ("preprocess:one_hot_labels",)),
    Exercise("build_model", "03_build_model", 3, ("model:build_model",)),
    Exercise("compile_model", "04_compile", 3, ("training:compile_model",)),
    Exercise("train_model", "05_train", 4, ("training:train_model",)),
    Exercise("evaluate_model", "06_evaluate", 2, ("evaluate:evaluate_model",)),
    Exercise("predict_labels", "06_evaluate", 2, ("evaluate:predict_labels",)),
    Exercise("compare_labels", "06_evaluate", 1, ("evaluate:compare_labels",)),
    Exercise("confusion_matrix", "06_evaluate", 2, ("evaluate:confusion_matrix",)),
    Exercise("centre_digit", "07_draw_your_digit", 3, ("drawing:centre_digit", "drawing:prepare_digit")),
    Exercise("build_cnn", "08_convnet", 3, ("cnn:build_cnn",)),
)

BY_NAME = {exercise.name: exercise for exercise in EXERCISES}

# Lesson -> the names of its exercises, in notebook order.
LESSONS = {}
for _exercise in EXERCISES:
    LESSONS.setdefault(_exercise.lesson, ())
    LESSONS[_exercise.lesson] += (_exercise.name,)
del _exercise


def exercises_of(lesson):
    """The exercises of one lesson, in notebook order."""
    return [BY_NAME[name] for name in LESSONS[lesson]]


# Tier by tier, the help a learner can ask for in the notebook (checks.hint, checks.solution), in markdown.
HINTS = {
    "load_data": Hints(
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
    ),
    "describe_dataset": Hints(
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
    ),
    "preprocess_images": Hints(
        idea="Two steps, each giving a new array: flatten each 28×28 grid into one row of 784 numbers, one row "
        "per image; then turn the whole numbers 0-255 into floats from 0 to 1 by dividing by 255.",
        api="`images.reshape(len(images), 784)` flattens; `.astype(\"float32\")` converts; then divide by 255. "
        "Each gives a new array, so the one you were given stays unchanged.",
        solution='''def preprocess_images(images):
    """Flatten (N, 28, 28) uint8 images to (N, 784) float32 values scaled to [0, 1]."""
    return images.reshape(len(images), -1).astype("float32") / 255.0''',
    ),
    "one_hot_labels": Hints(
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
    ),
    "build_model": Hints(
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
    ),
    "compile_model": Hints(
        idea="Compiling tells the model how it will learn: the optimizer that changes the weights (RMSprop), the "
        "loss it lowers (categorical cross-entropy, as the labels are one-hot rows) and what to report "
        "(accuracy). Then give back the same model.",
        api="`model.compile(optimizer=\"rmsprop\", loss=\"categorical_crossentropy\", metrics=[\"accuracy\"])`, "
        "then `return model`.",
        solution='''def compile_model(model):
    """Compile the model with RMSprop, categorical cross-entropy and accuracy; return it."""
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model''',
    ),
    "train_model": Hints(
        idea="Training is one call on the model you were given: the images and their one-hot labels, "
        "`epochs` passes, `batch_size` images per update. Return what that call gives back, the History.",
        api="`model.fit(train_images, train_labels, epochs=epochs, batch_size=batch_size)` returns the History; "
        "`verbose=0` keeps its progress bar out of the notebook.",
        solution='''def train_model(model, train_images, train_labels, epochs=10, batch_size=128):
    """Train the compiled model for `epochs` passes in batches of `batch_size`; return the History."""
    return model.fit(train_images, train_labels, epochs=epochs, batch_size=batch_size, verbose=0)''',
    ),
    "evaluate_model": Hints(
        idea="Ask the model how it does on images it never trained on: its loss and its accuracy there, "
        "returned as two plain numbers, loss first.",
        api="`model.evaluate(test_images, test_labels, verbose=0)` returns `[loss, accuracy]`; `float(...)` "
        "makes each a plain number. `verbose=0` keeps its progress bar out of the notebook.",
        solution='''def evaluate_model(model, test_images, test_labels):
    """Return the model's (loss, accuracy) on the test images and their one-hot labels."""
    loss, accuracy = model.evaluate(test_images, test_labels, verbose=0)
    return float(loss), float(accuracy)''',
    ),
    "predict_labels": Hints(
        idea="The model gives each image 10 probabilities, one per digit. Its predicted label is the digit "
        "with the largest probability, taken image by image: one label per image.",
        api="`model.predict(images, verbose=0)` gives an (N, 10) array; `np.argmax(probabilities, axis=1)` "
        "takes the largest along each row. Without `axis=1`, argmax gives one number for the whole array.",
        solution='''def predict_labels(model, images):
    """Return the most probable digit of each image: an int array of shape (N,)."""
    probabilities = model.predict(images, verbose=0)
    return np.argmax(probabilities, axis=1)''',
    ),
    "compare_labels": Hints(
        idea="Go through the first n predicted and actual labels side by side and make a pair of each, "
        "predicted first, as plain whole numbers.",
        api="`zip(predicted[:n], actual[:n])` pairs the two sequences; `int(...)` turns a NumPy number into a "
        "plain one; a list comprehension builds the list.",
        solution='''def compare_labels(predicted, actual, n=10):
    """Pair the first n predicted and actual labels: a list of (predicted, actual) ints."""
    return [(int(p), int(a)) for p, a in zip(predicted[:n], actual[:n])]''',
    ),
    "confusion_matrix": Hints(
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
    ),
    "centre_digit": Hints(
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
    ),
    "build_cnn": Hints(
        idea="Start as lesson 03 did, from 784 pixels, and put them back into their 28 x 28 grid of one channel. "
        "Then two rounds of a convolution (relu) followed by a pooling that halves the grid; then flatten what is "
        "left into one row, drop half of it at random while training, and finish with three Dense layers, the last of them 10 softmax units. Build it; "
        "don't compile it.",
        api="`keras.Sequential([...])` with `keras.Input(shape=(784,))`, `keras.layers.Reshape((28, 28, 1))`, "
        "`keras.layers.Conv2D(6, 5, padding=\"same\", activation=\"relu\")`, `keras.layers.MaxPooling2D(2)`, "
        "`keras.layers.Conv2D(16, 5, activation=\"relu\")`, `keras.layers.MaxPooling2D(2)`, "
        "`keras.layers.Flatten()`, `keras.layers.Dropout(0.5)`, then `keras.layers.Dense(120, activation=\"relu\")`, "
        "`keras.layers.Dense(84, activation=\"relu\")` and `keras.layers.Dense(10, activation=\"softmax\")`.",
        solution='''def build_cnn():
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
    ])''',
    ),
}
