"""Plugin manager that survives its plugins.

pluggy's ``load_setuptools_entrypoints`` stops at the first plugin that fails to import. Here each
entry point of group ``nlpzoo`` (and each plugin folder on ``NLPZOO_PLUGIN_PATH``) is imported and
registered on its own, with a time limit, its printed output captured, and every exception, even
``SystemExit``, caught; a failure is recorded with the author's file and line and a fix, and the rest
still load. ``NLPZOO_PLUGINS=a,b`` limits which plugins load (empty: none); ``NLPZOO_STRICT=1`` turns
any failure into an error; ``NLPZOO_PLUGIN_TIMEOUT`` (seconds, default 10) bounds one plugin's import.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.metadata as metadata
import inspect
import io
import os
import sys
import threading
import time
from dataclasses import dataclass, field, is_dataclass
from pathlib import Path

import pluggy

from . import hookspecs
from .catalog import Catalog, default_path, parse_preset
from .errors import ConfigError, PluginError, UnknownComponent, close_matches, did_you_mean, install_hint
from .registry import CORE_DISTRIBUTION, KINDS, Entry, Registry

GROUP = "nlpzoo"
#: The plugin API this core implements. A plugin may declare the version it was written for as
#: ``PLUGIN_API = 2`` in its entry module; see docs/reference/hooks.md for what each version changed.
PLUGIN_API = 2
HEAVY = ("torch", "transformers", "gensim", "tensorflow", "jax")  # slow to import; plugins import them lazily
HOOKS = tuple(sorted(name for name, fn in vars(hookspecs).items()
                     if inspect.isfunction(fn) and hasattr(fn, "nlpzoo_spec")))


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
    hooks: list[str] = field(default_factory=list)
    api: int | None = None  # the plugin API version the plugin declares
    output: str = ""  # what the plugin printed while loading
    warnings: list[str] = field(default_factory=list)


@dataclass
class PresetDecl:
    name: str
    provider: str
    fields: dict = field(default_factory=dict)
    where: str = ""  # the plugin's file:line that registered it


def _where(fn) -> str:
    """``file:line`` of a plugin's function, for messages that point at the author's code."""
    fn = inspect.unwrap(fn)
    try:
        return f"{inspect.getsourcefile(fn)}:{inspect.getsourcelines(fn)[1]}"
    except (OSError, TypeError):
        return getattr(fn, "__module__", "?")


def _caller_outside_core() -> str:
    """``file:line`` of the nearest frame outside nlpzoo's core: where a plugin called ``register``."""
    core = str(Path(__file__).parent)
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(core):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "?"


class _HeavyImports:
    """Records which plugin line first imports a heavy library (a meta path finder that finds nothing)."""

    def __init__(self):
        self.seen: dict[str, str] = {}

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if top in HEAVY and top not in sys.modules and top not in self.seen:
            frame = sys._getframe(1)
            while frame is not None and "importlib" in frame.f_code.co_filename or (
                    frame is not None and frame.f_code.co_filename.startswith("<frozen")):
                frame = frame.f_back
            self.seen[top] = f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "?"
        return None


def _timeout() -> float:
    try:
        return float(os.environ.get("NLPZOO_PLUGIN_TIMEOUT", "10"))
    except ValueError:
        return 10.0


_DISTRIBUTIONS: dict[str, tuple[str, str]] = {}


def _name_and_version(dist) -> tuple[str, str]:
    """A distribution's name and version, read once per distribution (each read parses its metadata)."""
    if dist is None:
        return "", ""
    key = str(getattr(dist, "_path", "")) or repr(dist)
    if key not in _DISTRIBUTIONS:
        meta = dist.metadata
        _DISTRIBUTIONS[key] = (meta["Name"] or "", meta["Version"] or "")
    return _DISTRIBUTIONS[key]


