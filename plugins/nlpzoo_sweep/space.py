"""A search space over recipe keys: categorical choices, float and integer ranges, conditions.

A space maps recipe key paths to choices, in a space file or a recipe's ``sweep:`` section::

    optimizer.lr: {low: 1.0e-5, high: 1.0e-3, log: true}     # a float range
    train.batch_size: [16, 32]                                # a list: a categorical choice
    model.hidden_size: {low: 32, high: 256, step: 32}         # integers (low and high are integers)
    augment: [null, eda, {name: sometimes, p: 0.5, augmenter: eda}]
    augment.alpha: {low: 0.05, high: 0.3, when: {augment: eda}}   # only in trials that chose eda

Values are asked of the trial in file order (Optuna's define-by-run), so a key under ``when`` is
asked only when the keys it names took one of the given choices.
"""
from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlpzoo import ConfigError, did_you_mean

RANGE_KEYS = ("low", "high", "log", "step", "when")
CHOICE_KEYS = ("choices", "when")
MAX_PROBES = 64  # recipes checked per key before a sweep starts; each is a resolve, not a training


def recipe_value(value: Any) -> str:
    """``value`` as a ``--set`` value: YAML that reads back as the same value (``5.0e-05``, not ``5e-05``)."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf, allow_unicode=True).strip()
    return text.removesuffix("...").strip()


def label(value: Any) -> Any:
    """What Optuna stores for a choice: the value itself, or its JSON text for a mapping or a list."""
    return json.dumps(value) if isinstance(value, (dict, list)) else value


def matches(chosen: Any, wanted: Any) -> bool:
    """``when: {augment: eda}`` holds for ``eda`` and for ``{name: eda, alpha: 0.1}``."""
    return chosen == wanted or isinstance(chosen, dict) and chosen.get("name") == wanted


@dataclass
class Param:
    """One recipe key of the space and what it may take."""

    key: str
    line: int | None
    choices: list | None = None  # a categorical choice, or None for a range
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    when: dict[str, list] = field(default_factory=dict)

    @property
    def integer(self) -> bool:
        return self.choices is None and isinstance(self.low, int) and isinstance(self.high, int)

    def active(self, chosen: dict) -> bool:
        return all(key in chosen and any(matches(chosen[key], w) for w in wanted) for key, wanted in self.when.items())

    def suggest(self, trial) -> Any:
        if self.choices is not None:
            labels = [label(c) for c in self.choices]
            return self.choices[labels.index(trial.suggest_categorical(self.key, labels))]
        if self.integer:
            return trial.suggest_int(self.key, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def probes(self) -> list:
        """The values checked before the sweep starts: every choice, or both ends of the range."""
        return list(self.choices) if self.choices is not None else [self.low, self.high]

    def grid(self) -> list:
        if self.choices is not None:
            return [label(c) for c in self.choices]
        if self.integer and self.step and not self.log:
            return list(range(self.low, self.high + 1, self.step))
        raise ConfigError("the grid sampler needs a list of choices or an integer range with step (and no log)",
                          self.key, line=self.line)


class Space:
    """The parameters of a search, in the order they are asked, with the file they came from."""

    def __init__(self, params: list[Param], file: str):
        self.params, self.file = params, file

    def suggest(self, trial) -> dict[str, Any]:
        """A trial's values, key by key; a conditional key only where its condition holds."""
        chosen: dict[str, Any] = {}
        for p in self.params:
            if p.active(chosen):
                chosen[p.key] = p.suggest(trial)
        return chosen

    def grid(self) -> dict[str, list]:
        """Optuna's ``GridSampler`` search space: every choice of every key."""
        out = {}
        for p in self.params:
            try:
                out[p.key] = p.grid()
            except ConfigError as exc:
                raise ConfigError(exc.message, exc.loc, self.file, exc.line) from None
        return out

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid().values())

    def check(self, recipe: str, overrides: tuple[str, ...] = ()) -> None:
        """Refuse an impossible space before anything trains: every value of every key, with the values
        of the keys it depends on, must give a recipe that loads; the error names the space's line."""
        from nlpzoo import load_recipe

        for p in self.params:
            for context in self._contexts(p):
                for value in p.probes():
                    values = {**context, p.key: value}
                    try:
                        load_recipe(recipe, (*overrides, *as_overrides(values)))
                    except ConfigError as exc:
                        given = ", ".join(f"{k}={recipe_value(v)}" for k, v in context.items())
                        where = f" with {given}" if given else ""
                        inner = f"{exc.loc}: {exc.message}" if exc.loc else exc.message
                        raise ConfigError(f"{recipe_value(value)}{where} makes an invalid recipe ({inner})",
                                          p.key, self.file, p.line) from None

    def _contexts(self, p: Param) -> list[dict]:
        """The choices of the keys ``p`` depends on: its ``when`` keys, and a categorical key above it
        (``augment`` for ``augment.alpha``, ``model.name`` for ``model.dropout``)."""
        parents = {}
        for q in self.params:
            if q is p or q.choices is None:
                continue
            above = p.key.startswith(q.key + ".") or (q.key.endswith(".name") and p.key.startswith(q.key[:-4]))
            if q.key in p.when:
                parents[q.key] = [c for c in q.choices if any(matches(c, w) for w in p.when[q.key])]
            elif above:
                parents[q.key] = list(q.choices)
        combos = [dict(zip(parents, values)) for values in itertools.product(*parents.values())]
        return combos[:MAX_PROBES]


