"""The shared training loop, on Hugging Face Accelerate.

Accelerate places the networks, wraps them in DistributedDataParallel under ``torchrun``, moves each
batch to the device, autocasts, accumulates gradients (no synchronisation between processes until the
last micro-batch of a step) and clips. This module decides what a step is for a task with several
stages (a GAN's discriminator, then its generator), when to evaluate, what to keep and how to resume.

Per step the loop adds no host-device synchronisation: losses are summed as tensors where they were
computed and read every ``log_every`` steps (or every step when callbacks want them).
"""
from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import math
import random
import time
import warnings
from typing import TYPE_CHECKING, Any

from nlpzoo import ConfigError, NlpzooError
from nlpzoo.kinds import check_learning_rate

from .checkpoint import Checkpointer, rng_state, set_rng_state
from .config import lower_is_better
from .progress import Progress, Records, Window, plot_run_curves
from .seeds import derive_seed, seed_everything

if TYPE_CHECKING:  # pragma: no cover
    from .task import TorchTask

CHECKPOINTS = "checkpoints"


class TrainingError(NlpzooError, RuntimeError):
    """Training cannot go on (a non-finite loss, memory, a checkpoint from another set-up)."""


@dataclasses.dataclass
class LoopState:
    """Where the loop is; stored in every checkpoint."""

    step: int = 0  # optimizer steps taken
    epoch: int = 0  # the epoch under way
    micro: int = 0  # batches of this epoch this process has consumed
    best_value: float | None = None
    best_step: int | None = None
    best_metrics: dict | None = None
    bad_evals: int = 0  # evaluations without improvement, for early stopping
    last_eval_step: int | None = None
    stopped: bool = False  # early stopping decided
    world_size: int = 1


class WeightAverage:
    """An exponential moving average of the networks' weights (``train.ema``), swapped in to evaluate and save.

    Averaging the last few hundred steps smooths out the noise of the final updates; the decay ramps
    up as ``(1 + n) / (10 + n)`` over the first updates, so early weights do not linger.
    """

    def __init__(self, nets: dict, decay: float):
        seen, self.live = set(), []
        for net in nets.values():
            for t in net.state_dict(keep_vars=True).values():
                if t.is_floating_point() and t.data_ptr() not in seen:  # tied weights once
                    seen.add(t.data_ptr())
                    self.live.append(t.detach())
        self.shadow = [t.detach().clone() for t in self.live]
        self.decay, self.updates = decay, 0

    def update(self) -> None:
        import torch

        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self.shadow, self.live, 1.0 - decay)

    @contextlib.contextmanager
    def swapped_in(self):
        """The averaged weights in the networks inside the block, the trained ones back after it."""
        self.swap()
        try:
            yield
        finally:
            self.swap()

    def swap(self) -> None:
        for live, shadow in zip(self.live, self.shadow):
            kept = live.clone()
            live.copy_(shadow)
            shadow.copy_(kept)

    def state(self) -> dict:
        return {"updates": self.updates, "shadow": list(self.shadow)}

    def restore(self, state: dict) -> None:
        self.updates = int(state["updates"])
        for shadow, saved in zip(self.shadow, state["shadow"]):
            shadow.copy_(saved)