class PluginManager:
    """Loads plugins from entry points (or objects handed to it) into a :class:`Registry` and a catalogue."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("nlpzoo")
        self.pm.add_hookspecs(hookspecs)
        self._commands_added: set[int] = set()
        self.registry = Registry()
        self.health: dict[str, PluginHealth] = {}
        self.presets: list[PresetDecl] = []
        #: recipe section name -> (settings dataclass, plugin name), from ``register_sections``
        self.sections: dict[str, tuple[type, str]] = {}
        self.strict = os.environ.get("NLPZOO_STRICT", "") not in ("", "0")
        self._catalog: Catalog | None = None
        self.overlays: list[str] = []

    # ------------------------------------------------------------ finding plugins

    def load_entry_points(self) -> "PluginManager":
        only = os.environ.get("NLPZOO_PLUGINS")
        wanted = None if only is None else {p.strip() for p in only.split(",") if p.strip()}
        # a folder's copy comes first: whoever names a folder means that copy, not the installed one
        found = self._plugin_folders()
        found += [(ep.name, ep.value, *_name_and_version(ep.dist), ep.load)
                  for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name)]
        for name, module, dist, version, load in found:
            if name in self.health:  # the same plugin twice: in a folder and installed, or installed twice
                first = self.health[name]
                if first.distribution.endswith("(folder)") and not dist.endswith("(folder)"):
                    first.warnings.append(f"the installed {dist} {version} has the same entry point {name!r}; "
                                          f"the copy in the folder is the one used")
                continue
            row = PluginHealth(name, dist, version, module)
            self.health[name] = row
            if wanted is not None and name not in wanted:
                row.status, row.hint = "disabled", "not in NLPZOO_PLUGINS"
                continue
            obj = self._import(load, row)
            if obj is not None:
                self.add_plugin(obj, name, dist, version, row)
        return self

    def _plugin_folders(self) -> list[tuple]:
        """Plugins from folders on ``NLPZOO_PLUGIN_PATH`` (``--plugins-dir``), loaded without installing them.

        A folder is a plugin package's project folder (its ``pyproject.toml`` names the entry points) or
        a folder of such project folders.
        """
        found = []
        for folder in [Path(p) for p in os.environ.get("NLPZOO_PLUGIN_PATH", "").split(os.pathsep) if p]:
            projects = [folder] if (folder / "pyproject.toml").is_file() else sorted(
                p for p in folder.glob("*") if (p / "pyproject.toml").is_file())
            if not projects:
                raise ConfigError(f"{folder} is {'not a folder' if not folder.is_dir() else 'a folder without plugins'}: "
                                  "expected a plugin's project folder (with its pyproject.toml) or a folder of them",
                                  "NLPZOO_PLUGIN_PATH")
            for project in projects:
                for name, target in _entry_points_of(project):
                    found.append((name, target, f"{project.name} (folder)", "", _folder_loader(project, target)))
        return found

    def _import(self, load, row: PluginHealth):
        """The plugin object, imported in a thread so that a hanging plugin cannot hang nlpzoo."""
        result: dict = {}
        heavy = _HeavyImports()
        already = {m for m in HEAVY if m in sys.modules}

        def target():
            try:
                result["obj"] = load()
            except BaseException as exc:  # noqa: BLE001 - a plugin may raise anything, SystemExit included
                result["error"] = exc

        captured = io.StringIO()
        start = time.perf_counter()
        sys.meta_path.insert(0, heavy)
        try:
            with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                thread = threading.Thread(target=target, name=f"nlpzoo-plugin-{row.name}", daemon=True)
                thread.start()
                thread.join(_timeout())
        finally:
            sys.meta_path.remove(heavy)
        row.import_ms = (time.perf_counter() - start) * 1000
        row.output = captured.getvalue().strip()
        if thread.is_alive():
            self._fail(row, TimeoutError(f"importing {row.module} took longer than {_timeout():g} s"),
                       hint=f"fix or uninstall {row.distribution or row.name}; raise NLPZOO_PLUGIN_TIMEOUT if it is "
                            f"only slow, or skip it with NLPZOO_PLUGINS")
            return None
        if "error" in result:
            self._fail(row, result["error"])
            return None
        for lib, where in heavy.seen.items():
            if lib not in already:
                row.warnings.append(f"imports {lib} when it is loaded ({where}), so every nlpzoo command waits "
                                    f"{row.import_ms / 1000:.1f} s for it; import {lib} inside the functions that need it")
        if row.output:
            row.warnings.append("printed while loading (shown above); a plugin should print nothing on import")
        return result["obj"]

    # ------------------------------------------------------------ registering

    def add_plugin(self, obj, name: str, distribution: str = "", version: str = "", row: PluginHealth | None = None) -> None:
        """Register one plugin object (a module or an instance with hookimpls)."""
        if row is None:
            row = self.health[name] = PluginHealth(name, distribution, version, getattr(obj, "__name__", repr(obj)))
        row.api = getattr(obj, "PLUGIN_API", None)
        problem = _check_hookimpls(obj)
        if problem is not None:
            self._fail(row, PluginError(problem[0]), hint=problem[1])
            return
        try:
            self.pm.register(obj, name=name)
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, KeyboardInterrupt):
                raise
            self._fail(row, exc)
            return
        row.hooks = sorted(impl.name for impl in _impls_of(obj))
        for hook_name, collect in (("register_components", self._register_components),
                                   ("register_presets", self._register_presets),
                                   ("register_sections", self._register_sections)):
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin_name != name:
                    continue
                try:
                    collect(impl, row)
                except BaseException as exc:  # noqa: BLE001
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    self.registry.remove_provider(name)
                    self.presets = [p for p in self.presets if p.provider != name]
                    self.sections = {k: v for k, v in self.sections.items() if v[1] != name}
                    self.pm.unregister(name=name)
                    self._fail(row, exc)
                    return
        if row.api is not None and row.api > PLUGIN_API:
            row.warnings.append(f"written for plugin API {row.api}; this nlpzoo has API {PLUGIN_API}: upgrade nlpzoo")
        self._catalog = None

    def _register_components(self, impl, row: PluginHealth) -> None:
        def register(kind: str, name: str, target: str, summary: str = "", tags=(), aliases=()) -> None:
            entry = Entry(kind, name, target, row.name, row.distribution, row.version, summary, tuple(tags),
                          tuple(aliases), where=_caller_outside_core())
            try:
                self.registry.add(entry)
            except ValueError as exc:
                raise PluginError(f"{entry.where}: {exc}") from None
            row.components += 1

        _call_hook(impl, register=register)

    def _register_presets(self, impl, row: PluginHealth) -> None:
        def register(name: str, **fields) -> None:
            where = _caller_outside_core()
            try:  # a malformed preset is dropped and reported; it must not break list and validate for everyone
                parse_preset(name, fields, f"presets.{name}", f"plugin {row.name}")
            except ConfigError as exc:
                row.warnings.append(f"{where}: preset {name!r} dropped: {exc.loc}: {exc.message}")
                return
            self.presets.append(PresetDecl(name, row.name, fields, where))
            row.presets += 1

        _call_hook(impl, register=register)

    def _register_sections(self, impl, row: PluginHealth) -> None:
        def register(name: str, settings: type) -> None:
            where = _caller_outside_core()
            if not (isinstance(name, str) and isinstance(settings, type) and is_dataclass(settings)):
                raise PluginError(f"{where}: register_sections takes a section name and a dataclass, got {name!r} "
                                  f"and {settings!r}")
            if name in self.sections:
                row.warnings.append(f"{where}: the {name}: section is read by plugin {self.sections[name][1]} "
                                    "already; this one is ignored")
                return
            self.sections[name] = (settings, row.name)

        _call_hook(impl, register=register)

    def add_commands(self, cli) -> None:
        """Plugins' commands join the click group, nlpzoo's own plugins first; a command never replaces one
        that is already there (nlpzoo's, or an earlier plugin's). Adding to the same group again does nothing."""
        if id(cli) in self._commands_added:
            return
        self._commands_added.add(id(cli))
        impls = sorted(self.pm.hook.register_commands.get_hookimpls(),
                       key=lambda impl: self.health[impl.plugin_name].distribution != CORE_DISTRIBUTION)
        owners = dict.fromkeys(cli.commands, "nlpzoo's own")
        for impl in impls:
            row = self.health[impl.plugin_name]
            before = dict(cli.commands)
            try:
                _call_hook(impl, cli=cli)
            except BaseException as exc:  # noqa: BLE001 - sys.exit() in a plugin must not end nlpzoo
                if isinstance(exc, KeyboardInterrupt):
                    raise
                cli.commands.clear()
                cli.commands.update(before)
                self._fail(row, exc)
                continue
            for command in before:
                if cli.commands.get(command) is not before[command]:
                    cli.commands[command] = before[command]
                    row.warnings.append(f"{_where(impl.function)}: command {command!r} is {owners[command]} and was "
                                        "not replaced; give the plugin's command another name")
            mine = "nlpzoo's own" if row.distribution == CORE_DISTRIBUTION else f"plugin {row.name}'s"
            owners.update({command: mine for command in cli.commands if command not in owners})

    def model_saved(self, run_dir, model, data: dict, metrics: dict) -> None:
        """Every plugin's ``model_saved`` in turn (a model card); one that fails is a warning."""
        self._each("model_saved", run_dir=Path(run_dir), model=model, data=data, metrics=dict(metrics))

    def run_finished(self, run_dir, model, data: dict, metrics: dict) -> None:
        """Every plugin's ``run_finished`` in turn (a report page); one that fails is a warning."""
        self._each("run_finished", run_dir=Path(run_dir), model=model, data=data, metrics=dict(metrics))

    def _each(self, hook: str, **arguments) -> None:
        """A hook about a run that is saved already: a plugin's failure must not fail the run."""
        from .text import one_line

        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                _call_hook(impl, **arguments)
            except Exception as exc:  # noqa: BLE001 - a finished run must stay finished
                print(f"nlpzoo: warning: plugin {impl.plugin_name}: {hook} failed{_author_frame(exc)}: "
                      f"{type(exc).__name__}: {one_line(str(exc))[:300]}", file=sys.stderr)

    # ------------------------------------------------------------ the catalogue and names

    def reset_catalog(self) -> None:
        """Read the catalogue files again on next use."""
        self._catalog = None

    def add_overlay(self, path: str) -> None:
        """A catalogue file merged last, so that it wins (``--catalog``)."""
        self.overlays.append(path)
        self._catalog = None

    @property
    def catalog(self) -> Catalog:
        """registry.yaml, then plugin presets, then user overlays (``NLPZOO_CATALOG``, then ``--catalog``)."""
        if self._catalog is None:
            cat = Catalog()
            cat.merge_file(default_path())
            overlays = [p for p in os.environ.get("NLPZOO_CATALOG", "").split(os.pathsep) if p] + self.overlays
            for decl in self.presets:
                cat.add_plugin_preset(decl.name, decl.provider, decl.fields)
            for path in overlays:
                cat.merge_file(path)
            for provider, problem in cat.link_weights():
                if provider in self.health:
                    self.health[provider].warnings.append(f"preset dropped: {problem}")
            self.registry.prefer = dict(cat.prefer)
            self._catalog = cat
        return self._catalog

    def shadowed(self) -> list[tuple[list[str], str]]:
        """``(providers, line)`` per name several plugins register: which one the bare name means, how to pick."""
        lines = []
        for (kind, name), entries in sorted(self.registry.entries.items()):
            if len(entries) < 2:
                continue
            providers = [e.provider for e in entries]
            chosen = self.registry.prefer.get((kind, name))
            core = [e for e in entries if e.distribution == CORE_DISTRIBUTION]
            if chosen:
                means = f"means {chosen}:{name} (prefer: in the catalogue)"
            elif len(core) == 1:
                means = f"means {core[0].qualified_name}, nlpzoo's own"
            else:
                means = "is ambiguous"
            others = ", ".join(f"{p}:{name}" for p in providers)
            lines.append((providers, f"{kind} {name!r} is registered by {', '.join(providers)}: the bare name {means}; "
                                     f"write one of {others}, or set 'prefer: {{{kind}/{name}: <provider>}}' in a catalogue"))
        for entry in self.registry.all():  # names beat aliases: an alias that is someone's name never resolves
            for alias in entry.aliases:
                owners = [e.qualified_name for e in self.registry.entries.get((entry.kind, alias), [])]
                if owners:
                    lines.append(([entry.provider], f"{entry.where}: {entry.kind} alias {alias!r} of {entry.qualified_name} "
                                                    f"is never used: {', '.join(owners)} has that name, and names beat "
                                                    f"aliases; drop the alias, or write {entry.qualified_name}"))
        return lines

    def unknown(self, kinds: tuple[str, ...], name: str, loc: str = "") -> UnknownComponent:
        """The one error for a name nothing provides: nearest names, other kinds, or the plugin that would.

        Every "unknown name" message of nlpzoo comes from here (recipes, ``build``, ``info``).
        """
        msg = self.registry.unknown_message(kinds, name)
        bare = name.rpartition(":")[2]
        for kind in kinds or KINDS:
            known = self.catalog.plugin_for(kind, bare)
            if not known:
                continue
            plugin, body = known
            health = self.health.get(plugin)
            if health and health.status == "failed":
                msg = f"{kind} {bare!r} comes from plugin {plugin!r}, which failed to load: {health.error}; fix: {health.hint}"
            elif health and health.status == "disabled":
                msg = f"{kind} {bare!r} comes from plugin {plugin!r}, which is disabled ({health.hint})"
            else:
                msg = (f"{kind} {bare!r} comes from plugin {plugin!r}, which is not installed; install it with: "
                       f"{body.get('install', 'pip install ' + plugin)}")
            break
        else:
            msg += self.failed_note()
        return UnknownComponent(msg, loc)

    def failed_note(self) -> str:
        """"; plugin 'x' failed to load (nlpzoo plugins says why)": a name it would have given may be missing."""
        failed = sorted(name for name, row in self.health.items() if row.status == "failed")
        if not failed:
            return ""
        names = ", ".join(repr(n) for n in failed)
        return f"; plugin{'s' if len(failed) > 1 else ''} {names} failed to load (nlpzoo plugins says why)"

    # ------------------------------------------------------------ failures

    def _fail(self, row: PluginHealth, exc: BaseException, hint: str | None = None) -> None:
        row.status = "failed"
        row.components = row.presets = 0
        row.error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        if hint is not None:
            row.hint = hint
        elif isinstance(exc, ModuleNotFoundError):
            row.hint = install_hint(exc.name or "", row.distribution)
        else:
            row.hint = f"fix or uninstall {row.distribution or row.name}{_author_frame(exc)}; NLPZOO_PLUGINS can skip it"
        if self.strict:
            raise PluginError(f"plugin {row.name!r} failed: {row.error}; fix: {row.hint}") from None


