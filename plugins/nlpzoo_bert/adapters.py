"""Low-rank adapters (LoRA, through ``peft``) and gradient checkpointing for any transformers model.

``model.adapter: {method: lora, r: 8, alpha: 16, dropout: 0.05, target_modules: auto}`` freezes the
pretrained weights and trains small low-rank matrices beside them (plus the new task head). Saved, the
adapter is a ``peft`` folder (``adapter/``: ``PeftModel.from_pretrained`` loads it onto the base
model); ``merge: true`` also writes the merged weights as a plain folder that ``transformers.pipeline``
loads. Importing this module imports neither torch nor peft.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from nlpzoo import ConfigError

ADAPTER_DIR = "adapter"
LABELS = "labels.json"  # a classifier's label names: the adapter folder has no model config to keep them
METHODS = ("lora",)
DEFAULTS = {"method": "lora", "r": 8, "alpha": 16, "dropout": 0.05, "target_modules": "auto", "merge": False}


def check_adapter(adapter: dict[str, Any] | None, loc: str = "adapter") -> dict[str, Any] | None:
    """The adapter settings with defaults filled in; one ConfigError naming the key otherwise."""
    if adapter is None:
        return None
    from difflib import get_close_matches

    for key in adapter:
        if key not in DEFAULTS:
            close = get_close_matches(str(key), DEFAULTS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown adapter setting{hint}; settings: {', '.join(DEFAULTS)}", f"{loc}.{key}")
    spec = {**DEFAULTS, **adapter}
    if spec["method"] not in METHODS:
        raise ConfigError(f"expected a method among {', '.join(METHODS)}, got {spec['method']!r}", f"{loc}.method")
    for key, low in (("r", 1), ("alpha", 1)):
        if not isinstance(spec[key], int) or isinstance(spec[key], bool) or spec[key] < low:
            raise ConfigError(f"expected a whole number >= {low}, got {spec[key]!r}", f"{loc}.{key}")
    if not isinstance(spec["dropout"], (int, float)) or isinstance(spec["dropout"], bool) or not 0 <= spec["dropout"] < 1:
        raise ConfigError(f"expected 0 <= dropout < 1, got {spec['dropout']!r}", f"{loc}.dropout")
    targets = spec["target_modules"]
    if not (targets in ("auto", "all-linear") or (isinstance(targets, list) and targets
                                                   and all(isinstance(t, str) for t in targets))):
        raise ConfigError("expected 'auto' (peft's choice for the architecture), 'all-linear' or a list of module "
                          f"names such as [query, value], got {targets!r}", f"{loc}.target_modules")
    if not isinstance(spec["merge"], bool):
        raise ConfigError(f"expected true or false, got {spec['merge']!r}", f"{loc}.merge")
    return spec


def adapt(model, adapter: dict[str, Any] | None, gradient_checkpointing: bool, task_type: str):
    """``model`` with gradient checkpointing and, when ``adapter`` is given, wrapped in peft's LoRA."""
    if gradient_checkpointing:
        # Non-reentrant: frozen inputs (an adapted base) still get gradients through the checkpointed blocks.
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.24 renamed it
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        if hasattr(model.config, "use_cache"):
            model.config.use_cache = False  # a cache is useless in training and conflicts with checkpointing
    if adapter is None:
        return model
    peft = _peft()
    targets = adapter["target_modules"]
    config = dict(task_type=task_type, r=adapter["r"], lora_alpha=adapter["alpha"], lora_dropout=adapter["dropout"])
    try:
        return peft.get_peft_model(model, peft.LoraConfig(**config, target_modules=None if targets == "auto" else targets))
    except ValueError:
        if targets != "auto":
            raise
        # peft knows no default for this architecture: every linear layer but the head
        return peft.get_peft_model(model, peft.LoraConfig(**config, target_modules="all-linear"))


def pad_like_decoders(tokenizer, model) -> None:
    """Decoders (GPT-2, Llama, SmolLM) often have no padding token: pad with end-of-text, and tell the
    classifier, which reads each text's last real token by finding the first padding position."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id


def is_adapted(model) -> bool:
    return hasattr(model, "peft_config")


def parameter_counts(model) -> dict[str, float]:
    """Trainable and total parameters (each shared tensor once), as the run logs them."""
    seen, trainable, total = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return {"trainable_params": float(trainable), "total_params": float(total),
            "trainable_share": trainable / max(total, 1)}


def save_adapted(model, tokenizer, directory: Path, labels: list[str] | None, save_plain, merge: bool) -> None:
    """``adapter/`` (peft's folder, with the tokenizer and the labels); with ``merge``, the merged model as a
    plain folder beside it. ``save_plain(model, directory)`` writes the component's plain transformers folder.
    """
    import json

    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory / ADAPTER_DIR, safe_serialization=True)
    tokenizer.save_pretrained(directory / ADAPTER_DIR)
    if labels is not None:
        (directory / ADAPTER_DIR / LABELS).write_text(json.dumps(labels), encoding="utf-8")
    if merge:  # a copy: the model in memory keeps its adapter and can go on training
        save_plain(copy.deepcopy(model).merge_and_unload(), directory)


def has_adapter(directory: Path) -> bool:
    return (Path(directory) / ADAPTER_DIR / "adapter_config.json").exists()


def saved_base(pretrained: str) -> str:
    """Where the weights under a saved adapter come from: the base model its ``adapter_config.json``
    names, unless the folder also holds merged weights; any other ``pretrained`` as it is."""
    import json

    folder = Path(pretrained)
    if not has_adapter(folder) or (folder / "config.json").exists():
        return pretrained
    config = json.loads((folder / ADAPTER_DIR / "adapter_config.json").read_text(encoding="utf-8"))
    return config.get("base_model_name_or_path") or pretrained


def refuse_adapter_only(pretrained: str) -> None:
    """A new model cannot start from a saved adapter alone: its base would load, and what the adapter learned
    (continued pretraining, say) would be lost without a word."""
    folder = Path(pretrained)
    if has_adapter(folder) and not (folder / "config.json").exists():
        raise ConfigError(f"{pretrained} holds a low-rank adapter without merged weights, and a new model would start "
                          "from its base model alone; train that run with model.adapter.merge: true and start from "
                          "its folder (the merged weights are saved beside the adapter)", "model.pretrained")


def saved_labels(directory: Path) -> list[str]:
    import json

    return json.loads((directory / ADAPTER_DIR / LABELS).read_text(encoding="utf-8"))


def load_adapter(base, directory: Path, trainable: bool = False):
    """``base`` (the pretrained model, rebuilt) with the adapter saved in ``directory``."""
    return _peft().PeftModel.from_pretrained(base, str(directory / ADAPTER_DIR), is_trainable=trainable)


def _peft():
    try:
        import peft
    except ImportError:
        raise ConfigError("model.adapter needs peft: pip install 'nlpzoo[peft]'", "model.adapter") from None
    return peft