class Trainer:
    """One call of ``run.fit(task)``: builds optimizers and schedulers, trains, returns the best metrics."""

    def __init__(self, run: "Run", task: "TorchTask", optimizers: dict | None = None):
        self.run, self.task, self.cfg = run, task, run.config
        self.count_examples = _example_counter(task)
        self.stage_optimizers = dict(optimizers or {})
        self.checkpoints = Checkpointer(run.dir / CHECKPOINTS, writes=run.is_main)
        self.warned_unaugmented = False

    # ------------------------------------------------------------ set-up

    def _setup(self) -> None:
        cfg, run, task = self.cfg, self.run, self.task
        cfg.check()
        self.acc = acc = run.accelerator
        self.device = run.device
        self.world, self.rank = acc.num_processes, acc.process_index
        seed_everything(run.seed)
        if cfg.deterministic:
            make_deterministic(self.device)
        self.stages = tuple(task.stages)
        self.nets = dict(task.nets)  # the plain modules; task.nets holds wrapped ones while training
        for net in self.nets.values():
            net.to(self.device)
        self.optimizers = {stage: self._optimizer(stage) for stage in self.stages}
        self.params = {s: [p for g in o.param_groups for p in g["params"]] for s, o in self.optimizers.items()}
        self.trainable = [net for net in self.nets.values() if any(p.requires_grad for p in net.parameters())]
        self.wrapped = {name: acc.prepare_model(net, device_placement=False)
                        if self.world > 1 and net in self.trainable else net for name, net in self.nets.items()}
        self.training_nets = [self.wrapped[name] for name, net in self.nets.items() if net in self.trainable]
        acc.gradient_accumulation_steps, acc.step = cfg.grad_accum, 0
        if cfg.compile != "none":
            for net in self.nets.values():
                net.compile(mode=None if cfg.compile == "default" else cfg.compile)
        self.average = WeightAverage(self.nets, cfg.ema) if cfg.ema is not None else None
        self.state = LoopState(world_size=self.world)

        saved = self._load_checkpoint() if run.resume else None
        self._batches_cache = None
        first = self.state.epoch
        n = len(self._epoch_batches(first)) if first < cfg.epochs else 0
        if n == 0 and cfg.epochs > 0 and saved is None:
            raise ConfigError("the task made no training batches for the first epoch (is the training split empty?)",
                              "train")
        # every epoch has as many batches as the first (a task's batches depend on the epoch only by order)
        self.steps_per_epoch = math.ceil(len(self._shard(n)) / cfg.grad_accum) if n else 0
        if saved is not None and not n:
            self.steps_per_epoch = int(saved.get("steps_per_epoch") or 0)
        total = cfg.epochs * self.steps_per_epoch
        self.total_steps = min(total, cfg.max_steps) if cfg.max_steps is not None else total
        self.schedulers = {}
        if run.scheduler is not None:
            for stage, opt in self.optimizers.items():
                self.schedulers[stage] = run.scheduler.checked_create(opt, max(1, self.total_steps))
        self.metric_scheduled = getattr(run.scheduler, "steps_on", "step") == "metric"
        self.window = Window()
        self._task_state = None
        if saved is not None:
            try:
                self._restore(saved)
            except (KeyError, TypeError, ValueError, RuntimeError, OverflowError, IndexError, AttributeError) as exc:
                from .checkpoint import CheckpointError  # the state of another model or set-up

                first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                raise CheckpointError(f"{saved['folder']}/state.json", f"does not fit this run ({type(exc).__name__}: {first})") from None
        self.records = Records(run, self.state.step if saved is not None else None)
        self.progress = Progress(self.total_steps, self.state.step, cfg.epochs,
                                 enabled=cfg.progress and run.is_main)
        self.deadline = time.monotonic() + cfg.max_minutes * 60 if cfg.max_minutes is not None else None
        import torch

        if self.device.type == "cuda" and torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats(self.device)

    def _optimizer(self, stage: str):
        component = self.stage_optimizers.get(stage) or self.run.optimizer
        if component is None:
            from .defaults import default_optimizer

            component = default_optimizer()
        # train.weight_decay wins; otherwise the optimizer's own (adamw's 0.01), in both cases only on
        # weights: parameter_groups leaves biases and norms undecayed
        decay = self.cfg.weight_decay or float(getattr(component, "weight_decay", 0.0) or 0.0)
        return component.create(self.task.parameter_groups(stage, decay))

    def _epoch_batches(self, epoch: int) -> list:
        """The epoch's batches, made under generators seeded by (seed, epoch): the same every time."""
        if self._batches_cache is not None and self._batches_cache[0] == epoch:
            return self._batches_cache[1]
        import numpy as np
        import torch

        py_state, np_state = random.getstate(), np.random.get_state()
        seed = derive_seed(self.run.seed, "batches", epoch)
        try:
            with torch.random.fork_rng(devices=[]):
                random.seed(seed)
                np.random.seed(seed)
                torch.manual_seed(seed)
                batches = self.task.train_batches(epoch)
                # a Sequence (a list, or batches read on demand from disk) is kept as it is
                batches = batches if isinstance(batches, collections.abc.Sequence) else list(batches)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
        self._batches_cache = (epoch, batches)
        return batches

    def _shard(self, n: int) -> list[int]:
        """This process's batch indices for an epoch of ``n`` batches.

        The epoch is rounded up to a multiple of (processes x ``grad_accum``) by repeating its first
        batches, as DDP's samplers do, so every process takes the same number of whole steps. A task
        whose batches are already this process's share keeps them all, cut to the smallest share.
        """
        k = self.cfg.grad_accum
        if getattr(self.task, "shards_itself", False):
            n = self._smallest_share(n)
            return [i % n for i in range(math.ceil(n / k) * k)] if n else []
        span = self.world * k
        total = math.ceil(n / span) * span
        return [i % n for i in range(self.rank, total, self.world)]

    def _smallest_share(self, n: int) -> int:
        """The fewest batches any process has: streamed shards differ in size, and DDP steps together."""
        if self.world == 1:
            return n
        import torch
        import torch.distributed as dist

        count = torch.tensor([n], device=self.device if self.device.type != "cpu" else "cpu")
        dist.all_reduce(count, op=dist.ReduceOp.MIN)
        return int(count.item())

    # ------------------------------------------------------------ the loop

    def fit(self) -> dict[str, float]:
        self._setup()
        try:
            with self._memory_errors("training"):
                self._train()
        finally:
            self.task.nets.update(self.nets)
            self.progress.close()
            self.records.close()
        final = self._finish()
        for cb in self.run.callbacks:
            cb.on_end(self.run, final)
        return final

    def _done(self) -> bool:
        st = self.state
        return (st.epoch >= self.cfg.epochs or st.step >= self.total_steps or st.stopped
                or self.run.stop_requested)

    def _train(self) -> None:
        cfg, task, st = self.cfg, self.task, self.state
        callbacks = self.run.callbacks
        self.clock = TrainingClock(self.device)
        while not self._done():
            epoch = st.epoch
            batches = self._epoch_batches(epoch)
            order = self._shard(len(batches))
            if not order:
                raise ConfigError(f"the task made no training batches for epoch {epoch}", "train")
            task.on_epoch_start(epoch)
            if self._task_state is not None:  # resumed mid-epoch: the task's own state as it was then
                task.load_state_dict(self._task_state)
                self._task_state = None
            self.progress.epoch(epoch)
            self._train_mode()
            self.clock.start()
            while st.micro < len(order):
                group = [self._to_device(batches[i]) for i in order[st.micro:st.micro + cfg.grad_accum]]
                last_loss = self._step(group)
                examples = sum(self.count_examples(b) for b in group)
                self.window.examples += examples
                self.clock.examples += examples
                st.step += 1
                self.run.step = st.step
                st.micro += len(group)
                end_of_epoch = st.micro >= len(order)
                if end_of_epoch:
                    st.epoch, st.micro = epoch + 1, 0
                if callbacks:
                    logs = {"loss": float(last_loss.detach()), **self._lrs()}
                    for cb in callbacks:
                        cb.on_step(self.run, st.step, logs)
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    self.run.request_stop()  # train.max_minutes: stop after this step, evaluated and saved
                line_due = self.progress.step(st.step)
                if st.step % cfg.log_every == 0 or line_due:
                    self._log_train(epoch)
                finished = st.step >= self.total_steps or end_of_epoch and st.epoch >= cfg.epochs
                evaluate = (st.step % cfg.eval_every == 0) if cfg.eval_every else end_of_epoch
                stopping = st.stopped or self.run.stop_requested
                checkpoint = (evaluate or finished or stopping
                              or (cfg.checkpoint_every and st.step % cfg.checkpoint_every == 0))
                if checkpoint:
                    self.clock.stop()  # evaluations and checkpoints are not training time
                if evaluate or finished or stopping:
                    self._evaluate(epoch)
                    self._train_mode()
                if checkpoint:
                    self._save_checkpoint()
                    self.clock.start()
                if finished or st.stopped or self.run.stop_requested or end_of_epoch:
                    break
            self.clock.stop()
            if st.micro == 0:
                self._batches_cache = None  # free the finished epoch before making the next
                self._check_augmented(epoch)
        if st.last_eval_step is None and st.step > 0:  # e.g. stopped before any evaluation
            self._evaluate(st.epoch)
            self._save_checkpoint()

    def _train_mode(self) -> None:
        self.task.nets.update(self.wrapped)
        for net in self.nets.values():
            net.train()

    def _to_device(self, batch):
        if self.device.type == "cpu":
            return batch
        from accelerate.utils import send_to_device

        return send_to_device(batch, self.device, non_blocking=True)

    def _step(self, group: list):
        """One optimizer step per stage over the micro-batches of ``group``; the last loss (a tensor)."""
        acc, loss = self.acc, None
        for stage in self.stages:
            opt = self.optimizers[stage]
            opt.zero_grad(set_to_none=True)
            for batch in group:
                with acc.accumulate(*self.training_nets):  # DDP synchronises on the last micro-batch only
                    with acc.autocast():
                        loss, logs = self.task.training_step(batch, stage)
                    acc.backward(loss)  # divided by grad_accum; outside autocast, as torch recommends
                self.window.add("loss" if len(self.stages) == 1 else f"{stage}_loss", loss)
                for key, value in logs.items():
                    self.window.add(key, value)
            if self.cfg.clip_grad_norm:
                acc.clip_grad_norm_(self.params[stage], self.cfg.clip_grad_norm)
            opt.step()
            scheduler = self.schedulers.get(stage)
            if scheduler is not None and not self.metric_scheduled:
                scheduler.step()
                self._check_lrs(opt)
        if self.average is not None:
            self.average.update()
        return loss

    def _check_augmented(self, epoch: int) -> None:
        """A recipe's augmenter that the task never asked for would be listed in the report yet change nothing."""
        run = self.run
        if run.augmenter is None or run.config.augment_mode == "offline" or epoch in run.augmented_epochs:
            return
        if not self.warned_unaugmented and run.is_main:
            import warnings

            warnings.warn(f"the recipe sets an augmenter ({type(run.augmenter).__name__}) but epoch {epoch} ended "
                          "without the model's task calling run.augment_texts: its training texts were not augmented",
                          UserWarning, stacklevel=2)
        self.warned_unaugmented = True

    def _check_lrs(self, opt) -> None:
        """The rates a scheduler set are plain floats on the host: checking them costs no device sync."""
        for group in opt.param_groups:
            check_learning_rate(group["lr"], self.state.step + 1, type(self.run.scheduler).__name__)

    def _lrs(self) -> dict[str, float]:
        if len(self.stages) == 1:
            return {"lr": self.optimizers[self.stages[0]].param_groups[0]["lr"]}
        return {f"lr_{s}": o.param_groups[0]["lr"] for s, o in self.optimizers.items()}

    @contextlib.contextmanager
    def _memory_errors(self, doing: str):
        """A batch that does not fit is one line naming ``train.batch_size``, not a device traceback."""
        import torch

        oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
        try:
            yield
        except oom:
            raise TrainingError(
                f"train.batch_size: out of memory on {self.device} while {doing} at step {self.state.step} with "
                f"batch_size {self.cfg.batch_size}; lower train.batch_size (raise train.grad_accum to keep the "
                "examples per step), or use train.precision: bf16") from None

    # ------------------------------------------------------------ logging

    def _log_train(self, epoch: int) -> None:
        window, self.window = self.window, Window()
        reduce = (lambda t: self.acc.reduce(t, "mean")) if self.world > 1 else None
        means = window.means(reduce)
        if not means:
            return
        elapsed = max(time.perf_counter() - window.started, 1e-9)
        record = {"step": self.state.step, "epoch": epoch, **{f"train_{k}": v for k, v in means.items()}}
        record.update(self._lrs())
        record["examples_per_s"] = window.examples * self.world / elapsed
        for key, value in means.items():
            if not math.isfinite(value) and key.endswith("loss"):
                raise TrainingError(f"the training {key} is {value} at step {self.state.step} (epoch {epoch}); "
                                    "lower the learning rate or set train.clip_grad_norm")
        self.records.write(record)
        self.progress.show(self.state.step, epoch, {**means, **self._lrs()}, record["examples_per_s"])

    # ------------------------------------------------------------ evaluation

    def _evaluate(self, epoch: int) -> None:
        import torch

        self.task.nets.update(self.nets)
        for net in self.nets.values():
            net.eval()
        # with train.ema the average is what is evaluated, kept as the best and shown to callbacks
        averaged = self.average.swapped_in() if self.average is not None else contextlib.nullcontext()
        with averaged:
            self.run.evaluating = True
            with self._memory_errors("evaluating"), torch.no_grad(), self.acc.autocast():
                raw = self.task.evaluate("validation") or {}
            self.run.evaluating = False
            self._judge({k: float(v) for k, v in raw.items()}, epoch)

    def _judge(self, metrics: dict[str, float], epoch: int) -> None:
        """Record the evaluation, keep the best weights, step metric schedulers, decide early stopping."""
        cfg, st = self.cfg, self.state
        st.last_eval_step = st.step
        if cfg.metric not in metrics:
            from nlpzoo import did_you_mean

            have = ", ".join(metrics) or "none"
            raise ConfigError(f"{cfg.metric!r} is not a validation metric of this model"
                              f"{did_you_mean(cfg.metric, metrics)}; it reports: {have}", "train.metric")
        value = metrics[cfg.metric]
        low = lower_is_better(cfg.metric, cfg.mode)
        best = st.best_value
        improved = best is None or (value < best if low else value > best) or (math.isnan(best) and not math.isnan(value))
        if improved:
            st.best_value, st.best_step, st.best_metrics, st.bad_evals = value, st.step, metrics, 0
            if cfg.keep_best:
                self.checkpoints.save_best(st.step, self.nets, metrics)
        else:
            st.bad_evals += 1
        record = {"step": st.step, "epoch": epoch, **{f"val_{k}": v for k, v in metrics.items()}, "best": improved}
        self.records.write(record)
        self.progress.note(f"step {st.step}: " + ", ".join(f"val_{k} {v:.4g}" for k, v in metrics.items())
                           + ("  (best)" if improved else ""))
        for cb in self.run.callbacks:
            cb.on_evaluate(self.run, st.step, {f"val_{k}": v for k, v in metrics.items()})
        if self.metric_scheduled:
            for stage, scheduler in self.schedulers.items():
                scheduler.step(value)
                self._check_lrs(self.optimizers[stage])
        if cfg.early_stopping and st.bad_evals >= cfg.early_stopping:
            st.stopped = True
            self.records.write({"step": st.step, "epoch": epoch, "early_stop": True})

    # ------------------------------------------------------------ checkpoints

    def _save_checkpoint(self) -> None:
        st = self.state
        task_state = self.task.state_dict() if hasattr(self.task, "state_dict") else None
        self.checkpoints.save(st.step, self.nets, {
            "loop": dataclasses.asdict(st),
            "optimizers": {s: o.state_dict() for s, o in self.optimizers.items()},
            "schedulers": {s: sc.state_dict() for s, sc in self.schedulers.items()},
            "rng": rng_state(),
            "window": self.window.state(),
            "task": task_state,
            "average": self.average.state() if self.average is not None else None,
            "total_steps": self.total_steps,
            "steps_per_epoch": self.steps_per_epoch,
        }, st.best_step if self.cfg.keep_best else None)

    def _load_checkpoint(self) -> dict | None:
        saved = self.checkpoints.load()
        if saved is None:
            if self.run.is_main:
                import sys

                print(f"nlpzoo: no checkpoint in {self.checkpoints.root}; starting from the beginning", file=sys.stderr)
            return None
        loop = saved["loop"]
        if loop.get("world_size", 1) != self.world:
            raise TrainingError(f"the checkpoint in {saved['folder']} was made with {loop['world_size']} process(es); "
                                f"resume it with the same number (this is {self.world})")
        known = {f.name for f in dataclasses.fields(LoopState)}
        self.state = LoopState(**{k: v for k, v in loop.items() if k in known})
        return saved

    def _restore(self, saved: dict) -> None:
        from .checkpoint import load_modules

        load_modules(self.nets, saved["nets"], saved.get("aliases", {}))
        for stage, opt in self.optimizers.items():
            state = saved["optimizers"][stage]
            for group, current in zip(state["param_groups"], opt.param_groups):
                for key, value in list(group.items()):
                    if isinstance(current.get(key), tuple) and isinstance(value, list):
                        group[key] = tuple(value)
            opt.load_state_dict(state)  # torch moves the state to where each parameter lives
        for stage, scheduler in self.schedulers.items():
            if stage in saved["schedulers"]:
                scheduler.load_state_dict(saved["schedulers"][stage])
        if saved.get("total_steps") != self.total_steps and self.run.is_main:
            import sys

            print(f"nlpzoo: the run now has {self.total_steps} steps (the checkpoint planned {saved.get('total_steps')})",
                  file=sys.stderr)
        if self.average is not None and saved.get("average") is not None:
            self.average.restore(saved["average"])
        if saved.get("window"):
            self.window.restore(saved["window"])
        if saved.get("task") is not None and hasattr(self.task, "load_state_dict"):
            if self.state.micro == 0:  # at an epoch boundary: before on_epoch_start
                self.task.load_state_dict(saved["task"])
            else:
                self._task_state = saved["task"]
        set_rng_state(saved["rng"])

    # ------------------------------------------------------------ the end

    def _finish(self) -> dict[str, float]:
        st = self.state
        self.run.barrier()
        if self.cfg.keep_best and st.best_step is not None:
            self.checkpoints.load_best(st.best_step, self.nets)
        elif self.average is not None:
            self.average.swap()  # end with the averaged weights, as evaluated
        for net in self.nets.values():
            net.eval()
        if self.cfg.plots and self.run.is_main:
            plot_run_curves(self.run)
        self.run.note_peak_memory()
        self.run.training_time = self.clock.report(self.world)
        metrics = st.best_metrics if self.cfg.keep_best else None
        if metrics is None:
            metrics = self._last_eval_metrics()
        return {f"val_{k}": float(v) for k, v in (metrics or {}).items()}

    def _last_eval_metrics(self) -> dict | None:
        for record in reversed(self.run.metrics.read()):
            vals = {k[4:]: v for k, v in record.items() if k.startswith("val_")}
            if vals:
                return vals
        return self.state.best_metrics


