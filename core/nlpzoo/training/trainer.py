"""The shared training loop, on Hugging Face Accelerate.

Accelerate starts the process group under ``torchrun`` (gloo on CPU), places the networks and wraps
them in DistributedDataParallel; this module does the rest: optimizers and schedulers by name,
rank-sharded batches, accumulation, clipping, bf16 autocast, evaluation, early stopping, best and
last checkpoints, resume, progress and metrics.

Per step the loop adds no host-device synchronisation: losses are summed as tensors and read only
every ``log_every`` steps (or every step when callbacks want them).
"""
from __future__ import annotations

import contextlib
import json
import math
import random
import sys
import time
import warnings
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, NlpzooError
from . import checkpoint as ckpt
from .run import derive_seed, seed_everything

if TYPE_CHECKING:  # pragma: no cover
    from .run import Run
    from .task import TorchTask

CHECKPOINTS = "checkpoints"
LOWER_IS_BETTER = ("loss", "perplexity", "ppl", "error", "fid", "frechet", "distance")


class TrainingError(NlpzooError, RuntimeError):
    """Training cannot go on (a non-finite loss, a checkpoint from another set-up)."""


def lower_is_better(metric: str, mode: str = "auto") -> bool:
    if mode != "auto":
        return mode == "min"
    return any(word in metric.lower() for word in LOWER_IS_BETTER)


