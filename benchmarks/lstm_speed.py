"""LSTM training speed: nlpzoo's shared loop against a plain torch loop, side by side in one run.

The same network, the same batches (made once by the nlpzoo task), fused AdamW, gradient clipping
and bf16 autocast on both sides; the plain loop carries the language model's state the same way.
Throughput is tokens per second over the timed steps, after warm-up steps. Also: the achieved
GFLOP/s of each step against this machine's measured matrix-multiply peak.

    python benchmarks/lstm_speed.py [--steps 30] [--repeats 3] [--device cuda]

On a GPU both sides put the network and every batch on the device (the plain loop copies each batch
with ``non_blocking=True``, as nlpzoo's loop does) and time with the device synchronised.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matmul_peak(dtype, n: int = 1024, seconds: float = 1.5, device: str = "cpu") -> float:
    import torch

    n = 8192 if device.startswith("cuda") else n
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    for _ in range(3):
        a @ b
    sync(device)
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        count += 1
    sync(device)
    return 2 * n**3 * count / (time.perf_counter() - t0) / 1e9


def lstm_flops_per_token(inp: int, hidden: int, layers: int, directions: int = 1) -> float:
    """Forward multiply-adds (x2) of the LSTM gates per token; the input of layer > 0 is the previous output."""
    total = 0.0
    for layer in range(layers):
        width = inp if layer == 0 else hidden * directions
        total += directions * 2 * 4 * hidden * (width + hidden)
    return total


def setups(precision: str):
    """(name, model spec, dataset, train settings)."""
    import nlpzoo

    wiki = nlpzoo.build({"name": "wiki-extract", "seed": 0}).load()
    wiki = {"train": wiki["train"], "validation": wiki["validation"][:1], "test": wiki["test"][:1]}
    rt = nlpzoo.build({"name": "rotten-tomatoes", "seed": 0}).load()
    rt = {"train": rt["train"], "validation": rt["validation"][:64], "test": rt["test"][:64]}
    # the models of recipes/lstm-lm-wiki.yaml (without the Word2Vec initialisation) and lstm-classifier-rt.yaml
    lm = {"name": "lstm-lm", "vocab_size": 6000, "min_frequency": 2, "embedding_dim": 128, "hidden_size": 256,
          "num_layers": 2, "dropout": 0.15, "embedding_dropout": 0.05, "bptt": 35}
    cls = {"name": "lstm-classifier", "vocab_size": 20000, "min_frequency": 2, "embedding_dim": 128,
           "hidden_size": 128, "bidirectional": True, "dropout": 0.4, "embedding_dropout": 0.2}
    return [("LSTM LM step (2x256, vocab 6k, 64x35 tokens)", lm, wiki, {"batch_size": 64, "metric": "perplexity"}),
            ("biLSTM classifier step (128, batch 64)", cls, rt, {"batch_size": 64, "metric": "accuracy"})]


def run_nlpzoo(spec, data, train, steps: int, warmup: int, precision: str, tmp: Path, device: str = "cpu"):
    """The model's own fit through Run.fit; throughput from the loop's own log (after warm-up)."""
    import nlpzoo
    from nlpzoo_training import Run

    run_dir = Path(tempfile.mkdtemp(dir=tmp))
    run = Run.standalone(run_dir, seed=0, train={**train, "epochs": 1, "max_steps": warmup + steps, "log_every": warmup,
                                                  "precision": precision, "progress": False, "plots": False,
                                                  "device": device},
                         optimizer={"name": "adamw", "lr": 1e-3})
    model = nlpzoo.build(spec)
    t0 = time.perf_counter()
    model.fit(data, run)
    wall = time.perf_counter() - t0
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    timed = [r["examples_per_s"] for r in records if "examples_per_s" in r][1:]  # the first window is the warm-up
    return model, statistics.harmonic_mean(timed), wall  # equal windows: total examples over total time


def run_direct(model, train, steps: int, warmup: int, precision: str, device: str = "cpu"):
    """A plain torch loop over the same network and the same batches."""
    import contextlib

    import torch
    import torch.nn.functional as F

    from nlpzoo_lstm import nets

    net = model.net.to(device)
    net.train()
    is_lm = isinstance(net, nets.LSTMLanguageModelNet)
    batches = model._bench_batches
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01, fused=True)
    kind = torch.device(device).type
    autocast = (lambda: torch.autocast(kind, dtype=torch.bfloat16)) if precision == "bf16" else contextlib.nullcontext
    state = None
    examples = 0
    for i, batch in enumerate(batches[: warmup + steps]):
        if i == warmup:
            sync(device)
            t0, examples = time.perf_counter(), 0
        batch = tuple(t.to(device, non_blocking=True) if isinstance(t, torch.Tensor) else t for t in batch)
        opt.zero_grad(set_to_none=True)
        with autocast():
            if is_lm:
                x, y, _ = batch
                logits, state = net(x, state)
                state = tuple(s.detach().float() for s in state)
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))
            else:
                x, n, y = batch
                loss = F.cross_entropy(net(x, n).float(), y)
            loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        examples += x.shape[0]
    loss.item()  # waits for the device
    return examples / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="timed optimizer steps per measurement")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--only", choices=["lm", "classifier"], help="one of the two steps")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--output", default=str(HERE / "results" / "lstm_speed.md"))
    args = parser.parse_args()

    import torch

    from nlpzoo_lstm import nets

    tmp = Path(tempfile.mkdtemp(prefix="lstm-speed-"))
    peaks = {"fp32": matmul_peak(torch.float32, device=args.device), "bf16": matmul_peak(torch.bfloat16, device=args.device)}
    rows = []
    for name, spec, data, train in setups(args.precision):
        if args.only and not name.startswith({"lm": "LSTM LM", "classifier": "biLSTM"}[args.only]):
            continue
        ours, direct, walls = [], [], []
        for _ in range(args.repeats):  # interleaved, so drifting machine load hits both sides alike
            model, eps, wall = run_nlpzoo(spec, data, train, args.steps, args.warmup, args.precision, tmp, args.device)
            ours.append(eps)
            walls.append(wall)
            task_batches = _batches(model, data, train, tmp)
            model._bench_batches = task_batches
            direct.append(run_direct(model, train, args.steps, args.warmup, args.precision, args.device))
        first = model._bench_batches[0]
        if isinstance(model.net, nets.LSTMLanguageModelNet):
            tokens_per_example = first[0].shape[1]
            e = model.arch["embedding_dim"]
            fwd = lstm_flops_per_token(e, model.hidden_size, model.num_layers) + 2 * e * model.tokenizer.vocab_size
            fwd += 2 * model.hidden_size * e if model.net.proj is not None else 0
        else:
            tokens_per_example = statistics.mean(int(b[1].float().mean()) for b in model._bench_batches[:50])
            d = 2 if model.bidirectional else 1
            fwd = lstm_flops_per_token(model.arch["embedding_dim"], model.hidden_size, model.num_layers, d)
        ours_tps = statistics.median(ours) * tokens_per_example
        direct_tps = statistics.median(direct) * tokens_per_example
        gflops = 3 * fwd * ours_tps / 1e9  # forward + backward (about twice the forward)
        rows.append((name, ours_tps, direct_tps, ours_tps / direct_tps, gflops, statistics.median(walls)))
        print(f"{name}: nlpzoo {ours_tps:,.0f} tok/s, direct {direct_tps:,.0f} tok/s, ratio {ours_tps / direct_tps:.3f}, "
              f"{gflops:.1f} GFLOP/s; per repeat (examples/s) nlpzoo {[round(x, 1) for x in ours]}, "
              f"direct {[round(x, 1) for x in direct]}", flush=True)

    threads = f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} " if "OMP_NUM_THREADS" in os.environ else ""
    lines = [
        "# LSTM training speed: nlpzoo vs a plain torch loop",
        "",
        f"Command: `{threads}python benchmarks/lstm_speed.py --steps {args.steps} --warmup {args.warmup} --repeats {args.repeats} "
        f"--precision {args.precision}{'' if args.device == 'cpu' else ' --device ' + args.device}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads, "
        f"{torch.cuda.get_device_name() if args.device.startswith('cuda') else 'no GPU used'}, "
        f"torch {torch.__version__}; measured matmul peak {peaks['fp32']:.1f} GFLOP/s fp32, "
        f"{peaks['bf16']:.1f} GFLOP/s bf16.",
        "",
        f"Both sides: the same network and batches, fused AdamW (lr 1e-3), clipping at 1.0, {args.precision} autocast; "
        f"{args.warmup} warm-up then {args.steps} timed steps, median of {args.repeats} interleaved repeats. "
        "nlpzoo's number comes from its own training log (`examples_per_s` in metrics.jsonl); its wall time "
        "also includes tokenizer training, evaluation and checkpoints. The repeats alternate between the two sides, "
        f"so both see the same load from other jobs (load average {os.getloadavg()[0]:.1f} at the end).",
        "",
        f"| step | nlpzoo tokens/s | plain torch tokens/s | ratio | achieved GFLOP/s | % of {args.precision} peak | nlpzoo wall s |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *[f"| {n} | {a:,.0f} | {b:,.0f} | {r:.3f} | {g:.1f} | {100 * g / peaks[args.precision]:.0f}% | {w:.1f} |"
          for n, a, b, r, g, w in rows],
        "",
        "Classifier tokens are real (unpadded) tokens; GFLOP/s counts the LSTM gates (and the LM's decoder) only.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text, encoding="utf-8")


def _batches(model, data, train, tmp: Path):
    """The batches nlpzoo's task made for epoch 0 (same tokenizer, same order)."""
    from nlpzoo_training import Run
    from nlpzoo_lstm import nets

    run = Run.standalone(Path(tempfile.mkdtemp(dir=tmp)), seed=0, train={**train, "epochs": 1})
    if isinstance(model.net, nets.LSTMLanguageModelNet):
        import torch

        streams = {"train": torch.as_tensor(model.tokenizer.stream([ex["text"] for ex in data["train"]]))}
        task = nets.LanguageModelTask(model.net, streams, run=run, bptt=model.bptt)
    else:
        labels = {l: i for i, l in enumerate(model.labels)}
        train_split = ([ex["text"] for ex in data["train"]], [labels[ex["label"]] for ex in data["train"]])
        task = nets.ClassifierTask(model.net, model.tokenizer, train_split, {}, run=run,
                                   max_length=model.max_length, labels=model.labels)
    return list(task.train_batches(0))


if __name__ == "__main__":
    main()
