"""Helpers for torch modules that every model plugin needs: eval mode, weight decay, weights on disk.

torch is imported inside the functions, so importing :mod:`nlpzoo_training` stays light.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch


@contextlib.contextmanager
def evaluating(*nets: "torch.nn.Module") -> Iterator[None]:
    """``nets`` in eval mode inside the block (dropout off, batch norm frozen), as they were after it."""
    modes = [(m, m.training) for net in nets if net is not None for m in net.modules()]
    for net in nets:
        if net is not None:
            net.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def no_weight_decay(name: str, param: "torch.Tensor") -> bool:
    """Biases, norm weights and other vectors take no weight decay (the usual rule for transformers and RNNs)."""
    return param.ndim < 2 or name.endswith(".bias") or "norm" in name.lower()


def weight_decay_groups(named_parameters: Iterable[tuple[str, "torch.nn.Parameter"]], weight_decay: float,
                        **group_settings) -> list[dict]:
    """Optimizer groups: decay on weights, none on :func:`no_weight_decay` parameters; frozen ones left out."""
    decay, plain = [], []
    for name, p in named_parameters:
        if p.requires_grad:
            (plain if no_weight_decay(name, p) else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay, **group_settings},
              {"params": plain, "weight_decay": 0.0, **group_settings}]
    return [g for g in groups if g["params"]]


def device_of(net: "torch.nn.Module") -> "torch.device":
    """Where ``net``'s parameters (or buffers) live; the CPU for a module without either."""
    import torch

    for tensor in net.parameters():
        return tensor.device
    for tensor in net.buffers():
        return tensor.device
    return torch.device("cpu")


def save_weights(net: "torch.nn.Module", path: str | os.PathLike) -> None:
    """``net``'s state as safetensors, written to a temporary file then renamed; tied weights stored once."""
    from safetensors.torch import save_model

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        save_model(getattr(net, "module", net), str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_weights(net: "torch.nn.Module", path: str | os.PathLike) -> None:
    """Load :func:`save_weights` output into ``net``, strictly, onto the device ``net`` lives on."""
    from nlpzoo import ConfigError
    from safetensors.torch import load_model

    try:
        load_model(net, str(path), strict=True, device=str(device_of(net)))
    except FileNotFoundError:
        raise ConfigError("weights not found", file=str(path)) from None
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        if type(exc).__name__ == "SafetensorError" or isinstance(exc, RuntimeError):
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else "corrupt file"
            raise ConfigError(f"cannot load weights: {type(exc).__name__}: {first}", file=str(path)) from None
        raise


def on_device_of(net: "torch.nn.Module", batches: Iterable) -> Iterator:
    """Each batch (a tensor, or a tuple, list or dict of them) moved to where ``net`` lives.

    What evaluation and prediction loop over, so that no plugin moves tensors itself; batches are made
    on the CPU, as for training, where the shared loop moves them.
    """
    device = device_of(net)
    if device.type == "cpu":
        yield from batches
        return
    from accelerate.utils import send_to_device

    for batch in batches:
        yield send_to_device(batch, device, non_blocking=True)
