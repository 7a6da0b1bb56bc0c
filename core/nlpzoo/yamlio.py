"""YAML in with line numbers for every key path, so errors can point at the line; files out atomically.

Every YAML the project reads (recipes, catalogues, specs, ``--set`` values, a run's saved recipe) goes
through :func:`parse_yaml`, which bounds what untrusted text can cost: the file's size, the nesting
depth and the number of nodes once aliases are expanded (a few hundred bytes of nested aliases would
otherwise expand to billions of nodes), and refuses recursive aliases and duplicate keys, each with
the file and line.
"""
from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from pathlib import Path

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from .errors import ConfigError, NlpzooError

#: the largest YAML file read (recipes and catalogues are a few kilobytes)
MAX_YAML_BYTES = 2 * 1024 * 1024
#: the deepest nesting of mappings and lists, aliases expanded
MAX_YAML_DEPTH = 50
#: the most nodes a document may hold once every alias is expanded
MAX_YAML_NODES = 100_000

_MERGE_TAG = "tag:yaml.org,2002:merge"


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


class _Bounds:
    """Counts while composing: depth, expanded size, recursion; refuses duplicate keys and unreadable values.

    Mixed into a loader whose events come from libyaml when it is installed (six times faster than
    PyYAML's pure-Python scanner) and whose composing is PyYAML's Python composer, so it can be bounded.
    """

    def _start_bounds(self, file: str | None) -> None:
        self.file = file
        self.anchors = {}
        self._depth = 0
        self._count = 0  # nodes so far with every alias expanded
        self._measure: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
        self._open: list[str | None] = []  # anchors of the nodes still being composed: an alias to one is recursive

    def _refuse(self, message: str, mark) -> ConfigError:
        return ConfigError(message, file=self.file, line=mark.line + 1 if mark is not None else None)

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:
                if event.anchor in self._open:
                    raise self._refuse(f"recursive alias *{event.anchor}: the anchor contains itself", event.start_mark)
                size, height = self._measure.get(id(node), (1, 1))
                if self._depth + height > MAX_YAML_DEPTH:
                    raise self._refuse(f"alias *{event.anchor} nests deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
                self._add(size, event.start_mark)
            return Composer.compose_node(self, parent, index)
        event = self.peek_event()
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise self._refuse(f"nested deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
        before = self._count
        self._add(1, event.start_mark)
        self._open.append(getattr(event, "anchor", None))
        try:
            node = Composer.compose_node(self, parent, index)
        finally:
            self._depth -= 1
            self._open.pop()
        children = node.value if isinstance(node, yaml.SequenceNode) else (
            [v for pair in node.value for v in pair] if isinstance(node, yaml.MappingNode) else [])
        height = 1 + max((self._measure.get(id(c), (1, 1))[1] for c in children), default=0)
        self._measure[id(node)] = (self._count - before, height)
        return node

    def _add(self, n: int, mark) -> None:
        self._count += n
        if self._count > MAX_YAML_NODES:
            raise self._refuse(f"expands to more than {MAX_YAML_NODES:,} nodes (aliases of aliases?)", mark)

    def construct_object(self, node, deep=False):
        try:
            return SafeConstructor.construct_object(self, node, deep)
        except (ConfigError, yaml.YAMLError):
            raise
        except (ValueError, OverflowError, TypeError, IndexError, KeyError, AttributeError) as exc:  # 5,000-digit integers, impossible dates, an empty !!int
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "integer string conversion" in message:
                digits = sum(c.isdigit() for c in str(node.value))
                message = f"an integer of {digits:,} digits is too long (at most {sys.get_int_max_str_digits():,})"
            raise self._refuse(f"cannot read the value {_clip(node.value)}: {message}", node.start_mark) from None

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # unhashable: PyYAML says so itself
                if first is not None:
                    raise self._refuse(f"duplicate key {key!r}: first at line {first}, again at line "
                                       f"{key_node.start_mark.line + 1}", key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
        return SafeConstructor.construct_mapping(self, node, deep)


class _PythonLoader(_Bounds, yaml.SafeLoader):
    def __init__(self, text: str, file: str | None):
        yaml.SafeLoader.__init__(self, text)
        self._start_bounds(file)


try:
    from yaml.cyaml import CParser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    _BoundedLoader = _PythonLoader
else:
    class _BoundedLoader(_Bounds, CParser, SafeConstructor, Resolver):
        """libyaml's events, PyYAML's (bounded) composer and safe constructor."""

        def __init__(self, text: str, file: str | None):
            CParser.__init__(self, text)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._start_bounds(file)

        get_single_node = Composer.get_single_node
        compose_document = Composer.compose_document
        compose_scalar_node = Composer.compose_scalar_node
        compose_sequence_node = Composer.compose_sequence_node
        compose_mapping_node = Composer.compose_mapping_node


def _clip(value, n: int = 40) -> str:
    text = value if isinstance(value, str) else "(a collection)"
    return repr(text if len(text) <= n else text[:n] + "...")


def parse_yaml_node(text: str, file: str | None = None):
    """``(data, node)`` for one YAML document, within the bounds; one ConfigError naming file and line otherwise."""
    loader = None
    try:
        loader = _BoundedLoader(text, file)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.reader.ReaderError as exc:  # a control character: found before any parsing
        line = text[:max(exc.position, 0)].count("\n") + 1
        raise ConfigError(f"invalid YAML: character {exc.character:#06x} is not allowed", file=file, line=line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid YAML: {problem}", file=file, line=mark.line + 1 if mark else None) from None
    except RecursionError:  # a bound above should have stopped it first
        raise ConfigError(f"nested too deeply (the limit is {MAX_YAML_DEPTH} levels)", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, node


def parse_yaml(text: str, file: str | None = None):
    """The value of one YAML document (see :func:`parse_yaml_node` for the bounds)."""
    return parse_yaml_node(text, file)[0]


def read_bounded(path: str | os.PathLike, limit: int, what: str = "file", inside: str | os.PathLike | None = None) -> bytes:
    """The bytes of ``path``, refused (one ConfigError naming it) when larger than ``limit``.

    Devices and pipes are read up to the limit (``/dev/zero`` is refused, not read forever); a folder
    is refused. With ``inside`` (a run folder), a path that leads out of that folder (``..``, a symlink)
    is refused, and so is anything but a regular file: a FIFO there would wait for a writer forever.
    """
    path = str(path)
    if inside is not None:
        confined(inside, path, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", file=path) from None
    except IsADirectoryError:
        raise ConfigError(f"expected a {what}, found a folder", file=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror or exc}", file=path) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"expected a {what}, found a folder", file=path)
        if inside is not None and not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"expected the {what} as a regular file, found {_kind_of(info.st_mode)}; "
                              "refusing to read it", file=path)
        if stat.S_ISREG(info.st_mode) and info.st_size > limit:
            raise ConfigError(f"{what} is {_size(info.st_size)}, larger than the limit of {_size(limit)}", file=path)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # only opening a FIFO should not wait for a writer
        chunks, total = [], 0
        want = info.st_size + 1 if stat.S_ISREG(info.st_mode) else 1 << 16  # one read for a file of known size
        while total <= limit:
            block = os.read(fd, max(1, min(want, limit + 1 - total)))
            want = 1 << 20
            if not block:
                break
            chunks.append(block)
            total += len(block)
        if total > limit:
            raise ConfigError(f"{what} is larger than the limit of {_size(limit)}", file=path)
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror or exc}", file=path) from None
    finally:
        os.close(fd)


def confined(root: str | os.PathLike, path: str | os.PathLike, what: str = "file") -> Path:
    """``path`` if it lies inside folder ``root`` once symlinks and ``..`` are resolved; a ConfigError otherwise."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        raise ConfigError(f"the {what} leads out of {root} (to {real}); refusing to read it", file=str(path))
    return Path(path)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{n} bytes"


def load_yaml(path: str | os.PathLike, what: str = "file") -> Located:
    """Read a YAML mapping; a missing, huge or malformed file or a non-mapping is one ConfigError."""
    path = str(path)
    raw = read_bounded(path, MAX_YAML_BYTES, what)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"cannot read {what}: not UTF-8 text (byte 0x{raw[exc.start]:02x})", file=path, line=line) from None
    data, node = parse_yaml_node(text, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping of keys at the top of the {what}, got {type(data).__name__}", file=path, line=1)
    out = Located(data)
    out.file, out.lines = path, {}
    if node is not None:
        _walk(node, "", out.lines)
    return out


def _walk(node, loc: str, lines: dict[str, int]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = f"{loc}.{key.value}" if loc else str(key.value)
            lines.setdefault(sub, key.start_mark.line + 1)
            _walk(value, sub, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _walk(value, f"{loc}.{i}" if loc else str(i), lines)


# ---------------------------------------------------------------- writing


class WriteError(NlpzooError, OSError):
    """A file could not be written (read-only or full disk, not a regular file); names the path."""

    def __init__(self, message: str, path: str | os.PathLike, code: int | None = None):
        NlpzooError.__init__(self, message)
        self.message, self.filename, self.errno = message, str(path), code

    def __str__(self) -> str:
        return f"{self.filename}: {self.message}"


def write_failure(exc: OSError) -> str:
    """Why a write failed, in words: ``the disk is full``, ``the file system is read-only``, ..."""
    return {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.EFBIG: "the file is larger than allowed (file size limit)",
            errno.EDQUOT: "the disk quota is exceeded"}.get(exc.errno, exc.strerror or str(exc))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def write_target(path: str | os.PathLike) -> Path:
    """Where writing ``path`` lands: a symlink's final target; refuses anything but a regular file or a new path."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise WriteError(f"cannot write: {exc.strerror or exc}", path, exc.errno) from None
    if not stat.S_ISREG(info.st_mode):
        via = f" (through the symlink to {target})" if target != path else ""
        raise WriteError(f"is {_kind_of(info.st_mode)}{via}; nlpzoo writes only regular files or new paths", path)
    return target


def no_symlink_inside(root: str | os.PathLike, path: str | os.PathLike) -> Path:
    """``path``, refused (a WriteError naming it) if it or a folder between ``root`` and it is a symlink.

    What nlpzoo writes inside a run folder stays there: a run folder from elsewhere may hold a
    ``report.html`` or a ``model`` that is a symlink to a file or folder outside.
    """
    path, root = Path(path), Path(root)
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        raise WriteError(f"lies outside the run folder {root}; refusing to write it", path) from None
    current = root
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise WriteError(f"is a symlink (to {os.readlink(current)}); nlpzoo never writes through a symlink "
                             "inside a run folder: remove it", current)
    return path


def atomic_write(path: str | os.PathLike, data: bytes | str, *, inside: str | os.PathLike | None = None) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file.

    A symlink is written through (its target is replaced, the link stays) unless ``inside`` names the
    run folder ``path`` belongs to: there a symlink on the way is refused. An existing FIFO, device or
    folder is refused, never replaced. Missing parent folders are created. A failure (read-only or
    full disk) is a :class:`WriteError` naming ``path``, and leaves any previous file as it was.
    """
    if inside is not None:
        no_symlink_inside(inside, path)
    target = write_target(path)
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)  # keep an existing file's permissions
        except FileNotFoundError:
            mode = 0o666 & ~_umask()  # mkstemp makes 0600 files; give the usual permissions
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        if isinstance(exc, WriteError):
            raise
        raise WriteError(f"cannot write: {write_failure(exc)}", path, exc.errno) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def check_output(path: str, *, parents: bool = False, option: str = "--output") -> Path | None:
    """A command's output path checked before any work: None for ``-`` (stdout).

    Refused with one line naming the option: an existing path that is not a regular file (or a
    symlink to one), and a missing parent folder unless ``parents`` says to create it.
    """
    if path == "-":
        return None
    try:
        target = write_target(path)
    except WriteError as exc:
        raise ConfigError(f"{path}: {exc.message}; use {option} - for standard output", option) from None
    folder = target.parent
    if not folder.exists():
        if not parents:
            raise ConfigError(f"{path}: the folder {folder} does not exist; create it, or add --parents", option)
    elif not folder.is_dir():
        raise ConfigError(f"{path}: {folder} is not a folder", option)
    return Path(path)


def write_output(path: str, data: bytes | str, *, parents: bool = False, option: str = "--output") -> None:
    """Write a command's output: atomically to ``path`` (checked as :func:`check_output`), or to stdout for ``-``."""
    if check_output(path, parents=parents, option=option) is None:
        stream = sys.stdout.buffer if isinstance(data, bytes) else sys.stdout
        stream.write(data)
        stream.flush()
        return
    atomic_write(path, data)
