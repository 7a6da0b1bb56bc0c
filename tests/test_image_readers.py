"""The image readers (idx, npy, image-folder) name their classes and refuse hostile files in one line.

Each hostile file below is tiny; before the readers checked sizes and label ranges, each of them
ran out of memory or ended in a traceback.
"""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

import nlpzoo
from nlpzoo import ConfigError

pytest.importorskip("nlpzoo_dcgan")


def idx_bytes(array: np.ndarray, type_code: int = 0x08, dims: list[int] | None = None) -> bytes:
    dims = list(array.shape) if dims is None else dims
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + array.tobytes()


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def load(spec: dict) -> dict:
    return nlpzoo.build(spec, "dataset").load()


def refused(spec: dict, *fragments: str) -> str:
    """The one-line message a reader gives for ``spec``; it names each of ``fragments``."""
    with pytest.raises(ConfigError) as info:
        load(spec)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


@pytest.fixture
def digits_idx(tmp_path):
    """40 random 28x28 images and labels 0..3, as IDX files."""
    images = np.random.default_rng(0).integers(0, 256, (40, 28, 28), dtype=np.uint8)
    labels = (np.arange(40) % 4).astype(np.uint8)
    return write(tmp_path / "images.idx", idx_bytes(images)), write(tmp_path / "labels.idx", idx_bytes(labels))


# ---------------------------------------------------------------- class names


def test_idx_labels_keep_the_names_they_are_given(digits_idx):
    images, labels = digits_idx
    out = load({"name": "idx", "images": images, "labels": labels, "classes": ["ant", "bee", "cat", "dog"]})
    assert out["train"].classes == ["ant", "bee", "cat", "dog"]
    assert {ex["label"] for ex in out["train"]} == {"ant", "bee", "cat", "dog"}


def test_npy_labels_keep_the_names_they_are_given(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((20, 28, 28), np.uint8))
    np.save(tmp_path / "y.npy", np.arange(20) % 2)
    out = load({"name": "npy", "path": str(tmp_path / "x.npy"), "labels": str(tmp_path / "y.npy"),
                "classes": ["even", "odd"]})
    assert out["test"].classes == ["even", "odd"] and out["test"][0]["label"] in ("even", "odd")


def test_without_names_the_class_numbers_are_the_names(digits_idx):
    images, labels = digits_idx
    assert load({"name": "idx", "images": images, "labels": labels})["train"].classes == ["0", "1", "2", "3"]


def test_a_label_without_a_name_is_refused(digits_idx):
    images, labels = digits_idx
    refused({"name": "idx", "images": images, "labels": labels, "classes": ["ant", "bee"]},
            labels, "label 3 has no name", "2 classes")


def test_class_names_must_differ_and_need_labels(digits_idx):
    images, labels = digits_idx
    with pytest.raises(ConfigError, match="repeated: bee"):
        nlpzoo.build({"name": "idx", "images": images, "labels": labels, "classes": ["bee", "bee"]}, "dataset")
    with pytest.raises(ConfigError, match="give labels too"):
        nlpzoo.build({"name": "idx", "images": images, "classes": ["ant"]}, "dataset")


# ---------------------------------------------------------------- labels that would build range(max + 1)


def test_a_huge_idx_label_is_refused_with_the_limit(tmp_path):
    labels = np.zeros(38, ">i4")  # 8 header bytes + 38 * 4 = a 160-byte file
    labels[7] = 2**31 - 1
    path = write(tmp_path / "labels.idx", idx_bytes(labels, 0x0C))
    assert os.path.getsize(path) == 160
    images = write(tmp_path / "images.idx", idx_bytes(np.zeros((38, 28, 28), np.uint8)))
    refused({"name": "idx", "images": images, "labels": path}, path, "label 2147483647", "limit of 100,000")


def test_a_huge_npy_label_is_refused_with_the_limit(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((10, 28, 28), np.uint8))
    labels = np.zeros(10, np.int64)
    labels[3] = 2**62
    np.save(tmp_path / "y.npy", labels)
    refused({"name": "npy", "path": str(tmp_path / "x.npy"), "labels": str(tmp_path / "y.npy")},
            str(tmp_path / "y.npy"), f"label {2**62}", "limit of 100,000")


