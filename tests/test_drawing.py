"""A digit of one's own made into an MNIST image (mnist_lessons/drawing.py), and `mnist-lessons predict`."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mnist_lessons import drawing, load_mnist, preprocess_images
from mnist_lessons.drawing import DrawingError, nearest_training_digits, prepare_digit, read_digit_image

COUNT = 200  # test digits made into "photos" and back


@pytest.fixture(scope="module")
def mnist_digits():
    """The first test digits, scaled to [0, 1]: MNIST's own 20 x 20 boxes, centred by mass."""
    _, (test_images, test_labels) = load_mnist()
    return test_images[:COUNT].astype(np.float32) / 255, test_labels[:COUNT]


def photo_of(digit, scale=9, canvas=(480, 520), corner=(25, 170)):
    """The digit as a person's picture of it: much larger, dark ink on white paper, far from the centre."""
    side = digit.shape[0] * scale
    large = np.asarray(Image.fromarray((digit * 255).astype(np.uint8)).resize((side, side), Image.Resampling.BILINEAR))
    paper = np.full(canvas, 255, dtype=np.uint8)
    top, left = corner
    paper[top:top + side, left:left + side] = 255 - large
    return paper


def correlation(a, b):
    return float(np.corrcoef(a.reshape(-1), b.reshape(-1))[0, 1])


def test_a_photo_of_an_mnist_digit_becomes_that_digit_again(mnist_digits):
    """Does a large, off-centre, dark-on-light picture of an MNIST digit come back as (nearly) the MNIST image itself?"""
    digits, _ = mnist_digits
    prepared = np.stack([prepare_digit(photo_of(digit)) for digit in digits])
    assert prepared.shape == (COUNT, 28, 28) and prepared.dtype == np.float32
    assert prepared.min() >= 0 and prepared.max() <= 1
    similarity = [correlation(a, b) for a, b in zip(prepared, digits)]
    assert np.median(similarity) > 0.9 and min(similarity) > 0.6, sorted(similarity)[:5]


def test_centred_by_mass_in_a_20_pixel_box(mnist_digits):
    """Is each prepared digit's centre of mass within half a pixel of (14, 14), and its box 20 pixels on its longer side?"""
    digits, _ = mnist_digits
    for digit in digits[:50]:
        prepared = prepare_digit(photo_of(digit, corner=(200, 10)))
        indices = np.arange(28)
        row = (prepared.sum(axis=1) * indices).sum() / prepared.sum()
        column = (prepared.sum(axis=0) * indices).sum() / prepared.sum()
        assert abs(row - 14) <= 0.5 and abs(column - 14) <= 0.5
        rows, columns = np.nonzero(prepared >= 0.1 * prepared.max())
        longer = max(rows.max() - rows.min(), columns.max() - columns.min()) + 1
        assert 19 <= longer <= 21


def test_skipping_it_misplaces_the_digit(mnist_digits):
    """Does shrinking the whole picture to 28 x 28, without the box and the centring, give images far from MNIST's?"""
    digits, _ = mnist_digits
    naive = [np.asarray(Image.fromarray(255 - photo_of(digit)).resize((28, 28), Image.Resampling.LANCZOS)) / 255
             for digit in digits]
    prepared = [prepare_digit(photo_of(digit)) for digit in digits]
    assert np.median([correlation(a, b) for a, b in zip(naive, digits)]) < 0.3
    assert np.median([correlation(a, b) for a, b in zip(prepared, digits)]) > 0.9


def test_light_strokes_on_a_dark_canvas_and_colour(mnist_digits):
    """Do a canvas's light strokes on black, an RGB picture and an RGBA one with transparent paper give the same digit?"""
    digit = mnist_digits[0][0]
    photo = photo_of(digit)
    expected = prepare_digit(photo)
    np.testing.assert_allclose(prepare_digit(255 - photo), expected, atol=1e-6)
    np.testing.assert_allclose(prepare_digit(np.stack([photo] * 3, axis=-1)), expected, atol=0.02)
    rgba = np.zeros((*photo.shape, 4), dtype=np.uint8)
    rgba[..., 3] = 255 - photo  # black ink whose opacity is the ink, on a transparent canvas
    np.testing.assert_allclose(prepare_digit(rgba), expected, atol=0.02)
    np.testing.assert_allclose(prepare_digit(photo / 255.0), expected, atol=1e-6)  # levels already in [0, 1]


