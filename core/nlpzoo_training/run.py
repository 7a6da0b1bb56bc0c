"""A training run: where it writes, its seed and settings, and the components a model trains with.

``nlpzoo train`` makes one :class:`Run` per recipe and hands it to ``model.fit(data, run)``; tests and
benchmarks make one with :meth:`Run.standalone`. Importing this module imports no torch.
"""
from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlpzoo import Augmenter, Callback, SequentialAugmenter

from .config import TrainConfig
from .seeds import derive_seed, seed_everything

if TYPE_CHECKING:  # pragma: no cover
    from nlpzoo import Optimizer, Scheduler

    from .task import TorchTask

METRICS_FILE = "metrics.jsonl"


def train_config(train: TrainConfig | dict | None) -> TrainConfig:
    """A :class:`TrainConfig` from a ``train:`` mapping, checked like a recipe is (a TrainConfig passes as it is)."""
    if isinstance(train, TrainConfig):
        return train
    from nlpzoo.config import check_params

    config = TrainConfig(**check_params(TrainConfig, dict(train or {}), "train"))
    config.check()
    return config


def _built(spec, kind: str):
    """A component from a spec; an already built component (or None) passes through."""
    from nlpzoo import build
    from nlpzoo.kinds import Component

    return spec if spec is None or isinstance(spec, Component) else build(spec, kind)


