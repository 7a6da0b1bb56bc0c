"""LoRA against full fine-tuning of the packaged MiniLM on a Rotten Tomatoes subset: test accuracy over seeds,
trainable parameters, peak memory, training examples per second; and the cost of gradient checkpointing.

Every run trains ``minilm-l6`` on the same ``--train-size`` snippets (``dataset.train_limit``, drawn with
dataset seed 0) for ``--epochs`` epochs, batch 16, ``max_length`` 64, linear warmup 6%, fp32, and is tested on
the dataset's test split (1,275 snippets). Full fine-tuning uses the recipe's AdamW lr 5e-5; LoRA (r 8,
alpha 16, dropout 0.05, peft's default targets for BERT: query and value) uses lr 1e-3, as LoRA
usually needs. Each run is its own process, so that its peak resident memory is its own.

    python benchmarks/lora_vs_full.py [--seeds 0 1 2] [--train-size 1600] [--epochs 1]

Writes ``benchmarks/results/lora_vs_full.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LORA = {"method": "lora", "r": 8, "alpha": 16, "dropout": 0.05, "target_modules": "auto"}
SETTINGS = {  # name: (model parameters, learning rate)
    "full": ({}, 5e-5),
    "lora": ({"adapter": LORA}, 1e-3),
    "full + checkpointing": ({"gradient_checkpointing": True}, 5e-5),
    "lora + checkpointing": ({"adapter": LORA, "gradient_checkpointing": True}, 1e-3),
}


def one_run(setting: str, seed: int, args) -> dict:
    """Train one setting in this process; prints its figures as JSON on the last line."""
    import resource

    import torch
    from nlpzoo_training import train_recipe

    torch.set_num_threads(args.threads)
    params, lr = SETTINGS[setting]
    recipe = {
        "seed": seed,
        "dataset": {"name": "rotten-tomatoes", "seed": 0, "train_limit": args.train_size},
        "model": {"name": "minilm-l6", "max_length": 64, **params},
        "optimizer": {"name": "adamw", "lr": lr},
        "scheduler": {"name": "linear-warmup", "warmup": 0.06},
        "train": {"epochs": args.epochs, "batch_size": 16, "weight_decay": 0.0, "clip_grad_norm": 1.0,
                  "metric": "accuracy", "keep_best": False, "progress": False, "plots": False, "eval_every": 10**6},
    }
    run_dir = Path(args.out) / f"{setting.replace(' + ', '-')}-seed{seed}"
    import shutil

    shutil.rmtree(run_dir, ignore_errors=True)
    t0 = time.perf_counter()
    metrics = train_recipe(recipe, run_dir)
    seconds = time.perf_counter() - t0
    timing = json.loads((run_dir / "run.json").read_text())
    shutil.rmtree(run_dir, ignore_errors=True)  # checkpoints of the full model: hundreds of MB
    return {"accuracy": metrics["test_accuracy"], "trainable": metrics["trainable_params"],
            "total": metrics["total_params"], "seconds": seconds,
            "examples_per_sec": timing["train_examples_per_s"],
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-size", type=int, default=1600)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--out", default=str(ROOT / "out" / "lora_vs_full"))
    parser.add_argument("--output", default=str(ROOT / "results" / "lora_vs_full.md"))
    parser.add_argument("--one", nargs=2, metavar=("SETTING", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one[0], int(args.one[1]), args)))
        return

    started = time.time()
    results: dict[str, list[dict]] = {s: [] for s in args.settings}
    for seed in args.seeds:
        for setting in args.settings:
            if "checkpointing" in setting and seed != args.seeds[0]:
                continue  # its cost is in time and memory: one seed shows it
            argv = [sys.executable, __file__, "--one", setting, str(seed), "--train-size", str(args.train_size),
                    "--epochs", str(args.epochs), "--threads", str(args.threads), "--out", args.out]
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"{setting} seed {seed} failed:\n{done.stderr[-3000:]}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            results[setting].append({**row, "seed": seed})
            print(f"seed {seed} {setting:22s}: accuracy {row['accuracy']:.4f}, {row['examples_per_sec']:.1f} ex/s, "
                  f"peak {row['peak_mb']:.0f} MB, trainable {int(row['trainable']):,}", flush=True)
            write_report(results, args, started)  # after every run: a long benchmark cut short keeps what it measured


def write_report(results: dict[str, list[dict]], args, started: float) -> None:
    from nlpzoo.files import atomic_write

    def mean_sd(xs, fmt="{:.4f}"):
        return (fmt.format(statistics.mean(xs)) + (" ± " + fmt.format(statistics.stdev(xs)) if len(xs) > 1 else ""))

    lines = ["| setting | seeds | test accuracy per seed | test accuracy | trainable / total parameters | examples/s (training) | peak memory (MB) |",
             "|---|---|---|---|---|---|---|"]
    for setting, rows in results.items():
        if not rows:
            continue
        first = rows[0]
        lines.append(f"| {setting} | {' '.join(str(r['seed']) for r in rows)} | "
                     f"{' / '.join(format(r['accuracy'], '.4f') for r in rows)} | {mean_sd([r['accuracy'] for r in rows])} | "
                     f"{int(first['trainable']):,} / {int(first['total']):,} ({first['trainable'] / first['total']:.2%}) | "
                     f"{mean_sd([r['examples_per_sec'] for r in rows], '{:.1f}')} | {mean_sd([r['peak_mb'] for r in rows], '{:.0f}')} |")
    table = "\n".join(lines)
    print(table, flush=True)
    report = f"""# LoRA against full fine-tuning: MiniLM on Rotten Tomatoes

Command: `python benchmarks/lora_vs_full.py --seeds {' '.join(map(str, args.seeds))} --train-size {args.train_size} --epochs {args.epochs} --threads {args.threads}`
({time.time() - started:.0f} s so far on {os.cpu_count()} CPU cores shared with other work, torch with {args.threads} thread(s),
Python {platform.python_version()}).

Setting: `minilm-l6` trained on the same {args.train_size} Rotten Tomatoes snippets (train_limit, dataset seed 0)
for {args.epochs} epoch(s), batch 16, max_length 64, fp32, AdamW with linear warmup 6% and clipping at 1.0;
full fine-tuning at lr 5e-5, LoRA (r 8, alpha 16, dropout 0.05, peft's default targets: query and value,
plus the new head) at lr 1e-3. The seed changes the head's (and the adapter's) initialisation and the
batch order. Test accuracy on the dataset's test split (1,275 snippets), training examples per second
as the run measured them, peak resident memory of the run's own process (model, optimizer state,
activations, data and the Python process). Gradient checkpointing is measured on the first seed only.
The machine was shared with other work (load average about 10 on 2 cores), so examples per second are
noisy; compare rows of the same run only.

{table}
"""
    atomic_write(Path(args.output), report)


if __name__ == "__main__":
    main()
