"""Checkpoints: tensors in safetensors, everything else in JSON, never pickle.

A checkpoint is a folder written under a temporary name and renamed into place; ``latest.json``
(written atomically afterwards) names the folders that count. A run killed at any moment leaves
either the previous checkpoint or the new one, never half of one.

Nested state (optimizer and scheduler state dicts, RNG states) is split by :func:`split_tensors`
into a JSON tree with ``{"__tensor__": key}`` leaves and a flat ``{key: tensor}`` mapping.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import re
import shutil
import typing
from pathlib import Path
from typing import Any, ClassVar

from nlpzoo import NlpzooError
from nlpzoo.files import atomic_write

LATEST = "latest.json"


@dataclasses.dataclass
class SavedState:
    """A checkpoint's training state besides the networks. Its fields are the keys of ``state.json``, named
    here and nowhere else; the tensors inside ``TENSOR_PARTS`` are stored in ``state.safetensors``."""

    loop: dict  # the loop's LoopState
    optimizers: dict  # stage: state_dict
    rng: dict  # every generator's state
    schedulers: dict = dataclasses.field(default_factory=dict)  # stage: state_dict
    window: dict | None = None  # the values logged since the last log line
    task: dict | list | None = None  # the task's own state_dict, when it has one
    average: dict | None = None  # train.ema's averaged weights
    total_steps: int | None = None
    steps_per_epoch: int | None = None

    TENSOR_PARTS: ClassVar[tuple[str, ...]] = ("optimizers", "schedulers", "rng", "window", "task", "average")

    def parts(self) -> dict[str, Any]:
        """Field name to value, not copied (``dataclasses.asdict`` would copy every optimizer tensor)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def of(cls, loaded: dict) -> "SavedState":
        return cls(**{f.name: loaded[f.name] for f in dataclasses.fields(cls) if f.name in loaded})


# ---------------------------------------------------------------- tensors <-> JSON


