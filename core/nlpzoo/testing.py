"""A conformance kit for plugin authors, usable from any pytest suite.

    from nlpzoo.testing import check_component, check_plugin

    def test_my_plugin_registers_cleanly():
        check_plugin("my-plugin")

    def test_shout_augmenter_contract():
        check_component("augmenter", "shout", {"rate": 0.5})

Installed with nlpzoo as a pytest plugin, it also provides the ``nlpzoo_isolated`` fixture: a fresh
plugin manager holding only the plugins a test adds, restored afterwards.

``simulated_gpu()`` trains and runs a torch component as if on a GPU, on the CPU: device mistakes
(a batch, noise or prompt left on the CPU) fail as they would on CUDA. See :mod:`nlpzoo.simulated_gpu`.
"""
from __future__ import annotations

import inspect
import math

import pytest

from .kinds import INTERFACES

__all__ = ["SimulatedGPUError", "check_component", "check_entry", "check_plugin", "nlpzoo_isolated", "simulated_gpu"]


def simulated_gpu():
    """A context manager: the shared loop trains on a simulated ``cuda:0`` inside it (yields that device)."""
    from .simulated_gpu import simulated_gpu as simulated

    return simulated()


def __getattr__(name: str):
    if name == "SimulatedGPUError":
        from .simulated_gpu import SimulatedGPUError

        return SimulatedGPUError
    raise AttributeError(f"module 'nlpzoo.testing' has no attribute {name!r}")


def check_plugin(name: str) -> None:
    """The installed plugin ``name`` loaded, registered at least one entry, and every entry is complete."""
    from .plugins import get_manager

    manager = get_manager()
    health = manager.health.get(name)
    assert health is not None, f"no plugin {name!r} among the entry points: {sorted(manager.health)}"
    assert health.status == "ok", f"plugin {name!r} {health.status}: {health.error} ({health.hint})"
    entries = [e for e in manager.registry.all() if e.provider == name]
    assert entries or health.presets, f"plugin {name!r} registered nothing"
    for entry in entries:
        check_entry(entry)


def check_entry(entry) -> None:
    """Metadata is complete and the target is an implementation of its kind's interface."""
    where = f"{entry.kind} {entry.name!r} of plugin {entry.provider!r}"
    assert entry.summary and "\n" not in entry.summary, f"{where}: needs a one-line summary"
    target = entry.load()
    interface = INTERFACES[entry.kind]
    assert inspect.isclass(target) and issubclass(target, interface), f"{where}: {entry.target} must subclass nlpzoo.{interface.__name__}"
    assert not inspect.isabstract(target), f"{where}: {entry.target} leaves abstract methods unimplemented: {sorted(target.__abstractmethods__)}"
    from .config import signature_of

    for pname, p in signature_of(target).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        assert p.annotation is not p.empty, f"{where}: parameter {pname!r} needs a type annotation (recipes are checked against it)"


def check_component(kind: str, name: str, params: dict | None = None) -> object:
    """Build ``name`` from a spec and check the contract of its kind; returns the component."""
    from .config import build
    from .plugins import get_manager

    check_entry(get_manager().registry.get(kind, name))
    component = build({"name": name, **(params or {})}, kind)
    CONTRACTS.get(kind, lambda c: None)(component)
    return component


def _augmenter_contract(aug) -> None:
    texts = ["The quick brown fox jumps over the lazy dog.", "", "word", "Café déjà vu, naïve résumé!"]
    out = aug.augment(texts, seed=1)
    assert isinstance(out, list) and len(out) == len(texts), "augment must return one string per input"
    assert all(isinstance(t, str) for t in out), "augment must return strings"
    assert aug.augment(texts, seed=1) == out, "the same seed must give the same output"
    assert aug.augment(list(reversed(texts)), seed=1) == list(reversed(out)), "output must not depend on order"
    assert aug.augment(texts[:1], seed=1) == out[:1], "output must not depend on batch size"
    from .kinds import rng_for

    for text, got, (new, ops) in zip(texts, out, aug.explain(texts, seed=1)):
        assert isinstance(ops, list), "explain must list the operations applied"
        assert new == got, "explain must give the same text as augment"
        assert aug.augment_one(text, rng_for(1, text))[0] == got, "augment(texts, seed) must equal augment_one(text, rng_for(seed, text))"


def _scheduler_contract(sched) -> None:
    lrs = sched.curve(50, base_lr=0.1)
    assert len(lrs) == 50, "curve must give one rate per step"
    assert all(math.isfinite(x) and 0 <= x <= 10 for x in lrs), f"rates must be finite and non-negative: {lrs[:5]}..."


def _optimizer_contract(opt) -> None:
    import torch

    w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    o = opt.create([w])
    start = float((w.detach() ** 2).sum())
    for _ in range(20):
        o.zero_grad()
        (w ** 2).sum().backward()
        o.step()
    assert float((w.detach() ** 2).sum()) < start, "20 steps on a quadratic must lower it"


def _embedder_contract(emb) -> None:
    vecs = emb.embed_batch(["a first text", "another one"])
    assert getattr(vecs, "shape", (0,))[0] == 2, "embed_batch must give one row per text"


def _dataset_contract(ds) -> None:
    splits = ds.load()
    assert "train" in splits and len(splits["train"]) > 0, "a dataset needs a non-empty train split"


CONTRACTS = {
    "augmenter": _augmenter_contract,
    "scheduler": _scheduler_contract,
    "optimizer": _optimizer_contract,
    "embedder": _embedder_contract,
    "dataset": _dataset_contract,
}


@pytest.fixture
def nlpzoo_isolated():
    """A fresh, empty plugin manager; add plugins with ``.add_plugin(obj, name)``. Restored afterwards."""
    from . import plugins

    manager = plugins.PluginManager()
    previous = plugins.reset(manager)
    try:
        yield manager
    finally:
        plugins.reset(previous)
