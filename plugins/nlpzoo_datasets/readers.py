"""Generic readers for your own data: plain text, CSV/TSV, JSON Lines, Parquet, and folders of one class each.

Every reader yields ``{"text": str}`` examples, with ``"label": str`` when labelled and ``"text_pair": str``
for sentence pairs (``pair_column``; by default ``sentence1``/``sentence2`` or ``premise``/``hypothesis``
when the file has no ``text`` column but those two); labels keep the
names they have in the data, in Unicode normal form NFC (``café`` typed with a combining accent and
without is one label; texts are left as they are). Without ``validation_path``/``test_path`` the examples are split
80/10/10 by ``seed``, stratified by label. With ``stream: true`` nothing is read until a split is
iterated, and each split is a :class:`~nlpzoo_datasets.streams.TextStream` (corpora larger than
memory). Errors name the file and the line.
"""
from __future__ import annotations

import csv
import fnmatch
import glob
import json
import os
import unicodedata
from collections import Counter
from collections.abc import Iterator
from typing import Literal, TypedDict, Unpack

from nlpzoo import ConfigError, did_you_mean

from .base import SPLITS, TextDataset, check_labels_trained, sample
from .sources import (AUTO, MAX_RECORD_BYTES, MAX_RECORD_LIMIT, DataError, LineReader, check_encoding, check_positive, check_regular,
                      mib, read_document)
from .streams import TextStream, check_shard, shard_range, split_of

Record = tuple[int, dict]  # (position in its file: byte offset or row number, example)


class SplitOptions(TypedDict, total=False):
    """What every file reader takes besides its own parameters: how its examples are split and sampled.
    A reader's class attributes of these names are the defaults (``nlpzoo info csv`` shows them)."""

    seed: int
    validation: float  # the fraction of path's examples held out for validation (0 with validation_path)
    test: float
    validation_path: str | None  # a file for the validation split instead of a fraction of path
    test_path: str | None
    limit: int | None  # a seeded sample of that many examples before splitting
    train_limit: int | None  # a seeded sample of the training split
    max_record_bytes: int  # a longer line, row or file is an error naming it


class TextOptions(SplitOptions, total=False):
    """The split options, and the text's encoding (``auto``: detected)."""

    encoding: str


class ReaderOptions(TextOptions, total=False):
    """The text options, and whether splits keep each label's share (``stratify``) or are read lazily (``stream``)."""

    stratify: bool
    stream: bool