def _example_counter(task):
    """The task's ``batch_size(batch)``, even where the task stored a setting of that name on itself (a
    plugin written so still trains, and its examples/s is counted right); a warning names the attribute."""
    from .task import TorchTask

    method = getattr(type(task), "batch_size", None)
    method = method if callable(method) else TorchTask.batch_size
    if not callable(getattr(task, "batch_size", None)):
        warnings.warn(f"{type(task).__name__}.batch_size is {task.batch_size!r}, which hides TorchTask.batch_size(batch), "
                      "the method that counts a batch's examples; give that attribute another name", stacklevel=3)
    return lambda batch: method(task, batch)


class TrainingClock:
    """Wall time spent in training steps (evaluations and checkpoints left out), and the examples they saw.

    The device is synchronised only where the clock stops (before an evaluation or a checkpoint), never
    between steps, so the time counts the work the steps queued and nothing is slowed down.
    """

    def __init__(self, device):
        self.device = device
        self.seconds, self.examples, self.started = 0.0, 0, None

    def start(self) -> None:
        if self.started is None:
            self.started = time.perf_counter()

    def stop(self) -> None:
        if self.started is None:
            return
        import torch

        if self.device.type == "cuda" and torch.cuda.is_available():
            torch.cuda.synchronize(self.device)
        self.seconds += time.perf_counter() - self.started
        self.started = None

    def report(self, world: int) -> dict[str, float]:
        if not self.seconds:
            return {}
        return {"train_seconds": round(self.seconds, 3),
                "train_examples_per_s": round(self.examples * world / self.seconds, 2)}


def make_deterministic(device) -> None:
    """torch's deterministic algorithms (warn where none exists) and what CUDA needs for them.

    cuBLAS needs ``CUBLAS_WORKSPACE_CONFIG`` before its first call, and cuDNN must not pick
    algorithms by timing them. torch's fill of new tensors with NaN is left off: it only makes reads of
    uninitialised memory reproducible, a valid program makes none, and it costs a few percent of a step.
    """
    import os

    import torch

    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    if not torch.are_deterministic_algorithms_enabled():
        setter = getattr(torch._C, "_set_deterministic_algorithms", None)
        if setter is not None:  # the public function imports the compiler (seconds) only to set its flag too
            setter(True, warn_only=True)
        else:  # pragma: no cover
            torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False


def memory_report(device) -> dict[str, Any]:
    """The peak memory of the run on ``device`` (CUDA only), in MiB."""
    import torch

    if device.type == "cuda" and torch.cuda.is_available():
        return {"peak_gpu_memory_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)}
    return {}
