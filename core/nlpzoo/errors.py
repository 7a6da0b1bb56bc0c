"""Errors that say what was asked, what exists and what to do next."""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable


def close_matches(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The nearest valid names, best first (case-insensitive)."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=0.5)
    return [lowered[h] for h in hits]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    hits = close_matches(word, choices)
    if not hits:
        return ""
    return " (did you mean " + " or ".join(repr(h) for h in hits) + "?)"


PLACE_NOTE = "nlpzoo: in "  # starts the note on an error from plugin code: component, phase, file and line


def located(exc: BaseException) -> str:
    """Where plugin code raised ``exc`` during a run ("model tiny (provider p), training step 3, at f.py:9"), or ""."""
    return next((n[len(PLACE_NOTE):] for n in getattr(exc, "__notes__", ()) if n.startswith(PLACE_NOTE)), "")


class NlpzooError(Exception):
    """Base class: every error the CLI prints as one line."""


class ConfigError(NlpzooError, ValueError):
    """A recipe, spec or catalogue is wrong at a known place.

    ``loc`` is the key path (``model.embedder.vector_size``); ``file`` and ``line`` are filled in
    when the spec came from a YAML file.
    """

    def __init__(self, message: str, loc: str = "", file: str | None = None, line: int | None = None):
        self.message, self.loc, self.file, self.line = message, loc, file, line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        loc = f"{self.loc}: " if self.loc else ""
        text = f"{where}{loc}{self.message}"
        return text.replace("\r", "\\r").replace("\n", "\\n")  # always one line, whatever a value held

    def at(self, file: str | None = None, line: int | None = None, prefix: str = "") -> "ConfigError":
        """The same error, placed in a file and under a parent key path."""
        loc = ".".join(p for p in (prefix, self.loc) if p)
        return type(self)(self.message, loc, file or self.file, line or self.line)


class UnknownComponent(ConfigError, KeyError):
    """A component or preset name that no installed plugin or catalogue entry provides."""

    __str__ = ConfigError.__str__


class AmbiguousName(ConfigError):
    """Two providers register the same kind and name and nothing says which to use."""


class PluginError(NlpzooError, RuntimeError):
    """A plugin failed to load or register (raised only with NLPZOO_STRICT=1)."""


class MissingDependency(NlpzooError, ImportError):
    """A component needs a package that is not installed; the message carries the pip command."""


class AssetError(NlpzooError, OSError):
    """An offline asset is missing or its files do not match their recorded sha256."""


_MODULE_TO_DIST = {"sklearn": "scikit-learn", "yaml": "pyyaml", "PIL": "pillow"}


def install_hint(module: str, distribution: str = "") -> str:
    """The pip command most likely to provide ``module``: an extra of ``distribution`` if one names it."""
    from importlib import metadata

    top = (module or "").split(".")[0]
    dist_of_module = _MODULE_TO_DIST.get(top, top)
    if distribution:
        try:
            requires = metadata.requires(distribution) or []
        except metadata.PackageNotFoundError:
            requires = []
        sizes: dict[str, int] = {}
        matching = []
        for req in requires:
            m = re.match(r"([A-Za-z0-9_.\-]+).*extra\s*==\s*['\"]([^'\"]+)['\"]", req)
            if not m:
                continue
            sizes[m.group(2)] = sizes.get(m.group(2), 0) + 1
            if _normalise(m.group(1)) == _normalise(dist_of_module):
                matching.append(m.group(2))
        if matching:  # the smallest extra that brings the module: [word2vec] rather than [all]
            best = min(matching, key=lambda extra: (sizes[extra], extra))
            return f"pip install '{distribution}[{best}]'"
    return f"pip install {dist_of_module}"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
