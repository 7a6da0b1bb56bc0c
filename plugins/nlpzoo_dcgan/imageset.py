"""A split of images held as one uint8 array, with optional integer labels and class names."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


class ImageSet(Sequence):
    """``images``: uint8 ``(n, channels, height, width)``; ``labels``: int ``(n,)`` or None.

    Indexing gives ``{"image": (C, H, W) uint8, "label": class name}`` like the text datasets'
    dicts; models read the arrays directly.
    """

    def __init__(self, images: "np.ndarray", labels: "np.ndarray | None" = None, classes: list[str] | None = None):
        self.images = images
        self.labels = labels
        self.classes = classes if labels is not None else None

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ImageSet(self.images[i], None if self.labels is None else self.labels[i], self.classes)
        item: dict[str, Any] = {"image": self.images[i]}
        if self.labels is not None:
            item["label"] = self.classes[int(self.labels[i])] if self.classes else str(int(self.labels[i]))
        return item

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of every image."""
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes) if self.classes else 0

    def subset(self, index) -> "ImageSet":
        return ImageSet(self.images[index], None if self.labels is None else self.labels[index], self.classes)

    def __repr__(self) -> str:
        c, h, w = self.shape
        return f"ImageSet({len(self)} images, {c}x{h}x{w}, {self.num_classes or 'no'} classes)"


def as_image_set(data) -> ImageSet:
    """An :class:`ImageSet` from one, or from a list of ``{"image": ..., "label": ...}`` dicts."""
    import numpy as np

    if isinstance(data, ImageSet):
        return data
    items = list(data)
    if not items or not isinstance(items[0], dict) or "image" not in items[0]:
        raise ValueError("expected image examples (an image dataset such as mnist-5k, idx, image-folder or npy), "
                         f"got {type(items[0]).__name__ if items else 'an empty split'}")
    images = np.stack([np.asarray(it["image"]) for it in items])
    if images.ndim == 3:
        images = images[:, None]
    if "label" not in items[0]:
        return ImageSet(images.astype(np.uint8))
    names = sorted({str(it["label"]) for it in items}, key=_natural)
    index = {n: i for i, n in enumerate(names)}
    return ImageSet(images.astype(np.uint8), np.array([index[str(it["label"])] for it in items], np.int64), names)


def _natural(s: str):
    return (0, int(s), "") if s.isdigit() else (1, 0, s)