def _author_frame(exc: BaseException) -> str:
    """`` (file:line)`` of the deepest frame of the traceback outside nlpzoo's core and pluggy."""
    import traceback

    core, pluggy_dir = str(Path(__file__).parent), str(Path(pluggy.__file__).parent)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith((core, pluggy_dir))]
    return f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def _impls_of(obj) -> list:
    """The functions of ``obj`` marked with ``@nlpzoo.hookimpl``, with their names."""
    out = []
    for attr in dir(obj):
        fn = getattr(obj, attr, None)
        if callable(fn) and getattr(fn, "nlpzoo_impl", None) is not None:
            out.append(_Impl(attr, fn))
    return out


@dataclass
class _Impl:
    name: str
    function: object


def _check_hookimpls(obj) -> tuple[str, str] | None:
    """A hook implementation with a misspelt name or wrong arguments: the message and the fix, at its line."""
    for impl in _impls_of(obj):
        where = _where(impl.function)
        if impl.name not in HOOKS:
            near = close_matches(impl.name, HOOKS)
            fix = f"rename it {near[0]!r}" if near else f"hooks are {', '.join(HOOKS)}"
            return f"{where}: {impl.name!r} is not an nlpzoo hook{did_you_mean(impl.name, HOOKS)}", fix
        spec = tuple(inspect.signature(getattr(hookspecs, impl.name)).parameters)
        params = inspect.signature(impl.function).parameters
        names = [n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        wrong = [n for n in names if n not in spec]
        if wrong:
            return (f"{where}: {impl.name}({', '.join(names)}): {', '.join(map(repr, wrong))} is not an argument of this "
                    f"hook", f"write {impl.name}({', '.join(spec)})")
        if not names and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return (f"{where}: {impl.name}() takes no arguments, so it is handed nothing to register with",
                    f"write {impl.name}({', '.join(spec)})")
    return None


def _call_hook(impl, **arguments) -> None:
    """Call a hook implementation with the arguments it declares (hooks may gain arguments later)."""
    impl.function(**{k: v for k, v in arguments.items() if k in impl.argnames})


def _entry_points_of(project: Path) -> list[tuple[str, str]]:
    import tomllib

    try:
        data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"unreadable pyproject.toml ({exc})", file=str(project / "pyproject.toml")) from None
    return sorted(data.get("project", {}).get("entry-points", {}).get(GROUP, {}).items())


