"""Finished runs: ``open_run(directory)`` brings back the model, the recipe and the metrics.

A run folder is treated as untrusted input: every file read from it must lie inside it (no ``..``, no
symlink leading out), is size-limited, and the saved model's files must match the sha256 that
``run.json`` recorded when the model was saved. Writing into a run folder takes its lock
(``nlpzoo_training.lock.RunLock``), so two trainings never share one; :func:`lock_is_held` tells whether
a live process holds it.
"""
from __future__ import annotations

import json
import os
import stat
from functools import cached_property
from pathlib import Path

from .errors import ConfigError, NlpzooError

#: for code that reads run folders (reports, trackers): the rest of this module is internal
__all__ = ["RunHandle", "lock_is_held", "open_run", "read_run_json", "read_run_records", "read_run_text"]

#: the largest JSON or YAML file read from a run folder
MAX_RUN_FILE = 64 * 1024 * 1024
MODEL_DIR = "model"
LOCK_FILE = ".lock"


def read_run_json(run_dir: str | os.PathLike, rel: str, what: str | None = None, limit: int = MAX_RUN_FILE):
    """The JSON in ``run_dir/rel``, confined to the run folder; one ConfigError naming the file otherwise."""
    from .yamlio import read_bounded

    path = Path(run_dir) / rel
    raw = read_bounded(path, limit, what or rel, inside=run_dir)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: bad JSON, or a 5,000-digit number
        raise ConfigError(f"unreadable JSON: {str(exc).splitlines()[0][:200]}", file=str(path)) from None
    except RecursionError:
        raise ConfigError("unreadable JSON: nested too deeply", file=str(path)) from None


def model_digest(folder: str | os.PathLike) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under a saved model's folder (what run.json records)."""
    from .catalog import sha256_file

    folder = Path(folder)
    out = {}
    for path in sorted(folder.rglob("*")):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            raise ConfigError("a saved model holds only files and folders, not symlinks", file=str(path))
        if stat.S_ISREG(mode):
            out[path.relative_to(folder).as_posix()] = sha256_file(path)
        elif not stat.S_ISDIR(mode):  # a FIFO would make loading wait forever; the digest covers every file
            raise ConfigError("a saved model holds only regular files and folders, not FIFOs, devices or sockets",
                              file=str(path))
    return out


def read_run_text(run_dir: str | os.PathLike, rel: str, what: str | None = None, limit: int = MAX_RUN_FILE) -> str | None:
    """The UTF-8 text of ``run_dir/rel`` read as :func:`read_run_json` reads; None when there is no such file."""
    from .yamlio import read_bounded

    path = Path(run_dir) / rel
    if not os.path.lexists(path):
        return None
    raw = read_bounded(path, limit, what or rel, inside=run_dir)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=str(path)) from None


def read_run_records(run_dir: str | os.PathLike) -> list[dict]:
    """``metrics.jsonl``, one dict per line; a line cut short by a killed process, or not a mapping, is skipped."""
    out = []
    for line in (read_run_text(run_dir, "metrics.jsonl") or "").splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # a torn last line; nesting deep enough to exhaust the parser
            continue
        if isinstance(record, dict):
            out.append(record)
    return out





def verify_model(folder: Path, recorded: dict) -> None:
    """The model folder's files are exactly those ``run.json`` recorded, with the same sha256."""
    if not isinstance(recorded, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in recorded.items()):
        raise ConfigError("model_sha256 must map file names to sha256 digests", file=str(folder.parent / "run.json"))
    from .yamlio import confined

    confined(folder.parent, folder, "model folder")
    actual = model_digest(folder)
    for rel in sorted(set(recorded) | set(actual)):
        where = str(folder / rel)
        if rel not in actual:
            raise ConfigError("missing: run.json recorded this file of the saved model; refusing to load it", file=where)
        if rel not in recorded:
            raise ConfigError("not part of the saved model (run.json does not record it); refusing to load it", file=where)
        if actual[rel] != recorded[rel]:
            raise ConfigError(f"sha256 {actual[rel][:12]}... differs from the {recorded[rel][:12]}... run.json recorded "
                              "when the model was saved (changed or corrupt); refusing to load it", file=where)


