"""Texts with a number each, for regressors: CSV or TSV with a numeric target column.

Examples are ``{"text": str, "target": float}`` (with ``"text_pair"`` for sentence pairs, as in
:mod:`nlpzoo_datasets.readers`). A target that is not a finite number is an error
naming the file and line; splits are seeded, not stratified (a number is not a class).
"""
from __future__ import annotations

import math
from collections.abc import Iterator

from nlpzoo import did_you_mean

from typing import Unpack

from .readers import CsvFile, Record, TextOptions, pair_layout, second_text
from .sources import DataError


class ScoredCsv(CsvFile):
    """CSV (TSV for ``.tsv``/``.tab``, or ``delimiter``) with a header, a text column and a numeric ``target_column``."""

    reader_name = "scored-csv"

    def __init__(self, path: str, text_column: str = "text", target_column: str = "target",
                 delimiter: str | None = None, pair_column: str | None = None, **options: Unpack[TextOptions]):
        super().__init__(path, text_column, target_column, delimiter, pair_column, **options, stratify=False,
                         stream=False)
        self.target_column = target_column

    def records(self, path: str, source: int, rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        rows = self._rows(path, rank, world_size)
        header, _ = next(rows)
        columns = {name.strip().lstrip("\ufeff"): i for i, name in enumerate(header)}
        text_column, pair_column = pair_layout(columns, self.text_column, self.pair_column)
        for key, column in (("text_column", text_column), ("pair_column", pair_column),
                            ("target_column", self.target_column)):
            if column is not None and column not in columns:
                raise DataError(f"no column {column!r}{did_you_mean(column, columns)}; columns: {', '.join(columns)}",
                                key, file=path, line=1)
        ti, vi = columns[text_column], columns[self.target_column]
        for row, (number, offset) in rows:
            if len(row) != len(header):
                raise DataError(f"row has {len(row)} fields, the header has {len(header)}", file=path, line=number)
            text, value = row[ti].strip(), row[vi].strip()
            if not text:
                raise DataError(f"empty {text_column!r}", file=path, line=number)
            try:
                target = float(value)
            except ValueError:
                target = math.nan
            if not math.isfinite(target):
                raise DataError(f"{self.target_column!r} is {value[:40]!r}, not a number; a regressor needs a number "
                                "in every row", "target_column", file=path, line=number)
            pair = {} if pair_column is None else \
                {"text_pair": second_text(row[columns[pair_column]], pair_column, path, number)}
            yield offset, {"text": text, **pair, "target": target}
