"""Lazy registry entries: metadata now, the import of the target only when a component is built.

Name rules, so that installing a plugin never changes what an existing recipe means:

- ``provider:name`` always resolves to that provider's entry.
- A bare name means the entry of that name; an alias is looked at only when no entry has that name.
- When several plugins register a name, ``prefer:`` in a catalogue decides; otherwise the entry of
  nlpzoo's own distribution keeps the bare name; otherwise the name is ambiguous (an error naming both).
"""
from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass, field

from .errors import AmbiguousName, MissingDependency, PluginError, UnknownComponent, close_matches, did_you_mean, install_hint

#: classifiers were registered and asked for as this kind until plugin API 2; asking so still works, with a warning
DEPRECATED_CLASSIFIER_KIND = "language_model"
KINDS = ("embedder", "language_model", "classifier", "multilabel_classifier", "regressor", "tagger", "gan", "augmenter", "scheduler", "optimizer", "dataset", "callback")
CORE_DISTRIBUTION = "nlpzoo"  # names registered by nlpzoo's own plugins keep their bare meaning


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
    where: str = ""  # file:line of the plugin's register call

    @property
    def qualified_name(self) -> str:
        return f"{self.provider}:{self.name}"

    def load(self):
        """Import and return the target (a class or factory); one clear error naming the plugin's line if not."""
        module_name, _, attr = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                raise self._broken(f"module {exc.name!r} is not found") from None  # the target itself is wrong
            hint = install_hint(exc.name or "", self.distribution)
            raise MissingDependency(f"{self.kind} {self.name!r} needs the package {exc.name!r}, which is not "
                                    f"installed; install it with: {hint}") from exc
        except Exception as exc:  # noqa: BLE001 - the plugin's module failed while importing
            raise self._broken(f"{type(exc).__name__}: {exc}") from None
        obj = module
        for part in attr.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                near = did_you_mean(part, [a for a in dir(obj) if not a.startswith("_")])
                raise self._broken(f"{getattr(obj, '__name__', module_name)!r} has no attribute {part!r}{near}") from None
        return obj

    def _broken(self, reason: str) -> PluginError:
        where = f" at {self.where}" if self.where else ""
        return PluginError(f"{self.kind} {self.name!r} of plugin {self.provider!r} (registered{where}) has target "
                           f"{self.target!r}, which does not import: {reason}; fix the target or the module")


def a_kind(kind: str) -> str:
    """``a classifier``, ``an augmenter``, ``an embedder``: kinds in running text."""
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


@dataclass
class Registry:
    """Every component the loaded plugins registered, grouped by kind and name."""

    entries: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)
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

    def aliases(self, kind: str | None = None) -> dict[tuple[str, str], list[Entry]]:
        """``(kind, alias) -> entries`` for aliases that are not also a name (names beat aliases)."""
        out: dict[tuple[str, str], list[Entry]] = {}
        for e in self.all(kind):
            for alias in e.aliases:
                if (e.kind, alias) not in self.entries:
                    out.setdefault((e.kind, alias), []).append(e)
        return out

    def entry_for(self, cls: type) -> Entry | None:
        """The entry whose target is ``cls`` (matched by ``module:qualname``, nothing imported)."""
        target = f"{cls.__module__}:{cls.__qualname__}"
        return next((e for e in self.all() if e.target == target), None)

    def find(self, pattern: str = "*", kind: str | None = None, tag: str | None = None) -> list[Entry]:
        """Entries whose name, ``provider:name`` or an alias matches a shell-style pattern."""
        return [
            e for e in self.all(kind)
            if any(fnmatch.fnmatchcase(n, pattern) for n in (e.name, e.qualified_name, *e.aliases))
            and (tag is None or tag in e.tags)
        ]

    def kinds_of(self, name: str) -> list[str]:
        """The kinds under which ``name`` (or ``provider:name``, or an alias) resolves."""
        provider, _, bare = name.rpartition(":")
        return sorted({e.kind for e in self.all() if (bare == e.name or bare in e.aliases) and provider in ("", e.provider)})

    def get(self, kind: str, name: str, *, deprecated_kinds: bool = True) -> Entry:
        """Resolve ``name`` or ``provider:name`` within a kind, or raise with the nearest choices.

        With ``deprecated_kinds``, a classifier asked for as a ``language_model`` is found, with a warning.
        """
        provider, _, bare = name.rpartition(":")
        candidates = self.entries.get((kind, bare)) or self.aliases(kind).get((kind, bare), [])
        if provider:
            for e in candidates:
                if e.provider == provider or e.distribution == provider:
                    return e
            if candidates:
                have = ", ".join(e.qualified_name for e in candidates)
                raise UnknownComponent(f"plugin {provider!r} provides no {kind} {bare!r}; available: {have}")
        elif candidates:
            return self._choose(kind, bare, candidates)
        if deprecated_kinds and kind == DEPRECATED_CLASSIFIER_KIND and self.kinds_of(name) == ["classifier"]:
            import warnings

            warnings.warn(f"{name!r} is a classifier: ask for kind 'classifier' (classifiers were kind "
                          f"'{DEPRECATED_CLASSIFIER_KIND}' before plugin API 2)", DeprecationWarning, stacklevel=3)
            return self.get("classifier", name)
        raise UnknownComponent(self.unknown_message((kind,), name))

    def _choose(self, kind: str, bare: str, candidates: list[Entry]) -> Entry:
        chosen = self.prefer.get((kind, bare))
        if chosen is not None:
            for e in candidates:
                if chosen in (e.provider, e.distribution):
                    return e
            have = ", ".join(e.provider for e in candidates)
            raise UnknownComponent(f"prefer: {kind}/{bare} names provider {chosen!r}, which registers no {kind} "
                                   f"{bare!r}{did_you_mean(chosen, [e.provider for e in candidates])}; providers: {have}")
        if len(candidates) == 1:
            return candidates[0]
        core = [e for e in candidates if e.distribution == CORE_DISTRIBUTION]
        if len(core) == 1:
            return core[0]
        both = " and ".join(repr(e.qualified_name) for e in candidates)
        raise AmbiguousName(f"{kind} {bare!r} is registered by {both}; write one of them as 'provider:name', "
                            f"or add 'prefer: {{{kind}/{bare}: <provider>}}' to your catalogue")

    def unknown_message(self, kinds: tuple[str, ...] | list[str], name: str) -> str:
        """Why ``name`` resolves under none of ``kinds``: the nearest names, or the kinds it does exist as."""
        kinds = tuple(kinds) or KINDS
        bare = name.rpartition(":")[2]
        asked = " or ".join(kinds) if len(kinds) <= 2 else f"{', '.join(kinds[:-1])} or {kinds[-1]}" if len(kinds) <= 4 else "component"
        msg = f"unknown {asked} {name!r}"
        known = sorted({n for k in kinds for n in self.names(k)} | {a for k in kinds for (_, a) in self.aliases(k)})
        hits = close_matches(bare, known)
        if hits:
            msg += "; did you mean " + " or ".join(repr(h) for h in hits) + "?"
        other = [k for k in self.kinds_of(bare) if k not in kinds]
        if other:
            msg += f" ({bare!r} is {' and '.join(a_kind(k) for k in other)}" + (f", not {a_kind(kinds[0])})" if len(kinds) == 1 else ")")
        if not hits and not other:
            msg += f"; available: {', '.join(known[:12])}{' ...' if len(known) > 12 else ''}" if known else "; no plugin provides this kind"
        return msg
