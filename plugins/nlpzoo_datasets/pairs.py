"""The common layouts of sentence-pair corpora: SNLI/MNLI JSON Lines and STS-B TSV.

Both give ``{"text": str, "text_pair": str, ...}`` examples. Neither corpus installs offline here; the
readers take the files as their publishers distribute them.
"""
from __future__ import annotations

import csv
from collections.abc import Iterator

from .readers import JsonlFile, Record
from .scored import ScoredCsv
from .sources import AUTO, MAX_RECORD_BYTES

NO_GOLD_LABEL = "-"  # SNLI and MNLI: the annotators did not agree, so the pair has no label


class SnliJsonl(JsonlFile):
    """SNLI or MNLI JSON Lines (``sentence1``, ``sentence2``, ``gold_label``): entailment, neutral,
    contradiction. Pairs whose ``gold_label`` is ``-`` (no annotator majority) are skipped, as every
    published result does, and counted in the run's dataset record."""

    reader_name = "snli-jsonl"

    def __init__(self, path: str, seed: int = 0, validation: float = 0.1, test: float = 0.1,
                 validation_path: str | None = None, test_path: str | None = None, encoding: str = AUTO,
                 limit: int | None = None, train_limit: int | None = None, stratify: bool = True,
                 max_record_bytes: int = MAX_RECORD_BYTES):
        super().__init__(path, "sentence1", "gold_label", seed, validation, test, validation_path, test_path, encoding,
                         limit, train_limit, stratify, False, max_record_bytes, pair_column="sentence2")
        self.skipped: dict[str, int] = {}

    def records(self, path: str, source: int, rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        self.skipped[path] = 0
        for line, keep in self.lines(path, rank, world_size):
            if not (keep and line.text.strip()):
                continue
            example = self._example(line.text, path, line)
            if example["label"] == NO_GOLD_LABEL:
                self.skipped[path] += 1
                continue
            yield line.offset, example

    def load(self) -> dict:
        splits = super().load()
        self._record["skipped_without_gold_label"] = dict(self.skipped)
        return splits


class StsbTsv(ScoredCsv):
    """STS-B as GLUE distributes it: TSV with ``sentence1``, ``sentence2`` and a ``score`` from 0 to 5, quoting
    off (its sentences hold bare quote marks), for ``bert-regressor``."""

    reader_name = "stsb-tsv"
    quoting = csv.QUOTE_NONE

    def __init__(self, path: str, seed: int = 0, validation: float = 0.1, test: float = 0.1,
                 validation_path: str | None = None, test_path: str | None = None, encoding: str = AUTO,
                 limit: int | None = None, train_limit: int | None = None, max_record_bytes: int = MAX_RECORD_BYTES):
        super().__init__(path, "sentence1", "score", "\t", seed, validation, test, validation_path, test_path, encoding,
                         limit, train_limit, max_record_bytes, pair_column="sentence2")
