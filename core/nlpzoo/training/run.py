"""A training run: where it writes, its seed and settings, and the components a model trains with.

``nlpzoo train`` makes one :class:`Run` per recipe and hands it to ``model.fit(data, run)``; tests and
benchmarks make one with :meth:`Run.standalone`. Importing this module imports no torch.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..kinds import Augmenter, Callback
from .config import TrainConfig

if TYPE_CHECKING:  # pragma: no cover
    from ..kinds import Optimizer, Scheduler
    from .task import TorchTask

METRICS_FILE = "metrics.jsonl"


def derive_seed(seed: int, *parts: object) -> int:
    """A 31-bit seed that depends on ``seed`` and ``parts`` only (stable across processes and versions)."""
    text = "\x1f".join(map(str, (seed, *parts)))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big") & 0x7FFFFFFF


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (those that are installed)."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover - numpy comes with every model extra
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def train_config(train: TrainConfig | dict | None) -> TrainConfig:
    """A :class:`TrainConfig` from a ``train:`` mapping, checked like a recipe is."""
    if isinstance(train, TrainConfig):
        return train
    from ..config import check_params

    return TrainConfig(**check_params(TrainConfig, dict(train or {}), "train"))


def _built(spec, kind: str):
    """A component from a spec; an already built component (or None) passes through."""
    from ..config import build
    from ..kinds import Component

    return spec if spec is None or isinstance(spec, Component) else build(spec, kind)


class AugmentPipeline(Augmenter):
    """Several augmenters applied one after the other (a recipe's ``augment:`` list)."""

    def __init__(self, augmenters: Sequence[Augmenter]):
        self.augmenters = list(augmenters)

    def augment_one(self, text, rng):
        ops: list[str] = []
        for aug in self.augmenters:
            text, more = aug.augment_one(text, rng)
            ops += more
        return text, ops


class MetricsLog:
    """``metrics.jsonl``: one JSON object per line, appended and flushed; only the main process writes."""

    def __init__(self, path: Path, enabled: bool):
        self.path, self.enabled = path, enabled
        self._fh = None
        self._this_process: list[dict] = []  # logged before the loop started (e.g. an embedder's own training)

    def start(self, keep_until: int | None) -> None:
        """Begin writing: a fresh file, or (resuming) the records up to step ``keep_until``."""
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = [r for r in self.read() if keep_until is not None and r.get("step", 0) <= keep_until]
        kept += [r for r in self._this_process if r not in kept]
        from ..yamlio import atomic_write

        atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        self.close()

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        try:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "a", encoding="utf-8")
            self._fh.write(json.dumps(record) + "\n")
            self._fh.flush()
        except OSError as exc:  # a full or read-only disk: say where
            self._failed(exc)
        self._this_process.append(record)

    def _failed(self, exc: OSError):
        from ..yamlio import WriteError, write_failure

        fh, self._fh = self._fh, None
        if fh is not None:
            try:
                fh.close()
            except OSError:
                pass
        raise WriteError(f"cannot write: {write_failure(exc)}", self.path, exc.errno) from None

    def read(self) -> list[dict]:
        """The records so far; a line cut short by a killed process is skipped."""
        out = []
        try:
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        continue
        except FileNotFoundError:
            pass
        return out

    def close(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError as exc:
                self._failed(exc)
            self._fh = None


class Run:
    """Everything a model's ``fit`` needs from the outside.

    ``dir`` is the run directory (only the main process writes there), ``seed`` the recipe's seed,
    ``config`` the recipe's ``train:`` settings; ``optimizer``, ``scheduler``, ``augmenter`` and
    ``callbacks`` are built components (or None / empty). :meth:`fit` is the shared training loop.
    """

    def __init__(self, directory: str | os.PathLike, *, seed: int = 0, config: TrainConfig | dict | None = None,
                 optimizer: "Optimizer | None" = None, scheduler: "Scheduler | None" = None,
                 augmenter: Augmenter | Sequence[Augmenter] | None = None, callbacks: Sequence[Callback] = (),
                 resume: bool = False):
        self.dir = Path(directory)
        self.seed = seed
        self.config = train_config(config)
        self.optimizer = optimizer
        self.scheduler = scheduler
        if isinstance(augmenter, (list, tuple)):
            augmenter = augmenter[0] if len(augmenter) == 1 else AugmentPipeline(augmenter) if augmenter else None
        self.augmenter = augmenter
        self.callbacks = list(callbacks)
        self.resume = resume
        self.stop_requested = False
        self._accelerator = None
        self._log_step = 0
        self.metrics = MetricsLog(self.dir / METRICS_FILE, self.is_main)

    @classmethod
    def standalone(cls, directory: str | os.PathLike, seed: int = 0, train: dict | TrainConfig | None = None,
                   optimizer: dict | str | None = None, scheduler: dict | str | None = None,
                   augment: dict | str | list | None = None, callbacks: list | None = None,
                   resume: bool = False) -> "Run":
        """A run without a recipe (tests, benchmarks): components given as specs (built here) or built."""
        from ..config import build

        augmenters = None
        if augment is not None:
            augmenters = [_built(a, "augmenter") for a in (augment if isinstance(augment, list) else [augment])]
        built_callbacks = [c if isinstance(c, Callback) else build(c, "callback") for c in (callbacks or [])]
        seed_everything(seed)
        return cls(directory, seed=seed, config=train_config(train), optimizer=_built(optimizer, "optimizer"),
                   scheduler=_built(scheduler, "scheduler"), augmenter=augmenters, callbacks=built_callbacks,
                   resume=resume)

    # ------------------------------------------------------------ processes

    @property
    def rank(self) -> int:
        """This process's index (0 without torchrun)."""
        if self._accelerator is not None:
            return self._accelerator.process_index
        return int(os.environ.get("RANK", "0"))

    @property
    def world_size(self) -> int:
        if self._accelerator is not None:
            return self._accelerator.num_processes
        return int(os.environ.get("WORLD_SIZE", "1"))

    @property
    def is_main(self) -> bool:
        """True in the one process that writes files and prints."""
        return self.rank == 0

    @property
    def accelerator(self):
        """The Hugging Face ``Accelerator`` (created on first use: it starts the process group under torchrun)."""
        if self._accelerator is None:
            import torch
            from accelerate import Accelerator
            from accelerate.utils import DistributedDataParallelKwargs

            ddp = DistributedDataParallelKwargs(find_unused_parameters=self.config.find_unused_parameters)
            # Accelerate treats several processes as CPU workers (gloo) only when told it runs on the CPU
            mps = getattr(torch.backends, "mps", None)
            cpu = os.environ.get("NLPZOO_DEVICE") == "cpu" or not (
                torch.cuda.is_available() or (mps is not None and mps.is_available() and self.world_size == 1))
            self._accelerator = Accelerator(cpu=cpu, kwargs_handlers=[ddp])
        return self._accelerator

    @property
    def device(self):
        """Where the networks live (``torch.device``)."""
        return self.accelerator.device

    def barrier(self) -> None:
        """Wait until every process gets here (nothing to wait for in one process)."""
        if self.world_size > 1:
            self.accelerator.wait_for_everyone()

    # ------------------------------------------------------------ training

    def fit(self, task: "TorchTask", optimizers: "dict[str, Optimizer] | None" = None) -> dict[str, float]:
        """Train ``task`` with the shared loop; the best validation metrics, prefixed ``val_``.

        ``optimizers`` gives a stage its own optimizer (a GAN's generator and discriminator);
        other stages use the run's optimizer (adamw, lr 1e-3, when the recipe names none).
        Afterwards the task's networks hold the best weights (``train.keep_best``).
        """
        from .trainer import Trainer

        return Trainer(self, task, optimizers).fit()

    def request_stop(self) -> None:
        """Stop after the current optimizer step (callbacks use this); the run ends normally."""
        self.stop_requested = True

    def log(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Record ``metrics`` at ``step`` (default: one more than the last) in ``metrics.jsonl``."""
        self._log_step = self._log_step + 1 if step is None else int(step)
        record = {"step": self._log_step}
        for k, v in metrics.items():
            record[k] = float(v) if hasattr(v, "__float__") and not isinstance(v, (bool, str)) else v
        self.metrics.write(record)

    def augment_texts(self, texts: list[str], epoch: int) -> list[str]:
        """Online augmentation: ``texts`` augmented with a seed made from the run's seed and ``epoch``.

        Identity without an augmenter, and when ``train.augment_mode`` is ``offline`` (the training
        split was already expanded once).
        """
        if self.augmenter is None or self.config.augment_mode == "offline":
            return list(texts)
        return self.augmenter.augment(list(texts), seed=derive_seed(self.seed, "augment", epoch))

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r}, seed={self.seed}, rank={self.rank}/{self.world_size})"
