"""Declared ranges of numeric parameters, checked by ``validate`` (and so by ``train``) and shown by ``info``.

A constructor argument (or a ``train:`` setting) says its range in its annotation::

    from typing import Annotated
    from nlpzoo import Range

    def __init__(self, lr: Annotated[float, Range(gt=0)] = 1e-3,
                 dropout: Annotated[float, Range(0, lt=1)] = 0.1,
                 layers: Annotated[int, Range(1)] = 2): ...

Positional bounds are inclusive (``Range(0, 1)`` is 0 <= x <= 1); ``gt`` and ``lt`` are exclusive.
NaN is never inside a range. A value outside is refused before anything is built, with the recipe
line: ``r.yaml:4: model.dropout: expected 0 <= dropout < 1, got 1.5``.
"""
from __future__ import annotations

import math
import typing
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    """Bounds of a number: ``ge``/``le`` inclusive (also the positional arguments), ``gt``/``lt`` exclusive."""

    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None

    def __post_init__(self):
        if self.ge is not None and self.gt is not None or self.le is not None and self.lt is not None:
            raise TypeError("give each end of a Range once: ge or gt, le or lt")

    def contains(self, value) -> bool:
        if isinstance(value, float) and math.isnan(value):
            return False
        return ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))

    def describe(self, name: str = "x") -> str:
        """``0 <= dropout < 1``, ``lr > 0``, ``epochs >= 0``."""
        low = f"{_num(self.ge)} <= " if self.ge is not None else f"{_num(self.gt)} < " if self.gt is not None else ""
        high = f" <= {_num(self.le)}" if self.le is not None else f" < {_num(self.lt)}" if self.lt is not None else ""
        if low and not high:  # read "lr > 0", not "0 < lr"
            return f"{name} >= {_num(self.ge)}" if self.ge is not None else f"{name} > {_num(self.gt)}"
        return f"{low}{name}{high}"

    def __str__(self) -> str:
        """``in [0, 1)``, ``> 0``, ``>= 1``: the form ``info`` shows after the type."""
        has_low = self.ge is not None or self.gt is not None
        has_high = self.le is not None or self.lt is not None
        if has_low and has_high:
            left = f"[{_num(self.ge)}" if self.ge is not None else f"({_num(self.gt)}"
            right = f"{_num(self.le)}]" if self.le is not None else f"{_num(self.lt)})"
            return f"in {left}, {right}"
        return self.describe("x").replace("x ", "", 1) if has_low or has_high else "any"


def _num(v) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    if isinstance(v, int) and v >= 10**6 and str(v).rstrip("0") == "1":
        return f"10^{len(str(v)) - 1}"
    if isinstance(v, int) and abs(v) >= 2**31:
        bits = v.bit_length()
        if v == 2**bits - 1:
            return f"2^{bits}-1"
        if v == 2 ** (bits - 1):
            return f"2^{bits - 1}"
    return repr(v) if isinstance(v, float) else str(v)


def ranges_of(annotation) -> list[Range]:
    """The Range constraints in an annotation, looking inside ``Annotated`` (and through ``X | None``)."""
    out = []
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        out += [m for m in meta if isinstance(m, Range)]
        out += ranges_of(base)
    elif origin is typing.Union or type(annotation).__name__ == "UnionType":
        for arg in typing.get_args(annotation):
            out += ranges_of(arg)
    return out


#: a seed: what Python's, NumPy's, gensim's and torch's generators all accept
SEED_RANGE = Range(0, 2**32 - 1)
