"""Plugin manager that survives its plugins.

pluggy's ``load_setuptools_entrypoints`` stops at the first plugin that fails to import. Here each
entry point of group ``nlpzoo`` is imported and registered on its own; a failure is recorded with its
cause and a fix, and the rest still load. ``NLPZOO_PLUGINS=a,b`` limits which plugins load (empty:
none); ``NLPZOO_STRICT=1`` turns any failure into an error.
"""
from __future__ import annotations

import importlib.metadata as metadata
import os
import re
import time
import traceback
from dataclasses import dataclass, field

import pluggy

from . import hookspecs
from .errors import PluginError
from .registry import Entry, Registry

GROUP = "nlpzoo"


@dataclass
class PluginHealth:
    """One row of ``nlpzoo plugins``."""

    name: str
    distribution: str
    version: str
    module: str
    status: str = "ok"  # ok | failed | disabled
    error: str = ""
    hint: str = ""
    import_ms: float = 0.0
    components: int = 0
    presets: int = 0


@dataclass
class PresetDecl:
    name: str
    provider: str
    fields: dict = field(default_factory=dict)


def install_hint(module: str, distribution: str = "") -> str:
    """The pip command most likely to provide ``module``: an extra of ``distribution`` if one names it."""
    top = (module or "").split(".")[0]
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
            if _normalise(m.group(1)) == _normalise(_dist_for_module(top)):
                matching.append(m.group(2))
        if matching:  # the smallest extra that brings the module: [word2vec] rather than [all]
            best = min(matching, key=lambda extra: (sizes[extra], extra))
            return f"pip install '{distribution}[{best}]'"
    return f"pip install {_dist_for_module(top)}"


_MODULE_TO_DIST = {"sklearn": "scikit-learn", "yaml": "pyyaml", "PIL": "pillow"}


def _dist_for_module(module: str) -> str:
    return _MODULE_TO_DIST.get(module, module)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class PluginManager:
    """Loads plugins from entry points (or from objects handed to it) into a :class:`Registry`."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("nlpzoo")
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.health: dict[str, PluginHealth] = {}
        self.presets: list[PresetDecl] = []
        self.strict = os.environ.get("NLPZOO_STRICT", "") not in ("", "0")

    def load_entry_points(self) -> "PluginManager":
        only = os.environ.get("NLPZOO_PLUGINS")
        wanted = None if only is None else {p.strip() for p in only.split(",") if p.strip()}
        for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist else ""
            version = ep.dist.version if ep.dist else ""
            if ep.name in self.health:  # the same plugin installed twice (e.g. editable + wheel)
                continue
            row = PluginHealth(ep.name, dist, version, ep.value)
            self.health[ep.name] = row
            if wanted is not None and ep.name not in wanted:
                row.status = "disabled"
                row.hint = "not in NLPZOO_PLUGINS"
                continue
            start = time.perf_counter()
            try:
                obj = ep.load()
            except BaseException as exc:  # a plugin may raise anything, even SystemExit
                row.import_ms = (time.perf_counter() - start) * 1000
                self._fail(row, exc)
                continue
            row.import_ms = (time.perf_counter() - start) * 1000
            self.add_plugin(obj, ep.name, dist, version, row)
        return self

    def add_plugin(self, obj, name: str, distribution: str = "", version: str = "", row: PluginHealth | None = None) -> None:
        """Register one plugin object (a module or an instance with hookimpls)."""
        if row is None:
            row = self.health[name] = PluginHealth(name, distribution, version, getattr(obj, "__name__", repr(obj)))
        try:
            self.pm.register(obj, name=name)
        except BaseException as exc:
            self._fail(row, exc)
            return
        for hook_name, collect in (("register_components", self._register_components), ("register_presets", self._register_presets)):
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin_name != name:
                    continue
                try:
                    collect(impl, row)
                except BaseException as exc:
                    self.registry.remove_provider(name)
                    self.presets = [p for p in self.presets if p.provider != name]
                    self.pm.unregister(name=name)
                    self._fail(row, exc)
                    return

    def _register_components(self, impl, row: PluginHealth) -> None:
        def register(kind: str, name: str, target: str, summary: str = "", tags=(), aliases=()) -> None:
            self.registry.add(Entry(kind, name, target, row.name, row.distribution, row.version, summary, tuple(tags), tuple(aliases)))
            row.components += 1

        impl.function(register=register)

    def _register_presets(self, impl, row: PluginHealth) -> None:
        def register(name: str, **fields) -> None:
            self.presets.append(PresetDecl(name, row.name, fields))
            row.presets += 1

        impl.function(register=register)

    def add_commands(self, cli) -> None:
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except Exception as exc:
                self._fail(self.health[impl.plugin_name], exc)

    def _fail(self, row: PluginHealth, exc: BaseException) -> None:
        row.status = "failed"
        row.components = row.presets = 0
        row.error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        if isinstance(exc, ModuleNotFoundError):
            row.hint = install_hint(exc.name or "", row.distribution)
        else:
            frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
            where = f" ({frame[0].filename}:{frame[0].lineno})" if frame else ""
            row.hint = f"fix or uninstall {row.distribution or row.name}{where}; NLPZOO_PLUGINS can skip it"
        if self.strict:
            raise PluginError(f"plugin {row.name!r} failed: {row.error}; fix: {row.hint}") from exc


_manager: PluginManager | None = None


def get_manager() -> PluginManager:
    """The process-wide manager, loaded from entry points on first use."""
    global _manager
    if _manager is None:
        _manager = PluginManager().load_entry_points()
    return _manager


def reset(manager: PluginManager | None = None) -> PluginManager | None:
    """Replace the process-wide manager (tests use this); returns the previous one."""
    global _manager
    previous, _manager = _manager, manager
    from . import catalog

    catalog.reset()
    return previous
