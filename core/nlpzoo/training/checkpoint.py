"""Checkpoints: tensors in safetensors, everything else in JSON, never pickle.

A checkpoint is a folder written under a temporary name and renamed into place; ``latest.json``
(written atomically afterwards) names the folders that count. A run killed at any moment leaves
either the previous checkpoint or the new one, never half of one.

Nested state (optimizer and scheduler state dicts, RNG states) is split by :func:`split_tensors`
into a JSON tree with ``{"__tensor__": key}`` leaves and a flat ``{key: tensor}`` mapping.
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
from pathlib import Path
from typing import Any

from ..yamlio import atomic_write

LATEST = "latest.json"


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
    from safetensors.torch import load_file

    return load_file(str(path))


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
    from ..errors import NlpzooError

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
        pointer = read_latest(root) if (root / LATEST).exists() else None
        kept = f"the last good checkpoint ({pointer['last']}) is intact" if pointer else "no checkpoint was written yet"
        raise NlpzooError(f"cannot write checkpoint {root / name}: {reason}; {kept}") from None
    return final


def read_latest(root: Path) -> dict | None:
    """``latest.json``, checked: the folders it names must be inside ``root``."""
    from ..errors import NlpzooError

    path = root / LATEST
    try:
        pointer = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise NlpzooError(f"{path}: unreadable ({exc}); delete the checkpoints folder to start over") from None
    if not isinstance(pointer, dict) or not isinstance(pointer.get("last"), str):
        raise NlpzooError(f"{path}: expected a mapping naming the 'last' checkpoint folder; delete the checkpoints "
                          "folder to start over")
    for key in ("last", "best"):
        name = pointer.get(key)
        if name is not None and (not isinstance(name, str) or Path(name).name != name or name in ("", ".", "..")):
            raise NlpzooError(f"{path}: {key!r} must name a folder inside {root}, got {name!r}")
    return pointer


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

    STATE_PARTS = ("optimizers", "schedulers", "rng", "window", "task", "average")

    def __init__(self, root: Path, writes: bool):
        self.root, self.writes = Path(root), writes

    def save(self, step: int, nets: dict, state: dict, best_step: int | None) -> None:
        if not self.writes:
            return
        tensors, aliases = module_tensors(nets)
        other: dict = {}
        record = {k: split_tensors(v, other) if k in self.STATE_PARTS else v for k, v in state.items()}
        record["aliases"] = aliases
        name = f"step-{step:08d}"
        write_folder(self.root, name, {"nets.safetensors": tensors, "state.safetensors": other,
                                       "state.json": json.dumps(record, indent=1)})
        publish(self.root, {"last": name, "best": self.best_name(best_step) if best_step is not None else None,
                            "step": step})

    def load(self) -> dict | None:
        """The newest state (with ``nets``: the network tensors), or None when there is no checkpoint."""
        from ..errors import NlpzooError

        pointer = read_latest(self.root)
        if pointer is None:
            return None
        folder = self.root / pointer["last"]
        try:
            state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
            tensors = load_tensors(folder / "state.safetensors")
            nets = load_tensors(folder / "nets.safetensors")
        except (OSError, ValueError) as exc:
            raise NlpzooError(f"checkpoint {folder} is unreadable ({exc}); delete {self.root} to start over") from None
        except Exception as exc:
            if type(exc).__name__ != "SafetensorError":
                raise
            raise NlpzooError(f"checkpoint {folder} is corrupt ({exc}); delete {self.root} to start over") from None
        if not isinstance(state, dict) or not isinstance(state.get("loop"), dict):
            raise NlpzooError(f"{folder / 'state.json'}: expected the loop state; delete {self.root} to start over")
        state = {k: join_tensors(v, tensors) if k in self.STATE_PARTS else v for k, v in state.items()}
        state["nets"], state["folder"] = nets, str(folder)
        return state

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
        folder = self.root / self.best_name(step)
        meta = json.loads((folder / "best.json").read_text(encoding="utf-8"))
        load_modules(nets, load_tensors(folder / "nets.safetensors"), meta.get("aliases", {}))