class _Window:
    """Sums since the last log line, kept as tensors so reading them is the only synchronisation."""

    def __init__(self):
        self.sums: dict[str, Any] = {}
        self.counts: dict[str, int] = {}
        self.examples = 0
        self.started = time.perf_counter()

    def add(self, key: str, value) -> None:
        if hasattr(value, "detach"):
            value = value.detach().float()
        prev = self.sums.get(key)
        self.sums[key] = value if prev is None else prev + value
        self.counts[key] = self.counts.get(key, 0) + 1

    def state(self) -> dict:
        return {"sums": dict(self.sums), "counts": dict(self.counts), "examples": self.examples}

    def restore(self, state: dict) -> None:
        self.sums, self.counts, self.examples = dict(state["sums"]), dict(state["counts"]), int(state["examples"])
        self.started = time.perf_counter()


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
        self.stage_optimizers = dict(optimizers or {})
        self.root = run.dir / CHECKPOINTS
        self.is_main = run.is_main

    # ------------------------------------------------------------ set-up

    def _setup(self) -> None:
        import torch

        cfg, run, task = self.cfg, self.run, self.task
        cfg.check()
        acc = run.accelerator
        self.acc, self.world, self.rank = acc, acc.num_processes, acc.process_index
        seed_everything(run.seed)
        if cfg.deterministic and not torch.are_deterministic_algorithms_enabled():
            setter = getattr(torch._C, "_set_deterministic_algorithms", None)
            if setter is not None:  # the public function imports the compiler (seconds) only to set its flag too
                setter(True, warn_only=True)
            else:  # pragma: no cover
                torch.use_deterministic_algorithms(True, warn_only=True)
            # The same numbers without filling every new tensor with NaN first: that fill only makes reads of
            # uninitialized memory reproducible, a valid program makes none, and it cost about 2.5% of a BERT step.
            torch.utils.deterministic.fill_uninitialized_memory = False
        self.stages = tuple(task.stages)
        self.nets = dict(task.nets)  # the plain modules; task.nets may hold wrapped ones while training
        for net in self.nets.values():
            net.to(acc.device)
        self.optimizers = {}
        for stage in self.stages:
            component = self.stage_optimizers.get(stage) or run.optimizer
            if component is None:
                from ..config import build

                component = build({"name": "adamw", "lr": 1e-3}, "optimizer")
            # train.weight_decay wins; otherwise the optimizer's own (adamw's 0.01), in both cases
            # only on weights: parameter_groups leaves biases and norms undecayed
            decay = cfg.weight_decay or float(getattr(component, "weight_decay", 0.0) or 0.0)
            self.optimizers[stage] = component.create(task.parameter_groups(stage, decay))
        self.params = {s: [p for g in o.param_groups for p in g["params"]] for s, o in self.optimizers.items()}
        self.average = WeightAverage(self.nets, cfg.ema) if cfg.ema is not None else None
        self.wrapped = {}
        for name, net in self.nets.items():
            trainable = any(p.requires_grad for p in net.parameters())
            self.wrapped[name] = acc.prepare_model(net, device_placement=False) if self.world > 1 and trainable else net
        self.autocast = (lambda: torch.autocast(acc.device.type, dtype=torch.bfloat16)) if cfg.precision == "bf16" else contextlib.nullcontext
        self.move = acc.device.type != "cpu"

        # the first epoch's batches tell the length of every epoch (and so the scheduler's horizon)
        self.state = {"step": 0, "epoch": 0, "micro": 0, "best_value": None, "best_step": None, "best_metrics": None,
                      "bad_evals": 0, "last_eval_step": None, "stopped": False, "world_size": self.world}
        loaded = self._load_checkpoint_state() if run.resume else None
        self._batches_cache = None
        first = self.state["epoch"]
        n = len(self._epoch_batches(first)) if first < cfg.epochs else 0
        self.steps_per_epoch = math.ceil(math.ceil(n / self.world) / cfg.grad_accum) if n else 0
        total = cfg.epochs * self.steps_per_epoch
        self.total_steps = min(total, cfg.max_steps) if cfg.max_steps is not None else total
        if n == 0 and cfg.epochs > 0:
            raise ConfigError("the task made no training batches for the first epoch (is the training split empty?)", "train")
        self.schedulers = {}
        if run.scheduler is not None:
            for stage, opt in self.optimizers.items():
                self.schedulers[stage] = run.scheduler.create(opt, max(1, self.total_steps))
        self.metric_scheduled = getattr(run.scheduler, "steps_on", "step") == "metric"
        if loaded is not None:
            try:
                self._restore(loaded)
            except (KeyError, TypeError, ValueError, RuntimeError, OverflowError, IndexError, AttributeError) as exc:
                # the state of another model or set-up
                raise ckpt.CheckpointError(f"{loaded['folder']}/state.json", f"does not fit this run ({type(exc).__name__}: "
                                           f"{str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''})") from None
        self.window = _Window()
        if loaded is not None and "window" in loaded:
            self.window.restore(loaded["window"])
        self._task_state = loaded.get("task") if loaded is not None and hasattr(self.task, "load_state_dict") else None
        if self._task_state is not None and self.state["micro"] == 0:  # at an epoch boundary: before on_epoch_start
            self.task.load_state_dict(self._task_state)
            self._task_state = None
        self.run.metrics.start(self.state["step"] if loaded is not None else None)
        self._tensorboard = self._open_tensorboard(self.state["step"] if loaded is not None else None)

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
                batches = batches if isinstance(batches, (list, tuple)) else list(batches)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
        self._batches_cache = (epoch, batches)
        return batches

    # ------------------------------------------------------------ the loop

    def fit(self) -> dict[str, float]:
        self._setup()
        try:
            self._train()
        finally:
            self.task.nets.update(self.nets)
            self.run.metrics.close()
            if self._tensorboard is not None:
                self._tensorboard.close()
        final = self._finish()
        for cb in self.run.callbacks:
            cb.on_end(self.run, final)
        return final

    def _train(self) -> None:
        cfg, task, st = self.cfg, self.task, self.state
        self.bar = self._progress()
        callbacks = self.run.callbacks
        try:
            while st["epoch"] < cfg.epochs and st["step"] < self.total_steps and not st["stopped"] and not self.run.stop_requested:
                epoch = st["epoch"]
                batches = self._epoch_batches(epoch)
                n = len(batches)
                order = [i % n for i in range(self.rank, n + (-n) % self.world, self.world)] if self.world > 1 else range(n)
                task.on_epoch_start(epoch)
                if self._task_state is not None:  # resumed mid-epoch: the task's own state as it was then
                    task.load_state_dict(self._task_state)
                    self._task_state = None
                self.bar.set_description(f"epoch {epoch + 1}/{cfg.epochs}", refresh=False)
                task.nets.update(self.wrapped)
                for net in self.nets.values():
                    net.train()
                while st["micro"] < len(order):
                    start = st["micro"]
                    group = [batches[i] for i in order[start:start + cfg.grad_accum]]
                    if self.move:
                        from accelerate.utils import send_to_device

                        group = [send_to_device(b, self.acc.device) for b in group]
                    last_loss = self._step(group)
                    st["step"] += 1
                    st["micro"] = start + len(group)
                    end_of_epoch = st["micro"] >= len(order)
                    if end_of_epoch:
                        st["epoch"], st["micro"] = epoch + 1, 0
                    self.bar.update(1)
                    step = st["step"]
                    if callbacks:
                        logs = {"loss": float(last_loss.detach()), **self._lrs()}
                        for cb in callbacks:
                            cb.on_step(self.run, step, logs)
                    if step % cfg.log_every == 0:
                        self._log_train(epoch)
                    finished = step >= self.total_steps or end_of_epoch and st["epoch"] >= cfg.epochs
                    evaluate = (step % cfg.eval_every == 0) if cfg.eval_every else end_of_epoch
                    if evaluate or finished or self.run.stop_requested:
                        task.nets.update(self.nets)
                        self._evaluate(epoch)
                        task.nets.update(self.wrapped)
                        for net in self.nets.values():
                            net.train()
                    if (evaluate or finished or st["stopped"] or self.run.stop_requested
                            or (cfg.checkpoint_every and step % cfg.checkpoint_every == 0)):
                        self._save_checkpoint()
                    if finished or st["stopped"] or self.run.stop_requested or end_of_epoch:
                        break
                if st["micro"] == 0:
                    self._batches_cache = None  # free the finished epoch before making the next
        finally:
            self.bar.close()
        if self.state["last_eval_step"] is None and self.state["step"] > 0:  # e.g. stopped before any evaluation
            task.nets.update(self.nets)
            self._evaluate(self.state["epoch"])
            self._save_checkpoint()

    def _step(self, group: list):
        """One optimizer step per stage over the micro-batches of ``group``; the last loss (a tensor)."""
        import torch

        k = len(group)
        loss = None
        for stage in self.stages:
            opt = self.optimizers[stage]
            opt.zero_grad(set_to_none=True)
            for j, batch in enumerate(group):
                with self._no_sync(j < k - 1):
                    with self.autocast():
                        loss, logs = self.task.training_step(batch, stage)
                    (loss / k if k > 1 else loss).backward()  # outside autocast, as torch recommends
                self.window.add("loss" if len(self.stages) == 1 else f"{stage}_loss", loss)
                for key, value in logs.items():
                    self.window.add(key, value)
            if self.cfg.clip_grad_norm:
                torch.nn.utils.clip_grad_norm_(self.params[stage], self.cfg.clip_grad_norm)
            opt.step()
            sched = self.schedulers.get(stage)
            if sched is not None and not self.metric_scheduled:
                sched.step()
        if self.average is not None:
            self.average.update()
        for batch in group:
            self.window.examples += self._batch_size(batch)
        return loss

    def _no_sync(self, skip: bool):
        if not skip or self.world == 1:
            return contextlib.nullcontext()
        stack = contextlib.ExitStack()
        for net in self.wrapped.values():
            if hasattr(net, "no_sync"):
                stack.enter_context(net.no_sync())
        return stack

    def _batch_size(self, batch) -> int:
        try:
            return self.task.batch_size(batch)
        except Exception:
            return len(batch) if hasattr(batch, "__len__") else 1

    def _lrs(self) -> dict[str, float]:
        if len(self.stages) == 1:
            return {"lr": self.optimizers[self.stages[0]].param_groups[0]["lr"]}
        return {f"lr_{s}": o.param_groups[0]["lr"] for s, o in self.optimizers.items()}

    # ------------------------------------------------------------ logging

    def _progress(self):
        from tqdm.auto import tqdm

        show = self.cfg.progress and self.is_main and sys.stderr.isatty()
        return tqdm(total=self.total_steps, initial=self.state["step"], disable=not show, unit="step",
                    dynamic_ncols=True, leave=True, desc="train")

    def _log_train(self, epoch: int) -> None:
        import torch

        w = self.window
        keys = list(w.sums)
        if not keys:
            return
        values = torch.stack([torch.as_tensor(w.sums[k], dtype=torch.float32).reshape(()) for k in keys])
        counts = torch.tensor([float(w.counts[k]) for k in keys])
        if self.world > 1:
            values = self.acc.reduce(values.to(self.acc.device), "mean").cpu()
        means = (values / counts).tolist()
        elapsed = max(time.perf_counter() - w.started, 1e-9)
        record = {"step": self.state["step"], "epoch": epoch}
        for k, v in zip(keys, means):
            record[f"train_{k}"] = v
        record.update(self._lrs())
        record["examples_per_s"] = w.examples * self.world / elapsed
        for k, v in zip(keys, means):
            if not math.isfinite(v) and k.endswith("loss"):
                raise TrainingError(f"the training {k} is {v} at step {self.state['step']} (epoch {epoch}); "
                                    "lower the learning rate or set train.clip_grad_norm")
        self._write(record)
        if not self.bar.disable:
            shown = {"loss": record.get("train_loss", means[0]), "lr": next(iter(self._lrs().values())),
                     "ex/s": record["examples_per_s"]}
            self.bar.set_postfix({k: f"{v:.3g}" for k, v in shown.items()}, refresh=False)
        self.window = _Window()

    def _write(self, record: dict) -> None:
        self.run.metrics.write(record)
        if self._tensorboard is not None:
            for k, v in record.items():
                if k not in ("step", "epoch") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._tensorboard.add_scalar(k, v, record["step"])

    def _open_tensorboard(self, purge_step: int | None):
        if not (self.cfg.tensorboard and self.is_main):
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            warnings.warn("train.tensorboard needs the tensorboard package: pip install 'nlpzoo[tensorboard]'", stacklevel=2)
            return None
        return SummaryWriter(str(self.run.dir / "tensorboard"), purge_step=purge_step)

    # ------------------------------------------------------------ evaluation

    def _evaluate(self, epoch: int) -> None:
        for net in self.nets.values():
            net.eval()
        with self._averaged():
            self._validate(epoch)

    def _averaged(self):
        return self.average.swapped_in() if self.average is not None else contextlib.nullcontext()

    def _validate(self, epoch: int) -> None:
        import torch

        cfg, st = self.cfg, self.state
        with torch.no_grad(), self.autocast():
            raw = self.task.evaluate("validation") or {}
        metrics = {k: float(v) for k, v in raw.items()}
        st["last_eval_step"] = st["step"]
        if cfg.metric not in metrics:
            from ..errors import did_you_mean

            have = ", ".join(metrics) or "none"
            raise ConfigError(f"{cfg.metric!r} is not a validation metric of this model{did_you_mean(cfg.metric, metrics)}; "
                              f"it reports: {have}", "train.metric")
        value = metrics[cfg.metric]
        low = lower_is_better(cfg.metric, cfg.mode)
        best = st["best_value"]
        improved = best is None or (value < best if low else value > best) or (math.isnan(best) and not math.isnan(value))
        if improved:
            st["best_value"], st["best_step"], st["best_metrics"], st["bad_evals"] = value, st["step"], metrics, 0
            if cfg.keep_best and self.is_main:
                tensors, aliases = ckpt.module_tensors(self.nets)
                ckpt.write_folder(self.root, self._best_name(st["step"]), {
                    "nets.safetensors": tensors,
                    "best.json": json.dumps({"step": st["step"], "metrics": metrics, "aliases": aliases}, indent=1)})
        else:
            st["bad_evals"] += 1
        record = {"step": st["step"], "epoch": epoch, **{f"val_{k}": v for k, v in metrics.items()}, "best": improved}
        self._write(record)
        if not self.bar.disable:
            self.bar.write(f"step {st['step']}: " + ", ".join(f"val_{k} {v:.4g}" for k, v in metrics.items())
                           + ("  (best)" if improved else ""), file=sys.stderr)
        for cb in self.run.callbacks:
            cb.on_evaluate(self.run, st["step"], {f"val_{k}": v for k, v in metrics.items()})
        if self.metric_scheduled:
            for sched in self.schedulers.values():
                sched.step(value)
        if cfg.early_stopping and st["bad_evals"] >= cfg.early_stopping:
            st["stopped"] = True
            self._write({"step": st["step"], "epoch": epoch, "early_stop": True})

    @staticmethod
    def _best_name(step: int) -> str:
        return f"best-{step:08d}"

    # ------------------------------------------------------------ checkpoints

    def _save_checkpoint(self) -> None:
        st = self.state
        if self.is_main:
            tensors, aliases = ckpt.module_tensors(self.nets)
            other: dict = {}
            state = {
                "loop": dict(st),
                "optimizers": {s: ckpt.split_tensors(o.state_dict(), other) for s, o in self.optimizers.items()},
                "schedulers": {s: ckpt.split_tensors(sc.state_dict(), other) for s, sc in self.schedulers.items()},
                "rng": ckpt.split_tensors(ckpt.rng_state(), other),
                "window": ckpt.split_tensors(self.window.state(), other),
                "task": ckpt.split_tensors(self.task.state_dict(), other) if hasattr(self.task, "state_dict") else None,
                "average": ckpt.split_tensors(self.average.state(), other) if self.average is not None else None,
                "aliases": aliases,
                "total_steps": self.total_steps,
            }
            name = f"step-{st['step']:08d}"
            ckpt.write_folder(self.root, name, {"nets.safetensors": tensors, "state.safetensors": other,
                                                 "state.json": json.dumps(state, indent=1)})
            best = self._best_name(st["best_step"]) if st["best_step"] is not None and self.cfg.keep_best else None
            ckpt.publish(self.root, {"last": name, "best": best, "step": st["step"]})

    def _load_checkpoint_state(self) -> dict | None:
        state = ckpt.load_checkpoint(self.root)  # checked: confined to the run, well-formed, or one error naming the file
        if state is None:
            if self.is_main:
                print(f"nlpzoo: no checkpoint in {self.root}; starting from the beginning", file=sys.stderr)
            return None
        folder = state["folder"]
        loop = state["loop"]
        if loop.get("world_size", 1) != self.world:
            raise TrainingError(f"the checkpoint in {folder} was made with {loop['world_size']} process(es); "
                                f"resume it with the same number (this is {self.world})")
        self.state.update(loop)
        return state

    def _restore(self, state: dict) -> None:
        ckpt.load_modules(self.nets, state["nets"], state.get("aliases", {}))
        for stage, opt in self.optimizers.items():
            saved = state["optimizers"][stage]
            for group, current in zip(saved["param_groups"], opt.param_groups):
                for key, value in list(group.items()):
                    if isinstance(current.get(key), tuple) and isinstance(value, list):
                        group[key] = tuple(value)
            opt.load_state_dict(saved)
        for stage, sched in self.schedulers.items():
            if stage in state["schedulers"]:
                sched.load_state_dict(state["schedulers"][stage])
        if state.get("total_steps") != self.total_steps and self.is_main:
            print(f"nlpzoo: the run now has {self.total_steps} steps (the checkpoint planned {state.get('total_steps')})",
                  file=sys.stderr)
        if self.average is not None and state.get("average") is not None:
            self.average.restore(state["average"])
        ckpt.set_rng_state(state["rng"])

    # ------------------------------------------------------------ the end

    def _finish(self) -> dict[str, float]:
        st = self.state
        self.run.barrier()
        if self.cfg.keep_best and st["best_step"] is not None:
            tensors, aliases = ckpt.load_best(self.root, self._best_name(st["best_step"]))
            ckpt.load_modules(self.nets, tensors, aliases)
        elif self.average is not None:
            self.average.swap()  # end with the averaged weights, as evaluated
        for net in self.nets.values():
            net.eval()
        if self.cfg.plots and self.is_main:
            self._plot()
        metrics = st["best_metrics"] if self.cfg.keep_best else None
        if metrics is None:
            metrics = self._last_eval_metrics()
        return {f"val_{k}": float(v) for k, v in (metrics or {}).items()}

    def _last_eval_metrics(self) -> dict | None:
        for record in reversed(self.run.metrics.read()):
            vals = {k[4:]: v for k, v in record.items() if k.startswith("val_")}
            if vals:
                return vals
        return self.state["best_metrics"]

    def _plot(self) -> None:
        from ..plots import plot_curves

        records = self.run.metrics.read()
        train = [r for r in records if any(k.startswith("train_") and k.endswith("loss") for k in r)]
        if not train:
            return
        plots = self.run.dir / "plots"
        curves, xs = {}, {}
        for key in sorted({k for r in train for k in r if k.startswith("train_") and k.endswith("loss")}):
            rows = [r for r in train if key in r]
            curves[key], xs[key] = [r[key] for r in rows], [r["step"] for r in rows]
        val = [r for r in records if "val_loss" in r]
        if val:
            curves["val_loss"], xs["val_loss"] = [r["val_loss"] for r in val], [r["step"] for r in val]
        plot_curves(curves, plots / "loss.png", title="loss", xlabel="optimizer step", xs=xs)
        lr_keys = sorted({k for r in train for k in r if k == "lr" or k.startswith("lr_")})
        plot_curves({k: [r[k] for r in train if k in r] for k in lr_keys}, plots / "lr.png", title="learning rate",
                    xlabel="optimizer step", xs={k: [r["step"] for r in train if k in r] for k in lr_keys})
