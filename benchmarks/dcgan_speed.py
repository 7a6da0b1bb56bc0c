"""Images per second of a full DCGAN step (D on real and fake, then G) through nlpzoo's shared loop
against the same networks in a plain PyTorch loop, side by side in one run, in fp32 and bf16.

    python benchmarks/dcgan_speed.py [--steps 40] [--warmup 5] [--repeats 3] [--threads N] [--device cpu|cuda]

Both sides train the ``dcgan`` networks (28x28, widths 64, latent 100) on batches of 64 real
mnist-5k digits with fused Adam (lr 2e-4, betas 0.5/0.999) and no gradient clipping; the plain loop
reuses one fake batch for the D and G steps exactly like ``GANTask``. nlpzoo is timed between its
loop's step callbacks, so set-up, the final evaluation and checkpoint writing are not counted;
within the timed steps the loop does all its usual per-step work (batch bookkeeping, metric sums,
logging every 10 steps, autocast). Runs alternate plain / nlpzoo so drifting machine load hits both;
the table gives the best run of each (the least disturbed by other processes on a shared machine)
and the median. ``--device`` picks where both sides run (default: cuda when there is one; nlpzoo's loop
is told through ``train.device``). Writes benchmarks/results/dcgan_speed.md (``dcgan_speed-<device>.md``
for a device other than the CPU).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

import nlpzoo
from nlpzoo import Callback
from nlpzoo_training import Run
from nlpzoo_dcgan.nets import build_nets

MODEL = {"name": "dcgan", "latent": 100, "g_width": 64, "d_width": 64, "quality": False}
BATCH = 64


class StepClock(Callback):
    """perf_counter at every optimizer step of the shared loop."""

    def __init__(self):
        self.times: list[float] = []

    def on_step(self, run, step, logs):  # the loop has read the loss: the step is done on any device
        self.times.append(time.perf_counter())


def nlpzoo_rate(data, precision: str, steps: int, warmup: int, device: torch.device) -> float:
    gan = nlpzoo.build(MODEL, "gan")
    clock = StepClock()
    with tempfile.TemporaryDirectory() as tmp:
        run = Run.standalone(tmp, seed=0, train={"epochs": 1, "max_steps": warmup + steps, "batch_size": BATCH,
                                                 "clip_grad_norm": None, "precision": precision, "progress": False,
                                                 "keep_best": False, "plots": False, "device": str(device)})
        run.callbacks.append(clock)
        gan.fit(data, run)
    t = clock.times
    return steps * BATCH / (t[warmup + steps - 1] - t[warmup - 1])


def plain_rate(images, precision: str, steps: int, warmup: int, device: torch.device) -> float:
    """The reference DCGAN loop, written directly against torch; each batch moved to ``device`` as it is used."""
    torch.manual_seed(0)
    g, d = build_nets(100, 1, 28, 64, 64, 0, "dcgan", seed=0)
    g.to(device).train(), d.to(device).train()
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    x_all = torch.from_numpy(images).float().div_(127.5).sub_(1.0)
    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(len(x_all), generator=gen)
    z_all = torch.randn(len(x_all), 100, generator=gen)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if precision == "bf16" else torch.enable_grad
    stamps = []
    for i in range(warmup + steps):
        idx = order[i * BATCH:(i + 1) * BATCH]
        x, z = x_all[idx].to(device, non_blocking=True), z_all[i * BATCH:(i + 1) * BATCH].to(device, non_blocking=True)
        opt_d.zero_grad(set_to_none=True)
        with autocast():
            fake = g(z)
            real_logits, fake_logits = d(x), d(fake.detach())
            loss_d = bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        with autocast():
            out = d(fake)
            loss_g = bce(out, torch.ones_like(out))
        loss_g.backward()
        opt_g.step()
        if i in (warmup - 1, warmup + steps - 1) and device.type == "cuda":
            torch.cuda.synchronize(device)
        stamps.append(time.perf_counter())
    return steps * BATCH / (stamps[-1] - stamps[warmup - 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per measurement (one epoch has 62)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: this torch sees no CUDA device")
    device = torch.device(args.device)
    if args.warmup + args.steps > 62:
        parser.error("warmup + steps must fit in one epoch of 4,000 digits (62 batches)")
    if args.threads:
        torch.set_num_threads(args.threads)
    data = nlpzoo.build({"name": "mnist-5k", "seed": 0}, "dataset").load()
    load_before = os.getloadavg()[0]
    rates: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeats):
        for precision in ("fp32", "bf16"):
            rates.setdefault(("plain", precision), []).append(
                plain_rate(data["train"].images, precision, args.steps, args.warmup, device))
            rates.setdefault(("nlpzoo", precision), []).append(nlpzoo_rate(data, precision, args.steps, args.warmup, device))
    best = {k: max(v) for k, v in rates.items()}
    med = {k: statistics.median(v) for k, v in rates.items()}
    lines = ["| precision | statistic | plain PyTorch (images/s) | nlpzoo (images/s) | nlpzoo / plain |",
             "| --- | --- | ---: | ---: | ---: |"]
    for precision in ("fp32", "bf16"):
        for name, stat in (("best", best), ("median", med)):
            p, n = stat[("plain", precision)], stat[("nlpzoo", precision)]
            lines.append(f"| {precision} | {name} of {args.repeats} | {p:.1f} | {n:.1f} | {n / p:.3f} |")
    bf = best[("nlpzoo", "bf16")] / best[("nlpzoo", "fp32")]
    bf_plain = best[("plain", "bf16")] / best[("plain", "fp32")]
    table = "\n".join(lines)
    runs = "\n".join(f"- {side} {precision}: " + ", ".join(f"{r:.1f}" for r in v) for (side, precision), v in rates.items())
    summary = f"bf16 / fp32 (best runs): {bf:.2f}x through nlpzoo, {bf_plain:.2f}x in the plain loop"
    print(table)
    print(summary)
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    cmd = "python benchmarks/dcgan_speed.py " + " ".join(
        f"--{k} {v}" for k, v in vars(args).items() if v is not None)
    out = Path(__file__).parent / "results" / ("dcgan_speed.md" if args.device == "cpu" else f"dcgan_speed-{args.device}.md")
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        "# DCGAN step speed: nlpzoo against a plain PyTorch loop\n\n"
        f"`{cmd}` on {cpu if args.device == 'cpu' else torch.cuda.get_device_name(device)} ({os.cpu_count()} cores, "
        f"{torch.get_num_threads()} torch threads), torch {torch.__version__}, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}; load average {load_before:.1f} at the start.\n\n"
        f"One step = discriminator on 64 real and 64 generated 28x28 digits, then generator; widths 64, latent 100, "
        f"fused Adam. {args.steps} timed steps after {args.warmup} warm-up steps; {args.repeats} alternating runs "
        "of each, best and median.\n\n" + table + f"\n\n{summary}.\n\nEvery measurement (images/s):\n\n{runs}\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
