"""GloVe against Word2Vec trained on the corpus against random embeddings: the LSTM classifier on Rotten Tomatoes,
and the WordSim-353 / analogy scores of GloVe next to the Word2Vec recipe's.

Three initialisations of the same ``lstm-classifier`` (word tokenizer, 50-d embeddings so that all three
have GloVe's width, biLSTM 128, max pooling, embeddings trainable): ``random``; ``word2vec``, 50-d
skip-gram trained first on the training split's own tokens (as in ``recipes/lstm-classifier-rt.yaml``);
``glove``, the ``glove-6b-50d`` preset. Each seed draws its own ``--train-size`` training snippets
(``dataset.train_limit``); validation and test are the dataset's 10% splits (1,275 snippets each),
the same for all three. Same budget for all: ``--epochs`` epochs, batch 64, AdamW lr 2e-3, best
validation checkpoint kept. Reported: test accuracy of the best checkpoint.

    python benchmarks/glove_lstm.py [--seeds 0 1 2] [--train-size 2000] [--epochs 4]

Writes ``benchmarks/results/glove_lstm.md``; run directories go to ``benchmarks/out/glove_lstm/``.
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
EMBEDDERS = {
    "random": None,
    "word2vec": {"name": "word2vec", "vector_size": 50, "min_count": 2, "epochs": 10, "workers": 1},
    "glove": "glove-6b-50d",
}


def recipe(seed: int, init: str, args) -> dict:
    model = {"name": "lstm-classifier", "tokenizer": "word", "vocab_size": 20000, "min_frequency": 1,
             "embedding_dim": 50, "hidden_size": 128, "bidirectional": True, "pooling": "max",
             "dropout": 0.4, "embedding_dropout": 0.2}
    if EMBEDDERS[init] is not None:
        model["embedder"] = EMBEDDERS[init]
    return {
        "seed": seed,
        "dataset": {"name": "rotten-tomatoes", "seed": seed, "train_limit": args.train_size},
        "model": model,
        "optimizer": {"name": "adamw", "lr": 2.0e-3, "weight_decay": 0.01},
        "train": {"epochs": args.epochs, "batch_size": 64, "metric": "accuracy", "progress": False, "plots": False},
    }


def intrinsic_scores(args) -> list[str]:
    """WordSim-353 Spearman and analogy accuracy: GloVe, and the word2vec-wiki recipe trained here."""
    import nlpzoo
    from nlpzoo import load_recipe
    from nlpzoo_training import train_recipe

    rows = []
    glove = nlpzoo.build("glove-6b-50d").intrinsic()
    rows.append(("GloVe 6B 50d (preset glove-6b-50d)", glove))
    run_dir = Path(args.out) / "word2vec-wiki"
    shutil.rmtree(run_dir, ignore_errors=True)
    w2v = train_recipe(load_recipe(str(ROOT.parent / "recipes" / "word2vec-wiki.yaml")), run_dir)
    rows.append(("Word2Vec, recipe word2vec-wiki (100d, 84 Wikipedia articles)", w2v))
    lines = ["| vectors | vocabulary | WordSim-353 Spearman | pairs out of vocabulary | analogy accuracy | analogies answered |",
             "|---|---|---|---|---|---|"]
    for name, m in rows:
        lines.append(f"| {name} | {int(m['vocab_size']):,} | {m['wordsim353_spearman']:.4f} | "
                     f"{m['wordsim353_oov_ratio']:.1%} | {m['analogy_accuracy']:.4f} | {int(m['analogy_questions']):,} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--out", default=str(ROOT / "out" / "glove_lstm"))
    parser.add_argument("--output", default=str(ROOT / "results" / "glove_lstm.md"))
    args = parser.parse_args()

    import torch
    from nlpzoo_training import train_recipe

    torch.set_num_threads(args.threads)  # one thread: two spin against each other on a busy 2-core machine
    started = time.time()
    results: dict[str, list[float]] = {name: [] for name in EMBEDDERS}
    seconds: dict[str, list[float]] = {name: [] for name in EMBEDDERS}
    for seed in args.seeds:
        for init in EMBEDDERS:
            run_dir = Path(args.out) / f"{init}-seed{seed}"
            shutil.rmtree(run_dir, ignore_errors=True)
            t0 = time.time()
            metrics = train_recipe(recipe(seed, init, args), run_dir)
            results[init].append(metrics["test_accuracy"])
            seconds[init].append(time.time() - t0)
            print(f"seed {seed} {init:8s}: test accuracy {metrics['test_accuracy']:.4f} ({seconds[init][-1]:.0f} s)", flush=True)

    def mean_sd(xs):
        return f"{statistics.mean(xs):.4f} ± {statistics.stdev(xs):.4f}" if len(xs) > 1 else f"{xs[0]:.4f}"

    lines = ["| seed | random | Word2Vec on the training split | GloVe 6B 50d |", "|---|---|---|---|"]
    for i, seed in enumerate(args.seeds):
        lines.append(f"| {seed} | " + " | ".join(f"{results[k][i]:.4f}" for k in EMBEDDERS) + " |")
    lines.append("| mean ± sd | " + " | ".join(mean_sd(results[k]) for k in EMBEDDERS) + " |")
    lines.append("| seconds per run (mean) | " + " | ".join(f"{statistics.mean(seconds[k]):.0f}" for k in EMBEDDERS) + " |")
    table = "\n".join(lines)
    print(table, flush=True)
    intrinsic = "\n".join(intrinsic_scores(args))
    print(intrinsic)

    report = f"""# GloVe, Word2Vec on the corpus, or random: the LSTM classifier on Rotten Tomatoes

Command: `python benchmarks/glove_lstm.py --seeds {' '.join(map(str, args.seeds))} --train-size {args.train_size} --epochs {args.epochs} --threads {args.threads}`
({time.time() - started:.0f} s in all on {os.cpu_count()} CPU cores shared with other work, torch with {args.threads} thread(s),
Python {platform.python_version()}).

Setting: `lstm-classifier` (word tokenizer, 50-d embeddings, biLSTM 128, max pooling, dropout 0.4,
embedding dropout 0.2, embeddings trainable), AdamW lr 2e-3, batch 64, {args.epochs} epochs, best validation
checkpoint kept. Each seed trains on its own draw of {args.train_size} Rotten Tomatoes snippets; validation and
test are the dataset's 10% splits (1,275 snippets each), the same for the three initialisations.
Word2Vec: 50-d skip-gram, 10 epochs, min_count 2, trained first on the same training tokens.
GloVe: the `glove-6b-50d` preset (400,000 words, Wikipedia 2014 + Gigaword 5). Test accuracy:

{table}

## Intrinsic scores (gensim's WordSim-353 and Google analogies, case-insensitive, analogies among the 30,000 most frequent words)

{intrinsic}
"""
    out = Path(args.output)
    atomic_write(out, report)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
