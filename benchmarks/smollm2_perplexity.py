"""SmolLM2-135M on Hamlet: held-out perplexity before and after a short continued pretraining, all weights
against LoRA.

The ``hamlet`` dataset (20-line chunks split 80/10/10 by seed 0); ``smollm2-135m`` evaluated on the test
split as it comes (blocks of ``--block-size`` of its own tokens), then trained for ``--steps`` steps
(batch ``--batch-size``, one pass at most) either in full (AdamW lr 5e-5) or with LoRA (r 8, alpha 16,
on q_proj and v_proj, lr 1e-3), and evaluated again on the same blocks. Perplexity is per SmolLM2 token;
``word perplexity`` spreads the same total loss over the test text's whitespace-separated words, which
makes it comparable across tokenizers (a word-level model's perplexity is per word and punctuation mark).

    python benchmarks/smollm2_perplexity.py [--steps 20] [--block-size 64] [--batch-size 4]

Writes ``benchmarks/results/smollm2_perplexity.md``.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LORA = {"method": "lora", "r": 8, "alpha": 16, "dropout": 0.05, "target_modules": "auto"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "out" / "smollm2_perplexity"))
    parser.add_argument("--output", default=str(ROOT / "results" / "smollm2_perplexity.md"))
    args = parser.parse_args()

    import torch

    import nlpzoo
    from nlpzoo_training import train_recipe
    from nlpzoo.files import atomic_write

    torch.set_num_threads(args.threads)
    started = time.time()
    data = nlpzoo.build({"name": "hamlet", "seed": 0}, "dataset").load()
    words = sum(len(ex["text"].split()) for ex in data["test"])
    model = {"name": "smollm2-135m", "block_size": args.block_size, "batch_size_eval": 4}
    before = nlpzoo.build(model, "language_model").evaluate(data["test"])
    rows = [("SmolLM2-135M as packaged", before, 0.0, None)]
    print(f"before: {before}", flush=True)
    for name, extra, lr in (("all weights", {}, 5e-5), ("LoRA r 8", {"adapter": LORA}, 1e-3)):
        run_dir = Path(args.out) / name.split()[0].lower()
        shutil.rmtree(run_dir, ignore_errors=True)
        recipe = {"seed": 0, "dataset": {"name": "hamlet", "seed": 0}, "model": {**model, **extra},
                  "optimizer": {"name": "adamw", "lr": lr, "weight_decay": 0.0},
                  "scheduler": {"name": "linear-warmup", "warmup": 0.1},
                  "train": {"epochs": 1, "max_steps": args.steps, "batch_size": args.batch_size, "metric": "perplexity",
                            "clip_grad_norm": 1.0, "keep_best": False, "progress": False, "plots": False,
                            "eval_every": 10**6}}
        t0 = time.time()
        metrics = train_recipe(recipe, run_dir)
        seconds = time.time() - t0
        after = {"loss": metrics["test_loss"], "perplexity": metrics["test_perplexity"], "tokens": metrics["test_tokens"]}
        rows.append((f"after {args.steps} steps, {name} (lr {lr:g}; {int(metrics['trainable_params']):,} trainable)",
                     after, seconds, metrics))
        print(f"{name}: {after} in {seconds:.0f} s", flush=True)
        shutil.rmtree(run_dir, ignore_errors=True)  # a 540 MB model and its checkpoints

    lines = ["| model | test loss per token | perplexity per token | word perplexity | seconds (training and testing) |",
             "|---|---|---|---|---|"]
    for name, m, seconds, _ in rows:
        word_ppl = math.exp(m["loss"] * m["tokens"] / words)
        lines.append(f"| {name} | {m['loss']:.4f} | {m['perplexity']:.2f} | {word_ppl:.1f} | {seconds:.0f} |")
    table = "\n".join(lines)
    print(table)
    atomic_write(Path(args.output), f"""# SmolLM2-135M on Hamlet: perplexity before and after continued pretraining

Command: `python benchmarks/smollm2_perplexity.py --steps {args.steps} --block-size {args.block_size} --batch-size {args.batch_size} --threads {args.threads}`
({time.time() - started:.0f} s in all on {os.cpu_count()} CPU cores shared with other work, torch with {args.threads} thread(s),
Python {platform.python_version()}).

Data: the `hamlet` dataset (Hamlet in 20-line chunks, split 80/10/10 with seed 0); the test split has
{words:,} whitespace-separated words, {int(before['tokens']):,} predicted SmolLM2 tokens in blocks of {args.block_size}.
Training: {args.steps} steps of {args.batch_size} blocks of {args.block_size} tokens ({args.steps * args.batch_size * args.block_size:,} tokens,
a small part of the training split), AdamW with 10% warmup then linear decay, clipping at 1.0, fp32.

{table}

Word perplexity is exp(total test loss / words): the same loss spread over words instead of SmolLM2's
tokens. The LSTM and Transformer language models trained from scratch report perplexity per word-level
token (words and punctuation marks) on their own data (`lm_quality.md`); they were not trained on Hamlet here.
""")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
