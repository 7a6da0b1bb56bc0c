"""Build components from specs: ``{name: ..., <params>}`` at every node, nested specs built first.

:func:`resolve` checks a whole spec tree against the targets' signatures and type annotations
without constructing anything; :func:`build` constructs the resolved tree bottom-up.
"""
from __future__ import annotations

import functools
import inspect
import math
import re
import sys
from collections import abc
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .constraints import Range
from .errors import ConfigError, UnknownComponent, did_you_mean
from .kinds import INTERFACES, Component
from .registry import DEPRECATED_CLASSIFIER_KIND

Spec = typing.Union[str, dict]


@dataclass
class Resolved:
    """A spec checked against its target: what will be built, from which provider, with what."""

    kind: str
    name: str
    provider: str
    target: str
    params: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None

    def to_spec(self) -> dict:
        """A plain spec (``provider:name`` and params) that resolves to the same thing again."""
        return {"name": f"{self.provider}:{self.name}",
                **plain(self.params, leaf=lambda v, _: v.to_spec() if isinstance(v, Resolved) else v)}

    def tree(self, indent: int = 0) -> list[str]:
        """Readable lines: ``name (kind, from provider)`` then parameters, nested specs indented."""
        via = f", preset {self.preset}" if self.preset else ""
        lines = [f"{self.name}  ({self.kind} from {self.provider}{via})"]
        for k, v in self.params.items():
            if isinstance(v, Resolved):
                sub = v.tree()
                lines.append(f"  {k}: {sub[0]}")
                lines += ["  " + s for s in sub[1:]]
            elif isinstance(v, list) and v and all(isinstance(x, Resolved) for x in v):
                lines.append(f"  {k}:")
                for x in v:
                    sub = x.tree()
                    lines.append(f"    - {sub[0]}")
                    lines += ["      " + s for s in sub[1:]]
            else:
                lines.append(f"  {k}: {v!r}")
        return [" " * indent + s for s in lines]


def plain(value, where: str = "", leaf=lambda value, where: value):
    """``value`` as plain data (lists, string-keyed mappings, paths as strings); ``leaf(value, where)`` turns
    everything else, ``where`` being its key path. Specs (``to_spec``) and saved components are written by it."""
    if isinstance(value, (list, tuple)):
        return [plain(v, f"{where}.{i}", leaf) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): plain(v, f"{where}.{k}" if where else str(k), leaf) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return leaf(value, where)


def _is_spec(value) -> bool:
    return isinstance(value, dict) and "name" in value


def resolve(spec: Spec, kind: str | tuple[str, ...] | None = None, loc: str = "") -> Resolved:
    """Check ``spec`` (and every nested spec) without building anything heavy."""
    from .catalog import resolve_weights
    from .plugins import get_manager

    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict):
        raise ConfigError(f"expected a component name or a mapping with 'name', got {type(spec).__name__} {_short(spec)}", loc)
    if "name" not in spec:
        raise ConfigError(f"missing 'name': which component to build (keys given: {', '.join(map(str, spec)) or 'none'})", loc)
    name = spec["name"]
    if not isinstance(name, str):
        raise ConfigError(f"expected a component name (a string), got {_short(name)}", f"{loc}.name" if loc else "name")
    params = {k: v for k, v in spec.items() if k != "name"}
    kinds = (kind,) if isinstance(kind, str) else tuple(kind or INTERFACES)

    manager = get_manager()
    catalog = manager.catalog
    preset_name = None
    preset = catalog.presets.get(name)
    if preset is not None and preset.kind == "classifier" and DEPRECATED_CLASSIFIER_KIND in kinds and "classifier" not in kinds:
        import warnings

        warnings.warn(f"{name!r} is a classifier: ask for kind 'classifier' (classifiers were kind "
                      f"'{DEPRECATED_CLASSIFIER_KIND}' before plugin API 2)", DeprecationWarning, stacklevel=3)
        kinds = (*kinds, "classifier")
    if preset is not None and preset.kind in kinds:
        preset_name, name, kinds = preset.name, preset.component, (preset.kind,)
        params = {**preset.params, **params}
        if preset.weights and preset.weights["param"] not in params:
            params[preset.weights["param"]] = resolve_weights(preset, catalog, verify=False)

    entry = _find_entry(manager, name, kinds, loc)
    target = entry.load()
    checked = check_params(target, params, loc)
    return Resolved(entry.kind, entry.name, entry.provider, entry.target, checked, preset_name)