@pytest.mark.parametrize("picture, message", [
    (np.full((50, 50), 255, dtype=np.uint8), "no ink"),
    (np.zeros((50, 50)), "no ink"),
    (np.zeros((3, 50, 50)), "shape (3, 50, 50)"),
    (np.array([["a", "b"], ["c", "d"]]), "must be numbers"),
    (np.full((8, 8), np.nan), "not numbers"),
])
def test_pictures_that_are_no_digit(picture, message):
    """Is a blank, misshapen or non-numeric picture refused with a message saying what is wrong?"""
    with pytest.raises(DrawingError, match=re.escape(message)):
        prepare_digit(picture)


def test_read_digit_image_names_the_file(tmp_path, mnist_digits):
    """Does reading a PNG give its grey levels, and reading a missing or non-picture file say which file and why?"""
    path = tmp_path / "seven.png"
    Image.fromarray(photo_of(mnist_digits[0][0])).save(path)
    assert read_digit_image(path).shape == (480, 520)
    transparent = tmp_path / "canvas.png"
    rgba = np.zeros((40, 40, 4), dtype=np.uint8)
    rgba[10:30, 18:22, 3] = 255  # a black stroke on a transparent canvas
    Image.fromarray(rgba, mode="RGBA").save(transparent)
    grey = read_digit_image(transparent)
    assert grey[0, 0] == 255 and grey[20, 20] == 0  # transparent is paper
    (tmp_path / "notes.png").write_text("not a picture")
    for name, message in (("nothing.png", "no such file"), ("notes.png", "could not be read as a picture"), ("", "folder")):
        with pytest.raises(DrawingError, match=message) as raised:
            read_digit_image(tmp_path / name)
        assert str(tmp_path / name) in str(raised.value)


