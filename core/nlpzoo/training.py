"""Moved: the training loop and its helpers are the package ``nlpzoo_training``, and the file helpers are
``nlpzoo.files``. The old names keep working, each with a DeprecationWarning naming its home, until plugin API 3."""
from __future__ import annotations

import importlib
import warnings

_FILES = ("atomic_write", "seeded_sample", "seeded_split", "sha256_file")


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    home = "nlpzoo.files" if name in _FILES else "nlpzoo_training"
    value = getattr(importlib.import_module(home), name)
    warnings.warn(f"nlpzoo.training.{name} moved to {home}; import it from there (the old name goes with plugin "
                  "API 3)", DeprecationWarning, stacklevel=2)
    return value
