"""Lazy registry entries: metadata now, the import of the target only when a component is built."""
from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass, field

from .errors import AmbiguousName, MissingDependency, UnknownComponent, close_matches, did_you_mean

#: classifiers were registered and asked for as this kind until plugin API 2; asking so still works, with a warning
DEPRECATED_CLASSIFIER_KIND = "language_model"
KINDS = ("embedder", "language_model", "classifier", "gan", "augmenter", "scheduler", "optimizer", "dataset", "callback")


@dataclass(frozen=True)
class Entry:
    """One registered component. ``target`` is ``"module:attr"``, imported on first use."""

    kind: str
    name: str
    target: str
    provider: str  # the plugin (entry point) name; ``provider:name`` always resolves
    distribution: str = ""
    version: str = ""
    summary: str = ""
    tags: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def qualified_name(self) -> str:
        return f"{self.provider}:{self.name}"

    def load(self):
        """Import and return the target (a class or factory)."""
        module_name, _, attr = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            from .plugins import install_hint

            hint = install_hint(exc.name or "", self.distribution)
            raise MissingDependency(
                f"{self.kind} {self.name!r} needs the package {exc.name!r}, which is not installed; "
                f"install it with: {hint}"
            ) from exc
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj


@dataclass
class Registry:
    """Every component the loaded plugins registered, grouped by kind and name."""

    entries: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)
    prefer: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, name) -> provider

    def add(self, entry: Entry) -> None:
        if entry.kind not in KINDS:
            raise ValueError(f"unknown kind {entry.kind!r}{did_you_mean(entry.kind, KINDS)}; kinds are {', '.join(KINDS)}")
        if not entry.name or ":" in entry.name:
            raise ValueError(f"invalid component name {entry.name!r}: use letters, digits, '-', '_' or '.'")
        if ":" not in entry.target:
            raise ValueError(f"target {entry.target!r} of {entry.kind} {entry.name!r} must look like 'package.module:attr'")
        same = self.entries.setdefault((entry.kind, entry.name), [])
        if any(e.provider == entry.provider for e in same):
            raise ValueError(f"plugin {entry.provider!r} registers {entry.kind} {entry.name!r} twice")
        same.append(entry)
        for alias in entry.aliases:
            self.aliases.setdefault((entry.kind, alias), entry.name)

    def remove_provider(self, provider: str) -> None:
        """Forget everything one plugin registered (its registration failed half-way)."""
        for key in list(self.entries):
            self.entries[key] = [e for e in self.entries[key] if e.provider != provider]
            if not self.entries[key]:
                del self.entries[key]

    def all(self, kind: str | None = None) -> list[Entry]:
        out = [e for (k, _), es in self.entries.items() if kind in (None, k) for e in es]
        return sorted(out, key=lambda e: (e.kind, e.name, e.provider))

    def names(self, kind: str | None = None) -> list[str]:
        return sorted({e.name for e in self.all(kind)})

    def entry_for(self, cls: type) -> Entry | None:
        """The entry whose target is ``cls`` (matched by ``module:qualname``, nothing imported)."""
        target = f"{cls.__module__}:{cls.__qualname__}"
        return next((e for e in self.all() if e.target == target), None)

    def find(self, pattern: str = "*", kind: str | None = None, tag: str | None = None) -> list[Entry]:
        """Entries whose name (or ``provider:name``) matches a shell-style pattern."""
        return [
            e for e in self.all(kind)
            if (fnmatch.fnmatchcase(e.name, pattern) or fnmatch.fnmatchcase(e.qualified_name, pattern))
            and (tag is None or tag in e.tags)
        ]

    def kinds_of(self, name: str) -> list[str]:
        provider, _, bare = name.rpartition(":")
        return sorted({e.kind for e in self.all() if e.name == bare and provider in ("", e.provider)})

    def get(self, kind: str, name: str, *, deprecated_kinds: bool = True) -> Entry:
        """Resolve ``name`` or ``provider:name`` within a kind, or raise with the nearest choices.

        With ``deprecated_kinds``, a classifier asked for as a ``language_model`` is found, with a warning.
        """
        provider, _, bare = name.rpartition(":")
        bare = self.aliases.get((kind, bare), bare)
        candidates = self.entries.get((kind, bare), [])
        if provider:
            for e in candidates:
                if e.provider == provider or e.distribution == provider:
                    return e
            if candidates:
                have = ", ".join(e.qualified_name for e in candidates)
                raise UnknownComponent(f"plugin {provider!r} provides no {kind} {bare!r}; available: {have}")
        elif len(candidates) == 1:
            return candidates[0]
        elif len(candidates) > 1:
            chosen = self.prefer.get((kind, bare))
            for e in candidates:
                if e.provider == chosen:
                    return e
            both = " and ".join(repr(e.qualified_name) for e in candidates)
            raise AmbiguousName(
                f"{kind} {bare!r} is registered by {both}; write one of them as 'provider:name', "
                f"or add 'prefer: {{{kind}/{bare}: <provider>}}' to your catalogue"
            )
        if deprecated_kinds and kind == DEPRECATED_CLASSIFIER_KIND and self.kinds_of(name) == ["classifier"]:
            import warnings

            warnings.warn(f"{name!r} is a classifier: ask for kind 'classifier' (classifiers were kind "
                          f"'{DEPRECATED_CLASSIFIER_KIND}' before plugin API 2)", DeprecationWarning, stacklevel=3)
            return self.get("classifier", name)
        raise UnknownComponent(self.unknown_message(kind, name))

    def unknown_message(self, kind: str, name: str) -> str:
        bare = name.rpartition(":")[2]
        msg = f"unknown {kind} {name!r}"
        hits = close_matches(bare, self.names(kind) + [a for (k, a) in self.aliases if k == kind])
        if hits:
            msg += "; did you mean " + " or ".join(repr(h) for h in hits) + "?"
        other = [k for k in self.kinds_of(bare) if k != kind]
        if other:
            msg += f" ({bare!r} is a {' and a '.join(other)}, not a {kind})"
        if not hits and not other:
            known = self.names(kind)
            msg += f"; available: {', '.join(known[:12])}{' ...' if len(known) > 12 else ''}" if known else "; no plugin provides this kind"
        return msg