def split_tensors(obj: Any, tensors: dict, prefix: str = "t") -> Any:
    """A JSON-able copy of ``obj`` with every tensor moved into ``tensors`` (contiguous, on the CPU).

    The tensors are not copied (a copy of the optimizer state would double its memory while saving):
    write them before the training changes them again.
    """
    import numpy as np
    import torch

    if isinstance(obj, torch.Tensor):
        key = f"{prefix}{len(tensors)}"
        tensors[key] = obj.detach().to("cpu").contiguous()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: split_tensors(v, tensors, prefix) for k, v in obj.items()}
        return {"__items__": [[split_tensors(k, tensors, prefix), split_tensors(v, tensors, prefix)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [split_tensors(v, tensors, prefix) for v in obj]}
    if isinstance(obj, list):
        return [split_tensors(v, tensors, prefix) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a checkpoint (tensors, numbers, strings, lists and dicts only)")


def join_tensors(obj: Any, tensors: dict) -> Any:
    """The inverse of :func:`split_tensors`."""
    if isinstance(obj, list):
        return [join_tensors(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__ndarray__" in obj:
        import numpy as np

        return np.asarray(obj["__ndarray__"], dtype=obj["dtype"])
    if "__tuple__" in obj:
        return tuple(join_tensors(v, tensors) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {_hashable(join_tensors(k, tensors)): join_tensors(v, tensors) for k, v in obj["__items__"]}
    if "__float__" in obj:
        return float(obj["__float__"])
    return {k: join_tensors(v, tensors) for k, v in obj.items()}


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def save_tensors(tensors: dict, path: Path) -> None:
    """Straight to the file: serialising to bytes first would hold a second copy of the optimizer state.

    safetensors refuses tensors that share memory, so only those (and slices of a larger buffer) are
    copied; every other tensor is written from where it lies.
    """
    from safetensors.torch import save_file

    owners: set[int] = set()
    apart = {}
    for key, t in tensors.items():
        storage = t.untyped_storage()
        whole = t.storage_offset() == 0 and storage.nbytes() == t.numel() * t.element_size()
        if t.numel() and (not whole or storage.data_ptr() in owners):
            t = t.clone()
        owners.add(t.untyped_storage().data_ptr())
        apart[key] = t
    save_file(apart, str(path))


def load_tensors(path: Path) -> dict:
    """The tensors of a safetensors file; a missing or corrupt file is one error naming it."""
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise CheckpointError(path, "missing") from None
    except Exception as exc:  # safetensors' SafetensorError (a corrupt or cut file), OSError
        if not (type(exc).__name__ == "SafetensorError" or isinstance(exc, (OSError, ValueError, RuntimeError))):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(path, f"unreadable tensors ({first[:200]})") from None


def module_tensors(nets: dict) -> tuple[dict, dict[str, str]]:
    """``{net.param: tensor}`` for every net, with tied tensors stored once (``aliases`` maps the rest)."""
    tensors, aliases, seen = {}, {}, {}
    for name, net in nets.items():
        for key, t in net.state_dict().items():
            full = f"{name}.{key}"
            ident = (t.data_ptr(), t.dtype, tuple(t.shape), tuple(t.stride())) if t.numel() else None
            if ident is not None and ident in seen:
                aliases[full] = seen[ident]
                continue
            if ident is not None:
                seen[ident] = full
            tensors[full] = t.detach().to("cpu").contiguous()  # not copied: see save_tensors
    return tensors, aliases


def load_modules(nets: dict, tensors: dict, aliases: dict[str, str]) -> None:
    """Load what :func:`module_tensors` stored back into ``nets`` (strictly: every key must match)."""
    for full, target in aliases.items():
        tensors[full] = tensors[target]
    for name, net in nets.items():
        prefix = f"{name}."
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        net.load_state_dict(state, strict=True)


# ---------------------------------------------------------------- RNG


def rng_state() -> dict:
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------- folders


def write_folder(root: Path, name: str, files: dict[str, bytes | str | dict]) -> Path:
    """Write ``files`` into ``root/name`` via a temporary folder and a rename.

    A full or read-only disk raises one :class:`~nlpzoo.NlpzooError` naming the folder; the
    temporary folder is removed, so the checkpoints published before are untouched.
    """
    from nlpzoo import NlpzooError

    tmp = root / f".tmp-{name}-{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        for fname, content in files.items():
            if isinstance(content, dict):
                save_tensors(content, tmp / fname)
            else:
                (tmp / fname).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        final = root / name
        if final.exists():  # left by a run killed after the rename but before latest.json named it
            shutil.rmtree(final)
        os.replace(tmp, final)
    except Exception as exc:
        if not (isinstance(exc, OSError) or type(exc).__name__ == "SafetensorError"):
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).strip().splitlines()[0]
        try:
            pointer = read_latest(root)
        except NlpzooError:
            pointer = None
        kept = f"the last good checkpoint ({pointer['last']}) is intact" if pointer else "no checkpoint was written yet"
        raise NlpzooError(f"cannot write checkpoint {root / name}: {reason}; {kept}") from None
    return final


# ---------------------------------------------------------------- reading back (untrusted: a run folder may be anyone's)

#: the largest JSON file read from a checkpoint
MAX_JSON = 256 * 1024 * 1024
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,200}")
#: loop-state keys and the types they must have
_LOOP_TYPES = {"step": int, "epoch": int, "micro": int, "bad_evals": int, "world_size": int,
               "best_step": (int, type(None)), "last_eval_step": (int, type(None)), "stopped": bool,
               "best_value": (int, float, dict, type(None)), "best_metrics": (dict, type(None))}
_STATE_TYPES = {**typing.get_type_hints(SavedState), "aliases": dict}
del _STATE_TYPES["TENSOR_PARTS"]


class CheckpointError(NlpzooError):
    """A checkpoint that cannot be read back; names the file and what to do."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}; the checkpoint cannot be resumed (delete the checkpoints folder "
                         "to start the run over)")


def read_json(path: Path, root: Path):
    """JSON from a file that must lie inside ``root`` and be of a sane size."""
    from nlpzoo import ConfigError
    from nlpzoo.files import read_bounded

    try:
        raw = read_bounded(path, MAX_JSON, "checkpoint file", inside=root)
        return json.loads(raw.decode("utf-8"))
    except ConfigError as exc:
        raise CheckpointError(path, exc.message) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(path, f"unreadable JSON ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})") from None


def folder_in(root: Path, name, source: Path, key: str) -> Path:
    """``root/name`` for a checkpoint folder name read from ``source``: a plain name, inside ``root``, present."""
    from nlpzoo import ConfigError
    from nlpzoo.files import confined

    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name):
        raise CheckpointError(source, f"{key!r} must name a checkpoint folder inside {root} (like step-00000012), "
                              f"got {str(name)[:80]!r}")
    folder = root / name
    try:
        confined(root, folder, "checkpoint folder")
    except ConfigError as exc:
        raise CheckpointError(source, f"{key!r}: {exc.message}") from None
    if not folder.is_dir():
        raise CheckpointError(source, f"{key!r} names {name}, which is not a folder in {root}")
    return folder


def read_latest(root: Path) -> dict | None:
    """The pointer to the current checkpoint (``latest.json``), checked; None when there is none yet."""
    path = root / LATEST
    if not path.exists() and not path.is_symlink():
        return None
    pointer = read_json(path, root)
    if not isinstance(pointer, dict):
        raise CheckpointError(path, f"expected a mapping with 'last', 'best' and 'step', got {type(pointer).__name__}")
    folder_in(root, pointer.get("last"), path, "last")
    if pointer.get("best") is not None:
        folder_in(root, pointer["best"], path, "best")
    step = pointer.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise CheckpointError(path, f"'step' must be a step number, got {str(step)[:80]!r}")
    return pointer


def load_checkpoint(root: Path) -> dict | None:
    """The state of the checkpoint ``latest.json`` names, tensors joined back in; None when there is none.

    Everything is checked before the loop uses any of it: the folder lies inside ``root``, the JSON
    has the expected shape, the tensors load, the RNG states are ones the generators accept. A
    problem is one :class:`CheckpointError` naming the file.
    """
    pointer = read_latest(root)
    if pointer is None:
        return None
    folder = folder_in(root, pointer["last"], root / LATEST, "last")
    state_path = folder / "state.json"
    state = read_json(state_path, root)
    _check_types(state, _STATE_TYPES, state_path, "", required=("loop", "optimizers", "rng"))
    _check_types(state["loop"], _LOOP_TYPES, state_path, "loop.", required=("step", "epoch", "micro"))
    for key in ("step", "epoch", "micro"):
        if state["loop"][key] < 0:
            raise CheckpointError(state_path, f"loop.{key} must be 0 or more, got {state['loop'][key]}")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in state["aliases"].items()):
        raise CheckpointError(state_path, "'aliases' must map tensor names to tensor names")
    tensors = load_tensors(folder / "state.safetensors")
    try:
        state = {k: join_tensors(v, tensors) if k in SavedState.TENSOR_PARTS else v for k, v in state.items()}
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, IndexError) as exc:
        raise CheckpointError(state_path, f"does not match state.safetensors ({type(exc).__name__}: {str(exc)[:120]})") from None
    _check_rng(state["rng"], state_path)
    state["nets"] = load_tensors(folder / "nets.safetensors")
    state["folder"] = str(folder)
    return state


def load_best(root: Path, name: str) -> tuple[dict, dict]:
    """``(tensors, aliases)`` of the best-weights folder ``name`` (confined to ``root`` like every read)."""
    folder = folder_in(root, name, root / LATEST, "best")
    meta = read_json(folder / "best.json", root)
    aliases = meta.get("aliases", {}) if isinstance(meta, dict) else None
    if not isinstance(aliases, dict):
        raise CheckpointError(folder / "best.json", "expected a mapping with 'aliases'")
    return load_tensors(folder / "nets.safetensors"), aliases


def _check_types(data, types: dict, path: Path, prefix: str, required: tuple[str, ...]) -> None:
    if not isinstance(data, dict):
        raise CheckpointError(path, f"expected a mapping{' at ' + prefix.rstrip('.') if prefix else ''}, got {type(data).__name__}")
    for key in required:
        if key not in data:
            raise CheckpointError(path, f"missing {prefix}{key}")
    for key, expected in types.items():
        if key in data and (not isinstance(data[key], expected) or isinstance(data[key], bool) and expected is int):
            raise CheckpointError(path, f"{prefix}{key} has the wrong type ({type(data[key]).__name__})")


def _check_rng(state: dict, path: Path) -> None:
    """Try the saved RNG states on throwaway generators: a bad one fails here, not halfway through a restore."""
    import numpy as np
    import torch

    try:
        random.Random().setstate(state["python"])
        np.random.RandomState().set_state(state["numpy"])
        torch.Generator().set_state(state["torch"])
    except (KeyError, TypeError, ValueError, RuntimeError, OverflowError, IndexError, AttributeError) as exc:
        raise CheckpointError(path, f"rng: not a generator state ({type(exc).__name__}: {str(exc)[:120]})") from None


def publish(root: Path, pointer: dict) -> None:
    """Make ``pointer`` the current checkpoint, then delete the folders this process no longer needs.

    A temporary folder of another live process is left alone; those of dead processes are removed.
    """
    atomic_write(root / LATEST, json.dumps(pointer, indent=1))
    keep = {v for v in pointer.values() if isinstance(v, str)}
    for child in root.iterdir():
        if not child.is_dir() or child.name in keep:
            continue
        if child.name.startswith(".tmp-") and _alive(child.name.rpartition("-")[2]):
            continue
        shutil.rmtree(child, ignore_errors=True)


def _alive(pid: str) -> bool:
    """Whether process ``pid`` (another than this one) still runs."""
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


# ---------------------------------------------------------------- the loop's checkpoints


class Checkpointer:
    """``checkpoints/``: the newest step's whole training state and the best weights so far.

    ``save`` writes ``step-N/`` (networks, the JSON state and its tensors) and then points
    ``latest.json`` at it; ``save_best`` writes ``best-N/`` (networks and metrics). Only the main
    process writes; every process reads on resume.
    """

    def __init__(self, root: Path, writes: bool):
        self.root, self.writes = Path(root), writes

    def save(self, step: int, nets: dict, state: SavedState, best_step: int | None) -> None:
        if not self.writes:
            return
        tensors, aliases = module_tensors(nets)
        other: dict = {}
        record = {k: split_tensors(v, other) if k in SavedState.TENSOR_PARTS else v for k, v in state.parts().items()}
        record["aliases"] = aliases
        name = f"step-{step:08d}"
        write_folder(self.root, name, {"nets.safetensors": tensors, "state.safetensors": other,
                                       "state.json": json.dumps(record, indent=1)})
        publish(self.root, {"last": name, "best": self.best_name(best_step) if best_step is not None else None,
                            "step": step})

    def load(self) -> dict | None:
        """The newest state (with ``nets``: the network tensors, ``folder``: where it was), or None when there is
        no checkpoint; checked whole by :func:`load_checkpoint` (a problem is one error naming the file)."""
        return load_checkpoint(self.root)

    @staticmethod
    def best_name(step: int) -> str:
        return f"best-{step:08d}"

    def save_best(self, step: int, nets: dict, metrics: dict) -> None:
        if not self.writes:
            return
        tensors, aliases = module_tensors(nets)
        write_folder(self.root, self.best_name(step), {
            "nets.safetensors": tensors,
            "best.json": json.dumps({"step": step, "metrics": metrics, "aliases": aliases}, indent=1)})

    def load_best(self, step: int, nets: dict) -> None:
        tensors, aliases = load_best(self.root, self.best_name(step))
        load_modules(nets, tensors, aliases)
