"""Starter recipes that ``nlpzoo init TASK`` writes: one commented recipe per task a user starts from.

Each task is one file, ``starters/TASK.yaml``: its first line ``#: summary`` is what ``nlpzoo init``
lists, and the rest is the recipe; ``nlpzoo init`` writes it with ``{file}`` replaced by the file's name.
Every recipe must pass ``nlpzoo validate`` as written and should train in minutes on a laptop's CPU.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FOLDER = Path(__file__).parent / "starters"


@dataclass(frozen=True)
class Starter:
    summary: str
    recipe: str


def names() -> list[str]:
    """The tasks, without reading their files: every command line asks for them."""
    return sorted(path.stem for path in FOLDER.glob("*.yaml"))


def starters() -> dict[str, Starter]:
    """Every task's summary and recipe, by name."""
    out = {}
    for name in names():
        header, _, recipe = (FOLDER / f"{name}.yaml").read_text(encoding="utf-8").partition("\n")
        out[name] = Starter(header.removeprefix("#:").strip(), recipe)
    return out

