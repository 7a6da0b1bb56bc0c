"""nlpzoo: a model zoo for NLP built from plugins.

Components come from plugins (entry point group ``nlpzoo``) and are mixed by name::

    import nlpzoo
    aug = nlpzoo.build({"name": "eda", "alpha": 0.1})

A constructor declares the range of a numeric parameter with ``Annotated[float, nlpzoo.Range(0, 1)]``.
"""
import sys as _sys

if "nlpzoo.cli" in _sys.orig_argv[1:] and _sys.orig_argv[_sys.orig_argv.index("nlpzoo.cli") - 1] == "-m":
    # ``python -m nlpzoo.cli`` (torchrun's form) puts the working directory first on sys.path, where a
    # stray ``yaml.py`` or ``click.py`` would run in place of the library: the command line does not need it
    import os as _os

    _sys.path[:] = [p for p in _sys.path if p and _os.path.abspath(p) != _os.getcwd()]
from .config import build, resolve
from .constraints import Range
from .errors import AssetError, ConfigError, MissingDependency, NlpzooError, UnknownComponent, did_you_mean
from .hookspecs import hookimpl
from .kinds import (GAN, Augmenter, Callback, Classifier, Dataset, Embedder, LanguageModel, MultiLabelClassifier,
                    Optimizer, Regressor, Scheduler, SequentialAugmenter, Tagger, rng_for)
from . import saving as _saving  # noqa: F401 - installs Trainable.save and Trainable.load
from .recipe import load_recipe
from .runs import open_run

__all__ = [
    "AssetError",
    "Augmenter",
    "Callback",
    "Classifier",
    "ConfigError",
    "Dataset",
    "Embedder",
    "GAN",
    "LanguageModel",
    "MissingDependency",
    "MultiLabelClassifier",
    "NlpzooError",
    "Optimizer",
    "Range",
    "Regressor",
    "Scheduler",
    "SequentialAugmenter",
    "Tagger",
    "UnknownComponent",
    "build",
    "components",
    "did_you_mean",
    "hookimpl",
    "load_recipe",
    "open_run",
    "resolve",
    "rng_for",
]


def __getattr__(name: str):
    if name == "components":  # the plugin manager loads on first use, not when nlpzoo is imported
        from .plugins import components

        return components
    raise AttributeError(f"module 'nlpzoo' has no attribute {name!r}")
