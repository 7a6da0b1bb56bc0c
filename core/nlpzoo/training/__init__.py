"""The shared training loop and run directories.

``train_recipe`` runs a whole recipe; :class:`~nlpzoo.training.run.Run` is what a model's ``fit``
receives. Nothing here imports torch until training starts.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .config import TrainConfig

if TYPE_CHECKING:  # pragma: no cover
    from .run import Run

__all__ = ["Run", "TrainConfig", "train_recipe"]


def train_recipe(recipe, run_dir, resume: bool = False) -> dict[str, float]:
    """Build the recipe's dataset and model, train, test and save into ``run_dir``; the final metrics."""
    from .runner import train_recipe as _train_recipe

    return _train_recipe(recipe, run_dir, resume=resume)


def __getattr__(name: str):
    if name == "Run":
        from .run import Run

        return Run
    raise AttributeError(f"module 'nlpzoo.training' has no attribute {name!r}")
