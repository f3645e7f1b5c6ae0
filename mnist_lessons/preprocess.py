"""Turning raw MNIST into what the network eats: flat, scaled images and one-hot labels (lesson 02)."""

import numpy as np

IMAGE_SIDE = 28  # MNIST digits are 28 x 28 pixels
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE  # 784 inputs to the first Dense layer
MAX_PIXEL = 255  # uint8 pixels run from 0 (background) to 255 (ink)
NUM_CLASSES = 10  # the digits 0-9


def preprocess_images(images):
    """Flatten (N, 28, 28) uint8 images to (N, 784) float32 scaled to [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 3 and images.shape[1:] == (IMAGE_SIDE, IMAGE_SIDE):
        pass
    elif images.ndim == 2 and images.shape[1] == NUM_PIXELS:
        pass  # already flat: scaling is all that is left
    else:
        raise ValueError(
            f"preprocess_images expects images of shape (N, 28, 28) or (N, 784); "
            f"got shape {images.shape}"
        )
    if images.dtype.kind == "f" and images.size and images.max() <= 1.0:
        raise ValueError(
            "preprocess_images got float images already in [0, 1]: they look preprocessed "
            "already, and scaling twice would divide by 255 again"
        )
    return images.reshape(len(images), NUM_PIXELS).astype(np.float32) / MAX_PIXEL


def one_hot_labels(labels, num_classes=NUM_CLASSES):
    """Encode integer labels (N,) as one-hot rows (N, num_classes) of float32."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"one_hot_labels expects labels of shape (N,); got shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"one_hot_labels expects integer labels; got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"one_hot_labels expects labels from 0 to {num_classes - 1}; "
            f"got values from {labels.min()} to {labels.max()}"
        )
    # Row k of the identity matrix is the one-hot code of class k.
    return np.eye(num_classes, dtype=np.float32)[labels]