class MetricsLog:
    """``metrics.jsonl``: one JSON object per line, appended and flushed; only the main process writes.

    A resumed run holds what it logs before the loop starts (an embedder trained again), because the
    file already has those records from the first process: :meth:`start` then drops the repetition.
    """

    def __init__(self, path: Path, enabled: bool, resuming: bool = False):
        self.path, self.enabled, self.resuming = path, enabled, resuming
        self._fh = None
        self._this_process: list[dict] = []
        self._started = False

    def start(self, keep_until: int | None) -> None:
        """Begin the loop's records: after what this process logged, or (resuming) after step ``keep_until``."""
        if not self.enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if keep_until is None:
            kept = list(self._this_process)
        else:
            kept = [r for r in self.read() if _number(r.get("step", 0)) <= keep_until]
        from nlpzoo.files import atomic_write

        atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in kept), inside=self.path.parent)
        self.close()
        self._started = True

    def finish(self) -> None:
        """A resumed run that never reached a loop (nothing to resume from) keeps what it logged, anew."""
        if self.enabled and self.resuming and not self._started and self._this_process:
            self.start(None)

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        self._this_process.append(record)
        if self.resuming and not self._started:
            return  # held until the loop says where the first process stopped
        try:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # never append through a symlink: a run folder from elsewhere may hold one to any file
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
                self._fh = os.fdopen(fd, "a", encoding="utf-8")
            self._fh.write(json.dumps(record) + "\n")
            self._fh.flush()
        except OSError as exc:  # a full or read-only disk: say where
            self._failed(exc)

    def _failed(self, exc: OSError):
        from nlpzoo.yamlio import WriteError, write_failure

        fh, self._fh = self._fh, None
        if fh is not None:
            try:
                fh.close()
            except OSError:
                pass
        raise WriteError(f"cannot write: {write_failure(exc)}", self.path, exc.errno) from None

    def read(self) -> list[dict]:
        """The records so far; a line cut short by a killed process is skipped."""
        from nlpzoo.runs import read_run_records

        return read_run_records(self.path.parent)

    def close(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError as exc:
                self._failed(exc)
            self._fh = None


def _number(value) -> float:
    """A record's step as a number; anything else (a damaged record) sorts after every step."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else float("inf")


def chosen_device(config: TrainConfig) -> str:
    """``train.device``, unless the environment variable NLPZOO_DEVICE says otherwise (e.g. ``cpu`` in tests)."""
    return os.environ.get("NLPZOO_DEVICE") or config.device


def native_bf16(device: str) -> bool:
    """Whether ``device`` (a ``train.device`` value) computes bf16 in hardware rather than emulating it."""
    try:
        import torch

        if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
            return bool(torch.cuda.is_bf16_supported())
        if device == "mps" or device == "auto" and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return False
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (ImportError, RuntimeError, AssertionError, AttributeError):  # no torch, or a build without that backend
        return False


def resolved_precision(config: TrainConfig) -> TrainConfig:
    """``config`` with ``precision: auto`` made ``bf16`` or ``fp32`` for the device this process trains on."""
    if config.precision != "auto":
        return config
    return dataclasses.replace(config, precision="bf16" if native_bf16(chosen_device(config)) else "fp32")


def make_accelerator(config: TrainConfig, world_size: int):
    """An ``Accelerator`` for ``train.device`` and ``train.precision``; a missing device is one ConfigError.

    Accelerate keeps one precision and device per process; a process that trains several runs one
    after another (tests, notebooks, benchmarks) gets its state reset between runs that differ.
    """
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import DistributedDataParallelKwargs
    from nlpzoo import ConfigError

    device = chosen_device(config)
    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and mps.is_available()
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            built = f"CUDA {torch.version.cuda}" if torch.version.cuda else "without CUDA"
            raise ConfigError(f"{device!r}: no CUDA device is available (torch {torch.__version__} built {built}); "
                              "use auto or cpu", "train.device")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ConfigError(f"{device!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                              f"cuda:0 to cuda:{torch.cuda.device_count() - 1}", "train.device")
        if world_size == 1:
            torch.cuda.set_device(index)  # under torchrun each process takes the GPU of its local rank
    if device == "mps" and not has_mps:
        raise ConfigError("'mps': no Apple GPU is available here; use auto or cpu", "train.device")
    # Accelerate treats several processes as CPU workers (gloo) only when told it runs on the CPU
    cpu = device == "cpu" or (device == "auto" and not (torch.cuda.is_available() or (has_mps and world_size == 1)))
    precision = {"fp32": "no", "bf16": "bf16"}[config.precision]
    state = AcceleratorState._shared_state
    if state and world_size == 1 and (state.get("_mixed_precision") != precision
                                      or (state.get("device") is not None and (state["device"].type == "cpu") != cpu)):
        AcceleratorState._reset_state(reset_partial_state=True)
    ddp = DistributedDataParallelKwargs(find_unused_parameters=config.find_unused_parameters)
    return Accelerator(cpu=cpu, mixed_precision=precision, kwargs_handlers=[ddp])


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
        self.config = resolved_precision(train_config(config))
        self.optimizer = optimizer
        self.scheduler = scheduler
        if isinstance(augmenter, (list, tuple)):
            augmenter = augmenter[0] if len(augmenter) == 1 else SequentialAugmenter(augmenter) if augmenter else None
        self.augmenter = augmenter
        self.callbacks = list(callbacks)
        self.resume = resume
        self.stop_requested = False
        self.step = 0  # the optimizer steps taken so far (set by the loop): where a failed run says it stopped
        self.evaluating = False  # set by the loop while it evaluates
        self.augmented_epochs: set[int] = set()  # epochs whose texts went through augment_texts
        self._accelerator = None
        self.fits: list = []  # a FitResult per run.fit(task): metrics, device, timing, peak memory
        self._log_step = 0
        self.metrics = MetricsLog(self.dir / METRICS_FILE, self.is_main, resuming=resume)
        self.missing_metrics: dict[str, str] = {}  # name: why it could not be computed (run.json keeps it)

    @classmethod
    def standalone(cls, directory: str | os.PathLike, seed: int = 0, train: dict | TrainConfig | None = None,
                   optimizer: dict | str | None = None, scheduler: dict | str | None = None,
                   augment: dict | str | list | None = None, callbacks: list | None = None,
                   resume: bool = False) -> "Run":
        """A run without a recipe (tests, benchmarks): components given as specs (built here) or built."""
        from nlpzoo import build

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
            self._accelerator = make_accelerator(self.config, self.world_size)
        return self._accelerator

    @property
    def device(self):
        """Where the networks live (``torch.device``): ``train.device``, by default the GPU when there is one."""
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
        from .loop import Trainer

        result = Trainer(self, task, optimizers).fit()
        self.fits.append(result)
        return dict(result.metrics)

    @property
    def phase(self) -> str:
        """What the run is doing, in words, for an error's place: "training step 3", "evaluation after step 2"."""
        return f"evaluation after step {self.step}" if self.evaluating else f"training step {self.step + 1}"

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

    def missing(self, metric: str, reason: str) -> None:
        """Record that ``metric`` could not be computed, and why: the run still finishes and saves its model,
        and ``run.json`` lists it under ``missing_metrics``."""
        self.missing_metrics[str(metric)] = str(reason)

    def augment_texts(self, texts: list[str], epoch: int) -> list[str]:
        """Online augmentation: ``texts`` augmented with a seed made from the run's seed and ``epoch``.

        Identity without an augmenter, and when ``train.augment_mode`` is ``offline`` (the training
        split was already expanded once).
        """
        self.augmented_epochs.add(epoch)
        if self.augmenter is None or self.config.augment_mode == "offline":
            return list(texts)
        return self.augmenter.augment(list(texts), seed=derive_seed(self.seed, "augment", epoch))

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r}, seed={self.seed}, rank={self.rank}/{self.world_size})"