def _find_entry(manager, name: str, kinds: tuple[str, ...], loc: str):
    found = []
    for k in kinds:
        try:
            entry = manager.registry.get(k, name, deprecated_kinds="classifier" not in kinds)
        except UnknownComponent as exc:
            if "prefer:" in str(exc):  # a catalogue naming a provider that does not exist: say so
                raise UnknownComponent(str(exc), loc) from None
            continue
        if entry not in found:  # a classifier asked for as a language_model (deprecated) is found twice
            found.append(entry)
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        which = " and ".join(f"a {e.kind}" for e in found)
        raise ConfigError(f"{name!r} is {which}; write the spec where only one kind fits", loc)
    raise manager.unknown(kinds, name, loc)


@functools.lru_cache(maxsize=1024)
def signature_of(target) -> inspect.Signature:
    """The constructor's parameters, a parameter block's keys among them (see :func:`parameter_block`)."""
    fn = target.__init__ if inspect.isclass(target) else target
    sig = inspect.signature(fn)
    params = []
    for i, p in enumerate(sig.parameters.values()):
        block = parameter_block(target, p)
        if block is not None:  # each key a keyword parameter; its default the class attribute of that name
            params += [inspect.Parameter(key, p.KEYWORD_ONLY, default=getattr(target, key, p.empty), annotation=hint)
                       for key, hint in typing.get_type_hints(block, include_extras=True).items()]
        elif not (inspect.isclass(target) and i == 0):
            params.append(p)
    return sig.replace(parameters=params)


def parameter_block(target, p: inspect.Parameter):
    """The TypedDict of ``**options: Unpack[Block]``: parameters that several components share, written once.
    Their types and ranges are the TypedDict's annotations; their defaults are the component's class attributes."""
    if p.kind is not p.VAR_KEYWORD:
        return None
    hint = _type_hints(target).get(p.name)
    if typing.get_origin(hint) is not typing.Unpack or not typing.is_typeddict(typing.get_args(hint)[0]):
        return None
    return typing.get_args(hint)[0]


def type_hints(target) -> dict[str, Any]:
    """Annotations of ``target``'s parameters, a parameter block's keys included (cached: a recipe checks the same
    classes many times)."""
    hints = dict(_type_hints(target))
    for hint in list(hints.values()):
        if typing.get_origin(hint) is typing.Unpack and typing.is_typeddict(typing.get_args(hint)[0]):
            hints.update(typing.get_type_hints(typing.get_args(hint)[0], include_extras=True))
    return hints


@functools.lru_cache(maxsize=1024)
def _type_hints(target) -> dict[str, Any]:
    """Evaluated where possible; names that need an uninstalled or heavy module become Any."""
    fn = target.__init__ if inspect.isclass(target) else target
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:
        pass
    module = sys.modules.get(getattr(fn, "__module__", ""), None)
    namespace = dict(vars(module)) if module else {}
    namespace.update({k: getattr(typing, k) for k in dir(typing) if not k.startswith("_")})
    namespace.update({c.__name__: c for c in INTERFACES.values()})
    namespace.setdefault("Range", Range)
    hints = {}
    for pname, ann in getattr(fn, "__annotations__", {}).items():
        if isinstance(ann, str):
            try:
                ann = eval(ann, namespace)  # annotations are the plugin's own code, not user input
            except Exception:
                ann = Any
        hints[pname] = ann
    return hints


