"""Lesson 02's reference: flat, scaled images and one-hot labels."""

import numpy as np
import pytest

from mnist_lessons.preprocess import one_hot_labels, preprocess_images


def test_preprocess_images_flattens_and_scales():
    """Does a hand-made 28x28 image become 784 float32 values, pixel by pixel over 255?"""
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    images[0, 0, 0] = 255
    images[0, 0, 1] = 51
    images[1, 27, 27] = 102
    result = preprocess_images(images)
    assert result.shape == (2, 784)
    assert result.dtype == np.float32
    assert result[0, 0] == 1.0
    assert result[0, 1] == pytest.approx(0.2)
    assert result[1, 783] == pytest.approx(0.4)  # row 27, column 27 is the last of 784
    assert np.count_nonzero(result) == 3


def test_preprocess_images_keeps_row_major_order():
    """Does pixel (row, column) land at position row * 28 + column, as numpy's reshape puts it?"""
    images = np.arange(784, dtype=np.int64).reshape(1, 28, 28) % 256
    result = preprocess_images(images.astype(np.uint8))
    np.testing.assert_allclose(result[0] * 255, (np.arange(784) % 256), rtol=1e-6)


def test_preprocess_images_accepts_flat_uint8():
    """Are already-flat (N, 784) raw images only scaled?"""
    flat = np.full((3, 784), 255, dtype=np.uint8)
    np.testing.assert_array_equal(preprocess_images(flat), np.ones((3, 784), np.float32))


@pytest.mark.parametrize("shape", [(28, 28), (2, 28, 27), (2, 783), (2, 1, 28, 28)])
def test_preprocess_images_rejects_wrong_shapes(shape):
    """Does a wrong shape fail with a message that names the shape found?"""
    with pytest.raises(ValueError, match=r"\(N, 28, 28\).*got shape"):
        preprocess_images(np.zeros(shape, dtype=np.uint8))


def test_preprocess_images_refuses_to_scale_twice():
    """Is scaling already-scaled images, a silent error, refused?"""
    once = preprocess_images(np.full((1, 28, 28), 200, dtype=np.uint8))
    with pytest.raises(ValueError, match="preprocessed already"):
        preprocess_images(once)


def test_one_hot_labels_by_hand():
    """Does each label set exactly its own column to 1?"""
    result = one_hot_labels(np.array([3, 0, 9], dtype=np.uint8))
    expected = np.zeros((3, 10), dtype=np.float32)
    expected[0, 3] = expected[1, 0] = expected[2, 9] = 1
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, expected)


def test_one_hot_labels_other_num_classes():
    """Does num_classes set the number of columns?"""
    assert one_hot_labels(np.array([1, 2]), num_classes=3).tolist() == [[0, 1, 0], [0, 0, 1]]


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.array([0, 10]), "from 0 to 9"),
        (np.array([-1, 2]), "from 0 to 9"),
        (np.array([0.5, 1.0]), "integer labels"),
        (np.zeros((2, 10), dtype=int), r"shape \(N,\)"),
    ],
)
def test_one_hot_labels_rejects_bad_labels(labels, message):
    """Do out-of-range, float or already one-hot labels fail with a clear message?"""
    with pytest.raises(ValueError, match=message):
        one_hot_labels(labels)
