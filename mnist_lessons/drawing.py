"""A digit of one's own, drawn or photographed, made into an MNIST image the way MNIST's were made (going further, lesson 07).

MNIST's digits were not simply shrunk to 28 x 28. Each was scaled, keeping its
proportions, so that its bounding box fits a 20 x 20 box, anti-aliased (so its
edges are grey), and placed in the 28 x 28 field with its centre of mass at
the field's centre. A network trained on them has only ever seen digits made
that way: the same digit off to one side, or filling the whole field, is
another picture to it. ``prepare_digit`` does the same to any picture of one
digit, ink on paper or strokes on a canvas.

Measured on MNIST's first 10,000 training images: the centre of mass lies at
row 14.0 and column 14.0 (pixel indices, spread 0.29: whole-pixel shifts), and
the longer side of the bounding box is 20 pixels in 99.7 % of them.
"""

from pathlib import Path

import numpy as np

from mnist_lessons.preprocess import IMAGE_SIDE

BOX_SIDE = 20  # MNIST's digits fill a 20 x 20 box, keeping their proportions ...
CENTRE = 14.0  # ... with their centre of mass at pixel (14, 14) of the 28 x 28 field
INK_FRACTION = 0.1  # a pixel with a tenth of the darkest stroke's ink is part of the digit's bounding box
MAX_PIXELS = 64_000_000  # a photo of a digit is a few megapixels; more is no picture of one digit


class DrawingError(ValueError):
    """A picture that cannot be made into a digit: the message says which and why."""


def prepare_digit(image):
    """Make a picture of one digit into a (28, 28) float32 image in [0, 1] as MNIST's were made: 20 x 20 box, centred by mass.

    ``image``: a 2-D array of grey levels, or (H, W, 3 or 4) colour; dark ink on
    light paper or light strokes on a dark canvas (``ink_levels`` tells them
    apart). Raises DrawingError for a picture with no ink in it.
    """
    return centre_digit(ink_levels(image))


def centre_digit(ink):
    """Make ink levels (2-D, in [0, 1], ink bright) into a 28 x 28 MNIST digit: its box scaled into 20 x 20, centred by mass.

    Lesson 07's exercise; ``prepare_digit`` is the same for any picture.
    """
    ink = np.asarray(ink, dtype=np.float32)
    if ink.ndim != 2:
        raise DrawingError(f"ink levels must be a 2-D array; got shape {ink.shape}")
    if not ink.max() > 0:
        raise DrawingError("the picture has no ink in it: draw a digit first")
    top, bottom, left, right = ink_box(ink)
    crop = ink[top:bottom, left:right]
    scale = BOX_SIDE / max(crop.shape)
    height, width = (max(1, round(side * scale)) for side in crop.shape)
    box = _resize(crop, height, width)
    if box.max() > 0:
        box = box / box.max()  # a thin stroke, scaled down far, comes out faint: MNIST's darkest ink is 1
    field = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    top, left = (IMAGE_SIDE - height) // 2, (IMAGE_SIDE - width) // 2
    field[top:top + height, left:left + width] = box
    return _centre_by_mass(field)


def ink_box(ink):
    """(top, bottom, left, right) of the box around a digit's ink, ends exclusive: the pixels with a tenth of its darkest."""
    rows, columns = np.nonzero(ink >= INK_FRACTION * ink.max())
    return rows.min(), rows.max() + 1, columns.min(), columns.max() + 1


def centre_of_mass(image):
    """(row, column) of an image's centre of mass: the mean pixel position, each weighted by its ink."""
    image = np.asarray(image, dtype=np.float64)
    total = image.sum()
    return (float((image.sum(axis=1) * np.arange(image.shape[0])).sum() / total),
            float((image.sum(axis=0) * np.arange(image.shape[1])).sum() / total))


def ink_levels(image):
    """A picture as a 2-D float array of ink in [0, 1]: 1 where the stroke is darkest (or brightest on a dark canvas).

    The paper is the picture's most common level (its median: a digit covers
    few pixels), so grey paper in a dim photo is blank too; the ink runs from
    the paper's level to the darkest stroke's. Integer pixels are read on
    their type's scale (uint8: 0 to 255), floats as levels in [0, 1].
    """
    array = np.asarray(image)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)) or min(array.shape) < 1:
        raise DrawingError(f"a picture must be 2-D grey levels or colour of shape (H, W, 3 or 4); got shape "
                           f"{array.shape}")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise DrawingError(f"a picture of {array.shape[0] * array.shape[1]:,} pixels is larger than a digit needs "
                           f"({MAX_PIXELS:,} at most)")
    if array.dtype != bool and not np.issubdtype(array.dtype, np.number):
        raise DrawingError(f"a picture's pixels must be numbers; got dtype {array.dtype}")
    top = float(np.iinfo(array.dtype).max) if np.issubdtype(array.dtype, np.integer) else 1.0
    levels = array.astype(np.float32) / top
    if not np.all(np.isfinite(levels)):
        raise DrawingError("the picture has pixels that are not numbers (NaN or infinity)")
    if levels.ndim == 3:
        levels = _grey(levels)
    levels = np.clip(levels, 0, 1)
    paper = float(np.median(levels))
    if paper > 0.5:  # light paper: the ink is what is darker than it
        ink = paper - levels
    else:  # a dark canvas: the strokes are what is lighter
        ink = levels - paper
    strongest = float(ink.max())
    return np.clip(ink / strongest, 0, 1) if strongest > 0 else np.zeros_like(levels)


