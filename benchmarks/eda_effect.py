"""Does EDA help a small-data classifier? The EDA paper's small-data setting on Rotten Tomatoes.

The LSTM classifier (``lstm-classifier``) is trained on 500 Rotten Tomatoes snippets, once as they are
and once with EDA (Wei and Zou, 2019) expanding the training split offline as the paper does for 500
examples (``alpha: 0.05``, 16 augmented sentences per original), for 3 seeds each. Each seed draws its
own 500 training snippets (``dataset.seed``) and both conditions use that same draw, validation and
test split, and the same budget: at most ``--max-steps`` optimizer steps, validation accuracy every 16
steps, the best checkpoint kept, early stopping after ``--patience`` evaluations without improvement.
Reported: test accuracy (1,275 snippets) of the best checkpoint.

    flock /tmp/nlpzoo-heavy.lock python benchmarks/eda_effect.py [--seeds 0 1 2] [--max-steps 960] [--patience 16]

Writes ``benchmarks/results/eda_effect.md``; run directories go to ``benchmarks/out/eda_effect/``.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import time
from pathlib import Path

from nlpzoo.files import atomic_write

ROOT = Path(__file__).resolve().parent


def recipe(seed: int, augment: bool, args) -> dict:
    train = {"epochs": 1000, "max_steps": args.max_steps, "batch_size": 32, "metric": "accuracy",
             "eval_every": 16, "early_stopping": args.patience, "progress": False, "plots": False}
    out = {
        "seed": seed,
        "dataset": {"name": "rotten-tomatoes", "seed": seed, "train_limit": args.train_size},
        "model": {"name": "lstm-classifier", "embedding_dim": 128, "hidden_size": 128},
        "optimizer": {"name": "adamw", "lr": 2.0e-3, "weight_decay": 0.01},
        "train": train,
    }
    if augment:
        out["augment"] = {"name": "eda", "alpha": args.alpha, "num_aug": args.num_aug}
        train.update(augment_mode="offline", augment_copies=args.num_aug)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-size", type=int, default=500)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--num-aug", type=int, default=16)
    parser.add_argument("--max-steps", type=int, default=960)
    parser.add_argument("--patience", type=int, default=16, help="evaluations without improvement before stopping")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--out", default=str(ROOT / "out" / "eda_effect"))
    parser.add_argument("--output", default=str(ROOT / "results" / "eda_effect.md"))
    args = parser.parse_args()

    import torch
    from nlpzoo_training import train_recipe

    # One intra-op thread: on this shared 2-core machine two threads spin against each other and
    # against other work (a 32 x 30 biLSTM step measured 31 ms with one thread, 1.3 s with two).
    torch.set_num_threads(args.threads)

    results: dict[str, list[float]] = {"none": [], "eda": []}
    rows = []
    started = time.time()
    for seed in args.seeds:
        row = [seed]
        for name in ("none", "eda"):
            run_dir = Path(args.out) / f"{name}-seed{seed}"
            shutil.rmtree(run_dir, ignore_errors=True)
            t0 = time.time()
            metrics = train_recipe(recipe(seed, name == "eda", args), run_dir)
            acc = metrics["test_accuracy"]
            results[name].append(acc)
            row += [acc, time.time() - t0]
            print(f"seed {seed} {name:4s}: test accuracy {acc:.4f}  ({time.time() - t0:.0f} s)", flush=True)
        rows.append(row)

    def mean_sd(xs):
        return f"{statistics.mean(xs):.4f} ± {statistics.stdev(xs):.4f}" if len(xs) > 1 else f"{xs[0]:.4f}"

    lines = ["| seed | no augmentation | EDA | EDA − none |", "|---|---|---|---|"]
    for seed, a, ta, b, tb in rows:
        lines.append(f"| {seed} | {a:.4f} | {b:.4f} | {b - a:+.4f} |")
    diffs = [b - a for a, b in zip(results["none"], results["eda"])]
    lines.append(f"| mean ± sd | {mean_sd(results['none'])} | {mean_sd(results['eda'])} | {statistics.mean(diffs):+.4f} |")
    table = "\n".join(lines)
    wins = sum(d > 0 for d in diffs)
    verdict = (f"EDA raised test accuracy in {wins} of {len(diffs)} seeds, by {statistics.mean(diffs):+.4f} on average"
               + (f" (paired differences: sd {statistics.stdev(diffs):.4f})." if len(diffs) > 1 else "."))
    if wins == len(diffs):
        verdict += " Here augmentation helped in every seed."
    elif wins == 0:
        verdict += " Here augmentation hurt in every seed."
    else:
        verdict += " The signs are mixed, so this run shows no clear effect of augmentation either way."
    print()
    print(table)
    print(verdict)

    report = f"""# EDA on a small training set: LSTM classifier, Rotten Tomatoes

Command: `flock /tmp/nlpzoo-heavy.lock python benchmarks/eda_effect.py --seeds {' '.join(map(str, args.seeds))} --train-size {args.train_size} --alpha {args.alpha} --num-aug {args.num_aug} --max-steps {args.max_steps} --patience {args.patience} --threads {args.threads}`
({time.time() - started:.0f} s in all on {os.cpu_count()} CPU cores shared with other work, torch with {args.threads} thread(s),
Python {platform.python_version()}).

Setting: `lstm-classifier` (word tokenizer, embedding 128, biLSTM 128, max pooling), AdamW lr 2e-3, batch 32,
trained on {args.train_size} Rotten Tomatoes snippets drawn with the seed; validation and test are the dataset's
10% splits (1,275 snippets each). With EDA the training split is expanded offline as in the paper for
500 examples: {args.num_aug} augmented copies of each snippet, `alpha: {args.alpha}` (one EDA operation per copy).
Both conditions: at most {args.max_steps} optimizer steps, validation accuracy every 16 steps, best checkpoint
kept, early stopping after {args.patience} evaluations without improvement. Test accuracy of the best checkpoint:

{table}

{verdict}
"""
    out = Path(args.output)
    atomic_write(out, report)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
