"""The shared training loop, on Hugging Face Accelerate.

Accelerate places the networks, wraps them in DistributedDataParallel under ``torchrun``, moves each
batch to the device, autocasts, accumulates gradients (no synchronisation between processes until the
last micro-batch of a step) and clips. This module decides what a step is for a task with several
stages (a GAN's discriminator, then its generator), when to evaluate, what to keep and how to resume.

It reads top to bottom in four parts: the :class:`Plan` (devices, networks, optimizers, how many
steps), the :class:`Stepper` (one optimizer step per stage: accumulate, clip, step, schedule), the
:class:`Judge` (evaluate, keep the best, stop early) and the :class:`Trainer`, which runs the epochs
and writes and reads checkpoints (:class:`~nlpzoo_training.checkpoint.SavedState`).

Per step the loop adds no host-device synchronisation: losses are summed as tensors where they were
computed and read every ``log_every`` steps (or every step when callbacks want them).
"""
from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import math
import random
import sys
import time
import warnings
from typing import TYPE_CHECKING, Any

from nlpzoo import ConfigError, NlpzooError, did_you_mean

from .average import WeightAverage
from .checkpoint import Checkpointer, CheckpointError, SavedState, rng_state, set_rng_state
from .config import lower_is_better
from .curve import check_learning_rate
from .progress import Progress, Records, TrainingClock, Window, plot_run_curves
from .seeds import derive_seed, seed_everything

