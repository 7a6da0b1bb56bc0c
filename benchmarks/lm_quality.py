"""The LSTM and Transformer language models against a smoothed trigram baseline on the Wikipedia extract.

All models see the same thing: the training split of ``wiki-extract`` tokenized by the runs' own
tokenizer (both recipes train the same word-level tokenizer on the same split; the script checks that
the vocabularies are identical), with ``[UNK]`` for rare words and ``[EOS]`` after each article, and
all are scored on every next token of the validation and test streams. The LSTM reads each stream
in one pass, its state carried through; the Transformer reads sliding windows of its context, every
token scored once with at least half a context before it. The baseline is interpolated Kneser-Ney
trigram smoothing exactly as NLTK's ``nltk.lm.KneserNeyInterpolated(3)`` defines it; NLTK's own
implementation scans every trigram for each lower-order lookup (hours on 360k tokens), so the same
formulas are computed here from count tables and checked against NLTK on a slice first.

    python benchmarks/lm_quality.py          # trains recipes/lstm-lm-wiki.yaml and transformer-lm-wiki.yaml first
    python benchmarks/lm_quality.py --run runs/lstm-lm --transformer-run runs/transformer-lm   # or scores runs of them
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECIPE = HERE.parent / "recipes" / "lstm-lm-wiki.yaml"
TRANSFORMER_RECIPE = HERE.parent / "recipes" / "transformer-lm-wiki.yaml"
TRAIN_SLICE = 50_000  # training tokens scored to show how closely each model fits what it saw
BOS, END = -1, -2  # left and right padding symbols, as NLTK's padded_everygram_pipeline adds them


class KneserNeyTrigram:
    """Interpolated Kneser-Ney trigram probabilities with NLTK's formulas (``discount`` d).

    p3(w|x,u) = max(c(x,u,w) - d, 0) / c(x,u,.) + d * N1+(x,u,.) / c(x,u,.) * p2(w|u)
    p2(w|u)   = max(N1+(.,u,w) - d, 0) / N1+(.,u,.) + d * N1+(u,.) / N1+(.,u,.) * p1(w)
    p1(w)     = N1+(.,w) / N1+(.,.)
    An unseen context passes its whole mass to the lower order.
    """

    def __init__(self, tokens: list[int], discount: float = 0.1):
        self.d = discount
        seq = [BOS, BOS, *tokens, END, END]
        self.c3 = Counter(zip(seq, seq[1:], seq[2:]))
        bigrams = set(zip(seq, seq[1:]))
        self.ctx3_total: Counter = Counter()
        self.ctx3_types: Counter = Counter()
        self.cont2: Counter = Counter()  # N1+(., u, w)
        self.mid_types: Counter = Counter()  # N1+(., u, .)
        for (x, u, w), c in self.c3.items():
            self.ctx3_total[(x, u)] += c
            self.ctx3_types[(x, u)] += 1
            self.cont2[(u, w)] += 1
            self.mid_types[u] += 1
        self.follow_types: Counter = Counter(u for u, _ in bigrams)  # N1+(u, .)
        self.cont1: Counter = Counter(w for _, w in bigrams)  # N1+(., w)
        self.bigram_types = len(bigrams)

    def prob(self, w: int, x: int, u: int) -> float:
        p = self.cont1[w] / self.bigram_types
        if self.follow_types[u] and self.mid_types[u]:
            total = self.mid_types[u]
            p = max(self.cont2[(u, w)] - self.d, 0.0) / total + self.d * self.follow_types[u] / total * p
        n = self.ctx3_total[(x, u)]
        if n:
            p = max(self.c3[(x, u, w)] - self.d, 0.0) / n + self.d * self.ctx3_types[(x, u)] / n * p
        return p

    def perplexity(self, tokens: list[int]) -> tuple[float, int]:
        """Per-token perplexity of every token after the first, with contexts from ``tokens`` itself."""
        seq = [BOS, *tokens]
        nll = 0.0
        for i in range(2, len(seq)):
            nll -= math.log(self.prob(seq[i], seq[i - 2], seq[i - 1]))
        n = len(seq) - 2
        return math.exp(nll / n), n


def check_against_nltk(tokens: list[int], discount: float, n_checks: int = 300) -> float:
    """Largest absolute difference from ``nltk.lm.KneserNeyInterpolated`` on a slice (seen and unseen contexts)."""
    import random

    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline

    names = {BOS: "<s>", END: "</s>"}
    words = [str(t) for t in tokens]
    train, vocab = padded_everygram_pipeline(3, [words])
    reference = KneserNeyInterpolated(3, discount=discount)
    reference.fit(train, vocab)
    ours = KneserNeyTrigram(tokens, discount)
    rng = random.Random(0)
    seq = [BOS, BOS, *tokens]
    worst = 0.0
    for _ in range(n_checks):
        i = rng.randrange(2, len(seq))
        x, u, w = seq[i - 2], seq[i - 1], seq[i]
        if rng.random() < 0.3:  # an unseen context now and then
            x = rng.choice(tokens)
        ref = reference.score(str(w), [names.get(x, str(x)), names.get(u, str(u))])
        worst = max(worst, abs(ref - ours.prob(w, x, u)))
    return worst


def _seconds(run_dir: str) -> float:
    import json

    return float(json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8")).get("seconds", float("nan")))


def _name(spec) -> str:
    name = spec["name"] if isinstance(spec, dict) else spec
    return name.rpartition(":")[2]


def _train(recipe_path: Path, run_dir: Path) -> tuple[float, float]:
    """Train ``recipe_path`` into a fresh ``run_dir``; the wall and CPU seconds it took (on a shared machine
    the CPU time is what it would take alone, with one thread)."""
    import shutil

    from nlpzoo import load_recipe
    from nlpzoo_training import train_recipe

    if run_dir.exists():
        shutil.rmtree(run_dir)
    t0, c0 = time.perf_counter(), time.process_time()
    train_recipe(load_recipe(str(recipe_path)), str(run_dir))
    return time.perf_counter() - t0, time.process_time() - c0


def _perplexity(nll: float, n: int) -> tuple[float, int]:
    return math.exp(nll / n), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="an existing run of recipes/lstm-lm-wiki.yaml (default: train one)")
    parser.add_argument("--transformer-run", help="an existing run of recipes/transformer-lm-wiki.yaml (default: train one)")
    parser.add_argument("--run-dir", default="runs/bench-lstm-lm-wiki", help="where to train the LSTM when --run is not given")
    parser.add_argument("--transformer-run-dir", default="runs/bench-transformer-lm-wiki",
                        help="where to train the Transformer when --transformer-run is not given")
    parser.add_argument("--output", default=str(HERE / "results" / "lm_quality.md"))
    args = parser.parse_args()

    import torch

    import nlpzoo
    from nlpzoo.runs import open_run
    from nlpzoo_transformer.nets import stream_nll as windows_nll

    trained = {}
    if args.run is None:
        trained["lstm"] = _train(RECIPE, Path(args.run_dir))
        args.run = args.run_dir
    if args.transformer_run is None:
        trained["transformer"] = _train(TRANSFORMER_RECIPE, Path(args.transformer_run_dir))
        args.transformer_run = args.transformer_run_dir
    handle, t_handle = open_run(args.run), open_run(args.transformer_run)
    model, recipe = handle.model, handle.recipe
    transformer = t_handle.model
    data = nlpzoo.build(recipe["dataset"], "dataset").load()
    tok = model.tokenizer
    if transformer.tokenizer.vocab() != tok.vocab() or t_handle.recipe["dataset"] != recipe["dataset"]:
        sys.exit("the two runs do not share a tokenizer and a dataset: their perplexities would not be comparable")
    streams = {k: tok.stream([ex["text"] for ex in data[k]]) for k in ("train", "validation", "test")}
    streams["train slice"] = streams["train"][:TRAIN_SLICE]

    from nlpzoo_lstm import nets

    lstm, tlm = {}, {}
    for split in ("validation", "test", "train slice"):
        stream = torch.as_tensor(streams[split])
        # batch 1: exactly the tokens the trigram scores (every token after the first)
        lstm[split] = _perplexity(*nets.stream_nll(model.net, stream, 1, model.bptt))
        tlm[split] = _perplexity(*windows_nll(transformer.net, stream, transformer.block_size, transformer.eval_stride))
        assert tlm[split][1] == lstm[split][1] == len(streams[split]) - 1

    nltk_gap = {d: check_against_nltk(streams["train"][:3000], d) for d in (0.1, 0.75)}
    baselines = {}
    for d in (0.1, 0.5, 0.75, 0.9):
        kn = KneserNeyTrigram(streams["train"], d)
        baselines[d] = {s: kn.perplexity(streams[s]) for s in ("validation", "test")}
    best_d = min(baselines, key=lambda d: baselines[d]["validation"][0])

    def seconds(which: str, run: str) -> str:
        if which in trained:
            wall, cpu = trained[which]
            return f"trained here in {wall:.0f} s ({cpu:.0f} s of CPU)"
        return f"trained in {_seconds(run):.0f} s (run.json)"

    def params(net) -> str:
        seen = {t.data_ptr(): t.numel() for t in net.parameters()}
        return f"{sum(seen.values()) / 1e6:.2f}M"

    rows = [(f"LSTM LM (recipes/lstm-lm-wiki.yaml), {params(model.net)} parameters, {seconds('lstm', args.run)}",
             lstm["validation"][0], lstm["test"][0], lstm["train slice"][0]),
            (f"Transformer LM (recipes/transformer-lm-wiki.yaml), {params(transformer.net)} parameters, "
             f"{seconds('transformer', args.transformer_run)}", tlm["validation"][0], tlm["test"][0], tlm["train slice"][0])]
    for d, r in baselines.items():
        label = f"Kneser-Ney trigram, d={d}" + (" (NLTK default)" if d == 0.1 else "") + (" (best on validation)" if d == best_d else "")
        rows.append((label, r["validation"][0], r["test"][0], None))
    t_recipe = t_handle.recipe
    tr = transformer
    command = "python benchmarks/lm_quality.py" + ("" if "lstm" in trained else f" --run {args.run}") + \
        ("" if "transformer" in trained else f" --transformer-run {args.transformer_run}")
    best_kn = baselines[best_d]["validation"][0]
    winner = min((("the LSTM", lstm["validation"][0]), ("the Transformer", tlm["validation"][0]), ("the trigram", best_kn)),
                 key=lambda x: x[1])[0]
    lines = [
        "# Language models vs Kneser-Ney trigram: Wikipedia extract",
        "",
        f"Command: `{command}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores shared with other work, {torch.get_num_threads()} torch "
        f"thread(s), torch {torch.__version__}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the end",
        "",
        f"Data: `{_name(recipe['dataset'])}` (train {len(data['train'])} articles, {len(streams['train']):,} tokens; "
        f"validation {lstm['validation'][1]:,} scored tokens; test {lstm['test'][1]:,}). All models use the same "
        f"{tok.kind}-level tokenizer ({tok.vocab_size:,} tokens with `[UNK]` and `[EOS]`), trained on the training split, "
        "and score the same tokens.",
        "",
        f"LSTM: {model.num_layers} layers, embedding {model.arch['embedding_dim']}, hidden {model.hidden_size}, "
        f"dropout {model.dropout} (embeddings {model.embedding_dropout}), tied weights {model.arch['tie_weights']}, "
        f"BPTT {model.bptt}, {recipe['train'].get('epochs')} epochs, embeddings initialised from Word2Vec "
        "trained on the same tokens; each stream read in one pass (unbounded context).",
        "",
        f"Transformer: {tr.num_layers} pre-norm layers, d_model {tr.d_model}, {tr.num_heads} heads, context {tr.block_size}, "
        f"{tr.positions} positions, embedding {tr.arch['embedding_dim']} tied to the decoder, dropout {tr.dropout}, "
        f"{t_recipe['train'].get('epochs')} epochs, embeddings initialised from Word2Vec as for the LSTM; scored on "
        f"windows of {tr.block_size} tokens moved {tr.eval_stride} at a time (each token sees at least "
        f"{tr.block_size - tr.eval_stride} before it).",
        "",
        f"| model | validation perplexity | test perplexity | first {TRAIN_SLICE:,} training tokens |",
        "|---|---:|---:|---:|",
        *[f"| {name} | {v:.1f} | {t:.1f} | {'' if tr_ is None else f'{tr_:.1f}'} |" for name, v, t, tr_ in rows],
        "",
        f"The trigram implementation matches `nltk.lm.KneserNeyInterpolated(3)` on a 3,000-token slice: largest "
        f"probability difference {max(nltk_gap.values()):.1e} over 300 seen and unseen contexts (d=0.1 and 0.75).",
        "",
        f"Validation perplexity against the best trigram: LSTM {lstm['validation'][0] / best_kn:.3f}, Transformer "
        f"{tlm['validation'][0] / best_kn:.3f}; Transformer / LSTM {tlm['validation'][0] / lstm['validation'][0]:.3f}. "
        f"Best on validation: {winner}. Training perplexity / validation perplexity (how much of the fit does not carry "
        f"over): LSTM {lstm['train slice'][0] / lstm['validation'][0]:.2f}, Transformer "
        f"{tlm['train slice'][0] / tlm['validation'][0]:.2f}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text, encoding="utf-8")
    if lstm["validation"][0] >= best_kn:
        sys.exit("the LSTM did not beat the trigram baseline")


if __name__ == "__main__":
    main()