def as_overrides(values: dict[str, Any]) -> list[str]:
    """``--set`` pairs for a trial's values (a key above another is set first, so both land)."""
    return [f"{key}={recipe_value(value)}" for key, value in values.items()]


# ---------------------------------------------------------------- reading a space


def read_space(path: str | Path, section: str | None = None) -> Space:
    """The space in a YAML file, or in its ``section`` (a recipe's ``sweep:``); errors carry file and line."""
    data, lines = _yaml_with_lines(Path(path))
    if section is not None:
        if data.get(section) is None:
            raise ConfigError(f"the recipe has no '{section}:' section; give the space with --space SPACE.yaml",
                              section, str(path))
        data, prefix = data[section], section + "."
        lines = {k[len(prefix):]: v for k, v in lines.items() if k.startswith(prefix)}
    if not isinstance(data, dict) or not data:
        raise ConfigError("expected a mapping of recipe keys to choices, e.g. optimizer.lr: {low: 1.0e-5, high: 1.0e-3, "
                          "log: true}", section or "", str(path), 1)
    params: list[Param] = []
    for key, spec in data.items():
        try:
            params.append(_param(str(key), spec, lines.get(str(key)), params))
        except ConfigError as exc:
            raise ConfigError(exc.message, exc.loc or str(key), str(path), exc.line or lines.get(str(key))) from None
    return Space(params, str(path))


def _param(key: str, spec: Any, line: int | None, earlier: list[Param]) -> Param:
    if isinstance(spec, list):
        return Param(key, line, choices=_choices(key, spec))
    if not isinstance(spec, dict):
        raise ConfigError(f"expected a list of choices or a range {{low, high, log, step}}, got {spec!r}"[:200], key)
    if "choices" in spec:
        _only(key, spec, CHOICE_KEYS)
        if not isinstance(spec["choices"], list):
            raise ConfigError(f"expected a list, got {spec['choices']!r}"[:200], f"{key}.choices")
        return Param(key, line, choices=_choices(key, spec["choices"]), when=_when(key, spec.get("when"), earlier))
    _only(key, spec, RANGE_KEYS)
    if "low" not in spec or "high" not in spec:
        raise ConfigError("a range needs low and high (a list gives choices)", key)
    low, high, step = (_number(spec.get(k), f"{key}.{k}") for k in ("low", "high", "step"))
    if isinstance(low, int) and isinstance(high, int) and not isinstance(step, float):
        kind = int
    else:
        low, high, step = float(low), float(high), None if step is None else float(step)
        kind = float
    if not low < high:
        raise ConfigError(f"low must be below high, got low {low} and high {high}", key)
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"expected true or false, got {log!r}", f"{key}.log")
    if log and low <= 0:
        raise ConfigError(f"a log range needs low > 0, got {low}", f"{key}.low")
    if log and step is not None:
        raise ConfigError("give either log or step, not both", f"{key}.step")
    if step is not None and step <= 0:
        raise ConfigError(f"expected a step > 0, got {step}", f"{key}.step")
    return Param(key, line, low=kind(low), high=kind(high), log=log, step=step, when=_when(key, spec.get("when"), earlier))