def read_digit_image(path):
    """Read a picture file (PNG, JPEG, ...) as the array ``prepare_digit`` takes; DrawingError names the file if it is not one.

    A phone's photo is turned upright as its EXIF data says; a transparent
    background is white paper; 16-bit and float pictures keep their levels.
    """
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # a huge picture is refused, not warned of
            with Image.open(path) as picture:
                if picture.width * picture.height > MAX_PIXELS:
                    raise DrawingError(f"{path}: {picture.width} x {picture.height} pixels is larger than a digit "
                                       "needs")
                picture = ImageOps.exif_transpose(picture)
                if picture.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):  # 16-bit scans, float pictures
                    levels = np.asarray(picture, dtype=np.float32)
                    low, high = float(levels.min()), float(levels.max())
                    return (levels - low) / (high - low) if high > low else np.ones_like(levels)
                if picture.mode in ("RGBA", "LA", "P", "PA"):  # a transparent background is the paper
                    picture = picture.convert("RGBA")
                    picture = Image.alpha_composite(Image.new("RGBA", picture.size, "white"), picture)
                return np.asarray(picture.convert("L"))
    except FileNotFoundError:
        raise DrawingError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DrawingError(f"{path} is a folder, not a picture") from None
    except DrawingError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise DrawingError(f"{path}: a picture far larger than a digit needs ({err})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise DrawingError(f"{path} could not be read as a picture ({type(err).__name__}: {err})") from None


def nearest_training_digits(digit, train_images, k=5):
    """Indices of the ``k`` training images nearest ``digit`` (pixel by pixel, Euclidean), the nearest first.

    ``digit``: a (28, 28) or (784,) image in [0, 1]; ``train_images``: (N, 784)
    or (N, 28, 28), already scaled to [0, 1] (``preprocess_images``).
    """
    flat = np.asarray(digit, dtype=np.float32).reshape(-1)
    images = np.asarray(train_images, dtype=np.float32)
    if len(images) == 0 or k < 1:
        raise DrawingError(f"nearest_training_digits needs training images and k of at least 1; got "
                           f"{len(images)} images and k={k}")
    images = images.reshape(len(images), -1)
    if images.shape[1] != flat.size:
        raise DrawingError(f"the digit has {flat.size} pixels but the training images {images.shape[1]}")
    # |a - b|^2 = |a|^2 - 2 a.b + |b|^2, without an (N, 784) array of differences
    distances = np.einsum("ij,ij->i", images, images) - 2 * images @ flat + flat @ flat
    k = min(k, len(images))
    nearest = np.argpartition(distances, k - 1)[:k]
    return nearest[np.argsort(distances[nearest], kind="stable")]


def _grey(levels):
    """Colour levels in [0, 1] to grey; a transparent pixel is white paper (the canvas's background)."""
    grey = levels[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma, as PIL's "L"
    if levels.shape[2] == 4:
        alpha = levels[..., 3]
        grey = grey * alpha + (1 - alpha)
    return grey


def _resize(ink, height, width):
    """Scale ink levels to height x width with anti-aliasing: PIL's Lanczos filter, on floats, clipped to [0, 1]."""
    from PIL import Image

    scaled = Image.fromarray(ink.astype(np.float32)).resize((width, height), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(scaled, dtype=np.float32), 0, 1)


def _centre_by_mass(field):
    """Shift by whole pixels so that the centre of mass lands on pixel (14, 14), as MNIST's did."""
    row, column = centre_of_mass(field)
    shift_rows, shift_columns = round(CENTRE - row), round(CENTRE - column)
    shifted = np.zeros_like(field)
    source = field[max(0, -shift_rows):IMAGE_SIDE - max(0, shift_rows),
                   max(0, -shift_columns):IMAGE_SIDE - max(0, shift_columns)]
    shifted[max(0, shift_rows):max(0, shift_rows) + source.shape[0],
            max(0, shift_columns):max(0, shift_columns) + source.shape[1]] = source
    return shifted
