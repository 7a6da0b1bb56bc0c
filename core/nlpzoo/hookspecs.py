"""The hooks a plugin implements. Arguments may be added in later versions, never renamed or removed.

A plugin module decorates plain functions with ``@nlpzoo.hookimpl``; the hook name is the function
name. Hooks declare what a plugin offers through the callback they are handed; the core decides
names, aliases and clashes.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("nlpzoo")
hookimpl = pluggy.HookimplMarker("nlpzoo")


@hookspec
def register_components(register):
    """Register components: ``register(kind, name, target="pkg.module:Class", summary=..., tags=(), aliases=())``."""


@hookspec
def register_presets(register):
    """Add catalogue presets: ``register(name, kind=..., component=..., params={}, weights=None, summary=..., tags=())``."""


@hookspec
def register_sections(register):
    """Read a top-level section of a recipe: ``register(name, settings)``, where ``settings`` is a dataclass
    whose annotated fields are the section's keys (ranges as for components) and whose optional ``check()``
    checks them together. ``validate`` and ``train`` check the section with it; ``nlpzoo info NAME`` lists it.
    The training engine registers ``train`` this way."""


@hookspec
def register_commands(cli):
    """Add subcommands to the ``nlpzoo`` click group ``cli``."""


@hookspec
def model_saved(run_dir, model, data, metrics):
    """The trained model is saved in ``run_dir / "model"`` and its sha256 is not recorded yet: files added to
    that folder now (a model card) are part of what loading verifies. Called once, in the main process; an
    exception is a warning naming the plugin, never a failed run."""


@hookspec
def run_finished(run_dir, model, data, metrics):
    """A run ended and is saved in ``run_dir`` (``run.json``, ``metrics.json``, ``model/``): add what else it
    should hold, such as a report page or a tracker's record. ``model`` is the trained model, ``data`` its
    splits, ``metrics`` the final ones. Called once, in the main process; an exception is a warning naming
    the plugin, never a failed run."""