class RunHandle:
    """A run directory written by ``nlpzoo train``. The model is loaded on first use of :attr:`model`."""

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        if not (self.dir / "run.json").exists() and not (self.dir / "run.json").is_symlink():
            what = "does not exist" if not self.dir.exists() else "is not a run directory (no run.json)"
            raise ConfigError(f"{what}; make one with: nlpzoo train RECIPE --run-dir {self.dir}", file=str(self.dir))
        self.info = read_run_json(self.dir, "run.json")
        _check_info(self.info, self.dir / "run.json")

    @cached_property
    def recipe(self) -> dict:
        """The resolved recipe the run was made from (every spec pinned to its provider)."""
        from .yamlio import parse_yaml, read_bounded

        path = self.dir / "recipe.yaml"
        raw = read_bounded(path, MAX_RUN_FILE, "recipe", inside=self.dir)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError("not UTF-8 text", file=str(path)) from None
        data = parse_yaml(text, str(path)) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"expected a mapping, got {type(data).__name__}", file=str(path))
        return data

    @property
    def metrics(self) -> dict[str, float]:
        """The final metrics (``metrics.json``), empty while the run has not finished."""
        if not (self.dir / "metrics.json").exists():
            return {}
        data = read_run_json(self.dir, "metrics.json")
        if not isinstance(data, dict):
            raise ConfigError(f"expected a mapping of metrics, got {type(data).__name__}", file=str(self.dir / "metrics.json"))
        return data

    @property
    def status(self) -> str:
        """As run.json says; a run recorded as running whose process is gone (killed) is ``interrupted``."""
        recorded = str(self.info.get("status", "unknown"))
        if recorded == "running" and not lock_is_held(self.dir):
            return "interrupted"
        return recorded

    @property
    def error(self) -> str:
        """How a failed or interrupted run ended: the error line and where, as run.json records it."""
        error = self.info.get("error")
        if error:
            return str(error)
        return "the training process ended without a word (killed?)" if self.status == "interrupted" else ""

    @property
    def kind(self) -> str:
        return self.info["model"]["kind"]

    def model_class(self):
        """The class that trained the model, found through the registry by kind and provider."""
        from .errors import UnknownComponent
        from .plugins import get_manager

        m = self.info["model"]
        registry = get_manager().registry
        try:
            try:
                entry = registry.get(m["kind"], f"{m['provider']}:{m['name']}")
            except UnknownComponent:
                entry = registry.get(m["kind"], m["name"])
        except UnknownComponent as exc:
            raise ConfigError(f"the run's model is a {m['kind']} {m['name']!r} from {m['provider']!r}, which no "
                              f"installed plugin provides ({exc.message})", file=str(self.dir / "run.json")) from None
        return entry.load()

    @cached_property
    def model(self):
        """``TargetClass.load(run_dir/"model")``, after checking the files against run.json's sha256."""
        folder = self.dir / MODEL_DIR
        if not folder.exists():
            raise ConfigError(f"the run has no saved model yet (status: {self.status}); finish it with "
                              f"nlpzoo train RECIPE --run-dir {self.dir} --resume", file=str(self.dir))
        recorded = self.info.get("model_sha256")
        if recorded is not None:
            verify_model(folder, recorded)
        else:
            from .yamlio import confined

            confined(self.dir, folder, "model folder")
            model_digest(folder)  # refuses symlinks, FIFOs and devices even without digests to compare
        cls = self.model_class()
        try:
            return cls.load(str(folder))
        except NlpzooError:
            raise
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise _load_error(exc, folder) from None
        except Exception as exc:  # safetensors' own SafetensorError (not an OSError) for a corrupt file
            if type(exc).__name__ != "SafetensorError":
                raise
            raise _load_error(exc, folder) from None

    def model_for(self, command: str, method: str):
        """The model, if its class can do what ``nlpzoo <command>`` needs (``method``); one line otherwise."""
        cls = self.model_class()
        if not callable(getattr(cls, method, None)):
            m = self.info["model"]
            fits = {"predict": "a classifier, multi-label classifier, regressor or tagger", "generate": "a language_model", "sample": "a gan",
                    "neighbors": "an embedder"}.get(command, f"a model with {method}()")
            raise ConfigError(f"is a {m['kind']} run ({m['name']}); nlpzoo {command} needs {fits} run", file=str(self.dir))
        return self.model

    def dataset(self):
        """The dataset the run was trained on, built from the saved recipe (same seed, same splits)."""
        from .config import build

        if "dataset" not in self.recipe:
            raise ConfigError("the run's recipe names no dataset", file=str(self.dir / "recipe.yaml"))
        return build(self.recipe["dataset"], "dataset")

    def evaluate(self, split: str = "test") -> dict[str, float]:
        """The model's metrics on ``split`` of the run's dataset."""
        data = self.dataset().load()
        if split not in data:
            raise ConfigError(f"the dataset has no split {split!r}; splits: {', '.join(data)}", "--split")
        return self.model.evaluate(data[split])

    def __repr__(self) -> str:
        return f"RunHandle({str(self.dir)!r}, status={self.status!r})"


def _check_info(info, path: Path) -> None:
    if not isinstance(info, dict):
        raise ConfigError(f"expected a mapping, got {type(info).__name__}", file=str(path))
    model = info.get("model")
    if not isinstance(model, dict) or not all(isinstance(model.get(k), str) for k in ("kind", "name", "provider")):
        raise ConfigError("expected 'model' with the strings 'kind', 'name' and 'provider'", file=str(path))


def _load_error(exc: BaseException, folder: Path) -> ConfigError:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ConfigError(f"cannot load the saved model: {type(exc).__name__}: {message[:300]}", file=str(folder))


def open_run(directory: str | os.PathLike) -> RunHandle:
    """The run in ``directory``: ``.model``, ``.recipe``, ``.metrics``, ``.evaluate(split)``."""
    return RunHandle(directory)


def lock_is_held(run_dir: str | os.PathLike) -> bool:
    """Whether a live process holds the run folder's lock (a run still writing there)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no flock here: trust run.json
        return True
    try:  # never follow a link, never wait on a FIFO
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False
