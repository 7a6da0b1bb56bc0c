"""What a run was made from: versions, seeds, data files and their sha256, the pretrained weights it started
from and the licences of both (what a model card states)."""
from __future__ import annotations

import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

LIBRARIES = ("torch", "accelerate", "safetensors", "tokenizers", "transformers", "gensim", "numpy", "scipy",
             "scikit-learn", "tqdm", "pluggy", "pyyaml", "click")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def data_files(paths: list[str]) -> list[dict]:
    from nlpzoo.files import sha256_file

    out = []
    for p in paths:
        try:
            out.append({"path": os.path.abspath(p), "size": os.path.getsize(p), "sha256": sha256_file(p)})
        except OSError as exc:
            out.append({"path": os.path.abspath(p), "error": str(exc)})
    return out


def provenance(seed: int, files: list[str], world_size: int = 1) -> dict:
    """A JSON-able record; library versions come from package metadata, so nothing is imported."""
    from nlpzoo.plugins import get_manager

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


#: licence names of the catalogue (SPDX) as the Hugging Face hub spells them; any other is "other"
HUB_LICENSES = {"apache-2.0", "mit", "bsd-3-clause", "bsd-2-clause", "lgpl-2.1", "lgpl-3.0", "gpl-3.0", "cc-by-4.0",
                "cc-by-sa-4.0", "cc-by-nc-4.0", "cc0-1.0", "openrail", "llama2", "bigscience-openrail-m"}


def base_model(model_spec) -> dict | None:
    """The pretrained weights a model started from: hub id (when known), licence, catalogue preset."""
    from nlpzoo.plugins import get_catalog

    preset_name = getattr(model_spec, "preset", None)
    params = getattr(model_spec, "params", None) or {}
    if preset_name:
        preset = get_catalog().presets.get(preset_name)
        weights = (preset.weights if preset else None) or {}
        if weights:
            source = weights.get("source", "")
            hub_id = weights.get("origin") or (source[3:] if source.startswith("hf:") else None)
            return {"id": hub_id, "source": source, "license": hub_license(weights.get("license")), "preset": preset_name}
    pretrained = params.get("pretrained")
    if isinstance(pretrained, str) and pretrained:
        looks_like_hub_id = pretrained.count("/") == 1 and not Path(pretrained).exists()
        return {"id": pretrained if looks_like_hub_id else None, "source": pretrained, "license": "other", "preset": None}
    return None


def hub_license(name: str | None) -> str:
    lowered = (name or "").lower()
    return lowered if lowered in HUB_LICENSES else "other"



def data_licenses(files: list[dict]) -> list[str]:
    """Licences of the catalogue's asset packages the data files came from."""
    from nlpzoo.plugins import get_catalog

    found = []
    for asset in get_catalog().assets.values():
        folder = asset.folder()
        if folder is None:
            continue
        for d in files:
            try:
                Path(d["path"]).resolve().relative_to(folder.resolve())
            except ValueError:
                continue
            entry = f"{asset.license} ({asset.requirement})"
            if entry not in found:
                found.append(entry)
    return found