def check_params(target, params: dict, loc: str = "") -> dict:
    """Validate and coerce ``params`` for ``target``; nested specs come back as :class:`Resolved`."""
    sig = signature_of(target)
    hints = type_hints(target)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    names = [n for n, p in sig.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    out = {}
    renamed = getattr(target, "renamed_parameters", None) or {}
    for key, value in params.items():
        if key in renamed and renamed[key] in names and renamed[key] not in params:
            import warnings

            where = f"{loc}." if loc else ""
            warnings.warn(f"{where}{key} is now called {renamed[key]}; the old name goes with plugin API 3",
                          FutureWarning, stacklevel=2)
            key = renamed[key]
        sub = f"{loc}.{key}" if loc else str(key)
        if key not in names and not accepts_any:
            raise ConfigError(f"unknown parameter{did_you_mean(str(key), names)}; parameters: {', '.join(names) or 'none'}", sub)
        out[key] = check_value(value, hints.get(key, Any), sub)
    for n in names:
        p = sig.parameters[n]
        if p.default is p.empty and n not in out:
            raise ConfigError(f"missing required parameter {n!r}", loc)
    return out


class RangeError(ConfigError):
    """A value of the right type outside its declared :class:`~nlpzoo.Range`."""


_SCIENTIFIC = re.compile(r"[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+")
#: ints must fit in 64 bits: torch, NumPy and the file formats all need that
INT_LIMIT = 2**63


def _type_name(t) -> str:
    if t is type(None):
        return "null"
    origin = typing.get_origin(t)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(t)
        return " ".join([_type_name(base), *(str(m) for m in meta if isinstance(m, Range))])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(t))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(t))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(t))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if inspect.isclass(t) and issubclass(t, Component) and t.kind:
        return f"{t.kind} spec"
    return getattr(t, "__name__", str(t))


def check_value(value, ann, loc: str):
    """``value`` checked against annotation ``ann``; specs under a kind annotation are resolved."""
    if ann is Any or ann is inspect.Parameter.empty:
        if _is_spec(value):
            return resolve(value, None, loc)
        if isinstance(value, list) and value and all(_is_spec(v) for v in value):
            return [resolve(v, None, f"{loc}.{i}") for i, v in enumerate(value)]
        return value
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is typing.Annotated:
        checked = check_value(value, args[0], loc)
        for bound in args[1:]:
            if isinstance(bound, Range) and checked is not None and not bound.contains(checked):
                raise RangeError(f"expected {bound.describe(_param_name(loc))}, got {_short(value)}", loc)
        return checked
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return check_value(value, a, loc)
            except (UnknownComponent, RangeError):  # the type fitted: its own error is the one to show
                raise
            except ConfigError as exc:
                if exc.loc != loc:  # the error is deeper inside a nested spec: that is the real one
                    raise
        raise ConfigError(f"expected {_type_name(ann)}, got {_short(value)}", loc)
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"expected one of {', '.join(repr(a) for a in args)}, got {_short(value)}{did_you_mean(str(value)[:100], map(str, args))}", loc)
    if origin in (list, tuple, abc.Sequence):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"expected a list ({_type_name(ann)}), got {_short(value)}", loc)
        if origin is tuple and args and args[-1] is not Ellipsis:  # tuple[float, float]: that many items
            if len(value) != len(args):
                raise ConfigError(f"expected a list of {len(args)} ({_type_name(ann)}), got {_short(value)}", loc)
            return tuple(check_value(v, a, f"{loc}.{i}") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        checked = [check_value(v, item, f"{loc}.{i}") for i, v in enumerate(value)]
        return tuple(checked) if origin is tuple else checked
    if origin in (dict, abc.Mapping):
        if not isinstance(value, dict):
            raise ConfigError(f"expected a mapping ({_type_name(ann)}), got {_short(value)}", loc)
        vt = args[1] if len(args) == 2 else Any
        return {k: check_value(v, vt, f"{loc}.{k}") for k, v in value.items()}
    if inspect.isclass(ann) and issubclass(ann, Component) and ann.kind:
        return resolve(value, ann.kind, loc)
    if ann is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"expected true or false, got {_short(value)}", loc)
    if ann is int:
        if isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e3 (no dot) as a string: a number written so is still a number
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if not -INT_LIMIT <= value < INT_LIMIT:
                raise ConfigError(f"expected an int between -2^63 and 2^63-1, got one of {len(str(abs(value))):,} digits", loc)
            return value
        raise ConfigError(f"expected int, got {_short(value)}", loc)
    if ann is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:  # an int beyond any float
                raise ConfigError(f"expected float, got an int of {len(str(abs(value))):,} digits", loc) from None
        elif isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                pass
        if number is None:
            raise ConfigError(f"expected float, got {_short(value)}", loc)
        if math.isnan(number):
            raise ConfigError("expected a number, got nan", loc)
        return number
    if ann is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"expected str, got {_short(value)}", loc)
    if ann in (Path, typing.Union[str, Path]):
        if isinstance(value, (str, Path)):
            return str(value)
        raise ConfigError(f"expected a path, got {_short(value)}", loc)
    return value


