"""Moved to :mod:`nlpzoo_testing`, a package of its own beside the core; importing the kit from here still
works, with a DeprecationWarning, until plugin API 3."""
from __future__ import annotations

import importlib
import warnings


def __getattr__(name: str):
    if name.startswith("__"):  # what tools ask every module (__wrapped__, __path__): not a use of the kit
        raise AttributeError(name)
    warnings.warn(f"nlpzoo.testing moved to nlpzoo_testing; import {name} from there (nlpzoo.testing goes with "
                  "plugin API 3)", DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module("nlpzoo_testing"), name)