def _only(key: str, spec: dict, allowed: tuple[str, ...]) -> None:
    for k in spec:
        if k not in allowed:
            hint = " (a nested spec as one choice goes in a list: [{name: ...}])" if k == "name" else ""
            raise ConfigError(f"unknown key {k!r}{did_you_mean(str(k), allowed)}{hint}; a range takes "
                              f"{', '.join(RANGE_KEYS)}, a choice takes {', '.join(CHOICE_KEYS)}", f"{key}.{k}")


def _choices(key: str, choices: list) -> list:
    if not choices:
        raise ConfigError("expected at least one choice, got an empty list", key)
    labels = [label(c) for c in choices]
    twice = next((c for i, c in enumerate(labels) if c in labels[:i]), None)
    if twice is not None:
        raise ConfigError(f"the choice {twice!r} is listed twice", key)
    return choices


def _number(value: Any, loc: str) -> int | float | None:
    """YAML 1.1 reads ``1e-5`` as text; a range takes it as the number it means."""
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"expected a number, got {value!r}"[:200], loc) from None
    if not math.isfinite(number):
        raise ConfigError(f"expected a finite number, got {value!r}", loc)
    return number


def _when(key: str, when: Any, earlier: list[Param]) -> dict[str, list]:
    if when is None:
        return {}
    if not isinstance(when, dict) or not when:
        raise ConfigError(f"expected a mapping of earlier keys to the choices that turn {key} on, e.g. "
                          f"{{augment: eda}}, got {when!r}"[:200], f"{key}.when")
    known = {p.key: p for p in earlier}
    out = {}
    for other, wanted in when.items():
        other = str(other)
        if other not in known or known[other].choices is None:
            choices = [k for k, p in known.items() if p.choices is not None]
            raise ConfigError(f"{other!r} is not a choice listed above this key{did_you_mean(other, choices)}"
                              f"; choices above: {', '.join(choices) or 'none'}", f"{key}.when")
        wanted = wanted if isinstance(wanted, list) else [wanted]
        for w in wanted:
            if not any(matches(c, w) for c in known[other].choices):
                names = [recipe_value(c) for c in known[other].choices]
                raise ConfigError(f"{recipe_value(w)} is never chosen for {other}{did_you_mean(str(w), names)}; "
                                  f"its choices: {', '.join(names)}", f"{key}.when.{other}")
        out[other] = wanted
    return out


def _yaml_with_lines(path: Path) -> tuple[dict, dict[str, int]]:
    """The file's mapping and the line of every key path in it (``lines["augment.alpha"]``)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read it: {exc}", file=str(path)) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", file=str(path),
                          line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping, got {type(data).__name__}", file=str(path), line=1)
    lines: dict[str, int] = {}
    _walk(node, "", lines)
    return data, lines


def _walk(node, loc: str, lines: dict[str, int]) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = f"{loc}.{key.value}" if loc else str(key.value)
            lines.setdefault(sub, key.start_mark.line + 1)
            _walk(value, sub, lines)