def test_negative_idx_labels_are_refused(tmp_path):
    labels = np.array([0, 1, -1, 2], np.int8)
    path = write(tmp_path / "labels.idx", idx_bytes(labels, 0x09))
    images = write(tmp_path / "images.idx", idx_bytes(np.zeros((4, 28, 28), np.uint8)))
    refused({"name": "idx", "images": images, "labels": path}, path, "class numbers from 0, got -1")


def test_float_idx_labels_are_refused(tmp_path):
    path = write(tmp_path / "labels.idx", idx_bytes(np.zeros(4, ">f4"), 0x0D))
    images = write(tmp_path / "images.idx", idx_bytes(np.zeros((4, 28, 28), np.uint8)))
    refused({"name": "idx", "images": images, "labels": path}, path, "integer class numbers")


# ---------------------------------------------------------------- headers that claim too much


def test_idx_dimensions_that_overflow_int64_are_refused_before_reading(tmp_path):
    # 65536**4 == 2**64, which wraps to 0 in int64: the empty data section looked just right
    path = write(tmp_path / "bomb.idx", idx_bytes(np.zeros(0, np.uint8), dims=[65536] * 4))
    refused({"name": "idx", "images": path}, path, "65536x65536x65536x65536", "above the limit of")


def test_a_gzipped_idx_file_is_read_only_as_far_as_its_header_allows(tmp_path):
    path = write(tmp_path / "bomb.idx.gz", gzip.compress(idx_bytes(np.zeros(0, np.uint8), dims=[2**32 - 1] * 3)))
    refused({"name": "idx", "images": path}, path, "above the limit of")


def test_a_gzipped_idx_file_with_too_little_data_is_truncated(tmp_path):
    raw = idx_bytes(np.zeros((10, 28, 28), np.uint8))
    path = write(tmp_path / "short.idx.gz", gzip.compress(raw[:-50]))
    refused({"name": "idx", "images": path}, path, "IDX data truncated", "7840 bytes")


def test_an_npy_header_that_claims_too_much_is_refused_before_reading(tmp_path):
    path = tmp_path / "bomb.npy"
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "|u1", "fortran_order": False, "shape": (2**40, 28, 28)})
    refused({"name": "npy", "path": str(path)}, str(path), "above the limit of")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_is_not_read_forever():
    refused({"name": "idx", "images": "/dev/zero"}, "/dev/zero", "not an IDX file")
    refused({"name": "npy", "path": "/dev/zero"}, "/dev/zero", "not a .npy file")


# ---------------------------------------------------------------- corrupt files


def test_corrupt_files_are_named(tmp_path):
    good = idx_bytes(np.zeros((10, 28, 28), np.uint8))
    bad_gzip = write(tmp_path / "bad.idx.gz", gzip.compress(good)[:12] + b"\x00garbage" * 8)
    refused({"name": "idx", "images": bad_gzip}, bad_gzip, "corrupt gzip data")

    np.save(tmp_path / "whole.npy", np.zeros((10, 28, 28), np.uint8))
    cut = write(tmp_path / "cut.npy", (tmp_path / "whole.npy").read_bytes()[:-100])
    refused({"name": "npy", "path": cut}, cut, "truncated .npy data")


def test_a_truncated_png_is_named(tmp_path):
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / "a.png")
    whole = (folder / "a.png").read_bytes()
    (folder / "a.png").write_bytes(whole[:len(whole) // 2])
    refused({"name": "image-folder", "path": str(folder)}, str(folder / "a.png"), "cannot read image")


@pytest.mark.parametrize("pixels_over_limit", [1.5, 3.0], ids=["warning-range", "error-range"])
def test_a_decompression_bomb_is_refused_with_the_limit(tmp_path, monkeypatch, pixels_over_limit):
    """Pillow warns above MAX_IMAGE_PIXELS and raises above twice that; both are refused, with the limit."""
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(folder / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", int(64 * 64 / pixels_over_limit))
    refused({"name": "image-folder", "path": str(folder)}, str(folder / "big.png"), "decompression bomb",
            f"MAX_IMAGE_PIXELS = {int(64 * 64 / pixels_over_limit):,} pixels")


def test_a_negative_limit_is_refused_instead_of_dropping_images():
    with pytest.raises(ConfigError, match="limit: expected a positive number"):
        nlpzoo.build({"name": "mnist-5k", "limit": -5}, "dataset")
