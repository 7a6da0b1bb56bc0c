"""Where pretrained weights come from: a local folder, or a hub id that must not hang when offline.

Only the standard library is imported at module level; ``huggingface_hub`` only for hub ids.
"""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from nlpzoo import AssetError

OFFLINE_HINT = ("use a local folder with config.json and *.safetensors weights, or the packaged preset "
                "'minilm-l6' (model: minilm-l6; embedder: minilm-l6-embedder)")
PROBE_SECONDS = 2.0  # longer than a healthy TLS-less TCP connect, short enough to count as "at once"


def locate(pretrained: str) -> str:
    """A local folder to load from, or a hub id when the hub is reachable; else one clear AssetError."""
    if not isinstance(pretrained, str) or not pretrained.strip():
        raise AssetError("pretrained: give a local folder or a hub id")
    path = Path(os.path.expanduser(pretrained))
    if path.exists() or _looks_like_path(pretrained):
        return check_folder(path)
    return _hub(pretrained)


def check_folder(path: Path) -> str:
    """A folder with config.json and safetensors weights (nothing else is ever loaded)."""
    if not path.is_dir():
        raise AssetError(f"pretrained: {path} is not a folder (expected config.json and *.safetensors inside)")
    if not (path / "config.json").is_file():
        raise AssetError(f"pretrained: {path} has no config.json; is it a Hugging Face model folder?")
    if not any(path.glob("*.safetensors")) and not (path / "model.safetensors.index.json").exists():
        found = ", ".join(sorted(p.name for p in path.glob("*.bin"))) or "none"
        raise AssetError(f"pretrained: {path} has no *.safetensors weights (found: {found}); nlpzoo loads only "
                         "safetensors, convert with transformers: model.save_pretrained(folder, safe_serialization=True)")
    return str(path)


def _looks_like_path(text: str) -> bool:
    """Hub ids are ``name`` or ``org/name``; anything else that does not exist is a missing folder."""
    return text.startswith((".", "/", "~")) or text.count("/") > 1 or "\\" in text


def offline() -> bool:
    """True when HF_HUB_OFFLINE is set or the hub's host cannot be reached within PROBE_SECONDS."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, 443), timeout=PROBE_SECONDS):
                result.append(True)
        except OSError:
            result.append(False)

    # DNS lookups ignore socket timeouts, so the probe runs in a thread that is abandoned if it hangs.
    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(PROBE_SECONDS + 0.5)
    return not (result and result[0])


def _hub(repo_id: str) -> str:
    if not offline():
        return repo_id
    os.environ["HF_HUB_OFFLINE"] = "1"  # later transformers calls must not wait on the network either
    try:
        from huggingface_hub import snapshot_download

        return check_folder(Path(snapshot_download(repo_id, local_files_only=True)))
    except AssetError:
        raise
    except Exception:
        raise AssetError(f"pretrained: {repo_id!r} is a hub id, but the Hugging Face hub is unreachable (offline) and it "
                         f"is not in the local cache; {OFFLINE_HINT}") from None
