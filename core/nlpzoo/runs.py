"""Finished runs: ``open_run(directory)`` brings back the model, the recipe and the metrics."""
from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path

from .errors import ConfigError


class RunHandle:
    """A run directory written by ``nlpzoo train``. The model is loaded on first use of :attr:`model`."""

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        try:
            self.info = json.loads((self.dir / "run.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            what = "does not exist" if not self.dir.exists() else "is not a run directory (no run.json)"
            raise ConfigError(f"{what}; make one with: nlpzoo train RECIPE --run-dir {self.dir}", file=str(self.dir)) from None
        except ValueError as exc:
            raise ConfigError(f"run.json is unreadable: {exc}", file=str(self.dir / "run.json")) from None

    @cached_property
    def recipe(self) -> dict:
        """The resolved recipe the run was made from (every spec pinned to its provider)."""
        import yaml

        return yaml.safe_load((self.dir / "recipe.yaml").read_text(encoding="utf-8")) or {}

    @property
    def metrics(self) -> dict[str, float]:
        """The final metrics (``metrics.json``), empty while the run has not finished."""
        try:
            return json.loads((self.dir / "metrics.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    @property
    def status(self) -> str:
        return self.info.get("status", "unknown")

    def model_class(self):
        """The class that trained the model, found through the registry by kind and provider."""
        from .errors import UnknownComponent
        from .plugins import get_manager

        m = self.info["model"]
        registry = get_manager().registry
        try:
            entry = registry.get(m["kind"], f"{m['provider']}:{m['name']}")
        except UnknownComponent:
            entry = registry.get(m["kind"], m["name"])
        return entry.load()

    @cached_property
    def model(self):
        """``TargetClass.load(run_dir/"model")``."""
        folder = self.dir / "model"
        if not folder.exists():
            raise ConfigError(f"the run has no saved model yet (status: {self.status}); finish it with "
                              f"nlpzoo train RECIPE --run-dir {self.dir} --resume", file=str(self.dir))
        return self.model_class().load(str(folder))

    def dataset(self):
        """The dataset the run was trained on, built from the saved recipe (same seed, same splits)."""
        from .config import build

        if "dataset" not in self.recipe:
            raise ConfigError("the run's recipe names no dataset", file=str(self.dir / "recipe.yaml"))
        return build(self.recipe["dataset"], "dataset")

    def evaluate(self, split: str = "test") -> dict[str, float]:
        """The model's metrics on ``split`` of the run's dataset."""
        data = self.dataset().load()
        if split not in data:
            raise ConfigError(f"the dataset has no split {split!r}; splits: {', '.join(data)}", "--split")
        return self.model.evaluate(data[split])

    def __repr__(self) -> str:
        return f"RunHandle({str(self.dir)!r}, status={self.status!r})"


def open_run(directory: str | os.PathLike) -> RunHandle:
    """The run in ``directory``: ``.model``, ``.recipe``, ``.metrics``, ``.evaluate(split)``."""
    return RunHandle(directory)
