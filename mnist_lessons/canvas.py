"""A canvas to draw a digit on with the mouse, in the notebook, read by a trained model after each stroke (going further, lesson 07).

    canvas = ml.DigitCanvas(ml.digit_reader(model))   # a cell's last line shows it
    canvas.picture, canvas.digit, canvas.probabilities # the last drawing, as MNIST saw it, and what the model said

An anywidget widget (https://anywidget.dev): its JavaScript, below, runs in
JupyterLab 4, VS Code and Colab alike, with nothing to build or install
beyond the Python package. The page draws the strokes; after each one it
sends the whole canvas to the kernel as a PNG, where ``read`` (any function
from a picture to 10 probabilities) decides, and the page redraws its bar
chart from the probabilities sent back. The drawing itself stays in the page
until "Clear", so a slow kernel never loses a stroke.
"""

import base64
import binascii
import io

import anywidget
import numpy as np
import traitlets

from mnist_lessons.drawing import DrawingError, prepare_digit

CANVAS_SIDE = 280  # pixels on screen: ten per MNIST pixel
STROKE_WIDTH = 22  # about what a pen's line is to a digit's height on paper, and MNIST's strokes to their 20 px
PNG_PREFIX = "data:image/png;base64,"
MAX_IMAGE_CHARS = 4 * 1024**2  # a 280 x 280 PNG is some 10 kB; more is not the canvas's

_ESM = """
function render({ model, el }) {
  const side = model.get("side");
  const root = document.createElement("div");
  root.className = "mnist-digit";
  const canvas = document.createElement("canvas");
  canvas.className = "mnist-digit-canvas";
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext("2d");
  const clear = () => { ctx.fillStyle = "white"; ctx.fillRect(0, 0, side, side); };
  clear();
  const saved = model.get("image").split("#")[0];
  if (saved) {  // a view drawn again (the notebook reopened): show the drawing the kernel last read
    const picture = new Image();
    picture.onload = () => ctx.drawImage(picture, 0, 0, side, side);
    picture.src = saved;
  }
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.lineWidth = model.get("stroke_width");
  ctx.strokeStyle = "black";
  let drawing = false;
  const at = (event) => {  // page coordinates to the canvas's own pixels, inside its border
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left - canvas.clientLeft) * side / canvas.clientWidth,
            (event.clientY - box.top - canvas.clientTop) * side / canvas.clientHeight];
  };
  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !event.isPrimary) return;  // the left button, or one finger
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    const [x, y] = at(event);
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x + 0.01, y);
    ctx.stroke();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const [x, y] = at(event);
    ctx.lineTo(x, y);
    ctx.stroke();
  });
  const finish = () => {
    if (!drawing) return;
    drawing = false;
    const strokes = model.get("strokes") + 1;
    // The stroke's number after "#": a stroke that adds no pixel is still a new drawing, and is answered.
    model.set("image", canvas.toDataURL("image/png") + "#" + strokes);
    model.set("strokes", strokes);
    model.save_changes();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);

  const side_panel = document.createElement("div");
  side_panel.className = "mnist-digit-side";
  const status = document.createElement("div");
  status.className = "mnist-digit-status";
  const bars = document.createElement("div");
  bars.className = "mnist-digit-bars";
  const button = document.createElement("button");
  button.className = "mnist-digit-clear jupyter-button";
  button.textContent = "Clear";
  button.addEventListener("click", () => {
    clear();
    model.set("image", "");
    model.save_changes();
  });
  const show = () => {
    status.textContent = model.get("status");
    const probabilities = model.get("probabilities");
    const best = probabilities.length ? probabilities.indexOf(Math.max(...probabilities)) : -1;
    bars.replaceChildren(...Array.from({ length: 10 }, (_, digit) => {
      const p = Number.isFinite(probabilities[digit]) ? probabilities[digit] : 0;
      const column = document.createElement("div");
      column.className = "mnist-digit-bar" + (digit === best ? " mnist-digit-best" : "");
      column.dataset.digit = String(digit);
      column.dataset.probability = p.toFixed(3);
      column.title = `${digit}: ${p.toFixed(3)}`;
      const fill = document.createElement("div");
      fill.className = "mnist-digit-fill";
      fill.style.height = `${Math.round(p * 100)}%`;
      const label = document.createElement("span");
      label.textContent = String(digit);
      column.append(fill, label);
      return column;
    }));
  };
  const answered = () => { root.dataset.answered = String(model.get("answered")); };
  model.on("change:probabilities", show);
  model.on("change:status", show);
  model.on("change:answered", answered);
  show();
  answered();
  side_panel.append(status, bars, button);
  root.append(canvas, side_panel);
  el.append(root);
}
export default { render };
"""

