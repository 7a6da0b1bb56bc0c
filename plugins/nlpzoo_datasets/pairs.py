"""The common layouts of sentence-pair corpora: SNLI/MNLI JSON Lines and STS-B TSV.

Both give ``{"text": str, "text_pair": str, ...}`` examples. Neither corpus installs offline here; the
readers take the files as their publishers distribute them.
"""
from __future__ import annotations

import csv
from collections.abc import Iterator

from typing import Unpack

from .readers import JsonlFile, Record, TextOptions
from .scored import ScoredCsv

NO_GOLD_LABEL = "-"  # SNLI and MNLI: the annotators did not agree, so the pair has no label


class SnliJsonl(JsonlFile):
    """SNLI or MNLI JSON Lines (``sentence1``, ``sentence2``, ``gold_label``): entailment, neutral,
    contradiction. Pairs whose ``gold_label`` is ``-`` (no annotator majority) are skipped, as every
    published result does, and counted in the run's dataset record."""

    reader_name = "snli-jsonl"

    def __init__(self, path: str, stratify: bool = True, **options: Unpack[TextOptions]):
        super().__init__(path, "sentence1", "gold_label", "sentence2", **options, stratify=stratify, stream=False)
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

    def __init__(self, path: str, **options: Unpack[TextOptions]):
        super().__init__(path, "sentence1", "score", "\t", pair_column="sentence2", **options)
