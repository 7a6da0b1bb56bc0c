"""GGUF checkpoints (llama.cpp's quantized format) as plain transformers folders, converted once and cached.

transformers reads a GGUF file with the ``gguf`` package and dequantizes it to fp32 (about 18 s for
SmolLM2-135M on 2 cores), but refuses to ``save_pretrained`` the result, whose config is marked as
quantized. The model is therefore rebuilt from its config without that mark, given the dequantized
weights, and saved as a safetensors folder under ``~/.cache/nlpzoo/gguf/`` (``NLPZOO_CACHE``), keyed by
the GGUF file's sha256. ``manifest.json`` records every file's sha256 and size; each later use checks
them (about 2 s for 540 MB) and converts again when they differ. Importing this module is cheap.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from nlpzoo import AssetError, ConfigError

MANIFEST = "manifest.json"


def gguf_file(pretrained: str) -> Path | None:
    """The GGUF file ``pretrained`` names (the file, or a folder holding exactly one); None for anything else."""
    path = Path(os.path.expanduser(pretrained))
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir() and not (path / "config.json").exists():
        found = sorted(path.glob("*.gguf"))
        if len(found) > 1:
            raise ConfigError(f"holds {len(found)} GGUF files ({', '.join(p.name for p in found)}); name one of them",
                              "model.pretrained", file=str(path))
        return found[0] if found else None
    return None


def cache_root() -> Path:
    base = os.environ.get("NLPZOO_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nlpzoo")
    return Path(base) / "gguf"


def plain_folder(gguf: Path) -> Path:
    """The verified transformers folder for ``gguf``, converting it first when there is none (or a damaged one)."""
    from nlpzoo.files import sha256_file

    folder = cache_root() / f"{gguf.stem}-{sha256_file(gguf)[:16]}"
    if folder.exists() and not problems(folder):
        return folder
    return convert(gguf, folder)


def problems(folder: Path) -> list[str]:
    """What differs from the folder's manifest (missing files, sizes, sha256); empty when all is well."""
    from nlpzoo.files import sha256_file

    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [f"{MANIFEST}: missing or unreadable"]
    found = []
    for name, meta in manifest["files"].items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != meta["size"]:
            found.append(f"{name}: missing or of another size")
        elif sha256_file(path) != meta["sha256"]:
            found.append(f"{name}: sha256 differs")
    return found


def convert(gguf: Path, folder: Path) -> Path:
    """Dequantize ``gguf`` into a plain safetensors folder at ``folder`` (written aside, then moved in place)."""
    import importlib.util
    import time

    if importlib.util.find_spec("gguf") is None:  # transformers reads the file with it
        raise AssetError(f"{gguf.name} is a GGUF checkpoint; reading it needs the gguf package: "
                         "pip install 'nlpzoo[gguf]'")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from nlpzoo.files import atomic_write, sha256_file

    from .hf import quiet

    started = time.perf_counter()
    print(f"dequantizing {gguf.name} into {folder} (once; about 20 s and 4 bytes a parameter)", flush=True)
    with quiet():
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        quantized = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # what makes save_pretrained refuse: the weights are plain fp32 now
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(quantized.state_dict())
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        files = {p.name: {"sha256": sha256_file(p), "size": p.stat().st_size} for p in sorted(staging.iterdir())}
        atomic_write(staging / MANIFEST, json.dumps({"source": gguf.name, "source_sha256": sha256_file(gguf),
                                                     "seconds": round(time.perf_counter() - started, 1),
                                                     "files": files}, indent=1))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"dequantized in {time.perf_counter() - started:.0f} s", flush=True)
    return folder
