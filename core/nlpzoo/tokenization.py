"""Moved: the tokenizers are ``nlpzoo_training.tokenization``. The old names keep working, with a
DeprecationWarning, until plugin API 3."""
from __future__ import annotations

import importlib
import warnings


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    value = getattr(importlib.import_module("nlpzoo_training.tokenization"), name)
    warnings.warn(f"nlpzoo.tokenization.{name} moved to nlpzoo_training.tokenization; import it from there (the "
                  "old name goes with plugin API 3)", DeprecationWarning, stacklevel=2)
    return value