_CSS = """
.mnist-digit { display: flex; gap: 16px; align-items: flex-start; }
.mnist-digit-canvas { border: 1px solid #888; cursor: crosshair; touch-action: none; }
.mnist-digit-side { display: flex; flex-direction: column; gap: 8px; }
.mnist-digit-status { font: 14px sans-serif; min-height: 1.4em; }
.mnist-digit-bars { display: flex; gap: 4px; height: 160px; align-items: flex-end; }
.mnist-digit-bar { width: 22px; height: 100%; display: flex; flex-direction: column; justify-content: flex-end;
                   align-items: center; font: 12px sans-serif; }
.mnist-digit-fill { width: 100%; background: #9aa; }
.mnist-digit-best .mnist-digit-fill { background: #2ca02c; }
.mnist-digit-clear { width: 80px; }
"""


class DigitCanvas(anywidget.AnyWidget):
    """Draw a digit with the mouse; after each stroke ``read(picture)`` gives its 10 probabilities, shown as bars.

    ``read``: a function from a picture (an (H, W, 4) uint8 array, black ink on
    white) to 10 probabilities, such as ``digit_reader(model)``; without one, the
    canvas only keeps the drawing (``picture``).
    """

    _esm = _ESM
    _css = _CSS
    side = traitlets.Int(CANVAS_SIDE).tag(sync=True)
    stroke_width = traitlets.Int(STROKE_WIDTH).tag(sync=True)
    image = traitlets.Unicode("").tag(sync=True)  # the page's PNG of the canvas and "#<stroke>" ("" once cleared)
    strokes = traitlets.Int(0).tag(sync=True)  # strokes drawn since the canvas was shown
    probabilities = traitlets.List(traitlets.Float()).tag(sync=True)  # what read() said of the last drawing
    status = traitlets.Unicode("Draw a digit in the box").tag(sync=True)
    answered = traitlets.Int(0).tag(sync=True)  # drawings the kernel has answered: the page can tell it is up to date

    def __init__(self, read=None, **kwargs):
        super().__init__(**kwargs)
        self.read = read
        self.picture = None  # the last drawing, as an (H, W, 4) array
        self.digit = None  # and as MNIST saw it, (28, 28) in [0, 1], when read() is digit_reader's
        self.error = None  # why the last drawing could not be read, if it could not
        self.observe(self._on_image, names="image")

    def _on_image(self, change):
        try:
            self._read(change["new"])
        finally:
            self.answered += 1

    def _read(self, image):
        self.error, self.digit = None, None
        if not image:
            self.picture, self.digit = None, None
            self.probabilities, self.status = [], "Draw a digit in the box"
            return
        try:
            self.picture = decode_png(image.split("#")[0])
            if self.read is None:
                self.status = "Drawn (no model to read it)"
                return
            probabilities = np.asarray(self.read(self.picture), dtype=np.float64).reshape(-1)
            if probabilities.shape != (10,) or not np.all(np.isfinite(probabilities)):
                raise DrawingError(f"read() gave {probabilities.size} numbers"
                                   + (", not all finite" if probabilities.size == 10 else "")
                                   + "; the canvas expected 10 probabilities, one per digit")
            self.digit = getattr(self.read, "last_digit", None)
        except Exception as err:  # noqa: BLE001 -- the learner's read() may fail in any way: say so, keep drawing
            self.error = err
            self.probabilities = []
            self.status = f"Could not read it: {type(err).__name__}: {str(err).strip()[:200]}"
            return
        self.probabilities = [float(p) for p in probabilities]
        guess = int(probabilities.argmax())
        self.status = f"Read as a {guess} ({probabilities[guess]:.0%})"


def digit_reader(model, prepare=prepare_digit):
    """A function from a picture to the model's 10 probabilities, through ``prepare`` (yours, or the course's).

    The function keeps the last prepared digit as ``.last_digit``, for the "why?" view.
    """

    def read(picture):
        digit = np.asarray(prepare(picture), dtype=np.float32)
        read.last_digit = digit
        shape = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else (digit.size,)
        return np.asarray(model.predict(digit.reshape((1, *shape)), verbose=0))[0]

    read.last_digit = None
    return read


def decode_png(data_url):
    """The page's PNG data URL as an (H, W, 4) uint8 array; DrawingError when it is not one."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(data_url, str) or not data_url.startswith(PNG_PREFIX) or len(data_url) > MAX_IMAGE_CHARS:
        raise DrawingError("the canvas sent something that is not a PNG image")
    try:
        raw = base64.b64decode(data_url[len(PNG_PREFIX):], validate=True)
        with Image.open(io.BytesIO(raw)) as picture:
            if picture.width * picture.height > 4 * CANVAS_SIDE * CANVAS_SIDE * 16:
                raise DrawingError("the canvas sent a picture far larger than itself")
            return np.asarray(picture.convert("RGBA"))
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError) as err:
        if isinstance(err, DrawingError):
            raise
        raise DrawingError(f"the canvas's PNG could not be read ({type(err).__name__})") from None
