"""Transformer LM training speed: nlpzoo's shared loop against a plain torch loop, side by side in one run.

The network of ``recipes/transformer-lm-wiki.yaml`` (without the Word2Vec initialisation, which does
not change a step), the same batches (made once by the nlpzoo task), fused AdamW with the same
parameter groups, gradient clipping and bf16 autocast on both sides. Throughput is tokens per second
over the timed steps, after warm-up steps, median of interleaved repeats. Also: the achieved GFLOP/s
of a step against this machine's measured matrix-multiply peak. Both sides run on the CPU (the loop
is told so through ``train.device``, even on a machine with a GPU).

    OMP_NUM_THREADS=1 python benchmarks/transformer_speed.py [--steps 20] [--repeats 5]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RECIPE = HERE.parent / "recipes" / "transformer-lm-wiki.yaml"


def matmul_peak(dtype, n: int = 1024, seconds: float = 1.5) -> float:
    """GFLOP/s of a square matrix product, the best this machine does."""
    import torch

    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        count += 1
    return 2 * n**3 * count / (time.perf_counter() - t0) / 1e9


def flops_per_token(net) -> float:
    """Training FLOPs per token: 3x the forward's multiply-adds x 2 (the backward is about twice the forward).

    Forward multiply-adds per token: the block matrices (12 d^2 a layer), the maps into and out of the
    model width when the embedding is narrower, the decoder (embedding width x vocabulary), and
    attention: each query meets (T + 1) / 2 keys on average under the causal mask, twice (scores,
    then the weighted sum of values), d wide.
    """
    d, layers, block = net.final_norm.normalized_shape[0], len(net.blocks), net.max_positions
    macs = layers * 12 * d * d + layers * d * (block + 1)
    for proj in (net.embedding_in, net.embedding_out):
        if proj is not None:
            macs += proj.weight.numel()
    macs += net.decoder.weight.numel()
    return 3 * 2 * macs


def model_spec() -> dict:
    spec = yaml.safe_load(RECIPE.read_text(encoding="utf-8"))["model"]
    spec.pop("embedder", None)
    spec.pop("freeze_embeddings", None)
    return spec


def run_nlpzoo(spec, data, batch_size: int, steps: int, warmup: int, precision: str, tmp: Path):
    """The model's own fit through Run.fit; throughput from the loop's own log (after the warm-up window)."""
    import nlpzoo
    from nlpzoo_training import Run

    run_dir = Path(tempfile.mkdtemp(dir=tmp))
    run = Run.standalone(run_dir, seed=0, train={"epochs": 1, "max_steps": warmup + steps, "log_every": warmup,
                                                  "batch_size": batch_size, "precision": precision, "progress": False,
                                                  "plots": False, "metric": "perplexity", "device": "cpu"},
                         optimizer={"name": "adamw", "lr": 1e-3})
    model = nlpzoo.build(spec)
    t0 = time.perf_counter()
    model.fit(data, run)
    wall = time.perf_counter() - t0
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rates = [r["examples_per_s"] for r in records if "examples_per_s" in r]
    timed = rates[1:]  # the first window is the warm-up; the others are equal windows
    return model, statistics.harmonic_mean(timed), wall


def plain_batches(model, data, batch_size: int, tmp: Path) -> list:
    """The batches nlpzoo's task makes for epoch 0 (same tokenizer, same order)."""
    import torch

    from nlpzoo_training import Run
    from nlpzoo_transformer.nets import LanguageModelTask

    run = Run.standalone(Path(tempfile.mkdtemp(dir=tmp)), seed=0, train={"epochs": 1, "batch_size": batch_size})
    streams = {"train": torch.as_tensor(model.tokenizer.stream([ex["text"] for ex in data["train"]]))}
    task = LanguageModelTask(model.net, streams, run=run, block_size=model.block_size, eval_stride=model.eval_stride)
    return list(task.train_batches(0))


