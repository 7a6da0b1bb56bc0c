"""Every data reader, fed random and damaged files: it reads them, or refuses in one line naming the file.

A reader never lets anything but an NlpzooError out (no UnicodeDecodeError, IndexError, numpy or
Pillow error), whatever bytes it is given.
"""
from __future__ import annotations

import io
import json
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlpzoo
from nlpzoo import build
from reliability_support import examples, refused_cleanly


def needs(name: str) -> None:
    if name not in nlpzoo.components():
        pytest.skip(f"needs the plugin that provides {name}")


def text_bytes(rng: random.Random) -> bytes:
    """Lines of text with the awkward cases: CRLF, empty lines, invalid UTF-8, NULs, quotes, long lines."""
    pieces = ["a fine film", "__label__pos", "__label__", "text,label", '"quoted, with comma"', '"unclosed', "\t", ";",
              "", " ", "\r", "\x00", "é", "\ufeff", "{}", "[1,2]", '{"text": "x", "label": 1}', '{"text": null}',
              "x" * rng.randrange(1, 3000)]
    lines = [rng.choice(pieces) + (rng.choice(pieces) if rng.random() < 0.5 else "") for _ in range(rng.randrange(0, 30))]
    data = rng.choice(["\n", "\r\n"]).join(lines).encode("utf-8")
    if rng.random() < 0.2:
        data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
    return data


def check_load(dataset_spec: dict):
    def load():
        splits = build(dataset_spec, "dataset").load()
        assert set(splits) >= {"train", "validation", "test"}
        return splits

    return refused_cleanly(load)


@settings(max_examples=examples(80))
@given(st.integers(0, 2**32))
def test_text_file_reads_or_refuses(tmp_path_factory, seed):
    needs("text-file")
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("text", numbered=True)
    for i in range(5):
        path = folder / f"t{i}.txt"
        path.write_bytes(text_bytes(rng))
        spec = {"name": "text-file", "path": str(path), "mode": rng.choice(["line", "file"]),
                "label_prefix": rng.choice([None, "__label__", "", "x"]), "seed": rng.randrange(100),
                "encoding": rng.choice(["utf-8", "latin-1"]), "limit": rng.choice([None, 1, 3, 10**6])}
        check_load(spec)


@settings(max_examples=examples(80))
@given(st.integers(0, 2**32))
def test_csv_reads_or_refuses(tmp_path_factory, seed):
    needs("csv")
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("csv", numbered=True)
    for i in range(5):
        path = folder / f"c{i}.{rng.choice(['csv', 'tsv', 'txt'])}"
        header = rng.choice(["text,label\n", "text\tlabel\n", "label,text,extra\n", "", "text\n", "a;b\n"])
        path.write_bytes(header.encode() + text_bytes(rng))
        spec = {"name": "csv", "path": str(path), "text_column": rng.choice(["text", "a", "missing"]),
                "label_column": rng.choice(["label", None, "extra"]), "delimiter": rng.choice([None, ",", "\t", ";", "|"])}
        check_load(spec)


@settings(max_examples=examples(80))
@given(st.integers(0, 2**32))
def test_jsonl_reads_or_refuses(tmp_path_factory, seed):
    needs("jsonl")
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("jsonl", numbered=True)
    values = [None, 1, 1.5, True, "x", "a fine film", [], {}, ["a"], {"t": 1}, "é" * 10, 10**30]
    for i in range(5):
        lines = []
        for _ in range(rng.randrange(0, 25)):
            if rng.random() < 0.1:
                lines.append(text_bytes(rng).decode("utf-8", "replace")[:50])
            elif rng.random() < 0.1:
                lines.append(json.dumps(rng.choice(values)))
            else:
                record = {"text": rng.choice(values + ["good text"] * 5), "label": rng.choice(values + ["pos", "neg"] * 3)}
                if rng.random() < 0.1:
                    del record[rng.choice(["text", "label"])]
                lines.append(json.dumps(record))
        path = folder / f"j{i}.jsonl"
        path.write_text("\n".join(lines))
        check_load({"name": "jsonl", "path": str(path), "label_column": rng.choice(["label", None])})


def npy_bytes(rng: random.Random) -> bytes:
    import numpy as np

    if rng.random() < 0.15:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
    shape = rng.choice([(0,), (3,), (4, 8, 8), (2, 1, 8, 8), (5, 3, 4, 4), (2, 2, 2, 2, 2), (3, 28, 28), (1, 7, 9)])
    dtype = rng.choice(["uint8", "float32", "float64", "int64", "bool", "complex64", "<U3"])
    array = np.zeros(shape, dtype=dtype) if dtype == "<U3" else (np.arange(int(np.prod(shape))) % 256).reshape(shape).astype(dtype)
    buf = io.BytesIO()
    np.save(buf, array)
    data = buf.getvalue()
    if rng.random() < 0.2:
        data = data[:rng.randrange(len(data))]
    return data


