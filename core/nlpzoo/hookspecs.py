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
def register_commands(cli):
    """Add subcommands to the ``nlpzoo`` click group ``cli``."""
