"""For plugins that add commands (``register_commands``): the option types and output of nlpzoo's own.

A command built from these reads and refuses values as the built-in ones do: a number out of range is
one line naming the option, text from files or models is printed without obeying control characters,
and a spec argument may be a name, inline YAML or a YAML file.
"""
from __future__ import annotations

import math
import os

import click

from .constraints import SEED_RANGE, Range
from .errors import ConfigError

__all__ = ["Bounded", "COUNT", "SEED", "echo", "example", "read_spec"]


def echo(message="", err: bool = False, nl: bool = True) -> None:
    """``click.echo`` for text that holds data (labels, run names, records): control characters shown, not obeyed."""
    from .text import printable

    click.echo(printable(str(message)), err=err, nl=nl)


def example(line: str) -> str:
    """A command's ``epilog``: ``--help`` ends with ``Example:`` and ``line`` as written (``\\b`` stops click rewrapping it)."""
    return f"\b\nExample:\n  {line}"


class Bounded(click.ParamType):
    """A number option within a :class:`Range` (NaN and infinities refused): one line names the option."""

    def __init__(self, kind: type, bounds: Range):
        self.kind, self.bounds = kind, bounds
        self.name = "integer" if kind is int else "number"

    def convert(self, value, param, ctx):
        if isinstance(value, self.kind) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = self.kind(str(value).strip())
            except (TypeError, ValueError):
                self.fail(f"expected {'an integer' if self.kind is int else 'a number'} {self.bounds}, got {_clip(value)!r}", param, ctx)
        if isinstance(number, float) and not math.isfinite(number):
            self.fail(f"expected a finite number {self.bounds}, got {value}", param, ctx)
        if not self.bounds.contains(number):
            self.fail(f"expected {'an integer' if self.kind is int else 'a number'} {self.bounds}, got {value}", param, ctx)
        return number

    def get_metavar(self, param, ctx=None):
        return "INTEGER" if self.kind is int else "FLOAT"


def _clip(value, n: int = 40) -> str:
    text = str(value)
    return text if len(text) <= n else text[:n - 3] + "..."


#: a seed option (0 to 2**32 - 1) and a count option (1 to a million)
SEED = Bounded(int, SEED_RANGE)
COUNT = Bounded(int, Range(1, 10**6))


def read_spec(spec: str):
    """A component spec from a command-line argument: a YAML file's mapping, inline YAML (``{name: eda}``), or a name."""
    if os.path.isfile(spec):
        from .yamlio import load_yaml

        return dict(load_yaml(spec, "spec"))
    if spec.lstrip().startswith("{"):
        from .yamlio import parse_yaml

        try:
            return parse_yaml(spec, "SPEC")
        except ConfigError as exc:
            raise ConfigError(f"invalid inline spec: {exc.message}", "SPEC") from None
    return spec
