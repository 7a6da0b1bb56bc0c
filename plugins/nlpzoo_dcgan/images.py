"""Image grids and animations of generated images (numpy and Pillow, imported when a picture is drawn).

Images are float arrays of shape ``(n, channels, height, width)`` with values in [0, 1], one or three
channels, the way an image GAN's ``sample`` returns them.
"""
from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nlpzoo.files import atomic_write

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def make_grid(images, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0) -> "np.ndarray":
    """Tile ``images`` into one uint8 picture, ``(H, W)`` for one channel or ``(H, W, 3)`` for three.

    ``nrow`` is the number of images per row (default: a square-ish grid).
    """
    import numpy as np

    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:  # (n, H, W): one channel
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise ValueError(f"expected images of shape (n, 1 or 3, height, width) with n >= 1, got {images.shape}")
    n, c, h, w = images.shape
    nrow = max(1, min(nrow or math.ceil(math.sqrt(n)), n))
    rows = math.ceil(n / nrow)
    grid = np.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), pad_value, np.float32)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, y:y + h, x:x + w] = images[i]
    out = (np.clip(np.nan_to_num(grid), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return out[0] if c == 1 else out.transpose(1, 2, 0)


def png_bytes(picture) -> bytes:
    """A uint8 picture (from :func:`make_grid`) encoded as PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG")
    return buf.getvalue()


def save_grid(images, path: str | Path, nrow: int | None = None, padding: int = 2) -> Path:
    """Write ``images`` (float ``(n, C, H, W)`` in [0, 1]) as one PNG grid, atomically; returns the path."""
    path = Path(path)
    atomic_write(path, png_bytes(make_grid(images, nrow=nrow, padding=padding)))
    return path


def save_gif(frames: Sequence, path: str | Path, duration_ms: int = 400, hold_last_ms: int = 1500) -> Path:
    """An animated GIF (looping) from ``frames``: PNG paths or uint8 pictures from :func:`make_grid`.

    Frames of different sizes are padded to the largest; the last frame is held a little longer.
    """
    import numpy as np
    from PIL import Image

    if not frames:
        raise ValueError("save_gif needs at least one frame")
    pictures = []
    for f in frames:
        if isinstance(f, (str, Path)):
            with Image.open(f) as im:
                pictures.append(im.convert("RGB"))
        else:
            arr = np.asarray(f)
            pictures.append(Image.fromarray(arr).convert("RGB"))
    width = max(p.width for p in pictures)
    height = max(p.height for p in pictures)
    padded = []
    for p in pictures:
        if p.size != (width, height):
            canvas = Image.new("RGB", (width, height), (255, 255, 255))
            canvas.paste(p, (0, 0))
            p = canvas
        padded.append(p)
    durations = [duration_ms] * len(padded)
    durations[-1] = max(duration_ms, hold_last_ms)
    buf = io.BytesIO()
    padded[0].save(buf, format="GIF", save_all=True, append_images=padded[1:], duration=durations, loop=0)
    path = Path(path)
    atomic_write(path, buf.getvalue())
    return path