def run_plain(net, batches: list, steps: int, warmup: int, precision: str) -> float:
    """A plain torch loop over the same network and batches: windows per second."""
    import torch
    import torch.nn.functional as F

    net.train()
    decay = [p for n, p in net.named_parameters() if p.requires_grad and p.ndim >= 2 and "norm" not in n]
    plain = [p for n, p in net.named_parameters() if p.requires_grad and not (p.ndim >= 2 and "norm" not in n)]
    params = decay + plain
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": plain, "weight_decay": 0.0}],
                            lr=1e-3, fused=True)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" else contextlib.nullcontext
    examples = 0
    for i, (x, y) in enumerate(batches[: warmup + steps]):
        if i == warmup:
            t0, examples = time.perf_counter(), 0
        opt.zero_grad(set_to_none=True)
        with autocast():
            logits, _ = net(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        examples += x.shape[0]
    loss.item()
    return examples / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps per measurement")
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--output", default=str(HERE / "results" / "transformer_speed.md"))
    args = parser.parse_args()

    import torch

    import nlpzoo
    from nlpzoo.files import atomic_write

    recipe = yaml.safe_load(RECIPE.read_text(encoding="utf-8"))
    batch_size = recipe["train"]["batch_size"]
    wiki = nlpzoo.build({"name": "wiki-extract", "seed": 0}).load()
    data = {"train": wiki["train"], "validation": wiki["validation"][:1], "test": wiki["test"][:1]}
    spec = model_spec()
    tmp = Path(tempfile.mkdtemp(prefix="transformer-speed-"))
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    ours, plain, walls, ratios = [], [], [], []
    batches = None
    for _ in range(args.repeats):  # interleaved, so drifting machine load hits both sides alike
        model, eps, wall = run_nlpzoo(spec, data, batch_size, args.steps, args.warmup, args.precision, tmp)
        batches = batches or plain_batches(model, data, batch_size, tmp)
        direct = run_plain(model.net, batches, args.steps, args.warmup, args.precision)
        ours.append(eps)
        plain.append(direct)
        walls.append(wall)
        ratios.append(eps / direct)
        print(f"nlpzoo {eps:.2f} windows/s, plain {direct:.2f} windows/s, ratio {eps / direct:.3f}", flush=True)
    tokens = model.block_size
    ours_tps, plain_tps = statistics.median(ours) * tokens, statistics.median(plain) * tokens
    per_token = flops_per_token(model.net)
    gflops = per_token * ours_tps / 1e9
    threads = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " if "OMP_NUM_THREADS" in os.environ else ""
    params = sum(p.numel() for p in model.net.parameters())
    lines = [
        "# Transformer LM training speed: nlpzoo vs a plain torch loop",
        "",
        f"Command: `{threads}python benchmarks/transformer_speed.py --steps {args.steps} --warmup {args.warmup} "
        f"--repeats {args.repeats} --precision {args.precision}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores shared with other work, {torch.get_num_threads()} torch "
        f"thread(s), torch {torch.__version__}; measured matmul peak (1024x1024) {peaks['fp32']:.1f} GFLOP/s fp32, "
        f"{peaks['bf16']:.1f} GFLOP/s bf16; load average {os.getloadavg()[0]:.1f} at the end.",
        "",
        f"Network: the model of `recipes/transformer-lm-wiki.yaml` ({model.num_layers} layers, d_model {model.d_model}, "
        f"{model.num_heads} heads, context {model.block_size}, {model.positions} positions, vocabulary "
        f"{model.tokenizer.vocab_size:,}, {params / 1e6:.2f}M parameters), batches of {batch_size} windows of "
        f"{tokens} tokens from the Wikipedia extract. Both sides: the same network and batches, fused AdamW (lr 1e-3, "
        f"decay 0.01 on weights only), clipping at 1.0, {args.precision} autocast; {args.warmup} warm-up then "
        f"{args.steps} timed steps, {args.repeats} repeats alternating between the two sides. nlpzoo's number comes "
        "from its own training log (`examples_per_s` in metrics.jsonl); its wall time also includes tokenizer "
        "training, evaluation and checkpoints.",
        "",
        f"| step | nlpzoo tokens/s | plain torch tokens/s | ratio (median of repeats) | achieved GFLOP/s | % of {args.precision} peak | nlpzoo wall s |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| Transformer LM step | {ours_tps:,.0f} | {plain_tps:,.0f} | {statistics.median(ratios):.3f} | {gflops:.1f} | "
        f"{100 * gflops / peaks[args.precision]:.0f}% | {statistics.median(walls):.1f} |",
        "",
        f"Ratios by repeat: {', '.join(f'{r:.3f}' for r in ratios)}. FLOPs per token: {per_token / 1e6:.1f} M "
        "(3 x 2 x the forward's multiply-adds: block matrices, decoder, causal attention; layer norms, GELU and "
        "softmax not counted).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    atomic_write(args.output, text)


if __name__ == "__main__":
    main()