def _folder_loader(project: Path, target: str):
    def load():
        for root in (project / "src", project):
            if root.is_dir() and str(root) not in sys.path:
                sys.path.insert(0, str(root))
        module, _, attr = target.partition(":")
        obj = importlib.import_module(module.strip())
        for part in filter(None, attr.strip().split(".")):
            obj = getattr(obj, part)
        return obj

    return load


_manager: PluginManager | None = None


def get_manager() -> PluginManager:
    """The process-wide manager, loaded from entry points on first use."""
    global _manager
    if _manager is None:
        _manager = PluginManager().load_entry_points()
    return _manager


def listing(pattern: str = "*", kind: str | None = None, tag: str | None = None, *, loc: str = "kind") -> list[dict]:
    """What ``nlpzoo list`` shows: components and catalogue presets matching ``pattern``, as rows.

    An unknown ``kind`` is a ConfigError at ``loc`` (the command line's option: ``--kind``)."""
    import fnmatch

    from .registry import KINDS

    if kind is not None and kind not in KINDS:
        raise ConfigError(f"unknown kind {kind!r}{did_you_mean(kind, KINDS)}; kinds: {', '.join(KINDS)}", loc)
    rows = [{"kind": e.kind, "name": e.name, "type": "component", "provider": e.provider, "version": e.version,
             "summary": e.summary, "tags": list(e.tags), "aliases": list(e.aliases)}
            for e in get_manager().registry.find(pattern, kind, tag)]
    for p in get_catalog().presets.values():
        if fnmatch.fnmatchcase(p.name, pattern) and kind in (None, p.kind) and (tag is None or tag in p.tags):
            provider = p.source.removeprefix("plugin ") if p.source.startswith("plugin ") else "catalogue"
            rows.append({"kind": p.kind, "name": p.name, "type": f"preset of {p.component}", "provider": provider,
                         "version": "", "summary": p.summary, "tags": list(p.tags), "aliases": []})
    return sorted(rows, key=lambda r: (r["kind"], r["name"], r["provider"]))


def components(kind: str | None = None, pattern: str = "*", *, tag: str | None = None) -> list[str]:
    """The names usable in a recipe, of one kind or all, matching a shell pattern: components and presets.

    ``nlpzoo.components("classifier", "bert*")`` lists what ``nlpzoo list 'bert*' --kind classifier`` shows.
    """
    return sorted({row["name"] for row in listing(pattern, kind, tag)})


def get_catalog() -> Catalog:
    """The catalogue of the process-wide manager: files, plugin presets and overlays."""
    return get_manager().catalog


def reset_catalog() -> None:
    """Read the catalogue files again on next use (after ``NLPZOO_CATALOG`` changed)."""
    get_manager().reset_catalog()


def add_overlay(path: str) -> None:
    """A catalogue file given with ``--catalog`` (after ``NLPZOO_CATALOG``'s, so it wins)."""
    get_manager().add_overlay(path)


def reset(manager: PluginManager | None = None) -> PluginManager | None:
    """Replace the process-wide manager (tests use this); returns the previous one."""
    global _manager
    previous, _manager = _manager, manager
    return previous
