"""The course's graded exercises, in one place: everything else that names them is derived from here (every lesson).

Each exercise is a function the learner writes in a lesson notebook. Its
solution cell's nbgrader ``grade_id`` is the function's name, its locked check
cell's is ``check_<name>`` and carries ``points``; ``mnist_lessons.checks``
has ``check_<name>``; ``answer_key`` names the package's own answers to it,
which graded code may not call. A test holds the notebooks to this table.
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