class FileDataset(TextDataset):
    """A reader: records from ``path`` split by seed, unless ``validation_path``/``test_path`` give those splits.

    Subclasses implement :meth:`records` for one file and may widen :meth:`expand` (folders, globs).
    """

    path: str
    validation_path: str | None = None
    test_path: str | None = None
    encoding: str = AUTO
    stratify: bool = True
    stream: bool = False
    max_record_bytes: int = MAX_RECORD_BYTES
    reader_name = "file"

    def _common(self, path, options: dict) -> None:
        """``path`` and the reader's options (a :class:`ReaderOptions`): given values over the class's defaults."""
        if not isinstance(path, str) or not path:
            raise ConfigError(f"expected a file path, got {path!r}", "path")
        unknown = sorted(set(options) - ReaderOptions.__optional_keys__)
        if unknown:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}")
        self.path = path
        for key, value in options.items():
            setattr(self, key, value)
        self.encoding = check_encoding(self.encoding)
        stream, limit, train_limit, max_record_bytes = self.stream, self.limit, self.train_limit, self.max_record_bytes
        self.check_common()
        check_positive(max_record_bytes, "max_record_bytes", "a size in bytes")
        if max_record_bytes > MAX_RECORD_LIMIT:
            raise ConfigError(f"expected at most {mib(MAX_RECORD_LIMIT)}, got {mib(max_record_bytes)}: the tokenizers "
                              "take about 170 bytes of memory per byte of a record (a 20 MB line took 3.3 GB) and "
                              "abort the process on a 50 MB one; split such records instead", "max_record_bytes")
        if stream and (limit is not None or train_limit is not None):
            key = "limit" if limit is not None else "train_limit"
            raise ConfigError("limit and train_limit sample from all the examples in memory; a streamed dataset "
                              "has no such list (drop them, or set stream: false)", key)
        self._encodings: dict[str, str] = {}

    # -- what subclasses provide
    def records(self, path: str, source: int, rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        """The examples of one file, each with its position in the file (what the stream split hashes)."""
        raise NotImplementedError

    def expand(self, path: str) -> list[str]:
        """The files ``path`` names (readers of folders and globs give several)."""
        return [path]

    # -- files
    def paths(self) -> list[str]:
        return self.expand(self.path)

    def files(self) -> list[str]:
        fixed = [f for p in (self.validation_path, self.test_path) if p for f in self.expand(p)]
        return [*self.paths(), *fixed]

    def read_all(self, path: str) -> list[dict]:
        files = self.expand(path)
        return [ex for source, f in enumerate(files) for _, ex in self.records(f, source)]

    def examples(self) -> list[dict]:
        return self.read_all(self.path)

    def fixed(self) -> dict[str, str | None]:
        return {"validation": self.validation_path, "test": self.test_path}

    def fractions(self) -> tuple[float, float]:
        """Validation and test fractions of ``path`` (0 for a split that has its own file)."""
        return (0.0 if self.validation_path else self.validation), (0.0 if self.test_path else self.test)

    # -- Dataset
    def load(self) -> dict:
        if self.stream:
            self._record = self._stream_record()
            return {name: TextStream(self, name) for name in SPLITS}
        validation, test = self.fractions()
        splits = self.split(sample(self.examples(), self.limit, f"limit-{self.seed}"), validation, test)
        for name, p in self.fixed().items():
            if p:
                splits[name] = self.read_all(p)
        splits["train"] = sample(splits["train"], self.train_limit, f"train-limit-{self.seed}")
        if not splits["train"]:
            raise DataError("no examples to train on" + (" (the file is empty?)" if not any(splits.values()) else ""),
                            file=self.path)
        check_labels_trained(splits, self.path)
        self._record = self.record(splits, reader=self.reader_name, encodings=self._encoding_summary(),
                                   **self._fixed_record())
        self._record["split"]["validation"], self._record["split"]["test"] = validation, test
        return splits

    def _fixed_record(self) -> dict:
        fixed = {f"{name}_path": p for name, p in self.fixed().items() if p}
        return {"fixed_splits": fixed} if fixed else {}

    def _stream_record(self) -> dict:
        validation, test = self.fractions()
        return {"reader": self.reader_name, "stream": True, **self._fixed_record(),
                "split": {"method": "hash of (seed, file, position)", "seed": self.seed, "validation": validation,
                          "test": test}}

    def iter_split(self, split: str, rank: int = 0, world_size: int = 1) -> Iterator[dict]:
        """One pass over ``split`` (this process's shard of it): what a :class:`TextStream` iterates."""
        check_shard(rank, world_size)
        fixed = self.fixed().get(split)
        if fixed:
            for source, f in enumerate(self.expand(fixed)):
                for _, ex in self.records(f, source, rank, world_size):
                    yield ex
            return
        validation, test = self.fractions()
        for source, f in enumerate(self.paths()):
            for position, ex in self.records(f, source, rank, world_size):
                if split_of(self.seed, source, position, validation, test) == split:
                    yield ex

    # -- helpers for line-based formats
    def lines(self, path: str, rank: int, world_size: int):
        """``(line, keep)`` pairs: this process's byte range of a plain file, else every line with
        ``keep`` true for this process's share (compressed or UTF-16 files cannot be entered mid-way)."""
        reader = LineReader(path, self.encoding, self.max_record_bytes)
        try:
            if world_size == 1:
                for line in reader.lines():
                    yield line, True
            elif reader.splittable:
                start, end = shard_range(os.path.getsize(path), rank, world_size)
                for line in reader.lines(start, end):
                    yield line, True
            else:
                for i, line in enumerate(reader.lines()):
                    yield line, i % world_size == rank
        finally:
            self._encodings[path] = reader.encoding if reader.switched is None else \
                f"utf-8, then {reader.switched[1]} from line {reader.switched[0]}"

    def _encoding_summary(self) -> dict:
        counts = Counter(self._encodings.values())
        if len(counts) <= 1 or len(self._encodings) <= 20:
            return dict(sorted(self._encodings.items())) if len(self._encodings) <= 20 else dict(counts)
        usual = counts.most_common(1)[0][0]
        odd = {p: e for p, e in sorted(self._encodings.items()) if e != usual}
        return {"files": dict(counts), "not " + usual: dict(list(odd.items())[:20])}


# ---------------------------------------------------------------- plain text


class TextFile(FileDataset):
    """Plain text. ``mode: line``: one example per non-empty line; ``mode: file``: one per file.

    ``path`` may be a file, a folder (its ``*.txt`` files) or a glob pattern. With ``label_prefix``
    (fastText style, ``__label__pos some text``) each line starts with its label.
    """

    reader_name = "text-file"

    def __init__(self, path: str, mode: Literal["line", "file"] = "line", label_prefix: str | None = None,
                 **options: Unpack[ReaderOptions]):
        if label_prefix is not None and mode != "line":
            raise ConfigError("label_prefix needs mode: line", "label_prefix")
        if label_prefix == "":
            raise ConfigError("expected a prefix such as __label__, got an empty string", "label_prefix")
        self.mode, self.label_prefix = mode, label_prefix
        self._common(path, options)

    def expand(self, path: str) -> list[str]:
        if os.path.isdir(path):
            found = sorted(f for f in glob.glob(os.path.join(path, "*.txt")) if os.path.isfile(f))
            if not found:
                raise DataError("no *.txt files in this folder", file=path)
            return found
        if any(ch in path for ch in "*?["):
            found = sorted(f for f in glob.glob(path) if os.path.isfile(f))
            if not found:
                raise DataError("no files match this pattern", file=path)
            return found
        return [path]

    def records(self, path: str, source: int, rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        if self.mode == "file":
            if world_size > 1 and source % world_size != rank:
                return
            text, self._encodings[path] = read_document(path, self.encoding, self.max_record_bytes)
            text = text.strip()
            if text:
                yield 0, {"text": text}
            return
        for line, keep in self.lines(path, rank, world_size):
            if not keep:
                continue
            text = line.text.strip()
            if not text:
                continue
            if self.label_prefix is None:
                yield line.offset, {"text": text}
            else:
                yield line.offset, _prefixed(text, self.label_prefix, path, line)


def _prefixed(text: str, prefix: str, path: str, line) -> dict:
    head, _, rest = text.partition(" ")
    if not head.startswith(prefix) or len(head) == len(prefix):
        raise DataError(f"expected the line to start with {prefix}LABEL, got {text[:40]!r}", file=path,
                        line=line.number or 0)
    if not rest.strip():
        raise DataError(f"no text after the label {head!r}", file=path, line=line.number or 0)
    return {"text": rest.strip(), "label": nfc(head[len(prefix):])}


# ---------------------------------------------------------------- CSV


class CsvFile(FileDataset):
    """CSV or TSV (by extension, or ``delimiter``) with a header row; ``.gz``/``.bz2`` are read too.

    ``label_column: null`` reads unlabelled text. Empty texts or labels and rows with the wrong number
    of fields are errors that name the file and line. Rows may span lines (quoted newlines), so a
    streamed CSV is shared between processes row by row, each reading the whole file.
    """

    reader_name = "csv"
    quoting = csv.QUOTE_MINIMAL

    def __init__(self, path: str, text_column: str = "text", label_column: str | None = "label",
                 delimiter: str | None = None, pair_column: str | None = None, **options: Unpack[ReaderOptions]):
        if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"\r\n"):
            raise ConfigError(f"expected one character such as ',', ';', '|' or a tab, got {delimiter!r}"
                              + (" (null: by the file's extension)" if delimiter == "" else ""), "delimiter")
        _distinct(text_column, label_column, "text_column", "label_column")
        self.text_column, self.label_column, self.delimiter = text_column, label_column, delimiter
        self.pair_column = pair_column
        self._common(path, options)

    def columns(self, path: str | None = None) -> list[str]:
        """The header of ``path`` (the main file by default)."""
        path = path or self.paths()[0]
        for header, _ in self._rows(path, 0, 1, header_only=True):
            return header
        return []

    def records(self, path: str, source: int, rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        rows = self._rows(path, rank, world_size)
        header, _ = next(rows)
        names = [name.strip().lstrip("\ufeff") for name in header]  # a BOM read as text
        columns: dict[str, int] = {}
        for i, name in enumerate(names):
            columns.setdefault(name, i)
        text_column, pair_column = pair_layout(columns, self.text_column, self.pair_column)
        for column in (text_column, pair_column, self.label_column):
            if column is not None and names.count(column) > 1:
                where = " and ".join(str(i + 1) for i, name in enumerate(names) if name == column)
                raise DataError(f"column {column!r} appears twice in the header (columns {where}); rename one",
                                file=path, line=1)
        for key, column in (("text_column", text_column), ("pair_column", pair_column),
                            ("label_column", self.label_column)):
            if column is not None and column not in columns:
                hint = "; set label_column: null for unlabelled text" if key == "label_column" else ""
                raise DataError(f"no column {column!r}{did_you_mean(column, columns)}; columns: "
                                f"{', '.join(columns)}{hint}", key, file=path, line=1)
        ti = columns[text_column]
        li = columns[self.label_column] if self.label_column is not None else None
        for row, (number, offset) in rows:
            if len(row) != len(header):
                raise DataError(f"row has {len(row)} fields, the header has {len(header)}"
                                + (" (an unquoted delimiter in the text?)" if len(row) > len(header) else ""),
                                file=path, line=number)
            text = row[ti].strip()
            if not text:
                raise DataError(f"empty {text_column!r}", file=path, line=number)
            example = {"text": text}
            if pair_column is not None:
                example["text_pair"] = second_text(row[columns[pair_column]], pair_column, path, number)
            if li is not None:
                label = row[li].strip()
                if not label:
                    raise DataError(f"empty {self.label_column!r}", file=path, line=number)
                example["label"] = nfc(label)
            yield offset, example

    def _rows(self, path: str, rank: int, world_size: int, header_only: bool = False):
        """The header, then ``(row, (first line, its offset))`` for this process's rows."""
        bare = path.removesuffix(".gz").removesuffix(".bz2")
        delimiter = self.delimiter or ("\t" if bare.endswith((".tsv", ".tab")) else ",")
        reader = LineReader(path, self.encoding, self.max_record_bytes)
        first: list = [None]  # (number, offset) of the first line of the row being read

        def texts():
            for number, offset, text in reader.lines():
                if first[0] is None:
                    first[0] = (number, offset)
                yield text

        previous = csv.field_size_limit(self.max_record_bytes)  # a runaway quote stops at the record limit
        rows = csv.reader(texts(), delimiter=delimiter, strict=True, quoting=self.quoting)
        try:
            header = next(rows, None)
            if header is None:
                raise DataError("empty file, expected a header row", file=path, line=1)
            yield header, None
            if header_only:
                return
            index = 0
            first[0] = None
            for row in rows:
                start, first[0] = first[0], None
                if not row or row == [""]:
                    continue
                if world_size == 1 or index % world_size == rank:
                    yield row, start
                index += 1
        except csv.Error as exc:
            number = first[0][0] if first[0] else 1
            if "field larger than field limit" in str(exc):
                raise DataError(f"a field longer than max_record_bytes, {mib(self.max_record_bytes)} (an unclosed "
                                "quote?); raise max_record_bytes if the file really holds such fields",
                                file=path, line=number) from None
            raise DataError(f"malformed CSV: {exc}", file=path, line=number) from None
        finally:
            csv.field_size_limit(previous)
            self._encodings[path] = reader.encoding


# ---------------------------------------------------------------- JSON Lines


class JsonlFile(FileDataset):
    """JSON Lines: one object per line with the field ``text_column`` and (unless null) ``label_column``.

    Labels may be strings, integers or booleans and become strings. Blank lines are skipped; anything
    else that is not such an object is an error naming the file and line.
    """

    reader_name = "jsonl"
    #: the names these had before every reader called a field a column; still read, with a warning
    renamed_parameters = {"text_field": "text_column", "label_field": "label_column", "pair_field": "pair_column"}

    def __init__(self, path: str, text_column: str = "text", label_column: str | None = "label",
                 pair_column: str | None = None, **options: Unpack[ReaderOptions]):
        _distinct(text_column, label_column, "text_column", "label_column")
        self.text_column, self.label_column, self.pair_column = text_column, label_column, pair_column
        self._common(path, options)

    def records(self, path: str, source: int, rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        for line, keep in self.lines(path, rank, world_size):
            if keep and line.text.strip():
                yield line.offset, self._example(line.text, path, line)

    def _example(self, text: str, path: str, line) -> dict:
        number = line.number
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=path, line=number) from None
        except RecursionError:
            raise DataError("invalid JSON: nested too deeply", file=path, line=number) from None
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, got {type(obj).__name__}", file=path, line=number)
        text_column, pair_column = pair_layout(obj, self.text_column, self.pair_column)
        for key, field in (("text_column", text_column), ("pair_column", pair_column)):
            if field is not None and field not in obj:
                raise DataError(f"no field {field!r}{did_you_mean(field, obj)}; fields: {', '.join(obj)}", key,
                                file=path, line=number)
        value = obj[text_column]
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{text_column!r} must be non-empty text, got {value!r}"[:120], file=path, line=number)
        example = {"text": value.strip()}
        if pair_column is not None:
            example["text_pair"] = second_text(obj[pair_column], pair_column, path, number)
        if self.label_column is not None:
            if self.label_column not in obj:
                raise DataError(f"no field {self.label_column!r}{did_you_mean(self.label_column, obj)}; fields: "
                                f"{', '.join(obj)}; set label_column: null for unlabelled text", "label_column",
                                file=path, line=number)
            example["label"] = _label(obj[self.label_column], repr(self.label_column), path, number)
        return example


#: the second-text layouts a reader finds by itself when the file has no ``text`` column (GLUE, SNLI, MNLI)
PAIR_LAYOUTS = (("sentence1", "sentence2"), ("premise", "hypothesis"))


def pair_layout(columns, text: str, pair: str | None) -> tuple[str, str | None]:
    """The text and second-text columns: as configured, or a common pair layout when the text column is
    left at its default ``text`` and the file has none."""
    if pair is None and text == "text" and "text" not in columns:
        for first, second in PAIR_LAYOUTS:
            if first in columns and second in columns:
                return first, second
    return text, pair


def second_text(value, column: str, path: str, line: int | None, where: str = "") -> str:
    """A sentence pair's second text: non-empty, or one line naming the file and line (``where``: the row)."""
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}{column!r}, the second text of a sentence pair, must be non-empty text, "
                        f"got {value!r}"[:160], "pair_column", file=path, line=line)
    return value.strip()


