"""The plugin author's toolkit: the shared training loop and what every model plugin needs around it.

A torch model's ``fit(data, run)`` wraps its networks in a :class:`TorchTask` and returns
``run.fit(task)``; the loop owns devices, optimizers, precision, accumulation, evaluation,
checkpoints and processes. The helpers here are the ones first-party plugins use, so a third party
can do everything they do. Importing this package imports no torch: names load on first use.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .config import TrainConfig

if TYPE_CHECKING:  # pragma: no cover
    from nlpzoo.metrics import classification_metrics, multilabel_metrics, regression_metrics

    from .batching import length_bucketed_batches, longest_first_batches, pad_sequences
    from .curve import learning_rate_curve
    from .metrics import best_thresholds
    from .modules import (device_of, evaluating, load_weights, no_weight_decay, on_device_of, save_weights,
                          weight_decay_groups)
    from .plots import curves_png, plot_confusion, plot_curves, save_figure
    from .run import Run
    from .seeds import derive_seed
    from .task import TorchTask
    from .tokens import TokenFile, token_ids

__all__ = [
    "Run",
    "TokenFile",
    "TorchTask",
    "TrainConfig",
    "best_thresholds",
    "classification_metrics",
    "curves_png",
    "derive_seed",
    "device_of",
    "evaluating",
    "learning_rate_curve",
    "length_bucketed_batches",
    "load_weights",
    "longest_first_batches",
    "multilabel_metrics",
    "no_weight_decay",
    "on_device_of",
    "pad_sequences",
    "plot_confusion",
    "plot_curves",
    "regression_metrics",
    "save_figure",
    "save_weights",
    "token_ids",
    "train_recipe",
    "weight_decay_groups",
]

_HOMES = {
    "Run": ".run", "derive_seed": ".seeds", "TorchTask": ".task", "TokenFile": ".tokens", "token_ids": ".tokens", "classification_metrics": "nlpzoo.metrics", "regression_metrics": "nlpzoo.metrics",
    "multilabel_metrics": "nlpzoo.metrics", "best_thresholds": ".metrics", "learning_rate_curve": ".curve",
    "curves_png": ".plots", "plot_confusion": ".plots", "plot_curves": ".plots", "save_figure": ".plots",
    **{name: ".batching" for name in ("length_bucketed_batches", "longest_first_batches", "pad_sequences")},
    **{name: ".modules" for name in ("device_of", "evaluating", "load_weights", "no_weight_decay", "on_device_of",
                                     "save_weights", "weight_decay_groups")},
}


def train_recipe(recipe, run_dir, resume: bool = False, callbacks=()) -> dict[str, float]:
    """Build the recipe's dataset and model, train, test and save into ``run_dir``; the final metrics.

    ``recipe`` is what :func:`nlpzoo.load_recipe` returns, or a mapping with a recipe's keys (checked the
    same way). ``callbacks`` are built :class:`nlpzoo.Callback` objects added to the recipe's own, for code
    that drives runs (a hyperparameter search reports each validation evaluation and may stop the run).
    """
    from collections.abc import Mapping

    from .runner import train_recipe as _train_recipe

    if isinstance(recipe, Mapping):
        from nlpzoo.recipe import check_recipe

        recipe = check_recipe(dict(recipe))

    return _train_recipe(recipe, run_dir, resume=resume, callbacks=callbacks)


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'nlpzoo_training' has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