if TYPE_CHECKING:  # pragma: no cover
    from .run import Run
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


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What one ``run.fit(task)`` gives back: the metrics it keeps, and where and how fast it trained."""

    metrics: dict[str, float]  # the kept (best, or last) validation metrics, prefixed val_
    steps: int
    device: str
    precision: str
    timing: dict[str, float]  # train_seconds, train_examples_per_s
    peak_memory: dict[str, float]  # peak_gpu_memory_mb on CUDA


class Plan:
    """What the run will do, fixed before its first step: the device and processes, the networks (plain and
    wrapped for DDP), one optimizer per stage and the parameters each steps, and the weight average."""

    def __init__(self, run: "Run", task: "TorchTask", optimizers: dict | None):
        cfg, acc = run.config, run.accelerator
        self.acc, self.device = acc, run.device
        self.world, self.rank = acc.num_processes, acc.process_index
        self.stages = tuple(task.stages)
        self.nets = dict(task.nets)  # the plain modules; task.nets holds wrapped ones while training
        for net in self.nets.values():
            net.to(self.device)
        self.optimizers = {stage: stage_optimizer(run, task, stage, (optimizers or {}).get(stage))
                           for stage in self.stages}
        self.params = {s: [p for g in o.param_groups for p in g["params"]] for s, o in self.optimizers.items()}
        trainable = [net for net in self.nets.values() if any(p.requires_grad for p in net.parameters())]
        self.wrapped = {name: acc.prepare_model(net, device_placement=False)
                        if self.world > 1 and net in trainable else net for name, net in self.nets.items()}
        self.training_nets = [self.wrapped[name] for name, net in self.nets.items() if net in trainable]
        acc.gradient_accumulation_steps, acc.step = cfg.grad_accum, 0
        if cfg.compile != "none":
            for net in self.nets.values():
                net.compile(mode=None if cfg.compile == "default" else cfg.compile)
        self.average = WeightAverage(self.nets, cfg.ema) if cfg.ema is not None else None

    def shard(self, n: int, grad_accum: int, shards_itself: bool) -> list[int]:
        """This process's batch indices for an epoch of ``n`` batches.

        The epoch is rounded up to a multiple of (processes x ``grad_accum``) by repeating its first
        batches, as DDP's samplers do, so every process takes the same number of whole steps. A task
        whose batches are already this process's share keeps them all, cut to the smallest share.
        """
        if shards_itself:
            n = self.smallest_share(n)
            return [i % n for i in range(math.ceil(n / grad_accum) * grad_accum)] if n else []
        span = self.world * grad_accum
        total = math.ceil(n / span) * span
        return [i % n for i in range(self.rank, total, self.world)]

    def smallest_share(self, n: int) -> int:
        """The fewest batches any process has: streamed shards differ in size, and DDP steps together."""
        if self.world == 1:
            return n
        import torch
        import torch.distributed as dist

        count = torch.tensor([n], device=self.device if self.device.type != "cpu" else "cpu")
        dist.all_reduce(count, op=dist.ReduceOp.MIN)
        return int(count.item())

    def lrs(self) -> dict[str, float]:
        if len(self.stages) == 1:
            return {"lr": self.optimizers[self.stages[0]].param_groups[0]["lr"]}
        return {f"lr_{s}": o.param_groups[0]["lr"] for s, o in self.optimizers.items()}

    def to_device(self, batch):
        if self.device.type == "cpu":
            return batch
        from accelerate.utils import send_to_device

        return send_to_device(batch, self.device, non_blocking=True)


def stage_optimizer(run: "Run", task: "TorchTask", stage: str, component=None):
    """The stage's own optimizer, else the recipe's, else adamw; weight decay only where the task allows it."""
    component = component or run.optimizer
    if component is None:
        from .defaults import default_optimizer

        component = default_optimizer()
    # train.weight_decay wins; otherwise the optimizer's own (adamw's 0.01), in both cases only on
    # weights: parameter_groups leaves biases and norms undecayed
    decay = run.config.weight_decay or float(getattr(component, "weight_decay", 0.0) or 0.0)
    return component.create(task.parameter_groups(stage, decay))


class EpochBatches:
    """A task's batches for an epoch, made under generators seeded by (seed, epoch): the same every time.
    The epoch under way is kept, so that asking again (the first epoch is counted before it trains) is free."""

    def __init__(self, task: "TorchTask", seed: int):
        self.task, self.seed = task, seed
        self.kept: dict[int, Any] = {}

    def __call__(self, epoch: int):
        if epoch not in self.kept:
            self.kept.clear()
            self.kept[epoch] = self._make(epoch)
        return self.kept[epoch]

    def forget(self) -> None:
        """Free the finished epoch before the next is made."""
        self.kept.clear()

    def _make(self, epoch: int):
        import numpy as np
        import torch

        py_state, np_state = random.getstate(), np.random.get_state()
        seed = derive_seed(self.seed, "batches", epoch)
        try:
            with torch.random.fork_rng(devices=[]):
                random.seed(seed)
                np.random.seed(seed)
                torch.manual_seed(seed)
                batches = self.task.train_batches(epoch)
                # a Sequence (a list, or batches read on demand from disk) is kept as it is
                return batches if isinstance(batches, collections.abc.Sequence) else list(batches)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


class Stepper:
    """One optimizer step per stage over a group of micro-batches: accumulate, clip, step, schedule."""

    def __init__(self, plan: Plan, task: "TorchTask", run: "Run", schedulers: dict):
        self.plan, self.task, self.cfg = plan, task, run.config
        self.schedulers = schedulers
        self.scheduler_name = type(run.scheduler).__name__
        self.metric_scheduled = getattr(run.scheduler, "steps_on", "step") == "metric"

    def step(self, group: list, window: Window, step: int):
        """Step ``step`` (counted from 1); the last loss, a tensor, and every loss summed into ``window``."""
        plan, loss = self.plan, None
        acc = plan.acc
        for stage in plan.stages:
            opt = plan.optimizers[stage]
            opt.zero_grad(set_to_none=True)
            for batch in group:
                with acc.accumulate(*plan.training_nets):  # DDP synchronises on the last micro-batch only
                    with acc.autocast():
                        loss, logs = self.task.training_step(batch, stage)
                    acc.backward(loss)  # divided by grad_accum; outside autocast, as torch recommends
                window.add("loss" if len(plan.stages) == 1 else f"{stage}_loss", loss)
                for key, value in logs.items():
                    window.add(key, value)
            if self.cfg.clip_grad_norm:
                acc.clip_grad_norm_(plan.params[stage], self.cfg.clip_grad_norm)
            opt.step()
            scheduler = self.schedulers.get(stage)
            if scheduler is not None and not self.metric_scheduled:
                scheduler.step()
                self.check_lrs(opt, step)
        if plan.average is not None:
            plan.average.update()
        return loss

    def on_metric(self, value: float, step: int) -> None:
        """Metric-driven schedulers (reduce on plateau) step with each validation result."""
        if self.metric_scheduled:
            for stage, scheduler in self.schedulers.items():
                scheduler.step(value)
                self.check_lrs(self.plan.optimizers[stage], step)

    def check_lrs(self, opt, step: int) -> None:
        """The rates a scheduler set are plain floats on the host: checking them costs no device sync."""
        for group in opt.param_groups:
            check_learning_rate(group["lr"], step, self.scheduler_name)


class Judge:
    """Evaluates on the validation split, keeps the best weights, and decides when to stop early."""

    def __init__(self, plan: Plan, task: "TorchTask", run: "Run", state: LoopState, checkpoints: Checkpointer,
                 records: Records, progress: Progress, stepper: Stepper):
        self.plan, self.task, self.run, self.cfg, self.state = plan, task, run, run.config, state
        self.checkpoints, self.records, self.progress, self.stepper = checkpoints, records, progress, stepper

    def evaluate(self, epoch: int) -> None:
        import torch

        self.task.nets.update(self.plan.nets)
        for net in self.plan.nets.values():
            net.eval()
        # with train.ema the average is what is evaluated, kept as the best and shown to callbacks
        average = self.plan.average
        with average.swapped_in() if average is not None else contextlib.nullcontext():
            self.run.evaluating = True
            with memory_errors(self.plan.device, self.run, "evaluating"), torch.no_grad(), self.plan.acc.autocast():
                raw = self.task.evaluate("validation") or {}
            self.run.evaluating = False
            self.judge({k: float(v) for k, v in raw.items()}, epoch)

    def judge(self, metrics: dict[str, float], epoch: int) -> None:
        """Record the evaluation, keep the best weights, step metric schedulers, decide early stopping."""
        cfg, st = self.cfg, self.state
        st.last_eval_step = st.step
        if cfg.metric not in metrics:
            have = ", ".join(metrics) or "none"
            raise ConfigError(f"{cfg.metric!r} is not a validation metric of this model"
                              f"{did_you_mean(cfg.metric, metrics)}; it reports: {have}", "train.metric")
        value = metrics[cfg.metric]
        improved = self.improves(value)
        if improved:
            st.best_value, st.best_step, st.best_metrics, st.bad_evals = value, st.step, metrics, 0
            if cfg.keep_best:
                self.checkpoints.save_best(st.step, self.plan.nets, metrics)
        else:
            st.bad_evals += 1
        self.records.write({"step": st.step, "epoch": epoch, **{f"val_{k}": v for k, v in metrics.items()},
                            "best": improved})
        self.progress.note(f"step {st.step}: " + ", ".join(f"val_{k} {v:.4g}" for k, v in metrics.items())
                           + ("  (best)" if improved else ""))
        for cb in self.run.callbacks:
            cb.on_evaluate(self.run, st.step, {f"val_{k}": v for k, v in metrics.items()})
        self.stepper.on_metric(value, st.step + 1)
        if cfg.early_stopping and st.bad_evals >= cfg.early_stopping:
            st.stopped = True
            self.records.write({"step": st.step, "epoch": epoch, "early_stop": True})

    def improves(self, value: float) -> bool:
        best = self.state.best_value
        if best is None or (math.isnan(best) and not math.isnan(value)):
            return True
        return value < best if lower_is_better(self.cfg.metric, self.cfg.mode) else value > best


@contextlib.contextmanager
def memory_errors(device, run: "Run", doing: str):
    """A batch that does not fit is one line naming ``train.batch_size``, not a device traceback."""
    import torch

    oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    try:
        yield
    except oom:
        raise TrainingError(
            f"train.batch_size: out of memory on {device} while {doing} at step {run.step} with batch_size "
            f"{run.config.batch_size}; lower train.batch_size (raise train.grad_accum to keep the examples per "
            "step), or use train.precision: bf16") from None


class Trainer:
    """One call of ``run.fit(task)``: the plan, the epochs, a judgement at each evaluation; a :class:`FitResult`."""

    def __init__(self, run: "Run", task: "TorchTask", optimizers: dict | None = None):
        cfg = run.config
        self.run, self.task, self.cfg = run, task, cfg
        seed_everything(run.seed)
        if cfg.deterministic:
            make_deterministic(run.device)
        self.plan = plan = Plan(run, task, optimizers)
        self.checkpoints = Checkpointer(run.dir / CHECKPOINTS, writes=run.is_main)
        saved = self.checkpoints.load() if run.resume else None
        if run.resume and saved is None and run.is_main:
            print(f"nlpzoo: no checkpoint in {self.checkpoints.root}; starting from the beginning", file=sys.stderr)
        self.state = resumed_state(saved, plan.world) if saved is not None else LoopState(world_size=plan.world)
        run.step = self.state.step
        self.batches = EpochBatches(task, run.seed)
        self.count_examples = _example_counter(task)
        self.steps_per_epoch = self._steps_per_epoch(saved)
        total = cfg.epochs * self.steps_per_epoch
        self.total_steps = min(total, cfg.max_steps) if cfg.max_steps is not None else total
        schedulers = {} if run.scheduler is None else {
            stage: run.scheduler.checked_create(opt, max(1, self.total_steps)) for stage, opt in plan.optimizers.items()}
        self.stepper = Stepper(plan, task, run, schedulers)
        self.window = Window()
        # a task's own state from a checkpoint taken inside an epoch, loaded after that epoch's on_epoch_start
        self.mid_epoch_task_state = restore(saved, plan, self.stepper, self.window, task, self.state,
                                            self.total_steps, run.is_main) if saved is not None else []
        self.records = Records(run, self.state.step if saved is not None else None)
        self.progress = Progress(self.total_steps, self.state.step, cfg.epochs, enabled=cfg.progress and run.is_main)
        self.judge = Judge(plan, task, run, self.state, self.checkpoints, self.records, self.progress, self.stepper)
        self.deadline = time.monotonic() + cfg.max_minutes * 60 if cfg.max_minutes is not None else None
        self.clock = TrainingClock(plan.device)
        self.unaugmented: set[int] = set()  # epochs warned about: an augmenter the task never asked for
        reset_peak_memory(plan.device)

    def _steps_per_epoch(self, saved: dict | None) -> int:
        """Every epoch has as many steps as the first (a task's batches depend on the epoch only by order)."""
        first, cfg = self.state.epoch, self.cfg
        n = len(self.batches(first)) if first < cfg.epochs else 0
        if n == 0 and cfg.epochs > 0 and saved is None:
            raise ConfigError("the task made no training batches for the first epoch (is the training split empty?)",
                              "train")
        if not n:
            return int(saved.get("steps_per_epoch") or 0) if saved is not None else 0
        return math.ceil(len(self._order(n)) / cfg.grad_accum)

    def _order(self, n: int) -> list[int]:
        return self.plan.shard(n, self.cfg.grad_accum, getattr(self.task, "shards_itself", False))

    # ------------------------------------------------------------ the loop

    def fit(self) -> FitResult:
        try:
            with memory_errors(self.plan.device, self.run, "training"):
                self._train()
        finally:
            self.task.nets.update(self.plan.nets)
            self.progress.close()
            self.records.close()
        result = self._finish()
        for cb in self.run.callbacks:
            cb.on_end(self.run, result.metrics)
        return result

    def _done(self) -> bool:
        st = self.state
        return st.epoch >= self.cfg.epochs or st.step >= self.total_steps or st.stopped or self.run.stop_requested

    def _train(self) -> None:
        cfg, st = self.cfg, self.state
        while not self._done():
            epoch = st.epoch
            batches = self.batches(epoch)
            order = self._order(len(batches))
            if not order:
                raise ConfigError(f"the task made no training batches for epoch {epoch}", "train")
            self._start_epoch(epoch)
            self.clock.start()
            while st.micro < len(order):
                group = [self.plan.to_device(batches[i]) for i in order[st.micro:st.micro + cfg.grad_accum]]
                loss = self.stepper.step(group, self.window, st.step + 1)
                end_of_epoch = self._advance(epoch, group, len(order))
                self._after_step(epoch, loss)
                if self._evaluate_and_save(epoch, end_of_epoch):
                    break
            self.clock.stop()
            if st.micro == 0:
                self.batches.forget()
                warn_unaugmented(self.run, epoch, self.unaugmented)
        if st.last_eval_step is None and st.step > 0:  # e.g. stopped before any evaluation
            self.judge.evaluate(st.epoch)
            self._save_checkpoint()

    def _start_epoch(self, epoch: int) -> None:
        self.task.on_epoch_start(epoch)
        if self.mid_epoch_task_state:  # resumed mid-epoch: the task's own state as it was then
            self.task.load_state_dict(self.mid_epoch_task_state.pop())
        self.progress.epoch(epoch)
        self._train_mode()

    def _advance(self, epoch: int, group: list, batches: int) -> bool:
        """Count the step and its examples; whether it ended the epoch."""
        st = self.state
        examples = sum(self.count_examples(b) for b in group)
        self.window.examples += examples
        self.clock.examples += examples
        st.step += 1
        self.run.step = st.step
        st.micro += len(group)
        if st.micro < batches:
            return False
        st.epoch, st.micro = epoch + 1, 0
        return True

    def _after_step(self, epoch: int, loss) -> None:
        """Callbacks, the time limit and the log line."""
        st = self.state
        if self.run.callbacks:
            logs = {"loss": float(loss.detach()), **self.plan.lrs()}
            for cb in self.run.callbacks:
                cb.on_step(self.run, st.step, logs)
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.run.request_stop()  # train.max_minutes: stop after this step, evaluated and saved
        line_due = self.progress.step(st.step)
        if st.step % self.cfg.log_every == 0 or line_due:
            self._log_train(epoch)

    def _evaluate_and_save(self, epoch: int, end_of_epoch: bool) -> bool:
        """Evaluate and checkpoint when due (neither counts as training time); whether the epoch's loop ends."""
        cfg, st, run = self.cfg, self.state, self.run
        finished = st.step >= self.total_steps or end_of_epoch and st.epoch >= cfg.epochs
        due = (st.step % cfg.eval_every == 0) if cfg.eval_every else end_of_epoch
        evaluate = due or finished or st.stopped or run.stop_requested
        if evaluate or (cfg.checkpoint_every and st.step % cfg.checkpoint_every == 0):
            self.clock.stop()
            if evaluate:
                self.judge.evaluate(epoch)
                self._train_mode()
            self._save_checkpoint()
            self.clock.start()
        return finished or st.stopped or run.stop_requested or end_of_epoch

    def _train_mode(self) -> None:
        self.task.nets.update(self.plan.wrapped)
        for net in self.plan.nets.values():
            net.train()

    def _log_train(self, epoch: int) -> None:
        window = self.window.take()
        reduce = (lambda t: self.plan.acc.reduce(t, "mean")) if self.plan.world > 1 else None
        means = window.means(reduce)
        if not means:
            return
        elapsed = max(time.perf_counter() - window.started, 1e-9)
        record = {"step": self.state.step, "epoch": epoch, **{f"train_{k}": v for k, v in means.items()}}
        record.update(self.plan.lrs())
        record["examples_per_s"] = window.examples * self.plan.world / elapsed
        for key, value in means.items():
            if not math.isfinite(value) and key.endswith("loss"):
                raise TrainingError(f"the training {key} is {value} at step {self.state.step} (epoch {epoch}); "
                                    "lower the learning rate or set train.clip_grad_norm")
        self.records.write(record)
        self.progress.show(self.state.step, epoch, {**means, **self.plan.lrs()}, record["examples_per_s"])

    # ------------------------------------------------------------ checkpoints

    def _save_checkpoint(self) -> None:
        st, plan = self.state, self.plan
        state = SavedState(
            loop=dataclasses.asdict(st),
            optimizers={s: o.state_dict() for s, o in plan.optimizers.items()},
            schedulers={s: sc.state_dict() for s, sc in self.stepper.schedulers.items()},
            rng=rng_state(),
            window=self.window.state(),
            task=self.task.state_dict() if hasattr(self.task, "state_dict") else None,
            average=plan.average.state() if plan.average is not None else None,
            total_steps=self.total_steps,
            steps_per_epoch=self.steps_per_epoch)
        self.checkpoints.save(st.step, plan.nets, state, st.best_step if self.cfg.keep_best else None)

    # ------------------------------------------------------------ the end

    def _finish(self) -> FitResult:
        st, plan, run = self.state, self.plan, self.run
        run.barrier()
        if self.cfg.keep_best and st.best_step is not None:
            self.checkpoints.load_best(st.best_step, plan.nets)
        elif plan.average is not None:
            plan.average.swap()  # end with the averaged weights, as evaluated
        for net in plan.nets.values():
            net.eval()
        if self.cfg.plots and run.is_main:
            plot_run_curves(run)
        metrics = (st.best_metrics if self.cfg.keep_best else None) or last_eval_metrics(run) or st.best_metrics
        return FitResult(metrics={f"val_{k}": float(v) for k, v in (metrics or {}).items()}, steps=st.step,
                         device=str(plan.device), precision=self.cfg.precision,
                         timing=self.clock.report(plan.world), peak_memory=memory_report(plan.device))


def restore(saved: dict, plan: Plan, stepper: Stepper, window: Window, task: "TorchTask", state: LoopState,
            total_steps: int, is_main: bool) -> list:
    """Networks, optimizers, schedulers, the weight average, the log window and the generators as the checkpoint
    left them; ``[task state]`` when the task's own state must wait for its epoch to start, else ``[]``."""
    from .checkpoint import load_modules

    saved_state = SavedState.of(saved)
    try:
        load_modules(plan.nets, saved["nets"], saved.get("aliases", {}))
        for stage, opt in plan.optimizers.items():
            opt_state = saved_state.optimizers[stage]
            for group, current in zip(opt_state["param_groups"], opt.param_groups):
                for key, value in list(group.items()):
                    if isinstance(current.get(key), tuple) and isinstance(value, list):
                        group[key] = tuple(value)
            opt.load_state_dict(opt_state)  # torch moves the state to where each parameter lives
        for stage, scheduler in stepper.schedulers.items():
            if stage in saved_state.schedulers:
                scheduler.load_state_dict(saved_state.schedulers[stage])
        if plan.average is not None and saved_state.average is not None:
            plan.average.restore(saved_state.average)
        if saved_state.window:
            window.restore(saved_state.window)
        pending = []
        if saved_state.task is not None and hasattr(task, "load_state_dict"):
            if state.micro == 0:  # at an epoch boundary: before on_epoch_start
                task.load_state_dict(saved_state.task)
            else:
                pending.append(saved_state.task)
        set_rng_state(saved_state.rng)
    except (KeyError, TypeError, ValueError, RuntimeError, OverflowError, IndexError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""  # another model or set-up
        raise CheckpointError(f"{saved['folder']}/state.json",
                              f"does not fit this run ({type(exc).__name__}: {first})") from None
    if saved_state.total_steps != total_steps and is_main:
        print(f"nlpzoo: the run now has {total_steps} steps (the checkpoint planned {saved_state.total_steps})",
              file=sys.stderr)
    return pending


def warn_unaugmented(run: "Run", epoch: int, warned: set[int]) -> None:
    """A recipe's augmenter that the task never asked for would be listed in the report yet change nothing."""
    if run.augmenter is None or run.config.augment_mode == "offline" or epoch in run.augmented_epochs:
        return
    if not warned and run.is_main:
        warnings.warn(f"the recipe sets an augmenter ({type(run.augmenter).__name__}) but epoch {epoch} ended "
                      "without the model's task calling run.augment_texts: its training texts were not augmented",
                      UserWarning, stacklevel=3)
    warned.add(epoch)


def resumed_state(saved: dict, world: int) -> LoopState:
    loop = saved["loop"]
    if loop.get("world_size", 1) != world:
        raise TrainingError(f"the checkpoint in {saved['folder']} was made with {loop['world_size']} process(es); "
                            f"resume it with the same number (this is {world})")
    known = {f.name for f in dataclasses.fields(LoopState)}
    return LoopState(**{k: v for k, v in loop.items() if k in known})


def last_eval_metrics(run: "Run") -> dict | None:
    for record in reversed(run.metrics.read()):
        vals = {k[4:]: v for k, v in record.items() if k.startswith("val_")}
        if vals:
            return vals
    return None


def reset_peak_memory(device) -> None:
    import torch

    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats(device)


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