def _label(value, name: str, path: str, line: int | None) -> str:
    if isinstance(value, list):
        raise DataError(f"{name} holds a list of labels ({str(value)[:40]}), expected one label per text (for "
                        "several labels per text use multilabel-jsonl with a multi-label classifier)", file=path, line=line)
    if isinstance(value, bool):
        value = str(value).lower()
    if not isinstance(value, (str, int)) or str(value).strip() == "":
        raise DataError(f"{name} must be a string or an integer, got {value!r}"[:120], file=path, line=line)
    return nfc(str(value).strip())


def nfc(label: str) -> str:
    """A label in Unicode normal form NFC: the same word typed two ways is one class."""
    return unicodedata.normalize("NFC", label)


def _distinct(text: str | None, label: str | None, text_key: str, label_key: str) -> None:
    if label is not None and text == label:
        raise ConfigError(f"{text_key} and {label_key} name the same column {text!r}: the model would read its "
                          f"labels as its texts; name the text column", text_key)


# ---------------------------------------------------------------- Parquet


class ParquetFile(FileDataset):
    """Parquet (needs pyarrow: ``pip install 'nlpzoo[parquet]'``) with a text column and an optional label column.

    Read in batches of rows; a streamed file is shared between processes by row group when it has
    enough of them. Positions in errors are row numbers (1-based).
    """

    reader_name = "parquet"
    encoding = "utf-8"  # Parquet stores its own text types: no encoding option

    def __init__(self, path: str, text_column: str = "text", label_column: str | None = "label",
                 pair_column: str | None = None, stratify: bool = True, stream: bool = False,
                 **options: Unpack[SplitOptions]):
        _distinct(text_column, label_column, "text_column", "label_column")
        self.text_column, self.label_column, self.pair_column = text_column, label_column, pair_column
        self._common(path, {**options, "stratify": stratify, "stream": stream})

    def _open(self, path: str):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            from nlpzoo import MissingDependency

            raise MissingDependency("the parquet reader needs pyarrow: pip install 'nlpzoo[parquet]'") from None
        check_regular(path)
        try:
            return pq.ParquetFile(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError and others for bad files
            raise DataError(f"not a readable Parquet file ({str(exc).strip().splitlines()[0][:160]})", file=path) from None

    def columns(self, path: str | None = None) -> list[str]:
        return list(self._open(path or self.paths()[0]).schema_arrow.names)

    def records(self, path: str, source: int, rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        pf = self._open(path)
        columns = list(pf.schema_arrow.names)
        text_column, pair_column = pair_layout(columns, self.text_column, self.pair_column)
        for key, column in (("text_column", text_column), ("pair_column", pair_column),
                            ("label_column", self.label_column)):
            if column is not None and column not in columns:
                hint = "; set label_column: null for unlabelled text" if key == "label_column" else ""
                raise DataError(f"no column {column!r}{did_you_mean(column, columns)}; columns: "
                                f"{', '.join(columns)}{hint}", key, file=path)
        wanted = [c for c in (text_column, pair_column, self.label_column) if c is not None]
        groups = list(range(pf.num_row_groups))
        by_group = world_size > 1 and len(groups) >= world_size
        if by_group:
            groups = groups[rank::world_size]
        first_rows = [0]
        for g in range(pf.num_row_groups):
            first_rows.append(first_rows[-1] + pf.metadata.row_group(g).num_rows)
        try:
            for g in groups:
                row = first_rows[g]
                for batch in pf.iter_batches(batch_size=1024, row_groups=[g], columns=wanted):
                    data = batch.to_pydict()
                    texts = data[text_column]
                    labels = data[self.label_column] if self.label_column is not None else None
                    for i, text in enumerate(texts):
                        row += 1
                        if world_size > 1 and not by_group and (row - 1) % world_size != rank:
                            continue
                        example = self._example(text, labels[i] if labels is not None else None, path, row,
                                                text_column)
                        if pair_column is not None:
                            example["text_pair"] = second_text(data[pair_column][i], pair_column, path, None,
                                                               where=f"row {row}: ")
                        yield row, example
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - a corrupt page surfaces only while reading
            raise DataError(f"corrupt Parquet data ({str(exc).strip().splitlines()[0][:160]})", file=path) from None

    def _example(self, text, label, path: str, row: int, text_column: str) -> dict:
        where = f"row {row}: "
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}{text_column!r} must be non-empty text, got {text!r}"[:140], file=path)
        if len(text) > self.max_record_bytes // 4 and len(text.encode("utf-8")) > self.max_record_bytes:
            raise DataError(f"{where}a text longer than max_record_bytes, {mib(self.max_record_bytes)}; raise "
                            "max_record_bytes if the file really holds such records", file=path)
        example = {"text": text.strip()}
        if self.label_column is not None:
            example["label"] = _label(label, f"{where}{self.label_column!r}", path, None)
        return example


# ---------------------------------------------------------------- folders of one class each


class TextFolder(FileDataset):
    """A folder with one subfolder per label, each holding one text per file (``path/<label>/*.txt``).

    The layout of many public corpora (IMDb's ``aclImdb/train/{pos,neg}``, BBC News, 20 Newsgroups
    with ``pattern: '*'``). ``labels`` picks which subfolders to read (others, such as IMDb's
    ``unsup``, are left out); by default every subfolder is a label. Each file is read with its own
    encoding under ``encoding: auto``. ``validation_path``/``test_path`` are folders of the same layout.
    """

    reader_name = "text-folder"

    def __init__(self, path: str, labels: list[str] | None = None, pattern: str = "*.txt",
                 **options: Unpack[ReaderOptions]):
        if labels is not None and (not labels or len(set(labels)) != len(labels)):
            raise ConfigError(f"expected a list of distinct subfolder names, got {labels!r}", "labels")
        if not pattern or os.sep in pattern:
            raise ConfigError(f"expected a file-name pattern such as '*.txt' or '*', got {pattern!r}", "pattern")
        self.labels, self.pattern = labels, pattern
        self._common(path, options)

    def classes(self, root: str) -> list[str]:
        if not os.path.isdir(root):
            raise DataError("not a folder" if os.path.exists(root) else "folder not found", file=root)
        present = sorted(d for d in os.listdir(root) if not d.startswith(".") and os.path.isdir(os.path.join(root, d)))
        for name in present:
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:  # bytes the file system could not decode, kept as surrogates
                shown = os.fsencode(name).decode("utf-8", "backslashreplace")
                raise DataError(f"the folder name {shown!r} is not UTF-8, so it cannot be a label; rename it "
                                "(e.g. with convmv -f latin1 -t utf-8)", file=root) from None
        if self.labels is None:
            if not present:
                raise DataError("no subfolders: expected one folder per label, each holding that label's files "
                                "(for a folder of unlabelled files use text-file)", file=root)
            return present
        for label in self.labels:
            if label not in present:
                raise DataError(f"no folder {label!r}{did_you_mean(label, present)}; folders: {', '.join(present)}",
                                "labels", file=root)
        return list(self.labels)

    def expand(self, path: str) -> list[str]:
        out = []
        for label in self.classes(path):
            folder = os.path.join(path, label)
            names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
            files = [os.path.join(folder, n) for n in names
                     if fnmatch.fnmatch(n, self.pattern) and os.path.isfile(os.path.join(folder, n))]
            if not files:
                others = f" (it holds {len(names)} other entr{'ies' if len(names) != 1 else 'y'}; set pattern: '*')" \
                    if names else ""
                raise DataError(f"no {self.pattern} files for label {label!r}{others}", file=folder)
            out += files
        return out

    def records(self, path: str, source: int, rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        if world_size > 1 and source % world_size != rank:
            return
        text, self._encodings[path] = read_document(path, self.encoding, self.max_record_bytes)
        text = text.strip()
        if text:
            yield 0, {"text": text, "label": nfc(os.path.basename(os.path.dirname(path)))}
