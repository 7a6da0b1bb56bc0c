"""What a run was made from: versions, seeds, data files and their sha256."""
from __future__ import annotations

import os
import platform
import sys
import time
from importlib import metadata

LIBRARIES = ("torch", "accelerate", "safetensors", "tokenizers", "transformers", "gensim", "numpy", "scipy",
             "scikit-learn", "tqdm", "pluggy", "pyyaml", "click")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def data_files(paths: list[str]) -> list[dict]:
    from ..catalog import sha256_file

    out = []
    for p in paths:
        try:
            out.append({"path": os.path.abspath(p), "size": os.path.getsize(p), "sha256": sha256_file(p)})
        except OSError as exc:
            out.append({"path": os.path.abspath(p), "error": str(exc)})
    return out


def provenance(seed: int, files: list[str], world_size: int = 1) -> dict:
    """A JSON-able record; library versions come from package metadata, so nothing is imported."""
    from ..plugins import get_manager

    plugins = {row.name: {"distribution": row.distribution, "version": row.version, "status": row.status}
               for row in sorted(get_manager().health.values(), key=lambda r: r.name)}
    return {
        "nlpzoo": _version("nlpzoo"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": platform.node(),
        "command": sys.argv,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "world_size": world_size,
        "seeds": {"recipe": seed, "python": seed, "numpy": seed, "torch": seed},
        "plugins": plugins,
        "libraries": {name: v for name in LIBRARIES if (v := _version(name))},
        "data": data_files(files),
    }
