"""nlpzoo: a model zoo for NLP built from plugins.

Components come from plugins (entry point group ``nlpzoo``) and are mixed by name::

    import nlpzoo
    aug = nlpzoo.build({"name": "eda", "alpha": 0.1})
"""
from .config import build, resolve
from .errors import ConfigError, MissingDependency, UnknownComponent
from .hookspecs import hookimpl
from .kinds import GAN, Augmenter, Callback, Dataset, Embedder, LanguageModel, Optimizer, Scheduler
from .recipe import load_recipe

__all__ = [
    "Augmenter",
    "Callback",
    "ConfigError",
    "Dataset",
    "Embedder",
    "GAN",
    "LanguageModel",
    "MissingDependency",
    "Optimizer",
    "Scheduler",
    "UnknownComponent",
    "build",
    "hookimpl",
    "load_recipe",
    "resolve",
]