@settings(max_examples=examples(60))
@given(st.integers(0, 2**32))
def test_npy_reads_or_refuses(tmp_path_factory, seed):
    needs("npy")
    import numpy as np

    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("npy", numbered=True)
    for i in range(4):
        images = folder / f"x{i}.npy"
        images.write_bytes(npy_bytes(rng))
        spec = {"name": "npy", "path": str(images)}
        if rng.random() < 0.5:
            labels = folder / f"y{i}.npy"
            np.save(labels, np.asarray([rng.choice([0, 1, 2, 9]) for _ in range(rng.randrange(0, 6))], dtype=np.int64))
            spec["labels"] = str(labels)
        check_load(spec)


def idx_bytes(rng: random.Random, dims: list[int] | None = None, code: int = 0x08) -> bytes:
    dims = dims if dims is not None else [rng.choice([0, 1, 3, 4]), rng.choice([1, 8, 28]), rng.choice([1, 8, 28])][:rng.randint(1, 3)]
    header = struct.pack(">BBBB", 0, 0, code, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    size = 1
    for d in dims:
        size *= d
    body = bytes(rng.randrange(256) for _ in range(min(size, 4096)))
    if rng.random() < 0.2:
        body = body[:rng.randrange(len(body) + 1)]
    return header + body


@settings(max_examples=examples(60))
@given(st.integers(0, 2**32))
def test_idx_reads_or_refuses(tmp_path_factory, seed):
    needs("idx")
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("idx", numbered=True)
    for i in range(4):
        images = folder / f"images{i}.idx"
        n = rng.choice([0, 1, 3, 4])
        kind = rng.random()
        if kind < 0.15:
            images.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40))))
        else:
            images.write_bytes(idx_bytes(rng, [n, 8, 8], rng.choice([0x08, 0x08, 0x09, 0x0D, 0x42])))
        spec = {"name": "idx", "images": str(images)}
        if rng.random() < 0.5:
            labels = folder / f"labels{i}.idx"
            labels.write_bytes(struct.pack(">BBBB", 0, 0, 0x08, 1) + struct.pack(">I", n)
                               + bytes(rng.choice([0, 1, 2, 9]) for _ in range(n)))
            spec["labels"] = str(labels)
        check_load(spec)


@settings(max_examples=examples(40))
@given(st.integers(0, 2**32))
def test_image_folder_reads_or_refuses(tmp_path_factory, seed):
    needs("image-folder")
    from PIL import Image

    rng = random.Random(seed)
    root = tmp_path_factory.mktemp("images", numbered=True)
    for c in range(rng.randint(0, 3)):
        cls = root / f"class{c}"
        cls.mkdir()
        for j in range(rng.randint(0, 4)):
            path = cls / f"{j}.{rng.choice(['png', 'jpg', 'txt'])}"
            if rng.random() < 0.2:
                path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 100))))
            else:
                mode = rng.choice(["L", "RGB", "RGBA", "1", "P"])
                Image.new(mode, (rng.randint(1, 40), rng.randint(1, 40))).save(path, format="PNG")
    check_load({"name": "image-folder", "path": str(root), "size": rng.choice([None, 8, 28]),
                "channels": rng.choice([None, 1, 3])})


#: label files from the report that made the image readers build ``range(max_label + 1)`` classes
LABEL_BOMBS = {
    "idx label 2^31-1": ("idx", ">ii", [0, 2**31 - 1]),
    "npy label 2^62": ("npy", None, [0, 2**62]),
}

LOAD_UNDER_A_MEMORY_LIMIT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from nlpzoo import build
from nlpzoo.errors import NlpzooError
try:
    build(eval(sys.argv[1]), "dataset").load()
    print("LOADED")
except NlpzooError as exc:
    print("REFUSED", exc)
"""


@pytest.mark.parametrize("case", sorted(LABEL_BOMBS))
def test_label_bombs_are_refused_with_the_limit(tmp_path, case):
    import subprocess
    import sys

    import numpy as np

    kind, fmt, labels = LABEL_BOMBS[case]
    needs(kind)
    if kind == "idx":
        images, label_file = tmp_path / "images.idx", tmp_path / "labels.idx"
        images.write_bytes(struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">III", 2, 8, 8) + bytes(128))
        label_file.write_bytes(struct.pack(">BBBB", 0, 0, 0x0C, 1) + struct.pack(">I", 2) + struct.pack(fmt, *labels))
        spec = {"name": "idx", "images": str(images), "labels": str(label_file)}
    else:
        np.save(tmp_path / "x.npy", np.zeros((2, 8, 8), np.uint8))
        np.save(tmp_path / "y.npy", np.asarray(labels, dtype=np.int64))
        spec = {"name": "npy", "path": str(tmp_path / "x.npy"), "labels": str(tmp_path / "y.npy")}
    done = subprocess.run([sys.executable, "-c", LOAD_UNDER_A_MEMORY_LIMIT, repr(spec)], capture_output=True, text=True,
                          timeout=300)
    assert "Traceback" not in done.stderr and done.stdout.startswith("REFUSED"), (done.stdout + done.stderr)[-1000:]