def test_nearest_training_digits():
    """Is a training digit its own nearest neighbour, with the next ones in order of distance?"""
    (train_images, _), _ = load_mnist("sample")
    images = preprocess_images(train_images)
    nearest = nearest_training_digits(images[42].reshape(28, 28), images, k=4)
    assert nearest[0] == 42 and len(nearest) == 4
    distances = [np.sum((images[i] - images[42]) ** 2) for i in nearest]
    assert distances == sorted(distances)
    expected = np.argsort(((images - images[42]) ** 2).sum(axis=1), kind="stable")[:4]
    assert list(nearest) == list(expected)
    with pytest.raises(DrawingError, match="784"):
        nearest_training_digits(np.zeros(10), images)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A model from `mnist-lessons train` on the sample, one epoch."""
    out = tmp_path_factory.mktemp("run")
    completed = subprocess.run([sys.executable, "-m", "mnist_lessons.cli", "train", "--data", "sample", "--epochs", "1",
                                "--out", str(out), "--overwrite"], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    return out


def predict(*argv, cwd=None):
    return subprocess.run([sys.executable, "-m", "mnist_lessons.cli", "predict", *map(str, argv)],
                          capture_output=True, text=True, timeout=600, cwd=cwd)


def test_predict_reads_a_photo_as_the_model_reads_mnist(trained_run, tmp_path, mnist_digits):
    """Does `predict` read a photo of a test digit as the same model reads the MNIST image itself, and save both plots?"""
    from mnist_lessons.backend import import_keras

    digits, _ = mnist_digits
    model = import_keras().saving.load_model(trained_run / "model.keras")
    expected = np.asarray(model.predict(digits[:3].reshape(3, 784), verbose=0))
    for index in range(3):
        path = tmp_path / f"digit{index}.png"
        Image.fromarray(photo_of(digits[index])).save(path)
        model = trained_run if index == 1 else trained_run / "model.keras"  # a run's folder names its model too
        completed = predict(path, "--model", model, "--data", "sample", "--out", tmp_path / f"out{index}")
        assert completed.returncode == 0, completed.stderr
        guess = int(expected[index].argmax())
        assert f"  a {guess}, with probability " in completed.stdout
        printed = completed.stdout.split("  probability ")[1].split("\n")[0].split()
        np.testing.assert_allclose([float(p) for p in printed], expected[index], atol=0.1)
        for plot in ("prediction.png", "nearest.png"):
            assert Image.open(tmp_path / f"out{index}" / plot).size[0] > 300


def test_predict_finds_the_newest_run_and_refuses_in_one_line(trained_run, tmp_path):
    """Does `predict` take runs/'s newest finished model by default, and refuse a missing model or a bad picture in one line?"""
    runs = tmp_path / "runs"
    (runs / "unfinished").mkdir(parents=True)  # no metrics.json: a run that stopped
    (runs / "unfinished" / "model.keras").write_text("half")
    picture = tmp_path / "one.png"
    stroke = np.full((100, 60), 255, dtype=np.uint8)
    stroke[10:90, 27:33] = 0
    Image.fromarray(stroke).save(picture)
    completed = predict(picture, "--data", "sample", cwd=tmp_path)
    assert completed.returncode == 2 and "no trained model in runs/" in completed.stderr
    (runs / "20260101-000000-seed0").symlink_to(trained_run, target_is_directory=True)
    completed = predict(picture, "--data", "sample", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "read by runs/20260101-000000-seed0/model.keras" in completed.stdout
    assert (tmp_path / "predictions" / "one" / "prediction.png").is_file()
    (tmp_path / "blank.png").write_bytes((tmp_path / "predictions" / "one" / "prediction.png").read_bytes()[:50])
    Image.fromarray(np.full((30, 30), 255, dtype=np.uint8)).save(tmp_path / "white.png")
    for argv, message in (
        ([tmp_path / "white.png"], "white.png: the picture has no ink in it"),
        ([tmp_path / "blank.png"], "blank.png could not be read as a picture"),
        ([picture, "--model", tmp_path / "none.keras"], "none.keras: no such file"),
        ([picture, "--model", runs / "unfinished" / "model.keras"], "could not be loaded as a Keras model"),
    ):
        completed = predict(*argv, "--data", "sample", cwd=tmp_path)
        assert completed.returncode == 2, (argv, completed.stdout, completed.stderr)
        assert message in completed.stderr and len(completed.stderr.strip().splitlines()) == 1, completed.stderr
    assert json.loads((trained_run / "metrics.json").read_text())["epochs"] == 1


def test_a_dim_photo_with_a_thin_pen(mnist_digits):
    """Do grey paper in a dim photo, and a thin pen's strokes on a large picture, still give a full-strength MNIST digit?"""
    digit = mnist_digits[0][0]
    photo = photo_of(digit).astype(np.float32)
    dim = (60 + photo * (200 - 60) / 255).astype(np.uint8)  # paper at 200, ink at 60
    prepared = prepare_digit(dim)
    assert correlation(prepared, digit) > 0.9 and prepared.max() == pytest.approx(1)
    pen = np.full((2000, 1500), 255, dtype=np.uint8)
    pen[300:1700, 748:752] = 0  # a 1 drawn with a 4-pixel pen, 1,400 pixels tall
    one = prepare_digit(pen)
    assert one.max() == pytest.approx(1) and 19 <= np.count_nonzero(one.max(axis=1) > 0.1) <= 21


def test_sixteen_bit_scans_keep_their_levels(tmp_path, mnist_digits):
    """Is a 16-bit greyscale scan read on its own scale, not clipped to white?"""
    photo = photo_of(mnist_digits[0][0]).astype(np.uint16) * 257  # 0..65535
    path = tmp_path / "scan.png"
    Image.fromarray(photo).save(path)
    assert Image.open(path).mode.startswith("I")
    levels = read_digit_image(path)
    assert correlation(prepare_digit(levels), prepare_digit(photo_of(mnist_digits[0][0]))) > 0.99