def _param_name(loc: str) -> str:
    """``dropout`` for ``model.dropout``; ``betas[0]`` for ``optimizer.betas.0``."""
    parent, _, last = loc.rpartition(".")
    if last.isdigit() and parent:
        return f"{parent.rpartition('.')[2]}[{last}]"
    return last or "value"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def build(spec: "Spec | Resolved", kind: str | tuple[str, ...] | None = None, loc: str = ""):
    """Build a component from a spec (or an already resolved one), nested specs first.

    A ``ValueError`` or ``TypeError`` the component's constructor raises becomes a :class:`ConfigError`
    at ``loc`` (the key path of the spec), so it is reported at the recipe's line like any other.
    """
    resolved = spec if isinstance(spec, Resolved) else resolve(spec, kind, loc)
    from .plugins import get_manager

    target = get_manager().registry.get(resolved.kind, f"{resolved.provider}:{resolved.name}").load()
    params = {k: _build_value(v, f"{loc}.{k}" if loc else str(k)) for k, v in resolved.params.items()}
    if resolved.preset:
        _verify_preset_weights(resolved.preset)
    try:
        return target(**params)
    except ConfigError as exc:
        raise exc.at(prefix=loc) if not exc.file else exc from None
    except (ValueError, TypeError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{resolved.name}: {message}", loc) from None


def _verify_preset_weights(name: str) -> None:
    from .catalog import resolve_weights
    from .plugins import get_catalog

    cat = get_catalog()
    preset = cat.presets[name]
    if preset.weights:
        resolve_weights(preset, cat, verify=True)


def _build_value(v, loc: str):
    if isinstance(v, Resolved):
        return build(v, loc=loc)
    if isinstance(v, list):
        return [_build_value(x, f"{loc}.{i}") for i, x in enumerate(v)]
    if isinstance(v, tuple):
        return tuple(_build_value(x, f"{loc}.{i}") for i, x in enumerate(v))
    if isinstance(v, dict):
        return {k: _build_value(x, f"{loc}.{k}") for k, x in v.items()}
    return v


# ---------------------------------------------------------------- nlpzoo plugins --check


def check_targets(manager) -> None:
    """Import every registered target and resolve every plugin's preset (``nlpzoo plugins --check``);
    failures go to the plugin's row."""
    for entry in manager.registry.all():
        try:
            entry.load()
        except Exception as exc:  # noqa: BLE001 - reporting, not raising
            row = manager.health.get(entry.provider)
            if row is not None:
                row.status = "failed"
                row.error = str(exc).splitlines()[0]
                row.hint = f"fix the target of {entry.kind} {entry.name!r} ({entry.where}) or its module"
    for decl, problem in preset_problems(manager):
        row = manager.health.get(decl.provider)
        if row is not None:
            row.status, row.error = "failed", problem
            row.hint = f"fix preset {decl.name!r} where the plugin registers it ({decl.where})"


def preset_problems(manager, provider: str | None = None) -> list:
    """Plugins' presets that do not resolve: an unknown component, a parameter it does not take, a bad value."""
    problems = []
    for decl in manager.presets:
        if provider is not None and decl.provider != provider:
            continue
        try:
            resolve({"name": decl.name}, decl.fields.get("kind"))
        except ConfigError as exc:
            problems.append((decl, f"preset {decl.name!r}: {exc}"))
    return problems
