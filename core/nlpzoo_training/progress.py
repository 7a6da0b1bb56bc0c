"""What a training run tells the outside: ``metrics.jsonl`` (and TensorBoard), progress on stderr, curves.

Losses are summed as tensors where they were computed (a GPU's, say) and read once per log line, so
logging adds no host-device synchronisation to the steps in between.
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from typing import Any

QUIET_SECONDS = 30.0  # without a terminal, a progress line at least this often


class Window:
    """Sums of the values logged since the last log line, and the examples seen."""

    def __init__(self):
        self.sums: dict[str, Any] = {}
        self.counts: dict[str, int] = {}
        self.examples = 0
        self.started = time.perf_counter()

    def add(self, key: str, value) -> None:
        if hasattr(value, "detach"):
            value = value.detach().float().reshape(())
        previous = self.sums.get(key)
        self.sums[key] = value if previous is None else previous + value
        self.counts[key] = self.counts.get(key, 0) + 1

    def means(self, reduce=None) -> dict[str, float]:
        """The mean of each key; ``reduce`` averages a tensor of them over processes. One synchronisation."""
        import torch

        keys = list(self.sums)
        if not keys:
            return {}
        tensors = [v for v in self.sums.values() if isinstance(v, torch.Tensor)]
        device = tensors[0].device if tensors else torch.device("cpu")
        values = torch.stack([torch.as_tensor(self.sums[k], dtype=torch.float32, device=device).reshape(()) for k in keys])
        counts = torch.tensor([float(self.counts[k]) for k in keys], device=device)
        means = values / counts
        if reduce is not None:
            means = reduce(means)
        return dict(zip(keys, means.tolist()))

    def take(self) -> "Window":
        """What was added so far, as a window of its own; this one starts again, empty, from now."""
        taken = Window()
        taken.restore(self.state())
        taken.started = self.started
        self.sums.clear()
        self.counts.clear()
        self.examples = 0
        self.started = time.perf_counter()
        return taken

    def state(self) -> dict:
        return {"sums": dict(self.sums), "counts": dict(self.counts), "examples": self.examples}

    def restore(self, state: dict) -> None:
        self.sums, self.counts, self.examples = dict(state["sums"]), dict(state["counts"]), int(state["examples"])
        self.started = time.perf_counter()


class Progress:
    """A tqdm bar on a terminal; otherwise a plain line at every log step and at least every 30 s.

    Both go to stderr, so stdout stays parseable. Only the main process shows anything.
    """

    def __init__(self, total: int, initial: int, epochs: int, enabled: bool, stream=None):
        self.total, self.epochs = total, epochs
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.terminal = enabled and self.stream.isatty()
        self.bar = None
        self.last_line = time.monotonic()
        self.started, self.start_step = time.monotonic(), initial
        if self.terminal:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=True, desc="train",
                            file=self.stream)

    def epoch(self, epoch: int) -> None:
        if self.bar is not None:
            self.bar.set_description(f"epoch {epoch + 1}/{self.epochs}", refresh=False)

    def step(self, step: int) -> bool:
        """Advance; True when a line is due without a terminal (the caller then supplies the values)."""
        if self.bar is not None:
            self.bar.update(1)
            return False
        return self.enabled and time.monotonic() - self.last_line >= QUIET_SECONDS

    def show(self, step: int, epoch: int, values: dict[str, float], examples_per_s: float | None) -> None:
        if not self.enabled:
            return
        shown = {k: v for k, v in values.items() if k.endswith("loss") or k == "lr"}
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.3g}" for k, v in {**shown, "ex/s": examples_per_s or 0.0}.items()},
                                 refresh=False)
            return
        now = time.monotonic()
        self.last_line = now
        done = step - self.start_step
        eta = (now - self.started) / done * (self.total - step) if done > 0 else float("nan")
        parts = [f"step {step}/{self.total}", f"epoch {epoch + 1}/{self.epochs}"]
        parts += [f"{k} {v:.4g}" for k, v in shown.items()]
        if examples_per_s is not None:
            parts.append(f"{examples_per_s:.1f} ex/s")
        parts.append(f"eta {format_seconds(eta)}")
        print("train: " + ", ".join(parts), file=self.stream, flush=True)

    def note(self, text: str) -> None:
        """A line that must not break the bar (evaluations)."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Records:
    """``metrics.jsonl`` through the run, and TensorBoard events when ``train.tensorboard`` asks for them."""

    def __init__(self, run: "Run", resumed_at: int | None):
        self.run = run
        run.metrics.start(resumed_at)
        self.tensorboard = None
        if run.config.tensorboard and run.is_main:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                warnings.warn("train.tensorboard needs the tensorboard package: pip install 'nlpzoo[tensorboard]'",
                              stacklevel=2)
            else:
                self.tensorboard = SummaryWriter(str(run.dir / "tensorboard"), purge_step=resumed_at)

    def write(self, record: dict) -> None:
        self.run.metrics.write(record)
        if self.tensorboard is not None:
            for k, v in record.items():
                if k not in ("step", "epoch") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.tensorboard.add_scalar(k, v, record["step"])

    def close(self) -> None:
        self.run.metrics.close()
        if self.tensorboard is not None:
            self.tensorboard.close()


def plot_run_curves(run: "Run") -> None:
    """``plots/loss.png`` (training losses, validation loss) and ``plots/lr.png`` from ``metrics.jsonl``."""
    from .plots import plot_curves

    records = run.metrics.read()
    train = [r for r in records if any(k.startswith("train_") and k.endswith("loss") for k in r)]
    if not train:
        return
    plots = run.dir / "plots"
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
