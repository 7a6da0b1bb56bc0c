"""YAML in with line numbers for every key path, so errors can point at the line."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from .errors import ConfigError


class Located(dict):
    """A mapping that remembers the line of each key path below it (``lines["model.embedder"]``)."""

    file: str | None = None
    lines: dict[str, int]

    def line(self, loc: str) -> int | None:
        """The line of ``loc`` or of its nearest parent that has one."""
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc.rpartition(".")[0]
        return None

    def error(self, exc: ConfigError, prefix: str = "") -> ConfigError:
        loc = ".".join(p for p in (prefix, exc.loc) if p)
        return ConfigError(exc.message, loc, self.file, self.line(loc))


def _walk(node, loc: str, lines: dict[str, int]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = f"{loc}.{key.value}" if loc else str(key.value)
            lines[sub] = key.start_mark.line + 1
            _walk(value, sub, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _walk(value, f"{loc}.{i}" if loc else str(i), lines)


def load_yaml(path: str | os.PathLike, what: str = "file") -> Located:
    """Read a YAML mapping; a missing file, bad syntax or a non-mapping is one ConfigError."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", file=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what}: {exc}", file=path) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid YAML: {problem}", file=path, line=mark.line + 1 if mark else None) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping of keys at the top of the {what}, got {type(data).__name__}", file=path, line=1)
    out = Located(data)
    out.file, out.lines = path, {}
    if node is not None:
        _walk(node, "", out.lines)
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
